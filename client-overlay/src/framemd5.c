/*
 * framemd5 writer: FFmpeg's own "framemd5" muxer fed rawvideo packets packed
 * the way FFmpeg's rawvideo encoder packs a frame, so the output is what
 * `ffmpeg -i CLIP -map 0:v:0 -f framemd5 -` prints for the same decode.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>

#include "videoredir/client.h"

struct vr_framemd5 {
    AVFormatContext *fmt;
    AVPacket *pkt;
    char *path;
    bool header_written;
    int64_t last_pts;
};

int vr_framemd5_open(const char *path, struct vr_framemd5 **out)
{
    if (!path || !out)
        return -EINVAL;
    struct vr_framemd5 *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->path = strdup(strcmp(path, "-") ? path : "pipe:1");
    w->pkt = av_packet_alloc();
    if (!w->path || !w->pkt) {
        vr_framemd5_close(w);
        return -ENOMEM;
    }
    w->last_pts = INT64_MIN;
    *out = w;
    return 0;
}

static int write_header(struct vr_framemd5 *w, const AVFrame *frame, int tb_num, int tb_den)
{
    int ret = avformat_alloc_output_context2(&w->fmt, NULL, "framemd5", w->path);
    if (ret < 0)
        return ret;
    /* Each frame's line reaches the file at once: whoever follows the file
     * sees every decoded frame, and a program killed outright (SIGKILL, a
     * crash) leaves all of them but the one being written. */
    w->fmt->flush_packets = 1;
    AVStream *st = avformat_new_stream(w->fmt, NULL);
    if (!st)
        return AVERROR(ENOMEM);
    st->time_base = (AVRational){ tb_num, tb_den };
    st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    st->codecpar->codec_id = AV_CODEC_ID_RAWVIDEO;
    st->codecpar->format = frame->format;
    st->codecpar->width = frame->width;
    st->codecpar->height = frame->height;
    st->codecpar->sample_aspect_ratio = frame->sample_aspect_ratio;
    if (!(w->fmt->oformat->flags & AVFMT_NOFILE)) {
        ret = avio_open(&w->fmt->pb, w->path, AVIO_FLAG_WRITE);
        if (ret < 0)
            return ret;
    }
    ret = avformat_write_header(w->fmt, NULL);
    if (ret < 0)
        return ret;
    w->header_written = true;
    return 0;
}

int vr_framemd5_write(struct vr_framemd5 *w, const AVFrame *frame, int tb_num, int tb_den)
{
    int ret;
    if (!w->fmt && (ret = write_header(w, frame, tb_num > 0 ? tb_num : 1, tb_den > 0 ? tb_den : 25)) < 0)
        return ret;
    /* Packed exactly as FFmpeg's rawvideo encoder packs a frame (align 1), so
     * the md5 equals the one `ffmpeg -f framemd5` prints. */
    int size = av_image_get_buffer_size(frame->format, frame->width, frame->height, 1);
    if (size < 0)
        return size;
    av_packet_unref(w->pkt);
    if ((ret = av_new_packet(w->pkt, size)) < 0)
        return ret;
    ret = av_image_copy_to_buffer(w->pkt->data, size, (const uint8_t *const *)frame->data,
                                  frame->linesize, frame->format, frame->width, frame->height, 1);
    if (ret < 0)
        return ret;
    /* The muxer wants increasing timestamps; the frame's own one when it is. */
    int64_t pts = frame->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE || (w->last_pts != INT64_MIN && pts <= w->last_pts))
        pts = w->last_pts == INT64_MIN ? 0 : w->last_pts + 1;
    w->last_pts = pts;
    w->pkt->pts = w->pkt->dts = pts;
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 30, 100)
    w->pkt->duration = frame->duration; /* pkt_duration is deprecated from here on */
#else
    w->pkt->duration = frame->pkt_duration;
#endif
    w->pkt->stream_index = 0;
    w->pkt->flags |= AV_PKT_FLAG_KEY;
    return av_write_frame(w->fmt, w->pkt);
}

int vr_framemd5_close(struct vr_framemd5 *w)
{
    if (!w)
        return 0;
    int ret = 0;
    if (w->fmt) {
        if (w->header_written)
            ret = av_write_trailer(w->fmt);
        if (!(w->fmt->oformat->flags & AVFMT_NOFILE))
            avio_closep(&w->fmt->pb);
        avformat_free_context(w->fmt);
    }
    av_packet_free(&w->pkt);
    free(w->path);
    free(w);
    return ret;
}
