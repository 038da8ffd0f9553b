/* The placeholder picture (placeholder.h). */
#include <string.h>

#include <videoredir/marker.h>

#include "placeholder.h"

static void draw_flat(picture_t *pic)
{
    /* RGB 0x202830 in BT.601 limited range. */
    static const uint8_t yuv[3] = { 49, 133, 124 };
    for (int i = 0; i < pic->i_planes && i < 3; i++) {
        plane_t *p = &pic->p[i];
        for (int y = 0; y < p->i_visible_lines; y++)
            memset(p->p_pixels + (size_t)y * (size_t)p->i_pitch, yuv[i], (size_t)p->i_visible_pitch);
    }
}

void vr_vlc_placeholder_draw(picture_t *pic, uint32_t marker_code)
{
    const video_format_t *f = &pic->format;
    if (pic->i_planes < 3 || marker_code < VR_MARKER_CODE_MIN || marker_code > VR_MARKER_CODE_MAX) {
        draw_flat(pic);
        return;
    }
    /* The surroundings of the visible area (padding lines, if any) stay
     * flat; the marker covers exactly what VLC shows, the visible area.
     * Offsets are even for I420 (VLC aligns them to the chroma). */
    draw_flat(pic);
    uint32_t x = f->i_x_offset & ~1u, y = f->i_y_offset & ~1u;
    uint32_t w = f->i_visible_width ? f->i_visible_width : f->i_width;
    uint32_t h = f->i_visible_height ? f->i_visible_height : f->i_height;
    if ((uint64_t)x + w > (uint64_t)pic->p[0].i_pitch || (uint64_t)y + h > (uint64_t)pic->p[0].i_lines)
        return;
    size_t ys = (size_t)pic->p[0].i_pitch, us = (size_t)pic->p[1].i_pitch, vs = (size_t)pic->p[2].i_pitch;
    uint8_t *py = pic->p[0].p_pixels + (size_t)y * ys + x;
    uint8_t *pu = pic->p[1].p_pixels + (size_t)(y / 2) * us + x / 2;
    uint8_t *pv = pic->p[2].p_pixels + (size_t)(y / 2) * vs + x / 2;
    (void)vr_marker_draw_i420(marker_code, w, h, f->b_color_range_full, py, ys, pu, us, pv, vs);
}
