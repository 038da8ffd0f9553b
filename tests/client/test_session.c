/*
 * Client session state machine against a scripted guest in the same process:
 * a second vr_conn plays the guest; bytes are moved by hand. Real access
 * units from a sample clip are decoded.
 * Usage: test_client_session CLIP (an H.264 clip)
 */
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include <videoredir/capture.h>
#include <videoredir/client.h>

#include "check.h"

static struct vr_client *client;
static struct vr_conn *guest;
static struct vr_msg *last_in; /* messages the guest received */
static int n_in[0x30];
static uint32_t n_frames_out;
static uint64_t fake_now = 1000000;

static uint64_t clock_fn(void *user) { return fake_now; }

static void guest_msg(void *user, const struct vr_msg *m)
{
    if (m->type < 0x30)
        n_in[m->type]++;
    memcpy(last_in, m, sizeof(*m));
}

static void on_frame(void *user, uint32_t id, const AVFrame *f) { n_frames_out++; }

/* Moves every queued byte both ways until both sides are quiet. */
static void pump(void)
{
    for (int round = 0; round < 16; round++) {
        const uint8_t *d;
        size_t n, moved = 0;
        while ((n = vr_conn_out_peek(vr_client_conn(client), &d)) > 0) {
            vr_conn_feed(guest, d, n);
            vr_conn_out_consume(vr_client_conn(client), n);
            moved += n;
        }
        while ((n = vr_conn_out_peek(guest, &d)) > 0) {
            vr_conn_feed(vr_client_conn(client), d, n);
            vr_conn_out_consume(guest, n);
            moved += n;
        }
        if (!moved)
            return;
    }
}

/* Queues a message on the guest side but throws its bytes away (lost). */
static void lose(struct vr_msg *m)
{
    vr_conn_send(guest, m);
    const uint8_t *d;
    size_t n;
    while ((n = vr_conn_out_peek(guest, &d)) > 0)
        vr_conn_out_consume(guest, n);
}

static struct vr_msg m;

static void start(uint32_t id, const struct vr_stream_start *st)
{
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_STREAM_START;
    m.stream_id = id;
    m.u.start = *st;
    CHECK(vr_conn_send(guest, &m) == 0, "send start %u", id);
    pump();
}

