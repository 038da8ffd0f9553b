/*
 * Hardware frames handed out as they are, read by the CPU only on demand.
 *
 * A decoder that keeps its hardware frames (vr_decoder_set_keep_hw) attaches
 * a small cache to each one (its opaque_ref, shared by every clone of the
 * frame): the first CPU consumer that asks (vr_frame_cpu) downloads the
 * surface into it, the others read that copy. A frame nobody looks at (a
 * hidden video, a GL presenter that imports it) is never downloaded.
 *
 * Also the test hook VIDEOREDIR_TEST_HWFRAMES=vulkan: software-decoded
 * frames are uploaded into a Vulkan frames context (lavapipe runs it with no
 * GPU) so that the consumers' hardware path is exercised for real.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/buffer.h>
#include <libavutil/hwcontext.h>
#include <libavutil/mem.h>

#include "hwframe.h"
#include "videoredir/client.h"

#define CACHE_MAGIC 0x76726877u /* "vrhw" */

struct cache {
    uint32_t magic;
    AVFrame *sw; /* the downloaded copy, or NULL until someone asked */
};

static atomic_uint_fast64_t downloads, imports;

/* Transfers of one process go one at a time: a download on the client's
 * thread and an upload on a decoder's (the test hook: surface made, then
 * written) would otherwise submit to the same device queue at once, which
 * FFmpeg 5's Vulkan frames do not lock (seen here: pictures of another
 * upload read back). */
static pthread_mutex_t transfer_lock = PTHREAD_MUTEX_INITIALIZER;

static int transfer(AVFrame *dst, const AVFrame *src)
{
    pthread_mutex_lock(&transfer_lock);
    int ret = av_hwframe_transfer_data(dst, src, 0);
    pthread_mutex_unlock(&transfer_lock);
    return ret;
}

static void cache_free(void *opaque, uint8_t *data)
{
    struct cache *k = (struct cache *)data;
    av_frame_free(&k->sw);
    av_free(k);
}

int vr_hwframe_attach(AVFrame *f)
{
    if (!f->hw_frames_ctx || f->opaque_ref)
        return 0; /* software, or someone else's opaque_ref: downloads are not cached */
    struct cache *k = av_mallocz(sizeof(*k));
    if (!k)
        return -ENOMEM;
    k->magic = CACHE_MAGIC;
    f->opaque_ref = av_buffer_create((uint8_t *)k, sizeof(*k), cache_free, NULL, 0);
    if (!f->opaque_ref) {
        av_free(k);
        return -ENOMEM;
    }
    return 0;
}

static struct cache *cache_of(const AVFrame *f)
{
    if (!f->opaque_ref || f->opaque_ref->size != sizeof(struct cache))
        return NULL;
    struct cache *k = (struct cache *)f->opaque_ref->data;
    return k->magic == CACHE_MAGIC ? k : NULL;
}

int vr_frame_cpu(const AVFrame *f, AVFrame **scratch, const AVFrame **out)
{
    if (!f || !out)
        return -EINVAL;
    if (!f->hw_frames_ctx) {
        *out = f;
        return 0;
    }
    struct cache *k = cache_of(f);
    if (k && k->sw) {
        *out = k->sw;
        return 0;
    }
    AVFrame **dst = k ? &k->sw : scratch;
    if (!dst)
        return -EINVAL;
    if (!*dst && !(*dst = av_frame_alloc()))
        return -ENOMEM;
    av_frame_unref(*dst);
    int ret = transfer(*dst, f);
    if (ret >= 0)
        ret = av_frame_copy_props(*dst, f);
    if (ret < 0) {
        av_frame_unref(*dst);
        if (k)
            av_frame_free(&k->sw); /* the next consumer tries again */
        return ret > -4096 ? ret : -EIO; /* AVERROR(errno) is -errno; FFmpeg's own codes: EIO */
    }
    /* The copy must not hold the cache it lives in. */
    av_buffer_unref(&(*dst)->opaque_ref);
    atomic_fetch_add(&downloads, 1);
    *out = *dst;
    return 0;
}

bool vr_frame_is_hw(const AVFrame *f)
{
    return f && f->hw_frames_ctx;
}

void vr_hwframe_note_import(void)
{
    atomic_fetch_add(&imports, 1);
}

void vr_hwframe_get_stats(struct vr_hwframe_stats *st)
{
    st->downloads = atomic_load(&downloads);
    st->imports = atomic_load(&imports);
}

