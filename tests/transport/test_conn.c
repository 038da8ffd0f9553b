/*
 * vr_conn tests: two conns back to back (out_peek/consume -> feed) with
 * partial drains, sequence numbering and tracking, flow control, caps, the
 * tap, errors in the input, and callbacks that reset or destroy the conn.
 */
#include <errno.h>

#include "videoredir/transport.h"
#include "tutil.h"

/* What one side saw. */
struct side {
    struct vr_conn *c;
    struct t_buf tap_in, tap_out; /* raw bytes seen by the tap */
    struct t_buf frames;          /* frame data received, concatenated */
    size_t msgs, frames_n, gaps, errors, unknown;
    uint32_t last_gap;
    int last_err;
    uint16_t last_err_type;
    uint32_t next_seq[8];         /* per stream id < 8: next seq expected */
    int seq_errors;
    /* Behaviour switches for the callback tests. */
    bool reset_on_hello, destroy_on_ping, send_pong;
};

static void on_message(void *user, const struct vr_msg *m)
{
    struct side *s = user;
    s->msgs++;
    switch (m->type) {
    case VR_MSG_STREAM_START:
        if (m->stream_id < 8)
            s->next_seq[m->stream_id] = 0;
        break;
    case VR_MSG_FRAME:
        s->frames_n++;
        t_buf_add(&s->frames, m->u.frame.data, m->u.frame.data_len);
        if (m->stream_id < 8) {
            if (m->u.frame.seq != s->next_seq[m->stream_id])
                s->seq_errors++;
            s->next_seq[m->stream_id] = m->u.frame.seq + 1;
        }
        break;
    case VR_MSG_HELLO:
        if (s->reset_on_hello)
            vr_conn_reset(s->c);
        break;
    case VR_MSG_PING:
        if (s->send_pong) {
            struct vr_msg p = { .type = VR_MSG_PONG };
            p.u.pong.id = m->u.ping.id;
            p.u.pong.ping_time_us = m->u.ping.time_us;
            p.u.pong.time_us = vr_time_us();
            CHECK(vr_conn_send(s->c, &p) == 0, "pong from a callback");
            /* Feeding from a callback is refused. */
            CHECK(vr_conn_feed(s->c, (const uint8_t *)"x", 1) == -EBUSY, "re-entrant feed");
        }
        if (s->destroy_on_ping) {
            vr_conn_destroy(s->c);
            s->c = NULL;
        }
        break;
    default:
        break;
    }
}

static void on_gap(void *user, uint32_t stream_id, uint32_t missing)
{
    struct side *s = user;
    s->gaps++;
    s->last_gap = missing;
}

static void on_error(void *user, int err, uint16_t type, uint32_t stream_id)
{
    struct side *s = user;
    s->errors++;
    s->last_err = err;
    s->last_err_type = type;
    if (err == -ENOMSG)
        s->unknown++;
}

static void tap(void *user, enum vr_direction dir, const uint8_t *raw, size_t len)
{
    struct side *s = user;
    t_buf_add(dir == VR_DIR_IN ? &s->tap_in : &s->tap_out, raw, len);
}

static const struct vr_conn_callbacks cbs = { on_message, on_gap, on_error };

static void side_init(struct side *s, const struct vr_conn_config *cfg)
{
    memset(s, 0, sizeof(*s));
    CHECK(vr_conn_create(cfg, &cbs, s, &s->c) == 0, "create");
    vr_conn_set_tap(s->c, tap, s);
}

static void side_fini(struct side *s)
{
    vr_conn_destroy(s->c);
    free(s->tap_in.p);
    free(s->tap_out.p);
    free(s->frames.p);
    memset(s, 0, sizeof(*s));
}

/* Moves up to max bytes from a to b in pieces of random size. */
static size_t pump(struct t_rng *r, struct side *a, struct side *b, size_t max)
{
    size_t moved = 0;
    while (moved < max) {
        const uint8_t *d;
        size_t n = vr_conn_out_peek(a->c, &d);
        if (n == 0)
            break;
        size_t k = t_rng_range(r, 1, n < 100000 ? (uint32_t)n : 100000u);
        if (k > max - moved)
            k = max - moved;
        CHECK(vr_conn_feed(b->c, d, k) == 0, "feed");
        vr_conn_out_consume(a->c, k);
        moved += k;
    }
    return moved;
}

