/*
 * The detector's fit converges to what is on screen now (issue 13, "stale
 * fit"). A page lays out and scales its video over a few paints (WebKit
 * shows the placeholder first at one size, then at the settled one), a
 * window is moved and resized in steps: the marked area first appears
 * scaled or translated, then settles, and the invalidates that follow cover
 * only parts of the video whose pixels no longer change. Whatever the first
 * fit was, the rectangle found at the end must be the settled one, exact to
 * the pixel (lossless, bilinear scaling). Every case runs for every fourth
 * code (16 of 63, a different lattice each), so that a lattice that only
 * looks like the old one by chance is met too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/client.h>
#include <videoredir/marker.h>

#include "../check.h"

#define DESK_W 960
#define DESK_H 600
#define SRC_W 640
#define SRC_H 360

static pixman_image_t *desk;
static pixman_image_t *src;
static pixman_image_t *page_img;

/* A light page with some dark text-like stripes right of the video. */
static void make_page(void)
{
    page_img = pixman_image_create_bits(PIXMAN_x8r8g8b8, DESK_W, DESK_H, NULL, 0);
    uint32_t *d = pixman_image_get_data(page_img);
    int st = pixman_image_get_stride(page_img) / 4;
    for (int y = 0; y < DESK_H; y++)
        for (int x = 0; x < DESK_W; x++)
            d[y * st + x] = (y % 24 < 4 && x > 700 && x < 940) ? 0x303030u : 0xf6f5f4u;
}

static void page(void)
{
    pixman_image_composite32(PIXMAN_OP_SRC, page_img, NULL, desk, 0, 0, 0, 0, 0, 0, DESK_W, DESK_H);
}

static void draw_src(uint32_t code)
{
    CHECK(vr_marker_draw_rgbx(code, SRC_W, SRC_H, (uint8_t *)pixman_image_get_data(src),
                              (size_t)pixman_image_get_stride(src)) == 0,
          "draw");
}

/* The placeholder scaled bilinearly into r (what a player or a page does). */
static void video(const struct vr_rect *r)
{
    pixman_transform_t t;
    pixman_transform_init_scale(&t, pixman_double_to_fixed((double)SRC_W / r->w),
                                pixman_double_to_fixed((double)SRC_H / r->h));
    pixman_image_set_transform(src, &t);
    pixman_image_set_filter(src, PIXMAN_FILTER_BILINEAR, NULL, 0);
    pixman_image_set_repeat(src, PIXMAN_REPEAT_PAD);
    pixman_image_composite32(PIXMAN_OP_SRC, src, NULL, desk, 0, 0, 0, 0, r->x, r->y, (int)r->w,
                             (int)r->h);
    pixman_image_set_transform(src, NULL);
}

/* Only the top rows of the video drawn (a page painting progressively). */
static void video_top(const struct vr_rect *r, uint32_t rows)
{
    pixman_image_t *tmp = pixman_image_create_bits(PIXMAN_x8r8g8b8, DESK_W, DESK_H, NULL, 0);
    pixman_image_composite32(PIXMAN_OP_SRC, desk, NULL, tmp, 0, 0, 0, 0, 0, 0, DESK_W, DESK_H);
    pixman_image_t *save = desk;
    desk = tmp;
    video(r);
    desk = save;
    pixman_image_composite32(PIXMAN_OP_SRC, tmp, NULL, desk, r->x, r->y, 0, 0, r->x, r->y,
                             (int)r->w, (int)rows);
    pixman_image_unref(tmp);
}

static int scan(struct vr_marker_detector *d, int32_t x, int32_t y, uint32_t w, uint32_t h)
{
    struct vr_rect a = {x, y, w, h};
    return vr_marker_detector_scan(d, (const uint8_t *)pixman_image_get_data(desk), DESK_W, DESK_H,
                                   (size_t)pixman_image_get_stride(desk), &a, NULL);
}

static int scan_rect(struct vr_marker_detector *d, const struct vr_rect *r)
{
    return scan(d, r->x, r->y, r->w, r->h);
}

/* Small invalidates over the settled video whose pixels do not change: a
 * player redrawing the same placeholder, a cursor passing. */
