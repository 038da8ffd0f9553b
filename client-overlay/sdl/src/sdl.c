/*
 * SDL2 presenter. SDL's back buffer is undefined after a present (or a GL
 * swap), so every redraw draws the whole window: the desktop picture, then
 * each visible video clipped to its visible region (one SDL_RenderCopy, or
 * one scissored GL draw, per rectangle). Damage still decides whether to
 * draw at all, and a hidden video's frame is not even uploaded (it is, from
 * the newest frame, as soon as it shows again).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SDL.h>
#include <libswscale/swscale.h>

#include "videoredir/sdl.h"
#ifdef VR_SDL_GL
#include <epoxy/gl.h>

#include "videoredir/gl.h"
#endif

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
    /* GL (ren is NULL then) */
    SDL_GLContext glctx;
    struct vr_gl *gl;
    vr_client_log_fn log;
    void *log_user;
    char name[480];
    /* software: the headless presenter drawing into the window surface */
    bool surface_mode;
    struct vr_presenter *inner;
    pixman_image_t *wcanvas; /* the window surface's pixels */
    pixman_image_t *bgimg;   /* our copy of the desktop picture */
};

static int surface_setup(struct sdl_presenter *s);

static char error_text[512];

static void set_error(const char *what)
{
    snprintf(error_text, sizeof(error_text), "%s: %s", what, SDL_GetError());
}

const char *vr_sdl_error(void)
{
    return error_text;
}

