/*
 * Decoder back ends over libavcodec: a const table walked in order, hardware
 * first, software last. A back end that cannot open says why once and the
 * next one is tried.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>

#include "hwframe.h"
#include "videoredir/client.h"

struct vr_decoder {
    AVCodecContext *ctx;
    AVPacket *pkt;
    AVFrame *frame;    /* as decoded (maybe a hardware frame) */
    AVFrame *sw_frame; /* download target for hardware frames */
    enum AVPixelFormat hw_fmt;
    bool hw;
    char name[64];
    vr_client_log_fn log;
    void *log_user;
    int threads; /* software decoding threads, 0 auto */
    bool keep_hw;  /* hand out hardware frames as decoded */
    struct vr_hw_upload *test_up; /* VIDEOREDIR_TEST_HWFRAMES: software frames uploaded */
    AVFrame *test_hw;
};

/*
 * A back end prepares a codec context before avcodec_open2: a hardware one
 * attaches its device and picks its surface format. setup returns 0, or
 * -ENOTSUP / -ENODEV with the reason written to why: the caller then tries the
 * next entry. probe says, without a stream, whether the back end can decode
 * codec here (for the hello's codec list). Adding a back end is adding an
 * entry; software is last and always works for a codec libavcodec has.
 */
struct backend {
    const char *name;
    enum vr_hwdec kind;
    enum AVHWDeviceType device; /* AV_HWDEVICE_TYPE_NONE: software */
    bool (*probe)(size_t bi, const AVCodec *codec, vr_client_log_fn log, void *user);
    int (*setup)(struct vr_decoder *d, size_t bi, const AVCodec *codec, char *why, size_t cap);
};

static bool probe_hwdevice(size_t bi, const AVCodec *codec, vr_client_log_fn log, void *user);
static int setup_hwdevice(struct vr_decoder *d, size_t bi, const AVCodec *codec, char *why,
                          size_t cap);
static bool probe_software(size_t bi, const AVCodec *codec, vr_client_log_fn log, void *user);
static int setup_software(struct vr_decoder *d, size_t bi, const AVCodec *codec, char *why,
                          size_t cap);

static const struct backend backends[] = {
    { "vaapi", VR_HWDEC_VAAPI, AV_HWDEVICE_TYPE_VAAPI, probe_hwdevice, setup_hwdevice },
    { "vdpau", VR_HWDEC_VDPAU, AV_HWDEVICE_TYPE_VDPAU, probe_hwdevice, setup_hwdevice },
    { "cuda", VR_HWDEC_CUDA, AV_HWDEVICE_TYPE_CUDA, probe_hwdevice, setup_hwdevice },
    { "software", VR_HWDEC_NONE, AV_HWDEVICE_TYPE_NONE, probe_software, setup_software },
};
#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* Pictures larger than the stream's announced size (each side rounded up to
 * 64, room for coded-size padding), and never larger than this, are refused
 * by the decoder (a decode error): the bitstream cannot make the decoder
 * allocate more than the start message promised and the session admitted. */
#define MAX_PIXELS ((int64_t)VR_MAX_DIMENSION * VR_MAX_DIMENSION)
#define PAD64(v) (((int64_t)(v) + 63) & ~(int64_t)63)

/* Devices are opened once per process to see whether they exist; the answer
 * is kept (the library is single-threaded, see client.h). */
static bool device_probed[N_BACKENDS], device_failed[N_BACKENDS];

static void logf_(vr_client_log_fn log, void *user, enum vr_client_log level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void logf_(vr_client_log_fn log, void *user, enum vr_client_log level, const char *fmt, ...)
{
    if (!log)
        return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log(user, level, buf);
}

int vr_hwdec_from_name(const char *name, enum vr_hwdec *out)
{
    static const char *const names[] = { "auto", "none", "vaapi", "vdpau", "cuda" };
    for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(name, names[i])) {
            *out = (enum vr_hwdec)i;
            return 0;
        }
    return -EINVAL;
}

enum AVCodecID vr_codec_av_id(uint16_t codec)
{
    switch (codec) {
    case VR_CODEC_H264: return AV_CODEC_ID_H264;
    case VR_CODEC_HEVC: return AV_CODEC_ID_HEVC;
    case VR_CODEC_VP8: return AV_CODEC_ID_VP8;
    case VR_CODEC_VP9: return AV_CODEC_ID_VP9;
    case VR_CODEC_AV1: return AV_CODEC_ID_AV1;
    default: return AV_CODEC_ID_NONE;
    }
}

static bool wanted(const struct backend *b, enum vr_hwdec hwdec)
{
    if (b->device == AV_HWDEVICE_TYPE_NONE)
        return true; /* software is always the last resort */
    return hwdec == VR_HWDEC_AUTO || hwdec == b->kind;
}