static void test_round_trip(uint64_t seed)
{
    struct t_rng r;
    t_rng_seed(&r, seed);
    struct vr_conn_config cfg = { .max_out_bytes = 64u << 20 };
    struct side g, c;
    side_init(&g, &cfg);
    side_init(&c, &cfg);

    struct t_buf sent_frames = { 0 };
    size_t sent_msgs = 0, sent_frames_n = 0;
    /* Streams 1..3 are started first so the receiver's seq check is strict. */
    for (uint32_t sid = 1; sid <= 3; sid++) {
        struct vr_msg m;
        do
            t_random_msg(&r, &m, 0);
        while (m.type != VR_MSG_STREAM_START);
        m.stream_id = sid;
        CHECK(vr_conn_send(g.c, &m) == 0, "start");
        sent_msgs++;
    }
    for (int i = 0; i < 2000; i++) {
        struct vr_msg m;
        t_random_msg(&r, &m, 25);
        if (m.type == VR_MSG_FRAME) {
            m.u.frame.seq = 12345; /* ignored: the conn numbers frames */
            t_buf_add(&sent_frames, m.u.frame.data, m.u.frame.data_len);
            sent_frames_n++;
        }
        int ret = vr_conn_send(g.c, &m);
        CHECK(ret == 0, "send %s: %d", vr_msg_type_name(m.type), ret);
        sent_msgs++;
        /* The other way round too, a little. */
        if (i % 50 == 0) {
            struct vr_msg fb = { .type = VR_MSG_FEEDBACK, .stream_id = 1 };
            fb.u.feedback.bytes_received = i;
            CHECK(vr_conn_send(c.c, &fb) == 0, "feedback");
            pump(&r, &c, &g, SIZE_MAX);
        }
        /* Partial drains: leave bytes queued between sends. */
        if (t_rng_range(&r, 0, 3) == 0)
            pump(&r, &g, &c, t_rng_range(&r, 1, 200000));
    }
    pump(&r, &g, &c, SIZE_MAX);
    CHECK(vr_conn_out_queued(g.c) == 0, "queue drained");

    CHECK(c.msgs == sent_msgs, "received %zu of %zu", c.msgs, sent_msgs);
    CHECK(c.frames_n == sent_frames_n, "frames %zu of %zu", c.frames_n, sent_frames_n);
    CHECK(c.frames.len == sent_frames.len &&
              memcmp(c.frames.p, sent_frames.p, sent_frames.len) == 0,
          "frame data differs");
    CHECK(c.seq_errors == 0 && c.gaps == 0 && c.errors == 0, "seq %d gaps %zu errors %zu",
          c.seq_errors, c.gaps, c.errors);
    CHECK(g.tap_out.len == c.tap_in.len && memcmp(g.tap_out.p, c.tap_in.p, c.tap_in.len) == 0,
          "tap out != tap in");
    CHECK(g.msgs == 40, "guest got %zu feedbacks", g.msgs);

    struct vr_conn_stats gs, cs;
    vr_conn_get_stats(g.c, &gs);
    vr_conn_get_stats(c.c, &cs);
    CHECK(gs.bytes_out == cs.bytes_in && gs.bytes_out == g.tap_out.len, "byte counts");
    CHECK(gs.msgs_out == sent_msgs && cs.msgs_in == sent_msgs, "msg counts");
    CHECK(cs.bad_msgs == 0 && cs.unknown_msgs == 0 && cs.resync_bytes == 0 && cs.frames_lost == 0,
          "clean stats");
    free(sent_frames.p);
    side_fini(&g);
    side_fini(&c);
}

/* Encodes m into the buffer (seq as given, no conn involved). */
static size_t raw_msg(uint8_t *buf, size_t cap, const struct vr_msg *m)
{
    long n = vr_msg_encode(m, buf, cap);
    CHECK(n > 0, "encode %ld", n);
    return n > 0 ? (size_t)n : 0;
}

static void feed_frame(struct side *s, uint32_t sid, uint32_t seq)
{
    static const uint8_t au[3] = { 1, 2, 3 };
    struct vr_msg m = { .type = VR_MSG_FRAME, .stream_id = sid };
    m.u.frame = (struct vr_frame){ .seq = seq, .pts = 0, .dts = INT64_MIN, .data_len = 3,
                                   .data = au };
    uint8_t buf[128];
    size_t n = raw_msg(buf, sizeof(buf), &m);
    CHECK(vr_conn_feed(s->c, buf, n) == 0, "feed frame");
}

static void feed_start(struct side *s, uint32_t sid)
{
    struct vr_msg m = { .type = VR_MSG_STREAM_START, .stream_id = sid };
    m.u.start = (struct vr_stream_start){ .codec = VR_CODEC_VP9, .width = 64, .height = 64,
                                          .timebase_num = 1, .timebase_den = 1000 };
    uint8_t buf[256];
    size_t n = raw_msg(buf, sizeof(buf), &m);
    CHECK(vr_conn_feed(s->c, buf, n) == 0, "feed start");
}

