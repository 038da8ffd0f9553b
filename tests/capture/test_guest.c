/*
 * Guest session state machine against a scripted client: a second vr_conn in
 * the same process plays the client, bytes are moved by hand between the two
 * conns, and the clock is a variable the test advances.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/capture.h>

#include "../check.h"

/* What the fake client saw, in order. */
struct seen {
    uint16_t type;
    uint32_t stream_id;
    uint8_t hello_flags, hello_role;
    uint32_t seq, flags, data_len;
    int64_t pts;
    uint32_t ping_id;
    uint64_t ping_time;
    uint32_t pong_id;
    uint64_t pong_ping_time;
    uint32_t stop_reason;
    uint16_t codec;
    uint32_t extradata_len;
    uint8_t extradata0;
    uint32_t n_rects;
    struct vr_rect content;
};

#define MAX_SEEN 4096

struct fixture {
    uint64_t now;
    struct vr_guest *g;
    struct vr_conn *client;
    struct seen seen[MAX_SEEN];
    size_t n_seen;
    uint32_t gaps;
    /* guest events */
    int ev_count[16];
    char last_detail[256];
};

static uint64_t fake_clock(void *user)
{
    return ((struct fixture *)user)->now;
}

static void on_event(void *user, enum vr_guest_event ev, const char *detail)
{
    struct fixture *f = user;
    if ((int)ev >= 0 && (int)ev < 16)
        f->ev_count[ev]++;
    snprintf(f->last_detail, sizeof(f->last_detail), "%s", detail);
}

static void on_log(void *user, enum vr_log_level lvl, const char *msg)
{
    (void)user;
    if (getenv("VR_TEST_VERBOSE"))
        fprintf(stderr, "  guest log %d: %s\n", lvl, msg);
}

static void client_msg(void *user, const struct vr_msg *m)
{
    struct fixture *f = user;
    if (f->n_seen >= MAX_SEEN)
        return;
    struct seen *s = &f->seen[f->n_seen++];
    memset(s, 0, sizeof(*s));
    s->type = m->type;
    s->stream_id = m->stream_id;
    switch (m->type) {
    case VR_MSG_HELLO:
        s->hello_flags = m->u.hello.flags;
        s->hello_role = m->u.hello.role;
        break;
    case VR_MSG_FRAME:
        s->seq = m->u.frame.seq;
        s->flags = m->u.frame.flags;
        s->data_len = m->u.frame.data_len;
        s->pts = m->u.frame.pts;
        break;
    case VR_MSG_PING:
        s->ping_id = m->u.ping.id;
        s->ping_time = m->u.ping.time_us;
        break;
    case VR_MSG_PONG:
        s->pong_id = m->u.pong.id;
        s->pong_ping_time = m->u.pong.ping_time_us;
        break;
    case VR_MSG_STREAM_STOP:
        s->stop_reason = m->u.stop.reason;
        break;
    case VR_MSG_STREAM_START:
        s->codec = m->u.start.codec;
        s->extradata_len = m->u.start.extradata_len;
        s->extradata0 = m->u.start.extradata_len ? m->u.start.extradata[0] : 0;
        break;
    case VR_MSG_REGION:
        s->n_rects = m->u.region.n_rects;
        break;
    case VR_MSG_GEOMETRY:
        s->content = m->u.geometry.content;
        break;
    default:
        break;
    }
}

static void client_gap(void *user, uint32_t stream_id, uint32_t missing)
{
    ((struct fixture *)user)->gaps += missing;
}

/* Moves every queued byte from one conn into the other. */
static void move(struct vr_conn *from, struct vr_conn *to)
{
    const uint8_t *d;
    size_t n;
    while ((n = vr_conn_out_peek(from, &d)) > 0) {
        int r = vr_conn_feed(to, d, n);
        CHECK(r == 0, "feed: %d", r);
        vr_conn_out_consume(from, n);
    }
}

static void to_client(struct fixture *f)
{
    move(vr_guest_conn(f->g), f->client);
}

static void to_guest(struct fixture *f)
{
    move(f->client, vr_guest_conn(f->g));
}

/* Drops what the guest queued (QEMU discards writes with no client). */
static void discard_guest_output(struct fixture *f)
{
    const uint8_t *d;
    size_t n;
    while ((n = vr_conn_out_peek(vr_guest_conn(f->g), &d)) > 0)
        vr_conn_out_consume(vr_guest_conn(f->g), n);
}

static size_t count(const struct fixture *f, size_t from, uint16_t type)
{
    size_t c = 0;
    for (size_t i = from; i < f->n_seen; i++)
        c += f->seen[i].type == type;
    return c;
}

static const struct seen *find(const struct fixture *f, size_t from, uint16_t type)
{
    for (size_t i = from; i < f->n_seen; i++)
        if (f->seen[i].type == type)
            return &f->seen[i];
    return NULL;
}

static void client_send(struct fixture *f, const struct vr_msg *m)
{
    int r = vr_conn_send(f->client, m);
    CHECK(r == 0, "client send %s: %d", vr_msg_type_name(m->type), r);
    to_guest(f);
}