/* The pixel format through which codec outputs frames of device type, or NONE. */
static enum AVPixelFormat hw_pix_fmt(const AVCodec *codec, enum AVHWDeviceType type)
{
    for (int i = 0;; i++) {
        const AVCodecHWConfig *cfg = avcodec_get_hw_config(codec, i);
        if (!cfg)
            return AV_PIX_FMT_NONE;
        if ((cfg->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) && cfg->device_type == type)
            return cfg->pix_fmt;
    }
}

/* Opens and closes the device of back end bi once per process, saying why
 * it is not used when it fails. */
static bool device_usable(size_t bi, vr_client_log_fn log, void *user)
{
    if (!device_probed[bi]) {
        AVBufferRef *dev = NULL;
        device_probed[bi] = true;
        int ret = av_hwdevice_ctx_create(&dev, backends[bi].device, NULL, NULL, 0);
        if (ret < 0) {
            device_failed[bi] = true;
            logf_(log, user, VR_CLOG_INFO,
                  "hardware decoder %s not used: cannot open a %s device (%s); falling back to "
                  "the next back end (software last)",
                  backends[bi].name, av_hwdevice_get_type_name(backends[bi].device), av_err2str(ret));
        }
        av_buffer_unref(&dev);
    }
    return !device_failed[bi];
}

static bool probe_hwdevice(size_t bi, const AVCodec *codec, vr_client_log_fn log, void *user)
{
    return hw_pix_fmt(codec, backends[bi].device) != AV_PIX_FMT_NONE && device_usable(bi, log, user);
}

static enum AVPixelFormat get_hw_format(AVCodecContext *ctx, const enum AVPixelFormat *fmts)
{
    const struct vr_decoder *d = ctx->opaque;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == d->hw_fmt)
            return *p;
    /* The stream needs something the device cannot do: decode in software
     * (the first format that is not another hardware surface). */
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++) {
        const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(*p);
        if (desc && !(desc->flags & AV_PIX_FMT_FLAG_HWACCEL))
            return *p;
    }
    return AV_PIX_FMT_NONE;
}

/* Hardware through libavutil's hwcontext: a device of the back end's type,
 * frames downloaded to memory after decoding. */
static int setup_hwdevice(struct vr_decoder *d, size_t bi, const AVCodec *codec, char *why,
                          size_t cap)
{
    const struct backend *b = &backends[bi];
    if (!device_usable(bi, d->log, d->log_user)) {
        snprintf(why, cap, "no %s device", b->name);
        return -ENODEV;
    }
    d->hw_fmt = hw_pix_fmt(codec, b->device);
    if (d->hw_fmt == AV_PIX_FMT_NONE) {
        snprintf(why, cap, "%s cannot decode through %s", codec->name, b->name);
        return -ENOTSUP;
    }
    AVBufferRef *dev = NULL;
    int ret = av_hwdevice_ctx_create(&dev, b->device, NULL, NULL, 0);
    if (ret < 0) {
        snprintf(why, cap, "device failed: %s", av_err2str(ret));
        return -ENODEV;
    }
    d->ctx->hw_device_ctx = dev; /* takes the reference */
    d->ctx->get_format = get_hw_format;
    d->hw = true;
    return 0;
}

static bool probe_software(size_t bi, const AVCodec *codec, vr_client_log_fn log, void *user)
{
    return codec != NULL;
}

/* libavcodec's default decoder for the codec (the one the ffmpeg CLI picks),
 * default threading: bit-exact with `ffmpeg -i CLIP -f framemd5`. */
static int setup_software(struct vr_decoder *d, size_t bi, const AVCodec *codec, char *why,
                          size_t cap)
{
    return 0;
}

static int try_backend(struct vr_decoder *d, size_t bi, const AVCodec *codec,
                       const struct vr_stream_start *s)
{
    const struct backend *b = &backends[bi];
    char why[128] = "";

    d->hw_fmt = AV_PIX_FMT_NONE;
    d->hw = false;
    d->ctx = avcodec_alloc_context3(codec);
    if (!d->ctx)
        return -ENOMEM;
    d->ctx->opaque = d;
    d->ctx->width = (int)s->width;
    d->ctx->height = (int)s->height;
    if (s->timebase_num <= INT32_MAX && s->timebase_den <= INT32_MAX)
        d->ctx->pkt_timebase = (AVRational){ (int)s->timebase_num, (int)s->timebase_den };
    /* The bitstream, not the start message, decides the picture size: bound
     * what a hostile stream can make the decoder allocate. */
    int64_t area = PAD64(s->width) * PAD64(s->height);
    d->ctx->max_pixels = area < MAX_PIXELS ? area : MAX_PIXELS;
    if (s->extradata_len) {
        d->ctx->extradata = av_mallocz(s->extradata_len + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!d->ctx->extradata)
            return -ENOMEM; /* the caller frees ctx */
        memcpy(d->ctx->extradata, s->extradata, s->extradata_len);
        d->ctx->extradata_size = (int)s->extradata_len;
    }
    int ret = b->setup(d, bi, codec, why, sizeof(why));
    if (ret == 0 && !d->hw)
        d->ctx->thread_count = d->threads;
    if (ret < 0) {
        logf_(d->log, d->log_user, VR_CLOG_DEBUG, "%s back end not used for %s: %s", b->name,
              codec->name, why);
    } else if ((ret = avcodec_open2(d->ctx, codec, NULL)) < 0) {
        logf_(d->log, d->log_user, VR_CLOG_WARNING, "%s back end: cannot open %s: %s", b->name,
              codec->name, av_err2str(ret));
    }
    if (ret < 0) {
        avcodec_free_context(&d->ctx);
        d->hw = false;
        return ret;
    }
    snprintf(d->name, sizeof(d->name), "%s (%s)", codec->name, b->name);
    return 0;
}

