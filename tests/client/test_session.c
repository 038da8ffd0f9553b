/*
 * Client session state machine against a scripted guest in the same process:
 * a second vr_conn plays the guest and bytes are moved by hand. Real access
 * units from a sample clip are decoded; hostile input is thrown at it.
 * Usage: test_client_session CLIP (an H.264 clip with B-frames)
 */
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include <videoredir/client.h>

#include "../check.h"
#include "../conn_pump.h"
#include "clip.h"

/* The guest's clock runs this far ahead of the client's. */
#define GUEST_AHEAD_US 5000000u

static struct vr_client *client;
static struct vr_conn *guest;
static struct vr_msg *last_in; /* last message the guest received */
static struct vr_feedback last_fb;
static uint32_t last_keyreq_reason;
static int n_in[0x30];
static uint32_t n_frames_out;
static uint64_t fake_now = 1000000;
static bool answer_pings;
static struct vr_msg m;

static uint64_t clock_fn(void *user) { return fake_now; }

static void guest_msg(void *user, const struct vr_msg *msg)
{
    if (msg->type < 0x30)
        n_in[msg->type]++;
    if (msg->type == VR_MSG_FEEDBACK)
        last_fb = msg->u.feedback;
    if (msg->type == VR_MSG_KEYFRAME_REQUEST)
        last_keyreq_reason = msg->u.keyframe_request.reason;
    memcpy(last_in, msg, sizeof(*msg));
    if (msg->type == VR_MSG_PING && answer_pings) {
        struct vr_msg pong = { .type = VR_MSG_PONG };
        pong.u.pong = (struct vr_pong){ .id = msg->u.ping.id, .ping_time_us = msg->u.ping.time_us,
                                        .time_us = fake_now + GUEST_AHEAD_US };
        vr_conn_send(guest, &pong);
    }
}

static void on_frame(void *user, uint32_t id, const AVFrame *f) { n_frames_out++; }

static void pump(void)
{
    vr_test_pump(vr_client_conn(client), guest);
}

/* Queues a message on the guest side but throws its bytes away (lost). */
static void lose(struct vr_msg *msg)
{
    vr_conn_send(guest, msg);
    const uint8_t *d;
    size_t n;
    while ((n = vr_conn_out_peek(guest, &d)) > 0)
        vr_conn_out_consume(guest, n);
}

static struct vr_msg *new_msg(uint16_t type, uint32_t id)
{
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.stream_id = id;
    return &m;
}

static void send_now(struct vr_msg *msg)
{
    CHECK(vr_conn_send(guest, msg) == 0, "guest send %s", vr_msg_type_name(msg->type));
    pump();
}

static void start(uint32_t id, const struct vr_stream_start *st)
{
    new_msg(VR_MSG_STREAM_START, id)->u.start = *st;
    send_now(&m);
}

static void stop(uint32_t id, uint32_t reason)
{
    new_msg(VR_MSG_STREAM_STOP, id)->u.stop.reason = reason;
    send_now(&m);
}

static int send_frame(uint32_t id, const struct vr_frame *f, bool deliver)
{
    new_msg(VR_MSG_FRAME, id)->u.frame = *f;
    m.u.frame.send_time_us = fake_now + GUEST_AHEAD_US;
    if (!deliver) {
        lose(&m);
        return 0;
    }
    int ret = vr_conn_send(guest, &m);
    pump();
    return ret;
}

static struct vr_client_stream_stats stats_of(uint32_t id, uint32_t *slot)
{
    struct vr_client_stream_stats st = { 0 };
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (vr_client_stream_stats(client, i, &st) == 0 && st.stream_id == id) {
            if (slot)
                *slot = i;
            return st;
        }
    memset(&st, 0, sizeof(st));
    return st;
}

static void guest_hello(uint8_t flags)
{
    new_msg(VR_MSG_HELLO, 0)->u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1,
                                                           .role = VR_ROLE_GUEST, .flags = flags };
    strcpy(m.u.hello.software, "test-guest");
    send_now(&m);
}

/* Random but valid guest messages for streams 1..3: starts with odd sizes,
 * frames of garbage, geometry, regions, stops, flushes. */