static void client_hello(struct fixture *f, uint8_t flags, uint16_t vmin, uint16_t vmax)
{
    static struct vr_msg m; /* large: not on the stack */
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_HELLO;
    m.u.hello.version_min = vmin;
    m.u.hello.version_max = vmax;
    m.u.hello.role = VR_ROLE_CLIENT;
    m.u.hello.flags = flags;
    m.u.hello.features = VR_FEATURE_REGION | VR_FEATURE_FEEDBACK;
    m.u.hello.max_streams = 4;
    m.u.hello.n_codecs = 2;
    m.u.hello.codecs[0] = (struct vr_codec_cap){ VR_CODEC_H264, 0, 4096, 4096 };
    m.u.hello.codecs[1] = (struct vr_codec_cap){ VR_CODEC_VP9, 0, 4096, 4096 };
    snprintf(m.u.hello.software, sizeof(m.u.hello.software), "fake-client");
    client_send(f, &m);
}

static void client_simple(struct fixture *f, uint16_t type, uint32_t reason, const char *text)
{
    static struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.stream_id = 1;
    if (type == VR_MSG_REJECT) {
        m.u.reject.reason = reason;
        snprintf(m.u.reject.message, sizeof(m.u.reject.message), "%s", text);
    } else if (type == VR_MSG_ACCEPT) {
        snprintf(m.u.accept.decoder, sizeof(m.u.accept.decoder), "%s", text);
    } else if (type == VR_MSG_KEYFRAME_REQUEST) {
        m.u.keyframe_request.reason = reason;
    }
    client_send(f, &m);
}

static void client_feedback(struct fixture *f)
{
    struct vr_conn_stats st;
    vr_conn_get_stats(f->client, &st);
    static struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_FEEDBACK;
    m.stream_id = 1;
    m.u.feedback.bytes_received = st.bytes_in;
    client_send(f, &m);
}

static const uint8_t extradata[] = { 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f };

static void setup(struct fixture *f, size_t window, bool with_region)
{
    memset(f, 0, sizeof(*f));
    f->now = 1000000000ull;
    struct vr_guest_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.stream_id = 1;
    cfg.conn.window_bytes = window;
    struct vr_guest_callbacks cb = { .log = on_log, .event = on_event, .clock = fake_clock };
    int r = vr_guest_create(&cfg, &cb, f, &f->g);
    CHECK(r == 0, "guest create: %d", r);
    struct vr_conn_callbacks ccb = { .on_message = client_msg, .on_gap = client_gap };
    r = vr_conn_create(NULL, &ccb, f, &f->client);
    CHECK(r == 0, "client conn create: %d", r);

    struct vr_stream_start st;
    memset(&st, 0, sizeof(st));
    st.codec = VR_CODEC_H264;
    st.width = 640;
    st.height = 360;
    st.timebase_num = 1;
    st.timebase_den = 12800;
    st.fps_num = 25;
    st.fps_den = 1;
    st.color = (struct vr_color){ 1, 1, 1, 0 };
    st.extradata = extradata;
    st.extradata_len = sizeof(extradata);
    struct vr_geometry geom = { 0, { 100, 100, 640, 360 }, { 100, 100, 640, 360 } };
    static struct vr_region reg;
    reg.n_rects = 2;
    reg.rects[0] = (struct vr_rect){ 100, 100, 640, 200 };
    reg.rects[1] = (struct vr_rect){ 100, 300, 300, 160 };
    r = vr_guest_set_stream(f->g, &st, &geom, with_region ? &reg : NULL);
    CHECK(r == 0, "set stream: %d", r);
    CHECK(vr_guest_set_stream(f->g, &st, &geom, NULL) == -EBUSY, "second stream accepted");
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_CLOSED, "state %s",
          vr_guest_state_name(vr_guest_get_state(f->g)));
}

static void teardown(struct fixture *f)
{
    vr_guest_destroy(f->g);
    vr_conn_destroy(f->client);
}

static void advance(struct fixture *f, uint64_t us)
{
    f->now += us;
    vr_guest_tick(f->g);
}

/* Up to ANNOUNCED through a client-initiated hello. */
static void establish(struct fixture *f)
{
    vr_guest_channel_open(f->g);
    to_client(f);
    client_hello(f, 0, 1, 1);
    to_client(f);
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_ANNOUNCED, "state %s",
          vr_guest_state_name(vr_guest_get_state(f->g)));
}

static struct vr_au au_of(const uint8_t *data, uint32_t len, bool key, int64_t pts)
{
    struct vr_au au = { data, len, key ? VR_FRAME_KEY : 0, pts, pts, 512 };
    return au;
}