static void test_seq_tracking(void)
{
    struct side s;
    side_init(&s, NULL);
    feed_start(&s, 1);
    feed_frame(&s, 1, 0);
    feed_frame(&s, 1, 1);
    feed_frame(&s, 1, 3);
    CHECK(s.gaps == 1 && s.last_gap == 1, "gap of 1: %zu/%u", s.gaps, s.last_gap);
    CHECK(s.frames_n == 3, "frames delivered %zu", s.frames_n);
    feed_frame(&s, 1, 3);
    feed_frame(&s, 1, 2);
    CHECK(s.frames_n == 3, "duplicate and old frame dropped");
    CHECK(s.errors == 2 && s.last_err == -EALREADY && s.last_err_type == VR_MSG_FRAME,
          "duplicates reported: %zu %d", s.errors, s.last_err);
    feed_frame(&s, 1, 10);
    CHECK(s.gaps == 2 && s.last_gap == 6, "gap of 6");
    /* Streams are independent. */
    feed_frame(&s, 2, 500);
    feed_frame(&s, 2, 501);
    CHECK(s.gaps == 2, "stream 2 untouched");
    /* Stream start resets numbering. */
    feed_start(&s, 1);
    feed_frame(&s, 1, 0);
    CHECK(s.gaps == 2 && s.frames_n == 7, "restart accepted seq 0");
    /* Wrap-around through the conn. */
    feed_start(&s, 3);
    feed_frame(&s, 3, 0xffffffffu);
    feed_frame(&s, 3, 0);
    CHECK(s.gaps == 2, "no false gap at wrap");
    struct vr_conn_stats st;
    vr_conn_get_stats(s.c, &st);
    CHECK(st.frames_lost == 7, "frames_lost %llu", (unsigned long long)st.frames_lost);
    CHECK(st.bad_msgs == 0, "duplicates are not bad messages");

    /* Many streams: tracking is capped; an evicted stream starts afresh. */
    for (uint32_t sid = 100; sid < 300; sid++)
        feed_frame(&s, sid, 7);
    size_t gaps = s.gaps;
    feed_frame(&s, 2, 900);
    CHECK(s.gaps == gaps, "evicted stream 2 takes any seq");
    side_fini(&s);

    /* Sending side numbering. */
    struct side g, c;
    side_init(&g, NULL);
    side_init(&c, NULL);
    struct t_rng r;
    t_rng_seed(&r, 3);
    static const uint8_t au[4] = { 9, 9, 9, 9 };
    struct vr_msg f = { .type = VR_MSG_FRAME, .stream_id = 5 };
    f.u.frame = (struct vr_frame){ .seq = 77, .pts = 0, .dts = 0, .data_len = 4, .data = au };
    for (int i = 0; i < 3; i++)
        CHECK(vr_conn_send(g.c, &f) == 0, "send");
    f.stream_id = 6;
    CHECK(vr_conn_send(g.c, &f) == 0, "send");
    pump(&r, &g, &c, SIZE_MAX);
    CHECK(c.next_seq[5] == 3 && c.next_seq[6] == 1 && c.seq_errors == 0, "seq 0,1,2 and 0");
    struct vr_msg st5 = { .type = VR_MSG_STREAM_START, .stream_id = 5 };
    st5.u.start = (struct vr_stream_start){ .codec = VR_CODEC_AV1, .width = 8, .height = 8,
                                            .timebase_num = 1, .timebase_den = 30 };
    CHECK(vr_conn_send(g.c, &st5) == 0, "start");
    f.stream_id = 5;
    CHECK(vr_conn_send(g.c, &f) == 0, "send");
    pump(&r, &g, &c, SIZE_MAX);
    CHECK(c.next_seq[5] == 1 && c.seq_errors == 0, "numbering restarted at 0");
    /* An invalid frame is refused and does not take a number. */
    f.u.frame.data_len = 0;
    CHECK(vr_conn_send(g.c, &f) == -EINVAL, "empty frame refused");
    f.u.frame.data_len = 4;
    CHECK(vr_conn_send(g.c, &f) == 0, "send");
    pump(&r, &g, &c, SIZE_MAX);
    CHECK(c.next_seq[5] == 2 && c.seq_errors == 0 && c.gaps == 0, "no hole after refusal");
    side_fini(&g);
    side_fini(&c);
}

static void test_flow_control(void)
{
    struct vr_conn_config cfg = { .window_bytes = 100000 };
    struct side g, c;
    side_init(&g, &cfg);
    side_init(&c, NULL);
    CHECK(vr_conn_window_available(g.c) == 100000, "empty window");

    static uint8_t data[9000];
    struct vr_msg f = { .type = VR_MSG_FRAME, .stream_id = 1 };
    f.u.frame = (struct vr_frame){ .pts = 0, .dts = 0, .data_len = sizeof(data), .data = data };
    long fsize = vr_msg_encoded_size(&f);
    int sent = 0;
    /* The sender's rule: a frame goes out while it fits in the window. */
    while (vr_conn_window_available(g.c) >= (size_t)fsize) {
        CHECK(vr_conn_send(g.c, &f) == 0, "send");
        sent++;
    }
    CHECK(sent == (int)(100000 / fsize), "sent %d frames of %ld", sent, fsize);
    size_t in_flight = (size_t)sent * (size_t)fsize;
    CHECK(vr_conn_window_available(g.c) == 100000 - in_flight, "available %zu",
          vr_conn_window_available(g.c));

    /* Bytes leave the queue but are not acked yet: the window stays full. */
    struct t_rng r;
    t_rng_seed(&r, 11);
    pump(&r, &g, &c, SIZE_MAX);
    CHECK(vr_conn_window_available(g.c) == 100000 - in_flight, "draining does not open it");

    /* The receiver acks what it got (its bytes_in): the window opens. */
    struct vr_conn_stats cs;
    vr_conn_get_stats(c.c, &cs);
    CHECK(cs.bytes_in == in_flight, "peer got everything");
    vr_conn_ack(g.c, cs.bytes_in / 2);
    CHECK(vr_conn_window_available(g.c) == 100000 - (in_flight - cs.bytes_in / 2), "half ack");
    vr_conn_ack(g.c, cs.bytes_in);
    CHECK(vr_conn_window_available(g.c) == 100000, "full ack");
    vr_conn_ack(g.c, cs.bytes_in + 5000);
    CHECK(vr_conn_window_available(g.c) == 100000, "over-ack clamps");
    struct vr_conn_stats gs;
    vr_conn_get_stats(g.c, &gs);
    CHECK(gs.acked == cs.bytes_in + 5000, "stats.acked");

    /* Non-frame messages count too: the peer's byte count includes them. */
    vr_conn_ack(g.c, cs.bytes_in);
    struct vr_msg ping = { .type = VR_MSG_PING };
    long psize = vr_msg_encoded_size(&ping);
    vr_conn_send(g.c, &ping);
    CHECK(vr_conn_window_available(g.c) == 100000 - (size_t)psize, "ping in flight");

    /* Reset: new session, nothing in flight; stats kept. */
    vr_conn_reset(g.c);
    CHECK(vr_conn_window_available(g.c) == 100000 && vr_conn_out_queued(g.c) == 0, "reset");
    vr_conn_get_stats(g.c, &gs);
    CHECK(gs.msgs_out == (uint64_t)sent + 1, "stats survive reset");
    side_fini(&g);
    side_fini(&c);
}