static void say(struct sdl_presenter *s, enum vr_client_log level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct sdl_presenter *s, enum vr_client_log level, const char *fmt, ...)
{
    if (!s->log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->log(s->log_user, level, msg);
}

int vr_sdl_present_from_name(const char *name, enum vr_sdl_present *out)
{
    if (!name || !out)
        return -EINVAL;
    if (!strcmp(name, "auto"))
        *out = VR_SDL_PRESENT_AUTO;
    else if (!strcmp(name, "gl"))
        *out = VR_SDL_PRESENT_GL;
    else if (!strcmp(name, "sw") || !strcmp(name, "software"))
        *out = VR_SDL_PRESENT_SW;
    else if (!strcmp(name, "renderer"))
        *out = VR_SDL_PRESENT_RENDERER;
    else
        return -EINVAL;
    return 0;
}

static void output_size(struct sdl_presenter *s, int *w, int *h)
{
    *w = *h = 0;
    if (s->surface_mode) {
        SDL_GetWindowSize(s->win, w, h);
        return;
    }
#ifdef VR_SDL_GL
    if (s->gl) {
        SDL_GL_GetDrawableSize(s->win, w, h);
        return;
    }
#endif
    if (SDL_GetRendererOutputSize(s->ren, w, h) < 0)
        *w = *h = 0;
}

static void refit(struct sdl_presenter *s)
{
    int w = 0, h = 0;
    output_size(s, &w, &h);
    if (w <= 0 || h <= 0)
        return;
    /* A resized window has a new surface. */
    if (s->surface_mode && (!s->wcanvas || pixman_image_get_width(s->wcanvas) != w ||
                            pixman_image_get_height(s->wcanvas) != h))
        surface_setup(s);
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
    struct sdl_presenter *s = (struct sdl_presenter *)p;
    tex_drop(&s->tex[slot]);
    if (s->inner) {
        struct vr_presenter_slot *b = &s->inner->slots[slot];
        if (s->inner->ops->stream_gone)
            s->inner->ops->stream_gone(s->inner, slot);
        av_frame_free(&b->frame);
        pixman_region32_clear(&b->visible);
        b->live = b->has_geometry = false;
    }
#ifdef VR_SDL_GL
    if (s->gl) {
        SDL_GL_MakeCurrent(s->win, s->glctx);
        vr_gl_forget(s->gl, slot);
    }
#endif
}

/* Uploads slot's frame to its texture (made or remade for its size and
 * format). */
static int upload_frame(struct sdl_presenter *s, struct tex *t, const AVFrame *f);

static int upload(struct sdl_presenter *s, uint32_t slot)
{
    struct tex *t = &s->tex[slot];
    const AVFrame *f = s->base.slots[slot].frame;
    if (!t->stale && t->t)
        return 0;
    /* A hardware frame is downloaded when it is drawn, not before. */
    AVFrame *scratch = NULL;
    int ret = vr_frame_cpu(f, &scratch, &f);
    if (ret == 0)
        ret = upload_frame(s, t, f);
    av_frame_free(&scratch);
    return ret;
}

static int upload_frame(struct sdl_presenter *s, struct tex *t, const AVFrame *f)
{
    Uint32 format = f->format == AV_PIX_FMT_NV12 ? SDL_PIXELFORMAT_NV12 : SDL_PIXELFORMAT_IYUV;
    if (f->format != AV_PIX_FMT_NV12 && f->format != AV_PIX_FMT_YUV420P &&
        f->format != AV_PIX_FMT_YUVJ420P) {
        /* 10-bit, 4:2:2, 4:4:4...: converted (IYUV is what every renderer has). */
        int r = vr_frame_convert(&s->sws, &s->conv, f, AV_PIX_FMT_YUV420P);
        if (r < 0)
            return r;
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

/* The part of the desktop picture (bw x bh) inside the viewport's desktop
 * area, and where it maps. false: none. */
static bool background_part(const struct vr_viewport *vp, int bw, int bh, struct vr_rect *part,
                            struct vr_rect *out)
{
    struct vr_rect img = { 0, 0, (uint32_t)bw, (uint32_t)bh };
    pixman_region32_t r;
    pixman_region32_init_rect(&r, img.x, img.y, img.w, img.h);
    pixman_region32_intersect_rect(&r, &r, vp->src.x, vp->src.y, vp->src.w, vp->src.h);
    pixman_box32_t *e = pixman_region32_extents(&r);
    *part = (struct vr_rect){ e->x1, e->y1, (uint32_t)(e->x2 - e->x1), (uint32_t)(e->y2 - e->y1) };
    pixman_region32_fini(&r);
    return part->w && part->h && vr_viewport_map_rect(vp, part, out) == 0 && out->w && out->h;
}

#ifdef VR_SDL_GL
static int gl_redraw(struct sdl_presenter *s)
{
    struct vr_presenter *p = &s->base;
    const struct vr_viewport *vp = &p->viewport;
    int fw = 0, fh = 0;
    if (SDL_GL_MakeCurrent(s->win, s->glctx) < 0) {
        set_error("SDL_GL_MakeCurrent");
        return -EIO;
    }
    SDL_GL_GetDrawableSize(s->win, &fw, &fh);
    if (fw <= 0 || fh <= 0)
        return 0;
    glBindFramebuffer(GL_FRAMEBUFFER, 0);
    glViewport(0, 0, fw, fh);
    glClearColor(0, 0, 0, 1);
    glClear(GL_COLOR_BUFFER_BIT);
    struct vr_rect part, out;
    if (s->bg_w && vp->src.w && vp->src.h && background_part(vp, s->bg_w, s->bg_h, &part, &out))
        vr_gl_draw_background(s->gl, &part, &out, (uint32_t)fw, (uint32_t)fh);
    pixman_region32_t draw;
    pixman_region32_init(&draw);
    int ret = 0;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_presenter_slot *sl = &p->slots[i];
        struct vr_rect dst;
        if (!sl->live || !sl->frame || !sl->has_geometry || !vp->src.w || !vp->src.h)
            continue;
        if (vr_viewport_map_region(vp, &sl->visible, &draw) < 0 || !pixman_region32_not_empty(&draw))
            continue; /* hidden: not uploaded, not drawn */
        if (vr_viewport_map_rect(vp, &sl->content, &dst) < 0 || !dst.w || !dst.h)
            continue;
        if (s->tex[i].stale || !s->tex[i].w) {
            if ((ret = vr_gl_upload(s->gl, i, sl->frame)) < 0) {
                snprintf(error_text, sizeof(error_text), "GL upload: %s", strerror(-ret));
                break;
            }
            s->tex[i].stale = false;
            s->tex[i].w = sl->frame->width;
        }
        if ((ret = vr_gl_draw(s->gl, i, &dst, &draw, (uint32_t)fw, (uint32_t)fh, &p->pixels_drawn)) < 0) {
            snprintf(error_text, sizeof(error_text), "GL draw: %s", strerror(-ret));
            break;
        }
    }
    pixman_region32_fini(&draw);
    SDL_GL_SwapWindow(s->win);
    return ret;
}
#endif

/* (Re)wraps the window surface in a pixman image and a headless presenter
 * drawing into it. Returns 0 or a negative errno (reason in vr_sdl_error). */
static int surface_setup(struct sdl_presenter *s)
{
    vr_presenter_destroy(s->inner);
    s->inner = NULL;
    if (s->wcanvas)
        pixman_image_unref(s->wcanvas);
    s->wcanvas = NULL;
    /* SDL would back the surface with a renderer (GL) texture where it
     * finds one, a software rasteriser included: the X11 shared-memory
     * framebuffer instead, the cheap way without a GPU. */
    const char *hint = SDL_GetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION);
    char *saved = hint ? SDL_strdup(hint) : NULL;
    SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0");
    SDL_Surface *surf = SDL_GetWindowSurface(s->win);
    SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, saved);
    SDL_free(saved);
    if (!surf) {
        set_error("SDL window surface");
        return -ENODEV;
    }
    if (surf->format->format != SDL_PIXELFORMAT_RGB888 &&
        surf->format->format != SDL_PIXELFORMAT_ARGB8888) {
        snprintf(error_text, sizeof(error_text), "window surface is %s, not 32-bit xRGB",
                 SDL_GetPixelFormatName(surf->format->format));
        return -ENOTSUP;
    }
    s->wcanvas = pixman_image_create_bits(PIXMAN_x8r8g8b8, surf->w, surf->h, surf->pixels, surf->pitch);
    if (!s->wcanvas)
        return -ENOMEM;
    int ret = vr_headless_create_for(s->wcanvas, s->bgimg, &s->inner);
    if (ret < 0) {
        snprintf(error_text, sizeof(error_text), "software presenter: %s", strerror(-ret));
        return ret;
    }
    /* Every slot's frame is scaled again into the new surface. */
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        s->tex[i].stale = true;
    s->base.damage_output = true;
    vr_presenter_damage_all(&s->base);
    return 0;
}

