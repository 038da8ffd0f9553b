/*
 * Headless compositor and PNG snapshots. Conversion and scaling are
 * libswscale's, clipping is pixman's, PNG is libavcodec's encoder.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "videoredir/client.h"

/* The scaled video is held whole before clipping: bound it (8192x8192 is
 * the largest content rectangle a real desktop needs). */
#define MAX_SCALED_PIXELS ((uint64_t)8192 * 8192)

enum AVColorSpace vr_frame_matrix(const AVFrame *frame)
{
    if (!frame)
        return AVCOL_SPC_BT470BG;
    switch (frame->colorspace) {
    case AVCOL_SPC_BT709:
        return AVCOL_SPC_BT709;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: /* drawn as non-constant luminance */
        return AVCOL_SPC_BT2020_NCL;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M:
    case AVCOL_SPC_FCC:
    case AVCOL_SPC_SMPTE240M:
        return AVCOL_SPC_BT470BG;
    default:
        /* Unspecified (or a matrix no presenter draws): guessed by size. */
        return frame->width >= 1280 || frame->height >= 720 ? AVCOL_SPC_BT709 : AVCOL_SPC_BT470BG;
    }
}

bool vr_frame_full_range(const AVFrame *frame)
{
    if (!frame)
        return false;
    switch (frame->format) {
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUVJ411P:
        return true;
    default:
        return frame->color_range == AVCOL_RANGE_JPEG;
    }
}

int vr_sws_set_colorspace(struct SwsContext *sws, const AVFrame *frame)
{
    if (!sws || !frame)
        return -EINVAL;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(frame->format);
    if (!d || (d->flags & AV_PIX_FMT_FLAG_RGB) || d->nb_components < 3)
        return 0; /* no matrix to choose */
    enum AVColorSpace m = vr_frame_matrix(frame);
    int cs = m == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : m == AVCOL_SPC_BT2020_NCL ? SWS_CS_BT2020
                                                                              : SWS_CS_ITU601;
    int *inv = NULL, *table = NULL, src_range = 0, dst_range = 0, bri = 0, con = 0, sat = 0;
    int want_range = vr_frame_full_range(frame);
    const int *coef = sws_getCoefficients(cs);
    /* Unchanged: keep swscale's tables (rebuilding them costs). */
    if (sws_getColorspaceDetails(sws, &inv, &src_range, &table, &dst_range, &bri, &con, &sat) >= 0 &&
        inv && memcmp(inv, coef, 4 * sizeof(int)) == 0 && src_range == want_range && dst_range == 1)
        return 0;
    if (sws_setColorspaceDetails(sws, coef, want_range, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                 0, 1 << 16, 1 << 16) < 0)
        return -ENOTSUP;
    return 0;
}

int vr_composite_frame(pixman_image_t *canvas, const AVFrame *frame, const struct vr_rect *dst,
                       pixman_region32_t *clip)
{
    if (!canvas || !frame || !dst || dst->w == 0 || dst->h == 0 || frame->width <= 0 ||
        frame->height <= 0)
        return -EINVAL;
    if ((uint64_t)dst->w * dst->h > MAX_SCALED_PIXELS || dst->w > INT32_MAX / 4)
        return -E2BIG;
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
    struct SwsContext *sws = NULL;
    AVFrame *narrow = NULL;
    pixman_image_t *video = NULL;
    if (!pixels)
        goto out;
    if ((ret = vr_frame_to_bgra(&sws, &narrow, frame, dst->w, dst->h, (uint8_t *)pixels, stride)) < 0)
        goto out;
    ret = -ENOMEM;
    video = pixman_image_create_bits(PIXMAN_x8r8g8b8, (int)dst->w, (int)dst->h, pixels, stride);
    if (!video)
        goto out;
    /* One copy per visible rectangle (the caller's canvas keeps no clip). */
    int n = 0;
    const pixman_box32_t *box = pixman_region32_rectangles(&draw, &n);
    for (int i = 0; i < n; i++)
        pixman_image_composite32(PIXMAN_OP_SRC, video, NULL, canvas, box[i].x1 - dst->x,
                                 box[i].y1 - dst->y, 0, 0, box[i].x1, box[i].y1,
                                 box[i].x2 - box[i].x1, box[i].y2 - box[i].y1);
    ret = 0;
out:
    if (video)
        pixman_image_unref(video);
    sws_freeContext(sws);
    av_frame_free(&narrow);
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
    char *tmp = NULL;
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
    /* Written beside it and renamed: a reader never sees half a picture. */
    size_t len = strlen(path) + sizeof(".part");
    tmp = malloc(len);
    if (!tmp) {
        ret = -ENOMEM;
        goto out;
    }
    snprintf(tmp, len, "%s.part", path);
    f = fopen(tmp, "wb");
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
    if (ret == 0 && rename(tmp, path) != 0)
        ret = -errno;
    if (ret < 0)
        remove(tmp);
out:
    free(tmp);
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&ctx);
    return ret;
}