/* Sends a STREAM_START with this time base and nominal rate on s. */
static long send_start(struct side *s, uint32_t sid, uint32_t tb_den, uint32_t fps_num)
{
    struct vr_msg m = { .type = VR_MSG_STREAM_START, .stream_id = sid };
    m.u.start = (struct vr_stream_start){ .codec = VR_CODEC_H264, .width = 64, .height = 64,
                                          .timebase_num = 1, .timebase_den = tb_den,
                                          .fps_num = fps_num, .fps_den = fps_num ? 1 : 0 };
    CHECK(vr_conn_send(s->c, &m) == 0, "start");
    return vr_msg_encoded_size(&m);
}

/* Sends frames of sid while the window allows, at most max; returns the
 * number sent. dts advances by step, duration is dur (0: unknown). */
static int send_while_allowed(struct side *s, uint32_t sid, uint32_t len, int64_t *dts,
                              int64_t step, int64_t dur, int max)
{
    static uint8_t data[4096];
    struct vr_msg f = { .type = VR_MSG_FRAME, .stream_id = sid };
    int n = 0;
    for (; n < max; n++) {
        f.u.frame = (struct vr_frame){ .pts = *dts, .dts = *dts, .duration = dur,
                                       .data_len = len, .data = data };
        if (!vr_conn_window_allows(s->c, sid, (size_t)vr_msg_encoded_size(&f)))
            break;
        CHECK(vr_conn_send(s->c, &f) == 0, "send");
        *dts += step;
    }
    return n;
}

