/*
 * Demuxer source: a media file through libavformat, first video stream,
 * access units exactly as av_read_frame returns them. No bitstream filter
 * touches the data, so a client that sets the same extradata on its decoder
 * decodes bit-exactly what `ffmpeg -i FILE` decodes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>

#include "videoredir/capture.h"

struct vr_source {
    char *path;
    AVFormatContext *fmt;
    AVPacket *pkt;
    int index;                  /* the video stream's index */
    struct vr_stream_start start;
    uint8_t *extradata;         /* our copy, owned (start.extradata points here) */
    char container[64];
    char error[256];
    /* Looping: offset added to timestamps, and the end of the last AU read. */
    int64_t ts_offset;
    int64_t last_end;           /* max(dts or pts) + duration of this pass, INT64_MIN if none */
    int64_t first_ts;           /* first timestamp of the current pass */
};

static const struct {
    enum AVCodecID id;
    enum vr_codec codec;
} codec_map[] = {
    { AV_CODEC_ID_H264, VR_CODEC_H264 },
    { AV_CODEC_ID_HEVC, VR_CODEC_HEVC },
    { AV_CODEC_ID_VP8, VR_CODEC_VP8 },
    { AV_CODEC_ID_VP9, VR_CODEC_VP9 },
    { AV_CODEC_ID_AV1, VR_CODEC_AV1 },
};