static void test_handshake(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    setup(f, 0, true);

    /* Nothing before the channel opens. */
    vr_guest_tick(f->g);
    CHECK(vr_conn_out_queued(vr_guest_conn(f->g)) == 0, "output before open");
    CHECK(vr_guest_next_timeout(f->g) == UINT64_MAX, "timer while closed");

    vr_guest_channel_open(f->g);
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_HELLO, "state after open");
    to_client(f);
    CHECK(f->n_seen == 1 && f->seen[0].type == VR_MSG_HELLO, "first message is a hello");
    CHECK(f->seen[0].hello_flags == 0 && f->seen[0].hello_role == VR_ROLE_GUEST, "hello flags %u role %u",
          f->seen[0].hello_flags, f->seen[0].hello_role);
    CHECK(vr_guest_next_timeout(f->g) == 1000000, "hello timer %" PRIu64, vr_guest_next_timeout(f->g));

    /* Resent every second, and nothing but hellos while nobody answers. */
    advance(f, 500000);
    to_client(f);
    CHECK(f->n_seen == 1, "resent too early");
    for (int i = 0; i < 3; i++) {
        advance(f, 500000);
        advance(f, 500000);
        to_client(f);
    }
    CHECK(f->n_seen == 4 && count(f, 0, VR_MSG_HELLO) == 4, "hellos %zu of %zu", count(f, 0, VR_MSG_HELLO),
          f->n_seen);

    /* A client hello: reply, then the stream announcement. */
    size_t mark = f->n_seen;
    client_hello(f, 0, 1, 1);
    to_client(f);
    CHECK(f->ev_count[VR_GUEST_EV_SESSION] == 1, "session event");
    CHECK(!strcmp(f->last_detail, "fake-client"), "detail %s", f->last_detail);
    CHECK(vr_guest_peer_hello(f->g) && vr_guest_peer_hello(f->g)->n_codecs == 2, "peer hello kept");
    CHECK(f->n_seen == mark + 4, "after hello: %zu messages", f->n_seen - mark);
    if (f->n_seen == mark + 4) {
        CHECK(f->seen[mark].type == VR_MSG_HELLO && f->seen[mark].hello_flags == VR_HELLO_REPLY, "reply hello");
        CHECK(f->seen[mark + 1].type == VR_MSG_STREAM_START && f->seen[mark + 1].stream_id == 1 &&
                  f->seen[mark + 1].codec == VR_CODEC_H264 &&
                  f->seen[mark + 1].extradata_len == sizeof(extradata) && f->seen[mark + 1].extradata0 == 1,
              "stream start");
        CHECK(f->seen[mark + 2].type == VR_MSG_GEOMETRY && f->seen[mark + 2].content.w == 640, "geometry");
        CHECK(f->seen[mark + 3].type == VR_MSG_REGION && f->seen[mark + 3].n_rects == 2, "region");
    }
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_ANNOUNCED, "announced");
    /* Frames must wait for ACCEPT. */
    static const uint8_t data[100];
    struct vr_au au = au_of(data, sizeof(data), true, 0);
    CHECK(!vr_guest_can_send(f->g, 100), "can send before accept");
    CHECK(vr_guest_send_frame(f->g, &au, 0) == -EAGAIN, "frame before accept");

    /* A late reply to an old hello changes nothing. */
    mark = f->n_seen;
    client_hello(f, VR_HELLO_REPLY, 1, 1);
    to_client(f);
    CHECK(f->n_seen == mark && vr_guest_get_state(f->g) == VR_GUEST_ANNOUNCED, "late reply answered");
    teardown(f);
    free(f);
}

static void test_reply_path(void)
{
    /* The client saw our hello first and answers it: no reply from us. */
    struct fixture *f = calloc(1, sizeof(*f));
    setup(f, 0, false);
    vr_guest_channel_open(f->g);
    to_client(f);
    size_t mark = f->n_seen;
    client_hello(f, VR_HELLO_REPLY, 1, 3);
    to_client(f);
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_ANNOUNCED, "announced");
    CHECK(count(f, mark, VR_MSG_HELLO) == 0, "answered a reply");
    CHECK(count(f, mark, VR_MSG_STREAM_START) == 1 && count(f, mark, VR_MSG_GEOMETRY) == 1 &&
              count(f, mark, VR_MSG_REGION) == 0,
          "announcement without region");
    teardown(f);
    free(f);
}

static void test_reject(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    setup(f, 0, false);
    establish(f);
    client_simple(f, VR_MSG_REJECT, VR_REASON_UNSUPPORTED, "no h264 decoder here");
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_FAILED, "state %s", vr_guest_state_name(vr_guest_get_state(f->g)));
    CHECK(f->ev_count[VR_GUEST_EV_REJECTED] == 1, "rejected event");
    CHECK(!strcmp(f->last_detail, "no h264 decoder here"), "detail '%s'", f->last_detail);
    CHECK(strstr(vr_guest_error(f->g), "no h264 decoder here") != NULL, "error '%s'", vr_guest_error(f->g));
    /* Terminal: nothing more is sent. */
    to_client(f);
    size_t mark = f->n_seen;
    advance(f, 2000000);
    to_client(f);
    CHECK(f->n_seen == mark, "sent after failing");
    teardown(f);
    free(f);
}

static void test_accept_timeout(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    setup(f, 0, false);
    establish(f);
    /* Pings keep flowing, the client answers them, but never the stream. */
    for (int i = 0; i < 5; i++) {
        advance(f, 500000);
        to_client(f);
    }
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_ANNOUNCED, "failed too early");
    advance(f, 500000);
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_FAILED, "no timeout after 3 s");
    CHECK(f->ev_count[VR_GUEST_EV_ACCEPT_TIMEOUT] == 1, "timeout event");
    teardown(f);
    free(f);
}

static void test_version_mismatch(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    setup(f, 0, false);
    vr_guest_channel_open(f->g);
    to_client(f);
    client_hello(f, 0, VR_PROTO_VERSION_MAX + 1, VR_PROTO_VERSION_MAX + 2);
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_FAILED, "accepted a version it cannot speak");
    CHECK(f->ev_count[VR_GUEST_EV_VERSION_MISMATCH] == 1, "mismatch event");
    teardown(f);
    free(f);
}

