/*
 * The placement marker drawn into placeholder frames (PROTOCOL.md, section 10).
 * libc only; no allocation: tables of the lattice live on the stack.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <videoredir/marker.h>

/* CRC-5 (polynomial x^5 + x^2 + 1, init 0x1f) of the low 11 bits, MSB first:
 * the init makes an all-zero cell fail. */
static uint32_t crc5(uint32_t data)
{
    uint32_t crc = 0x1f;
    for (int i = 10; i >= 0; i--) {
        uint32_t in = (data >> i) & 1u;
        uint32_t top = (crc >> 4) & 1u;
        crc = (crc << 1) & 0x1fu;
        if (in ^ top)
            crc ^= 0x05u;
    }
    return crc;
}

int vr_marker_cell_bits(uint32_t code, uint32_t col, uint32_t row)
{
    if (code < VR_MARKER_CODE_MIN || code > VR_MARKER_CODE_MAX || col >= VR_MARKER_CELLS_X ||
        row >= VR_MARKER_CELLS_Y)
        return -EINVAL;
    uint32_t data = col | (row << 3) | (code << 5);
    return (int)(data | (crc5(data) << 11));
}

int vr_marker_cell_decode(uint32_t bits, uint32_t *code, uint32_t *col, uint32_t *row)
{
    if (bits > 0xffffu)
        return -EBADMSG;
    uint32_t data = bits & 0x7ffu;
    if ((bits >> 11) != crc5(data))
        return -EBADMSG;
    uint32_t c = data >> 5;
    if (c < VR_MARKER_CODE_MIN)
        return -EBADMSG;
    if (code)
        *code = c;
    if (col)
        *col = data & 7u;
    if (row)
        *row = (data >> 3) & 3u;
    return 0;
}

int vr_marker_level_index(uint32_t code, uint32_t gx, uint32_t gy)
{
    if (gx >= VR_MARKER_LATTICE_W || gy >= VR_MARKER_LATTICE_H)
        return -EINVAL;
    int bits = vr_marker_cell_bits(code, gx / VR_MARKER_CELL_SUB, gy / VR_MARKER_CELL_SUB);
    if (bits < 0)
        return bits;
    uint32_t k = (gy % VR_MARKER_CELL_SUB) * VR_MARKER_CELL_SUB + gx % VR_MARKER_CELL_SUB;
    return (int)(((gx + gy) & 1u) + 2u * (((uint32_t)bits >> k) & 1u));
}

uint8_t vr_marker_level_value(int index)
{
    static const uint8_t levels[4] = {VR_MARKER_LEVEL0, VR_MARKER_LEVEL1, VR_MARKER_LEVEL2,
                                      VR_MARKER_LEVEL3};
    return index >= 0 && index < 4 ? levels[index] : 0;
}

uint32_t vr_marker_code_pick(uint64_t random, uint64_t in_use)
{
    /* the free codes in order, the random one among them */
    uint32_t n_free = 0;
    for (uint32_t c = VR_MARKER_CODE_MIN; c <= VR_MARKER_CODE_MAX; c++)
        n_free += !((in_use >> c) & 1u);
    if (!n_free)
        return 0;
    uint32_t k = (uint32_t)(random % n_free);
    for (uint32_t c = VR_MARKER_CODE_MIN; c <= VR_MARKER_CODE_MAX; c++)
        if (!((in_use >> c) & 1u) && k-- == 0)
            return c;
    return 0;
}

/* Where pixel p of an axis n pixels long falls in a lattice of m sub-blocks:
 * the first sub-block it touches and its share of the pixel in 1/256ths (the
 * rest belongs to the next one). Edges lie at k * n / m exactly. */
static void axis_cover(uint32_t p, uint32_t n, uint32_t m, uint32_t *g, uint32_t *w)
{
    uint64_t start = (uint64_t)p * 256u; /* pixel [start, start + 256) in 1/256 px */
    uint64_t unit = (uint64_t)n * 256u;  /* lattice positions are k * unit / m */
    uint32_t g0 = (uint32_t)((start * m) / unit);
    if (g0 >= m)
        g0 = m - 1;
    /* next edge at (g0 + 1) * unit / m, in 1/256 px, rounded up: compare in m units */
    uint64_t next_m = (uint64_t)(g0 + 1) * unit; /* edge * m */
    uint64_t end_m = (start + 256u) * m;
    uint32_t share = 256;
    if (g0 + 1 < m && next_m < end_m)
        share = (uint32_t)((next_m - start * m + m / 2) / m);
    *g = g0;
    *w = share;
}

struct lattice {
    uint8_t level[VR_MARKER_LATTICE_H][VR_MARKER_LATTICE_W];
};