/* *slot as a frame of w x h in format with its buffers, kept when it is one
 * already, made again otherwise. Returns 0 or -ENOMEM. */
static int frame_for(AVFrame **slot, int w, int h, int format)
{
    AVFrame *c = *slot;
    if (c && c->width == w && c->height == h && c->format == format)
        return 0;
    av_frame_free(slot);
    if (!(c = av_frame_alloc()))
        return -ENOMEM;
    c->format = format;
    c->width = w;
    c->height = h;
    if (av_frame_get_buffer(c, 0) < 0) {
        av_frame_free(&c);
        return -ENOMEM;
    }
    *slot = c;
    return 0;
}

static int convert(struct SwsContext **sws, AVFrame **conv, const AVFrame *f, int format);

int vr_frame_convert(struct SwsContext **sws, AVFrame **conv, const AVFrame *f, int format)
{
    AVFrame *scratch = NULL;
    int ret = vr_frame_cpu(f, &scratch, &f);
    if (ret == 0)
        ret = convert(sws, conv, f, format);
    av_frame_free(&scratch);
    return ret;
}

static int convert(struct SwsContext **sws, AVFrame **conv, const AVFrame *f, int format)
{
    int ret = frame_for(conv, f->width, f->height, format);
    if (ret < 0)
        return ret;
    AVFrame *c = *conv;
    *sws = sws_getCachedContext(*sws, f->width, f->height, f->format, f->width, f->height, format, SWS_POINT,
                                NULL, NULL, NULL);
    if (!*sws)
        return -ENOTSUP;
    if (sws_scale(*sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, c->data, c->linesize) <= 0)
        return -EINVAL;
    c->colorspace = f->colorspace;
    c->color_range = vr_frame_full_range(f) ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    return 0;
}

/* A frame of 9 to 16 bits per sample in 4:2:0, planar (yuv420p10, ...) or
 * with interleaved chroma (p010, p016): the sample's shift in its 16-bit
 * word and its depth; false for every other layout. */
static bool deep_420(const AVFrame *f, bool *interleaved, int *shift, int *depth)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    if (!d || (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL |
                           AV_PIX_FMT_FLAG_BE | AV_PIX_FMT_FLAG_ALPHA)) ||
        d->nb_components != 3 || d->log2_chroma_w != 1 || d->log2_chroma_h != 1 ||
        d->comp[0].depth <= 8 || d->comp[0].depth > 16 || d->comp[0].step != 2)
        return false;
    *interleaved = d->comp[1].plane == d->comp[2].plane;
    if (*interleaved ? d->comp[1].step != 4 || d->comp[2].offset != 2
                     : d->comp[1].step != 2 || d->comp[2].step != 2)
        return false;
    *shift = d->comp[0].shift;
    *depth = d->comp[0].depth;
    return true;
}

/* 16-bit words to 8-bit samples, rounded. Blocks of 16 of a known count,
 * so that the compiler vectorises them even at -O2 (a 1080p frame then takes
 * a fraction of a millisecond), and the row's tail one by one. */
#define NARROW(w) ((w) > 255u ? 255u : (w))
static void narrow_row(uint8_t *restrict dst, const uint16_t *restrict src, int n, int shift, int depth)
{
    const unsigned down = (unsigned)(depth - 8), half = 1u << (down - 1);
    int x = 0;
    for (; x + 16 <= n; x += 16)
        for (int k = 0; k < 16; k++)
            dst[x + k] = (uint8_t)NARROW(((unsigned)(src[x + k] >> shift) + half) >> down);
    for (; x < n; x++)
        dst[x] = (uint8_t)NARROW(((unsigned)(src[x] >> shift) + half) >> down);
}