static void test_frames_and_window(void)
{
    enum { WINDOW = 64 * 1024, FRAME = 10000 };
    struct fixture *f = calloc(1, sizeof(*f));
    static uint8_t data[FRAME];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    setup(f, WINDOW, false);
    establish(f);
    client_simple(f, VR_MSG_ACCEPT, 0, "h264 (software)");
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_STREAMING, "streaming after accept");
    CHECK(f->ev_count[VR_GUEST_EV_ACCEPTED] == 1 && !strcmp(f->last_detail, "h264 (software)"), "accept event");

    /* Leading non-key frames are skipped: the stream starts with a keyframe. */
    struct vr_au au = au_of(data, FRAME, false, 0);
    CHECK(vr_guest_send_frame(f->g, &au, 0) == 0, "non-key first frame not skipped");
    size_t mark = f->n_seen;
    int sent = 0;
    for (int i = 0; i < 100; i++) {
        au = au_of(data, FRAME, i == 0, i * 512);
        if (!vr_guest_can_send(f->g, FRAME))
            break;
        CHECK(vr_guest_send_frame(f->g, &au, 0) == 1, "send %d", i);
        sent++;
    }
    /* The window holds 6 frames of ~10 KiB, not more. */
    CHECK(sent == WINDOW / (FRAME + 64) || sent == WINDOW / FRAME, "sent %d frames into a %d byte window", sent,
          WINDOW);
    au = au_of(data, FRAME, false, 99 * 512);
    CHECK(vr_guest_send_frame(f->g, &au, 0) == -EAGAIN, "frame beyond the window");
    to_client(f);
    CHECK(count(f, mark, VR_MSG_FRAME) == (size_t)sent, "client got %zu frames", count(f, mark, VR_MSG_FRAME));
    const struct seen *first = find(f, mark, VR_MSG_FRAME);
    CHECK(first && first->seq == 0 && (first->flags & VR_FRAME_KEY) && first->data_len == FRAME,
          "first frame seq %u flags %u", first ? first->seq : 99, first ? first->flags : 0);
    CHECK(f->gaps == 0, "gaps %u", f->gaps);

    /* Still blocked until the client reports what it received. */
    CHECK(!vr_guest_can_send(f->g, FRAME), "window reopened without feedback");
    client_feedback(f);
    CHECK(f->ev_count[VR_GUEST_EV_FEEDBACK] == 1, "feedback event");
    CHECK(vr_guest_can_send(f->g, FRAME), "window still closed after feedback");
    int more = 0;
    for (int i = 0; i < 100 && vr_guest_can_send(f->g, FRAME); i++) {
        au = au_of(data, FRAME, false, (sent + i) * 512);
        CHECK(vr_guest_send_frame(f->g, &au, 0) == 1, "send after feedback");
        more++;
    }
    CHECK(more == sent, "after feedback %d frames, first window %d", more, sent);
    to_client(f);
    const struct seen *last = NULL;
    for (size_t i = mark; i < f->n_seen; i++)
        if (f->seen[i].type == VR_MSG_FRAME)
            last = &f->seen[i];
    CHECK(last && last->seq == (uint32_t)(sent + more - 1), "last seq %u", last ? last->seq : 0);

    /* A frame bigger than the whole window goes when nothing is in flight. */
    static uint8_t big[WINDOW + 1000];
    client_feedback(f);
    CHECK(vr_guest_can_send(f->g, sizeof(big)), "oversized frame never allowed");
    au = au_of(big, sizeof(big), false, 1000 * 512);
    CHECK(vr_guest_send_frame(f->g, &au, 0) == 1, "oversized frame");
    CHECK(!vr_guest_can_send(f->g, 100), "window open after oversized frame");
    to_client(f);
    client_feedback(f);

    /* End of stream: STOP(EOS), drained once the client acknowledged. */
    au = au_of(data, 500, false, 2000 * 512);
    CHECK(vr_guest_send_frame(f->g, &au, 0) == 1, "last frame");
    CHECK(vr_guest_stop(f->g, VR_REASON_EOS) == 0, "stop");
    CHECK(vr_guest_stop(f->g, VR_REASON_EOS) == -ENOENT, "stopped twice");
    CHECK(!vr_guest_drained(f->g), "drained with output queued");
    mark = f->n_seen;
    to_client(f);
    const struct seen *stop = find(f, mark, VR_MSG_STREAM_STOP);
    CHECK(stop && stop->stop_reason == VR_REASON_EOS, "stop reason");
    CHECK(vr_guest_output_empty(f->g), "output not empty");
    CHECK(!vr_guest_drained(f->g), "drained before the client acknowledged");
    client_feedback(f);
    CHECK(vr_guest_drained(f->g), "not drained after the final feedback");
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_IDLE, "idle after stop");

    struct vr_guest_stats gs;
    vr_guest_get_stats(f->g, &gs);
    CHECK(gs.frames_sent == (uint64_t)(sent + more + 2) && gs.frames_skipped == 1, "stats frames %" PRIu64,
          gs.frames_sent);
    CHECK(gs.es_bytes == (uint64_t)(sent + more) * FRAME + sizeof(big) + 500, "es bytes %" PRIu64, gs.es_bytes);
    teardown(f);
    free(f);
}

/* Low bitrate: 1000-byte frames of 40 ms. The byte window (2 MiB) would let
 * 2000 out; the time window lets one second of video out, 25 frames. */
