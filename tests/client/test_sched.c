/*
 * The client's scheduler against a scripted guest in the same process, on a
 * fake clock: CLOCK maps timestamps to the guest clock, the PING/PONG offset
 * maps that to ours; frames wait in the jitter buffer until due, late ones
 * are dropped and counted, pause holds, a step shows the frame at the
 * CLOCK's pts, FLUSH discards, EOS shows the rest; the jitter buffer is
 * capped; --codecs (codec_mask) restricts the hello.
 * With "present": the headless presenter over the same session (damage,
 * visible region, hidden video, viewport scaling), pixels checked.
 * Usage: test_client_sched CLIP [present] (H.264 with B-frames; real decoding)
 */
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include <videoredir/client.h>

#include "../check.h"
#include "../conn_pump.h"
#include "clip.h"

#define AHEAD_US 7000000 /* the guest's clock is this far ahead of ours */

static struct vr_client *client;
static struct vr_conn *guest;
static uint64_t now = 2000000;
static struct vr_feedback fb;
static struct vr_reject rej;
static int n_presents, n_ends, n_rejects, n_hello_codecs;
static int64_t decoded_pts[512];
static int n_decoded;
static struct clip src;
static const char *path;

static uint64_t clock_fn(void *user) { return now; }

static void guest_msg(void *user, const struct vr_msg *msg)
{
    if (msg->type == VR_MSG_FEEDBACK)
        fb = msg->u.feedback;
    if (msg->type == VR_MSG_REJECT) {
        rej = msg->u.reject;
        n_rejects++;
    }
    if (msg->type == VR_MSG_HELLO)
        n_hello_codecs = (int)msg->u.hello.n_codecs;
    if (msg->type == VR_MSG_PING) { /* answered at once: round trip 0 */
        struct vr_msg pong = { .type = VR_MSG_PONG };
        pong.u.pong = (struct vr_pong){ .id = msg->u.ping.id, .ping_time_us = msg->u.ping.time_us,
                                        .time_us = now + AHEAD_US };
        vr_conn_send(guest, &pong);
    }
}

static void on_event(void *user, enum vr_client_event ev, uint32_t id)
{
    n_presents += ev == VR_CLIENT_EV_PRESENT;
    n_ends += ev == VR_CLIENT_EV_STREAM_END;
}

static void on_frame(void *user, uint32_t id, const AVFrame *f)
{
    if (n_decoded < 512)
        decoded_pts[n_decoded++] = f->pts;
}

static void pump(void)
{
    vr_test_pump(vr_client_conn(client), guest);
}

static void send(uint16_t type, uint32_t id, const void *body, size_t len)
{
    CHECK(vr_test_send_msg(guest, vr_client_conn(client), type, id, body, len) == 0, "send %s",
          vr_msg_type_name(type));
}

static void send_clock(int64_t pts, uint64_t guest_time, uint32_t rate)
{
    struct vr_clock k = { .pts = pts, .time_us = guest_time, .rate_q16 = rate };
    send(VR_MSG_CLOCK, 1, &k, sizeof(k));
}

/* Sends the next n packets of the clip; returns how many were sent. */
static int send_frames(int n)
{
    int sent = 0;
    struct vr_frame f;
    while (sent < n && clip_read(&src, &f) == 1) {
        f.send_time_us = now + AHEAD_US;
        send(VR_MSG_FRAME, 1, &f, sizeof(f));
        sent++;
    }
    return sent;
}

static struct vr_client_stream_stats st1(void)
{
    struct vr_client_stream_stats st = { 0 };
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (vr_client_stream_stats(client, i, &st) == 0 && st.stream_id == 1 && st.active)
            return st;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (vr_client_stream_stats(client, i, &st) == 0 && st.stream_id == 1)
            return st;
    memset(&st, 0, sizeof(st));
    return st;
}

static int64_t shown_pts(void)
{
    const AVFrame *f = vr_client_stream_frame(client, 0);
    return f ? f->pts : INT64_MIN;
}

static void session(const struct vr_client_config *cfg)
{
    struct vr_client_callbacks cb = { .frame = on_frame, .event = on_event, .clock = clock_fn };
    CHECK(vr_client_create(cfg, &cb, NULL, &client) == 0, "client");
    struct vr_conn_callbacks gcb = { .on_message = guest_msg };
    CHECK(vr_conn_create(NULL, &gcb, NULL, &guest) == 0, "guest conn");
    vr_client_channel_open(client);
    pump();
    struct vr_hello h = { .version_min = 1, .version_max = 1, .role = VR_ROLE_GUEST,
                          .flags = VR_HELLO_REPLY };
    strcpy(h.software, "sched-guest");
    send(VR_MSG_HELLO, 0, &h, sizeof(h));
    vr_client_tick(client); /* first ping, answered: offset known */
    pump();
}

