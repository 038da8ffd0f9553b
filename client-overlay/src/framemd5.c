/*
 * framemd5 writer: FFmpeg's own "framemd5" muxer fed rawvideo packets packed
 * the way FFmpeg's rawvideo encoder packs a frame, so the output is what
 * `ffmpeg -i CLIP -map 0:v:0 -f framemd5 -` prints for the same decode.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/md5.h>

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

static int write_frame(struct vr_framemd5 *w, const AVFrame *frame, int tb_num, int tb_den);

/* A hardware frame is read through its download (vr_frame_cpu), like the
 * decoder's own download did before: the md5 of its software layout. */
int vr_framemd5_write(struct vr_framemd5 *w, const AVFrame *frame, int tb_num, int tb_den)
{
    AVFrame *scratch = NULL;
    int ret = vr_frame_cpu(frame, &scratch, &frame);
    if (ret == 0)
        ret = write_frame(w, frame, tb_num, tb_den);
    av_frame_free(&scratch);
    return ret;
}

static int write_frame(struct vr_framemd5 *w, const AVFrame *frame, int tb_num, int tb_den)
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

/* ---------------------------------------------------------------------- */
/* Expected frames and frame checksums (verification against FFmpeg).      */

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    size_t k = strspn(s, " \t");
    memmove(s, s + k, n - k + 1);
}

int vr_framemd5_load(const char *path, uint64_t max, struct vr_framemd5_entry **out, uint64_t *count,
                     char *err, size_t errlen)
{
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = 0;
    if (!path || !out || !count)
        return -EINVAL;
    *out = NULL;
    *count = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
        return -e;
    }
    char line[1024];
    uint64_t cap = 0, n = 0, lineno = 0;
    struct vr_framemd5_entry *v = NULL;
    int ret = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%" PRIu64 ": line too long", path, lineno);
            ret = -EINVAL;
            break;
        }
        if (line[0] == '#' || line[strspn(line, " \t\r\n")] == 0)
            continue;
        /* stream, dts, pts, duration, size, md5 */
        char *field[8];
        int nf = 0;
        for (char *p = line, *tok; nf < 8 && (tok = strsep(&p, ",")); )
            field[nf++] = tok;
        if (nf != 6) {
            snprintf(err, errlen, "%s:%" PRIu64 ": not a framemd5 line", path, lineno);
            ret = -EINVAL;
            break;
        }
        trim(field[5]);
        trim(field[2]);
        if (strlen(field[5]) != 32 || strspn(field[5], "0123456789abcdef") != 32) {
            snprintf(err, errlen, "%s:%" PRIu64 ": bad md5 '%.40s'", path, lineno, field[5]);
            ret = -EINVAL;
            break;
        }
        if (n == max) {
            snprintf(err, errlen, "%s: more than %" PRIu64 " frames", path, max);
            ret = -E2BIG;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            struct vr_framemd5_entry *nv = realloc(v, cap * sizeof(*nv));
            if (!nv) {
                snprintf(err, errlen, "out of memory");
                ret = -ENOMEM;
                break;
            }
            v = nv;
        }
        struct vr_framemd5_entry *e = &v[n++];
        memcpy(e->md5, field[5], 33);
        snprintf(e->pts, sizeof(e->pts), "%.23s", field[2]);
    }
    fclose(f);
    if (ret == 0 && n == 0) {
        snprintf(err, errlen, "%s: no frames in it", path);
        ret = -ENODATA;
    }
    if (ret < 0) {
        free(v);
        return ret;
    }
    *out = v;
    *count = n;
    return 0;
}

int vr_frame_md5(const AVFrame *frame, char out[33])
{
    if (!frame || !out)
        return -EINVAL;
    AVFrame *scratch = NULL;
    int ret = vr_frame_cpu(frame, &scratch, &frame);
    int size = ret < 0 ? ret : av_image_get_buffer_size(frame->format, frame->width, frame->height, 1);
    uint8_t *pack = size < 0 ? NULL : av_malloc((size_t)size);
    if (!pack) {
        av_frame_free(&scratch);
        return size < 0 ? size : -ENOMEM;
    }
    ret = av_image_copy_to_buffer(pack, size, (const uint8_t *const *)frame->data, frame->linesize,
                                      frame->format, frame->width, frame->height, 1);
    if (ret >= 0) {
        uint8_t d[16];
        av_md5_sum(d, pack, size);
        for (int i = 0; i < 16; i++)
            snprintf(out + 2 * i, 3, "%02x", d[i]);
        ret = 0;
    }
    av_free(pack);
    av_frame_free(&scratch);
    return ret;
}

pixman_image_t *vr_checker_desktop(uint32_t w, uint32_t h, uint32_t square, uint32_t dark, uint32_t light)
{
    if (!w || !h || w > 16384 || h > 16384 || !square)
        return NULL;
    pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8, (int)w, (int)h, NULL, 0);
    if (!img)
        return NULL;
    uint32_t *px = pixman_image_get_data(img);
    int stride = pixman_image_get_stride(img) / 4;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            px[(size_t)y * (size_t)stride + x] = ((x / square + y / square) & 1) ? light : dark;
    return img;
}