static int send_au(uint32_t id, const struct vr_au *au, bool deliver)
{
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_FRAME;
    m.stream_id = id;
    m.u.frame = (struct vr_frame){ .flags = au->flags, .pts = au->pts, .dts = au->dts,
                                   .duration = au->duration, .data_len = au->len,
                                   .data = au->data, .send_time_us = fake_now };
    if (!deliver) {
        lose(&m);
        return 0;
    }
    int ret = vr_conn_send(guest, &m);
    pump();
    return ret;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    av_log_set_level(AV_LOG_QUIET);
    last_in = calloc(1, sizeof(*last_in));
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE, .max_streams = 2,
                                    .max_width = 1920, .max_height = 1080 };
    struct vr_client_callbacks cb = { .frame = on_frame, .clock = clock_fn };
    CHECK(vr_client_create(&cfg, &cb, NULL, &client) == 0, "client");
    struct vr_conn_callbacks gcb = { .on_message = guest_msg };
    CHECK(vr_conn_create(NULL, &gcb, NULL, &guest) == 0, "guest conn");

    /* Nothing but a hello is answered before the session is up. */
    vr_client_channel_open(client);
    pump();
    CHECK(n_in[VR_MSG_HELLO] == 1 && last_in->u.hello.role == VR_ROLE_CLIENT, "client hello");
    CHECK(last_in->u.hello.n_codecs >= 5, "codecs listed: %u", last_in->u.hello.n_codecs);
    CHECK(!(last_in->u.hello.flags & VR_HELLO_REPLY), "first hello is not a reply");
    fake_now += 1100000;
    vr_client_tick(client);
    pump();
    CHECK(n_in[VR_MSG_HELLO] == 2, "hello resent after 1 s");

    char err[256];
    struct vr_source *src = NULL;
    CHECK(vr_source_open(argv[1], &src, err, sizeof(err)) == 0, "open clip: %s", err);
    if (!src)
        return 1;
    const struct vr_stream_start *st = vr_source_stream_start(src);
    start(1, st);
    CHECK(n_in[VR_MSG_ACCEPT] == 0 && n_in[VR_MSG_REJECT] == 0, "no answer before the session");

    /* The guest answers: session up. */
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_HELLO;
    m.u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1, .role = VR_ROLE_GUEST,
                                   .flags = VR_HELLO_REPLY };
    strcpy(m.u.hello.software, "test-guest");
    vr_conn_send(guest, &m);
    pump();
    CHECK(vr_client_established(client), "established");

    start(1, st);
    CHECK(n_in[VR_MSG_ACCEPT] == 1 && last_in->stream_id == 1, "stream 1 accepted");
    CHECK(strstr(last_in->u.accept.decoder, "h264") != NULL, "decoder named: %s",
          last_in->u.accept.decoder);

    struct vr_stream_start big = *st;
    big.width = 4096;
    start(2, &big);
    CHECK(n_in[VR_MSG_REJECT] == 1 && last_in->u.reject.reason == VR_REASON_TOO_LARGE,
          "too large rejected");
    start(3, st);
    CHECK(n_in[VR_MSG_ACCEPT] == 2, "stream 3 accepted (2 of 2)");
    start(4, st);
    CHECK(n_in[VR_MSG_REJECT] == 2 && last_in->u.reject.reason == VR_REASON_TOO_MANY,
          "too many rejected");

    /* Geometry and a region. */
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_GEOMETRY;
    m.stream_id = 1;
    m.u.geometry.window = (struct vr_rect){ 100, 100, 640, 360 };
    m.u.geometry.content = m.u.geometry.window;
    vr_conn_send(guest, &m);
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_REGION;
    m.stream_id = 1;
    m.u.region.n_rects = 2;
    m.u.region.rects[0] = (struct vr_rect){ 100, 100, 640, 100 };
    m.u.region.rects[1] = (struct vr_rect){ 0, 200, 2000, 50 }; /* reaches outside */
    vr_conn_send(guest, &m);
    pump();
    pixman_region32_t reg;
    pixman_region32_init(&reg);
    uint32_t slot1 = 99;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_client_stream_stats ss;
        if (vr_client_stream_stats(client, i, &ss) == 0 && ss.stream_id == 1)
            slot1 = i;
    }
    CHECK(slot1 < VR_MAX_STREAMS, "stream 1 has a slot");
    vr_client_stream_region(client, slot1, &reg);
    pixman_box32_t *ext = pixman_region32_extents(&reg);
    CHECK(ext->x1 == 100 && ext->x2 == 740 && ext->y1 == 100 && ext->y2 == 250,
          "region clipped to content: %d,%d-%d,%d", ext->x1, ext->y1, ext->x2, ext->y2);
    pixman_region32_fini(&reg);

    /* A frame for a stream that does not exist is dropped and counted. */
    struct vr_au au;
    CHECK(vr_source_read(src, &au) == 1 && (au.flags & VR_FRAME_KEY), "first AU is a key");
    uint64_t errs = vr_client_protocol_errors(client);
    send_au(9, &au, true);
    CHECK(vr_client_protocol_errors(client) == errs + 1, "unknown stream counted");

    /* Stream 1: every frame of the clip, decoded; feedback flows. */
    int sent = 0;
    do {
        CHECK(send_au(1, &au, true) == 0, "send au");
        sent++;
        fake_now += 40000;
        vr_client_tick(client);
        pump();
    } while (vr_source_read(src, &au) == 1);
    CHECK(n_in[VR_MSG_FEEDBACK] >= sent / 8, "feedback: %d for %d frames", n_in[VR_MSG_FEEDBACK], sent);
    CHECK(n_in[VR_MSG_PING] > 0, "client pings");
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_STREAM_STOP;
    m.stream_id = 1;
    m.u.stop.reason = VR_REASON_EOS;
    vr_conn_send(guest, &m);
    pump();
    CHECK(n_frames_out == (uint32_t)sent, "all %d frames decoded after the drain: %u", sent, n_frames_out);
    CHECK(vr_client_streams_ended(client) == 1, "stream 1 ended");

    /* Stream 3: a lost frame is detected and a keyframe requested. */
    vr_source_rewind(src);
    vr_source_read(src, &au);
    send_au(3, &au, true);
    vr_source_read(src, &au);
    send_au(3, &au, false);
    vr_source_read(src, &au);
    int keyreq = n_in[VR_MSG_KEYFRAME_REQUEST];
    send_au(3, &au, true);
    CHECK(n_in[VR_MSG_KEYFRAME_REQUEST] == keyreq + 1 &&
              last_in->u.keyframe_request.reason == VR_REASON_SEQ_GAP, "gap -> keyframe request");
    struct vr_client_stream_stats ss3 = { 0 };
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_client_stream_stats ss;
        if (vr_client_stream_stats(client, i, &ss) == 0 && ss.stream_id == 3)
            ss3 = ss;
    }
    CHECK(ss3.frames_lost == 1, "one frame lost: %lu", (unsigned long)ss3.frames_lost);

    /* Ping is answered. */
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_PING;
    m.u.ping = (struct vr_ping){ .id = 7, .time_us = 123 };
    vr_conn_send(guest, &m);
    pump();
    CHECK(last_in->type == VR_MSG_PONG && last_in->u.pong.id == 7 &&
              last_in->u.pong.ping_time_us == 123, "pong");

    /* Garbage between messages is skipped; the session survives. */
    static const uint8_t junk[] = "VRDRnot a message at all";
    vr_conn_feed(vr_client_conn(client), junk, sizeof(junk));
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_PING;
    m.u.ping = (struct vr_ping){ .id = 8, .time_us = 5 };
    vr_conn_send(guest, &m);
    pump();
    CHECK(last_in->type == VR_MSG_PONG && last_in->u.pong.id == 8, "pong after garbage");

    /* A guest restart drops its streams. */
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_HELLO;
    m.u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1, .role = VR_ROLE_GUEST };
    vr_conn_send(guest, &m);
    pump();
    CHECK(vr_client_streams_active(client) == 0, "restart drops streams");
    CHECK(last_in->type == VR_MSG_HELLO && (last_in->u.hello.flags & VR_HELLO_REPLY), "reply hello");

    vr_source_close(src);
    vr_client_destroy(client);
    vr_conn_destroy(guest);
    free(last_in);
    return CHECK_DONE();
}
