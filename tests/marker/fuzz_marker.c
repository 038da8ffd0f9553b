/*
 * Fuzz target: the placement-marker detector on hostile pictures. The input
 * is a small drawing program, so that short inputs reach deep: it draws
 * markers (any code, size, place, also off the display), flat fills and
 * noise onto a display of up to 512 x 384, then the detector scans an area
 * chosen by the input and the whole display. Checked on every input:
 *  - scans return 0 or a negative errno;
 *  - a rectangle found lies within the protocol's limits, and the visible
 *    region inside it, with at most VR_MAX_RECTS rectangles;
 *  - only the watched code is ever reported.
 * Format: u8 watched code, u16 width, u16 height, i16 x, i16 y, u16 w, u16 h
 * (area), then up to 32 ops of 10 bytes (u8 kind, 9 bytes of arguments; see
 * draw_op). Seeds: tests/marker/corpus (gen_marker_corpus.py).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/client.h>
#include <videoredir/marker.h>

#define MAX_W 512
#define MAX_H 384

static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static int16_t i16(const uint8_t *p) { return (int16_t)u16(p); }

static void fill(uint8_t *px, int w, int h, int x, int y, int rw, int rh, uint8_t r, uint8_t g,
                 uint8_t b)
{
    for (int j = y < 0 ? 0 : y; j < y + rh && j < h; j++)
        for (int i = x < 0 ? 0 : x; i < x + rw && i < w; i++) {
            uint8_t *p = px + ((size_t)j * w + i) * 4;
            p[0] = b, p[1] = g, p[2] = r, p[3] = 255;
        }
}

static void draw_op(uint8_t *px, int w, int h, const uint8_t *op)
{
    const uint8_t *a = op + 1;
    switch (op[0] % 3) {
    case 0: { /* marker: code, x, y, w, h */
        int mw = 32 + u16(a + 5) % 600, mh = 16 + u16(a + 7) % 400;
        int x = i16(a + 1) % 600, y = i16(a + 3) % 400;
        uint8_t *m = malloc((size_t)mw * mh * 4);
        if (!m)
            return;
        if (vr_marker_draw_rgbx(1 + a[0] % 63, (uint32_t)mw, (uint32_t)mh, m, (size_t)mw * 4) == 0)
            for (int j = 0; j < mh; j++)
                for (int i = 0; i < mw; i++)
                    if (x + i >= 0 && x + i < w && y + j >= 0 && y + j < h)
                        memcpy(px + ((size_t)(y + j) * w + (x + i)) * 4, m + ((size_t)j * mw + i) * 4, 4);
        free(m);
        break;
    }
    case 1: /* flat fill: r, g, b, x, y, w, h (x2) */
        fill(px, w, h, a[3] * 2, a[4] * 2, a[5] * 2, a[6] * 2, a[0], a[1], a[2]);
        break;
    default: { /* noise: seed, x, y, w, h (x2), amplitude */
        uint32_t r = u16(a) | (uint32_t)a[8] << 16;
        int amp = a[7] % 64 + 1;
        for (int j = a[3] * 2; j < a[3] * 2 + a[5] * 2 && j < h; j++)
            for (int i = a[2] * 2; i < a[2] * 2 + a[4] * 2 && i < w; i++) {
                uint8_t *p = px + ((size_t)j * w + i) * 4;
                for (int c = 0; c < 3; c++) {
                    r = r * 1103515245u + 12345u;
                    int v = p[c] + (int)((r >> 16) % (uint32_t)(2 * amp + 1)) - amp;
                    p[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
        break;
    }
    }
}

static void check(struct vr_marker_detector *d, uint32_t code)
{
    for (uint32_t c = VR_MARKER_CODE_MIN; c <= VR_MARKER_CODE_MAX; c++) {
        struct vr_rect r;
        pixman_region32_t vis;
        pixman_region32_init(&vis);
        int ret = vr_marker_detector_get(d, c, &r, &vis);
        if (c != code && ret != -ENOENT)
            abort(); /* an unwatched code reported */
        if (ret == 0 && getenv("VR_FUZZ_VERBOSE"))
            fprintf(stderr, "code %u at %d,%d %ux%u, %d visible rects\n", c, r.x, r.y, r.w, r.h,
                    pixman_region32_n_rects(&vis));
        if (ret == 0) {
            if (r.w < 1 || r.h < 1 || r.w > VR_MAX_DIMENSION || r.h > VR_MAX_DIMENSION ||
                r.x < -(int32_t)VR_MAX_COORD || r.y < -(int32_t)VR_MAX_COORD ||
                r.x + (int64_t)r.w > VR_MAX_COORD || r.y + (int64_t)r.h > VR_MAX_COORD)
                abort();
            if (pixman_region32_n_rects(&vis) > (int)VR_MAX_RECTS)
                abort();
            pixman_box32_t *e = pixman_region32_extents(&vis);
            if (pixman_region32_not_empty(&vis) &&
                (e->x1 < r.x || e->y1 < r.y || e->x2 > r.x + (int32_t)r.w || e->y2 > r.y + (int32_t)r.h))
                abort();
        }
        pixman_region32_fini(&vis);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vr_marker_detector *d;
    static uint8_t px[MAX_W * MAX_H * 4];
    if (size < 13)
        return 0;
    if (!d && vr_marker_detector_create(&d) < 0)
        return 0;
    uint32_t code = 1 + data[0] % 63;
    int w = 1 + u16(data + 1) % MAX_W, h = 1 + u16(data + 3) % MAX_H;
    struct vr_rect area = {i16(data + 5), i16(data + 7), u16(data + 9), u16(data + 11)};
    vr_marker_detector_reset(d);
    for (uint32_t c = VR_MARKER_CODE_MIN; c <= VR_MARKER_CODE_MAX; c++)
        vr_marker_detector_watch(d, c, c == code);
    /* a grey gradient desktop: the hard case for a grey marker */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t v = (uint8_t)(x * 255 / w);
            uint8_t *p = px + ((size_t)y * w + x) * 4;
            p[0] = p[1] = p[2] = v, p[3] = 255;
        }
    data += 13;
    size -= 13;
    for (int n = 0; n < 32 && size >= 10; n++, data += 10, size -= 10)
        draw_op(px, w, h, data);
    uint64_t changed;
    int ret = vr_marker_detector_scan(d, px, (uint32_t)w, (uint32_t)h, (size_t)w * 4, &area, &changed);
    if (ret < 0 && ret != -ENOMEM)
        abort(); /* arguments are valid: only memory may fail */
    if (changed & ~(1ull << code))
        abort();
    check(d, code);
    struct vr_rect all = {0, 0, (uint32_t)w, (uint32_t)h};
    ret = vr_marker_detector_scan(d, px, (uint32_t)w, (uint32_t)h, (size_t)w * 4, &all, &changed);
    if ((ret < 0 && ret != -ENOMEM) || (changed & ~(1ull << code)))
        abort();
    check(d, code);
    return 0;
}
