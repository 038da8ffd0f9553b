/*
 * The guest daemon core against real guests and a scripted client, in one
 * process: each player is a vr_guest in player mode (what vr_player runs),
 * the client is a vr_conn that answers as the reference client would, and
 * the test moves the bytes between them and advances a fake clock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/capture.h>
#include <videoredir/guestd.h>

#include "../check.h"

#define NPL 3

struct cstream {
    uint32_t id;
    bool started, stopped;
    uint32_t frames, last_seq;
    uint32_t stop_reason;
};

struct fixture {
    uint64_t now;
    struct vr_guestd *d;
    struct vr_conn *client;
    bool client_up;
    bool auto_accept, auto_feedback;
    bool mute_players; /* the daemon does not read the players (port congested) */
    struct cstream cs[32];
    uint32_t n_cs;
    uint32_t hellos_from_daemon;
    struct vr_guest *g[NPL];
    uint32_t pid[NPL];
    bool connected[NPL];
};

static uint64_t fake_clock(void *user)
{
    return ((struct fixture *)user)->now;
}

static void dlog(void *user, enum vr_guestd_log_level lvl, const char *msg)
{
    (void)user;
    if (getenv("VR_TEST_VERBOSE"))
        fprintf(stderr, "  daemon %d: %s\n", lvl, msg);
}

static void glog(void *user, enum vr_log_level lvl, const char *msg)
{
    (void)user;
    if (getenv("VR_TEST_VERBOSE"))
        fprintf(stderr, "  guest %d: %s\n", lvl, msg);
}