static void end_session(void)
{
    vr_client_destroy(client);
    vr_conn_destroy(guest);
    client = NULL;
    guest = NULL;
}

/* Our clock time at which the frame with pts p is due, for a CLOCK (pts0 at
 * guest time g0, rate r), as clock.md defines it. */
static uint64_t due(int64_t p, int64_t pts0, uint64_t g0, double rate)
{
    double tb = (double)src.start.timebase_num / src.start.timebase_den;
    return (uint64_t)((double)g0 + (double)(p - pts0) * tb * 1e6 / rate - AHEAD_US);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_timing(void)
{
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE };
    session(&cfg);
    int64_t off = 0;
    CHECK(vr_client_clock_offset(client, &off, NULL) && off == AHEAD_US, "offset %lld",
          (long long)off);
    CHECK(clip_open(&src, path) == 0, "open %s", path);
    send(VR_MSG_STREAM_START, 1, &src.start, sizeof(src.start));

    /* The guest says: pts 0 is due 100 ms from now, and sends 20 frames ahead. */
    uint64_t g0 = now + AHEAD_US + 100000;
    send_clock(0, g0, 65536);
    CHECK(send_frames(20) == 20, "20 frames sent");
    struct vr_client_stream_stats st = st1();
    CHECK(st.has_clock && st.frames_decoded > 10, "clocked, %llu decoded",
          (unsigned long long)st.frames_decoded);
    CHECK(st.frames_presented == 0 && st.queue_depth == st.frames_decoded,
          "nothing shown early: %llu shown, %u queued", (unsigned long long)st.frames_presented,
          st.queue_depth);
    int64_t pts[512];
    int n = n_decoded;
    memcpy(pts, decoded_pts, sizeof(pts));
    qsort(pts, (size_t)n, sizeof(pts[0]), cmp_i64);
    CHECK(memcmp(pts, decoded_pts, (size_t)n * sizeof(pts[0])) == 0, "decoded in pts order");

    uint64_t t = vr_client_next_wakeup(client);
    CHECK(t == due(pts[0], 0, g0, 1), "wake-up at the first frame's due time: %llu vs %llu",
          (unsigned long long)t, (unsigned long long)due(pts[0], 0, g0, 1));
    now = t - 1;
    CHECK(vr_client_present(client, now) == 0 && vr_client_frame_due(client, 0, now) == NULL,
          "1 us early: not shown");
    now = t;
    CHECK(vr_client_frame_due(client, 0, now) != NULL, "due now");
    int ev = n_presents;
    CHECK(vr_client_present(client, now) == 1u, "slot 0 presented");
    CHECK(n_presents == ev + 1 && shown_pts() == pts[0], "first frame shown (pts %lld)",
          (long long)shown_pts());
    CHECK(vr_client_next_wakeup(client) == due(pts[1], 0, g0, 1), "next wake-up: second frame");

    /* We were away for three frame times: only the newest due frame shows,
     * the two before it are late. */
    now = due(pts[3], 0, g0, 1);
    vr_client_present(client, now);
    st = st1();
    CHECK(shown_pts() == pts[3], "newest due shown");
    CHECK(st.frames_late == 2 && st.frames_dropped == 2 && st.frames_presented == 2,
          "2 late: late %llu dropped %llu shown %llu", (unsigned long long)st.frames_late,
          (unsigned long long)st.frames_dropped, (unsigned long long)st.frames_presented);
    int64_t next_pts = pts[5];
    uint64_t shown_before = st.frames_presented;

    /* Pause: the CLOCK says pts[3] is shown; the rest is held, however long. */
    now = due(pts[3], 0, g0, 1) + 10000;
    send_clock(pts[3], now + AHEAD_US, 0);
    now += 5000000;
    CHECK(vr_client_present(client, now) == 0 && vr_client_next_wakeup(client) == UINT64_MAX,
          "paused: held");
    vr_client_tick(client);
    pump();
    st = st1();
    CHECK(st.frames_presented == shown_before && st.rate_q16 == 0 && st.queue_depth > 5,
          "paused: nothing shown, %u queued", st.queue_depth);
    CHECK(fb.dropped == 2 && fb.queue_depth == st.queue_depth, "feedback: dropped %u queue %u",
          fb.dropped, fb.queue_depth);

    /* Frame step while paused: the CLOCK's pts moves to pts[4], which shows at
     * once and alone; pts[5] and on stay held. */
    int ev_step = n_presents;
    send_clock(pts[4], now + AHEAD_US, 0);
    st = st1();
    CHECK(n_presents == ev_step + 1 && shown_pts() == pts[4] && st.frames_late == 2,
          "step: pts[4] shown (%lld), nothing dropped", (long long)shown_pts());
    CHECK(vr_client_present(client, now + 5000000) == 0 && vr_client_next_wakeup(client) == UINT64_MAX,
          "step: the rest held");

    /* Resume: pts[5] due 40 ms from now, at double speed. */
    uint64_t g1 = now + AHEAD_US + 40000;
    send_clock(next_pts, g1, 2 * 65536);
    CHECK(vr_client_next_wakeup(client) == due(pts[5], next_pts, g1, 2), "resume: wake-up");
    now = due(pts[5], next_pts, g1, 2);
    vr_client_present(client, now);
    CHECK(shown_pts() == pts[5], "resumed frame shown");
    uint64_t gap = due(pts[6], next_pts, g1, 2) - now;
    double tb = (double)src.start.timebase_num / src.start.timebase_den;
    CHECK(gap == (uint64_t)((pts[6] - pts[5]) * tb * 1e6 / 2), "2x: %llu us per frame",
          (unsigned long long)gap);
    st = st1();
    CHECK(st.frames_late == 2, "no drop on resume");

    /* Seek while paused: FLUSH discards the queue; the first picture after
     * it shows although paused; the rest is held. */
    int queued = (int)st.queue_depth;
    send(VR_MSG_FLUSH, 1, &(struct vr_flush){ 0 }, sizeof(struct vr_flush));
    st = st1();
    CHECK(st.queue_depth == 0 && st.frames_flushed == (uint64_t)queued, "flush: %d discarded",
          queued);
    CHECK(clip_rewind(&src, path) == 0, "rewind");
    send_clock(0, now + AHEAD_US, 0);
    int before = n_presents;
    send_frames(12);
    st = st1();
    CHECK(n_presents == before + 1 && shown_pts() == pts[0], "paused seek: one picture (%lld)",
          (long long)shown_pts());
    CHECK(st.queue_depth > 3 && vr_client_next_wakeup(client) == UINT64_MAX, "the rest held");

    /* Play, then EOS: the stream ends only after its last frame was shown. */
    uint64_t g2 = now + AHEAD_US + 50000;
    send_clock(0, g2, 65536);
    while (send_frames(4) > 0) /* stay about 10 frames ahead */
        for (int k = 0; k < 4 && st1().queue_depth > 10; k++) {
            now = vr_client_next_wakeup(client);
            vr_client_present(client, now);
        }
    struct vr_stream_stop stop = { .reason = VR_REASON_EOS };
    send(VR_MSG_STREAM_STOP, 1, &stop, sizeof(stop));
    st = st1();
    CHECK(vr_client_streams_ended(client) == 0 && n_ends == 0 && st.queue_depth > 5,
          "EOS: still %u to show", st.queue_depth);
    /* Not ended, so still counted: a program that leaves when no stream is
     * active must wait for it (videoredir-client --exit-at-eos). */
    CHECK(vr_client_streams_active(client) == 1, "EOS: still active while frames wait");
    int guard = 0;
    uint64_t w;
    while ((w = vr_client_next_wakeup(client)) != UINT64_MAX && guard++ < 200) {
        now = w;
        vr_client_present(client, now);
    }
    st = st1();
    CHECK(vr_client_streams_eos(client) == 1 && n_ends == 1 && st.ended && st.queue_depth == 0,
          "EOS: ended after the last frame (%d wake-ups)", guard);
    CHECK(shown_pts() == pts[0] || shown_pts() >= 0, "shown");
    CHECK(st.frames_late == 2, "every frame on time after the seek: late %llu",
          (unsigned long long)st.frames_late);
    clip_close(&src);
    end_session();
}