/* The scene of p mirrored into the headless presenter, which draws the
 * damage into the window surface; the damaged rectangles go to the screen. */
static int surface_redraw(struct sdl_presenter *s)
{
    struct vr_presenter *p = &s->base, *in = s->inner;
    if (!in)
        return -ENODEV;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_presenter_slot *a = &p->slots[i], *b = &in->slots[i];
        b->live = a->live;
        b->serial = a->serial;
        b->has_geometry = a->has_geometry;
        b->content = a->content;
        pixman_region32_copy(&b->visible, &a->visible);
        if (!a->frame) {
            av_frame_free(&b->frame);
        } else if (s->tex[i].stale || !b->frame) {
            if (!b->frame && !(b->frame = av_frame_alloc()))
                return -ENOMEM;
            av_frame_unref(b->frame);
            if (av_frame_ref(b->frame, a->frame) < 0)
                return -ENOMEM;
            if (in->ops->frame_shown)
                in->ops->frame_shown(in, i);
            s->tex[i].stale = false;
        }
    }
    in->viewport = p->viewport;
    pixman_region32_copy(&in->damage, &p->damage);
    in->damage_output = p->damage_output;
    uint64_t before = in->pixels_drawn;
    int ret = in->ops->redraw(in);
    p->pixels_drawn += in->pixels_drawn - before;
    bool all = in->damage_output;
    pixman_region32_clear(&in->damage);
    in->damage_output = false;
    if (all)
        return SDL_UpdateWindowSurface(s->win) < 0 ? (set_error("SDL_UpdateWindowSurface"), -EIO) : ret;
    pixman_region32_t out;
    pixman_region32_init(&out);
    if (vr_viewport_map_region(&p->viewport, &p->damage, &out) == 0) {
        int n = 0;
        const pixman_box32_t *b = pixman_region32_rectangles(&out, &n);
        SDL_Rect *r = n > 0 ? calloc((size_t)n, sizeof(*r)) : NULL;
        if (r) {
            for (int k = 0; k < n; k++)
                r[k] = (SDL_Rect){ b[k].x1, b[k].y1, b[k].x2 - b[k].x1, b[k].y2 - b[k].y1 };
            if (SDL_UpdateWindowSurfaceRects(s->win, r, n) < 0) {
                set_error("SDL_UpdateWindowSurfaceRects");
                ret = ret < 0 ? ret : -EIO;
            }
            free(r);
        } else if (n > 0) {
            SDL_UpdateWindowSurface(s->win);
        }
    }
    pixman_region32_fini(&out);
    return ret;
}