static void set_error(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* libavformat errors as negative errnos; anything without one becomes -EIO. */
static int av_to_errno(int averr)
{
    if (averr == AVERROR(ENOENT) || averr == AVERROR(EACCES) || averr == AVERROR(ENOMEM) ||
        averr == AVERROR(EISDIR) || averr == AVERROR(EINVAL))
        return averr;
    if (averr == AVERROR_INVALIDDATA)
        return -EINVAL;
    return -EIO;
}

/* H.264/HEVC codec configuration in start-code form (or absent) means the
 * access units are Annex B too; avcC/hvcC start with a version byte instead. */
static bool is_annexb_config(const uint8_t *p, size_t n)
{
    if (n < 4)
        return true;
    return (p[0] == 0 && p[1] == 0 && p[2] == 1) || (p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 1);
}

/* AVColor* enums carry the ITU-T H.273 code points; anything outside a byte
 * or reserved 0 becomes "unspecified". */
static uint8_t h273(int v)
{
    return v > 0 && v < 256 ? (uint8_t)v : 2;
}

static bool fits_u32(int v)
{
    return v > 0;
}

static int fill_start(struct vr_source *s, const AVStream *st, char *err, size_t errlen)
{
    const AVCodecParameters *par = st->codecpar;
    struct vr_stream_start *ss = &s->start;

    memset(ss, 0, sizeof(*ss));
    for (size_t i = 0; i < sizeof(codec_map) / sizeof(codec_map[0]); i++)
        if (codec_map[i].id == par->codec_id)
            ss->codec = (uint16_t)codec_map[i].codec;
    if (ss->codec == VR_CODEC_NONE) {
        const char *name = avcodec_get_name(par->codec_id);
        set_error(err, errlen,
                  "%s: video codec '%s' is not supported (videoredir carries h264, hevc, vp8, vp9, av1)",
                  s->path, name ? name : "unknown");
        return -ENOTSUP;
    }
    if (par->width <= 0 || par->height <= 0 || (unsigned)par->width > VR_MAX_DIMENSION ||
        (unsigned)par->height > VR_MAX_DIMENSION) {
        set_error(err, errlen, "%s: unusable video size %dx%d", s->path, par->width, par->height);
        return -EINVAL;
    }
    ss->width = (uint32_t)par->width;
    ss->height = (uint32_t)par->height;

    if (!fits_u32(st->time_base.num) || !fits_u32(st->time_base.den)) {
        set_error(err, errlen, "%s: stream has no usable time base (%d/%d)", s->path,
                  st->time_base.num, st->time_base.den);
        return -EINVAL;
    }
    ss->timebase_num = (uint32_t)st->time_base.num;
    ss->timebase_den = (uint32_t)st->time_base.den;

    AVRational fr = st->avg_frame_rate;
    if (!fits_u32(fr.num) || !fits_u32(fr.den))
        fr = st->r_frame_rate;
    if (fits_u32(fr.num) && fits_u32(fr.den)) {
        ss->fps_num = (uint32_t)fr.num;
        ss->fps_den = (uint32_t)fr.den;
    }

    ss->color.primaries = h273(par->color_primaries);
    ss->color.transfer = h273(par->color_trc);
    ss->color.matrix = h273(par->color_space);
    ss->color.full_range = par->color_range == AVCOL_RANGE_JPEG;

    if (par->extradata_size < 0 || (unsigned)par->extradata_size > VR_MAX_EXTRADATA) {
        set_error(err, errlen, "%s: codec configuration too large (%d bytes)", s->path,
                  par->extradata_size);
        return -E2BIG;
    }
    if (par->extradata_size > 0 && par->extradata) {
        s->extradata = malloc((size_t)par->extradata_size);
        if (!s->extradata) {
            set_error(err, errlen, "out of memory");
            return -ENOMEM;
        }
        memcpy(s->extradata, par->extradata, (size_t)par->extradata_size);
        ss->extradata = s->extradata;
        ss->extradata_len = (uint32_t)par->extradata_size;
    }
    if ((ss->codec == VR_CODEC_H264 || ss->codec == VR_CODEC_HEVC) &&
        is_annexb_config(ss->extradata, ss->extradata_len))
        ss->flags |= VR_STREAM_ANNEXB;
    return 0;
}

static int open_file(struct vr_source *s, char *err, size_t errlen)
{
    int ret = avformat_open_input(&s->fmt, s->path, NULL, NULL);
    if (ret < 0) {
        char e[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(ret, e, sizeof(e));
        set_error(err, errlen, "%s: cannot open: %s", s->path, e);
        return av_to_errno(ret);
    }
    ret = avformat_find_stream_info(s->fmt, NULL);
    if (ret < 0) {
        char e[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(ret, e, sizeof(e));
        set_error(err, errlen, "%s: cannot read stream information: %s", s->path, e);
        return av_to_errno(ret);
    }
    s->index = -1;
    for (unsigned i = 0; i < s->fmt->nb_streams; i++) {
        AVStream *st = s->fmt->streams[i];
        bool video = st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
                     !(st->disposition & AV_DISPOSITION_ATTACHED_PIC);
        if (video && s->index < 0)
            s->index = (int)i;
        else
            st->discard = AVDISCARD_ALL; /* only the chosen stream is demuxed */
    }
    if (s->index < 0) {
        set_error(err, errlen, "%s: no video stream", s->path);
        return -ENOTSUP;
    }
    return 0;
}

int vr_source_open(const char *path, struct vr_source **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!path || !out) {
        set_error(err, errlen, "invalid arguments");
        return -EINVAL;
    }
    *out = NULL;
    struct vr_source *s = calloc(1, sizeof(*s));
    if (!s) {
        set_error(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int ret = -ENOMEM;
    s->path = strdup(path);
    s->pkt = av_packet_alloc();
    if (!s->path || !s->pkt) {
        set_error(err, errlen, "out of memory");
        goto fail;
    }
    ret = open_file(s, err, errlen);
    if (ret < 0)
        goto fail;
    ret = fill_start(s, s->fmt->streams[s->index], err, errlen);
    if (ret < 0)
        goto fail;
    snprintf(s->container, sizeof(s->container), "%s",
             s->fmt->iformat && s->fmt->iformat->name ? s->fmt->iformat->name : "?");
    s->last_end = INT64_MIN;
    s->first_ts = INT64_MIN;
    *out = s;
    return 0;

fail:
    vr_source_close(s);
    return ret;
}

void vr_source_close(struct vr_source *s)
{
    if (!s)
        return;
    avformat_close_input(&s->fmt);
    av_packet_free(&s->pkt);
    free(s->extradata);
    free(s->path);
    free(s);
}

const struct vr_stream_start *vr_source_stream_start(const struct vr_source *s)
{
    return &s->start;
}

const char *vr_source_container(const struct vr_source *s)
{
    return s->container;
}

int vr_source_stream_index(const struct vr_source *s)
{
    return s->index;
}

const char *vr_source_error(const struct vr_source *s)
{
    return s->error;
}

/* a + b for timestamps from an untrusted file: clamps instead of overflowing. */
static int64_t add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

static int64_t shift(int64_t ts, int64_t off)
{
    if (ts == AV_NOPTS_VALUE || off == 0)
        return ts;
    if ((off > 0 && ts > INT64_MAX - off) || (off < 0 && ts < INT64_MIN + 1 - off))
        return AV_NOPTS_VALUE; /* cannot represent it: say unknown rather than wrap */
    return ts + off;
}

int vr_source_read(struct vr_source *s, struct vr_au *au)
{
    s->error[0] = '\0';
    for (;;) {
        av_packet_unref(s->pkt);
        int ret = av_read_frame(s->fmt, s->pkt);
        if (ret == AVERROR_EOF)
            return 0;
        if (ret < 0) {
            char e[AV_ERROR_MAX_STRING_SIZE];
            av_strerror(ret, e, sizeof(e));
            set_error(s->error, sizeof(s->error), "%s: read error: %s", s->path, e);
            return av_to_errno(ret);
        }
        if (s->pkt->stream_index != s->index || s->pkt->size <= 0)
            continue;
        if ((unsigned)s->pkt->size > VR_MAX_FRAME_DATA) {
            set_error(s->error, sizeof(s->error), "%s: access unit of %d bytes is over the cap",
                      s->path, s->pkt->size);
            return -E2BIG;
        }
        break;
    }
    const AVPacket *p = s->pkt;
    au->data = p->data;
    au->len = (uint32_t)p->size;
    au->flags = 0;
    if (p->flags & AV_PKT_FLAG_KEY)
        au->flags |= VR_FRAME_KEY;
    if (p->flags & AV_PKT_FLAG_DISPOSABLE)
        au->flags |= VR_FRAME_DROPPABLE;
    au->pts = shift(p->pts, s->ts_offset);
    au->dts = shift(p->dts, s->ts_offset);
    au->duration = p->duration > 0 ? p->duration : 0;

    /* Track where this pass ends, for a seamless loop. */
    int64_t dur = p->duration > 0 ? p->duration : 0;
    int64_t t = p->dts != AV_NOPTS_VALUE ? p->dts : p->pts;
    if (t != AV_NOPTS_VALUE) {
        if (s->first_ts == INT64_MIN)
            s->first_ts = t;
        int64_t end = add_sat(t, dur);
        if (p->pts != AV_NOPTS_VALUE && add_sat(p->pts, dur) > end)
            end = add_sat(p->pts, dur);
        if (end > s->last_end)
            s->last_end = end;
    }
    return 1;
}

int vr_source_rewind(struct vr_source *s)
{
    s->error[0] = '\0';
    /* Seeking is not reliable on every container (raw Annex B, some TS):
     * reopening is, and costs little for a file. */
    int64_t end = s->last_end, first = s->first_ts;
    avformat_close_input(&s->fmt);
    int ret = open_file(s, s->error, sizeof(s->error));
    if (ret < 0)
        return ret;
    /* Same file, same stream; keep the description we announced. */
    if (end != INT64_MIN && first != INT64_MIN && end > first)
        s->ts_offset = add_sat(s->ts_offset, add_sat(end, -first));
    s->last_end = INT64_MIN;
    s->first_ts = INT64_MIN;
    return 0;
}