/* A stream without CLOCK shows each frame when decoded; a capped jitter
 * buffer drops its oldest frame when the guest runs too far ahead. */
static void test_no_clock_and_cap(void)
{
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE, .jitter_frames = 8 };
    session(&cfg);
    CHECK(clip_open(&src, path) == 0, "open");
    send(VR_MSG_STREAM_START, 1, &src.start, sizeof(src.start));
    send_frames(10);
    struct vr_client_stream_stats st = st1();
    CHECK(!st.has_clock && st.frames_presented == st.frames_decoded && st.queue_depth == 0,
          "no clock: %llu of %llu shown at once", (unsigned long long)st.frames_presented,
          (unsigned long long)st.frames_decoded);
    uint64_t dec0 = st.frames_decoded;
    send_clock(0, now + AHEAD_US + 60000000, 65536); /* a minute ahead */
    send_frames(30);
    st = st1();
    CHECK(st.queue_depth == 8, "capped at 8: %u", st.queue_depth);
    CHECK(st.frames_late == st.frames_decoded - dec0 - 8, "overflow counted: %llu",
          (unsigned long long)st.frames_late);
    /* Any other stop reason discards the queue and ends at once. */
    struct vr_stream_stop stop = { .reason = VR_REASON_USER };
    send(VR_MSG_STREAM_STOP, 1, &stop, sizeof(stop));
    st = st1();
    CHECK(st.ended && st.frames_flushed == 8 && vr_client_streams_ended(client) == 1,
          "stop: ended, queue discarded");
    clip_close(&src);
    end_session();
}

