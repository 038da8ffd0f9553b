/*
 * Bad-input matrix (issue 7, SECURITY.md): hostile guest bytes into the real
 * client library, each case with the error it must produce, and after each
 * one proof that the session still works (a PING is answered, a good stream
 * decodes). Bytes are crafted by hand where the encoder would refuse them.
 * Usage: test_security_badinput CLIP (H.264 with a keyframe every 25 frames)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include <videoredir/client.h>

#include "../check.h"
#include "../conn_pump.h"
#include "../client/clip.h"

static struct vr_client *client;
static struct vr_conn *guest;
static struct vr_msg *last_in, *m;
static int n_in[0x30];
static uint32_t last_keyreq, last_reject;
static uint64_t fake_now = 1000000;
static uint32_t frames_out;
static int warnings, errors_logged;
static char last_warning[512];
static const char *clip_path;

static uint64_t clock_fn(void *user) { return fake_now; }
static void on_frame(void *user, uint32_t id, const AVFrame *f) { frames_out++; }

static void on_log(void *user, enum vr_client_log level, const char *msg)
{
    if (level == VR_CLOG_WARNING) {
        warnings++;
        snprintf(last_warning, sizeof(last_warning), "%s", msg);
    }
    errors_logged += level == VR_CLOG_ERROR;
    if (getenv("VR_TEST_VERBOSE"))
        fprintf(stderr, "client[%d]: %s\n", level, msg);
}

static void guest_msg(void *user, const struct vr_msg *msg)
{
    if (msg->type < 0x30)
        n_in[msg->type]++;
    if (msg->type == VR_MSG_KEYFRAME_REQUEST)
        last_keyreq = msg->u.keyframe_request.reason;
    if (msg->type == VR_MSG_REJECT)
        last_reject = msg->u.reject.reason;
    memcpy(last_in, msg, sizeof(*msg));
}

/* Client output to the guest conn (so it is decoded and counted). */
static void drain_client(void)
{
    vr_test_move(vr_client_conn(client), guest);
}

static void pump(void)
{
    vr_test_pump(vr_client_conn(client), guest);
}

/* Raw hostile bytes straight into the client. */
static void feed(const void *data, size_t len)
{
    vr_conn_feed(vr_client_conn(client), data, len);
    pump();
}

static struct vr_msg *new_msg(uint16_t type, uint32_t id)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->stream_id = id;
    return m;
}