static void test_time_window(void)
{
    enum { FRAME = 1000 };
    struct fixture *f = calloc(1, sizeof(*f));
    static uint8_t data[FRAME];
    setup(f, 0, false);
    establish(f);
    client_simple(f, VR_MSG_ACCEPT, 0, "h264 (software)");
    int sent = 0, i = 0;
    for (; i < 100; i++) {
        struct vr_au au = au_of(data, FRAME, i == 0, i * 512);
        int r = vr_guest_send_frame(f->g, &au, 0);
        if (r == -EAGAIN)
            break;
        CHECK(r == 1, "send %d: %d", i, r);
        sent++;
    }
    CHECK(sent == 25, "sent %d frames of 40 ms", sent);
    struct vr_guest_stats gs;
    vr_guest_get_stats(f->g, &gs);
    CHECK(gs.in_flight_us == 1000000 && gs.in_flight_max_us == 1000000, "in flight %" PRIu64 " max %" PRIu64,
          gs.in_flight_us, gs.in_flight_max_us);
    CHECK(!vr_guest_can_send(f->g, FRAME), "can_send past the time window");
    /* The client got and acknowledged it all: the next second goes. */
    to_client(f);
    client_feedback(f);
    vr_guest_get_stats(f->g, &gs);
    CHECK(gs.in_flight_us == 0, "in flight after feedback %" PRIu64, gs.in_flight_us);
    int more = 0;
    for (; i < 200; i++, more++) {
        struct vr_au au = au_of(data, FRAME, false, i * 512);
        if (vr_guest_send_frame(f->g, &au, 0) != 1)
            break;
    }
    CHECK(more == 25, "after feedback %d", more);

    /* Player mode keeps to it too: what the window holds back waits in the
     * backlog (and the drop policy bounds that). */
    to_client(f);
    client_feedback(f);
    size_t mark = f->n_seen;
    for (int k = 0; k < 20; k++, i++) {
        struct vr_au au = au_of(data, FRAME, k == 0, i * 512);
        CHECK(vr_guest_push_frame(f->g, &au, 0) == 0, "push");
    }
    to_client(f);
    CHECK(count(f, mark, VR_MSG_FRAME) == 20, "player: 20 of 20 within the window");
    for (int k = 0; k < 20; k++, i++) {
        struct vr_au au = au_of(data, FRAME, false, i * 512);
        CHECK(vr_guest_push_frame(f->g, &au, 0) == 0, "push");
    }
    to_client(f);
    vr_guest_get_stats(f->g, &gs);
    CHECK(count(f, mark, VR_MSG_FRAME) == 25 && gs.backlog == 15, "player: %zu sent, backlog %u",
          count(f, mark, VR_MSG_FRAME), gs.backlog);
    client_feedback(f);
    vr_guest_pump(f->g);
    to_client(f);
    CHECK(count(f, mark, VR_MSG_FRAME) == 40, "player: backlog sent after feedback");
    teardown(f);
    free(f);
}

static void test_ping_pong(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    setup(f, 0, false);
    establish(f);
    client_simple(f, VR_MSG_ACCEPT, 0, "x");

    /* Guest pings every second once established. */
    size_t mark = f->n_seen;
    advance(f, 999000);
    to_client(f);
    CHECK(count(f, mark, VR_MSG_PING) == 0, "ping too early");
    advance(f, 1000);
    to_client(f);
    const struct seen *ping = find(f, mark, VR_MSG_PING);
    CHECK(ping != NULL, "no ping after 1 s");
    if (ping) {
        CHECK(ping->ping_time == f->now, "ping time %" PRIu64, ping->ping_time);
        static struct vr_msg m;
        memset(&m, 0, sizeof(m));
        m.type = VR_MSG_PONG;
        m.u.pong.id = ping->ping_id;
        m.u.pong.ping_time_us = ping->ping_time;
        m.u.pong.time_us = 5;
        f->now += 2500;
        client_send(f, &m);
        struct vr_guest_stats gs;
        vr_guest_get_stats(f->g, &gs);
        CHECK(gs.pongs_received == 1 && gs.rtt_us == 2500, "pongs %" PRIu64 " rtt %u", gs.pongs_received, gs.rtt_us);
    }

    /* The client pings: the guest answers at once, echoing. */
    static struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_PING;
    m.u.ping.id = 77;
    m.u.ping.time_us = 123456;
    mark = f->n_seen;
    client_send(f, &m);
    to_client(f);
    const struct seen *pong = find(f, mark, VR_MSG_PONG);
    CHECK(pong && pong->pong_id == 77 && pong->pong_ping_time == 123456, "pong echo");

    /* Keyframe requests are reported. */
    client_simple(f, VR_MSG_KEYFRAME_REQUEST, VR_REASON_DECODE_ERROR, NULL);
    CHECK(f->ev_count[VR_GUEST_EV_KEYFRAME_REQUEST] == 1, "keyframe request event");
    CHECK(!strcmp(f->last_detail, vr_reason_name(VR_REASON_DECODE_ERROR)), "detail %s", f->last_detail);
    teardown(f);
    free(f);
}

