/*
 * Fuzz target: region handling on the client. A live stream gets the input
 * as raw guest bytes (GEOMETRY and REGION messages, mostly; anything goes),
 * then its visible region is built and a picture composited through it onto
 * a canvas. Checked on every input:
 *  - the region lies inside the stream's content rectangle;
 *  - the compositor draws nowhere outside (region ∩ canvas): every pixel
 *    outside it keeps the canvas's colour.
 * Seeds: tests/security/corpus-region (gen_security_corpus).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/frame.h>
#include <libavutil/log.h>

#include <videoredir/client.h>

#define CANVAS_W 200
#define CANVAS_H 150
#define BACKGROUND 0xff123456u

static uint64_t fake_now;
static uint64_t clock_fn(void *user) { return fake_now; }

static AVFrame *picture(void)
{
    static AVFrame *f;
    if (f)
        return f;
    f = av_frame_alloc();
    if (!f)
        return NULL;
    f->format = AV_PIX_FMT_YUV420P;
    f->width = 32;
    f->height = 18;
    if (av_frame_get_buffer(f, 0) < 0) {
        av_frame_free(&f);
        return NULL;
    }
    for (int p = 0; p < 3; p++)
        memset(f->data[p], p ? 0x80 : 0xeb, (size_t)f->linesize[p] * (p ? 9 : 18));
    return f;
}

static void feed_msg(struct vr_client *c, struct vr_msg *m)
{
    uint8_t buf[512];
    long n = vr_msg_encode(m, buf, sizeof(buf));
    if (n > 0)
        vr_conn_feed(vr_client_conn(c), buf, (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    av_log_set_level(AV_LOG_QUIET);
    fake_now = 1000000;
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE, .max_streams = 2 };
    struct vr_client_callbacks cb = { .clock = clock_fn };
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
    feed_msg(c, m);
    memset(m, 0, sizeof(*m));
    m->type = VR_MSG_STREAM_START;
    m->stream_id = 1;
    m->u.start = (struct vr_stream_start){ .codec = VR_CODEC_VP8, .width = 32, .height = 18,
                                           .timebase_num = 1, .timebase_den = 25 };
    feed_msg(c, m);
    free(m);

    vr_conn_feed(vr_client_conn(c), data, size);

    pixman_image_t *canvas = pixman_image_create_bits(PIXMAN_a8r8g8b8, CANVAS_W, CANVAS_H, NULL, 0);
    pixman_region32_t region, outside;
    pixman_region32_init(&region);
    pixman_region32_init_rect(&outside, 0, 0, CANVAS_W, CANVAS_H);
    const AVFrame *pic = picture();
    for (uint32_t i = 0; canvas && pic && i < VR_MAX_STREAMS; i++) {
        struct vr_client_stream_stats st;
        if (vr_client_stream_stats(c, i, &st) < 0 || !st.has_geometry)
            continue;
        vr_client_stream_region(c, i, &region);
        const struct vr_rect *ct = &st.geometry.content;
        pixman_box32_t *e = pixman_region32_extents(&region);
        if (pixman_region32_not_empty(&region) &&
            (e->x1 < ct->x || e->y1 < ct->y || (int64_t)e->x2 > (int64_t)ct->x + ct->w ||
             (int64_t)e->y2 > (int64_t)ct->y + ct->h))
            abort(); /* the visible region left the content rectangle */

        uint32_t *px = pixman_image_get_data(canvas);
        for (int k = 0; k < CANVAS_W * CANVAS_H; k++)
            px[k] = BACKGROUND;
        /* Keep the scaled picture small enough for fuzzing speed. */
        if ((uint64_t)ct->w * ct->h > (1u << 22))
            continue;
        vr_composite_frame(canvas, pic, ct, &region);
        pixman_region32_subtract(&outside, &outside, &region);
        int n = 0;
        pixman_box32_t *b = pixman_region32_rectangles(&outside, &n);
        for (int r = 0; r < n; r++)
            for (int y = b[r].y1; y < b[r].y2; y++)
                for (int x = b[r].x1; x < b[r].x2; x++)
                    if (px[y * CANVAS_W + x] != BACKGROUND)
                        abort(); /* drew outside the visible region */
        pixman_region32_fini(&outside);
        pixman_region32_init_rect(&outside, 0, 0, CANVAS_W, CANVAS_H);
    }
    pixman_region32_fini(&region);
    pixman_region32_fini(&outside);
    if (canvas)
        pixman_image_unref(canvas);
    vr_client_destroy(c);
    return 0;
}