static void send_now(void)
{
    CHECK(vr_conn_send(guest, m) == 0, "guest send %s", vr_msg_type_name(m->type));
    pump();
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A header as a hostile guest may write it. */
static void header(uint8_t *p, uint32_t magic, uint16_t version, uint16_t type, uint32_t id,
                   uint32_t length)
{
    put32(p, magic);
    put16(p + 4, version);
    put16(p + 6, type);
    put32(p + 8, id);
    put32(p + 12, length);
}

/* The session is alive: a PING with a fresh id is answered. */
static uint32_t ping_id = 1000;
static bool alive(void)
{
    new_msg(VR_MSG_PING, 0)->u.ping = (struct vr_ping){ .id = ++ping_id, .time_us = 77 };
    send_now();
    return last_in->type == VR_MSG_PONG && last_in->u.pong.id == ping_id;
}

/* The channel closes and opens again, as the SpicePortChannel adapter
 * reports it (it resets the conn on both). */
static void reopen(void)
{
    vr_client_channel_closed(client);
    vr_conn_reset(vr_client_conn(client));
    vr_conn_reset(guest);
    vr_client_channel_open(client);
}

static void hello(uint16_t vmin, uint16_t vmax, uint8_t flags)
{
    new_msg(VR_MSG_HELLO, 0)->u.hello = (struct vr_hello){ .version_min = vmin, .version_max = vmax,
                                                            .role = VR_ROLE_GUEST, .flags = flags };
    strcpy(m->u.hello.software, "hostile-guest");
    send_now();
}

static struct vr_client_stream_stats stats_of(uint32_t id)
{
    struct vr_client_stream_stats st;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (vr_client_stream_stats(client, i, &st) == 0 && st.stream_id == id)
            return st;
    memset(&st, 0, sizeof(st));
    return st;
}

static int slot_of(uint32_t id)
{
    struct vr_client_stream_stats st;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (vr_client_stream_stats(client, i, &st) == 0 && st.stream_id == id)
            return (int)i;
    return -1;
}

/* The clip, frame by frame, as a stream of the guest. */
static struct clip src;

static void start_clip(uint32_t id)
{
    CHECK(clip_rewind(&src, clip_path) == 0, "rewind");
    new_msg(VR_MSG_STREAM_START, id)->u.start = src.start;
    send_now();
}

/* Sends n frames of the clip (from where it is); skip drops them on the way
 * (lost in transit: the conn still numbers them). Returns frames sent. */
static int clip_frames(uint32_t id, int n, bool lost)
{
    int k = 0;
    struct vr_frame f;
    while (k < n && clip_read(&src, &f) == 1) {
        new_msg(VR_MSG_FRAME, id)->u.frame = f;
        CHECK(vr_conn_send(guest, m) == 0, "frame send");
        if (lost) {
            const uint8_t *d;
            size_t len;
            while ((len = vr_conn_out_peek(guest, &d)) > 0)
                vr_conn_out_consume(guest, len);
        }
        pump();
        k++;
    }
    return k;
}

static void stop(uint32_t id, uint32_t reason)
{
    new_msg(VR_MSG_STREAM_STOP, id)->u.stop.reason = reason;
    send_now();
}

static uint64_t errs(void) { return vr_client_protocol_errors(client); }

/* A good stream still plays from start to end after the hostile case. */
static void good_stream_plays(uint32_t id, const char *after)
{
    uint32_t before = frames_out;
    start_clip(id);
    CHECK(last_in->type == VR_MSG_ACCEPT && last_in->stream_id == id, "%s: good stream accepted", after);
    int sent = clip_frames(id, 1000, false);
    stop(id, VR_REASON_EOS);
    struct vr_client_stream_stats st = stats_of(id);
    CHECK(frames_out - before == (uint32_t)sent && st.frames_decoded == (uint64_t)sent &&
              st.frames_lost == 0 && st.frames_dropped == 0,
          "%s: good stream decodes all %d frames (got %u)", after, sent, frames_out - before);
}

/* ---------------------------------------------------------------------- */

static void case_truncated_header(void)
{
    /* 10 bytes of a header and the channel closes: nothing is delivered and
     * the next session starts clean (the half header is forgotten). */
    uint8_t h[16];
    header(h, VR_PROTO_MAGIC, 1, VR_MSG_PING, 0, 16);
    uint64_t e0 = errs();
    feed(h, 10);
    CHECK(errs() == e0, "truncated header: no error yet (waiting for bytes)");
    reopen();
    pump();
    hello(1, 1, VR_HELLO_REPLY);
    CHECK(vr_client_established(client) && alive(), "truncated header: next session works");

    /* A header cut short inside a live session: the following bytes are
     * taken as its rest; the session recovers after the damage. */
    feed(h, 10);
    int tries = 0;
    while (tries < 10000 && !alive())
        tries++;
    CHECK(tries < 10000 && alive(), "truncated header mid-session: pings answered again after %d", tries);
    printf("  (a 10-byte header swallowed %d pings before the session recovered)\n", tries);
}

static void case_length_past_cap(void)
{
    uint8_t h[16 + 32];
    header(h, VR_PROTO_MAGIC, 1, VR_MSG_FRAME, 1, VR_MAX_PAYLOAD + 1);
    memset(h + 16, 0xab, 32);
    struct vr_conn_stats a, b;
    vr_conn_get_stats(vr_client_conn(client), &a);
    uint64_t e0 = errs();
    feed(h, sizeof(h));
    vr_conn_get_stats(vr_client_conn(client), &b);
    CHECK(errs() == e0 + 1 && b.bad_msgs == a.bad_msgs + 1, "length past the cap: one bad header");
    CHECK(b.resync_bytes > a.resync_bytes, "length past the cap: resync skipped bytes");
    CHECK(strstr(last_warning, "skipped bad input") != NULL, "logged as a warning: %s", last_warning);
    CHECK(alive(), "length past the cap: session alive");
    /* Exactly at the cap is a valid header: the client waits for the
     * payload and holds at most one maximal message. */
    header(h, VR_PROTO_MAGIC, 1, 0x7ff0, 0, VR_MAX_PAYLOAD);
    feed(h, 16);
    static uint8_t chunk[1 << 20];
    for (int i = 0; i < 16; i++)
        feed(chunk, sizeof(chunk));
    CHECK(alive(), "maximal unknown message skipped, session alive");
}

static void case_unknown_type(void)
{
    uint8_t msgbuf[16 + 100];
    header(msgbuf, VR_PROTO_MAGIC, 1, 0x0777, 0, 100);
    memset(msgbuf + 16, 0x5a, 100);
    struct vr_conn_stats a, b;
    vr_conn_get_stats(vr_client_conn(client), &a);
    int w0 = warnings;
    feed(msgbuf, sizeof(msgbuf));
    vr_conn_get_stats(vr_client_conn(client), &b);
    CHECK(b.unknown_msgs == a.unknown_msgs + 1 && b.bad_msgs == a.bad_msgs, "unknown type skipped");
    CHECK(warnings == w0, "unknown type: no warning (forward compatibility)");
    CHECK(alive(), "unknown type: session alive");
}

static void case_wrong_magic_version(void)
{
    static const uint8_t junk[] = "RDRV garbage garbage garbage garbage";
    struct vr_conn_stats a, b;
    vr_conn_get_stats(vr_client_conn(client), &a);
    feed(junk, sizeof(junk));
    vr_conn_get_stats(vr_client_conn(client), &b);
    CHECK(b.resync_bytes >= a.resync_bytes + sizeof(junk) - 4 && b.bad_msgs == a.bad_msgs + 1,
          "wrong magic: resync, one report");
    CHECK(alive(), "wrong magic: session alive");

    uint8_t h[16 + 16];
    header(h, VR_PROTO_MAGIC, 2, VR_MSG_PING, 0, 16);
    memset(h + 16, 0, 16);
    uint64_t e0 = errs();
    feed(h, sizeof(h));
    CHECK(errs() == e0 + 1, "header version 2 refused");
    CHECK(alive(), "wrong header version: session alive");

    /* A guest speaking only protocol 2..3: clean refusal, no session. */
    reopen();
    pump();
    int hellos = n_in[VR_MSG_HELLO], e = errors_logged;
    hello(2, 3, 0);
    CHECK(!vr_client_established(client), "protocol 2..3: not established");
    CHECK(n_in[VR_MSG_HELLO] == hellos && errors_logged == e + 1, "refused without a reply, logged");
    hello(1, 3, 0);
    CHECK(vr_client_established(client) && alive(), "compatible guest afterwards: established");
}

static void case_unknown_stream(void)
{
    struct vr_frame f = { .flags = VR_FRAME_KEY, .pts = 0, .dts = INT64_MIN, .data = (const uint8_t *)"x",
                          .data_len = 1 };
    new_msg(VR_MSG_FRAME, 4242)->u.frame = f;
    uint64_t e0 = errs();
    send_now();
    new_msg(VR_MSG_GEOMETRY, 4243)->u.geometry = (struct vr_geometry){ .window = { 0, 0, 10, 10 },
                                                                        .content = { 0, 0, 10, 10 } };
    send_now();
    CHECK(errs() == e0 + 2 && vr_client_streams_active(client) == 0, "frame/geometry for unknown stream: dropped, counted");
    CHECK(alive(), "unknown stream: session alive");
}

static void case_duplicate_id(void)
{
    int acc = n_in[VR_MSG_ACCEPT];
    start_clip(5);
    clip_frames(5, 3, false);
    uint64_t serial = stats_of(5).serial;
    start_clip(5); /* again, while live */
    CHECK(n_in[VR_MSG_ACCEPT] == acc + 2, "duplicate stream id: both starts answered");
    struct vr_client_stream_stats st = stats_of(5);
    CHECK(st.active && st.serial != serial && st.frames_received == 0,
          "duplicate stream id: the old stream is replaced by a new one");
    CHECK(vr_client_streams_active(client) == 1, "duplicate stream id: one live stream");
    stop(5, VR_REASON_USER);
}

static void case_seq_gap(void)
{
    start_clip(6);
    clip_frames(6, 5, false);
    int kr = n_in[VR_MSG_KEYFRAME_REQUEST];
    uint32_t before = frames_out;
    clip_frames(6, 3, true); /* frames 5..7 lost in transit */
    clip_frames(6, 10, false);   /* 8..17: non-key, dropped */
    struct vr_client_stream_stats st = stats_of(6);
    CHECK(st.frames_lost == 3, "seq gap: 3 frames counted lost (got %llu)", (unsigned long long)st.frames_lost);
    CHECK(n_in[VR_MSG_KEYFRAME_REQUEST] == kr + 1 && last_keyreq == VR_REASON_SEQ_GAP,
          "seq gap: one KEYFRAME_REQUEST(seq-gap)");
    CHECK(st.frames_dropped == 10, "seq gap: frames until the keyframe dropped (got %llu)",
          (unsigned long long)st.frames_dropped);
    CHECK(frames_out - before <= 5, "seq gap: nothing decoded past the gap");
    uint32_t mid = frames_out;
    clip_frames(6, 1000, false); /* from frame 18: the keyframe at 25 resumes */
    stop(6, VR_REASON_EOS);
    st = stats_of(6);
    CHECK(frames_out - mid >= 50, "seq gap: playback resumes at the next keyframe (%u frames)",
          frames_out - mid);
    /* The client's counts and the guest's sequence numbers agree. */
    CHECK(st.frames_received + st.frames_lost == 75, "received %llu + lost %llu == 75 sent",
          (unsigned long long)st.frames_received, (unsigned long long)st.frames_lost);
    CHECK(last_in->type == VR_MSG_FEEDBACK && last_in->u.feedback.lost == 3 &&
              last_in->u.feedback.last_seq == 74, "feedback reports the loss");
}

static void region_raw(uint32_t id, uint32_t n_field, const int32_t (*rects)[4], uint32_t n_rects)
{
    uint8_t buf[16 + 4 + 16 * 4];
    uint32_t len = 4 + 16 * n_rects;
    header(buf, VR_PROTO_MAGIC, 1, VR_MSG_REGION, id, len);
    put32(buf + 16, n_field);
    for (uint32_t i = 0; i < n_rects; i++)
        for (int k = 0; k < 4; k++)
            put32(buf + 20 + 16 * i + 4 * k, (uint32_t)rects[i][k]);
    feed(buf, 16 + len);
}

static void case_bad_regions(void)
{
    start_clip(7);
    new_msg(VR_MSG_GEOMETRY, 7)->u.geometry = (struct vr_geometry){ .window = { 0, 0, 640, 360 },
                                                                     .content = { 0, 0, 640, 360 } };
    send_now();
    static const int32_t good[1][4] = { { 10, 10, 100, 50 } };
    region_raw(7, 1, good, 1);
    CHECK(stats_of(7).has_region && stats_of(7).n_rects == 1, "good region taken");
    static const struct {
        const char *what;
        int32_t r[2][4];
        uint32_t n, n_field;
    } bad[] = {
        { "zero width", { { 0, 0, 0, 10 } }, 1, 1 },
        { "zero height", { { 0, 0, 10, 0 } }, 1, 1 },
        { "negative width (u32 wraps)", { { 0, 0, -5, 10 } }, 1, 1 },
        { "x below -65535", { { -70000, 0, 10, 10 } }, 1, 1 },
        { "x + w overflows", { { 65000, 0, 1000, 10 } }, 1, 1 },
        { "y + h overflows INT32", { { 0, INT32_MAX, 16384, 10 } }, 1, 1 },
        { "second rect bad", { { 0, 0, 10, 10 }, { 5, 5, 16385, 1 } }, 2, 2 },
        { "count over 256", { { 0, 0, 10, 10 } }, 1, VR_MAX_RECTS + 1 },
        { "count beyond payload", { { 0, 0, 10, 10 } }, 1, 4 },
        { "count 0xffffffff", { { 0, 0, 10, 10 } }, 1, 0xffffffffu },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t e0 = errs();
        region_raw(7, bad[i].n_field, bad[i].r, bad[i].n);
        CHECK(errs() == e0 + 1, "region %s: rejected", bad[i].what);
        struct vr_client_stream_stats st = stats_of(7);
        CHECK(st.active && st.n_rects == 1, "region %s: stream keeps its last good region", bad[i].what);
    }
    pixman_region32_t r;
    pixman_region32_init(&r);
    vr_client_stream_region(client, (uint32_t)slot_of(7), &r);
    CHECK(pixman_region32_n_rects(&r) == 1 && r.extents.x1 == 10 && r.extents.x2 == 110,
          "visible region unchanged by the bad ones");
    pixman_region32_fini(&r);
    CHECK(alive(), "bad regions: session alive");
    stop(7, VR_REASON_USER);
}

static void case_geometry_outside(void)
{
    start_clip(8);
    clip_frames(8, 6, false);
    /* Valid by the protocol, far outside any desktop, and as large as allowed. */
    new_msg(VR_MSG_GEOMETRY, 8)->u.geometry = (struct vr_geometry){
        .monitor = 0xffffffffu, .window = { -65535, -65535, 16384, 16384 },
        .content = { 65535 - 16384, 65535 - 16384, 16384, 16384 } };
    send_now();
    static const int32_t rr[2][4] = { { -65535, -65535, 16384, 16384 }, { 50000, 50000, 15535, 15535 } };
    region_raw(8, 2, rr, 2);
    struct vr_client_stream_stats st = stats_of(8);
    CHECK(st.has_geometry && st.has_region, "geometry outside the desktop is stored");
    pixman_image_t *canvas = pixman_image_create_bits(PIXMAN_x8r8g8b8, 320, 200, NULL, 0);
    pixman_region32_t r;
    pixman_region32_init(&r);
    int slot = slot_of(8);
    vr_client_stream_region(client, (uint32_t)slot, &r);
    CHECK(pixman_region32_n_rects(&r) == 1 && r.extents.x1 == 50000, "region clipped to the content");
    const AVFrame *f = vr_client_stream_frame(client, (uint32_t)slot);
    CHECK(f != NULL, "a decoded frame");
    int ret = f ? vr_composite_frame(canvas, f, &st.geometry.content, &r) : 0;
    CHECK(ret == -E2BIG, "16384x16384 destination refused, not allocated (%d)", ret);
    struct vr_rect small = { 40000, 40000, 640, 360 };
    ret = f ? vr_composite_frame(canvas, f, &small, NULL) : -1;
    CHECK(ret == 0, "destination off the canvas: nothing drawn, no error");
    uint32_t *px = pixman_image_get_data(canvas);
    bool untouched = true;
    for (int i = 0; i < 320 * 200; i++)
        untouched &= (px[i] & 0xffffff) == 0;
    CHECK(untouched, "canvas untouched");
    pixman_region32_fini(&r);
    pixman_image_unref(canvas);
    stop(8, VR_REASON_USER);
}

static void case_codec_mismatch(void)
{
    /* Announced as HEVC, carrying H.264: decode errors, keyframe requests,
     * nothing decoded, the stream stays up. */
    CHECK(clip_rewind(&src, clip_path) == 0, "rewind");
    struct vr_stream_start st = src.start;
    st.codec = VR_CODEC_HEVC;
    st.extradata = NULL;
    st.extradata_len = 0;
    st.flags = VR_STREAM_ANNEXB;
    new_msg(VR_MSG_STREAM_START, 9)->u.start = st;
    send_now();
    CHECK(last_in->type == VR_MSG_ACCEPT, "mismatched stream accepted (the start is valid)");
    uint32_t before = frames_out;
    int kr = n_in[VR_MSG_KEYFRAME_REQUEST];
    for (int i = 0; i < 30; i++) {
        clip_frames(9, 1, false);
        fake_now += 40000;
        vr_client_tick(client);
        pump();
    }
    stop(9, VR_REASON_EOS);
    struct vr_client_stream_stats s = stats_of(9);
    CHECK(frames_out == before, "codec mismatch: no picture comes out (%u)", frames_out - before);
    CHECK(n_in[VR_MSG_KEYFRAME_REQUEST] > kr && n_in[VR_MSG_KEYFRAME_REQUEST] <= kr + 4,
          "codec mismatch: keyframe requests, rate limited (%d)", n_in[VR_MSG_KEYFRAME_REQUEST] - kr);
    CHECK(s.frames_received == 30, "codec mismatch: all counted");

    /* Announced 64x64, bitstream 640x360: refused by the decoder. */
    CHECK(clip_rewind(&src, clip_path) == 0, "rewind");
    st = src.start;
    st.width = st.height = 64;
    new_msg(VR_MSG_STREAM_START, 10)->u.start = st;
    send_now();
    before = frames_out;
    clip_frames(10, 30, false);
    stop(10, VR_REASON_EOS);
    s = stats_of(10);
    CHECK(frames_out == before && s.decode_errors > 0,
          "bitstream larger than announced: refused (%u frames, %llu errors)", frames_out - before,
          (unsigned long long)s.decode_errors);
    CHECK(alive(), "codec mismatch: session alive");
}

static void case_no_keyframe(void)
{
    start_clip(11);
    struct vr_frame f;
    int kr = n_in[VR_MSG_KEYFRAME_REQUEST], n = 0;
    uint32_t before = frames_out;
    while (clip_read(&src, &f) == 1) {
        f.flags &= ~(uint32_t)VR_FRAME_KEY;
        if (n++ % 25 == 0)
            continue; /* the real keyframes never go out */
        new_msg(VR_MSG_FRAME, 11)->u.frame = f;
        CHECK(vr_conn_send(guest, m) == 0, "send");
        pump();
        fake_now += 40000; /* 25 fps */
        vr_client_tick(client);
        pump();
    }
    struct vr_client_stream_stats s = stats_of(11);
    CHECK(frames_out == before && s.frames_dropped == s.frames_received && s.frames_received == 72,
          "no keyframe: every frame dropped, none decoded (%llu/%llu)",
          (unsigned long long)s.frames_dropped, (unsigned long long)s.frames_received);
    int asked = n_in[VR_MSG_KEYFRAME_REQUEST] - kr;
    CHECK(asked >= 5 && asked <= 7 && last_keyreq == VR_REASON_RECONNECT,
          "no keyframe: asked every 0.5 s over ~2.9 s (%d)", asked);
    stop(11, VR_REASON_USER);
}

static void case_flood_tiny(void)
{
    /* 1 M zero-length unknown messages, then 300 k PINGs never read back:
     * the output queue stays capped, nothing grows, the log stays short. */
    enum { N = 1000000 };
    uint8_t *buf = malloc((size_t)N * 16);
    CHECK(buf != NULL, "alloc");
    if (!buf)
        return;
    for (size_t i = 0; i < N; i++)
        header(buf + 16 * i, VR_PROTO_MAGIC, 1, 0x0fff, 0, 0);
    struct vr_conn_stats a, b;
    vr_conn_get_stats(vr_client_conn(client), &a);
    int w0 = warnings;
    vr_conn_feed(vr_client_conn(client), buf, (size_t)N * 16);
    vr_conn_get_stats(vr_client_conn(client), &b);
    CHECK(b.unknown_msgs == a.unknown_msgs + N && warnings == w0, "1 M tiny unknown messages skipped quietly");

    enum { P = 300000 };
    for (size_t i = 0; i < P; i++) {
        header(buf + 32 * i, VR_PROTO_MAGIC, 1, VR_MSG_PING, 0, 16);
        memset(buf + 32 * i + 16, 0, 16);
        put32(buf + 32 * i + 16, (uint32_t)i);
    }
    w0 = warnings;
    vr_conn_feed(vr_client_conn(client), buf, (size_t)P * 32);
    size_t q = vr_conn_out_queued(vr_client_conn(client));
    CHECK(q <= (8u << 20), "PING flood: answers capped at 8 MiB (%zu)", q);
    CHECK(warnings - w0 < 40, "PING flood: the log is rate limited (%d warnings)", warnings - w0);
    drain_client();
    CHECK(alive(), "after the floods: session alive");

    /* A flood of 1-byte frames into a live stream. */
    start_clip(12);
    clip_frames(12, 1, false);
    int kr = n_in[VR_MSG_KEYFRAME_REQUEST];
    for (int i = 0; i < 5000; i++) {
        struct vr_frame f = { .flags = VR_FRAME_KEY, .pts = i, .dts = INT64_MIN,
                              .data = (const uint8_t *)"\xff", .data_len = 1 };
        new_msg(VR_MSG_FRAME, 12)->u.frame = f;
        vr_conn_send(guest, m);
        if (i % 64 == 0)
            pump();
    }
    pump();
    struct vr_client_stream_stats s = stats_of(12);
    CHECK(s.frames_received == 5001 && s.active, "frame flood: all counted, stream up");
    CHECK(n_in[VR_MSG_KEYFRAME_REQUEST] - kr <= 2, "frame flood: keyframe requests rate limited");
    stop(12, VR_REASON_USER);
    free(buf);
}

static void case_flood_streams(void)
{
    /* Many distinct stream ids at once: max_streams accepted, the rest
     * rejected (too-many); then start/stop churn over thousands of ids. */
    int acc = n_in[VR_MSG_ACCEPT], rej = n_in[VR_MSG_REJECT];
    for (uint32_t id = 100; id < 300; id++)
        start_clip(id);
    CHECK(n_in[VR_MSG_ACCEPT] - acc == 2 && n_in[VR_MSG_REJECT] - rej == 198 &&
              last_reject == VR_REASON_TOO_MANY, "200 starts: 2 accepted, 198 rejected too-many");
    CHECK(vr_client_streams_active(client) == 2, "never over max_streams");
    for (uint32_t id = 100; id < 300; id++)
        stop(id, VR_REASON_USER);
    CHECK(vr_client_streams_active(client) == 0, "all stopped");
    acc = n_in[VR_MSG_ACCEPT];
    for (uint32_t id = 1000; id < 3000; id++) {
        start_clip(id);
        if (id % 3 == 0)
            start_clip(id); /* replaced while live */
        stop(id, VR_REASON_USER);
    }
    CHECK(n_in[VR_MSG_ACCEPT] - acc >= 2000, "churn: slots are recycled (%d accepted, last reject %u: %s)", n_in[VR_MSG_ACCEPT] - acc, last_reject, last_in->type == VR_MSG_REJECT ? last_in->u.reject.message : "");
    CHECK(vr_client_streams_active(client) <= 2, "churn: never over max_streams");
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_client_stream_stats st;
        if (vr_client_stream_stats(client, i, &st) == 0 && st.active)
            stop(st.stream_id, VR_REASON_USER);
    }
}

