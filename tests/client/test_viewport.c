/* Viewport mapping: scaling, letterbox/pillarbox, zoom, monitors away from
 * 0,0, and regions of many rectangles that must stay seamless after scaling. */
#include <errno.h>
#include <stdlib.h>

#include <videoredir/client.h>

#include "../check.h"

static struct vr_rect R(int32_t x, int32_t y, uint32_t w, uint32_t h)
{
    return (struct vr_rect){ x, y, w, h };
}

static bool rect_eq(struct vr_rect a, struct vr_rect b)
{
    return a.x == b.x && a.y == b.y && a.w == b.w && a.h == b.h;
}

static void test_fit(void)
{
    struct vr_viewport vp;
    struct vr_rect src = R(0, 0, 1920, 1080);
    vr_viewport_fit(&vp, &src, 960, 540, true);
    CHECK(rect_eq(vp.dst, R(0, 0, 960, 540)), "same aspect");
    vr_viewport_fit(&vp, &src, 960, 720, true); /* letterbox: 960x540 centred */
    CHECK(rect_eq(vp.dst, R(0, 90, 960, 540)), "letterbox %d,%d %ux%u", vp.dst.x, vp.dst.y,
          vp.dst.w, vp.dst.h);
    vr_viewport_fit(&vp, &src, 1000, 540, true); /* pillarbox */
    CHECK(rect_eq(vp.dst, R(20, 0, 960, 540)), "pillarbox %d,%d %ux%u", vp.dst.x, vp.dst.y,
          vp.dst.w, vp.dst.h);
    vr_viewport_fit(&vp, &src, 1000, 700, false);
    CHECK(rect_eq(vp.dst, R(0, 0, 1000, 700)), "stretch");
    CHECK(rect_eq(vp.src, src), "src kept");
    struct vr_rect empty = R(0, 0, 0, 10);
    vr_viewport_fit(&vp, &empty, 100, 100, true);
    CHECK(vp.dst.w == 0 && vp.dst.h == 0, "empty src -> empty dst");
    vr_viewport_fit(&vp, &src, 0, 100, true);
    CHECK(vp.dst.w == 0 && vp.dst.h == 0, "empty widget -> empty dst");
    /* Extreme aspect: never 0 on a side. */
    struct vr_rect thin = R(0, 0, 8192, 1);
    vr_viewport_fit(&vp, &thin, 100, 100, true);
    CHECK(vp.dst.w == 100 && vp.dst.h == 1 && vp.dst.y == 49, "thin %ux%u", vp.dst.w, vp.dst.h);
}

static void test_map_rect(void)
{
    struct vr_viewport vp = { R(0, 0, 1920, 1080), R(0, 0, 960, 540) };
    struct vr_rect out;
    struct vr_rect in = R(100, 50, 640, 360);
    CHECK(vr_viewport_map_rect(&vp, &in, &out) == 0, "map");
    CHECK(rect_eq(out, R(50, 25, 320, 180)), "half scale %d,%d %ux%u", out.x, out.y, out.w, out.h);
    /* Upscale x2 with offset dst (letterbox). */
    vp = (struct vr_viewport){ R(0, 0, 640, 360), R(0, 60, 1280, 720) };
    in = R(10, 10, 20, 20);
    vr_viewport_map_rect(&vp, &in, &out);
    CHECK(rect_eq(out, R(20, 80, 40, 40)), "x2 letterbox %d,%d %ux%u", out.x, out.y, out.w, out.h);
    /* Monitor at 1920,0 (second monitor), shown in its own widget. */
    vp = (struct vr_viewport){ R(1920, 0, 1280, 1024), R(0, 0, 640, 512) };
    in = R(2020, 100, 200, 100);
    vr_viewport_map_rect(&vp, &in, &out);
    CHECK(rect_eq(out, R(50, 50, 100, 50)), "monitor 2 %d,%d %ux%u", out.x, out.y, out.w, out.h);
    /* Partly left of the monitor: negative widget coordinates, not clipped. */
    in = R(1820, 0, 200, 100);
    vr_viewport_map_rect(&vp, &in, &out);
    CHECK(rect_eq(out, R(-50, 0, 100, 50)), "left of monitor %d,%d %ux%u", out.x, out.y, out.w,
          out.h);
    /* Zoom: the part 100,100 160x90 of the desktop fills 1600x900. */
    vp = (struct vr_viewport){ R(100, 100, 160, 90), R(0, 0, 1600, 900) };
    in = R(110, 105, 16, 9);
    vr_viewport_map_rect(&vp, &in, &out);
    CHECK(rect_eq(out, R(100, 50, 160, 90)), "zoom %d,%d %ux%u", out.x, out.y, out.w, out.h);
    /* Errors. */
    struct vr_viewport bad = { R(0, 0, 0, 10), R(0, 0, 10, 10) };
    CHECK(vr_viewport_map_rect(&bad, &in, &out) == -EINVAL, "empty src");
    CHECK(vr_viewport_map_rect(NULL, &in, &out) == -EINVAL, "NULL vp");
    vp = (struct vr_viewport){ R(0, 0, 1, 1), R(0, 0, 1u << 29, 1u << 29) };
    in = R(-1000000, 0, 10, 10);
    CHECK(vr_viewport_map_rect(&vp, &in, &out) == -ERANGE, "overflow -> ERANGE");
}