static struct cstream *cs_find(struct fixture *f, uint32_t id)
{
    for (uint32_t i = 0; i < f->n_cs; i++)
        if (f->cs[i].id == id)
            return &f->cs[i];
    if (f->n_cs >= 32)
        return NULL;
    struct cstream *s = &f->cs[f->n_cs++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    return s;
}

static void client_send(struct fixture *f, struct vr_msg *m)
{
    int ret = vr_conn_send(f->client, m);
    CHECK(ret == 0, "client send %s: %d", vr_msg_type_name(m->type), ret);
}

static void client_hello(struct fixture *f, bool reply)
{
    static struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_HELLO;
    m.u.hello.version_min = m.u.hello.version_max = 1;
    m.u.hello.role = VR_ROLE_CLIENT;
    m.u.hello.flags = reply ? VR_HELLO_REPLY : 0;
    m.u.hello.features = VR_FEATURE_REGION | VR_FEATURE_FEEDBACK | VR_FEATURE_KEYFRAME_REQ;
    m.u.hello.max_streams = 8;
    m.u.hello.n_codecs = 1;
    m.u.hello.codecs[0] = (struct vr_codec_cap){ .codec = VR_CODEC_H264, .max_width = 4096, .max_height = 4096 };
    snprintf(m.u.hello.software, sizeof(m.u.hello.software), "test-client");
    client_send(f, &m);
}

static void feedback(struct fixture *f, uint32_t id)
{
    struct vr_conn_stats st;
    vr_conn_get_stats(f->client, &st);
    struct cstream *s = cs_find(f, id);
    static struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_FEEDBACK;
    m.stream_id = id;
    m.u.feedback.bytes_received = st.bytes_consumed;
    m.u.feedback.last_seq = s ? s->last_seq : 0;
    m.u.feedback.decoded = s ? s->frames : 0;
    client_send(f, &m);
}

static void client_msg(void *user, const struct vr_msg *m)
{
    struct fixture *f = user;
    struct cstream *s;
    switch (m->type) {
    case VR_MSG_HELLO:
        f->hellos_from_daemon++;
        CHECK(m->u.hello.role == VR_ROLE_GUEST, "daemon says it is the guest");
        if (!(m->u.hello.flags & VR_HELLO_REPLY) && !f->client_up)
            client_hello(f, true);
        f->client_up = true;
        break;
    case VR_MSG_PING: {
        static struct vr_msg r;
        memset(&r, 0, sizeof(r));
        r.type = VR_MSG_PONG;
        r.u.pong.id = m->u.ping.id;
        r.u.pong.ping_time_us = m->u.ping.time_us;
        r.u.pong.time_us = f->now;
        client_send(f, &r);
        break;
    }
    case VR_MSG_STREAM_START:
        s = cs_find(f, m->stream_id);
        if (!s)
            break;
        s->started = true;
        s->stopped = false;
        s->frames = 0;
        if (f->auto_accept) {
            static struct vr_msg r;
            memset(&r, 0, sizeof(r));
            r.type = VR_MSG_ACCEPT;
            r.stream_id = m->stream_id;
            snprintf(r.u.accept.decoder, sizeof(r.u.accept.decoder), "test");
            client_send(f, &r);
        }
        break;
    case VR_MSG_FRAME:
        s = cs_find(f, m->stream_id);
        if (s) {
            s->frames++;
            s->last_seq = m->u.frame.seq;
            if (f->auto_feedback)
                feedback(f, m->stream_id);
        }
        break;
    case VR_MSG_STREAM_STOP:
        s = cs_find(f, m->stream_id);
        if (s) {
            s->stopped = true;
            s->stop_reason = m->u.stop.reason;
        }
        break;
    default:
        break;
    }
}

static void on_gap(void *user, uint32_t id, uint32_t missing)
{
    (void)user;
    CHECK(0, "gap of %" PRIu32 " frames in stream %" PRIu32, missing, id);
}

/* Moves every byte until nothing moves. */
static void pump(struct fixture *f)
{
    for (int round = 0; round < 1000; round++) {
        bool moved = false;
        const uint8_t *p;
        size_t n;
        while ((n = vr_guestd_port_out_peek(f->d, &p)) > 0) {
            vr_conn_feed(f->client, p, n);
            vr_guestd_port_out_consume(f->d, n);
            moved = true;
        }
        while ((n = vr_conn_out_peek(f->client, &p)) > 0) {
            vr_guestd_port_feed(f->d, p, n);
            vr_conn_out_consume(f->client, n);
            moved = true;
        }
        for (int i = 0; i < NPL; i++) {
            if (!f->connected[i])
                continue;
            if (vr_guestd_player_doomed(f->d, f->pid[i])) {
                vr_guestd_player_remove(f->d, f->pid[i]);
                vr_guest_channel_closed(f->g[i]);
                f->connected[i] = false;
                moved = true;
                continue;
            }
            struct vr_conn *gc = vr_guest_conn(f->g[i]);
            while (!f->mute_players && vr_guestd_players_readable(f->d) && (n = vr_conn_out_peek(gc, &p)) > 0) {
                int ret = vr_guestd_player_feed(f->d, f->pid[i], p, n);
                CHECK(ret == 0, "player %d feed: %d", i, ret);
                vr_conn_out_consume(gc, n);
                moved = true;
            }
            while ((n = vr_guestd_player_out_peek(f->d, f->pid[i], &p)) > 0) {
                vr_conn_feed(gc, p, n);
                vr_guestd_player_out_consume(f->d, f->pid[i], n);
                moved = true;
            }
            vr_guest_pump(f->g[i]);
            vr_guest_tick(f->g[i]);
        }
        vr_guestd_tick(f->d);
        if (!moved)
            return;
    }
    CHECK(0, "bytes kept moving for 1000 rounds");
}

static void advance(struct fixture *f, uint64_t us)
{
    /* In steps, so that pings and pongs flow as they would. */
    while (us > 0) {
        uint64_t step = us > 100000 ? 100000 : us;
        f->now += step;
        us -= step;
        pump(f);
    }
}

static void connect_player(struct fixture *f, int i, uint32_t uid)
{
    int ret = vr_guestd_player_add(f->d, uid, &f->pid[i]);
    CHECK(ret == 0, "player %d add: %d", i, ret);
    f->connected[i] = ret == 0;
    if (ret == 0)
        vr_guest_channel_open(f->g[i]);
}

static const uint8_t avcc[] = { 1, 0x64, 0, 0x1f, 0xff, 0xe0, 0 };

static void set_stream(struct fixture *f, int i)
{
    struct vr_stream_start st = { .codec = VR_CODEC_H264, .width = 640, .height = 360, .timebase_num = 1,
                                  .timebase_den = 25, .fps_num = 25, .fps_den = 1,
                                  .color = { 1, 1, 1, 0 }, .extradata_len = sizeof(avcc), .extradata = avcc };
    struct vr_geometry geo = { .window = { 100 * i, 0, 640, 360 }, .content = { 100 * i, 0, 640, 360 } };
    int ret = vr_guest_set_stream(f->g[i], &st, &geo, NULL);
    CHECK(ret == 0, "set stream %d: %d", i, ret);
}

static void push(struct fixture *f, int i, int64_t pts, bool key)
{
    uint8_t data[1000];
    memset(data, (int)(pts & 0xff), sizeof(data));
    struct vr_au au = { .data = data, .len = sizeof(data), .flags = key ? VR_FRAME_KEY : 0, .pts = pts,
                        .dts = pts, .duration = 1 };
    CHECK(vr_guest_push_frame(f->g[i], &au, 0) == 0, "push");
}

static void setup(struct fixture *f, const struct vr_guestd_config *cfg)
{
    memset(f, 0, sizeof(*f));
    f->now = 1000000;
    f->auto_accept = f->auto_feedback = true;
    struct vr_guestd_callbacks dcb = { .log = dlog, .clock = fake_clock };
    CHECK(vr_guestd_create(cfg, &dcb, f, &f->d) == 0, "create daemon");
    struct vr_conn_callbacks ccb = { .on_message = client_msg, .on_gap = on_gap };
    CHECK(vr_conn_create(NULL, &ccb, f, &f->client) == 0, "create client");
    for (int i = 0; i < NPL; i++) {
        struct vr_guest_config gc = { .stream_id = 1, .peer_timeout_us = 2000000 /* as vr_player */ };
        struct vr_guest_callbacks gcb = { .log = glog, .clock = fake_clock };
        CHECK(vr_guest_create(&gc, &gcb, f, &f->g[i]) == 0, "create guest");
    }
}

static void teardown(struct fixture *f)
{
    for (int i = 0; i < NPL; i++)
        vr_guest_destroy(f->g[i]);
    vr_conn_destroy(f->client);
    vr_guestd_destroy(f->d);
}

/* Two players stream at once; each gets its own id on the port, its own
 * ACCEPT, and acknowledgements in its own byte count. */
static void test_two_players(void)
{
    struct fixture f;
    setup(&f, NULL);
    /* Players before the client: they wait, as at a port with no client. */
    connect_player(&f, 0, 1000);
    set_stream(&f, 0);
    pump(&f);
    CHECK(vr_guest_get_state(f.g[0]) == VR_GUEST_HELLO, "no client yet: player waits (%s)",
          vr_guest_state_name(vr_guest_get_state(f.g[0])));
    vr_guestd_port_open(f.d);
    client_hello(&f, false);
    pump(&f);
    struct vr_guestd_stats st;
    vr_guestd_get_stats(f.d, &st);
    CHECK(st.session_up, "session up");
    CHECK(vr_guest_get_state(f.g[0]) == VR_GUEST_STREAMING, "player 0 streams (%s)",
          vr_guest_state_name(vr_guest_get_state(f.g[0])));
    connect_player(&f, 1, 1000);
    set_stream(&f, 1);
    pump(&f);
    CHECK(vr_guest_get_state(f.g[1]) == VR_GUEST_STREAMING, "player 1 streams");
    CHECK(f.n_cs == 2 && f.cs[0].id != f.cs[1].id, "two distinct ids on the port (%u)", f.n_cs);

    for (int k = 0; k < 50; k++) {
        push(&f, 0, k, k % 10 == 0);
        push(&f, 1, k, k % 10 == 0);
        advance(&f, 40000);
    }
    CHECK(f.cs[0].frames == 50 && f.cs[1].frames == 50, "every frame arrived (%u, %u)", f.cs[0].frames,
          f.cs[1].frames);
    for (int i = 0; i < 2; i++) {
        struct vr_guest_stats gs;
        vr_guest_get_stats(f.g[i], &gs);
        CHECK(gs.frames_sent == 50 && gs.frames_dropped == 0, "player %d sent all (%" PRIu64 ")", i,
              gs.frames_sent);
        CHECK(gs.in_flight_us == 0, "player %d: everything acknowledged (%" PRIu64 " us in flight)", i,
              gs.in_flight_us);
        CHECK(gs.feedbacks > 0, "player %d got feedback", i);
    }

    /* Acknowledgements are per player: without feedback, each one's window
     * fills with its own frames (1 s), then it holds back. */
    f.auto_feedback = false;
    for (int k = 50; k < 100; k++) {
        push(&f, 0, k, false);
        advance(&f, 1000);
    }
    struct vr_guest_stats g0;
    vr_guest_get_stats(f.g[0], &g0);
    CHECK(g0.in_flight_us >= 900000 && g0.in_flight_us <= 1000000, "player 0: window full (%" PRIu64 " us)",
          g0.in_flight_us);
    CHECK(g0.backlog > 0, "player 0 holds frames back (%u)", g0.backlog);
    feedback(&f, f.cs[0].id);
    pump(&f);
    vr_guest_get_stats(f.g[0], &g0);
    CHECK(g0.backlog == 0, "feedback through the daemon opens player 0's window (%u waiting)", g0.backlog);

    /* The daemon not reading a player for 3 s (port congested): the
     * daemon's own pings keep it from taking the client for gone. */
    f.mute_players = true;
    advance(&f, 3000000);
    CHECK(vr_guest_get_state(f.g[0]) == VR_GUEST_STREAMING, "unread player still streams (%s)",
          vr_guest_state_name(vr_guest_get_state(f.g[0])));
    f.mute_players = false;
    pump(&f);

    /* A player that goes away: its stream ends on the client at once. */
    vr_guestd_player_remove(f.d, f.pid[1]);
    f.connected[1] = false;
    pump(&f);
    CHECK(f.cs[1].stopped && f.cs[1].stop_reason == VR_REASON_USER, "gone player's stream stopped");
    CHECK(!f.cs[0].stopped, "the other stream goes on");

    /* Client restarts: the daemon answers, players announce again. */
    uint32_t before = f.n_cs;
    f.client_up = false;
    vr_conn_reset(f.client);
    client_hello(&f, false);
    pump(&f);
    CHECK(f.n_cs == before + 1, "player 0 announced again with a new id (%u -> %u)", before, f.n_cs);
    CHECK(vr_guest_get_state(f.g[0]) == VR_GUEST_STREAMING, "player 0 streams again");

    /* Client silent: players are closed so they play locally at once. */
    f.now += 6000000;
    vr_guestd_tick(f.d);
    CHECK(vr_guestd_player_doomed(f.d, f.pid[0]), "silent client: player closed");
    teardown(&f);
}

/* Caps: streams per player, per user and in total; players per user. */
static void test_caps(void)
{
    struct fixture f;
    struct vr_guestd_config cfg = { .max_streams = 2, .max_streams_per_user = 1, .max_players_per_user = 2 };
    setup(&f, &cfg);
    vr_guestd_port_open(f.d);
    client_hello(&f, false);
    pump(&f);
    connect_player(&f, 0, 1000);
    connect_player(&f, 1, 1000);
    uint32_t extra;
    CHECK(vr_guestd_player_add(f.d, 1000, &extra) == -EUSERS, "third player of a user refused");
    set_stream(&f, 0);
    set_stream(&f, 1);
    pump(&f);
    CHECK(vr_guest_get_state(f.g[0]) == VR_GUEST_STREAMING, "first stream of the user streams");
    CHECK(vr_guest_get_state(f.g[1]) == VR_GUEST_FAILED, "second stream of the user refused (%s)",
          vr_guest_state_name(vr_guest_get_state(f.g[1])));
    CHECK(f.n_cs == 1, "the refused stream never reached the client (%u)", f.n_cs);
    connect_player(&f, 2, 2000);
    set_stream(&f, 2);
    pump(&f);
    CHECK(vr_guest_get_state(f.g[2]) == VR_GUEST_STREAMING, "another user's stream goes");
    struct vr_guestd_stats st;
    vr_guestd_get_stats(f.d, &st);
    CHECK(st.streams_live == 2 && st.streams_refused == 1 && st.players_refused == 1,
          "stats: %u live, %" PRIu64 " refused, %" PRIu64 " players refused", st.streams_live,
          st.streams_refused, st.players_refused);
    teardown(&f);
}

/* Hostile players: garbage, a client's hello, messages of the wrong
 * direction, a stream id never started. None of it reaches the client or
 * harms the other player's stream. */
static void test_hostile(void)
{
    struct fixture f;
    setup(&f, NULL);
    vr_guestd_port_open(f.d);
    client_hello(&f, false);
    pump(&f);
    connect_player(&f, 0, 1000);
    set_stream(&f, 0);
    pump(&f);

    uint32_t bad;
    CHECK(vr_guestd_player_add(f.d, 1000, &bad) == 0, "add");
    static const uint8_t junk[] = "GET / HTTP/1.1\r\n\r\n0123456789abcdef";
    CHECK(vr_guestd_player_feed(f.d, bad, junk, sizeof(junk)) == -EPROTO, "junk closes the player");
    vr_guestd_player_remove(f.d, bad);

    CHECK(vr_guestd_player_add(f.d, 1000, &bad) == 0, "add");
    static struct vr_msg m;
    uint8_t buf[8192];
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_HELLO;
    m.u.hello.version_min = m.u.hello.version_max = 1;
    m.u.hello.role = VR_ROLE_GUEST;
    long n = vr_msg_encode(&m, buf, sizeof(buf));
    CHECK(vr_guestd_player_feed(f.d, bad, buf, (size_t)n) == 0, "guest hello");
    /* Wrong direction and unknown stream ids: dropped. */
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_ACCEPT;
    m.stream_id = f.cs[0].id;
    n = vr_msg_encode(&m, buf, sizeof(buf));
    CHECK(vr_guestd_player_feed(f.d, bad, buf, (size_t)n) == 0, "accept from a player dropped");
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_STREAM_STOP;
    m.stream_id = 1;
    m.u.stop.reason = VR_REASON_EOS;
    n = vr_msg_encode(&m, buf, sizeof(buf));
    CHECK(vr_guestd_player_feed(f.d, bad, buf, (size_t)n) == 0, "stop of a stream it never started");
    pump(&f);
    CHECK(!f.cs[0].stopped, "another player's stream cannot be stopped");
    /* Not read: its output overflows and it is closed. */
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_PING;
    n = vr_msg_encode(&m, buf, sizeof(buf));
    int ret = 0;
    for (int k = 0; k < 100000 && ret == 0; k++)
        ret = vr_guestd_player_feed(f.d, bad, buf, (size_t)n);
    CHECK(ret == -ENOBUFS, "a player that does not read is closed (%d)", ret);
    vr_guestd_player_remove(f.d, bad);

    /* A client's hello from a player. */
    CHECK(vr_guestd_player_add(f.d, 1000, &bad) == 0, "add");
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_HELLO;
    m.u.hello.version_min = m.u.hello.version_max = 1;
    m.u.hello.role = VR_ROLE_CLIENT;
    n = vr_msg_encode(&m, buf, sizeof(buf));
    CHECK(vr_guestd_player_feed(f.d, bad, buf, (size_t)n) < 0, "client hello from a player closes it");
    vr_guestd_player_remove(f.d, bad);

    push(&f, 0, 0, true);
    pump(&f);
    CHECK(f.cs[0].frames == 1 && vr_guest_get_state(f.g[0]) == VR_GUEST_STREAMING, "player 0 unharmed");
    teardown(&f);
}

static void test_socket_path(void)
{
    char buf[256];
    setenv(VR_GUESTD_SOCKET_ENV, "/x/y.sock", 1);
    CHECK(strcmp(vr_guestd_socket_path(buf, sizeof(buf)), "/x/y.sock") == 0, "env");
    setenv(VR_GUESTD_SOCKET_ENV, "none", 1);
    CHECK(vr_guestd_socket_path(buf, sizeof(buf)) == NULL, "none: off");
    unsetenv(VR_GUESTD_SOCKET_ENV);
    setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
    CHECK(strcmp(vr_guestd_socket_path(buf, sizeof(buf)), "/run/user/7/" VR_GUESTD_SOCKET_NAME) == 0, "xdg");
    unsetenv("XDG_RUNTIME_DIR");
    CHECK(strcmp(vr_guestd_socket_path(buf, sizeof(buf)), VR_GUESTD_SYSTEM_SOCKET) == 0, "system");
}

int main(void)
{
    test_two_players();
    test_caps();
    test_hostile();
    test_socket_path();
    return CHECK_DONE();
}
