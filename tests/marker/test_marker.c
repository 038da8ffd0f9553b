/*
 * Placement marker: the pattern (protocol/src/marker.c) and the detector
 * (client-overlay/src/marker.c). The marker is drawn, scaled onto a desktop
 * with pixman's and swscale's bilinear filters at many sizes and offsets,
 * partly covered, optionally passed through JPEG (libavcodec mjpeg at a low
 * quality), and found again: the rectangle exact to the pixel without loss,
 * within 2 px with JPEG; covered parts never in the visible region. Natural
 * pictures (the samples' decoded frames) and desktop-like pictures must give
 * nothing. argv[1..]: clips for the natural pictures.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include <videoredir/client.h>
#include <videoredir/marker.h>

#include "../check.h"

#define DESK_W 1280
#define DESK_H 800

static uint32_t rng = 12345;
static uint32_t rnd(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* A desktop: gradient, a few flat "windows" (greys among them), some noise. */
static pixman_image_t *desktop(void)
{
    pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8, DESK_W, DESK_H, NULL, 0);
    uint32_t *d = pixman_image_get_data(img);
    int st = pixman_image_get_stride(img) / 4;
    for (int y = 0; y < DESK_H; y++)
        for (int x = 0; x < DESK_W; x++)
            d[y * st + x] = (uint32_t)((x * 255 / DESK_W) << 16 | (y * 255 / DESK_H) << 8 | 0x60);
    static const uint32_t greys[] = {0x181818, 0x606060, 0xa8a8a8, 0xf0f0f0, 0x3050a0};
    for (int i = 0; i < 12; i++) {
        pixman_color_t c;
        uint32_t g = greys[i % 5];
        c.red = (uint16_t)((g >> 16 & 255) * 257);
        c.green = (uint16_t)((g >> 8 & 255) * 257);
        c.blue = (uint16_t)((g & 255) * 257);
        c.alpha = 0xffff;
        pixman_image_t *fill = pixman_image_create_solid_fill(&c);
        int w = 40 + (int)(rnd() % 300), h = 20 + (int)(rnd() % 200);
        pixman_image_composite32(PIXMAN_OP_SRC, fill, NULL, img, 0, 0, 0, 0, (int)(rnd() % DESK_W),
                                 (int)(rnd() % DESK_H), w, h);
        pixman_image_unref(fill);
    }
    return img;
}

static pixman_image_t *marker_image(uint32_t code, int w, int h)
{
    pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, h, NULL, 0);
    int ret = vr_marker_draw_rgbx(code, (uint32_t)w, (uint32_t)h,
                                  (uint8_t *)pixman_image_get_data(img),
                                  (size_t)pixman_image_get_stride(img));
    CHECK(ret == 0, "draw %dx%d: %d", w, h, ret);
    return img;
}

/* pixman bilinear, edges padded (a player scaling a frame into a rectangle). */
static void paint_scaled(pixman_image_t *desk, pixman_image_t *src, const struct vr_rect *r)
{
    int sw = pixman_image_get_width(src), sh = pixman_image_get_height(src);
    pixman_transform_t t;
    pixman_transform_init_scale(&t, pixman_double_to_fixed((double)sw / r->w),
                                pixman_double_to_fixed((double)sh / r->h));
    pixman_image_set_transform(src, &t);
    pixman_image_set_filter(src, PIXMAN_FILTER_BILINEAR, NULL, 0);
    pixman_image_set_repeat(src, PIXMAN_REPEAT_PAD);
    pixman_image_composite32(PIXMAN_OP_SRC, src, NULL, desk, 0, 0, 0, 0, r->x, r->y, (int)r->w,
                             (int)r->h);
    pixman_image_set_transform(src, NULL);
}

