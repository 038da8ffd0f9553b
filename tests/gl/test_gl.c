/*
 * The GL renderer against the software presenter, pixel by pixel, in a real
 * GL context (SDL under Xvfb; Mesa's llvmpipe here): the same frame drawn
 * by vr_gl (read back with glReadPixels from a framebuffer object) and by
 * vr_composite_frame (libswscale + pixman) must agree (PSNR >= 40 dB) for
 * yuv420p BT.709 limited, yuv420p10 BT.2020 limited, full range BT.601
 * (JPEG), nv12, p010, yuv444p, bgra, a format without a shader (converted),
 * scaled, and the first frame of a real clip; clipping by a region with holes
 * is checked pixel by pixel (the holes keep what was there, exactly); the
 * background picture is drawn exactly; bad arguments are refused.
 * Usage: test_gl [CLIP]   (exit 77 when no GL context can be made)
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SDL.h>
#include <epoxy/gl.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <videoredir/gl.h>

#include "../check.h"

#define FB_W 660
#define FB_H 400
#define CLEAR 0x00203040u /* x8r8g8b8 of the "desktop" around and under */

static GLuint fbo, rbo;

static bool make_context(void)
{
    if (SDL_Init(SDL_INIT_VIDEO) < 0) {
        fprintf(stderr, "SKIP: SDL video: %s\n", SDL_GetError());
        return false;
    }
    static const int tries[][3] = { { SDL_GL_CONTEXT_PROFILE_CORE, 3, 3 },
                                    { SDL_GL_CONTEXT_PROFILE_ES, 3, 0 } };
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK, tries[i][0]);
        SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, tries[i][1]);
        SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, tries[i][2]);
        SDL_Window *w = SDL_CreateWindow("test_gl", 0, 0, 64, 64, SDL_WINDOW_OPENGL | SDL_WINDOW_HIDDEN);
        if (w && SDL_GL_CreateContext(w))
            return true;
        if (w)
            SDL_DestroyWindow(w);
    }
    fprintf(stderr, "SKIP: no GL context: %s\n", SDL_GetError());
    return false;
}

static void make_fbo(void)
{
    glGenFramebuffers(1, &fbo);
    glGenRenderbuffers(1, &rbo);
    glBindRenderbuffer(GL_RENDERBUFFER, rbo);
    glRenderbufferStorage(GL_RENDERBUFFER, GL_RGBA8, FB_W, FB_H);
    glBindFramebuffer(GL_FRAMEBUFFER, fbo);
    glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, rbo);
}

static void clear(void)
{
    glClearColor(0x20 / 255.0f, 0x30 / 255.0f, 0x40 / 255.0f, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
}

/* The framebuffer as x8r8g8b8, top row first. */
static pixman_image_t *read_back(void)
{
    uint8_t *rgba = malloc((size_t)FB_W * FB_H * 4);
    glPixelStorei(GL_PACK_ALIGNMENT, 4);
    glReadPixels(0, 0, FB_W, FB_H, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
    pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8, FB_W, FB_H, NULL, 0);
    uint32_t *d = pixman_image_get_data(img);
    for (int y = 0; y < FB_H; y++)
        for (int x = 0; x < FB_W; x++) {
            const uint8_t *p = rgba + ((size_t)(FB_H - 1 - y) * FB_W + x) * 4;
            d[y * FB_W + x] = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        }
    free(rgba);
    return img;
}

static pixman_image_t *canvas(void)
{
    pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8, FB_W, FB_H, NULL, 0);
    uint32_t *d = pixman_image_get_data(img);
    for (int i = 0; i < FB_W * FB_H; i++)
        d[i] = CLEAR;
    return img;
}

static uint32_t px(pixman_image_t *img, int x, int y)
{
    return pixman_image_get_data(img)[y * (pixman_image_get_stride(img) / 4) + x] & 0xffffffu;
}

/* PSNR over the rectangle r, and the largest channel difference. */
static double psnr(pixman_image_t *a, pixman_image_t *b, const struct vr_rect *r, int *maxdiff)
{
    double se = 0;
    int md = 0;
    for (int y = r->y; y < r->y + (int)r->h; y++)
        for (int x = r->x; x < r->x + (int)r->w; x++) {
            uint32_t p = px(a, x, y), q = px(b, x, y);
            for (int s = 0; s < 24; s += 8) {
                int d = (int)((p >> s) & 0xff) - (int)((q >> s) & 0xff);
                se += d * d;
                md = abs(d) > md ? abs(d) : md;
            }
        }
    *maxdiff = md;
    double mse = se / (3.0 * r->w * r->h);
    return mse == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 / mse);
}

