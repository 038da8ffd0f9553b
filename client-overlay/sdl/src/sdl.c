/*
 * SDL2 presenter. SDL's back buffer is undefined after a present, so every
 * redraw draws the whole window: the desktop picture, then each visible
 * video, one SDL_RenderCopy per rectangle of its visible region. Damage still
 * decides whether to draw at all, and a hidden video's frame is not even
 * uploaded (it is, from the newest frame, as soon as it shows again).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SDL.h>
#include <libswscale/swscale.h>

#include "videoredir/sdl.h"

struct tex {
    SDL_Texture *t;
    int w, h;
    Uint32 format;
    bool stale; /* the slot's frame is newer than the texture */
};

struct sdl_presenter {
    struct vr_presenter base; /* first: the base pointer is the allocation */
    SDL_Window *win;
    SDL_Renderer *ren;
    struct vr_rect desktop;
    bool keep_aspect, closed, sdl_up;
    SDL_Texture *bg;
    int bg_w, bg_h;
    struct tex tex[VR_MAX_STREAMS];
    struct SwsContext *sws;
    AVFrame *conv; /* other pixel formats converted to yuv420p */
};

static char error_text[256];

static void set_error(const char *what)
{
    snprintf(error_text, sizeof(error_text), "%s: %s", what, SDL_GetError());
}

const char *vr_sdl_error(void)
{
    return error_text;
}

static void refit(struct sdl_presenter *s)
{
    int w = 0, h = 0;
    if (SDL_GetRendererOutputSize(s->ren, &w, &h) < 0 || w <= 0 || h <= 0)
        return;
    struct vr_viewport vp;
    vr_viewport_fit(&vp, &s->desktop, (uint32_t)w, (uint32_t)h, s->keep_aspect);
    vr_presenter_set_viewport(&s->base, &vp);
}

static void tex_drop(struct tex *t)
{
    if (t->t)
        SDL_DestroyTexture(t->t);
    memset(t, 0, sizeof(*t));
}

static void sdl_frame_shown(struct vr_presenter *p, uint32_t slot)
{
    ((struct sdl_presenter *)p)->tex[slot].stale = true;
}

static void sdl_stream_gone(struct vr_presenter *p, uint32_t slot)
{
    tex_drop(&((struct sdl_presenter *)p)->tex[slot]);
}

/* Uploads slot's frame to its texture (made or remade for its size and
 * format). */
static int upload(struct sdl_presenter *s, uint32_t slot)
{
    struct tex *t = &s->tex[slot];
    const AVFrame *f = s->base.slots[slot].frame;
    if (!t->stale && t->t)
        return 0;
    Uint32 format = f->format == AV_PIX_FMT_NV12 ? SDL_PIXELFORMAT_NV12 : SDL_PIXELFORMAT_IYUV;
    if (f->format != AV_PIX_FMT_NV12 && f->format != AV_PIX_FMT_YUV420P &&
        f->format != AV_PIX_FMT_YUVJ420P) {
        /* 10-bit, 4:2:2, 4:4:4...: converted (IYUV is what every renderer has). */
        if (!s->conv || s->conv->width != f->width || s->conv->height != f->height) {
            av_frame_free(&s->conv);
            if (!(s->conv = av_frame_alloc()))
                return -ENOMEM;
            s->conv->format = AV_PIX_FMT_YUV420P;
            s->conv->width = f->width;
            s->conv->height = f->height;
            if (av_frame_get_buffer(s->conv, 0) < 0) {
                av_frame_free(&s->conv);
                return -ENOMEM;
            }
        }
        s->sws = sws_getCachedContext(s->sws, f->width, f->height, f->format, f->width, f->height,
                                      AV_PIX_FMT_YUV420P, SWS_POINT, NULL, NULL, NULL);
        if (!s->sws)
            return -ENOTSUP;
        sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height,
                  s->conv->data, s->conv->linesize);
        f = s->conv;
    }
    if (!t->t || t->w != f->width || t->h != f->height || t->format != format) {
        tex_drop(t);
        t->t = SDL_CreateTexture(s->ren, format, SDL_TEXTUREACCESS_STREAMING, f->width, f->height);
        if (!t->t) {
            set_error("SDL_CreateTexture");
            return -ENOMEM;
        }
        t->w = f->width;
        t->h = f->height;
        t->format = format;
    }
    int ret = format == SDL_PIXELFORMAT_NV12
                  ? SDL_UpdateNVTexture(t->t, NULL, f->data[0], f->linesize[0], f->data[1],
                                        f->linesize[1])
                  : SDL_UpdateYUVTexture(t->t, NULL, f->data[0], f->linesize[0], f->data[1],
                                         f->linesize[1], f->data[2], f->linesize[2]);
    if (ret < 0) {
        set_error("texture upload");
        return -EIO;
    }
    t->stale = false;
    return 0;
}