static int sdl_redraw(struct vr_presenter *p)
{
    struct sdl_presenter *s = (struct sdl_presenter *)p;
    if (s->surface_mode)
        return surface_redraw(s);
#ifdef VR_SDL_GL
    if (s->gl)
        return gl_redraw(s);
#endif
    const struct vr_viewport *vp = &p->viewport;
    SDL_SetRenderDrawColor(s->ren, 0, 0, 0, 255);
    SDL_RenderClear(s->ren);
    struct vr_rect part, out;
    if (s->bg && vp->src.w && vp->src.h && background_part(vp, s->bg_w, s->bg_h, &part, &out)) {
        SDL_Rect sr = { part.x, part.y, (int)part.w, (int)part.h };
        SDL_Rect dr = { out.x, out.y, (int)out.w, (int)out.h };
        SDL_RenderCopy(s->ren, s->bg, &sr, &dr);
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
    vr_presenter_destroy(s->inner);
    s->inner = NULL;
    if (s->wcanvas)
        pixman_image_unref(s->wcanvas);
    if (s->bgimg)
        pixman_image_unref(s->bgimg);
    s->wcanvas = s->bgimg = NULL;
#ifdef VR_SDL_GL
    if (s->glctx) {
        SDL_GL_MakeCurrent(s->win, s->glctx);
        vr_gl_destroy(s->gl);
        s->gl = NULL;
        SDL_GL_DeleteContext(s->glctx);
        s->glctx = NULL;
    }
#endif
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

#ifdef VR_SDL_GL
/* A window with a GL context the renderer accepts, or false with the reason
 * in why (the window and context are gone then). */
static bool open_gl(struct sdl_presenter *s, const char *title, int x, int y, int w, int h,
                    char *why, size_t whylen)
{
    /* Desktop GL 3.3 core first, then GLES 3.0 (EGL platforms). */
    static const int tries[][3] = { { SDL_GL_CONTEXT_PROFILE_CORE, 3, 3 },
                                    { SDL_GL_CONTEXT_PROFILE_ES, 3, 0 } };
    char last[256] = "no GL context";
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        SDL_GL_ResetAttributes();
        SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK, tries[i][0]);
        SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, tries[i][1]);
        SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, tries[i][2]);
        SDL_GL_SetAttribute(SDL_GL_DOUBLEBUFFER, 1);
        s->win = SDL_CreateWindow(title, x, y, w, h, SDL_WINDOW_RESIZABLE | SDL_WINDOW_OPENGL);
        if (!s->win) {
            snprintf(last, sizeof(last), "SDL window with OpenGL: %s", SDL_GetError());
            continue;
        }
        if (!(s->glctx = SDL_GL_CreateContext(s->win))) {
            snprintf(last, sizeof(last), "%s context: %s",
                     tries[i][0] == SDL_GL_CONTEXT_PROFILE_ES ? "OpenGL ES 3.0" : "OpenGL 3.3 core",
                     SDL_GetError());
            SDL_DestroyWindow(s->win);
            s->win = NULL;
            continue;
        }
        /* The scheduler decides when a frame shows: no wait for vertical
         * blank in the main loop. */
        SDL_GL_SetSwapInterval(0);
        int ret = vr_gl_create(s->log, s->log_user, last, sizeof(last), &s->gl);
        if (ret == 0)
            return true;
        SDL_GL_DeleteContext(s->glctx);
        s->glctx = NULL;
        SDL_DestroyWindow(s->win);
        s->win = NULL;
    }
    SDL_GL_ResetAttributes();
    snprintf(why, whylen, "%s", last);
    return false;
}
#endif