/* A smooth picture (so that two bilinear scalers agree) at depth bits,
 * limited or full range. */
static AVFrame *pattern(enum AVPixelFormat fmt, int w, int h, enum AVColorSpace cs, bool full)
{
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV444P16LE;
    f->width = w;
    f->height = h;
    av_frame_get_buffer(f, 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double yy = 0.5 + 0.45 * sin(x / 23.0 + y / 37.0);
            double u = 0.38 * sin(x / 41.0 - y / 29.0), v = 0.38 * cos(y / 33.0 + x / 53.0);
            double ys = full ? yy * 65535 : (16 + 219 * yy) * 256;
            double us = full ? (0.5 + u) * 65535 : (128 + 224 * u) * 256;
            double vs = full ? (0.5 + v) * 65535 : (128 + 224 * v) * 256;
            ((uint16_t *)(f->data[0] + y * f->linesize[0]))[x] = (uint16_t)lrint(ys);
            ((uint16_t *)(f->data[1] + y * f->linesize[1]))[x] = (uint16_t)lrint(us);
            ((uint16_t *)(f->data[2] + y * f->linesize[2]))[x] = (uint16_t)lrint(vs);
        }
    /* Into the format wanted, samples unchanged (no matrix, no range change). */
    AVFrame *o = av_frame_alloc();
    o->format = fmt;
    o->width = w;
    o->height = h;
    av_frame_get_buffer(o, 0);
    struct SwsContext *sws = sws_getContext(w, h, f->format, w, h, fmt, SWS_BILINEAR, NULL, NULL, NULL);
    int *inv, *tab, sr, dr, b, c, s;
    sws_getColorspaceDetails(sws, &inv, &sr, &tab, &dr, &b, &c, &s);
    sws_setColorspaceDetails(sws, inv, full, tab, full, b, c, s);
    sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, h, o->data, o->linesize);
    sws_freeContext(sws);
    av_frame_free(&f);
    o->colorspace = cs;
    o->color_range = full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    return o;
}

/* Draws f into dst with vr_gl and with vr_composite_frame; compares. */
static void compare(struct vr_gl *g, const char *what, const AVFrame *f, const struct vr_rect *dst,
                    double min_psnr)
{
    clear();
    int ret = vr_gl_upload(g, 0, f);
    CHECK(ret == 0, "%s: upload: %s", what, strerror(-ret));
    ret = vr_gl_draw(g, 0, dst, NULL, FB_W, FB_H, NULL);
    CHECK(ret == 0, "%s: draw: %s", what, strerror(-ret));
    pixman_image_t *gl = read_back(), *sw = canvas();
    ret = vr_composite_frame(sw, f, dst, NULL);
    CHECK(ret == 0, "%s: software: %s", what, strerror(-ret));
    int md = 0;
    /* The edge column/row: the scalers sample the border differently. */
    struct vr_rect in = { dst->x + 1, dst->y + 1, dst->w - 2, dst->h - 2 };
    double db = psnr(gl, sw, &in, &md);
    printf("%-28s %4dx%-4d -> %4ux%-4u PSNR %5.1f dB, max diff %3d\n", what, f->width, f->height,
           dst->w, dst->h, db, md);
    CHECK(db >= min_psnr, "%s: PSNR %.1f dB < %.1f", what, db, min_psnr);
    /* Outside the destination: untouched. */
    if (dst->x + (int)dst->w + 2 < FB_W)
        CHECK(px(gl, dst->x + (int)dst->w + 2, dst->y) == CLEAR, "%s: drew outside", what);
    pixman_image_unref(gl);
    pixman_image_unref(sw);
}