static void unchanged_invalidates(struct vr_marker_detector *d, const struct vr_rect *r)
{
    for (int i = 0; i < 8; i++) {
        int32_t x = r->x + (int32_t)(r->w * (uint32_t)i / 9);
        int32_t y = r->y + (int32_t)(r->h * (uint32_t)(i % 4) / 5);
        CHECK(scan(d, x, y, 96, 64) == 0, "small scan");
    }
    CHECK(scan_rect(d, r) == 0, "redraw scan");
}

static int failures_of_case;

static void expect(struct vr_marker_detector *d, uint32_t code, const struct vr_rect *want,
                   const char *what)
{
    struct vr_rect got = {0, 0, 0, 0};
    pixman_region32_t vis;
    pixman_region32_init(&vis);
    int ret = vr_marker_detector_get(d, code, &got, &vis);
    bool ok = ret == 0 && got.x == want->x && got.y == want->y && got.w == want->w &&
              got.h == want->h;
    if (ok) {
        /* the whole video is visible, and nothing outside it */
        pixman_region32_t want_vis;
        pixman_region32_init_rect(&want_vis, want->x, want->y, want->w, want->h);
        ok = pixman_region32_equal(&vis, &want_vis);
        if (!ok) {
            const pixman_box32_t *e = pixman_region32_extents(&vis);
            fprintf(stderr, "%s, code %u: visible %d rects, extents %d,%d-%d,%d\n", what, code,
                    pixman_region32_n_rects(&vis), e->x1, e->y1, e->x2, e->y2);
        }
        pixman_region32_fini(&want_vis);
    }
    if (!ok && failures_of_case++ < 3)
        fprintf(stderr, "%s, code %u: found %d,%d %ux%u (%d), want %d,%d %ux%u\n", what, code,
                got.x, got.y, got.w, got.h, ret, want->x, want->y, want->w, want->h);
    pixman_region32_fini(&vis);
}

/* One case for every fourth code: the video first at first (whole, or its
 * top first_rows rows only), scanned whole; then the page repainted with the
 * video at settled, invalidated as tiles of tile_w x tile_h (0: one area,
 * both rectangles; tile_w 0: whole rows); then unchanged invalidates. */
static void run_case(struct vr_marker_detector *d, const char *what, const struct vr_rect *first,
                     uint32_t first_rows, const struct vr_rect *settled, uint32_t tile_h,
                     uint32_t tile_w)
{
    failures_of_case = 0;
    struct vr_marker_stats st0, st1;
    vr_marker_detector_stats(d, &st0);
    uint64_t steady_refits = 0;
    uint32_t n_codes = 0;
    for (uint32_t code = VR_MARKER_CODE_MIN; code <= VR_MARKER_CODE_MAX; code += 4, n_codes++) {
        vr_marker_detector_reset(d);
        vr_marker_detector_watch(d, code, true);
        draw_src(code);
        page();
        if (first_rows)
            video_top(first, first_rows);
        else
            video(first);
        CHECK(scan(d, 0, 0, DESK_W, DESK_H) == 0, "first scan");
        page();
        video(settled);
        /* the union of both places: the page's damage */
        pixman_region32_t dmg;
        pixman_region32_init_rect(&dmg, first->x, first->y, first->w, first->h);
        pixman_region32_union_rect(&dmg, &dmg, settled->x, settled->y, settled->w, settled->h);
        const pixman_box32_t *e = pixman_region32_extents(&dmg);
        struct vr_rect area = {e->x1, e->y1, (uint32_t)(e->x2 - e->x1), (uint32_t)(e->y2 - e->y1)};
        pixman_region32_fini(&dmg);
        if (!tile_h) {
            CHECK(scan_rect(d, &area) == 0, "settle scan");
        } else {
            uint32_t tw = tile_w ? tile_w : area.w;
            for (uint32_t y = 0; y < area.h; y += tile_h)
                for (uint32_t x = 0; x < area.w; x += tw)
                    CHECK(scan(d, area.x + (int32_t)x, area.y + (int32_t)y,
                               tw < area.w - x ? tw : area.w - x,
                               tile_h < area.h - y ? tile_h : area.h - y) == 0,
                          "tile scan");
        }
        vr_marker_detector_stats(d, &st1);
        uint64_t before = st1.refits;
        unchanged_invalidates(d, settled);
        vr_marker_detector_stats(d, &st1);
        steady_refits += st1.refits - before;
        expect(d, code, settled, what);
        vr_marker_detector_watch(d, code, false);
    }
    vr_marker_detector_stats(d, &st1);
    printf("%s: %d of %u codes wrong; %llu fits checked, %llu stale\n", what, failures_of_case,
           n_codes,
           (unsigned long long)(st1.validated - st0.validated),
           (unsigned long long)(st1.refits - st0.refits));
    /* once settled, the fit holds: unchanged pixels are never fitted again */
    CHECK(steady_refits == 0, "%s: %llu refits of a settled picture", what,
          (unsigned long long)steady_refits);
    CHECK(failures_of_case == 0, "%s: the settled rectangle not found for %d codes", what,
          failures_of_case);
}

