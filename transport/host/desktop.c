/* The desktop picture: a built-in one with known colours, or an image file
 * decoded by libavformat/libavcodec and scaled by libswscale. */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

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
    AVFormatContext *fmt = NULL;
    AVCodecContext *ctx = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    struct SwsContext *sws = NULL;
    uint32_t *px = NULL;
    const char *what = "out of memory";
    int ret = AVERROR(ENOMEM);

    if (!pkt || !frame)
        goto out;
    what = "cannot open";
    if ((ret = avformat_open_input(&fmt, path, NULL, NULL)) < 0)
        goto out;
    what = "cannot read";
    if ((ret = avformat_find_stream_info(fmt, NULL)) < 0)
        goto out;
    const AVCodec *codec = NULL;
    int idx = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    what = "no picture in";
    if ((ret = idx) < 0)
        goto out;
    ctx = avcodec_alloc_context3(codec);
    what = "cannot decode";
    ret = AVERROR(ENOMEM);
    if (!ctx || (ret = avcodec_parameters_to_context(ctx, fmt->streams[idx]->codecpar)) < 0 ||
        (ret = avcodec_open2(ctx, codec, NULL)) < 0)
        goto out;
    ret = AVERROR(EAGAIN);
    while (ret == AVERROR(EAGAIN) && av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == idx && avcodec_send_packet(ctx, pkt) >= 0)
            ret = avcodec_receive_frame(ctx, frame);
        av_packet_unref(pkt);
    }
    if (ret == AVERROR(EAGAIN) && avcodec_send_packet(ctx, NULL) >= 0)
        ret = avcodec_receive_frame(ctx, frame);
    if (ret < 0)
        goto out;
    sws = sws_getContext(frame->width, frame->height, frame->format, (int)w, (int)h,
                         AV_PIX_FMT_BGR0, SWS_BICUBIC, NULL, NULL, NULL);
    what = "cannot scale";
    ret = AVERROR(EINVAL);
    if (!sws)
        goto out;
    px = g_malloc((size_t)w * h * 4);
    uint8_t *dst[4] = { (uint8_t *)px };
    int dst_stride[4] = { (int)w * 4 };
    sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height, dst,
              dst_stride);
    ret = 0;
out:
    if (ret < 0)
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s %s: %s", what, path,
                    av_err2str(ret));
    sws_freeContext(sws);
    avcodec_free_context(&ctx);
    avformat_close_input(&fmt);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    return px;
}
