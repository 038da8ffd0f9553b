/*
 * videoredir placement marker: the picture a redirected stream's placeholder
 * frames carry, so that the client can find in the SPICE display where the
 * player really shows the video (PROTOCOL.md, section 10).
 *
 * The frame is a lattice of VR_MARKER_LATTICE_W x VR_MARKER_LATTICE_H flat
 * grey sub-blocks; every 4 x 4 of them form a cell that spells the stream's
 * marker code, the cell's own column and row and a CRC. Greys survive any
 * YUV matrix (BT.601/709) and range; large flat blocks survive bilinear
 * scaling and JPEG. Plain C11 on libc only; every function is reentrant.
 */
#ifndef VIDEOREDIR_MARKER_H
#define VIDEOREDIR_MARKER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VR_MARKER_CELLS_X 8u   /* cells across the frame */
#define VR_MARKER_CELLS_Y 4u   /* cells down the frame */
#define VR_MARKER_CELL_SUB 4u  /* sub-blocks per cell side */
#define VR_MARKER_LATTICE_W (VR_MARKER_CELLS_X * VR_MARKER_CELL_SUB) /* 32 */
#define VR_MARKER_LATTICE_H (VR_MARKER_CELLS_Y * VR_MARKER_CELL_SUB) /* 16 */
#define VR_MARKER_CODE_MIN 1u
#define VR_MARKER_CODE_MAX 63u /* marker codes are 6 bits, 0 is invalid */

/* The four grey levels (full-range 8-bit) a sub-block takes: 60 apart, and
 * clear of black, white and the light greys of most toolkits (>= 240). */
#define VR_MARKER_LEVEL0 40u
#define VR_MARKER_LEVEL1 100u
#define VR_MARKER_LEVEL2 160u
#define VR_MARKER_LEVEL3 220u

/*
 * The 16 bits of the cell at column col (0..7), row row (0..3) of the frame
 * marked with code (1..63): bits 0-2 col, 3-4 row, 5-10 code, 11-15 CRC-5
 * of bits 0-10. Returns the bits, or -EINVAL for a value out of range.
 */
int vr_marker_cell_bits(uint32_t code, uint32_t col, uint32_t row);

/*
 * Checks and splits the 16 bits read from a cell. Returns 0 and the fields
 * (any pointer may be NULL), or -EBADMSG if the CRC or a field is wrong.
 */
int vr_marker_cell_decode(uint32_t bits, uint32_t *code, uint32_t *col, uint32_t *row);

/*
 * Level index (0..3) of the sub-block at lattice position (gx, gy),
 * gx < VR_MARKER_LATTICE_W, gy < VR_MARKER_LATTICE_H: parity (gx + gy) & 1
 * plus twice the cell's bit for that sub-block, so that neighbours always
 * differ. Returns the index or -EINVAL.
 */
int vr_marker_level_index(uint32_t code, uint32_t gx, uint32_t gy);

/* The 8-bit full-range grey of a level index (0..3); 0 for others. */
uint8_t vr_marker_level_value(int index);

/*
 * Picks a marker code for a new stream (PROTOCOL.md 10.2): derived from
 * random (the caller's randomness, e.g. from getrandom or a clock), never one
 * whose bit is set in in_use (bit c: code c is used by a live stream of the
 * sender). Returns 1..63, or 0 if every code is in use.
 */
uint32_t vr_marker_code_pick(uint64_t random, uint64_t in_use);

/*
 * Draws the marker of code into a planar or packed frame of width x height
 * (1..16384 each). Sub-block edges lie at exact fractions of the frame
 * (k * width / 32); a pixel an edge crosses gets the area-weighted mix, so
 * that the client can locate edges to a fraction of a pixel.
 *
 * _i420: Y, U, V planes (chroma (w+1)/2 x (h+1)/2), luma in limited range
 *        (16..235) when full_range is 0; chroma is 128 (grey).
 * _nv12: Y plane and interleaved UV plane, same rules.
 * _rgbx: 4 bytes per pixel, the grey in the first three bytes, 255 in the
 *        fourth (so BGRx, RGBx, xRGB-as-bytes-with-grey all work).
 * Returns 0 or -EINVAL (NULL plane, stride too small, size or code out of
 * range).
 */
int vr_marker_draw_i420(uint32_t code, uint32_t width, uint32_t height, int full_range,
                        uint8_t *y, size_t y_stride, uint8_t *u, size_t u_stride, uint8_t *v,
                        size_t v_stride);
int vr_marker_draw_nv12(uint32_t code, uint32_t width, uint32_t height, int full_range,
                        uint8_t *y, size_t y_stride, uint8_t *uv, size_t uv_stride);
int vr_marker_draw_rgbx(uint32_t code, uint32_t width, uint32_t height, uint8_t *pixels,
                        size_t stride);

#ifdef __cplusplus
}
#endif

#endif
