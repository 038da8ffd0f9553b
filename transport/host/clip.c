/* Decoded pictures from any file libavformat opens: the desktop picture and
 * the frames the host "plays" the way a guest player with local decoding
 * would (for comparing with SPICE's own video streaming). */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

#include "host.h"

struct vr_host_clip {
    AVFormatContext *fmt;
    AVCodecContext *ctx;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    int idx;
    bool draining;
    uint32_t w, h; /* output size */
    uint8_t *pixels;
    char *path;
};

static void set_error(GError **error, const char *what, const char *path, int ret)
{
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s %s: %s", what, path,
                av_err2str(ret));
}

int vr_host_clip_open(const char *path, uint32_t w, uint32_t h, struct vr_host_clip **out,
                      GError **error)
{
    struct vr_host_clip *c = g_new0(struct vr_host_clip, 1);
    const char *what = "out of memory";
    int ret = AVERROR(ENOMEM);
    c->path = g_strdup(path);
    c->w = w;
    c->h = h;
    c->pkt = av_packet_alloc();
    c->frame = av_frame_alloc();
    if (!c->pkt || !c->frame)
        goto fail;
    what = "cannot open";
    if ((ret = avformat_open_input(&c->fmt, path, NULL, NULL)) < 0)
        goto fail;
    what = "cannot read";
    if ((ret = avformat_find_stream_info(c->fmt, NULL)) < 0)
        goto fail;
    const AVCodec *codec = NULL;
    what = "no picture in";
    if ((ret = c->idx = av_find_best_stream(c->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)) < 0)
        goto fail;
    what = "cannot decode";
    ret = AVERROR(ENOMEM);
    if (!(c->ctx = avcodec_alloc_context3(codec)) ||
        (ret = avcodec_parameters_to_context(c->ctx, c->fmt->streams[c->idx]->codecpar)) < 0 ||
        (ret = avcodec_open2(c->ctx, codec, NULL)) < 0)
        goto fail;
    if (!c->w || !c->h) {
        c->w = (uint32_t)c->ctx->width;
        c->h = (uint32_t)c->ctx->height;
    }
    what = "bad picture size in";
    ret = AVERROR(EINVAL);
    if (c->w == 0 || c->h == 0 || c->w > 16384 || c->h > 16384)
        goto fail;
    c->pixels = g_malloc((size_t)c->w * c->h * 4);
    *out = c;
    return 0;
fail:
    set_error(error, what, path, ret);
    vr_host_clip_close(c);
    return -EIO;
}

double vr_host_clip_fps(const struct vr_host_clip *c)
{
    AVRational r = c->fmt->streams[c->idx]->avg_frame_rate;
    if (r.num <= 0 || r.den <= 0)
        r = c->fmt->streams[c->idx]->r_frame_rate;
    return r.num > 0 && r.den > 0 ? av_q2d(r) : 25.0;
}

uint32_t vr_host_clip_width(const struct vr_host_clip *c)
{
    return c->w;
}

uint32_t vr_host_clip_height(const struct vr_host_clip *c)
{
    return c->h;
}

/* Next decoded frame in c->frame: 0, AVERROR_EOF at the end, or an error. */
static int decode_next(struct vr_host_clip *c)
{
    for (;;) {
        int ret = avcodec_receive_frame(c->ctx, c->frame);
        if (ret != AVERROR(EAGAIN))
            return ret;
        if (c->draining)
            return AVERROR_EOF;
        ret = av_read_frame(c->fmt, c->pkt);
        if (ret < 0) {
            c->draining = true;
            avcodec_send_packet(c->ctx, NULL);
            continue;
        }
        if (c->pkt->stream_index == c->idx)
            ret = avcodec_send_packet(c->ctx, c->pkt);
        av_packet_unref(c->pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_INVALIDDATA)
            return ret;
    }
}

int vr_host_clip_next(struct vr_host_clip *c, const uint8_t **pixels, GError **error)
{
    int ret = decode_next(c);
    if (ret == AVERROR_EOF)
        return 1;
    if (ret < 0) {
        set_error(error, "cannot decode", c->path, ret);
        return -EIO;
    }
    c->sws = sws_getCachedContext(c->sws, c->frame->width, c->frame->height, c->frame->format,
                                  (int)c->w, (int)c->h, AV_PIX_FMT_BGR0, SWS_BICUBIC, NULL, NULL,
                                  NULL);
    if (!c->sws) {
        set_error(error, "cannot scale", c->path, AVERROR(EINVAL));
        return -EIO;
    }
    uint8_t *dst[4] = { c->pixels };
    int dst_stride[4] = { (int)c->w * 4 };
    sws_scale(c->sws, (const uint8_t *const *)c->frame->data, c->frame->linesize, 0,
              c->frame->height, dst, dst_stride);
    *pixels = c->pixels;
    return 0;
}

int vr_host_clip_rewind(struct vr_host_clip *c)
{
    avcodec_flush_buffers(c->ctx);
    c->draining = false;
    return av_seek_frame(c->fmt, c->idx, 0, AVSEEK_FLAG_BACKWARD) < 0 ? -EIO : 0;
}

void vr_host_clip_close(struct vr_host_clip *c)
{
    if (!c)
        return;
    sws_freeContext(c->sws);
    avcodec_free_context(&c->ctx);
    avformat_close_input(&c->fmt);
    av_frame_free(&c->frame);
    av_packet_free(&c->pkt);
    g_free(c->pixels);
    g_free(c->path);
    g_free(c);
}