static void test_peer_gone_and_restart(void)
{
    static const uint8_t data[300];
    struct fixture *f = calloc(1, sizeof(*f));
    setup(f, 0, false);
    establish(f);
    client_simple(f, VR_MSG_ACCEPT, 0, "x");
    struct vr_au au = au_of(data, sizeof(data), true, 0);
    CHECK(vr_guest_send_frame(f->g, &au, 0) == 1, "key");
    au = au_of(data, sizeof(data), false, 512);
    CHECK(vr_guest_send_frame(f->g, &au, 0) == 1, "delta");
    to_client(f);

    /* Silence for 5 s: the client is gone; back to hellos, no frames. */
    for (int i = 0; i < 9; i++) {
        advance(f, 500000);
        discard_guest_output(f);
    }
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_STREAMING, "gone too early");
    advance(f, 500000);
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_HELLO, "state %s after 5 s silence",
          vr_guest_state_name(vr_guest_get_state(f->g)));
    CHECK(f->ev_count[VR_GUEST_EV_PEER_GONE] == 1, "peer gone event");
    CHECK(vr_guest_send_frame(f->g, &au, 0) == -EAGAIN, "frame while the client is gone");
    discard_guest_output(f);

    /* A new client: announced again, must start over with a keyframe. */
    vr_conn_destroy(f->client);
    struct vr_conn_callbacks ccb = { .on_message = client_msg, .on_gap = client_gap };
    CHECK(vr_conn_create(NULL, &ccb, f, &f->client) == 0, "new client");
    size_t mark = f->n_seen;
    client_hello(f, 0, 1, 1);
    to_client(f);
    CHECK(count(f, mark, VR_MSG_STREAM_START) == 1, "not announced again");
    client_simple(f, VR_MSG_ACCEPT, 0, "x");
    au = au_of(data, sizeof(data), false, 1024);
    CHECK(vr_guest_send_frame(f->g, &au, 0) == 0, "delta frame not skipped after reconnect");
    au = au_of(data, sizeof(data), true, 1536);
    CHECK(vr_guest_send_frame(f->g, &au, 0) == 1, "key frame after reconnect");
    to_client(f);
    const struct seen *fr = find(f, mark, VR_MSG_FRAME);
    CHECK(fr && fr->seq == 0 && (fr->flags & VR_FRAME_KEY) && fr->pts == 1536, "first frame of the new session");
    /* The new client's byte count starts at its hello: feedback reopens the
     * window exactly, nothing of the old session stays in flight. */
    client_feedback(f);
    CHECK(vr_guest_can_send(f->g, 2u << 20), "window not fully open after the new client's feedback");

    /* The client restarts without a pause (new non-reply hello). */
    mark = f->n_seen;
    client_hello(f, 0, 1, 1);
    to_client(f);
    CHECK(f->ev_count[VR_GUEST_EV_PEER_RESTART] == 1, "restart event");
    CHECK(f->n_seen > mark && f->seen[mark].type == VR_MSG_HELLO && f->seen[mark].hello_flags == VR_HELLO_REPLY,
          "restart not answered with a reply");
    CHECK(count(f, mark, VR_MSG_STREAM_START) == 1, "not announced after restart");
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_ANNOUNCED, "state after restart");

    /* The channel closes (host side gone) and opens again. */
    vr_guest_channel_closed(f->g);
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_CLOSED, "closed");
    vr_guest_channel_open(f->g);
    CHECK(vr_guest_get_state(f->g) == VR_GUEST_HELLO, "hello after reopen");
    CHECK(vr_conn_out_queued(vr_guest_conn(f->g)) > 0, "no hello after reopen");
    teardown(f);
    free(f);
}

static void test_geometry_updates(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    setup(f, 0, false);
    establish(f);
    client_simple(f, VR_MSG_ACCEPT, 0, "x");
    size_t mark = f->n_seen;
    struct vr_geometry geom = { 0, { 10, 20, 320, 180 }, { 10, 20, 320, 180 } };
    CHECK(vr_guest_set_geometry(f->g, &geom) == 0, "set geometry");
    static struct vr_region reg;
    reg.n_rects = 0; /* hidden */
    CHECK(vr_guest_set_region(f->g, &reg) == 0, "set region");
    CHECK(vr_guest_set_region(f->g, NULL) == 0, "clear region");
    to_client(f);
    const struct seen *g = find(f, mark, VR_MSG_GEOMETRY);
    CHECK(g && g->content.w == 320 && g->content.x == 10, "geometry update");
    CHECK(count(f, mark, VR_MSG_REGION) == 2, "regions %zu", count(f, mark, VR_MSG_REGION));
    const struct seen *r = find(f, mark, VR_MSG_REGION);
    CHECK(r && r->n_rects == 0, "hidden region first");
    geom.window.x = VR_MAX_COORD + 1;
    CHECK(vr_guest_set_geometry(f->g, &geom) == -EINVAL, "out-of-range geometry accepted");
    teardown(f);
    free(f);
}

/* Frames the client received from index `from`: their seq, flags and pts. */
static size_t frames_since(const struct fixture *f, size_t from, const struct seen **out, size_t max)
{
    size_t n = 0;
    for (size_t i = from; i < f->n_seen && n < max; i++)
        if (f->seen[i].type == VR_MSG_FRAME)
            out[n++] = &f->seen[i];
    return n;
}

/* Player mode: the GOP cache serves a client that accepts late, a client
 * that comes back, and a keyframe request; the clock goes out before the
 * first frame. */