int main(void)
{
    struct vr_marker_detector *d;
    CHECK(vr_marker_detector_create(&d) == 0, "create");
    desk = pixman_image_create_bits(PIXMAN_x8r8g8b8, DESK_W, DESK_H, NULL, 0);
    src = pixman_image_create_bits(PIXMAN_x8r8g8b8, SRC_W, SRC_H, NULL, 0);
    make_page();

    /* players-webkit: MiniBrowser shows the placeholder at 640x320 while it
     * lays the page out, then at its own 640x360, 20 px higher */
    const struct vr_rect wk_first = {40, 88, 640, 320}, wk_settled = {40, 68, 640, 360};
    run_case(d, "webkit layout", &wk_first, 0, &wk_settled, 0, 0);
    run_case(d, "webkit layout, tiles of 64 rows", &wk_first, 0, &wk_settled, 64, 0);
    /* the page's repaint reaching the client as small tiles (damage split
     * by the display path): most tiles show candidates that continue the
     * 640x320 lattice, the fit must still move */
    run_case(d, "webkit layout, 64x32 tiles", &wk_first, 0, &wk_settled, 32, 64);
    /* players-moved: a fit taken mid-resize, 1-4 px off */
    const struct vr_rect mv_first = {149, 119, 802, 454}, mv_settled = {150, 120, 800, 450};
    run_case(d, "resize by 2 px", &mv_first, 0, &mv_settled, 0, 0);
    run_case(d, "resize by 2 px, tiles of 32 rows", &mv_first, 0, &mv_settled, 32, 0);
    const struct vr_rect mv2_first = {146, 118, 806, 455};
    run_case(d, "resize by 4 px", &mv2_first, 0, &mv_settled, 0, 0);
    /* moved by exactly one sub-block down, and by one across: the same
     * sub-block size and, along a row, the same phase */
    const struct vr_rect sh_first = {40, 68, 640, 360}, sh_settled = {40, 68 + 22, 640, 360};
    run_case(d, "moved one sub-block down", &sh_first, 0, &sh_settled, 0, 0);
    const struct vr_rect sx_settled = {60, 68, 640, 360};
    run_case(d, "moved one sub-block across", &sh_first, 0, &sx_settled, 0, 0);
    /* a page painting progressively: only the top 150 rows, at a provisional
     * size, then the settled picture */
    run_case(d, "top rows first, then settled", &wk_first, 150, &wk_settled, 0, 0);
    /* the same rectangle, unchanged: found and kept */
    run_case(d, "unchanged", &wk_settled, 0, &wk_settled, 0, 0);

    struct vr_marker_stats st;
    vr_marker_detector_stats(d, &st);
    printf("scans %llu, candidates %llu, found %llu, known %llu, checked %llu, refits %llu\n",
           (unsigned long long)st.scans, (unsigned long long)st.candidates,
           (unsigned long long)st.found, (unsigned long long)st.known,
           (unsigned long long)st.validated, (unsigned long long)st.refits);
    pixman_image_unref(src);
    pixman_image_unref(page_img);
    pixman_image_unref(desk);
    vr_marker_detector_destroy(d);
    return CHECK_DONE();
}