int vr_sdl_create(const struct vr_sdl_config *cfg, struct vr_presenter **out)
{
    if (!cfg || !out)
        return -EINVAL;
    struct sdl_presenter *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    vr_presenter_init(&s->base, &sdl_ops);
    s->log = cfg->log;
    s->log_user = cfg->log_user;
    s->desktop = cfg->desktop;
    if (!s->desktop.w || !s->desktop.h)
        s->desktop = (struct vr_rect){ 0, 0, 1280, 800 };
    s->keep_aspect = cfg->keep_aspect;
    int w = cfg->width ? (int)cfg->width : (int)s->desktop.w;
    int h = cfg->height ? (int)cfg->height : (int)s->desktop.h;
    if (w <= 0 || h <= 0 || w > 16384 || h > 16384 || cfg->present > VR_SDL_PRESENT_RENDERER) {
        vr_presenter_destroy(&s->base);
        return -EINVAL;
    }
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) < 0) {
        set_error("SDL video");
        vr_presenter_destroy(&s->base);
        return -ENODEV;
    }
    s->sdl_up = true;
    const char *title = cfg->title ? cfg->title : "videoredir";
    int x = cfg->x >= 0 ? cfg->x : (int)SDL_WINDOWPOS_UNDEFINED;
    int y = cfg->y >= 0 ? cfg->y : (int)SDL_WINDOWPOS_UNDEFINED;
    char why[300] = "";
    if (cfg->present == VR_SDL_PRESENT_SW || cfg->present == VR_SDL_PRESENT_RENDERER) {
        snprintf(why, sizeof(why), "not asked for");
    } else {
#ifdef VR_SDL_GL
        if (open_gl(s, title, x, y, w, h, why, sizeof(why))) {
            if (cfg->present == VR_SDL_PRESENT_GL || !vr_gl_is_software(s->gl)) {
                snprintf(s->name, sizeof(s->name), "gl (%s)", vr_gl_describe(s->gl));
                say(s, VR_CLOG_INFO, "presenter %s", s->name);
                refit(s);
                *out = &s->base;
                return 0;
            }
            /* A software rasteriser: its shader costs more CPU than libswscale. */
            snprintf(why, sizeof(why), "%s is a software rasteriser (--present gl to use it)",
                     vr_gl_describe(s->gl));
            SDL_GL_MakeCurrent(s->win, s->glctx);
            vr_gl_destroy(s->gl);
            s->gl = NULL;
            SDL_GL_DeleteContext(s->glctx);
            s->glctx = NULL;
            SDL_DestroyWindow(s->win);
            s->win = NULL;
        }
#else
        snprintf(why, sizeof(why), "built without the GL renderer (no epoxy)");
#endif
        if (cfg->present == VR_SDL_PRESENT_GL) {
            snprintf(error_text, sizeof(error_text), "GL presenter: %s", why);
            vr_presenter_destroy(&s->base);
            return -ENODEV;
        }
    }
    s->win = SDL_CreateWindow(title, x, y, w, h, SDL_WINDOW_RESIZABLE);
    if (!s->win) {
        set_error("SDL window");
        vr_presenter_destroy(&s->base);
        return -ENODEV;
    }
    if (cfg->present != VR_SDL_PRESENT_RENDERER) {
        s->surface_mode = true;
        int ret = surface_setup(s);
        if (ret == 0) {
            snprintf(s->name, sizeof(s->name), "software (window surface, libswscale + pixman; gl: %s)",
                     why);
            say(s, VR_CLOG_INFO, "presenter %s", s->name);
            refit(s);
            *out = &s->base;
            return 0;
        }
        if (cfg->present == VR_SDL_PRESENT_SW) {
            vr_presenter_destroy(&s->base);
            return ret == -ENOMEM ? ret : -ENODEV;
        }
        /* The window system's surface is not one we draw into: SDL's renderer. */
        say(s, VR_CLOG_INFO, "software presenter not used: %s", vr_sdl_error());
        s->surface_mode = false;
        vr_presenter_destroy(s->inner);
        s->inner = NULL;
        SDL_DestroyWindow(s->win);
        if (!(s->win = SDL_CreateWindow(title, x, y, w, h, SDL_WINDOW_RESIZABLE))) {
            set_error("SDL window");
            vr_presenter_destroy(&s->base);
            return -ENODEV;
        }
    }
    if (!(s->ren = SDL_CreateRenderer(s->win, -1, 0))) {
        set_error("SDL renderer");
        vr_presenter_destroy(&s->base);
        return -ENODEV;
    }
    SDL_RendererInfo info;
    snprintf(s->name, sizeof(s->name), "renderer (SDL renderer %s; gl: %s)",
             SDL_GetRendererInfo(s->ren, &info) == 0 && info.name ? info.name : "unknown", why);
    say(s, VR_CLOG_INFO, "presenter %s", s->name);
    /* Linear scaling where the renderer offers it. */
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
    refit(s);
    *out = &s->base;
    return 0;
}

