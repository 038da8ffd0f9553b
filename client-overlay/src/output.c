/*
 * Frame outputs: FFmpeg's framemd5 muxer, the headless compositor and PNG
 * snapshots. Conversion and scaling are libswscale's, clipping is pixman's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "videoredir/client.h"

/* ---------------------------------------------------------------------- */
/* framemd5                                                                */

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
    w->pkt->duration = frame->pkt_duration;
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
/* Headless compositor                                                     */

int vr_composite_frame(pixman_image_t *canvas, const AVFrame *frame, const struct vr_rect *dst,
                       pixman_region32_t *clip)
{
    if (!canvas || !frame || !dst || dst->w == 0 || dst->h == 0)
        return -EINVAL;
    int cw = pixman_image_get_width(canvas), ch = pixman_image_get_height(canvas);

    pixman_region32_t draw;
    pixman_region32_init_rect(&draw, dst->x, dst->y, dst->w, dst->h);
    if (clip)
        pixman_region32_intersect(&draw, &draw, clip);
    pixman_region32_intersect_rect(&draw, &draw, 0, 0, (unsigned)cw, (unsigned)ch);
    if (!pixman_region32_not_empty(&draw)) {
        pixman_region32_fini(&draw);
        return 0; /* hidden: nothing to draw */
    }

    /* Scale the whole frame to the destination size in one pass, then copy
     * only the visible rectangles. */
    int ret = -ENOMEM;
    int stride = (int)dst->w * 4;
    uint32_t *pixels = malloc((size_t)stride * dst->h);
    struct SwsContext *sws = sws_getContext(frame->width, frame->height, frame->format, (int)dst->w,
                                            (int)dst->h, AV_PIX_FMT_BGRA, SWS_BILINEAR, NULL, NULL,
                                            NULL);
    pixman_image_t *video = NULL;
    if (!pixels || !sws)
        goto out;
    uint8_t *dst_planes[4] = { (uint8_t *)pixels };
    int dst_strides[4] = { stride };
    if (sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height,
                  dst_planes, dst_strides) <= 0) {
        ret = -EINVAL;
        goto out;
    }
    video = pixman_image_create_bits(PIXMAN_x8r8g8b8, (int)dst->w, (int)dst->h, pixels, stride);
    if (!video)
        goto out;
    pixman_image_set_clip_region32(canvas, &draw);
    pixman_image_composite32(PIXMAN_OP_SRC, video, NULL, canvas, 0, 0, 0, 0, dst->x, dst->y,
                             (int)dst->w, (int)dst->h);
    pixman_image_set_clip_region32(canvas, NULL);
    ret = 0;
out:
    if (video)
        pixman_image_unref(video);
    sws_freeContext(sws);
    free(pixels);
    pixman_region32_fini(&draw);
    return ret;
}

int vr_write_png(pixman_image_t *image, const char *path)
{
    int w = pixman_image_get_width(image), h = pixman_image_get_height(image);
    const AVCodec *png = avcodec_find_encoder(AV_CODEC_ID_PNG);
    if (!png || w <= 0 || h <= 0)
        return -ENOTSUP;
    AVCodecContext *ctx = avcodec_alloc_context3(png);
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    struct SwsContext *sws = NULL;
    FILE *f = NULL;
    int ret = AVERROR(ENOMEM);
    if (!ctx || !frame || !pkt)
        goto out;
    ctx->width = w;
    ctx->height = h;
    ctx->pix_fmt = AV_PIX_FMT_RGB24;
    ctx->time_base = (AVRational){ 1, 1 };
    if ((ret = avcodec_open2(ctx, png, NULL)) < 0)
        goto out;
    frame->format = AV_PIX_FMT_RGB24;
    frame->width = w;
    frame->height = h;
    if ((ret = av_frame_get_buffer(frame, 0)) < 0)
        goto out;
    sws = sws_getContext(w, h, AV_PIX_FMT_BGR0, w, h, AV_PIX_FMT_RGB24, SWS_POINT, NULL, NULL, NULL);
    if (!sws) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    const uint8_t *src[4] = { (const uint8_t *)pixman_image_get_data(image) };
    int src_stride[4] = { pixman_image_get_stride(image) };
    sws_scale(sws, src, src_stride, 0, h, frame->data, frame->linesize);
    if ((ret = avcodec_send_frame(ctx, frame)) < 0 || (ret = avcodec_receive_packet(ctx, pkt)) < 0)
        goto out;
    f = fopen(path, "wb");
    if (!f) {
        ret = -errno;
        goto out;
    }
    if (fwrite(pkt->data, 1, (size_t)pkt->size, f) != (size_t)pkt->size)
        ret = -EIO;
    else
        ret = 0;
    if (fclose(f) != 0 && ret == 0)
        ret = -errno;
out:
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&ctx);
    return ret;
}