/* Frame pixel of output edge e of a destination span [d0, d0 + dlen). */
static int src_edge(int e, int d0, uint32_t dlen, int flen)
{
    return (int)(((int64_t)(e - d0) * flen * 2 + dlen) / (2 * (int64_t)dlen));
}

static int sdl_redraw(struct vr_presenter *p)
{
    struct sdl_presenter *s = (struct sdl_presenter *)p;
    const struct vr_viewport *vp = &p->viewport;
    SDL_SetRenderDrawColor(s->ren, 0, 0, 0, 255);
    SDL_RenderClear(s->ren);
    if (s->bg && vp->src.w && vp->src.h) {
        /* The part of the picture inside the desktop area, where it maps. */
        struct vr_rect img = { 0, 0, (uint32_t)s->bg_w, (uint32_t)s->bg_h }, out;
        pixman_region32_t r;
        pixman_region32_init_rect(&r, img.x, img.y, img.w, img.h);
        pixman_region32_intersect_rect(&r, &r, vp->src.x, vp->src.y, vp->src.w, vp->src.h);
        pixman_box32_t *e = pixman_region32_extents(&r);
        struct vr_rect part = { e->x1, e->y1, (uint32_t)(e->x2 - e->x1), (uint32_t)(e->y2 - e->y1) };
        if (part.w && part.h && vr_viewport_map_rect(vp, &part, &out) == 0 && out.w && out.h) {
            SDL_Rect sr = { part.x, part.y, (int)part.w, (int)part.h };
            SDL_Rect dr = { out.x, out.y, (int)out.w, (int)out.h };
            SDL_RenderCopy(s->ren, s->bg, &sr, &dr);
        }
        pixman_region32_fini(&r);
    }
    pixman_region32_t draw;
    pixman_region32_init(&draw);
    int ret = 0;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_presenter_slot *sl = &p->slots[i];
        struct vr_rect dst;
        if (!sl->live || !sl->frame || !sl->has_geometry || !vp->src.w || !vp->src.h)
            continue;
        /* The whole visible region: SDL redraws everything. */
        if (vr_viewport_map_region(vp, &sl->visible, &draw) < 0 || !pixman_region32_not_empty(&draw))
            continue; /* hidden: not uploaded, not drawn */
        if (vr_viewport_map_rect(vp, &sl->content, &dst) < 0 || !dst.w || !dst.h)
            continue;
        if ((ret = upload(s, i)) < 0)
            break;
        int n = 0;
        const pixman_box32_t *b = pixman_region32_rectangles(&draw, &n);
        int fw = s->tex[i].w, fh = s->tex[i].h;
        for (int k = 0; k < n; k++) {
            int x1 = src_edge(b[k].x1, dst.x, dst.w, fw), x2 = src_edge(b[k].x2, dst.x, dst.w, fw);
            int y1 = src_edge(b[k].y1, dst.y, dst.h, fh), y2 = src_edge(b[k].y2, dst.y, dst.h, fh);
            SDL_Rect sr = { x1, y1, x2 > x1 ? x2 - x1 : 1, y2 > y1 ? y2 - y1 : 1 };
            SDL_Rect dr = { b[k].x1, b[k].y1, b[k].x2 - b[k].x1, b[k].y2 - b[k].y1 };
            SDL_RenderCopy(s->ren, s->tex[i].t, &sr, &dr);
            p->pixels_drawn += (uint64_t)dr.w * (uint64_t)dr.h;
        }
    }
    pixman_region32_fini(&draw);
    SDL_RenderPresent(s->ren);
    return ret;
}

static void sdl_destroy(struct vr_presenter *p)
{
    struct sdl_presenter *s = (struct sdl_presenter *)p;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        tex_drop(&s->tex[i]);
    if (s->bg)
        SDL_DestroyTexture(s->bg);
    if (s->ren)
        SDL_DestroyRenderer(s->ren);
    if (s->win)
        SDL_DestroyWindow(s->win);
    if (s->sdl_up)
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
    sws_freeContext(s->sws);
    av_frame_free(&s->conv);
    s->bg = NULL;
    s->ren = NULL;
    s->win = NULL;
    s->sws = NULL;
    s->sdl_up = false;
}

static const struct vr_presenter_ops sdl_ops = {
    .name = "sdl",
    .frame_shown = sdl_frame_shown,
    .stream_gone = sdl_stream_gone,
    .redraw = sdl_redraw,
    .destroy = sdl_destroy,
};

