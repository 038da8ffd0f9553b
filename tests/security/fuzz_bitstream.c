/*
 * Fuzz target: garbage bitstreams through the whole client pipeline. The
 * input is a codec choice and a list of access units; they go in as FRAMEs
 * of a valid stream (every one flagged key, so none is skipped), decoded by
 * libavcodec, drained at STREAM_STOP(eos), and the last picture composited.
 * FFmpeg decides what the bytes mean; our code around it must not fall over,
 * leak, or let a picture exceed the announced size.
 *
 * Input: byte 0 codec (1 + b % 5), byte 1 bit 0 Annex B, bit 1 a FLUSH in the
 * middle; then records of u16 little-endian length + that many bytes.
 * Seeds: tests/security/corpus-bitstream (gen_security_corpus, the first
 * access units of every sample clip).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include <videoredir/client.h>

#define W 640
#define H 360

static uint64_t fake_now;
static uint64_t clock_fn(void *user) { return fake_now; }

static void on_frame(void *user, uint32_t id, const AVFrame *f)
{
    /* The decoder's max_pixels: never over the announced size, padded. */
    if ((int64_t)f->width * f->height > (int64_t)((W + 63) & ~63) * ((H + 63) & ~63))
        abort();
}

static void drain(struct vr_client *c)
{
    const uint8_t *d;
    size_t n;
    while ((n = vr_conn_out_peek(vr_client_conn(c), &d)) > 0)
        vr_conn_out_consume(vr_client_conn(c), n);
}

static void send(struct vr_client *c, struct vr_msg *m)
{
    /* Encoded through a guest-side conn: the client sees real wire bytes. */
    static uint8_t *buf;
    static size_t cap;
    long need = vr_msg_encoded_size(m);
    if (need <= 0)
        return;
    if ((size_t)need > cap) {
        uint8_t *nb = realloc(buf, (size_t)need);
        if (!nb)
            return;
        buf = nb;
        cap = (size_t)need;
    }
    long n = vr_msg_encode(m, buf, cap);
    if (n > 0)
        vr_conn_feed(vr_client_conn(c), buf, (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    av_log_set_level(AV_LOG_QUIET);
    fake_now = 1000000;
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE, .max_streams = 1 };
    struct vr_client_callbacks cb = { .clock = clock_fn, .frame = on_frame };
    struct vr_client *c = NULL;
    struct vr_msg *m = calloc(1, sizeof(*m));
    if (!m || vr_client_create(&cfg, &cb, NULL, &c) < 0) {
        free(m);
        return 0;
    }
    vr_client_channel_open(c);
    m->type = VR_MSG_HELLO;
    m->u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1, .role = VR_ROLE_GUEST,
                                    .flags = VR_HELLO_REPLY };
    send(c, m);
    uint16_t codec = (uint16_t)(1 + data[0] % 5);
    memset(m, 0, sizeof(*m));
    m->type = VR_MSG_STREAM_START;
    m->stream_id = 1;
    m->u.start = (struct vr_stream_start){
        .codec = codec, .width = W, .height = H, .timebase_num = 1, .timebase_den = 25,
        .flags = (codec == VR_CODEC_H264 || codec == VR_CODEC_HEVC) && (data[1] & 1) ? VR_STREAM_ANNEXB : 0 };
    send(c, m);
    drain(c);

    bool flush = data[1] & 2;
    size_t pos = 2;
    int64_t pts = 0;
    while (pos + 2 <= size) {
        size_t len = data[pos] | (size_t)data[pos + 1] << 8;
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        if (len == 0)
            continue;
        memset(m, 0, sizeof(*m));
        m->type = VR_MSG_FRAME;
        m->stream_id = 1;
        m->u.frame = (struct vr_frame){ .seq = (uint32_t)pts, .flags = VR_FRAME_KEY, .pts = pts,
                                        .dts = INT64_MIN, .duration = 1, .data = data + pos,
                                        .data_len = (uint32_t)len };
        send(c, m);
        pts++;
        pos += len;
        if (flush && pos > size / 2) {
            flush = false;
            memset(m, 0, sizeof(*m));
            m->type = VR_MSG_FLUSH;
            m->stream_id = 1;
            send(c, m);
        }
        fake_now += 40000;
        vr_client_tick(c);
        drain(c);
    }
    /* A last picture on a small canvas through the compositor. */
    const AVFrame *f = vr_client_stream_frame(c, 0);
    if (f) {
        pixman_image_t *canvas = pixman_image_create_bits(PIXMAN_x8r8g8b8, 64, 48, NULL, 0);
        struct vr_rect dst = { -10, -10, 80, 45 };
        if (canvas) {
            vr_composite_frame(canvas, f, &dst, NULL);
            pixman_image_unref(canvas);
        }
    }
    memset(m, 0, sizeof(*m));
    m->type = VR_MSG_STREAM_STOP;
    m->stream_id = 1;
    m->u.stop.reason = VR_REASON_EOS;
    send(c, m);
    drain(c);
    vr_client_destroy(c);
    free(m);
    return 0;
}