static int lattice_fill(struct lattice *l, uint32_t code)
{
    for (uint32_t gy = 0; gy < VR_MARKER_LATTICE_H; gy++)
        for (uint32_t gx = 0; gx < VR_MARKER_LATTICE_W; gx++) {
            int idx = vr_marker_level_index(code, gx, gy);
            if (idx < 0)
                return idx;
            l->level[gy][gx] = vr_marker_level_value(idx);
        }
    return 0;
}

static uint8_t lattice_at(const struct lattice *l, uint32_t gx, uint32_t gy)
{
    if (gx >= VR_MARKER_LATTICE_W)
        gx = VR_MARKER_LATTICE_W - 1;
    if (gy >= VR_MARKER_LATTICE_H)
        gy = VR_MARKER_LATTICE_H - 1;
    return l->level[gy][gx];
}

/* Full-range grey of pixel (x, y): the area-weighted mix of the sub-blocks
 * it covers. */
static uint8_t pixel_grey(const struct lattice *l, uint32_t gx, uint32_t wx, uint32_t gy,
                          uint32_t wy)
{
    uint32_t a = lattice_at(l, gx, gy), b = lattice_at(l, gx + 1, gy);
    uint32_t c = lattice_at(l, gx, gy + 1), d = lattice_at(l, gx + 1, gy + 1);
    uint32_t top = a * wx + b * (256 - wx);
    uint32_t bot = c * wx + d * (256 - wx);
    return (uint8_t)((top * wy + bot * (256 - wy) + 32768u) >> 16);
}

static uint8_t to_range(uint8_t v, int full_range)
{
    return full_range ? v : (uint8_t)(16u + ((uint32_t)v * 219u + 127u) / 255u);
}

static bool size_ok(uint32_t code, uint32_t width, uint32_t height)
{
    return code >= VR_MARKER_CODE_MIN && code <= VR_MARKER_CODE_MAX &&
           width >= VR_MARKER_LATTICE_W && height >= VR_MARKER_LATTICE_H && width <= 16384 &&
           height <= 16384;
}

/* Writes the luma (or grey) of every pixel: step bytes apart, alpha at
 * offset 3 when step is 4. */
static void draw_grey(const struct lattice *l, uint32_t width, uint32_t height, int full_range,
                      uint8_t *base, size_t stride, unsigned step)
{
    for (uint32_t y = 0; y < height; y++) {
        uint32_t gy, wy;
        axis_cover(y, height, VR_MARKER_LATTICE_H, &gy, &wy);
        uint8_t *row = base + (size_t)y * stride;
        for (uint32_t x = 0; x < width; x++) {
            uint32_t gx, wx;
            axis_cover(x, width, VR_MARKER_LATTICE_W, &gx, &wx);
            uint8_t v = to_range(pixel_grey(l, gx, wx, gy, wy), full_range);
            uint8_t *p = row + (size_t)x * step;
            p[0] = v;
            if (step == 4) {
                p[1] = v;
                p[2] = v;
                p[3] = 255;
            }
        }
    }
}

int vr_marker_draw_i420(uint32_t code, uint32_t width, uint32_t height, int full_range,
                        uint8_t *y, size_t y_stride, uint8_t *u, size_t u_stride, uint8_t *v,
                        size_t v_stride)
{
    uint32_t cw = (width + 1) / 2, ch = (height + 1) / 2;
    if (!size_ok(code, width, height) || !y || !u || !v || y_stride < width || u_stride < cw ||
        v_stride < cw)
        return -EINVAL;
    struct lattice l;
    int ret = lattice_fill(&l, code);
    if (ret < 0)
        return ret;
    draw_grey(&l, width, height, full_range, y, y_stride, 1);
    for (uint32_t r = 0; r < ch; r++) {
        memset(u + (size_t)r * u_stride, 128, cw);
        memset(v + (size_t)r * v_stride, 128, cw);
    }
    return 0;
}

int vr_marker_draw_nv12(uint32_t code, uint32_t width, uint32_t height, int full_range,
                        uint8_t *y, size_t y_stride, uint8_t *uv, size_t uv_stride)
{
    uint32_t cw = (width + 1) / 2, ch = (height + 1) / 2;
    if (!size_ok(code, width, height) || !y || !uv || y_stride < width || uv_stride < 2u * cw)
        return -EINVAL;
    struct lattice l;
    int ret = lattice_fill(&l, code);
    if (ret < 0)
        return ret;
    draw_grey(&l, width, height, full_range, y, y_stride, 1);
    for (uint32_t r = 0; r < ch; r++)
        memset(uv + (size_t)r * uv_stride, 128, 2u * cw);
    return 0;
}

int vr_marker_draw_rgbx(uint32_t code, uint32_t width, uint32_t height, uint8_t *pixels,
                        size_t stride)
{
    if (!size_ok(code, width, height) || !pixels || stride / 4 < width)
        return -EINVAL;
    struct lattice l;
    int ret = lattice_fill(&l, code);
    if (ret < 0)
        return ret;
    draw_grey(&l, width, height, 1, pixels, stride, 4);
    return 0;
}