/* The test hook: VIDEOREDIR_TEST_HWFRAMES=vulkan, for tests only (there is no
 * hardware decoder here, but lavapipe runs FFmpeg's Vulkan frames). A
 * device that cannot be made leaves the decoder as it is, said loudly. */
static void test_hook(struct vr_decoder *d)
{
    const char *type = getenv("VIDEOREDIR_TEST_HWFRAMES");
    if (!type || !*type)
        return;
    char why[160] = "";
    if (d->hw) {
        logf_(d->log, d->log_user, VR_CLOG_WARNING,
              "VIDEOREDIR_TEST_HWFRAMES=%s ignored: %s decodes in hardware already", type, d->name);
        return;
    }
    int ret = vr_hw_upload_create(type, &d->test_up, why, sizeof(why));
    if (ret == 0 && !(d->test_hw = av_frame_alloc()))
        ret = -ENOMEM;
    if (ret < 0) {
        vr_hw_upload_destroy(d->test_up);
        d->test_up = NULL;
        logf_(d->log, d->log_user, VR_CLOG_WARNING,
              "VIDEOREDIR_TEST_HWFRAMES=%s (a test hook): %s; frames stay software", type,
              ret == -ENOMEM ? "out of memory" : why);
        return;
    }
    size_t n = strlen(d->name);
    if (n > 1 && d->name[n - 1] == ')')
        snprintf(d->name + n - 1, sizeof(d->name) - (n - 1), ", %s test frames)", type);
    logf_(d->log, d->log_user, VR_CLOG_WARNING,
          "TEST HOOK VIDEOREDIR_TEST_HWFRAMES=%s: every decoded frame is uploaded into %s "
          "hardware frames (for tests only, slow): decoder %s", type, type, d->name);
}

int vr_decoder_open(const struct vr_stream_start *start, enum vr_hwdec hwdec,
                    vr_client_log_fn log, void *log_user, struct vr_decoder **out)
{
    return vr_decoder_open_threads(start, hwdec, 1, log, log_user, out);
}

int vr_decoder_open_threads(const struct vr_stream_start *start, enum vr_hwdec hwdec, int threads,
                            vr_client_log_fn log, void *log_user, struct vr_decoder **out)
{
    if (!start || !out || threads < 0 || threads > 64)
        return -EINVAL;
    enum AVCodecID id = vr_codec_av_id(start->codec);
    const AVCodec *codec = id == AV_CODEC_ID_NONE ? NULL : avcodec_find_decoder(id);
    if (!codec)
        return -ENOTSUP;

    struct vr_decoder *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->log = log;
    d->log_user = log_user;
    d->threads = threads;
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    d->sw_frame = av_frame_alloc();
    int ret = -ENOMEM;
    if (!d->pkt || !d->frame || !d->sw_frame)
        goto error;

    ret = -ENOTSUP;
    for (size_t i = 0; i < N_BACKENDS; i++) {
        if (!wanted(&backends[i], hwdec))
            continue;
        ret = try_backend(d, i, codec, start);
        if (ret == 0) {
            test_hook(d);
            *out = d;
            return 0;
        }
        if (ret == -ENOMEM)
            break;
    }
error:
    vr_decoder_close(d);
    return ret;
}

void vr_decoder_close(struct vr_decoder *d)
{
    if (!d)
        return;
    avcodec_free_context(&d->ctx);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    av_frame_free(&d->sw_frame);
    av_frame_free(&d->test_hw);
    vr_hw_upload_destroy(d->test_up);
    free(d);
}

