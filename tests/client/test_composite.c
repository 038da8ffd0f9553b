/* Headless compositor: scaling into the destination rectangle, clipping to a
 * visible region with holes and many rectangles, hidden video, PNG output. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/frame.h>

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

int main(void)
{
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
