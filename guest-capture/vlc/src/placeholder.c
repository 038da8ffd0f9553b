/* The placeholder picture (placeholder.h). */
#include <stdlib.h>
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

void vr_vlc_placeholder_free(struct vr_vlc_placeholder *cache)
{
    free(cache->planes);
    cache->planes = NULL;
}

void vr_vlc_placeholder_draw(struct vr_vlc_placeholder *cache, picture_t *pic, uint32_t marker_code)
{
    const video_format_t *f = &pic->format;
    /* The surroundings of the visible area (padding lines, if any) stay
     * flat; the marker covers exactly what VLC shows, the visible area.
     * Offsets are even for I420 (VLC aligns them to the chroma). */
    draw_flat(pic);
    if (pic->i_planes < 3 || marker_code < VR_MARKER_CODE_MIN || marker_code > VR_MARKER_CODE_MAX)
        return;
    uint32_t x = f->i_x_offset & ~1u, y = f->i_y_offset & ~1u;
    uint32_t w = f->i_visible_width ? f->i_visible_width : f->i_width;
    uint32_t h = f->i_visible_height ? f->i_visible_height : f->i_height;
    int full = f->b_color_range_full ? 1 : 0;
    if ((uint64_t)x + w > (uint64_t)pic->p[0].i_pitch || (uint64_t)y + h > (uint64_t)pic->p[0].i_lines)
        return;
    size_t cw = (w + 1) / 2, ch = (h + 1) / 2, ysz = (size_t)w * h, csz = cw * ch;
    if (!cache->planes || cache->w != w || cache->h != h || cache->code != marker_code || cache->full_range != full) {
        free(cache->planes);
        cache->planes = malloc(ysz + 2 * csz);
        if (!cache->planes ||
            vr_marker_draw_i420(marker_code, w, h, full, cache->planes, w, cache->planes + ysz, cw,
                                cache->planes + ysz + csz, cw) < 0) {
            free(cache->planes);
            cache->planes = NULL;
            return;
        }
        cache->w = w;
        cache->h = h;
        cache->code = marker_code;
        cache->full_range = full;
    }
    if ((uint64_t)x / 2 + cw > (uint64_t)pic->p[1].i_pitch || (uint64_t)x / 2 + cw > (uint64_t)pic->p[2].i_pitch ||
        (uint64_t)y / 2 + ch > (uint64_t)pic->p[1].i_lines || (uint64_t)y / 2 + ch > (uint64_t)pic->p[2].i_lines)
        return;
    for (size_t r = 0; r < h; r++)
        memcpy(pic->p[0].p_pixels + (y + r) * (size_t)pic->p[0].i_pitch + x, cache->planes + r * w, w);
    for (size_t r = 0; r < ch; r++) {
        memcpy(pic->p[1].p_pixels + (y / 2 + r) * (size_t)pic->p[1].i_pitch + x / 2, cache->planes + ysz + r * cw, cw);
        memcpy(pic->p[2].p_pixels + (y / 2 + r) * (size_t)pic->p[2].i_pitch + x / 2,
               cache->planes + ysz + csz + r * cw, cw);
    }
}
