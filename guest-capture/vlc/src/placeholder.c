/* The placeholder picture (placeholder.h). */
#include <string.h>

#include "placeholder.h"

void vr_vlc_placeholder_draw(picture_t *pic, uint32_t stream_id)
{
    /* RGB 0x202830 in BT.601 limited range. */
    static const uint8_t yuv[3] = { 49, 133, 124 };
    (void)stream_id; /* the marker pattern will encode it */
    for (int i = 0; i < pic->i_planes && i < 3; i++) {
        plane_t *p = &pic->p[i];
        for (int y = 0; y < p->i_visible_lines; y++)
            memset(p->p_pixels + (size_t)y * (size_t)p->i_pitch, yuv[i], (size_t)p->i_visible_pitch);
    }
}
