/* The desktop picture: a built-in one with known colours, or an image file
 * decoded and scaled by clip.c; optionally a player's placeholder frame with
 * the placement marker on it. */
#include <errno.h>

#include <libswscale/swscale.h>
#include <videoredir/marker.h>

#include "host.h"

/* Colours screenshot tests can rely on. */
#define TOP 0x3a4f63u
#define BOTTOM 0x1d2733u
#define GRID 0x52667au

static uint32_t mix(uint32_t a, uint32_t b, uint32_t num, uint32_t den)
{
    uint32_t r = 0;
    for (int shift = 0; shift <= 16; shift += 8) {
        uint32_t ca = (a >> shift) & 0xff, cb = (b >> shift) & 0xff;
        r |= ((ca * (den - num) + cb * num) / den) << shift;
    }
    return r;
}

static void fill(uint32_t *px, uint32_t stride_px, uint32_t w, uint32_t h, int x, int y, int rw,
                 int rh, uint32_t colour)
{
    for (int j = y; j < y + rh; j++)
        for (int i = x; i < x + rw; i++)
            if (i >= 0 && j >= 0 && (uint32_t)i < w && (uint32_t)j < h)
                px[(size_t)j * stride_px + (uint32_t)i] = colour;
}

uint32_t *vr_host_desktop_builtin(uint32_t w, uint32_t h)
{
    uint32_t *px = g_malloc((size_t)w * h * 4);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            px[(size_t)y * w + x] = (x % 100 == 0 || y % 100 == 0) ? GRID : mix(TOP, BOTTOM, y, h);
    /* Two flat "windows" with title bars, and a task bar. */
    fill(px, w, w, h, (int)w / 16, (int)h / 10, (int)w / 3, (int)h / 3, 0xe8e4dcu);
    fill(px, w, w, h, (int)w / 16, (int)h / 10, (int)w / 3, 24, 0x5a7d9au);
    fill(px, w, w, h, (int)w * 9 / 16, (int)h / 2, (int)w * 3 / 8, (int)h * 3 / 8, 0xd9e6d3u);
    fill(px, w, w, h, (int)w * 9 / 16, (int)h / 2, (int)w * 3 / 8, 24, 0x6b8f5eu);
    fill(px, w, w, h, 0, (int)h - 32, (int)w, 32, 0x20252bu);
    return px;
}

uint32_t *vr_host_desktop_load(const char *path, uint32_t w, uint32_t h, GError **error)
{
    struct vr_host_clip *clip = NULL;
    const uint8_t *first = NULL;
    uint32_t *px = NULL;
    if (vr_host_clip_open(path, w, h, &clip, error) < 0)
        return NULL;
    int ret = vr_host_clip_next(clip, &first, error);
    if (ret == 0)
        px = g_memdup2(first, (gsize)w * h * 4);
    else if (ret > 0)
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "no picture in %s", path);
    vr_host_clip_close(clip);
    return px;
}

int vr_host_desktop_paint_marker(uint32_t *px, uint32_t w, uint32_t h, uint32_t code,
                                 uint32_t src_w, uint32_t src_h, int x, int y, uint32_t rw,
                                 uint32_t rh)
{
    /* As a player shows a placeholder frame: limited-range I420 (BT.709)
     * scaled with swscale's bilinear filter into its rectangle. */
    if (x < 0 || y < 0 || rw < 2 || rh < 2 || (uint64_t)x + rw > w || (uint64_t)y + rh > h)
        return -EINVAL;
    uint32_t cw = (src_w + 1) / 2, ch = (src_h + 1) / 2;
    uint8_t *planes = g_malloc((size_t)src_w * src_h + 2u * (size_t)cw * ch);
    uint8_t *py = planes, *pu = py + (size_t)src_w * src_h, *pv = pu + (size_t)cw * ch;
    int ret = vr_marker_draw_i420(code, src_w, src_h, 0, py, src_w, pu, cw, pv, cw);
    struct SwsContext *sws = ret < 0 ? NULL
                                     : sws_getContext((int)src_w, (int)src_h, AV_PIX_FMT_YUV420P,
                                                      (int)rw, (int)rh, AV_PIX_FMT_BGRA,
                                                      SWS_BILINEAR, NULL, NULL, NULL);
    if (sws) {
        const int *coef = sws_getCoefficients(SWS_CS_ITU709);
        sws_setColorspaceDetails(sws, coef, 0, coef, 1, 0, 1 << 16, 1 << 16);
        const uint8_t *src[4] = {py, pu, pv, NULL};
        int src_stride[4] = {(int)src_w, (int)cw, (int)cw, 0};
        uint8_t *dst[4] = {(uint8_t *)(px + (size_t)y * w + (uint32_t)x), NULL, NULL, NULL};
        int dst_stride[4] = {(int)(w * 4), 0, 0, 0};
        sws_scale(sws, src, src_stride, 0, (int)src_h, dst, dst_stride);
        sws_freeContext(sws);
    } else if (ret == 0) {
        ret = -ENOMEM;
    }
    g_free(planes);
    return ret;
}

void vr_host_desktop_fill(uint32_t *px, uint32_t w, uint32_t h, int x, int y, int rw, int rh,
                          uint32_t colour)
{
    fill(px, w, w, h, x, y, rw, rh, colour);
}
