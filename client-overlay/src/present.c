/*
 * Presenter base and the headless presenter.
 *
 * The base turns the client's state into a scene (per slot: shown frame,
 * content rectangle, visible region) and damage, in desktop coordinates, so
 * a back end only repaints damage ∩ visible, mapped through its viewport.
 * The headless back end scales each shown frame once into a cache the size of
 * its mapped content rectangle (libswscale) and copies the damaged, visible
 * boxes of it into its image (pixman): redraws without a new frame (expose,
 * region change) cost copies only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libswscale/swscale.h>

#include "videoredir/client.h"

void vr_presenter_init(struct vr_presenter *p, const struct vr_presenter_ops *ops)
{
    memset(p, 0, sizeof(*p));
    p->ops = ops;
    pixman_region32_init(&p->damage);
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        pixman_region32_init(&p->slots[i].visible);
}

static void slot_reset(struct vr_presenter_slot *s)
{
    av_frame_free(&s->frame);
    pixman_region32_clear(&s->visible);
    s->live = s->has_geometry = false;
    s->serial = s->presented = s->geometry_seq = 0;
    s->content = (struct vr_rect){ 0, 0, 0, 0 };
}

void vr_presenter_fini(struct vr_presenter *p)
{
    if (!p)
        return;
    if (p->ops && p->ops->destroy)
        p->ops->destroy(p);
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        slot_reset(&p->slots[i]);
        pixman_region32_fini(&p->slots[i].visible);
    }
    pixman_region32_fini(&p->damage);
}

void vr_presenter_destroy(struct vr_presenter *p)
{
    vr_presenter_fini(p);
    free(p);
}

void vr_presenter_damage_all(struct vr_presenter *p)
{
    const struct vr_rect *r = &p->viewport.src;
    pixman_region32_union_rect(&p->damage, &p->damage, r->x, r->y, r->w, r->h);
}

void vr_presenter_set_viewport(struct vr_presenter *p, const struct vr_viewport *vp)
{
    p->viewport = *vp;
    p->damage_output = true;
    vr_presenter_damage_all(p);
}

static void damage_visible(struct vr_presenter *p, const struct vr_presenter_slot *s)
{
    pixman_region32_union(&p->damage, &p->damage, (pixman_region32_t *)&s->visible);
}

int vr_presenter_sync(struct vr_presenter *p, const struct vr_client *c)
{
    if (!p || !c)
        return -EINVAL;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_presenter_slot *s = &p->slots[i];
        struct vr_client_stream_stats st;
        /* A stream is shown from its start until it ended (after EOS: after
         * its last queued frame). */
        bool live = vr_client_stream_stats(c, i, &st) == 0 && !st.ended;
        if (s->live && (!live || st.serial != s->serial)) {
            damage_visible(p, s);
            slot_reset(s);
            if (p->ops->stream_gone)
                p->ops->stream_gone(p, i);
        }
        if (!live)
            continue;
        if (!s->live) {
            s->live = true;
            s->serial = st.serial;
        }
        if (st.geometry_seq != s->geometry_seq || st.has_geometry != s->has_geometry) {
            damage_visible(p, s); /* where it was */
            s->geometry_seq = st.geometry_seq;
            s->has_geometry = st.has_geometry;
            s->content = st.geometry.content;
            vr_client_stream_region(c, i, &s->visible);
            damage_visible(p, s); /* where it is */
            if (p->ops->geometry_changed)
                p->ops->geometry_changed(p, i);
        }
        if (st.frames_presented != s->presented) {
            s->presented = st.frames_presented;
            const AVFrame *f = vr_client_stream_frame(c, i);
            if (f) {
                if (!s->frame)
                    s->frame = av_frame_alloc();
                if (s->frame) {
                    av_frame_unref(s->frame);
                    if (av_frame_ref(s->frame, f) < 0)
                        av_frame_free(&s->frame);
                }
                /* Hidden video: the frame is kept, nothing is damaged. */
                damage_visible(p, s);
                if (p->ops->frame_shown)
                    p->ops->frame_shown(p, i);
            }
        }
    }
    int ret = 0;
    if (pixman_region32_not_empty(&p->damage) || p->damage_output) {
        if (p->ops->redraw)
            ret = p->ops->redraw(p);
        p->redraws++;
        pixman_region32_clear(&p->damage);
        p->damage_output = false;
    }
    return ret;
}

