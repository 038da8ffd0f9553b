/*
 * videoredir-replay --dump-stream: one stream's access units, undecoded,
 * into a file ffmpeg reads (dump.h). The recording is untrusted: every
 * message is decoded by the protocol library (bounded), timestamps are
 * bounded and kept monotonic, the number of files is capped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixfmt.h>
#include <libavutil/rational.h>

#include <videoredir/client.h>
#include <videoredir/protocol.h>

#include "dump.h"

/* Warnings shown per dump; the rest are counted only. */
#define MAX_WARNINGS 20u
/* Timestamps (output time base) beyond this are taken as unknown, and a
 * shift that would pass 2^61 drops the frame: no arithmetic can wrap. */
#define TS_MAX (INT64_C(1) << 60)
#define SHIFT_MAX (INT64_C(1) << 61)

struct vr_dump {
    struct vr_dump_config cfg;
    struct vr_msg msg;          /* decoded message (large: a region's rectangles) */
    bool found;
    uint32_t id;
    char *seg_path;             /* path of the open file */

    AVFormatContext *oc;        /* the open file, NULL between runs */
    AVPacket *pkt;
    AVRational tb_in;           /* the stream's time base */
    bool strict;                /* the muxer wants dts strictly increasing */
    bool have_last, jump;       /* jump: FLUSH or DISCONT, timestamps may go back */
    int64_t last_dts, max_pts, last_dur, shift;

    uint32_t segments, warnings;
    uint64_t packets, skipped;
    int err;                    /* sticky output error */
};

static void note(struct vr_dump *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct vr_dump *d, const char *fmt, ...)
{
    if (!d->cfg.log || d->warnings > MAX_WARNINGS)
        return;
    char buf[512];
    if (d->warnings++ == MAX_WARNINGS) {
        snprintf(buf, sizeof(buf), "dump: more warnings not shown");
    } else {
        va_list ap;
        va_start(ap, fmt);
        int n = snprintf(buf, sizeof(buf), "dump: ");
        vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    d->cfg.log(d->cfg.user, buf);
}

int vr_dump_create(const struct vr_dump_config *cfg, struct vr_dump **out)
{
    if (!cfg || !cfg->path || !*cfg->path || !out)
        return -EINVAL;
    struct vr_dump *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->cfg = *cfg;
    d->pkt = av_packet_alloc();
    if (!d->pkt) {
        free(d);
        return -ENOMEM;
    }
    *out = d;
    return 0;
}

/* PATH for the first run, PATH-n (before the extension) for the n-th. */
static char *segment_path(const char *path, uint32_t n)
{
    if (n == 1)
        return strdup(path);
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path))
        dot = path + strlen(path);
    size_t len = strlen(path) + 16;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%.*s-%" PRIu32 "%s", (int)(dot - path), path, n, dot);
    return p;
}

static void close_segment(struct vr_dump *d)
{
    if (!d->oc)
        return;
    int ret = av_write_trailer(d->oc);
    if (ret < 0 && !d->err)
        d->err = ret;
    if (!(d->oc->oformat->flags & AVFMT_NOFILE)) {
        ret = avio_closep(&d->oc->pb);
        if (ret < 0 && !d->err)
            d->err = ret;
    }
    avformat_free_context(d->oc);
    d->oc = NULL;
}