/* Neighbouring rectangles: every mapped pair that touched must still touch,
 * and the union's area must equal the sum of the parts (no overlap). */
static void test_seams(void)
{
    /* Odd scale factors where naive x*s, w*s rounding leaves gaps. */
    const struct vr_rect dsts[] = { R(0, 0, 1000, 563), R(7, 3, 333, 187), R(0, 0, 2999, 1687),
                                    R(-5, -9, 641, 361) };
    for (size_t d = 0; d < sizeof(dsts) / sizeof(dsts[0]); d++) {
        struct vr_viewport vp = { R(0, 0, 640, 360), dsts[d] };
        /* A 16x9 grid of 40x40 cells, mapped one by one. */
        uint64_t area = 0;
        pixman_region32_t all;
        pixman_region32_init(&all);
        bool touch_ok = true;
        struct vr_rect cell[9][16];
        for (int y = 0; y < 9; y++)
            for (int x = 0; x < 16; x++) {
                struct vr_rect in = R(x * 40, y * 40, 40, 40);
                vr_viewport_map_rect(&vp, &in, &cell[y][x]);
                struct vr_rect o = cell[y][x];
                area += (uint64_t)o.w * o.h;
                pixman_region32_union_rect(&all, &all, o.x, o.y, o.w, o.h);
                if (x > 0 && cell[y][x - 1].x + (int32_t)cell[y][x - 1].w != o.x)
                    touch_ok = false;
                if (y > 0 && cell[y - 1][x].y + (int32_t)cell[y - 1][x].h != o.y)
                    touch_ok = false;
            }
        CHECK(touch_ok, "dst %zu: neighbours touch", d);
        pixman_box32_t *ext = pixman_region32_extents(&all);
        uint64_t ua = 0;
        int n;
        const pixman_box32_t *b = pixman_region32_rectangles(&all, &n);
        for (int i = 0; i < n; i++)
            ua += (uint64_t)(b[i].x2 - b[i].x1) * (uint64_t)(b[i].y2 - b[i].y1);
        CHECK(ua == area, "dst %zu: no overlap (%llu vs %llu)", d, (unsigned long long)ua,
              (unsigned long long)area);
        CHECK(ext->x1 == dsts[d].x && ext->y1 == dsts[d].y &&
                  ext->x2 == dsts[d].x + (int32_t)dsts[d].w &&
                  ext->y2 == dsts[d].y + (int32_t)dsts[d].h,
              "dst %zu: grid fills dst exactly", d);
        CHECK(ua == (uint64_t)dsts[d].w * dsts[d].h, "dst %zu: no gap", d);
        pixman_region32_fini(&all);
    }
}