int vr_presenter_slot_draw_region(const struct vr_presenter *p, uint32_t slot,
                                  pixman_region32_t *out)
{
    if (!p || slot >= VR_MAX_STREAMS || !out)
        return -EINVAL;
    const struct vr_presenter_slot *s = &p->slots[slot];
    pixman_region32_clear(out);
    if (!s->live || !s->frame || !s->has_geometry || p->viewport.src.w == 0 ||
        p->viewport.src.h == 0)
        return 0;
    pixman_region32_intersect(out, (pixman_region32_t *)&s->visible,
                              (pixman_region32_t *)&p->damage);
    return vr_viewport_map_region(&p->viewport, out, out);
}

/* ---- headless ---------------------------------------------------------- */

struct cache {
    pixman_image_t *image;  /* the frame scaled to the mapped content size */
    struct vr_rect dst;     /* mapped content rectangle it was made for */
    bool valid;
};

struct headless {
    struct vr_presenter base; /* first: the base pointer is the allocation */
    pixman_image_t *canvas;
    pixman_image_t *background; /* desktop, or NULL */
    struct SwsContext *sws;
    AVFrame *narrow; /* a deep frame rounded to 8 bits (vr_frame_to_bgra) */
    struct cache cache[VR_MAX_STREAMS];
};

static void cache_drop(struct cache *k)
{
    if (k->image)
        pixman_image_unref(k->image);
    memset(k, 0, sizeof(*k));
}

static void headless_frame_shown(struct vr_presenter *p, uint32_t slot)
{
    ((struct headless *)p)->cache[slot].valid = false;
}

static void headless_stream_gone(struct vr_presenter *p, uint32_t slot)
{
    cache_drop(&((struct headless *)p)->cache[slot]);
}

/* Scales slot's frame to dst (output pixels) into its cache. */
static int fill_cache(struct headless *h, uint32_t slot, const struct vr_rect *dst)
{
    struct cache *k = &h->cache[slot];
    const AVFrame *f = h->base.slots[slot].frame;
    if (k->valid && k->dst.w == dst->w && k->dst.h == dst->h) {
        k->dst = *dst;
        return 0;
    }
    if ((uint64_t)dst->w * dst->h > (uint64_t)8192 * 8192 || f->width <= 0 || f->height <= 0)
        return -E2BIG;
    if (!k->image || k->dst.w != dst->w || k->dst.h != dst->h) {
        cache_drop(k);
        k->image = pixman_image_create_bits(PIXMAN_x8r8g8b8, (int)dst->w, (int)dst->h, NULL, 0);
        if (!k->image)
            return -ENOMEM;
    }
    int ret = vr_frame_to_bgra(&h->sws, &h->narrow, f, dst->w, dst->h,
                               (uint8_t *)pixman_image_get_data(k->image), pixman_image_get_stride(k->image));
    if (ret < 0)
        return ret;
    k->dst = *dst;
    k->valid = true;
    return 0;
}

/* Where slot's video is drawn in this redraw: its damaged visible region in
 * output pixels (draw), inside the canvas and its mapped content rectangle
 * (dst). false when nothing of it is drawn (hidden, undamaged, no picture). */
