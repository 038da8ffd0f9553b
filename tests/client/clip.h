/*
 * Test helper: the first video stream of a clip as a stream start and frames,
 * straight from libavformat (what ffmpeg's own decoder would be given), so the
 * client tests need nothing from the guest side.
 */
#ifndef VR_TEST_CLIP_H
#define VR_TEST_CLIP_H

#include <stdbool.h>
#include <string.h>

#include <libavformat/avformat.h>

#include <videoredir/protocol.h>

struct clip {
    AVFormatContext *fmt;
    AVPacket *pkt;
    int index;
    struct vr_stream_start start; /* extradata borrowed from the demuxer */
};

static inline uint16_t clip_codec(enum AVCodecID id)
{
    switch (id) {
    case AV_CODEC_ID_H264: return VR_CODEC_H264;
    case AV_CODEC_ID_HEVC: return VR_CODEC_HEVC;
    case AV_CODEC_ID_VP8: return VR_CODEC_VP8;
    case AV_CODEC_ID_VP9: return VR_CODEC_VP9;
    case AV_CODEC_ID_AV1: return VR_CODEC_AV1;
    default: return VR_CODEC_NONE;
    }
}

/* Returns 0, or a negative AVERROR / -ENOTSUP for a codec videoredir lacks. */
static inline int clip_open(struct clip *c, const char *path)
{
    memset(c, 0, sizeof(*c));
    int ret = avformat_open_input(&c->fmt, path, NULL, NULL);
    if (ret < 0)
        return ret;
    if ((ret = avformat_find_stream_info(c->fmt, NULL)) < 0)
        return ret;
    if ((c->index = av_find_best_stream(c->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0)
        return c->index;
    if (!(c->pkt = av_packet_alloc()))
        return AVERROR(ENOMEM);
    const AVStream *st = c->fmt->streams[c->index];
    const AVCodecParameters *par = st->codecpar;
    struct vr_stream_start *s = &c->start;
    s->codec = clip_codec(par->codec_id);
    if (s->codec == VR_CODEC_NONE)
        return -ENOTSUP;
    s->width = (uint32_t)par->width;
    s->height = (uint32_t)par->height;
    s->timebase_num = (uint32_t)st->time_base.num;
    s->timebase_den = (uint32_t)st->time_base.den;
    s->extradata = par->extradata;
    s->extradata_len = (uint32_t)par->extradata_size;
    if ((s->codec == VR_CODEC_H264 || s->codec == VR_CODEC_HEVC) &&
        (par->extradata_size < 1 || par->extradata[0] == 0))
        s->flags |= VR_STREAM_ANNEXB;
    return 0;
}

/* Next packet of the video stream as a frame (borrows the packet until the
 * next call). Returns 1, 0 at the end, or a negative AVERROR. */
static inline int clip_read(struct clip *c, struct vr_frame *f)
{
    for (;;) {
        av_packet_unref(c->pkt);
        int ret = av_read_frame(c->fmt, c->pkt);
        if (ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return ret;
        if (c->pkt->stream_index != c->index || c->pkt->size <= 0)
            continue;
        memset(f, 0, sizeof(*f));
        f->flags = (c->pkt->flags & AV_PKT_FLAG_KEY) ? VR_FRAME_KEY : 0;
        f->pts = c->pkt->pts == AV_NOPTS_VALUE ? INT64_MIN : c->pkt->pts;
        f->dts = c->pkt->dts == AV_NOPTS_VALUE ? INT64_MIN : c->pkt->dts;
        f->duration = c->pkt->duration;
        f->data = c->pkt->data;
        f->data_len = (uint32_t)c->pkt->size;
        return 1;
    }
}

static inline void clip_close(struct clip *c)
{
    av_packet_free(&c->pkt);
    avformat_close_input(&c->fmt);
}

/* Back to the first packet (reopens: raw streams do not all seek). */
static inline int clip_rewind(struct clip *c, const char *path)
{
    clip_close(c);
    return clip_open(c, path);
}

#endif