/* I420 (limited range) -> BGRx scaled by swscale's bilinear with matrix cs. */
static void paint_swscale(pixman_image_t *desk, uint32_t code, int sw, int sh,
                          const struct vr_rect *r, int cs)
{
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV420P;
    f->width = sw;
    f->height = sh;
    av_frame_get_buffer(f, 0);
    int ret = vr_marker_draw_i420(code, (uint32_t)sw, (uint32_t)sh, 0, f->data[0],
                                  (size_t)f->linesize[0], f->data[1], (size_t)f->linesize[1],
                                  f->data[2], (size_t)f->linesize[2]);
    CHECK(ret == 0, "draw i420: %d", ret);
    struct SwsContext *s = sws_getContext(sw, sh, AV_PIX_FMT_YUV420P, (int)r->w, (int)r->h,
                                          AV_PIX_FMT_BGRA, SWS_BILINEAR, NULL, NULL, NULL);
    sws_setColorspaceDetails(s, sws_getCoefficients(cs), 0, sws_getCoefficients(cs), 1, 0,
                             1 << 16, 1 << 16);
    uint8_t *d = (uint8_t *)pixman_image_get_data(desk);
    int st = pixman_image_get_stride(desk);
    uint8_t *dst[4] = {d + (size_t)r->y * st + (size_t)r->x * 4};
    int dstst[4] = {st};
    sws_scale(s, (const uint8_t *const *)f->data, f->linesize, 0, sh, dst, dstst);
    sws_freeContext(s);
    av_frame_free(&f);
}

static void fill(pixman_image_t *desk, const struct vr_rect *r, uint32_t rgb)
{
    pixman_color_t c = {(uint16_t)((rgb >> 16 & 255) * 257), (uint16_t)((rgb >> 8 & 255) * 257),
                        (uint16_t)((rgb & 255) * 257), 0xffff};
    pixman_image_t *s = pixman_image_create_solid_fill(&c);
    pixman_image_composite32(PIXMAN_OP_SRC, s, NULL, desk, 0, 0, 0, 0, r->x, r->y, (int)r->w,
                             (int)r->h);
    pixman_image_unref(s);
}

/* A "menu": light grey with dark text-like stripes. */
static void menu(pixman_image_t *desk, const struct vr_rect *r)
{
    fill(desk, r, 0xefefef);
    for (uint32_t y = 6; y + 6 < r->h; y += 14) {
        struct vr_rect t = {r->x + 8, r->y + (int32_t)y, r->w / 2, 6};
        fill(desk, &t, 0x202020);
    }
}

/* Lossy round trip through mjpeg (4:2:0) at qscale q. */
static void jpeg_roundtrip(pixman_image_t *desk, int q)
{
    const AVCodec *enc = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    const AVCodec *dec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *e = avcodec_alloc_context3(enc), *dc = avcodec_alloc_context3(dec);
    e->width = DESK_W;
    e->height = DESK_H;
    e->pix_fmt = AV_PIX_FMT_YUVJ420P;
    e->time_base = (AVRational){1, 25};
    e->flags |= AV_CODEC_FLAG_QSCALE;
    e->global_quality = FF_QP2LAMBDA * q;
    CHECK(avcodec_open2(e, enc, NULL) == 0, "mjpeg encoder");
    CHECK(avcodec_open2(dc, dec, NULL) == 0, "mjpeg decoder");
    AVFrame *f = av_frame_alloc(), *o = av_frame_alloc();
    f->format = AV_PIX_FMT_YUVJ420P;
    f->width = DESK_W;
    f->height = DESK_H;
    f->quality = e->global_quality;
    av_frame_get_buffer(f, 0);
    uint8_t *d = (uint8_t *)pixman_image_get_data(desk);
    int st = pixman_image_get_stride(desk);
    struct SwsContext *s = sws_getContext(DESK_W, DESK_H, AV_PIX_FMT_BGRA, DESK_W, DESK_H,
                                          AV_PIX_FMT_YUVJ420P, SWS_BILINEAR, NULL, NULL, NULL);
    const uint8_t *src[4] = {d};
    int srcst[4] = {st};
    sws_scale(s, src, srcst, 0, DESK_H, f->data, f->linesize);
    sws_freeContext(s);
    AVPacket *pkt = av_packet_alloc();
    CHECK(avcodec_send_frame(e, f) == 0, "encode");
    CHECK(avcodec_receive_packet(e, pkt) == 0, "encode packet");
    CHECK(avcodec_send_packet(dc, pkt) == 0, "decode");
    CHECK(avcodec_receive_frame(dc, o) == 0, "decode frame");
    s = sws_getContext(DESK_W, DESK_H, o->format, DESK_W, DESK_H, AV_PIX_FMT_BGRA, SWS_BILINEAR,
                       NULL, NULL, NULL);
    uint8_t *dst[4] = {d};
    sws_scale(s, (const uint8_t *const *)o->data, o->linesize, 0, DESK_H, dst, srcst);
    sws_freeContext(s);
    for (int y = 0; y < DESK_H; y++) /* BGRA from swscale: keep x as the image's */
        for (int x = 0; x < DESK_W; x++)
            d[(size_t)y * st + (size_t)x * 4 + 3] = 255;
    av_packet_free(&pkt);
    av_frame_free(&f);
    av_frame_free(&o);
    avcodec_free_context(&e);
    avcodec_free_context(&dc);
}