/* Opens the file of a new run (the stream's n-th STREAM_START). */
static int open_segment(struct vr_dump *d, const struct vr_stream_start *s)
{
    close_segment(d);
    if (d->err)
        return d->err;
    if (d->segments == VR_DUMP_MAX_SEGMENTS) {
        note(d, "stream %" PRIu32 " started again: more than %u runs, not written", d->id,
             VR_DUMP_MAX_SEGMENTS);
        return 0;
    }
    enum AVCodecID id = vr_codec_av_id(s->codec);
    if (id == AV_CODEC_ID_NONE) {
        note(d, "stream %" PRIu32 ": codec %u unknown, run not written", d->id, (unsigned)s->codec);
        return 0;
    }
    free(d->seg_path);
    d->seg_path = segment_path(d->cfg.path, d->segments + 1);
    if (!d->seg_path)
        return d->err = -ENOMEM;

    /* The container the name asks for, else Matroska (takes every codec). */
    const AVOutputFormat *fmt = av_guess_format(NULL, d->seg_path, NULL);
    if (!fmt)
        fmt = av_guess_format("matroska", NULL, NULL);
    AVFormatContext *oc = NULL;
    int ret = avformat_alloc_output_context2(&oc, fmt, NULL, d->seg_path);
    if (ret < 0)
        return d->err = ret;
    /* The same recording always gives the same bytes (no random UIDs). */
    oc->flags |= AVFMT_FLAG_BITEXACT;
    AVStream *st = avformat_new_stream(oc, NULL);
    if (!st) {
        avformat_free_context(oc);
        return d->err = AVERROR(ENOMEM);
    }
    AVCodecParameters *par = st->codecpar;
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = id;
    par->codec_tag = 0;
    par->width = (int)s->width;   /* <= VR_MAX_DIMENSION (the decoder checked) */
    par->height = (int)s->height;
    if (s->color.primaries < AVCOL_PRI_NB)
        par->color_primaries = (enum AVColorPrimaries)s->color.primaries;
    if (s->color.transfer < AVCOL_TRC_NB)
        par->color_trc = (enum AVColorTransferCharacteristic)s->color.transfer;
    if (s->color.matrix < AVCOL_SPC_NB)
        par->color_space = (enum AVColorSpace)s->color.matrix;
    par->color_range = s->color.full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    if (s->extradata_len) { /* <= VR_MAX_EXTRADATA */
        par->extradata = av_mallocz(s->extradata_len + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!par->extradata) {
            avformat_free_context(oc);
            return d->err = AVERROR(ENOMEM);
        }
        memcpy(par->extradata, s->extradata, s->extradata_len);
        par->extradata_size = (int)s->extradata_len;
    }
    /* u32/u32 from the wire: reduced to fit an AVRational. */
    int num, den;
    av_reduce(&num, &den, s->timebase_num, s->timebase_den, INT32_MAX);
    if (num <= 0 || den <= 0) {
        num = 1;
        den = 90000;
    }
    d->tb_in = (AVRational){ num, den };
    st->time_base = d->tb_in;
    if (s->fps_num && s->fps_den) {
        av_reduce(&num, &den, s->fps_num, s->fps_den, INT32_MAX);
        if (num > 0 && den > 0)
            st->avg_frame_rate = st->r_frame_rate = (AVRational){ num, den };
    }
    if (!(oc->oformat->flags & AVFMT_NOFILE) &&
        (ret = avio_open(&oc->pb, d->seg_path, AVIO_FLAG_WRITE)) < 0) {
        avformat_free_context(oc);
        return d->err = ret;
    }
    if ((ret = avformat_write_header(oc, NULL)) < 0) {
        if (!(oc->oformat->flags & AVFMT_NOFILE))
            avio_closep(&oc->pb);
        avformat_free_context(oc);
        return d->err = ret;
    }
    d->oc = oc;
    d->strict = !(oc->oformat->flags & AVFMT_TS_NONSTRICT);
    d->have_last = d->jump = false;
    d->shift = 0;
    d->segments++;
    return 0;
}

static int64_t ts_in(struct vr_dump *d, int64_t v)
{
    if (v == INT64_MIN)
        return AV_NOPTS_VALUE;
    int64_t r = av_rescale_q(v, d->tb_in, d->oc->streams[0]->time_base); /* INT64_MIN: overflow */
    return r == INT64_MIN || r > TS_MAX || r < -TS_MAX ? AV_NOPTS_VALUE : r;
}

/* Output timestamps every muxer accepts: both known, pts >= dts, dts
 * monotonic; a jump back is shifted past what was written. false: drop
 * the frame (the shift would leave the bounds). */
static bool fix_ts(struct vr_dump *d, int64_t *pts, int64_t *dts, int64_t dur)
{
    int64_t step = d->have_last && d->last_dur > 0 ? d->last_dur : 1;
    if (*pts == AV_NOPTS_VALUE && *dts == AV_NOPTS_VALUE)
        *pts = *dts = d->have_last ? d->last_dts + step - d->shift : 0;
    else if (*dts == AV_NOPTS_VALUE)
        *dts = *pts;
    else if (*pts == AV_NOPTS_VALUE)
        *pts = *dts;
    if (*pts < *dts) {
        note(d, "frame %" PRIu64 ": pts before dts, written with pts = dts", d->packets);
        *pts = *dts;
    }
    *pts += d->shift;
    *dts += d->shift;
    if (d->have_last) {
        bool back = *dts < d->last_dts || (d->strict && *dts == d->last_dts) ||
                    (d->jump && *pts <= d->max_pts);
        if (back) {
            int64_t delta = d->last_dts + step - *dts;
            if (d->max_pts + step - *pts > delta)
                delta = d->max_pts + step - *pts;
            if (delta > 0) {
                if (d->shift + delta > SHIFT_MAX)
                    return false;
                d->shift += delta;
                *pts += delta;
                *dts += delta;
            }
        }
    }
    if (*pts > SHIFT_MAX || *pts < -SHIFT_MAX || *dts > SHIFT_MAX || *dts < -SHIFT_MAX)
        return false;
    d->jump = false;
    d->last_dts = *dts;
    d->max_pts = d->have_last && d->max_pts > *pts ? d->max_pts : *pts;
    d->last_dur = dur;
    d->have_last = true;
    return true;
}