static void test_time_window(void)
{
    struct vr_conn_config cfg = { .window_bytes = 8u << 20 }; /* window_us: default 1 s */
    struct side g, c;
    side_init(&g, &cfg);
    side_init(&c, NULL);
    struct t_rng r;
    t_rng_seed(&r, 5);

    /* No STREAM_START here: no time base, bytes only. */
    int64_t dts = 0;
    CHECK(send_while_allowed(&g, 3, 100, &dts, 3600, 3600, 50) == 50, "untimed stream: bytes only");
    CHECK(vr_conn_in_flight_us(g.c, 3) == 0, "untimed: no time in flight");
    vr_conn_reset(g.c);

    /* 40 ms frames (duration in a 1/90000 time base): 25 make one second. */
    long start_size = send_start(&g, 1, 90000, 0);
    dts = 0;
    int n = send_while_allowed(&g, 1, 1000, &dts, 3600, 3600, 100);
    CHECK(n == 25, "one second of 40 ms frames: %d", n);
    CHECK(vr_conn_in_flight_us(g.c, 1) == 1000000, "in flight %llu us",
          (unsigned long long)vr_conn_in_flight_us(g.c, 1));
    CHECK(vr_conn_window_available(g.c) > 0, "the byte window is not what stops it");

    /* The peer acknowledges 5 whole frames and half of the sixth. */
    struct vr_msg f = { .type = VR_MSG_FRAME, .stream_id = 1 };
    f.u.frame = (struct vr_frame){ .data_len = 1000, .data = (const uint8_t *)"" };
    long fsize = vr_msg_encoded_size(&f);
    pump(&r, &g, &c, SIZE_MAX);
    vr_conn_ack(g.c, (uint64_t)start_size + 5 * (uint64_t)fsize + (uint64_t)fsize / 2);
    CHECK(vr_conn_in_flight_us(g.c, 1) == 800000, "a frame counts until its last byte is acked");
    n = send_while_allowed(&g, 1, 1000, &dts, 3600, 3600, 100);
    CHECK(n == 5, "5 more fit: %d", n);

    /* Another stream has its own second (here from its frame rate: 25 fps,
     * frames without duration). */
    send_start(&g, 2, 1000, 25);
    int64_t dts2 = 0;
    n = send_while_allowed(&g, 2, 500, &dts2, 40, 0, 100);
    CHECK(n == 25 && vr_conn_in_flight_us(g.c, 2) == 1000000, "stream 2 from its rate: %d", n);

    /* Everything acknowledged: nothing in flight. */
    pump(&r, &g, &c, SIZE_MAX);
    struct vr_conn_stats cs;
    vr_conn_get_stats(c.c, &cs);
    CHECK(cs.bytes_consumed == cs.bytes_in, "receiver handled all it got");
    vr_conn_ack(g.c, cs.bytes_consumed);
    CHECK(vr_conn_in_flight_us(g.c, 1) == 0 && vr_conn_in_flight_us(g.c, 2) == 0, "all retired");

    /* No duration and no rate: the dts step (here 20 ms). */
    vr_conn_reset(g.c);
    send_start(&g, 4, 1000, 0);
    dts = 0;
    n = send_while_allowed(&g, 4, 100, &dts, 20, 0, 100);
    /* The first frame's length is unknown (0): 1 + 50 frames. */
    CHECK(n == 51, "dts steps of 20 ms: %d", n);

    /* A frame longer than the window goes when none is in flight, then
     * holds the window until it is acknowledged (its length is capped at
     * one window, so one ack opens it again). */
    vr_conn_reset(g.c);
    vr_conn_reset(c.c);
    start_size = send_start(&g, 5, 1000, 0);
    dts = 0;
    n = send_while_allowed(&g, 5, 100, &dts, 5000, 5000, 10);
    CHECK(n == 1 && vr_conn_in_flight_us(g.c, 5) == 1000000, "a 5 s frame alone: %d", n);
    vr_conn_get_stats(c.c, &cs);
    uint64_t base = cs.bytes_consumed; /* stats survive a reset */
    pump(&r, &g, &c, SIZE_MAX);
    vr_conn_get_stats(c.c, &cs);
    vr_conn_ack(g.c, cs.bytes_consumed - base);
    n = send_while_allowed(&g, 5, 100, &dts, 5000, 5000, 10);
    CHECK(n == 1, "next one after the ack: %d", n);

    /* The byte window still bounds a high bitrate: 4000-byte frames of
     * 1 ms against a 20000-byte window. */
    side_fini(&g);
    struct vr_conn_config small = { .window_bytes = 20000 };
    side_init(&g, &small);
    start_size = send_start(&g, 1, 1000, 0);
    dts = 0;
    n = send_while_allowed(&g, 1, 4000, &dts, 1, 1, 100);
    f.u.frame.data_len = 4000;
    fsize = vr_msg_encoded_size(&f);
    CHECK(n == (int)((20000 - start_size) / fsize), "bytes bind first: %d", n);

    /* At most 1024 frames in flight whatever their durations. */
    side_fini(&g);
    side_init(&g, &cfg);
    send_start(&g, 1, 1000000, 0);
    dts = 0;
    n = send_while_allowed(&g, 1, 1, &dts, 10, 10, 5000);
    CHECK(n == 1024, "frame cap: %d", n);
    side_fini(&g);
    side_fini(&c);
}

/* bytes_consumed: whole messages handled, not the bytes behind them. */
static uint64_t consumed_in_cb;
static void consumed_cb(void *user, const struct vr_msg *m)
{
    (void)m;
    struct vr_conn_stats st;
    vr_conn_get_stats(*(struct vr_conn **)user, &st);
    consumed_in_cb = st.bytes_consumed;
}

static void test_bytes_consumed(void)
{
    struct vr_conn *rx;
    struct vr_conn_callbacks cb = { .on_message = consumed_cb };
    CHECK(vr_conn_create(NULL, &cb, &rx, &rx) == 0, "create");
    uint8_t buf[256];
    struct vr_msg p = { .type = VR_MSG_PING };
    size_t n = raw_msg(buf, sizeof(buf), &p);
    CHECK(n > 0 && 2 * n <= sizeof(buf), "ping size");
    memcpy(buf + n, buf, n);
    /* One and a half messages in one chunk: inside the callback the first
     * one counts, the half does not. */
    CHECK(vr_conn_feed(rx, buf, n + n / 2) == 0, "feed");
    struct vr_conn_stats st;
    vr_conn_get_stats(rx, &st);
    CHECK(consumed_in_cb == n && st.bytes_consumed == n && st.bytes_in == n + n / 2,
          "consumed %llu in the callback, %llu after", (unsigned long long)consumed_in_cb,
          (unsigned long long)st.bytes_consumed);
    CHECK(vr_conn_feed(rx, buf + n + n / 2, n - n / 2) == 0, "feed rest");
    vr_conn_get_stats(rx, &st);
    CHECK(consumed_in_cb == 2 * n && st.bytes_consumed == 2 * n, "completed from the reassembler");
    /* Garbage skipped counts as handled. */
    memset(buf, 0x55, 64);
    CHECK(vr_conn_feed(rx, buf, 64) == 0, "garbage");
    vr_conn_get_stats(rx, &st);
    CHECK(st.bytes_consumed == st.bytes_in, "garbage consumed");
    vr_conn_destroy(rx);
}