static bool slot_output(struct vr_presenter *p, uint32_t slot, int cw, int ch, pixman_region32_t *draw,
                        struct vr_rect *dst)
{
    if (vr_presenter_slot_draw_region(p, slot, draw) < 0)
        return false;
    pixman_region32_intersect_rect(draw, draw, 0, 0, (unsigned)cw, (unsigned)ch);
    if (!pixman_region32_not_empty(draw))
        return false; /* hidden or undamaged: not even scaled */
    if (vr_viewport_map_rect(&p->viewport, &p->slots[slot].content, dst) < 0 || !dst->w || !dst->h)
        return false;
    pixman_region32_intersect_rect(draw, draw, dst->x, dst->y, dst->w, dst->h);
    return pixman_region32_not_empty(draw);
}

static int headless_redraw(struct vr_presenter *p)
{
    struct headless *h = (struct headless *)p;
    int cw = pixman_image_get_width(h->canvas), ch = pixman_image_get_height(h->canvas);
    pixman_region32_t out, draw;
    pixman_region32_init(&out);
    pixman_region32_init(&draw);
    int ret = vr_viewport_map_region(&p->viewport, &p->damage, &out);
    if (ret == -EINVAL) /* no viewport yet: nothing maps */
        ret = 0;
    pixman_region32_intersect_rect(&out, &out, 0, 0, (unsigned)cw, (unsigned)ch);

    if (h->background && p->viewport.dst.w && p->viewport.dst.h) {
        /* Output pixel -> desktop pixel: the inverse of the viewport. */
        const struct vr_viewport *vp = &p->viewport;
        double sx = (double)vp->src.w / vp->dst.w, sy = (double)vp->src.h / vp->dst.h;
        struct pixman_transform t = { { { pixman_double_to_fixed(sx), 0,
                                          pixman_double_to_fixed(vp->src.x - vp->dst.x * sx) },
                                        { 0, pixman_double_to_fixed(sy),
                                          pixman_double_to_fixed(vp->src.y - vp->dst.y * sy) },
                                        { 0, 0, pixman_fixed_1 } } };
        pixman_image_set_transform(h->background, &t);
        pixman_image_set_filter(h->background, sx == 1.0 && sy == 1.0 ? PIXMAN_FILTER_NEAREST
                                                                      : PIXMAN_FILTER_BILINEAR,
                                NULL, 0);
    }
    if (p->damage_output) { /* letterbox bars: outside the viewport */
        pixman_color_t black = { 0, 0, 0, 0xffff };
        pixman_box32_t all = { 0, 0, cw, ch };
        pixman_image_fill_boxes(PIXMAN_OP_SRC, h->canvas, &black, 1, &all);
    }
    /* The videos' pictures first (each scaled once into its cache), and
     * what of the damage they will cover: the desktop is not drawn there,
     * since the opaque video replaces it right after. */
    pixman_region32_t covered;
    pixman_region32_init(&covered);
    for (uint32_t i = 0; i < VR_MAX_STREAMS && ret == 0; i++) {
        struct vr_rect dst;
        if (!slot_output(p, i, cw, ch, &draw, &dst))
            continue;
        if ((ret = fill_cache(h, i, &dst)) < 0)
            break;
        pixman_region32_union(&covered, &covered, &draw);
    }
    if (ret < 0)
        pixman_region32_clear(&covered); /* no video drawn: the desktop everywhere */
    pixman_region32_subtract(&out, &out, &covered);
    pixman_region32_fini(&covered);
    /* The desktop under the rest of the damage (black without one). */
    int n = 0;
    const pixman_box32_t *b = pixman_region32_rectangles(&out, &n);
    for (int i = 0; i < n; i++) {
        if (h->background)
            pixman_image_composite32(PIXMAN_OP_SRC, h->background, NULL, h->canvas, b[i].x1,
                                     b[i].y1, 0, 0, b[i].x1, b[i].y1, b[i].x2 - b[i].x1,
                                     b[i].y2 - b[i].y1);
        else {
            pixman_color_t black = { 0, 0, 0, 0xffff };
            pixman_box32_t box = b[i];
            pixman_image_fill_boxes(PIXMAN_OP_SRC, h->canvas, &black, 1, &box);
        }
    }
    /* Then each visible video, in slot order. */
    for (uint32_t i = 0; i < VR_MAX_STREAMS && ret == 0; i++) {
        struct vr_rect dst;
        if (!slot_output(p, i, cw, ch, &draw, &dst))
            continue;
        b = pixman_region32_rectangles(&draw, &n);
        for (int k = 0; k < n; k++) {
            pixman_image_composite32(PIXMAN_OP_SRC, h->cache[i].image, NULL, h->canvas,
                                     b[k].x1 - dst.x, b[k].y1 - dst.y, 0, 0, b[k].x1, b[k].y1,
                                     b[k].x2 - b[k].x1, b[k].y2 - b[k].y1);
            p->pixels_drawn += (uint64_t)(b[k].x2 - b[k].x1) * (uint64_t)(b[k].y2 - b[k].y1);
        }
    }
    pixman_region32_fini(&draw);
    pixman_region32_fini(&out);
    return ret;
}

