/* Headless compositor: scaling into the destination rectangle, clipping to a
 * visible region with holes and many rectangles, hidden video, PNG output;
 * frames of 10 bits per sample (planar and interleaved chroma) through the
 * 8-bit rounding of vr_frame_to_bgra, against libswscale's own 10-bit path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/frame.h>
#include <libswscale/swscale.h>

#include <videoredir/client.h>

#include "../check.h"

#define BLUE 0x000000ffu
#define RED 0x00ff0000u

static uint32_t px(pixman_image_t *img, int x, int y)
{
    uint32_t *d = pixman_image_get_data(img);
    return d[y * (pixman_image_get_stride(img) / 4) + x] & 0xffffffu;
}

static pixman_image_t *blue_canvas(void)
{
    pixman_image_t *c = pixman_image_create_bits(PIXMAN_x8r8g8b8, 320, 200, NULL, 0);
    uint32_t *d = pixman_image_get_data(c);
    for (int i = 0; i < 320 * 200; i++)
        d[i] = BLUE;
    return c;
}

static AVFrame *red_frame(int w, int h)
{
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_BGRA;
    f->width = w;
    f->height = h;
    av_frame_get_buffer(f, 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = f->data[0] + y * f->linesize[0] + x * 4;
            p[0] = 0, p[1] = 0, p[2] = 255, p[3] = 255;
        }
    return f;
}

/* A 10-bit picture (odd size: row tails and rounded-up chroma) as
 * yuv420p10le and the same samples as p010le (MSB-aligned, UV interleaved). */
static void deep_frames(int w, int h, AVFrame **planar, AVFrame **p010)
{
    AVFrame *a = av_frame_alloc(), *b = av_frame_alloc();
    a->format = AV_PIX_FMT_YUV420P10LE;
    b->format = AV_PIX_FMT_P010LE;
    a->width = b->width = w;
    a->height = b->height = h;
    av_frame_get_buffer(a, 0);
    av_frame_get_buffer(b, 0);
    a->color_range = b->color_range = AVCOL_RANGE_MPEG;
    a->colorspace = b->colorspace = AVCOL_SPC_BT709;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint16_t v = (uint16_t)(64 + (x * 877 / w + y * 3) % 877); /* limited range luma */
            ((uint16_t *)(a->data[0] + y * a->linesize[0]))[x] = v;
            ((uint16_t *)(b->data[0] + y * b->linesize[0]))[x] = (uint16_t)(v << 6);
        }
    for (int y = 0; y < (h + 1) / 2; y++)
        for (int x = 0; x < (w + 1) / 2; x++) {
            uint16_t u = (uint16_t)(64 + (x * 37 + y * 11) % 897), v = (uint16_t)(64 + (x * 13 + y * 29) % 897);
            ((uint16_t *)(a->data[1] + y * a->linesize[1]))[x] = u;
            ((uint16_t *)(a->data[2] + y * a->linesize[2]))[x] = v;
            ((uint16_t *)(b->data[1] + y * b->linesize[1]))[2 * x] = (uint16_t)(u << 6);
            ((uint16_t *)(b->data[1] + y * b->linesize[1]))[2 * x + 1] = (uint16_t)(v << 6);
        }
    *planar = a;
    *p010 = b;
}

static void check_deep(void)
{
    const int w = 67, h = 37, stride = w * 4;
    AVFrame *a, *b, *narrow = NULL;
    deep_frames(w, h, &a, &b);
    uint8_t *pa = calloc((size_t)stride, h), *pb = calloc((size_t)stride, h), *ref = calloc((size_t)stride, h);
    struct SwsContext *sws = NULL, *direct = NULL;
    CHECK(vr_frame_to_bgra(&sws, &narrow, a, w, h, pa, stride) == 0, "yuv420p10 to BGRA");
    CHECK(narrow && narrow->format == AV_PIX_FMT_YUV420P, "rounded to 8-bit yuv420p first");
    CHECK(vr_frame_to_bgra(&sws, &narrow, b, w, h, pb, stride) == 0, "p010 to BGRA");
    CHECK(memcmp(pa, pb, (size_t)stride * h) == 0, "p010 and yuv420p10 of the same samples: the same picture");
    /* libswscale's own 10-bit path, with the same colour settings. */
    direct = sws_getContext(w, h, AV_PIX_FMT_YUV420P10LE, w, h, AV_PIX_FMT_BGRA, SWS_BILINEAR, NULL, NULL, NULL);
    CHECK(direct && vr_sws_set_colorspace(direct, a) == 0, "direct context");
    uint8_t *planes[4] = { ref };
    int strides[4] = { stride };
    CHECK(direct && sws_scale(direct, (const uint8_t *const *)a->data, a->linesize, 0, h, planes, strides) > 0,
          "direct 10-bit conversion");
    int maxd = 0;
    for (int i = 0; i < stride * h; i++) {
        if (i % 4 == 3)
            continue; /* alpha */
        int d = abs(pa[i] - ref[i]);
        maxd = d > maxd ? d : maxd;
    }
    CHECK(maxd <= 3, "8-bit rounding first: at most 3 levels from libswscale's 10-bit path, got %d", maxd);
    /* Scaled too (the cached context follows the size). */
    uint8_t *big = calloc((size_t)200 * 4, 100);
    CHECK(vr_frame_to_bgra(&sws, &narrow, a, 200, 100, big, 200 * 4) == 0, "scaled deep frame");
    free(big);
    sws_freeContext(sws);
    sws_freeContext(direct);
    av_frame_free(&narrow);
    av_frame_free(&a);
    av_frame_free(&b);
    free(pa);
    free(pb);
    free(ref);
}