static int scan(struct vr_marker_detector *d, pixman_image_t *desk, const struct vr_rect *area,
                uint64_t *changed)
{
    return vr_marker_detector_scan(d, (const uint8_t *)pixman_image_get_data(desk), DESK_W, DESK_H,
                                   (size_t)pixman_image_get_stride(desk), area, changed);
}

static const struct vr_rect whole = {0, 0, DESK_W, DESK_H};

static int64_t region_area(pixman_region32_t *r)
{
    int n;
    pixman_box32_t *b = pixman_region32_rectangles(r, &n);
    int64_t a = 0;
    for (int i = 0; i < n; i++)
        a += (int64_t)(b[i].x2 - b[i].x1) * (b[i].y2 - b[i].y1);
    return a;
}

static bool near(const struct vr_rect *a, const struct vr_rect *b, int tol)
{
    return abs(a->x - b->x) <= tol && abs(a->y - b->y) <= tol &&
           abs((a->x + (int)a->w) - (b->x + (int)b->w)) <= tol &&
           abs((a->y + (int)a->h) - (b->y + (int)b->h)) <= tol;
}

/* Scans desk whole, checks code's rectangle against want (tol px), that the
 * visible region stays out of covers (shrunk by margin) and covers most of
 * the rest. */
static void expect(struct vr_marker_detector *d, pixman_image_t *desk, uint32_t code,
                   const struct vr_rect *want, const struct vr_rect *covers, int n_covers, int tol,
                   int margin, const char *what)
{
    uint64_t changed;
    CHECK(scan(d, desk, &whole, &changed) == 0, "%s: scan", what);
    struct vr_rect got;
    pixman_region32_t vis, want_vis, tmp;
    pixman_region32_init(&vis);
    pixman_region32_init(&tmp);
    pixman_region32_init_rect(&want_vis, want->x, want->y, want->w, want->h);
    int ret = vr_marker_detector_get(d, code, &got, &vis);
    CHECK(ret == 0, "%s: marker not found (%d)", what, ret);
    if (ret == 0) {
        CHECK(near(&got, want, tol), "%s: found %d,%d %ux%u, want %d,%d %ux%u", what, got.x, got.y,
              got.w, got.h, want->x, want->y, want->w, want->h);
        for (int i = 0; i < n_covers; i++) {
            const struct vr_rect *c = &covers[i];
            pixman_region32_t cut;
            pixman_region32_init_rect(&cut, c->x, c->y, c->w, c->h);
            pixman_region32_subtract(&want_vis, &want_vis, &cut);
            pixman_region32_fini(&cut);
            if (margin >= 0 && c->w > 2u * margin && c->h > 2u * margin) {
                pixman_region32_intersect_rect(&tmp, &vis, c->x + margin, c->y + margin,
                                               c->w - 2u * margin, c->h - 2u * margin);
                CHECK(!pixman_region32_not_empty(&tmp), "%s: cover %d visible (%lld px)", what, i,
                      (long long)region_area(&tmp));
                if (getenv("VR_TEST_VERBOSE") && pixman_region32_not_empty(&tmp)) {
                    int nb;
                    pixman_box32_t *bx = pixman_region32_rectangles(&tmp, &nb);
                    for (int k = 0; k < nb && k < 20; k++)
                        fprintf(stderr, "  %d,%d-%d,%d\n", bx[k].x1 - want->x, bx[k].y1 - want->y,
                                bx[k].x2 - want->x, bx[k].y2 - want->y);
                }
            }
        }
        pixman_region32_intersect_rect(&tmp, &vis, want->x - tol, want->y - tol, want->w + 2u * tol,
                                       want->h + 2u * tol);
        CHECK(region_area(&tmp) == region_area(&vis), "%s: visible outside the rectangle", what);
        pixman_region32_intersect(&tmp, &vis, &want_vis);
        int64_t a = region_area(&tmp), b = region_area(&want_vis);
        CHECK(margin < 0 || a * 100 >= b * (margin ? 93 : 97), "%s: visible %lld of %lld px", what, (long long)a,
              (long long)b);
        CHECK(pixman_region32_n_rects(&vis) <= (int)VR_MAX_RECTS, "%s: %d rects", what,
              pixman_region32_n_rects(&vis));
    }
    pixman_region32_fini(&vis);
    pixman_region32_fini(&tmp);
    pixman_region32_fini(&want_vis);
}

