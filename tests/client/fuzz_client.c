/*
 * Fuzz target: bytes from a hostile guest into an established client session
 * (software decoders, 2 streams of at most 1920x1080), with timers run in
 * between, then every stream's last frame composited with its geometry and
 * region. Nothing may crash, leak or run past its caps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include <videoredir/client.h>

static uint64_t fake_now;

static uint64_t clock_fn(void *user) { return fake_now; }

static void drain(struct vr_client *c)
{
    const uint8_t *d;
    size_t n;
    while ((n = vr_conn_out_peek(vr_client_conn(c), &d)) > 0)
        vr_conn_out_consume(vr_client_conn(c), n);
}

static void composite_all(struct vr_client *c)
{
    pixman_image_t *canvas = pixman_image_create_bits(PIXMAN_x8r8g8b8, 320, 200, NULL, 0);
    pixman_region32_t region;
    pixman_region32_init(&region);
    for (uint32_t i = 0; canvas && i < VR_MAX_STREAMS; i++) {
        struct vr_client_stream_stats st;
        const AVFrame *f = vr_client_stream_frame(c, i);
        if (!f || vr_client_stream_stats(c, i, &st) < 0 || !st.has_geometry)
            continue;
        /* Keep the scaled picture small enough for fuzzing speed. */
        if ((uint64_t)st.geometry.content.w * st.geometry.content.h > (1u << 20))
            continue;
        vr_client_stream_region(c, i, &region);
        vr_composite_frame(canvas, f, &st.geometry.content, &region);
    }
    pixman_region32_fini(&region);
    if (canvas)
        pixman_image_unref(canvas);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    av_log_set_level(AV_LOG_QUIET);
    fake_now = 1000000;
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE, .max_streams = 2,
                                    .max_width = 1920, .max_height = 1080 };
    struct vr_client_callbacks cb = { .clock = clock_fn };
    struct vr_client *c = NULL;
    if (vr_client_create(&cfg, &cb, NULL, &c) < 0)
        return 0;
    vr_client_channel_open(c);

    /* The guest's answer, so that stream messages are acted upon. */
    struct vr_msg *hello = calloc(1, sizeof(*hello));
    uint8_t buf[512];
    if (hello) {
        hello->type = VR_MSG_HELLO;
        hello->u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1,
                                            .role = VR_ROLE_GUEST, .flags = VR_HELLO_REPLY };
        long n = vr_msg_encode(hello, buf, sizeof(buf));
        if (n > 0)
            vr_conn_feed(vr_client_conn(c), buf, (size_t)n);
        free(hello);
    }

    /* Two halves with 60 ms of timers between them. */
    size_t half = size / 2;
    vr_conn_feed(vr_client_conn(c), data, half);
    for (int i = 0; i < 3; i++) {
        fake_now += 20000;
        vr_client_tick(c);
    }
    drain(c);
    vr_conn_feed(vr_client_conn(c), data + half, size - half);
    fake_now += 120000;
    vr_client_tick(c);
    drain(c);
    composite_all(c);
    vr_client_destroy(c);
    return 0;
}