static void test_codec_mask(void)
{
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE, .codec_mask = 1u << VR_CODEC_VP9 };
    session(&cfg);
    CHECK(n_hello_codecs == 1, "hello offers only vp9: %d", n_hello_codecs);
    CHECK(clip_open(&src, path) == 0, "open");
    n_rejects = 0;
    send(VR_MSG_STREAM_START, 1, &src.start, sizeof(src.start));
    CHECK(n_rejects == 1 && rej.reason == VR_REASON_UNSUPPORTED, "h264 rejected: %s", rej.message);
    clip_close(&src);
    end_session();
}

#define MAGENTA 0x203848u /* the desktop: a colour the colour bars lack */

static uint32_t px(pixman_image_t *img, int x, int y)
{
    return pixman_image_get_data(img)[y * (pixman_image_get_stride(img) / 4) + x] & 0xffffffu;
}

/* No pixel of this clip's frames (colour bars) has the desktop's colour:
 * it tells desktop from video. Counts desktop pixels in a rectangle. */
static int magenta_in(pixman_image_t *img, int x0, int y0, int w, int h)
{
    int n = 0;
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++)
            n += px(img, x, y) == MAGENTA;
    return n;
}

static void send_region(const struct vr_rect *r, uint32_t n)
{
    struct vr_region *reg = calloc(1, sizeof(*reg));
    reg->n_rects = n;
    if (n)
        memcpy(reg->rects, r, n * sizeof(*r));
    send(VR_MSG_REGION, 1, reg, sizeof(*reg));
    free(reg);
}