static void test_out_cap(void)
{
    struct vr_conn_config cfg = { .max_out_bytes = 20000 };
    struct side g;
    side_init(&g, &cfg);
    static uint8_t data[60000];
    struct vr_msg f = { .type = VR_MSG_FRAME, .stream_id = 1 };
    f.u.frame = (struct vr_frame){ .pts = 0, .dts = 0, .data_len = 3000, .data = data };
    long fsize = vr_msg_encoded_size(&f);
    int n = 0, ret;
    while ((ret = vr_conn_send(g.c, &f)) == 0)
        n++;
    CHECK(ret == -ENOBUFS, "cap hit: %d", ret);
    CHECK(n == (int)(20000 / fsize) && vr_conn_out_queued(g.c) == (size_t)n * (size_t)fsize,
          "%d frames, %zu queued", n, vr_conn_out_queued(g.c));

    /* Drain; a frame over the whole cap goes out alone. */
    const uint8_t *d;
    size_t k;
    while ((k = vr_conn_out_peek(g.c, &d)) > 0)
        vr_conn_out_consume(g.c, k);
    CHECK(vr_conn_out_queued(g.c) == 0, "drained");
    f.u.frame.data_len = sizeof(data);
    CHECK(vr_conn_send(g.c, &f) == 0, "big frame on an empty queue");
    CHECK(vr_conn_send(g.c, &f) == -ENOBUFS, "but not a second one");
    k = vr_conn_out_peek(g.c, &d);
    CHECK(k == vr_conn_out_queued(g.c) && k > sizeof(data), "one contiguous chunk of %zu", k);

    /* Consuming more than queued is harmless. */
    vr_conn_out_consume(g.c, k + 1000);
    CHECK(vr_conn_out_queued(g.c) == 0 && vr_conn_out_peek(g.c, &d) == 0, "empty");
    CHECK(vr_conn_send(g.c, NULL) == -EINVAL, "NULL msg");
    struct vr_msg bad = { .type = 0x7777 };
    CHECK(vr_conn_send(g.c, &bad) < 0, "unknown type refused");
    CHECK(vr_conn_out_queued(g.c) == 0, "nothing queued by failures");
    side_fini(&g);
}

static void test_bad_input(void)
{
    struct side s;
    side_init(&s, NULL);
    uint8_t buf[512];
    size_t n = 0;

    /* Unknown type: skipped by length, reported, next message fine. */
    static const uint8_t unknown[21] = { 'V', 'R', 'D', 'R', 1, 0, 0x77, 0x77, 4, 0, 0, 0,
                                         5, 0, 0, 0, 1, 2, 3, 4, 5 };
    memcpy(buf, unknown, sizeof(unknown));
    n = sizeof(unknown);
    /* Malformed: FLUSH with reserved flags set. */
    struct vr_msg fl = { .type = VR_MSG_FLUSH, .stream_id = 1 };
    size_t k = raw_msg(buf + n, sizeof(buf) - n, &fl);
    buf[n + VR_HEADER_SIZE] = 1;
    n += k;
    /* Garbage, then a ping. */
    memcpy(buf + n, "garbage!", 8);
    n += 8;
    struct vr_msg ping = { .type = VR_MSG_PING, .u.ping = { 42, 43 } };
    n += raw_msg(buf + n, sizeof(buf) - n, &ping);

    for (size_t i = 0; i < n; i++) /* byte by byte: the slow path */
        CHECK(vr_conn_feed(s.c, buf + i, 1) == 0, "feed");
    struct vr_conn_stats st;
    vr_conn_get_stats(s.c, &st);
    CHECK(s.unknown == 1 && st.unknown_msgs == 1, "unknown counted");
    CHECK(st.bad_msgs == 2, "malformed + bad header: %llu", (unsigned long long)st.bad_msgs);
    CHECK(st.resync_bytes == 8, "resync %llu", (unsigned long long)st.resync_bytes);
    CHECK(s.msgs == 1 && st.msgs_in == 1, "the ping arrived");
    CHECK(s.tap_in.len == n - 8, "tap saw every framed message");

    /* The same in one piece: the in-place path. */
    struct side t;
    side_init(&t, NULL);
    CHECK(vr_conn_feed(t.c, buf, n) == 0, "feed");
    struct vr_conn_stats st2;
    vr_conn_get_stats(t.c, &st2);
    CHECK(st2.unknown_msgs == 1 && st2.bad_msgs == 2 && st2.resync_bytes == 8 && t.msgs == 1,
          "same result in one piece");
    side_fini(&t);

    /* A message over the input cap is skipped, what follows still arrives. */
    struct vr_conn_config small = { .max_in_bytes = 1000 };
    side_init(&t, &small);
    static uint8_t zeros[5000];
    struct vr_msg f = { .type = VR_MSG_FRAME, .stream_id = 1 };
    f.u.frame = (struct vr_frame){ .pts = 0, .dts = 0, .data_len = sizeof(zeros), .data = zeros };
    struct t_buf big = { 0 };
    t_buf_add_msg(&big, &f);
    t_buf_add_msg(&big, &ping);
    for (size_t off = 0; off < big.len; off += 700) {
        size_t len = big.len - off < 700 ? big.len - off : 700;
        CHECK(vr_conn_feed(t.c, big.p + off, len) == 0, "feed");
    }
    CHECK(t.msgs == 1 && t.last_err == -EMSGSIZE, "frame skipped (%d), ping delivered (%zu)",
          t.last_err, t.msgs);
    free(big.p);
    side_fini(&t);
    side_fini(&s);
    CHECK(vr_conn_feed(NULL, buf, 1) == -EINVAL, "NULL conn");
}