void vr_client_decoder_label(const struct vr_client_stream_stats *st, char *buf, size_t cap)
{
    if (!cap)
        return;
    const char *path = NULL;
    struct vr_hwframe_stats hs;
    vr_hwframe_get_stats(&hs);
    if (st->frames_hw) {
        if (hs.imports && hs.downloads)
            path = "zero-copy to GL, some downloaded";
        else if (hs.imports)
            path = "zero-copy to GL";
        else if (hs.downloads)
            path = "downloaded on demand";
        else
            path = "hw frames, none read";
    } else if (st->hw) {
        path = "downloaded";
    }
    size_t n = strlen(st->decoder);
    if (!path || n < 2 || st->decoder[n - 1] != ')') {
        snprintf(buf, cap, "%s", st->decoder);
        return;
    }
    snprintf(buf, cap, "%.*s, %s)", (int)(n - 1), st->decoder, path);
}

/* --- Test hook: software frames uploaded into a Vulkan frames context ----- */

struct vr_hw_upload {
    AVBufferRef *device;
    AVBufferRef *frames; /* for the current size and format, or NULL */
    int w, h, sw_format;
    AVFrame *sync; /* read-back target that waits for an upload */
};

int vr_hw_upload_create(const char *type_name, struct vr_hw_upload **out, char *why, size_t cap)
{
    enum AVHWDeviceType type = av_hwdevice_find_type_by_name(type_name);
    if (type == AV_HWDEVICE_TYPE_NONE) {
        snprintf(why, cap, "unknown hardware device type %s", type_name);
        return -EINVAL;
    }
    struct vr_hw_upload *u = calloc(1, sizeof(*u));
    if (!u || !(u->sync = av_frame_alloc())) {
        free(u);
        return -ENOMEM;
    }
    int ret = av_hwdevice_ctx_create(&u->device, type, NULL, NULL, 0);
    if (ret < 0) {
        snprintf(why, cap, "cannot create a %s device: %s", type_name, av_err2str(ret));
        av_frame_free(&u->sync);
        free(u);
        return -ENODEV;
    }
    *out = u;
    return 0;
}

void vr_hw_upload_destroy(struct vr_hw_upload *u)
{
    if (!u)
        return;
    av_buffer_unref(&u->frames);
    av_buffer_unref(&u->device);
    av_frame_free(&u->sync);
    free(u);
}

int vr_hw_upload_frame(struct vr_hw_upload *u, const AVFrame *sw, AVFrame *hw)
{
    if (!u->frames || u->w != sw->width || u->h != sw->height || u->sw_format != sw->format) {
        av_buffer_unref(&u->frames);
        AVBufferRef *fr = av_hwframe_ctx_alloc(u->device);
        if (!fr)
            return -ENOMEM;
        AVHWFramesContext *fc = (AVHWFramesContext *)fr->data;
        AVHWDeviceContext *dc = (AVHWDeviceContext *)u->device->data;
        fc->format = dc->type == AV_HWDEVICE_TYPE_VULKAN ? AV_PIX_FMT_VULKAN : AV_PIX_FMT_NONE;
        fc->sw_format = sw->format;
        fc->width = sw->width;
        fc->height = sw->height;
        int ret = fc->format == AV_PIX_FMT_NONE ? AVERROR(ENOTSUP) : av_hwframe_ctx_init(fr);
        if (ret < 0) {
            av_buffer_unref(&fr);
            return ret;
        }
        u->frames = fr;
        u->w = sw->width;
        u->h = sw->height;
        u->sw_format = sw->format;
    }
    /* Making a surface submits to the queue too (Vulkan prepares it). */
    pthread_mutex_lock(&transfer_lock);
    av_frame_unref(hw);
    int ret = av_hwframe_get_buffer(u->frames, hw, 0);
    if (ret >= 0)
        ret = av_hwframe_transfer_data(hw, sw, 0);
    /* FFmpeg 5's Vulkan upload returns before the copy is done, and the
     * next upload (of the next frame, before any consumer read this one)
     * can overwrite what it copies from: seen here as pictures of a later
     * frame. Reading the surface back waits for it (public API of 5.1 has
     * no other wait). Not counted as a consumer's download. */
    if (ret >= 0) {
        av_frame_unref(u->sync);
        ret = av_hwframe_transfer_data(u->sync, hw, 0);
        av_frame_unref(u->sync);
    }
    pthread_mutex_unlock(&transfer_lock);
    if (ret >= 0)
        ret = av_frame_copy_props(hw, sw);
    if (ret < 0)
        av_frame_unref(hw);
    return ret;
}