static void test_pattern(void)
{
    /* every cell decodes to its own place; neighbours always differ */
    for (uint32_t code = 1; code <= VR_MARKER_CODE_MAX; code++)
        for (uint32_t col = 0; col < VR_MARKER_CELLS_X; col++)
            for (uint32_t row = 0; row < VR_MARKER_CELLS_Y; row++) {
                int bits = vr_marker_cell_bits(code, col, row);
                uint32_t c2, col2, row2;
                CHECK(bits >= 0 && vr_marker_cell_decode((uint32_t)bits, &c2, &col2, &row2) == 0 &&
                          c2 == code && col2 == col && row2 == row,
                      "cell %u %u %u", code, col, row);
                for (int flip = 0; flip < 16; flip++)
                    CHECK(vr_marker_cell_decode((uint32_t)bits ^ (1u << flip), NULL, NULL, NULL) < 0,
                          "1-bit error undetected");
            }
    for (uint32_t gy = 0; gy < VR_MARKER_LATTICE_H; gy++)
        for (uint32_t gx = 0; gx + 1 < VR_MARKER_LATTICE_W; gx++)
            CHECK(vr_marker_level_index(7, gx, gy) != vr_marker_level_index(7, gx + 1, gy) &&
                      (gy + 1 == VR_MARKER_LATTICE_H ||
                       vr_marker_level_index(7, gx, gy) != vr_marker_level_index(7, gx, gy + 1)),
                  "neighbours equal at %u,%u", gx, gy);
    CHECK(vr_marker_cell_decode(0, NULL, NULL, NULL) < 0, "all-zero cell decodes");
    CHECK(vr_marker_cell_bits(7, 2, 1) == 0x40ea, "PROTOCOL.md 10.1 example");
    /* code picking: in range, never a used one, all codes reachable */
    uint64_t seen = 0;
    for (uint64_t r = 0; r < 1000; r++) {
        uint32_t c = vr_marker_code_pick(r * 0x9e3779b97f4a7c15ull, 1ull << 5);
        CHECK(c >= 1 && c <= 63 && c != 5, "pick %u", c);
        seen |= 1ull << c;
    }
    CHECK(seen == (~1ull & ~(1ull << 5)), "every free code picked: %llx", (unsigned long long)seen);
    CHECK(vr_marker_code_pick(3, ~0ull) == 0, "none free");
    CHECK(vr_marker_code_pick(0, ~0ull & ~(1ull << 42)) == 42, "the only free one");
    CHECK(vr_marker_cell_bits(0, 0, 0) == -EINVAL && vr_marker_cell_bits(64, 0, 0) == -EINVAL &&
              vr_marker_cell_bits(1, 8, 0) == -EINVAL && vr_marker_cell_bits(1, 0, 4) == -EINVAL,
          "ranges");
    uint8_t buf[64 * 32 * 4];
    CHECK(vr_marker_draw_rgbx(1, 31, 16, buf, 31 * 4) == -EINVAL, "too small");
    CHECK(vr_marker_draw_rgbx(1, 64, 32, buf, 63 * 4) == -EINVAL, "stride");
    CHECK(vr_marker_draw_rgbx(1, 64, 32, buf, 64 * 4) == 0, "64x32");
    /* I420 and NV12 carry the same luma */
    uint8_t y1[64 * 32], y2[64 * 32], u[32 * 16], v[32 * 16], uv[64 * 16];
    CHECK(vr_marker_draw_i420(9, 64, 32, 0, y1, 64, u, 32, v, 32) == 0 &&
              vr_marker_draw_nv12(9, 64, 32, 0, y2, 64, uv, 64) == 0 && !memcmp(y1, y2, sizeof(y1)) &&
              u[0] == 128 && uv[1] == 128 && y1[0] == 16 + (VR_MARKER_LEVEL0 * 219 + 127) / 255,
          "i420/nv12");
}