static void test_player_gop_cache(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    static uint8_t data[2000];
    const struct seen *fr[64];
    setup(f, 0, false);
    establish(f);
    /* No ACCEPT yet: a non-key frame before any keyframe is not kept, the
     * GOP from the keyframe is, nothing goes out. */
    struct vr_au au = au_of(data, 100, false, -512);
    CHECK(vr_guest_push_frame(f->g, &au, 0) == 0, "push");
    for (int i = 0; i < 5; i++) {
        au = au_of(data, 1000 + i, i == 0, i * 512);
        CHECK(vr_guest_push_frame(f->g, &au, 0) == 0, "push %d", i);
    }
    CHECK(vr_guest_set_clock(f->g, 0, 5000000, 65536) == 0, "clock");
    size_t mark = f->n_seen;
    to_client(f);
    CHECK(count(f, mark, VR_MSG_FRAME) == 0 && count(f, mark, VR_MSG_CLOCK) == 0, "sent before accept");
    struct vr_guest_stats gs;
    vr_guest_get_stats(f->g, &gs);
    CHECK(gs.cache_frames == 5 && gs.backlog == 5, "cache %u backlog %u", gs.cache_frames, gs.backlog);

    client_simple(f, VR_MSG_ACCEPT, 0, "h264 (software)");
    to_client(f);
    const struct seen *clk = find(f, mark, VR_MSG_CLOCK);
    const struct seen *first = find(f, mark, VR_MSG_FRAME);
    CHECK(clk && first && clk < first, "clock before the first frame");
    size_t n = frames_since(f, mark, fr, 64);
    CHECK(n == 5, "client got %zu frames", n);
    for (size_t i = 0; i < n; i++)
        CHECK(fr[i]->seq == i && fr[i]->data_len == 1000 + i && (!!(fr[i]->flags & VR_FRAME_KEY)) == (i == 0),
              "frame %zu: seq %u len %u flags %u", i, fr[i]->seq, fr[i]->data_len, fr[i]->flags);
    /* Live frames flow straight through. */
    au = au_of(data, 1005, false, 5 * 512);
    vr_guest_push_frame(f->g, &au, 0);
    mark = f->n_seen;
    to_client(f);
    CHECK(count(f, mark, VR_MSG_FRAME) == 1, "live frame");

    /* The client restarts: announced again, and after ACCEPT the cached GOP
     * (6 frames from the keyframe) comes at once. */
    client_hello(f, 0, 1, 1);
    client_simple(f, VR_MSG_ACCEPT, 0, "h264 (software)");
    mark = f->n_seen;
    to_client(f);
    n = frames_since(f, mark, fr, 64);
    CHECK(n == 6 && (fr[0]->flags & VR_FRAME_KEY) && fr[0]->data_len == 1000 && fr[5]->data_len == 1005,
          "resent %zu frames", n);
    CHECK(find(f, mark, VR_MSG_CLOCK) != NULL, "clock after the second accept");
    vr_guest_get_stats(f->g, &gs);
    CHECK(gs.gop_resends == 1 && gs.frames_resent == 6, "resends %" PRIu64 " frames %" PRIu64, gs.gop_resends,
          gs.frames_resent);

    /* A keyframe request: FLUSH, CLOCK, then the GOP, the keyframe marked
     * as a discontinuity. */
    client_simple(f, VR_MSG_KEYFRAME_REQUEST, VR_REASON_DECODE_ERROR, "");
    mark = f->n_seen;
    to_client(f);
    const struct seen *fl = find(f, mark, VR_MSG_FLUSH);
    first = find(f, mark, VR_MSG_FRAME);
    CHECK(fl && first && fl < first && (first->flags & VR_FRAME_KEY) && (first->flags & VR_FRAME_DISCONT),
          "flush then keyframe (flags %u)", first ? first->flags : 0);
    CHECK(count(f, mark, VR_MSG_FRAME) == 6, "keyframe request answered with %zu frames",
          count(f, mark, VR_MSG_FRAME));

    /* A seek: FLUSH, nothing until the next keyframe, the cache restarts. */
    CHECK(vr_guest_flush(f->g) == 0, "flush");
    au = au_of(data, 700, false, 9000);
    vr_guest_push_frame(f->g, &au, 0);
    au = au_of(data, 800, true, 10000);
    vr_guest_push_frame(f->g, &au, 0);
    mark = f->n_seen;
    to_client(f);
    n = frames_since(f, mark, fr, 64);
    CHECK(find(f, mark, VR_MSG_FLUSH) && n == 1 && fr[0]->data_len == 800, "after seek %zu frames", n);
    CHECK(f->gaps == 0, "gaps %u", f->gaps);
    teardown(f);
    free(f);
}

/* The window is full (a second of video in flight) when the next keyframe
 * comes: the old GOP's waiting tail is still sent, before the keyframe, not
 * dropped (a seek's preroll fills the window this way). A keyframe request
 * then needs none of that tail. */