/* The same for a row of n interleaved U and V pairs. */
static void narrow_row_uv(uint8_t *restrict u, uint8_t *restrict v, const uint16_t *restrict src, int n,
                          int shift, int depth)
{
    const unsigned down = (unsigned)(depth - 8), half = 1u << (down - 1);
    int x = 0;
    for (; x + 16 <= n; x += 16)
        for (int k = 0; k < 16; k++) {
            u[x + k] = (uint8_t)NARROW(((unsigned)(src[2 * (x + k)] >> shift) + half) >> down);
            v[x + k] = (uint8_t)NARROW(((unsigned)(src[2 * (x + k) + 1] >> shift) + half) >> down);
        }
    for (; x < n; x++) {
        u[x] = (uint8_t)NARROW(((unsigned)(src[2 * x] >> shift) + half) >> down);
        v[x] = (uint8_t)NARROW(((unsigned)(src[2 * x + 1] >> shift) + half) >> down);
    }
}
#undef NARROW

/* frame as 8-bit yuv420p into *narrow (made or remade as needed). */
static int narrow_420(const AVFrame *f, AVFrame **narrow, bool interleaved, int shift, int depth)
{
    int ret = frame_for(narrow, f->width, f->height, AV_PIX_FMT_YUV420P);
    if (ret < 0)
        return ret;
    AVFrame *n = *narrow;
    int cw = (f->width + 1) >> 1, ch = (f->height + 1) >> 1;
    for (int y = 0; y < f->height; y++)
        narrow_row(n->data[0] + (ptrdiff_t)y * n->linesize[0],
                   (const uint16_t *)(f->data[0] + (ptrdiff_t)y * f->linesize[0]), f->width, shift, depth);
    for (int y = 0; y < ch; y++) {
        uint8_t *u = n->data[1] + (ptrdiff_t)y * n->linesize[1], *v = n->data[2] + (ptrdiff_t)y * n->linesize[2];
        if (interleaved) {
            narrow_row_uv(u, v, (const uint16_t *)(f->data[1] + (ptrdiff_t)y * f->linesize[1]), cw, shift, depth);
        } else {
            narrow_row(u, (const uint16_t *)(f->data[1] + (ptrdiff_t)y * f->linesize[1]), cw, shift, depth);
            narrow_row(v, (const uint16_t *)(f->data[2] + (ptrdiff_t)y * f->linesize[2]), cw, shift, depth);
        }
    }
    n->colorspace = f->colorspace;
    n->color_range = f->color_range;
    n->color_primaries = f->color_primaries;
    n->color_trc = f->color_trc;
    return 0;
}

static int to_bgra(struct SwsContext **sws, AVFrame **narrow, const AVFrame *frame, uint32_t w,
                   uint32_t h, uint8_t *dst, int stride);

int vr_frame_to_bgra(struct SwsContext **sws, AVFrame **narrow, const AVFrame *frame, uint32_t w,
                     uint32_t h, uint8_t *dst, int stride)
{
    if (!sws || !narrow || !frame || !dst || w == 0 || h == 0 || w > INT32_MAX / 4 || h > INT32_MAX ||
        frame->width <= 0 || frame->height <= 0)
        return -EINVAL;
    /* Called only for what is drawn (the callers test visibility first): a
     * hardware frame is downloaded here, once (vr_frame_cpu). */
    AVFrame *scratch = NULL;
    int ret = vr_frame_cpu(frame, &scratch, &frame);
    if (ret == 0)
        ret = to_bgra(sws, narrow, frame, w, h, dst, stride);
    av_frame_free(&scratch);
    return ret;
}

static int to_bgra(struct SwsContext **sws, AVFrame **narrow, const AVFrame *frame, uint32_t w,
                   uint32_t h, uint8_t *dst, int stride)
{
    const AVFrame *f = frame;
    bool interleaved;
    int shift, depth, ret;
    if (deep_420(frame, &interleaved, &shift, &depth)) {
        if ((ret = narrow_420(frame, narrow, interleaved, shift, depth)) < 0)
            return ret;
        f = *narrow;
    }
    *sws = sws_getCachedContext(*sws, f->width, f->height, f->format, (int)w, (int)h, AV_PIX_FMT_BGRA,
                                SWS_BILINEAR, NULL, NULL, NULL);
    if (!*sws)
        return -ENOTSUP; /* a pixel format swscale cannot read */
    if ((ret = vr_sws_set_colorspace(*sws, f)) < 0)
        return ret;
    uint8_t *planes[4] = { dst };
    int strides[4] = { stride };
    if (sws_scale(*sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, planes, strides) <= 0)
        return -EINVAL;
    return 0;
}