/* qscale 0: lossless; else mjpeg at that qscale, with the visible region's
 * edge against a cover allowed margin px (< 0: the rectangle only). */
static void test_found(struct vr_marker_detector *d, int qscale, int margin)
{
    static const int src_sizes[][2] = {{640, 360}, {1280, 720}, {1920, 1080}, {853, 480},
                                       {704, 576}, {400, 300}};
    static const double scales[] = {0.25, 0.37, 0.5, 0.71, 1.0, 1.33, 2.0};
    bool lossy = qscale > 0;
    int tol = lossy ? 2 : 0;
    int cases = 0, refits = 0;
    for (size_t si = 0; si < sizeof(src_sizes) / sizeof(src_sizes[0]); si++)
        for (size_t k = 0; k < sizeof(scales) / sizeof(scales[0]); k++) {
            int sw = src_sizes[si][0], sh = src_sizes[si][1];
            int w = (int)(sw * scales[k] + 0.5), h = (int)(sh * scales[k] + 0.5);
            if (w < 256 || h < 144 || w > DESK_W - 20 || h > DESK_H - 20)
                continue;
            uint32_t code = 1 + (uint32_t)(cases * 7 % 63);
            vr_marker_detector_reset(d);
            vr_marker_detector_watch(d, code, true);
            struct vr_rect r = {(int32_t)(rnd() % (uint32_t)(DESK_W - w)),
                                (int32_t)(rnd() % (uint32_t)(DESK_H - h)), (uint32_t)w, (uint32_t)h};
            pixman_image_t *desk = desktop();
            char what[128];
            if (cases % 3 == 2) {
                paint_swscale(desk, code, sw, sh, &r, cases % 2 ? SWS_CS_ITU709 : SWS_CS_ITU601);
            } else {
                pixman_image_t *m = marker_image(code, sw, sh);
                paint_scaled(desk, m, &r);
                pixman_image_unref(m);
            }
            /* covers: a menu over the top-left corner (hides the frame's
             * corner), a coloured window over the right edge */
            struct vr_rect covers[2] = {
                {r.x - 10, r.y - 10, (uint32_t)w / 3, (uint32_t)h / 3},
                {r.x + w * 3 / 4, r.y + h / 2, (uint32_t)w / 2, (uint32_t)h / 4},
            };
            int n_covers = cases % 2 ? 2 : 0;
            if (n_covers) {
                menu(desk, &covers[0]);
                fill(desk, &covers[1], 0x3366cc);
            }
            if (lossy)
                jpeg_roundtrip(desk, qscale);
            snprintf(what, sizeof(what), "%s q%d %dx%d -> %dx%d at %d,%d (%s, %d covers)",
                     lossy ? "jpeg" : "lossless", qscale, sw, sh, w, h, r.x, r.y,
                     cases % 3 == 2 ? "swscale" : "pixman", n_covers);
            expect(d, desk, code, &r, covers, n_covers, tol, margin, what);
            /* the same picture invalidated again: the fit holds (it is
             * checked against the picture, and not fitted again) */
            struct vr_rect got1, got2;
            struct vr_marker_stats st0, st1;
            vr_marker_detector_stats(d, &st0);
            if (vr_marker_detector_get(d, code, &got1, NULL) == 0) {
                uint64_t changed;
                CHECK(scan(d, desk, &r, &changed) == 0 && changed == 0, "%s: rescan", what);
                CHECK(vr_marker_detector_get(d, code, &got2, NULL) == 0 &&
                          !memcmp(&got1, &got2, sizeof(got1)),
                      "%s: rect changed on rescan", what);
                vr_marker_detector_stats(d, &st1);
                refits += st1.refits - st0.refits;
            }
            pixman_image_unref(desk);
            vr_marker_detector_watch(d, code, false);
            cases++;
        }
    CHECK(cases >= 20, "only %d cases", cases);
    printf("%s q%d: %d cases, %d fitted again on an unchanged rescan\n",
           lossy ? "jpeg" : "lossless", qscale, cases, refits);
    CHECK(lossy || refits == 0, "lossless: %d fits found stale on an unchanged picture", refits);
}

