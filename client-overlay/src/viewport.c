/*
 * Viewport mapping: guest desktop coordinates to widget device pixels.
 *
 * A rectangle is mapped edge by edge (x, x + w), each edge through map_x /
 * map_y, never as origin + scaled size: two rectangles sharing an edge in the
 * guest then share it after scaling, whatever the rounding.
 */
#include <errno.h>
#include <stdlib.h>

#include "videoredir/client.h"

/* floor(a / b) for b > 0, also for negative a. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b) != 0 && a < 0)
        q--;
    return q;
}

/* One edge, rounded half up: d_origin + (v - s_origin) * d_len / s_len.
 * |v - s_origin| < 2^32 and d_len < 2^30 (viewport_ok), so the product
 * stays inside int64. */
static int64_t map_edge(int64_t v, int64_t s_origin, int64_t s_len, int64_t d_origin, int64_t d_len)
{
    return d_origin + floor_div(2 * (v - s_origin) * d_len + s_len, 2 * s_len);
}

static bool viewport_ok(const struct vr_viewport *vp)
{
    /* Bounds keep map_edge's products inside int64. */
    return vp && vp->src.w > 0 && vp->src.h > 0 && vp->dst.w < (1u << 30) &&
           vp->dst.h < (1u << 30);
}

void vr_viewport_fit(struct vr_viewport *vp, const struct vr_rect *src, uint32_t widget_w,
                     uint32_t widget_h, bool keep_aspect)
{
    if (!vp)
        return;
    vp->dst = (struct vr_rect){ 0, 0, 0, 0 };
    if (!src) {
        vp->src = vp->dst;
        return;
    }
    vp->src = *src;
    if (src->w == 0 || src->h == 0 || widget_w == 0 || widget_h == 0)
        return;
    uint64_t w = widget_w, h = widget_h;
    if (keep_aspect) {
        /* The limiting side fills the widget; the other is rounded to the
         * nearest pixel and centred. */
        if ((uint64_t)widget_w * src->h <= (uint64_t)widget_h * src->w)
            h = ((uint64_t)widget_w * src->h * 2 + src->w) / (2 * (uint64_t)src->w);
        else
            w = ((uint64_t)widget_h * src->w * 2 + src->h) / (2 * (uint64_t)src->h);
        if (w == 0)
            w = 1;
        if (h == 0)
            h = 1;
    }
    vp->dst.w = (uint32_t)w;
    vp->dst.h = (uint32_t)h;
    vp->dst.x = (int32_t)((widget_w - w) / 2);
    vp->dst.y = (int32_t)((widget_h - h) / 2);
}

int vr_viewport_map_rect(const struct vr_viewport *vp, const struct vr_rect *in, struct vr_rect *out)
{
    if (!viewport_ok(vp) || !in || !out)
        return -EINVAL;
    int64_t x1 = map_edge(in->x, vp->src.x, vp->src.w, vp->dst.x, vp->dst.w);
    int64_t x2 = map_edge((int64_t)in->x + in->w, vp->src.x, vp->src.w, vp->dst.x, vp->dst.w);
    int64_t y1 = map_edge(in->y, vp->src.y, vp->src.h, vp->dst.y, vp->dst.h);
    int64_t y2 = map_edge((int64_t)in->y + in->h, vp->src.y, vp->src.h, vp->dst.y, vp->dst.h);
    if (x1 < INT32_MIN || y1 < INT32_MIN || x2 > INT32_MAX || y2 > INT32_MAX)
        return -ERANGE;
    *out = (struct vr_rect){ (int32_t)x1, (int32_t)y1, (uint32_t)(x2 - x1), (uint32_t)(y2 - y1) };
    return 0;
}

int vr_viewport_map_region(const struct vr_viewport *vp, const pixman_region32_t *in,
                           pixman_region32_t *out)
{
    if (!viewport_ok(vp) || !in || !out)
        return -EINVAL;
    int n = 0;
    const pixman_box32_t *box = pixman_region32_rectangles((pixman_region32_t *)in, &n);
    pixman_box32_t *mapped = n > 0 ? calloc((size_t)n, sizeof(*mapped)) : NULL;
    if (n > 0 && !mapped) {
        pixman_region32_clear(out);
        return -ENOMEM;
    }
    /* The clip keeps every mapped edge inside int32 before the cast. */
    int64_t cx1 = vp->dst.x, cy1 = vp->dst.y;
    int64_t cx2 = cx1 + vp->dst.w, cy2 = cy1 + vp->dst.h;
    int m = 0;
    for (int i = 0; i < n; i++) {
        int64_t x1 = map_edge(box[i].x1, vp->src.x, vp->src.w, vp->dst.x, vp->dst.w);
        int64_t x2 = map_edge(box[i].x2, vp->src.x, vp->src.w, vp->dst.x, vp->dst.w);
        int64_t y1 = map_edge(box[i].y1, vp->src.y, vp->src.h, vp->dst.y, vp->dst.h);
        int64_t y2 = map_edge(box[i].y2, vp->src.y, vp->src.h, vp->dst.y, vp->dst.h);
        x1 = x1 < cx1 ? cx1 : x1;
        y1 = y1 < cy1 ? cy1 : y1;
        x2 = x2 > cx2 ? cx2 : x2;
        y2 = y2 > cy2 ? cy2 : y2;
        if (x2 <= x1 || y2 <= y1)
            continue; /* thinner than a pixel, or outside dst */
        mapped[m++] = (pixman_box32_t){ (int32_t)x1, (int32_t)y1, (int32_t)x2, (int32_t)y2 };
    }
    pixman_region32_t tmp;
    pixman_bool_t ok = pixman_region32_init_rects(&tmp, mapped, m);
    free(mapped);
    if (!ok) {
        pixman_region32_fini(&tmp);
        pixman_region32_clear(out);
        return -ENOMEM;
    }
    ok = pixman_region32_copy(out, &tmp);
    pixman_region32_fini(&tmp);
    if (!ok) {
        pixman_region32_clear(out);
        return -ENOMEM;
    }
    return 0;
}