/* Region mapping: many rectangles (checkerboard, 256 cells), a hole, clip to
 * dst, in == out. Compared against mapping each rectangle on its own. */
static void test_region(void)
{
    struct vr_viewport vp = { R(0, 0, 640, 360), R(13, 40, 777, 437) };
    pixman_region32_t in, out, expect;
    pixman_region32_init(&in);
    pixman_region32_init(&out);
    pixman_region32_init(&expect);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 32; x++)
            if ((x + y) % 2 == 0) {
                struct vr_rect r = R(x * 20, y * 22, 20, 22), o;
                pixman_region32_union_rect(&in, &in, r.x, r.y, r.w, r.h);
                vr_viewport_map_rect(&vp, &r, &o);
                pixman_region32_union_rect(&expect, &expect, o.x, o.y, o.w, o.h);
            }
    int n;
    pixman_region32_rectangles(&in, &n);
    CHECK(n == 256, "checkerboard has %d rects", n);
    pixman_region32_intersect_rect(&expect, &expect, vp.dst.x, vp.dst.y, vp.dst.w, vp.dst.h);
    CHECK(vr_viewport_map_region(&vp, &in, &out) == 0, "map region");
    CHECK(pixman_region32_equal(&out, &expect), "region == per-rect mapping");
    pixman_region32_rectangles(&out, &n);
    CHECK(n == 256, "mapped checkerboard has %d rects", n);

    /* A window covering the middle (hole), and video reaching past the
     * monitor: clipped to dst. */
    pixman_region32_fini(&in);
    pixman_region32_init_rect(&in, -100, -100, 900, 600);
    pixman_region32_t hole;
    pixman_region32_init_rect(&hole, 100, 100, 200, 100);
    pixman_region32_subtract(&in, &in, &hole);
    CHECK(vr_viewport_map_region(&vp, &in, &in) == 0, "in place");
    pixman_box32_t *e = pixman_region32_extents(&in);
    CHECK(e->x1 == 13 && e->y1 == 40 && e->x2 == 13 + 777 && e->y2 == 40 + 437,
          "clipped to dst: %d,%d-%d,%d", e->x1, e->y1, e->x2, e->y2);
    /* The hole maps to x 13+121..13+364, y 40+121..40+364 (rounded). */
    CHECK(!pixman_region32_contains_point(&in, 13 + 200, 40 + 150, NULL), "hole stays a hole");
    CHECK(pixman_region32_contains_point(&in, 13 + 50, 40 + 150, NULL), "left of hole visible");
    CHECK(pixman_region32_contains_point(&in, 13 + 776, 40 + 436, NULL), "bottom right visible");
    /* Empty region, and a region outside the monitor. */
    pixman_region32_clear(&in);
    CHECK(vr_viewport_map_region(&vp, &in, &out) == 0 && !pixman_region32_not_empty(&out),
          "empty -> empty");
    pixman_region32_union_rect(&in, &in, 1000, 1000, 50, 50);
    CHECK(vr_viewport_map_region(&vp, &in, &out) == 0 && !pixman_region32_not_empty(&out),
          "outside -> empty");
    /* Heavy downscale: 1 px guest rects may vanish, never grow past dst. */
    struct vr_viewport small = { R(0, 0, 640, 360), R(0, 0, 64, 36) };
    pixman_region32_clear(&in);
    for (int x = 0; x < 640; x += 2)
        pixman_region32_union_rect(&in, &in, x, 0, 1, 360);
    CHECK(vr_viewport_map_region(&small, &in, &out) == 0, "downscale");
    e = pixman_region32_extents(&out);
    CHECK(e->x2 <= 64 && e->y2 <= 36, "inside dst");
    CHECK(vr_viewport_map_region(NULL, &in, &out) == -EINVAL, "NULL vp");
    pixman_region32_fini(&hole);
    pixman_region32_fini(&in);
    pixman_region32_fini(&out);
    pixman_region32_fini(&expect);
}

int main(void)
{
    test_fit();
    test_map_rect();
    test_seams();
    test_region();
    return CHECK_DONE();
}