static void test_presenter(void)
{
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE };
    session(&cfg);
    CHECK(clip_open(&src, path) == 0, "open");
    /* Desktop 800x600 of one colour. */
    pixman_image_t *desk = pixman_image_create_bits(PIXMAN_x8r8g8b8, 800, 600, NULL, 0);
    for (int i = 0; i < 800 * 600; i++)
        pixman_image_get_data(desk)[i] = MAGENTA;
    struct vr_presenter *p = NULL;
    CHECK(vr_headless_create(800, 600, desk, &p) == 0, "headless");
    pixman_image_t *img = vr_headless_image(p);
    CHECK(vr_presenter_sync(p, client) == 0 && p->redraws == 1, "first sync draws the desktop");
    CHECK(magenta_in(img, 0, 0, 800, 600) == 800 * 600, "all desktop");

    send(VR_MSG_STREAM_START, 1, &src.start, sizeof(src.start));
    struct vr_geometry g = { .window = { 100, 100, 320, 180 }, .content = { 100, 100, 320, 180 } };
    send(VR_MSG_GEOMETRY, 1, &g, sizeof(g));
    /* A window covers the right half of the video: visible is the left half. */
    struct vr_rect left = { 100, 100, 160, 180 };
    send_region(&left, 1);
    send_frames(10); /* no CLOCK: shown as decoded */
    CHECK(vr_presenter_sync(p, client) == 0, "sync");
    CHECK(magenta_in(img, 100, 100, 160, 180) == 0, "visible part: video");
    CHECK(magenta_in(img, 260, 100, 160, 180) == 160 * 180, "covered part: desktop");
    CHECK(magenta_in(img, 0, 0, 800, 100) == 800 * 100, "above: desktop");

    /* A new frame damages (and draws) only the visible region. */
    uint64_t drawn = p->pixels_drawn;
    send_frames(2);
    uint64_t r0 = p->redraws;
    vr_presenter_sync(p, client);
    CHECK(p->redraws == r0 + 1 && p->pixels_drawn - drawn <= 2 * 160 * 180 &&
              (p->pixels_drawn - drawn) % (160 * 180) == 0,
          "new frame: %llu pixels drawn", (unsigned long long)(p->pixels_drawn - drawn));

    /* 64 visible rectangles (8x8 checkerboard of 20x10 cells, 2 per cell). */
    struct vr_rect cells[64];
    int n = 0;
    for (int y = 0; y < 16 && n < 64; y++)
        for (int x = 0; x < 16 && n < 64; x++)
            if ((x + y) % 2 == 0)
                cells[n++] = (struct vr_rect){ 100 + x * 20, 100 + y * 11, 20, 11 };
    send_region(cells, 64);
    drawn = p->pixels_drawn;
    vr_presenter_sync(p, client);
    CHECK(magenta_in(img, 100, 100, 20, 11) == 0 && magenta_in(img, 120, 100, 20, 11) == 20 * 11 &&
              magenta_in(img, 120, 111, 20, 11) == 0,
          "checkerboard: video in its cells, desktop between");
    send_frames(1);
    drawn = p->pixels_drawn;
    vr_presenter_sync(p, client);
    CHECK(p->pixels_drawn - drawn == 64 * 20 * 11 || p->pixels_drawn == drawn,
          "64 rects: %llu pixels drawn per frame", (unsigned long long)(p->pixels_drawn - drawn));

    /* Hidden (empty region): the desktop comes back; later frames are still
     * decoded and shown by the client but draw nothing. */
    send_region(NULL, 0);
    vr_presenter_sync(p, client);
    CHECK(magenta_in(img, 100, 100, 320, 180) == 320 * 180, "hidden: desktop");
    struct vr_client_stream_stats st = st1();
    uint64_t pres = st.frames_presented;
    r0 = p->redraws;
    send_frames(4);
    vr_presenter_sync(p, client);
    st = st1();
    CHECK(st.frames_presented > pres && p->redraws == r0, "hidden: decoded (%llu) but not drawn",
          (unsigned long long)(st.frames_presented - pres));
    CHECK(p->slots[0].frame && p->slots[0].frame->pts == shown_pts(), "hidden: newest frame kept");

    /* Visible again and the output scaled to half size, letterboxed: the
     * video reappears at once with the newest frame, at the mapped place. */
    send_region(&g.content, 1);
    struct vr_viewport vp;
    struct vr_rect desk_rect = { 0, 0, 800, 600 };
    vr_viewport_fit(&vp, &desk_rect, 800, 400, true); /* 533x400 at x=133 */
    vr_presenter_set_viewport(p, &vp);
    vr_presenter_sync(p, client);
    CHECK(vp.dst.x == 133 && vp.dst.w == 533, "fit %d %u", vp.dst.x, vp.dst.w);
    /* Content 100,100 320x180 -> x 133+67..133+280, y 67..187. */
    CHECK(magenta_in(img, 201, 68, 210, 118) == 0, "scaled video at its mapped place");
    CHECK(magenta_in(img, 133, 0, 60, 60) == 60 * 60, "scaled desktop around it");
    CHECK(px(img, 10, 10) == 0 && px(img, 790, 390) == 0, "pillarbox bars black");
    CHECK(vr_write_png(img, "/tmp/vr-present-test.png") == 0, "png");

    /* Stream gone: desktop again. */
    struct vr_stream_stop stop = { .reason = VR_REASON_USER };
    send(VR_MSG_STREAM_STOP, 1, &stop, sizeof(stop));
    vr_presenter_sync(p, client);
    CHECK(magenta_in(img, 201, 68, 210, 118) == 210 * 118 && !p->slots[0].live, "gone: desktop");
    vr_presenter_destroy(p);
    pixman_image_unref(desk);
    clip_close(&src);
    end_session();
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3)
        return 2;
    path = argv[1];
    av_log_set_level(AV_LOG_QUIET);
    if (argc == 3 && !strcmp(argv[2], "present")) {
        test_presenter();
        return CHECK_DONE();
    }
    test_timing();
    test_no_clock_and_cap();
    test_codec_mask();
    return CHECK_DONE();
}