/* Incremental: a menu opens over the video (only its area is invalidated),
 * then closes; the video moves. */
static void test_incremental(struct vr_marker_detector *d)
{
    vr_marker_detector_reset(d);
    vr_marker_detector_watch(d, 5, true);
    pixman_image_t *desk = desktop(), *m = marker_image(5, 640, 360);
    struct vr_rect r = {200, 150, 640, 360};
    paint_scaled(desk, m, &r);
    uint64_t changed;
    CHECK(scan(d, desk, &r, &changed) == 0 && changed == 1u << 5, "first scan");
    struct vr_rect menu_r = {300, 200, 150, 120};
    menu(desk, &menu_r);
    CHECK(scan(d, desk, &menu_r, &changed) == 0 && changed == 1u << 5, "menu scan");
    pixman_region32_t vis;
    pixman_region32_init(&vis);
    struct vr_rect got;
    CHECK(vr_marker_detector_get(d, 5, &got, &vis) == 0 && near(&got, &r, 0), "rect kept");
    pixman_region32_t want;
    pixman_region32_init_rect(&want, r.x, r.y, r.w, r.h);
    pixman_region32_t cut;
    pixman_region32_init_rect(&cut, menu_r.x, menu_r.y, menu_r.w, menu_r.h);
    pixman_region32_subtract(&want, &want, &cut);
    CHECK(pixman_region32_equal(&vis, &want), "visible = video - menu (%d rects, %lld px)",
          pixman_region32_n_rects(&vis), (long long)region_area(&vis));
    /* a small invalidate of unchanged pixels changes nothing */
    struct vr_rect small = {600, 400, 30, 20};
    CHECK(scan(d, desk, &small, &changed) == 0 && changed == 0, "no change");
    /* menu closes */
    paint_scaled(desk, m, &r);
    CHECK(scan(d, desk, &menu_r, &changed) == 0 && changed == 1u << 5, "menu closed");
    CHECK(vr_marker_detector_get(d, 5, &got, &vis) == 0 && pixman_region32_n_rects(&vis) == 1 &&
              region_area(&vis) == 640 * 360,
          "whole video visible again");
    /* the video moves: old place repainted with desktop, new place drawn */
    pixman_image_t *fresh = desktop();
    struct vr_rect r2 = {420, 300, 480, 270};
    paint_scaled(fresh, m, &r2);
    CHECK(scan(d, fresh, &whole, &changed) == 0 && changed == 1u << 5, "moved");
    CHECK(vr_marker_detector_get(d, 5, &got, &vis) == 0 && near(&got, &r2, 0) &&
              region_area(&vis) == 480 * 270,
          "moved to %d,%d %ux%u, %lld px visible", got.x, got.y, got.w, got.h,
          (long long)region_area(&vis));
    /* an unwatched code is never reported */
    vr_marker_detector_watch(d, 5, false);
    CHECK(scan(d, fresh, &whole, &changed) == 0 && changed == 0 &&
              vr_marker_detector_get(d, 5, NULL, NULL) == -ENOENT,
          "unwatched");
    pixman_region32_fini(&vis);
    pixman_region32_fini(&want);
    pixman_region32_fini(&cut);
    pixman_image_unref(fresh);
    pixman_image_unref(desk);
    pixman_image_unref(m);
}

/* Stale session: a marker of another code is not taken for ours. */
static void test_other_code(struct vr_marker_detector *d)
{
    vr_marker_detector_reset(d);
    for (uint32_t c = 1; c <= VR_MARKER_CODE_MAX; c++)
        vr_marker_detector_watch(d, c, c != 9);
    pixman_image_t *desk = desktop(), *m = marker_image(9, 640, 360);
    struct vr_rect r = {100, 100, 640, 360};
    paint_scaled(desk, m, &r);
    uint64_t changed;
    CHECK(scan(d, desk, &whole, &changed) == 0 && changed == 0, "code 9 not watched: %llx",
          (unsigned long long)changed);
    pixman_image_unref(desk);
    pixman_image_unref(m);
}

/* No false positive on natural pictures: decoded frames of the clips, scaled
 * to the desktop, every code watched. */