int vr_decoder_packet(const struct vr_frame *f, AVPacket **out)
{
    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return AVERROR(ENOMEM);
    int ret = av_new_packet(pkt, (int)f->data_len);
    if (ret < 0) {
        av_packet_free(&pkt);
        return ret;
    }
    memcpy(pkt->data, f->data, f->data_len);
    pkt->pts = f->pts == INT64_MIN ? AV_NOPTS_VALUE : f->pts;
    pkt->dts = f->dts == INT64_MIN ? AV_NOPTS_VALUE : f->dts;
    pkt->duration = f->duration;
    if (f->flags & VR_FRAME_KEY)
        pkt->flags |= AV_PKT_FLAG_KEY;
    *out = pkt;
    return 0;
}

int vr_decoder_send_packet(struct vr_decoder *d, const AVPacket *pkt)
{
    /* A refcounted packet: libavcodec takes a reference, no copy. EAGAIN
     * here means frames are waiting: the caller receives them all after
     * every send, so it cannot happen; report it as an error if it does. */
    return avcodec_send_packet(d->ctx, pkt);
}

int vr_decoder_send(struct vr_decoder *d, const struct vr_frame *f)
{
    av_packet_unref(d->pkt);
    int ret = av_new_packet(d->pkt, (int)f->data_len);
    if (ret < 0)
        return ret;
    memcpy(d->pkt->data, f->data, f->data_len);
    d->pkt->pts = f->pts == INT64_MIN ? AV_NOPTS_VALUE : f->pts;
    d->pkt->dts = f->dts == INT64_MIN ? AV_NOPTS_VALUE : f->dts;
    d->pkt->duration = f->duration;
    if (f->flags & VR_FRAME_KEY)
        d->pkt->flags |= AV_PKT_FLAG_KEY;
    return vr_decoder_send_packet(d, d->pkt);
}

int vr_decoder_drain(struct vr_decoder *d)
{
    int ret = avcodec_send_packet(d->ctx, NULL);
    return ret == AVERROR_EOF ? 0 : ret;
}

int vr_decoder_receive(struct vr_decoder *d, const AVFrame **out)
{
    av_frame_unref(d->frame);
    int ret = avcodec_receive_frame(d->ctx, d->frame);
    if (ret == AVERROR(EAGAIN))
        return -EAGAIN;
    if (ret < 0)
        return ret;
    if (d->frame->format == d->hw_fmt && d->hw && d->keep_hw) {
        /* As decoded: the consumers download it if they read it. */
        if ((ret = vr_hwframe_attach(d->frame)) < 0)
            return ret;
        *out = d->frame;
        return 0;
    }
    if (d->frame->format == d->hw_fmt && d->hw) {
        av_frame_unref(d->sw_frame);
        ret = av_hwframe_transfer_data(d->sw_frame, d->frame, 0);
        if (ret < 0)
            return ret;
        av_frame_copy_props(d->sw_frame, d->frame);
        *out = d->sw_frame;
        return 0;
    }
    if (d->test_up) {
        if ((ret = vr_hw_upload_frame(d->test_up, d->frame, d->test_hw)) < 0 ||
            (ret = vr_hwframe_attach(d->test_hw)) < 0)
            return ret;
        *out = d->test_hw;
        return 0;
    }
    *out = d->frame;
    return 0;
}

void vr_decoder_set_keep_hw(struct vr_decoder *d, bool keep, unsigned extra_frames)
{
    if (!d)
        return;
    d->keep_hw = keep;
    /* Read when the decoder makes its surface pool (at the first frame). */
    if (keep && d->hw)
        d->ctx->extra_hw_frames = extra_frames > 64 ? 64 : (int)extra_frames;
}

void vr_decoder_flush(struct vr_decoder *d)
{
    avcodec_flush_buffers(d->ctx);
}

const char *vr_decoder_name(const struct vr_decoder *d)
{
    return d->name;
}

bool vr_decoder_is_hw(const struct vr_decoder *d)
{
    return d->hw;
}

uint32_t vr_decoder_caps(enum vr_hwdec hwdec, vr_client_log_fn log, void *log_user,
                         struct vr_codec_cap *caps, uint32_t max)
{
    uint32_t n = 0;
    for (uint16_t c = VR_CODEC_H264; c < VR_CODEC_COUNT_ && n < max; c++) {
        enum AVCodecID id = vr_codec_av_id(c);
        const AVCodec *codec = avcodec_find_decoder(id);
        if (!codec)
            continue;
        bool any = false, hw = false;
        for (size_t i = 0; i < N_BACKENDS && !any; i++) {
            if (!wanted(&backends[i], hwdec) || !backends[i].probe(i, codec, log, log_user))
                continue;
            any = true;
            hw = backends[i].device != AV_HWDEVICE_TYPE_NONE;
        }
        if (any)
            caps[n++] = (struct vr_codec_cap){ .codec = c, .flags = hw ? VR_CODEC_CAP_HW : 0,
                                               .max_width = 8192, .max_height = 8192 };
    }
    return n;
}