static void hostile_storm(const struct vr_stream_start *good, unsigned seed)
{
    static uint8_t junk[4096];
    int to_decoder = 0;
    for (int i = 0; i < 600; i++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t r = seed >> 8, id = 1 + r % 3;
        switch ((r >> 4) % 10) {
        case 0:
        case 9: {
            struct vr_stream_start st = *good;
            st.codec = (uint16_t)(1 + (r >> 8) % 5);
            st.width = 1 + (r >> 11) % 2500; /* mostly under the 1920x1080 limit */
            st.height = 1 + (r >> 13) % 1400;
            st.extradata_len = (r >> 7) % 2 ? 0 : (r >> 9) % 64;
            st.extradata = junk;
            start(id, &st);
            break;
        }
        case 1:
        case 2:
        case 7:
        case 8: {
            for (size_t k = 0; k < sizeof(junk); k++)
                junk[k] = (uint8_t)((seed >> (k % 24)) + k * 7);
            struct vr_frame f = { .flags = (r >> 3) & 3, .pts = (int64_t)(r % 1000) - 500,
                                  .dts = INT64_MIN, .data = junk, .data_len = 1 + (r >> 5) % 4096 };
            to_decoder += stats_of(id, NULL).active;
            send_frame(id, &f, (r >> 2) % 8 != 0);
            break;
        }
        case 3:
            new_msg(VR_MSG_GEOMETRY, id)->u.geometry = (struct vr_geometry){
                .window = { -65535 + (int)(r % 131070) / 2, (int)(r % 60000), 1 + r % 16384, 1 + r % 999 },
                .content = { (int)(r % 65535) - 30000, -(int)(r % 65535) / 2, 1 + (r >> 3) % 16384,
                             1 + (r >> 5) % 16384 } };
            send_now(&m);
            break;
        case 4:
            new_msg(VR_MSG_REGION, id)->u.region.n_rects = r % (VR_MAX_RECTS + 1);
            for (uint32_t k = 0; k < m.u.region.n_rects; k++)
                m.u.region.rects[k] = (struct vr_rect){ (int)(k * 17 % 5000) - 100, (int)(k * 31 % 4000),
                                                        1 + k % 300, 1 + (k * 7) % 200 };
            send_now(&m);
            break;
        case 5:
            stop(id, (r >> 5) % 12);
            break;
        default:
            new_msg(VR_MSG_FLUSH, id);
            send_now(&m);
            break;
        }
        fake_now += 7000;
        vr_client_tick(client);
        pump();
        CHECK(vr_client_streams_active(client) <= 2, "never over max_streams");
    }
    CHECK(to_decoder > 50, "the storm reached live streams: %d frames", to_decoder);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    const char *path = argv[1];
    av_log_set_level(AV_LOG_QUIET);
    last_in = calloc(1, sizeof(*last_in));
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE, .max_streams = 2,
                                    .max_width = 1920, .max_height = 1080 };
    struct vr_client_callbacks cb = { .frame = on_frame, .clock = clock_fn };
    CHECK(vr_client_create(&cfg, &cb, NULL, &client) == 0, "client");
    struct vr_conn_callbacks gcb = { .on_message = guest_msg };
    CHECK(vr_conn_create(NULL, &gcb, NULL, &guest) == 0, "guest conn");
    struct clip src;
    int ret = clip_open(&src, path);
    CHECK(ret == 0 && src.start.codec == VR_CODEC_H264, "open %s", path);
    if (ret < 0)
        return 1;
    const struct vr_stream_start *st = &src.start;
    struct vr_frame f;

    /* ---- Handshake: an honest codec list, resent every second. */
    vr_client_channel_open(client);
    pump();
    CHECK(n_in[VR_MSG_HELLO] == 1 && last_in->u.hello.role == VR_ROLE_CLIENT, "client hello");
    CHECK(!(last_in->u.hello.flags & VR_HELLO_REPLY), "first hello is not a reply");
    CHECK(last_in->u.hello.n_codecs == 5, "all five codecs have a software decoder: %u",
          last_in->u.hello.n_codecs);
    for (uint32_t i = 0; i < last_in->u.hello.n_codecs; i++)
        CHECK(last_in->u.hello.codecs[i].flags == 0 && last_in->u.hello.codecs[i].max_width == 1920 &&
                  last_in->u.hello.codecs[i].max_height == 1080,
              "codec %u: software, capped to the configured size", last_in->u.hello.codecs[i].codec);
    CHECK(last_in->u.hello.max_streams == 2, "max_streams announced");
    fake_now += 500000;
    vr_client_tick(client);
    pump();
    CHECK(n_in[VR_MSG_HELLO] == 1, "no resend before 1 s");
    fake_now += 600000;
    vr_client_tick(client);
    pump();
    CHECK(n_in[VR_MSG_HELLO] == 2, "hello resent after 1 s");

    /* Stream messages before the session are ignored, not answered. */
    start(1, st);
    CHECK(clip_read(&src, &f) == 1 && (f.flags & VR_FRAME_KEY), "first packet is a key");
    send_frame(1, &f, true);
    CHECK(n_in[VR_MSG_ACCEPT] == 0 && n_in[VR_MSG_REJECT] == 0 && n_frames_out == 0,
          "nothing answered before the session");

    guest_hello(VR_HELLO_REPLY);
    CHECK(vr_client_established(client), "established");
    CHECK(n_in[VR_MSG_HELLO] == 2, "a reply hello is not answered");

    /* ---- Accept and reject rules. */
    start(1, st);
    CHECK(n_in[VR_MSG_ACCEPT] == 1 && last_in->stream_id == 1, "stream 1 accepted");
    CHECK(strstr(last_in->u.accept.decoder, "h264") && last_in->u.accept.flags == 0,
          "decoder named, software: %s", last_in->u.accept.decoder);
    struct vr_stream_start big = *st;
    big.width = 4096;
    start(2, &big);
    CHECK(n_in[VR_MSG_REJECT] == 1 && last_in->stream_id == 2 &&
              last_in->u.reject.reason == VR_REASON_TOO_LARGE && last_in->u.reject.message[0],
          "too large rejected: %s", last_in->u.reject.message);
    struct vr_stream_start odd_tb = *st;
    odd_tb.timebase_den = 0x80000000u;
    start(5, &odd_tb);
    CHECK(n_in[VR_MSG_REJECT] == 2 && last_in->stream_id == 5 &&
              last_in->u.reject.reason == VR_REASON_PROTOCOL, "time base out of range rejected");
    start(3, st);
    CHECK(n_in[VR_MSG_ACCEPT] == 2 && last_in->stream_id == 3, "stream 3 accepted (2 of 2)");
    start(4, st);
    CHECK(n_in[VR_MSG_REJECT] == 3 && last_in->stream_id == 4 &&
              last_in->u.reject.reason == VR_REASON_TOO_MANY, "third stream rejected: too many");

    /* A start the protocol library cannot read (codec 99) still gets an answer. */
    uint8_t raw[512];
    new_msg(VR_MSG_STREAM_START, 6)->u.start = *st;
    long len = vr_msg_encode(&m, raw, sizeof(raw));
    CHECK(len > 20, "encode start");
    raw[VR_HEADER_SIZE] = 99; /* codec, first payload field */
    uint64_t errs = vr_client_protocol_errors(client);
    vr_conn_feed(vr_client_conn(client), raw, (size_t)len);
    pump();
    CHECK(n_in[VR_MSG_REJECT] == 4 && last_in->stream_id == 6 &&
              last_in->u.reject.reason == VR_REASON_PROTOCOL, "unreadable start rejected");
    CHECK(vr_client_protocol_errors(client) == errs + 1, "and counted");

    /* ---- Geometry and regions (hostile ones are clipped to the content). */
    new_msg(VR_MSG_GEOMETRY, 1)->u.geometry.window = (struct vr_rect){ 100, 100, 640, 360 };
    m.u.geometry.content = m.u.geometry.window;
    send_now(&m);
    new_msg(VR_MSG_REGION, 1)->u.region.n_rects = 2;
    m.u.region.rects[0] = (struct vr_rect){ 100, 100, 640, 100 };
    m.u.region.rects[1] = (struct vr_rect){ 0, 200, 2000, 50 }; /* reaches outside */
    send_now(&m);
    pixman_region32_t reg;
    pixman_region32_init(&reg);
    uint32_t slot1 = 99;
    struct vr_client_stream_stats s1 = stats_of(1, &slot1);
    CHECK(slot1 < VR_MAX_STREAMS && s1.has_geometry && s1.has_region && s1.n_rects == 2,
          "stream 1 has geometry and a region");
    CHECK(s1.serial == 1 && stats_of(3, NULL).serial == 2, "serials count accepted streams");
    vr_client_stream_region(client, slot1, &reg);
    pixman_box32_t *ext = pixman_region32_extents(&reg);
    CHECK(ext->x1 == 100 && ext->x2 == 740 && ext->y1 == 100 && ext->y2 == 250,
          "region clipped to content: %d,%d-%d,%d", ext->x1, ext->y1, ext->x2, ext->y2);
    new_msg(VR_MSG_REGION, 1)->u.region.n_rects = 0;
    send_now(&m);
    vr_client_stream_region(client, slot1, &reg);
    CHECK(!pixman_region32_not_empty(&reg), "a region with no rectangles hides the video");
    new_msg(VR_MSG_REGION, 1)->u.region.n_rects = 1;
    m.u.region.rects[0] = (struct vr_rect){ 100, 100, 640, 360 };
    send_now(&m);

    /* Messages for streams that do not exist (or were rejected) are dropped
     * and counted. */
    errs = vr_client_protocol_errors(client);
    send_frame(9, &f, true);
    send_frame(2, &f, true);
    new_msg(VR_MSG_GEOMETRY, 4)->u.geometry.content = (struct vr_rect){ 0, 0, 10, 10 };
    m.u.geometry.window = m.u.geometry.content;
    send_now(&m);
    CHECK(vr_client_protocol_errors(client) == errs + 3, "unknown/rejected streams counted");

    /* ---- Stream 1: the whole clip, decoded; feedback flows; latency goes
     * through the ping/pong clock offset. */
    answer_pings = true;
    int sent = 0, fb0 = n_in[VR_MSG_FEEDBACK];
    do {
        CHECK(send_frame(1, &f, true) == 0, "send frame");
        sent++;
        fake_now += 40000;
        vr_client_tick(client);
        pump();
    } while (clip_read(&src, &f) == 1);
    /* Frames 40 ms apart: a feedback at least every 100 ms, i.e. every third. */
    CHECK(n_in[VR_MSG_FEEDBACK] - fb0 >= sent / 3 - 1, "feedback: %d for %d frames",
          n_in[VR_MSG_FEEDBACK] - fb0, sent);
    CHECK(n_in[VR_MSG_PING] > 0, "client pings");
    s1 = stats_of(1, NULL);
    CHECK(s1.latency_us > 0 && s1.latency_us <= 200000 && s1.latency_us % 40000 == 0,
          "latency is the decoder's reorder delay, in whole frames (not the 5 s clock offset): %u us",
          s1.latency_us);
    CHECK(s1.frames_received == (uint64_t)sent && s1.frames_lost == 0 && s1.frames_dropped == 0,
          "stream 1 counters");
    stop(1, VR_REASON_EOS);
    CHECK(n_frames_out == (uint32_t)sent, "all %d frames decoded after the drain: %u", sent, n_frames_out);
    CHECK(vr_client_streams_ended(client) == 1 && vr_client_streams_eos(client) == 1, "stream 1 ended (eos)");
    struct vr_conn_stats gst;
    vr_conn_get_stats(guest, &gst);
    /* Every byte since the client's hello: the guest's, and the unreadable
     * start fed straight in. */
    CHECK(last_fb.bytes_received == gst.bytes_out + (uint64_t)len && last_fb.decoded == (uint32_t)sent,
          "last feedback acknowledges every byte (%llu of %llu) and frame",
          (unsigned long long)last_fb.bytes_received, (unsigned long long)(gst.bytes_out + len));
    CHECK(vr_client_stream_frame(client, slot1) != NULL, "last frame kept for the compositor");

    /* ---- Stream 3: a lost frame -> keyframe request, frames dropped until a key. */
    CHECK(clip_rewind(&src, path) == 0, "rewind");
    clip_read(&src, &f);
    send_frame(3, &f, true);
    clip_read(&src, &f);
    send_frame(3, &f, false);
    clip_read(&src, &f);
    int keyreq = n_in[VR_MSG_KEYFRAME_REQUEST];
    send_frame(3, &f, true);
    CHECK(n_in[VR_MSG_KEYFRAME_REQUEST] == keyreq + 1 &&
              last_keyreq_reason == VR_REASON_SEQ_GAP, "gap -> keyframe request");
    struct vr_client_stream_stats s3 = stats_of(3, NULL);
    CHECK(s3.frames_lost == 1 && s3.frames_dropped == 1, "one lost, the next (not a key) dropped: %llu, %llu",
          (unsigned long long)s3.frames_lost, (unsigned long long)s3.frames_dropped);

    /* FLUSH: non-key frames are dropped until the next keyframe. */
    CHECK(clip_rewind(&src, path) == 0, "rewind");
    clip_read(&src, &f);
    send_frame(3, &f, true);
    s3 = stats_of(3, NULL);
    new_msg(VR_MSG_FLUSH, 3);
    send_now(&m);
    clip_read(&src, &f);
    CHECK(!(f.flags & VR_FRAME_KEY), "second packet is not a key");
    send_frame(3, &f, true);
    CHECK(stats_of(3, NULL).frames_dropped == s3.frames_dropped + 1, "non-key after a flush dropped");

    /* STOP for another reason ends the stream without a drain. */
    stop(3, VR_REASON_USER);
    s3 = stats_of(3, NULL);
    CHECK(s3.ended && s3.stop_reason == VR_REASON_USER && vr_client_streams_ended(client) == 2 &&
              vr_client_streams_eos(client) == 1, "stream 3 ended by the user");

    /* ---- Decode error: garbage flagged as a key. */
    start(7, st);
    CHECK(last_in->type == VR_MSG_ACCEPT && last_in->stream_id == 7, "stream 7 accepted");
    static const uint8_t garbage[64] = { 0xff, 0xff, 0xff, 0xf0, 1, 2, 3 };
    struct vr_frame bad = { .flags = VR_FRAME_KEY, .pts = 0, .dts = 0, .data = garbage,
                            .data_len = sizeof(garbage) };
    keyreq = n_in[VR_MSG_KEYFRAME_REQUEST];
    fake_now += 1000000; /* past the keyframe request rate limit */
    send_frame(7, &bad, true);
    CHECK(stats_of(7, NULL).decode_errors >= 1, "decode error counted");
    CHECK(n_in[VR_MSG_KEYFRAME_REQUEST] == keyreq + 1 &&
              last_keyreq_reason == VR_REASON_DECODE_ERROR,
          "decode error -> keyframe request");

    /* A start for a live stream id replaces the stream (PROTOCOL.md 6.4). */
    int accepts = n_in[VR_MSG_ACCEPT];
    start(7, st);
    CHECK(n_in[VR_MSG_ACCEPT] == accepts + 1 && vr_client_streams_active(client) == 1 &&
              vr_client_streams_ended(client) == 3, "stream 7 replaced");

    /* ---- Pings are answered at once; garbage between messages is skipped. */
    new_msg(VR_MSG_PING, 0)->u.ping = (struct vr_ping){ .id = 7, .time_us = 123 };
    send_now(&m);
    CHECK(last_in->type == VR_MSG_PONG && last_in->u.pong.id == 7 &&
              last_in->u.pong.ping_time_us == 123 && last_in->u.pong.time_us == fake_now, "pong");
    static const uint8_t junk[] = "VRDRnot a message at all";
    vr_conn_feed(vr_client_conn(client), junk, sizeof(junk));
    new_msg(VR_MSG_PING, 0)->u.ping = (struct vr_ping){ .id = 8, .time_us = 5 };
    send_now(&m);
    CHECK(last_in->type == VR_MSG_PONG && last_in->u.pong.id == 8, "pong after garbage");

    /* ---- Hostile storm: random valid messages and garbage frames. */
    hostile_storm(st, 12345);
    CHECK(vr_client_established(client), "session survives the storm");

    /* ---- A guest restart drops its streams and is answered. */
    start(8, st);
    guest_hello(0);
    CHECK(vr_client_streams_active(client) == 0, "restart drops streams");
    CHECK(last_in->type == VR_MSG_HELLO && (last_in->u.hello.flags & VR_HELLO_REPLY), "reply hello");

    /* ---- 5 s of silence: the guest is gone; hellos again until it answers. */
    answer_pings = false;
    start(9, st);
    CHECK(vr_client_streams_active(client) == 1, "stream 9 live");
    int hellos = n_in[VR_MSG_HELLO];
    for (int i = 0; i < 48; i++) {
        fake_now += 100000;
        vr_client_tick(client);
        pump();
    }
    CHECK(vr_client_established(client), "still up after 4.8 s (client pings do not count)");
    for (int i = 0; i < 4; i++) {
        fake_now += 100000;
        vr_client_tick(client);
        pump();
    }
    CHECK(!vr_client_established(client) && vr_client_streams_active(client) == 0,
          "silence: session down, streams dropped");
    CHECK(n_in[VR_MSG_HELLO] == hellos + 1 && !(last_in->u.hello.flags & VR_HELLO_REPLY),
          "new hello sent");
    guest_hello(VR_HELLO_REPLY);
    CHECK(vr_client_established(client), "re-established");

    /* The channel closing drops everything. */
    start(10, st);
    vr_client_channel_closed(client);
    CHECK(!vr_client_established(client) && vr_client_streams_active(client) == 0, "closed");

    pixman_region32_fini(&reg);
    clip_close(&src);
    vr_client_destroy(client);
    vr_conn_destroy(guest);
    free(last_in);
    return CHECK_DONE();
}