static void test_player_gop_tail(void)
{
    enum { FRAME = 1000 };
    struct fixture *f = calloc(1, sizeof(*f));
    static uint8_t data[FRAME];
    const struct seen *fr[64];
    setup(f, 0, false);
    establish(f);
    client_simple(f, VR_MSG_ACCEPT, 0, "h264 (software)");
    size_t mark = f->n_seen;
    for (int i = 0; i < 28; i++) {
        struct vr_au au = au_of(data, FRAME, i == 0 || i == 27, i * 512);
        au.pts = i;
        CHECK(vr_guest_push_frame(f->g, &au, 0) == 0, "push %d", i);
    }
    to_client(f);
    struct vr_guest_stats gs;
    vr_guest_get_stats(f->g, &gs);
    CHECK(count(f, mark, VR_MSG_FRAME) == 25 && gs.backlog == 3 && gs.frames_dropped == 0,
          "window full: %zu sent, backlog %u, dropped %" PRIu64, count(f, mark, VR_MSG_FRAME), gs.backlog,
          gs.frames_dropped);
    client_feedback(f);
    vr_guest_pump(f->g);
    to_client(f);
    size_t n = frames_since(f, mark, fr, 64);
    CHECK(n == 28, "sent %zu of 28", n);
    for (size_t i = 0; i < n; i++)
        CHECK(fr[i]->pts == (int64_t)i && (!!(fr[i]->flags & VR_FRAME_KEY)) == (i == 0 || i == 27),
              "frame %zu: pts %" PRId64 " flags %u", i, fr[i]->pts, fr[i]->flags);

    /* Again with the tail waiting, then a keyframe request: FLUSH and the
     * GOP from its keyframe; the tail is given up. */
    for (int i = 28; i < 60; i++) {
        struct vr_au au = au_of(data, FRAME, i == 55, i * 512);
        au.pts = i;
        CHECK(vr_guest_push_frame(f->g, &au, 0) == 0, "push %d", i);
    }
    to_client(f);
    vr_guest_get_stats(f->g, &gs);
    CHECK(gs.backlog == 10 && gs.frames_dropped == 0, "backlog %u, dropped %" PRIu64, gs.backlog,
          gs.frames_dropped);
    mark = f->n_seen;
    client_simple(f, VR_MSG_KEYFRAME_REQUEST, VR_REASON_DECODE_ERROR, "");
    for (int round = 0; round < 4; round++) {
        to_client(f);
        client_feedback(f);
        vr_guest_pump(f->g);
    }
    to_client(f);
    n = frames_since(f, mark, fr, 64);
    vr_guest_get_stats(f->g, &gs);
    CHECK(find(f, mark, VR_MSG_FLUSH) && n == 5 && fr[0]->pts == 55 && (fr[0]->flags & VR_FRAME_DISCONT),
          "after the keyframe request %zu frames from pts %" PRId64, n, n ? fr[0]->pts : -1);
    CHECK(gs.frames_dropped == 5, "the tail: %" PRIu64 " dropped", gs.frames_dropped);
    CHECK(f->gaps == 0, "gaps %u", f->gaps);
    teardown(f);
    free(f);
}

/* Player mode with a client that stops reading: droppable frames go first,
 * then the rest of the GOP; the next frame the client gets after a dropped
 * reference frame is a keyframe. */
static void test_player_drop_policy(void)
{
    enum { WINDOW = 16 * 1024, FRAME = 1000, GOP = 80 };
    struct fixture *f = calloc(1, sizeof(*f));
    static uint8_t data[FRAME];
    const struct seen *fr[512];
    setup(f, WINDOW, false);
    establish(f);
    client_simple(f, VR_MSG_ACCEPT, 0, "h264 (software)");
    size_t mark = f->n_seen;
    /* 4 GOPs of 80: key, then alternating reference / droppable frames. */
    for (int i = 0; i < 4 * GOP; i++) {
        struct vr_au au = au_of(data, FRAME, i % GOP == 0, i * 512);
        if (i % GOP && i % 2 == 0)
            au.flags |= VR_FRAME_DROPPABLE;
        au.pts = i;
        CHECK(vr_guest_push_frame(f->g, &au, 0) == 0, "push %d", i);
    }
    struct vr_guest_stats gs;
    vr_guest_get_stats(f->g, &gs);
    CHECK(gs.frames_dropped > 0, "nothing dropped with a full window");
    CHECK(gs.backlog <= 25, "backlog %u over the cap", gs.backlog);
    /* The client catches up. */
    for (int round = 0; round < 20; round++) {
        to_client(f);
        client_feedback(f);
        vr_guest_pump(f->g);
    }
    to_client(f);
    size_t n = frames_since(f, mark, fr, 512);
    vr_guest_get_stats(f->g, &gs);
    CHECK(n + gs.frames_dropped == 4 * GOP, "sent %zu + dropped %" PRIu64 " != %d", n, gs.frames_dropped, 4 * GOP);
    CHECK(gs.backlog == 0, "backlog %u after catching up", gs.backlog);
    /* Decodability: every frame after a missing reference frame of its GOP
     * is not sent; a missing droppable frame harms nothing. */
    int64_t expect = 0;
    bool gop_broken = false;
    for (size_t i = 0; i < n; i++) {
        int64_t p = fr[i]->pts;
        CHECK(p >= expect, "frame order");
        for (int64_t q = expect; q < p; q++) {
            bool droppable = q % GOP && q % 2 == 0;
            if (!droppable && q % GOP)
                gop_broken = true;
            if (q % GOP == 0)
                gop_broken = true; /* a whole GOP gone from its key */
        }
        if (p % GOP == 0)
            gop_broken = false;
        CHECK(!gop_broken, "frame pts %" PRId64 " sent after a dropped reference frame", p);
        CHECK(fr[i]->seq == i, "seq %u at %zu", fr[i]->seq, i);
        expect = p + 1;
    }
    CHECK(f->gaps == 0, "gaps %u", f->gaps);
    teardown(f);
    free(f);
}

int main(void)
{
    test_handshake();
    test_reply_path();
    test_reject();
    test_accept_timeout();
    test_version_mismatch();
    test_frames_and_window();
    test_time_window();
    test_player_gop_tail();
    test_ping_pong();
    test_peer_gone_and_restart();
    test_geometry_updates();
    test_player_gop_cache();
    test_player_drop_policy();
    if (vr_failures)
        fprintf(stderr, "%d check(s) failed\n", vr_failures);
    else
        printf("guest state machine: all checks passed\n");
    return vr_failures ? 1 : 0;
}