int vr_sdl_create(const struct vr_sdl_config *cfg, struct vr_presenter **out)
{
    if (!cfg || !out)
        return -EINVAL;
    struct sdl_presenter *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    vr_presenter_init(&s->base, &sdl_ops);
    s->desktop = cfg->desktop;
    if (!s->desktop.w || !s->desktop.h)
        s->desktop = (struct vr_rect){ 0, 0, 1280, 800 };
    s->keep_aspect = cfg->keep_aspect;
    int w = cfg->width ? (int)cfg->width : (int)s->desktop.w;
    int h = cfg->height ? (int)cfg->height : (int)s->desktop.h;
    if (w <= 0 || h <= 0 || w > 16384 || h > 16384) {
        vr_presenter_destroy(&s->base);
        return -EINVAL;
    }
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) < 0) {
        set_error("SDL video");
        vr_presenter_destroy(&s->base);
        return -ENODEV;
    }
    s->sdl_up = true;
    s->win = SDL_CreateWindow(cfg->title ? cfg->title : "videoredir",
                              cfg->x >= 0 ? cfg->x : (int)SDL_WINDOWPOS_UNDEFINED,
                              cfg->y >= 0 ? cfg->y : (int)SDL_WINDOWPOS_UNDEFINED, w, h,
                              SDL_WINDOW_RESIZABLE);
    if (!s->win || !(s->ren = SDL_CreateRenderer(s->win, -1, 0))) {
        set_error(s->win ? "SDL renderer" : "SDL window");
        vr_presenter_destroy(&s->base);
        return -ENODEV;
    }
    /* Linear scaling where the renderer offers it. */
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
    refit(s);
    *out = &s->base;
    return 0;
}

bool vr_sdl_handle_events(struct vr_presenter *p)
{
    struct sdl_presenter *s = (struct sdl_presenter *)p;
    SDL_Event ev;
    while (SDL_PollEvent(&ev)) {
        if (ev.type == SDL_QUIT)
            s->closed = true;
        else if (ev.type == SDL_WINDOWEVENT && SDL_GetWindowFromID(ev.window.windowID) == s->win) {
            if (ev.window.event == SDL_WINDOWEVENT_CLOSE)
                s->closed = true;
            else if (ev.window.event == SDL_WINDOWEVENT_SIZE_CHANGED)
                refit(s);
            else if (ev.window.event == SDL_WINDOWEVENT_EXPOSED)
                p->damage_output = true;
        } else if (ev.type == SDL_KEYDOWN && (ev.key.keysym.sym == SDLK_q ||
                                               ev.key.keysym.sym == SDLK_ESCAPE))
            s->closed = true;
    }
    return !s->closed;
}

void vr_sdl_set_desktop(struct vr_presenter *p, const struct vr_rect *desktop)
{
    struct sdl_presenter *s = (struct sdl_presenter *)p;
    if (!desktop || !desktop->w || !desktop->h ||
        (desktop->x == s->desktop.x && desktop->y == s->desktop.y && desktop->w == s->desktop.w &&
         desktop->h == s->desktop.h))
        return;
    s->desktop = *desktop;
    refit(s);
}

int vr_sdl_set_background(struct vr_presenter *p, pixman_image_t *desktop)
{
    struct sdl_presenter *s = (struct sdl_presenter *)p;
    if (!desktop) {
        if (s->bg)
            SDL_DestroyTexture(s->bg);
        s->bg = NULL;
        p->damage_output = true;
        return 0;
    }
    int w = pixman_image_get_width(desktop), h = pixman_image_get_height(desktop);
    pixman_format_code_t fmt = pixman_image_get_format(desktop);
    if (w <= 0 || h <= 0 || (fmt != PIXMAN_x8r8g8b8 && fmt != PIXMAN_a8r8g8b8))
        return -EINVAL;
    if (!s->bg || s->bg_w != w || s->bg_h != h) {
        if (s->bg)
            SDL_DestroyTexture(s->bg);
        s->bg = SDL_CreateTexture(s->ren, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING, w, h);
        if (!s->bg) {
            set_error("SDL_CreateTexture");
            return -ENOMEM;
        }
        s->bg_w = w;
        s->bg_h = h;
    }
    if (SDL_UpdateTexture(s->bg, NULL, pixman_image_get_data(desktop),
                          pixman_image_get_stride(desktop)) < 0) {
        set_error("SDL_UpdateTexture");
        return -EIO;
    }
    p->damage_output = true;
    vr_presenter_damage_all(p);
    return 0;
}