static void test_callbacks_reset_destroy(void)
{
    struct vr_msg hello = { .type = VR_MSG_HELLO };
    hello.u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1, .role = VR_ROLE_GUEST };
    struct vr_msg ping = { .type = VR_MSG_PING, .u.ping = { 1, 2 } };
    struct t_buf b = { 0 };
    t_buf_add_msg(&b, &ping);
    t_buf_add_msg(&b, &hello);
    t_buf_add_msg(&b, &ping);
    size_t half = b.len - 5;

    /* Reset inside on_message drops queued output; the rest of the same
     * feed is still parsed (it is not buffered input yet). */
    struct side s;
    side_init(&s, NULL);
    s.reset_on_hello = true;
    s.send_pong = true;
    CHECK(vr_conn_feed(s.c, b.p, half) == 0, "feed");
    CHECK(s.msgs == 2, "ping + hello");
    CHECK(vr_conn_out_queued(s.c) == 0, "pong dropped by the reset");
    CHECK(vr_conn_feed(s.c, b.p + half, 5) == 0, "rest");
    CHECK(s.msgs == 3 && vr_conn_out_queued(s.c) > 0, "last ping completed, answered");
    /* A reset from outside forgets a partial message. */
    CHECK(vr_conn_feed(s.c, b.p, 5) == 0, "partial");
    vr_conn_reset(s.c);
    CHECK(vr_conn_feed(s.c, b.p, b.len) == 0, "feed");
    CHECK(s.msgs == 6, "three more, cleanly: %zu", s.msgs);
    struct vr_conn_stats st;
    vr_conn_get_stats(s.c, &st);
    CHECK(st.bad_msgs == 0 && st.resync_bytes == 0, "no garbage seen");
    side_fini(&s);

    /* Destroy inside on_message: freed once feed unwinds (ASan checks). */
    side_init(&s, NULL);
    s.destroy_on_ping = true;
    CHECK(vr_conn_feed(s.c, b.p, b.len) == 0, "feed then destroyed");
    CHECK(s.c == NULL && s.msgs == 1, "stopped after destroy");
    side_fini(&s);

    vr_conn_destroy(NULL);
    vr_conn_reset(NULL);
    struct vr_conn *c = NULL;
    CHECK(vr_conn_create(NULL, NULL, NULL, &c) == 0 && c, "no callbacks");
    CHECK(vr_conn_feed(c, b.p, b.len) == 0, "feed without callbacks");
    vr_conn_set_tap(c, NULL, NULL);
    vr_conn_destroy(c);
    CHECK(vr_conn_create(NULL, NULL, NULL, NULL) == -EINVAL, "NULL out");
    free(b.p);
}

/* A frame larger than the byte window goes once no frame is in flight, even
 * with control messages unacknowledged (the peer acknowledges when frames
 * arrive: a 4K keyframe over 2 MiB after STREAM_START waited for ever). */
static void test_window_big_frame(void)
{
    struct vr_conn_config cfg = { .window_bytes = 1000 };
    struct vr_conn *g = NULL;
    CHECK(vr_conn_create(&cfg, NULL, NULL, &g) == 0, "create");
    struct vr_msg geo = { .type = VR_MSG_GEOMETRY, .stream_id = 1 };
    geo.u.geometry.window = geo.u.geometry.content = (struct vr_rect){ 0, 0, 64, 64 };
    CHECK(vr_conn_send(g, &geo) == 0, "geometry");
    CHECK(vr_conn_window_allows(g, 1, 5000), "big frame with only control in flight");
    static uint8_t data[5000];
    struct vr_msg f = { .type = VR_MSG_FRAME, .stream_id = 1 };
    f.u.frame = (struct vr_frame){ .data_len = sizeof(data), .data = data };
    CHECK(vr_conn_send(g, &f) == 0, "send big frame");
    CHECK(!vr_conn_window_allows(g, 1, 100), "a frame in flight over the window: shut");
    CHECK(vr_conn_send(g, &geo) == 0, "geometry after it");
    struct vr_conn_stats st;
    vr_conn_get_stats(g, &st);
    vr_conn_ack(g, st.bytes_out - 10); /* the frame, not all of the geometry */
    CHECK(vr_conn_window_allows(g, 1, 5000), "frame acknowledged: big frame again");
    vr_conn_reset(g);
    CHECK(vr_conn_window_allows(g, 1, 5000), "after reset");
    vr_conn_destroy(g);
}

/* A writer that takes a scripted number of bytes per call into a buffer. */
struct dwriter {
    struct t_buf wire;
    long take; /* bytes to take per call; negative: fail with that errno */
    size_t calls;
};

static long dwrite(void *user, const struct vr_iov *iov, size_t n)
{
    struct dwriter *w = user;
    w->calls++;
    if (w->take < 0)
        return w->take;
    size_t left = (size_t)w->take;
    for (size_t i = 0; i < n && left > 0; i++) {
        size_t k = iov[i].len < left ? iov[i].len : left;
        t_buf_add(&w->wire, iov[i].data, k);
        left -= k;
    }
    return w->take - (long)left;
}