static void test_natural(struct vr_marker_detector *d, int argc, char **argv)
{
    vr_marker_detector_reset(d);
    for (uint32_t c = 1; c <= VR_MARKER_CODE_MAX; c++)
        vr_marker_detector_watch(d, c, true);
    int pictures = 0;
    for (int i = 0; i < argc; i++) {
        AVFormatContext *fmt = NULL;
        if (avformat_open_input(&fmt, argv[i], NULL, NULL) < 0)
            continue;
        avformat_find_stream_info(fmt, NULL);
        const AVCodec *codec = NULL;
        int idx = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
        AVCodecContext *cc = idx >= 0 && codec ? avcodec_alloc_context3(codec) : NULL;
        if (!cc || avcodec_parameters_to_context(cc, fmt->streams[idx]->codecpar) < 0 ||
            avcodec_open2(cc, codec, NULL) < 0) {
            avcodec_free_context(&cc);
            avformat_close_input(&fmt);
            continue;
        }
        AVPacket *pkt = av_packet_alloc();
        AVFrame *f = av_frame_alloc();
        int n = 0;
        while (av_read_frame(fmt, pkt) >= 0) {
            if (pkt->stream_index == idx && avcodec_send_packet(cc, pkt) >= 0)
                while (avcodec_receive_frame(cc, f) >= 0) {
                    if (n++ % 8)
                        continue;
                    pixman_image_t *desk = desktop();
                    struct SwsContext *s =
                        sws_getContext(f->width, f->height, f->format, DESK_W, DESK_H,
                                       AV_PIX_FMT_BGRA, SWS_BILINEAR, NULL, NULL, NULL);
                    uint8_t *dst[4] = {(uint8_t *)pixman_image_get_data(desk)};
                    int dstst[4] = {pixman_image_get_stride(desk)};
                    sws_scale(s, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst,
                              dstst);
                    sws_freeContext(s);
                    uint64_t changed;
                    CHECK(scan(d, desk, &whole, &changed) == 0 && changed == 0,
                          "false positive in %s frame %d: %llx", argv[i], n,
                          (unsigned long long)changed);
                    pixman_image_unref(desk);
                    pictures++;
                }
            av_packet_unref(pkt);
        }
        av_frame_free(&f);
        av_packet_free(&pkt);
        avcodec_free_context(&cc);
        avformat_close_input(&fmt);
    }
    /* and the bare desktops */
    for (int i = 0; i < 20; i++) {
        pixman_image_t *desk = desktop();
        uint64_t changed;
        CHECK(scan(d, desk, &whole, &changed) == 0 && changed == 0, "false positive on desktop %d",
              i);
        pixman_image_unref(desk);
        pictures++;
    }
    struct vr_marker_stats st;
    vr_marker_detector_stats(d, &st);
    printf("natural pictures: %d, candidates tried %llu\n", pictures,
           (unsigned long long)st.candidates);
}

static void test_args(struct vr_marker_detector *d)
{
    uint8_t px[64 * 4] = {0};
    struct vr_rect a = {0, 0, 8, 8};
    CHECK(vr_marker_detector_scan(NULL, px, 8, 8, 32, &a, NULL) == -EINVAL, "NULL");
    CHECK(vr_marker_detector_scan(d, px, 8, 8, 16, &a, NULL) == -EINVAL, "stride");
    CHECK(vr_marker_detector_scan(d, px, 20000, 1, 80000, &a, NULL) == -EINVAL, "too wide");
    struct vr_rect out = {-100000, -100000, 5, 5};
    CHECK(vr_marker_detector_scan(d, px, 8, 8, 32, &out, NULL) == 0, "outside");
    CHECK(vr_marker_detector_watch(d, 0, true) == -EINVAL && vr_marker_detector_watch(d, 64, true) == -EINVAL,
          "codes");
    vr_marker_detector_destroy(NULL);
}

int main(int argc, char **argv)
{
    struct vr_marker_detector *d;
    CHECK(vr_marker_detector_create(&d) == 0, "create");
    test_pattern();
    test_args(d);
    test_found(d, 0, 0);   /* lossless: exact rectangle, exact cover edges */
    test_found(d, 12, 6);  /* low-quality JPEG: rectangle within 2 px */
    test_found(d, 20, -1); /* lower still: the rectangle (the region's edges
                            * at covers drift past 6 px there) */
    test_incremental(d);
    test_other_code(d);
    test_natural(d, argc - 1, argv + 1);
    vr_marker_detector_destroy(d);
    return CHECK_DONE();
}