int main(void)
{
    check_deep();
    AVFrame *f = red_frame(20, 10);
    struct vr_rect dst = { 10, 10, 100, 50 };

    /* A hole in the middle: the desktop shows through it. */
    pixman_image_t *c = blue_canvas();
    pixman_region32_t clip;
    pixman_region32_init_rect(&clip, 10, 10, 100, 50);
    pixman_region32_t hole;
    pixman_region32_init_rect(&hole, 40, 20, 20, 10);
    pixman_region32_subtract(&clip, &clip, &hole);
    CHECK(vr_composite_frame(c, f, &dst, &clip) == 0, "composite");
    CHECK(px(c, 10, 10) == RED, "top-left inside: %06x", px(c, 10, 10));
    CHECK(px(c, 109, 59) == RED, "bottom-right inside: %06x", px(c, 109, 59));
    CHECK(px(c, 45, 25) == BLUE, "hole shows the desktop: %06x", px(c, 45, 25));
    CHECK(px(c, 9, 10) == BLUE && px(c, 110, 59) == BLUE && px(c, 50, 60) == BLUE,
          "nothing outside the destination");
    int n_red = 0;
    for (int y = 0; y < 200; y++)
        for (int x = 0; x < 320; x++)
            n_red += px(c, x, y) == RED;
    CHECK(n_red == 100 * 50 - 20 * 10, "red pixels %d", n_red);

    /* PNG snapshot of it. */
    char path[] = "/tmp/vr-test-composite-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(vr_write_png(c, path) == 0, "png");
    FILE *pf = fopen(path, "rb");
    unsigned char sig[8] = { 0 };
    CHECK(pf && fread(sig, 1, 8, pf) == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8), "PNG signature");
    if (pf)
        fclose(pf);
    unlink(path);
    pixman_image_unref(c);

    /* A checkerboard of 64 visible rectangles: exactly those are painted. */
    c = blue_canvas();
    pixman_region32_clear(&clip);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            if ((i + j) % 2 == 0)
                pixman_region32_union_rect(&clip, &clip, 10 + i * 12, 10 + j * 6, 12, 6);
    CHECK(vr_composite_frame(c, f, &dst, &clip) == 0, "composite checkerboard");
    n_red = 0;
    int wrong = 0;
    for (int y = 0; y < 200; y++)
        for (int x = 0; x < 320; x++) {
            bool in = pixman_region32_contains_point(&clip, x, y, NULL);
            n_red += px(c, x, y) == RED;
            wrong += in != (px(c, x, y) == RED);
        }
    CHECK(wrong == 0 && n_red == 32 * 12 * 6, "checkerboard: %d wrong, %d red", wrong, n_red);
    pixman_image_unref(c);

    /* Hidden: an empty region draws nothing. Off-canvas: clipped, no crash. */
    c = blue_canvas();
    pixman_region32_clear(&clip);
    CHECK(vr_composite_frame(c, f, &dst, &clip) == 0 && px(c, 20, 20) == BLUE, "hidden");
    struct vr_rect off = { 300, 190, 100, 50 };
    CHECK(vr_composite_frame(c, f, &off, NULL) == 0 && px(c, 319, 199) == RED &&
              px(c, 299, 199) == BLUE, "clipped to the canvas");
    struct vr_rect empty = { 0, 0, 0, 10 };
    CHECK(vr_composite_frame(c, f, &empty, NULL) < 0, "zero-size destination refused");
    struct vr_rect huge = { 0, 0, 16384, 16384 };
    CHECK(vr_composite_frame(c, f, &huge, NULL) == -E2BIG, "a hostile 16384x16384 content refused");
    pixman_image_unref(c);

    /* A transparent layer (the snapshot's video layer): video pixels become
     * opaque, the rest stays transparent, and the layer keeps no clip. */
    c = pixman_image_create_bits(PIXMAN_a8r8g8b8, 320, 200, NULL, 0);
    pixman_region32_fini(&clip);
    pixman_region32_init_rect(&clip, 20, 20, 30, 30);
    CHECK(vr_composite_frame(c, f, &dst, &clip) == 0, "composite onto a layer");
    uint32_t *d = pixman_image_get_data(c);
    int stride = pixman_image_get_stride(c) / 4;
    CHECK(d[25 * stride + 25] == (0xff000000u | RED) && d[15 * stride + 15] == 0 &&
              d[55 * stride + 55] == 0, "opaque inside, transparent outside");
    pixman_color_t white = { 0xffff, 0xffff, 0xffff, 0xffff };
    pixman_image_t *solid = pixman_image_create_solid_fill(&white);
    pixman_image_composite32(PIXMAN_OP_SRC, solid, NULL, c, 0, 0, 0, 0, 0, 0, 1, 1);
    pixman_image_unref(solid);
    CHECK(d[0] == 0xffffffffu, "no clip left on the canvas: %08x", d[0]);
    pixman_image_unref(c);

    pixman_region32_fini(&clip);
    pixman_region32_fini(&hole);
    av_frame_free(&f);
    return CHECK_DONE();
}