const char *vr_sdl_presenter_name(const struct vr_presenter *p)
{
    return p && p->ops == &sdl_ops ? ((const struct sdl_presenter *)p)->name : "";
}

bool vr_sdl_can_import(const struct vr_presenter *p)
{
    if (!p || p->ops != &sdl_ops)
        return false;
#ifdef VR_SDL_GL
    return vr_gl_can_import(((const struct sdl_presenter *)p)->gl);
#else
    return false;
#endif
}

const char *vr_sdl_present_kind(const struct vr_presenter *p)
{
    if (!p || p->ops != &sdl_ops)
        return "";
    const struct sdl_presenter *s = (const struct sdl_presenter *)p;
    return s->gl ? "gl" : s->surface_mode ? "software" : "renderer";
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
        s->bg_w = s->bg_h = 0;
        if (s->bgimg)
            pixman_image_unref(s->bgimg);
        s->bgimg = NULL;
        if (s->inner)
            vr_headless_set_background(s->inner, NULL);
#ifdef VR_SDL_GL
        if (s->gl) {
            SDL_GL_MakeCurrent(s->win, s->glctx);
            vr_gl_set_background(s->gl, NULL);
        }
#endif
        p->damage_output = true;
        return 0;
    }
    int w = pixman_image_get_width(desktop), h = pixman_image_get_height(desktop);
    pixman_format_code_t fmt = pixman_image_get_format(desktop);
    if (w <= 0 || h <= 0 || (fmt != PIXMAN_x8r8g8b8 && fmt != PIXMAN_a8r8g8b8))
        return -EINVAL;
    if (s->surface_mode) {
        /* Our own copy: the caller may change or free its image. */
        if (!s->bgimg || pixman_image_get_width(s->bgimg) != w || pixman_image_get_height(s->bgimg) != h) {
            if (s->bgimg)
                pixman_image_unref(s->bgimg);
            if (!(s->bgimg = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, h, NULL, 0)))
                return -ENOMEM;
        }
        pixman_image_composite32(PIXMAN_OP_SRC, desktop, NULL, s->bgimg, 0, 0, 0, 0, 0, 0, w, h);
        s->bg_w = w;
        s->bg_h = h;
        if (s->inner)
            vr_headless_set_background(s->inner, s->bgimg);
        p->damage_output = true;
        vr_presenter_damage_all(p);
        return 0;
    }
#ifdef VR_SDL_GL
    if (s->gl) {
        SDL_GL_MakeCurrent(s->win, s->glctx);
        int ret = vr_gl_set_background(s->gl, desktop);
        if (ret < 0) {
            snprintf(error_text, sizeof(error_text), "GL background: %s", strerror(-ret));
            return ret;
        }
        s->bg_w = w;
        s->bg_h = h;
        p->damage_output = true;
        vr_presenter_damage_all(p);
        return 0;
    }
#endif
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