static void case_size_limits(void)
{
    CHECK(clip_rewind(&src, clip_path) == 0, "rewind");
    struct vr_stream_start st = src.start;
    st.width = 1921; /* over this client's 1920x1080 */
    new_msg(VR_MSG_STREAM_START, 20)->u.start = st;
    send_now();
    CHECK(last_in->type == VR_MSG_REJECT && last_reject == VR_REASON_TOO_LARGE, "over max size: too-large");
    /* Over the protocol's 16384: the start cannot be decoded: REJECT(protocol). */
    uint8_t buf[16 + 36];
    memset(buf, 0, sizeof(buf));
    header(buf, VR_PROTO_MAGIC, 1, VR_MSG_STREAM_START, 21, 36);
    put16(buf + 16, VR_CODEC_H264);
    put32(buf + 20, 16385);
    put32(buf + 24, 100);
    put32(buf + 28, 1);
    put32(buf + 32, 25);
    feed(buf, sizeof(buf));
    CHECK(last_in->type == VR_MSG_REJECT && last_in->stream_id == 21 && last_reject == VR_REASON_PROTOCOL,
          "width 16385: REJECT(protocol)");
    /* Pixel budget (2 x 1080p here): the third 1080p stream is too large. */
    st.width = 1920;
    st.height = 1080;
    for (uint32_t id = 22; id < 24; id++) {
        new_msg(VR_MSG_STREAM_START, id)->u.start = st;
        send_now();
        CHECK(last_in->type == VR_MSG_ACCEPT, "1080p stream %u accepted", id);
    }
    stop(23, VR_REASON_USER);
    st.width = 1280;
    st.height = 720;
    new_msg(VR_MSG_STREAM_START, 24)->u.start = st;
    send_now();
    CHECK(last_in->type == VR_MSG_ACCEPT, "720p fits the rest of the budget");
    st.width = 1920;
    st.height = 1080;
    new_msg(VR_MSG_STREAM_START, 25)->u.start = st;
    send_now();
    CHECK(last_in->type == VR_MSG_REJECT && last_reject == VR_REASON_TOO_MANY, "third stream: too-many first");
    stop(24, VR_REASON_USER);
    new_msg(VR_MSG_STREAM_START, 26)->u.start = st;
    send_now();
    CHECK(last_in->type == VR_MSG_ACCEPT, "two 1080p streams: at the budget");
    stop(22, VR_REASON_USER);
    stop(26, VR_REASON_USER);

    /* A FRAME whose data_len runs past its payload: malformed, and the
     * frame shows up as a gap. */
    start_clip(27);
    clip_frames(27, 2, false);
    uint8_t fr[16 + 44 + 4];
    memset(fr, 0, sizeof(fr));
    header(fr, VR_PROTO_MAGIC, 1, VR_MSG_FRAME, 27, 48);
    put32(fr + 16, 2);
    put32(fr + 16 + 40, 0x00ffffc0u); /* VR_MAX_FRAME_DATA, only 4 bytes follow */
    uint64_t e0 = errs();
    feed(fr, sizeof(fr));
    CHECK(errs() == e0 + 1, "frame data_len past the payload: rejected");
    stop(27, VR_REASON_USER);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    clip_path = argv[1];
    av_log_set_level(AV_LOG_QUIET);
    last_in = calloc(1, sizeof(*last_in));
    m = calloc(1, sizeof(*m));
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE, .max_streams = 2, .max_width = 1920,
                                    .max_height = 1080, .max_total_pixels = 2 * 1920 * 1080 };
    struct vr_client_callbacks cb = { .log = on_log, .frame = on_frame, .clock = clock_fn };
    CHECK(last_in && m && vr_client_create(&cfg, &cb, NULL, &client) == 0, "client");
    struct vr_conn_callbacks gcb = { .on_message = guest_msg };
    CHECK(vr_conn_create(NULL, &gcb, NULL, &guest) == 0, "guest conn");
    CHECK(clip_open(&src, clip_path) == 0, "clip %s", clip_path);

    vr_client_channel_open(client);
    pump();
    hello(1, 1, VR_HELLO_REPLY);
    CHECK(vr_client_established(client), "established");

    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {
        { "truncated header", case_truncated_header },
        { "length past the cap", case_length_past_cap },
        { "unknown type", case_unknown_type },
        { "wrong magic/version", case_wrong_magic_version },
        { "frame for unknown stream", case_unknown_stream },
        { "duplicate stream id", case_duplicate_id },
        { "sequence gap", case_seq_gap },
        { "bad regions", case_bad_regions },
        { "geometry outside the desktop", case_geometry_outside },
        { "bitstream not matching the codec", case_codec_mismatch },
        { "no keyframe ever", case_no_keyframe },
        { "flood of tiny messages", case_flood_tiny },
        { "flood of streams", case_flood_streams },
        { "size limits", case_size_limits },
    };
    uint32_t id = 500;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int before = vr_failures;
        cases[i].fn();
        CHECK(vr_client_established(client), "%s: session still established", cases[i].name);
        good_stream_plays(id++, cases[i].name);
        printf("%-34s %s\n", cases[i].name, vr_failures == before ? "ok" : "FAILED");
    }
    printf("protocol errors counted: %llu\n", (unsigned long long)errs());

    clip_close(&src);
    vr_client_destroy(client);
    vr_conn_destroy(guest);
    free(last_in);
    free(m);
    return CHECK_DONE();
}