static int write_frame(struct vr_dump *d, const struct vr_frame *f)
{
    if (f->flags & VR_FRAME_DISCONT)
        d->jump = true;
    int64_t pts = ts_in(d, f->pts), dts = ts_in(d, f->dts);
    int64_t dur = f->duration > 0 ? ts_in(d, f->duration) : 0;
    if (dur == AV_NOPTS_VALUE || dur < 0)
        dur = 0;
    if (!fix_ts(d, &pts, &dts, dur)) {
        d->skipped++;
        note(d, "frame %" PRIu32 ": timestamps out of range, not written", f->seq);
        return 0;
    }
    AVPacket *pkt = d->pkt;
    int ret = av_new_packet(pkt, (int)f->data_len); /* <= VR_MAX_FRAME_DATA */
    if (ret < 0)
        return d->err = ret;
    memcpy(pkt->data, f->data, f->data_len);
    pkt->pts = pts;
    pkt->dts = dts;
    pkt->duration = dur;
    pkt->flags = (f->flags & VR_FRAME_KEY) ? AV_PKT_FLAG_KEY : 0;
    pkt->stream_index = 0;
    ret = av_write_frame(d->oc, pkt);
    av_packet_unref(pkt);
    if (ret < 0)
        return d->err = ret;
    d->packets++;
    return 0;
}

int vr_dump_feed(struct vr_dump *d, const uint8_t *raw, size_t len)
{
    if (!d || !raw)
        return -EINVAL;
    if (d->err)
        return d->err;
    struct vr_header h;
    if (vr_header_decode(raw, len, &h) < 0)
        return 0; /* not ours to judge: the replay's client reports it */
    switch (h.type) {
    case VR_MSG_STREAM_START:
        if (!d->found && d->cfg.has_stream_id && h.stream_id != d->cfg.stream_id)
            return 0;
        break;
    case VR_MSG_FRAME:
    case VR_MSG_STREAM_STOP:
    case VR_MSG_FLUSH:
        break;
    default:
        return 0;
    }
    if (!d->found ? h.type != VR_MSG_STREAM_START : h.stream_id != d->id)
        return 0;
    struct vr_msg *m = &d->msg;
    int ret = vr_msg_decode(raw, len, m);
    if (ret < 0) {
        d->skipped++;
        note(d, "stream %" PRIu32 ": undecodable %s (%s), skipped", h.stream_id,
             vr_msg_type_name(h.type), strerror(-ret));
        return 0;
    }
    switch (m->type) {
    case VR_MSG_STREAM_START:
        if (!d->found) {
            d->found = true;
            d->id = m->stream_id;
        }
        return open_segment(d, &m->u.start);
    case VR_MSG_STREAM_STOP:
        close_segment(d);
        return d->err;
    case VR_MSG_FLUSH:
        d->jump = true;
        return 0;
    default: /* FRAME */
        if (!d->oc) {
            d->skipped++;
            note(d, "stream %" PRIu32 ": frame %" PRIu32 " outside a written run, skipped", d->id,
                 m->u.frame.seq);
            return 0;
        }
        return write_frame(d, &m->u.frame);
    }
}

void vr_dump_get_stats(const struct vr_dump *d, struct vr_dump_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!d)
        return;
    st->found = d->found;
    st->stream_id = d->id;
    st->segments = d->segments;
    st->packets = d->packets;
    st->skipped = d->skipped;
}

int vr_dump_close(struct vr_dump *d)
{
    if (!d)
        return 0;
    close_segment(d);
    int ret = d->err;
    av_packet_free(&d->pkt);
    free(d->seg_path);
    free(d);
    return ret;
}