static AVFrame *first_frame(const char *path)
{
    AVFormatContext *fmt = NULL;
    AVCodecContext *ctx = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc(), *out = NULL;
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0 || avformat_find_stream_info(fmt, NULL) < 0)
        goto done;
    int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (si < 0)
        goto done;
    const AVCodec *codec = avcodec_find_decoder(fmt->streams[si]->codecpar->codec_id);
    ctx = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(ctx, fmt->streams[si]->codecpar);
    if (avcodec_open2(ctx, codec, NULL) < 0)
        goto done;
    while (!out && av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == si && avcodec_send_packet(ctx, pkt) >= 0 &&
            avcodec_receive_frame(ctx, f) == 0)
            out = av_frame_clone(f);
        av_packet_unref(pkt);
    }
    if (!out && avcodec_send_packet(ctx, NULL) >= 0 && avcodec_receive_frame(ctx, f) == 0)
        out = av_frame_clone(f);
done:
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    avformat_close_input(&fmt);
    return out;
}

static void log_cb(void *user, enum vr_client_log level, const char *msg)
{
    printf("log: %s\n", msg);
}

int main(int argc, char **argv)
{
    char why[256] = "";
    struct vr_gl *g = NULL;
    /* No context yet: refused, not a crash. */
    int ret = vr_gl_create(log_cb, NULL, why, sizeof(why), &g);
    CHECK(ret == -ENODEV && !g, "no context: %d", ret);
    if (!make_context())
        return 77;
    ret = vr_gl_create(log_cb, NULL, why, sizeof(why), &g);
    if (ret < 0) {
        fprintf(stderr, "vr_gl_create: %s (%s)\n", strerror(-ret), why);
        return 1;
    }
    printf("renderer: %s%s\n", vr_gl_describe(g), vr_gl_is_software(g) ? " (software rasteriser)" : "");
    make_fbo();
    CHECK(glCheckFramebufferStatus(GL_FRAMEBUFFER) == GL_FRAMEBUFFER_COMPLETE, "fbo");

    struct vr_rect one = { 40, 30, 320, 240 };
    struct vr_rect up = { 10, 10, 600, 380 }, down = { 100, 60, 200, 150 };
    struct {
        const char *what;
        enum AVPixelFormat fmt;
        enum AVColorSpace cs;
        bool full;
    } cases[] = {
        { "yuv420p bt709 limited", AV_PIX_FMT_YUV420P, AVCOL_SPC_BT709, false },
        { "yuv420p10 bt2020 limited", AV_PIX_FMT_YUV420P10LE, AVCOL_SPC_BT2020_NCL, false },
        { "yuvj420p bt601 full", AV_PIX_FMT_YUVJ420P, AVCOL_SPC_BT470BG, true },
        { "yuv420p bt601 full", AV_PIX_FMT_YUV420P, AVCOL_SPC_SMPTE170M, true },
        { "nv12 bt709 limited", AV_PIX_FMT_NV12, AVCOL_SPC_BT709, false },
        { "p010 bt2020 limited", AV_PIX_FMT_P010LE, AVCOL_SPC_BT2020_NCL, false },
        { "yuv444p bt709 limited", AV_PIX_FMT_YUV444P, AVCOL_SPC_BT709, false },
        { "yuv422p10 bt709 limited", AV_PIX_FMT_YUV422P10LE, AVCOL_SPC_BT709, false },
        { "yuv420p unspecified", AV_PIX_FMT_YUV420P, AVCOL_SPC_UNSPECIFIED, false },
        { "yuv410p (converted)", AV_PIX_FMT_YUV410P, AVCOL_SPC_BT709, false },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        AVFrame *f = pattern(cases[i].fmt, 320, 240, cases[i].cs, cases[i].full);
        /* Converted on the CPU first (4:1:0 chroma resampled twice). */
        compare(g, cases[i].what, f, &one, cases[i].fmt == AV_PIX_FMT_YUV410P ? 35.0 : 40.0);
        if (i < 2) {
            char name[64];
            snprintf(name, sizeof(name), "%s up", cases[i].what);
            compare(g, name, f, &up, 35.0);
            snprintf(name, sizeof(name), "%s down", cases[i].what);
            compare(g, name, f, &down, 35.0);
        }
        av_frame_free(&f);
    }
    /* Packed RGB: bgra as swscale makes it from the pattern. */
    {
        AVFrame *y = pattern(AV_PIX_FMT_YUV444P, 320, 240, AVCOL_SPC_BT709, false);
        AVFrame *b = av_frame_alloc();
        b->format = AV_PIX_FMT_BGRA;
        b->width = 320;
        b->height = 240;
        av_frame_get_buffer(b, 0);
        struct SwsContext *sws = sws_getContext(320, 240, y->format, 320, 240, AV_PIX_FMT_BGRA,
                                                SWS_POINT, NULL, NULL, NULL);
        sws_scale(sws, (const uint8_t *const *)y->data, y->linesize, 0, 240, b->data, b->linesize);
        sws_freeContext(sws);
        compare(g, "bgra", b, &one, 45.0);
        av_frame_free(&b);
        av_frame_free(&y);
    }
    /* A real decoded frame. */
    if (argc > 1) {
        AVFrame *f = first_frame(argv[1]);
        CHECK(f != NULL, "no frame from %s", argv[1]);
        if (f) {
            struct vr_rect at = { 10, 20, (uint32_t)f->width, (uint32_t)f->height };
            if (at.w <= FB_W - 20 && at.h <= FB_H - 30) {
                /* Sharp coloured edges: swscale's unscaled path repeats 4:2:0
                 * chroma; GL repeats it too on a software rasteriser at 1:1
                 * but interpolates on a GPU, where the edges differ: only a
                 * loose bound here ... */
                compare(g, "first frame of the clip", f, &at, 28.0);
                /* ... and, with the chroma upsampled once for both, the
                 * conversion itself must agree closely on real content. */
                AVFrame *u = av_frame_alloc();
                u->format = AV_PIX_FMT_YUV444P;
                u->width = f->width;
                u->height = f->height;
                av_frame_get_buffer(u, 0);
                struct SwsContext *sws = sws_getContext(f->width, f->height, f->format, f->width,
                                                        f->height, AV_PIX_FMT_YUV444P, SWS_BICUBIC,
                                                        NULL, NULL, NULL);
                sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, u->data,
                          u->linesize);
                sws_freeContext(sws);
                av_frame_copy_props(u, f);
                compare(g, "first frame, chroma 4:4:4", u, &at, 45.0);
                av_frame_free(&u);
            }
            av_frame_free(&f);
        }
    }

    /* Clipping: a region with two holes and a checkerboard corner. */
    {
        AVFrame *f = pattern(AV_PIX_FMT_YUV420P, 320, 240, AVCOL_SPC_BT709, false);
        pixman_region32_t clip, hole;
        pixman_region32_init_rect(&clip, one.x, one.y, one.w, one.h);
        pixman_region32_init_rect(&hole, 100, 80, 60, 40);
        pixman_region32_subtract(&clip, &clip, &hole);
        pixman_region32_fini(&hole);
        pixman_region32_init_rect(&hole, 250, 200, 120, 100); /* over the bottom-right corner */
        pixman_region32_subtract(&clip, &clip, &hole);
        pixman_region32_fini(&hole);
        for (int cy = 0; cy < 4; cy++) /* 8x8 checker holes in the top-right */
            for (int cx = 0; cx < 4; cx++)
                if ((cx + cy) % 2) {
                    pixman_region32_init_rect(&hole, 300 + cx * 8, 40 + cy * 8, 8, 8);
                    pixman_region32_subtract(&clip, &clip, &hole);
                    pixman_region32_fini(&hole);
                }
        clear();
        uint64_t drawn = 0;
        CHECK(vr_gl_upload(g, 1, f) == 0, "clip upload");
        CHECK(vr_gl_draw(g, 1, &one, &clip, FB_W, FB_H, &drawn) == 0, "clip draw");
        pixman_image_t *gl = read_back(), *sw = canvas();
        CHECK(vr_composite_frame(sw, f, &one, &clip) == 0, "clip software");
        int n = pixman_region32_n_rects(&clip);
        uint64_t area = 0;
        int nb = 0;
        const pixman_box32_t *bx = pixman_region32_rectangles(&clip, &nb);
        for (int k = 0; k < nb; k++)
            area += (uint64_t)(bx[k].x2 - bx[k].x1) * (uint64_t)(bx[k].y2 - bx[k].y1);
        CHECK(drawn == area, "pixels drawn %llu, region %llu", (unsigned long long)drawn,
              (unsigned long long)area);
        long holes = 0, shown = 0, wrong = 0;
        for (int y = 0; y < FB_H; y++)
            for (int x = 0; x < FB_W; x++) {
                bool in = pixman_region32_contains_point(&clip, x, y, NULL);
                uint32_t p = px(gl, x, y), q = px(sw, x, y);
                if (!in) {
                    holes++;
                    if (p != CLEAR)
                        wrong++;
                } else {
                    shown++;
                    for (int s = 0; s < 24; s += 8)
                        if (abs((int)((p >> s) & 0xff) - (int)((q >> s) & 0xff)) > 12) {
                            wrong++;
                            break;
                        }
                }
            }
        printf("clip: %d rectangles, %ld pixels shown, %ld outside, %ld wrong\n", n, shown, holes,
               wrong);
        CHECK(wrong == 0, "clip: %ld pixels wrong", wrong);
        CHECK(px(gl, 120, 100) == CLEAR && px(gl, 308, 40) == CLEAR && px(gl, 300, 40) != CLEAR,
              "clip: holes");
        pixman_image_unref(gl);
        pixman_image_unref(sw);
        pixman_region32_fini(&clip);
        av_frame_free(&f);

        /* An empty region draws nothing. */
        clear();
        pixman_region32_t none;
        pixman_region32_init(&none);
        CHECK(vr_gl_draw(g, 1, &one, &none, FB_W, FB_H, NULL) == 0, "empty clip");
        gl = read_back();
        CHECK(px(gl, 200, 150) == CLEAR, "empty clip drew");
        pixman_image_unref(gl);
        pixman_region32_fini(&none);
    }

    /* The background picture, 1:1 and exact. */
    {
        pixman_image_t *bg = pixman_image_create_bits(PIXMAN_x8r8g8b8, 200, 100, NULL, 0);
        uint32_t *d = pixman_image_get_data(bg);
        for (int y = 0; y < 100; y++)
            for (int x = 0; x < 200; x++)
                d[y * 200 + x] = (uint32_t)(x & 0xff) << 16 | (uint32_t)(y * 2) << 8 | 0x5a;
        CHECK(vr_gl_set_background(g, bg) == 0, "background");
        clear();
        struct vr_rect src = { 50, 20, 100, 60 }, dst = { 10, 10, 100, 60 };
        CHECK(vr_gl_draw_background(g, &src, &dst, FB_W, FB_H) == 0, "background draw");
        pixman_image_t *gl = read_back();
        int bad = 0;
        for (int y = 0; y < 60; y++)
            for (int x = 0; x < 100; x++)
                if (px(gl, 10 + x, 10 + y) != (d[(20 + y) * 200 + 50 + x] & 0xffffff))
                    bad++;
        CHECK(bad == 0, "background: %d pixels differ", bad);
        CHECK(px(gl, 111, 10) == CLEAR, "background outside");
        pixman_image_unref(gl);
        pixman_image_unref(bg);
    }

    /* Hostile arguments. */
    {
        AVFrame *f = pattern(AV_PIX_FMT_YUV420P, 16, 16, AVCOL_SPC_BT709, false);
        CHECK(vr_gl_upload(g, VR_GL_MAX_FRAMES, f) == -EINVAL, "slot range");
        CHECK(vr_gl_upload(NULL, 0, f) == -EINVAL, "NULL renderer");
        CHECK(vr_gl_draw(g, 3, &one, NULL, FB_W, FB_H, NULL) == -ENOENT, "no picture");
        CHECK(vr_gl_draw(g, 0, &one, NULL, 0, FB_H, NULL) == -EINVAL, "empty framebuffer");
        f->width = 0;
        CHECK(vr_gl_upload(g, 0, f) == -EINVAL, "zero width");
        f->width = 16;
        f->linesize[0] = -f->linesize[0];
        CHECK(vr_gl_upload(g, 0, f) < 0, "negative stride refused");
        f->linesize[0] = -f->linesize[0];
        f->width = 1 << 20;
        CHECK(vr_gl_upload(g, 0, f) == -E2BIG, "over the texture size");
        f->width = 16;
        vr_gl_forget(g, 0);
        CHECK(vr_gl_draw(g, 0, &one, NULL, FB_W, FB_H, NULL) == -ENOENT, "forgotten");
        av_frame_free(&f);
    }

    vr_gl_destroy(g);
    glDeleteFramebuffers(1, &fbo);
    glDeleteRenderbuffers(1, &rbo);
    SDL_Quit();
    return CHECK_DONE();
}