/* vr_conn_set_writer: a large FRAME goes to the writer from the caller's
 * buffer while nothing is queued, the rest of it (cut anywhere: in the
 * header, at its end, in the data) is queued; the bytes, counters, window
 * and sequence numbers are those of the queued path, and a peer decodes the
 * same frames. */
static void test_direct_writer(void)
{
    static uint8_t data[5000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13 + 1);
    const long takes[] = { 0, 1, 30, VR_FRAME_HEAD_SIZE - 1, VR_FRAME_HEAD_SIZE,
                           VR_FRAME_HEAD_SIZE + 1, 3000, VR_FRAME_HEAD_SIZE + 5000, 1 << 20,
                           -EAGAIN, -EPIPE };
    for (size_t t = 0; t < sizeof(takes) / sizeof(takes[0]); t++) {
        struct vr_conn *a = NULL, *ref = NULL;
        CHECK(vr_conn_create(NULL, NULL, NULL, &a) == 0 && vr_conn_create(NULL, NULL, NULL, &ref) == 0,
              "create");
        struct dwriter w = { .take = takes[t] };
        vr_conn_set_writer(a, dwrite, &w);
        struct vr_msg m = { .type = VR_MSG_FRAME, .stream_id = 3 };
        m.u.frame = (struct vr_frame){ .pts = 9, .dts = 8, .duration = 1, .send_time_us = 77,
                                       .flags = VR_FRAME_KEY, .data_len = sizeof(data), .data = data };
        for (int k = 0; k < 3; k++) { /* the 2nd and 3rd queue behind the 1st's rest (if any) */
            CHECK(vr_conn_send(a, &m) == 0, "send direct %zu", t);
            CHECK(vr_conn_send(ref, &m) == 0, "send queued");
        }
        struct vr_msg small = m;
        small.u.frame.data_len = 100; /* under the threshold: always queued */
        CHECK(vr_conn_send(a, &small) == 0 && vr_conn_send(ref, &small) == 0, "send small");
        struct vr_conn_stats sa, sr;
        vr_conn_get_stats(a, &sa);
        vr_conn_get_stats(ref, &sr);
        CHECK(sa.bytes_out == sr.bytes_out && sa.msgs_out == sr.msgs_out, "counters %zu", t);
        CHECK(vr_conn_window_available(a) == vr_conn_window_available(ref), "window %zu", t);
        /* The wire: what the writer took, then what is queued. */
        const uint8_t *d;
        size_t n;
        while ((n = vr_conn_out_peek(a, &d)) > 0) {
            t_buf_add(&w.wire, d, n);
            vr_conn_out_consume(a, n);
        }
        struct t_buf want = { 0 };
        while ((n = vr_conn_out_peek(ref, &d)) > 0) {
            t_buf_add(&want, d, n);
            vr_conn_out_consume(ref, n);
        }
        CHECK(w.wire.len == want.len && memcmp(w.wire.p, want.p, want.len) == 0,
              "take %ld: %zu bytes on the wire, want %zu, equal to the queued path", takes[t],
              w.wire.len, want.len);
        CHECK(w.calls == (takes[t] >= (long)(VR_FRAME_HEAD_SIZE + 5000) ? 3u : 1u),
              "take %ld: writer called %zu times", takes[t], w.calls);
        /* A peer decodes the stream: 3 large frames and the small one, in order. */
        struct side b;
        side_init(&b, NULL);
        CHECK(vr_conn_feed(b.c, w.wire.p, w.wire.len) == 0, "feed");
        CHECK(b.frames_n == 4 && b.seq_errors == 0 && b.errors == 0, "peer: %zu frames", b.frames_n);
        side_fini(&b);
        free(w.wire.p);
        free(want.p);
        vr_conn_destroy(a);
        vr_conn_destroy(ref);
    }
    /* A tap sees whole messages: no direct write while one is set. */
    struct side s;
    side_init(&s, NULL);
    struct dwriter w = { .take = 1 << 20 };
    vr_conn_set_writer(s.c, dwrite, &w);
    struct vr_msg m = { .type = VR_MSG_FRAME, .stream_id = 1 };
    m.u.frame = (struct vr_frame){ .data_len = sizeof(data), .data = data };
    CHECK(vr_conn_send(s.c, &m) == 0 && w.calls == 0 && vr_conn_out_queued(s.c) == s.tap_out.len,
          "tap set: queued");
    vr_conn_set_writer(s.c, NULL, NULL);
    side_fini(&s);
}

int main(void)
{
    t_pool_init(7);
    test_round_trip(1);
    test_round_trip(2);
    test_round_trip(77);
    test_seq_tracking();
    test_flow_control();
    test_time_window();
    test_bytes_consumed();
    test_out_cap();
    test_bad_input();
    test_callbacks_reset_destroy();
    test_direct_writer();
    test_window_big_frame();
    uint64_t t0 = vr_time_us(), t1 = vr_time_us();
    CHECK(t0 > 0 && t1 >= t0, "monotonic clock");
    if (t_failures) {
        fprintf(stderr, "%d check(s) failed\n", t_failures);
        return 1;
    }
    printf("transport conn: all checks passed\n");
    return 0;
}