static void headless_destroy(struct vr_presenter *p)
{
    struct headless *h = (struct headless *)p;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        cache_drop(&h->cache[i]);
    sws_freeContext(h->sws);
    h->sws = NULL;
    av_frame_free(&h->narrow);
    if (h->canvas)
        pixman_image_unref(h->canvas);
    if (h->background)
        pixman_image_unref(h->background);
    h->canvas = h->background = NULL;
}

static const struct vr_presenter_ops headless_ops = {
    .name = "headless",
    .frame_shown = headless_frame_shown,
    .stream_gone = headless_stream_gone,
    .redraw = headless_redraw,
    .destroy = headless_destroy,
};

int vr_headless_create_for(pixman_image_t *canvas, pixman_image_t *background,
                           struct vr_presenter **out)
{
    if (!out || !canvas)
        return -EINVAL;
    int width = pixman_image_get_width(canvas), height = pixman_image_get_height(canvas);
    pixman_format_code_t fmt = pixman_image_get_format(canvas);
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384 ||
        (fmt != PIXMAN_x8r8g8b8 && fmt != PIXMAN_a8r8g8b8))
        return -EINVAL;
    struct headless *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    vr_presenter_init(&h->base, &headless_ops);
    h->canvas = pixman_image_ref(canvas);
    if (background) {
        /* Desktop coordinates -> output pixels, like the video: the image
         * is sampled through the inverse of the viewport when drawn. */
        h->background = pixman_image_ref(background);
    }
    /* Until told otherwise: the output shows desktop 0,0 1:1. */
    struct vr_rect all = { 0, 0, (uint32_t)width, (uint32_t)height };
    struct vr_viewport vp = { all, all };
    vr_presenter_set_viewport(&h->base, &vp);
    *out = &h->base;
    return 0;
}

int vr_headless_create(uint32_t width, uint32_t height, pixman_image_t *background,
                       struct vr_presenter **out)
{
    if (!out || !width || !height || width > 8192 || height > 8192)
        return -EINVAL;
    pixman_image_t *canvas = pixman_image_create_bits(PIXMAN_x8r8g8b8, (int)width, (int)height, NULL, 0);
    if (!canvas)
        return -ENOMEM;
    int ret = vr_headless_create_for(canvas, background, out);
    pixman_image_unref(canvas);
    return ret;
}

int vr_headless_set_background(struct vr_presenter *p, pixman_image_t *background)
{
    if (!p || p->ops != &headless_ops)
        return -EINVAL;
    struct headless *h = (struct headless *)p;
    if (background)
        pixman_image_ref(background);
    if (h->background)
        pixman_image_unref(h->background);
    h->background = background;
    p->damage_output = true;
    vr_presenter_damage_all(p);
    return 0;
}

pixman_image_t *vr_headless_image(struct vr_presenter *p)
{
    return p && p->ops == &headless_ops ? ((struct headless *)p)->canvas : NULL;
}
