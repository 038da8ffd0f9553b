/*
 * Decoders on threads of their own (vr_client_config.decode_thread) against
 * an in-process guest (a second vr_conn, bytes moved by hand), real access
 * units from a sample clip:
 *  - the frames are those of inline decoding, bit for bit and in order, and
 *    the stream drains at EOS;
 *  - FEEDBACK does not acknowledge access units still waiting for a slow
 *    decoder, and does once it took them (without new FRAMEs arriving);
 *  - a guest ignoring the window fills the queue: FRAMEs dropped, counted,
 *    a keyframe asked for; FLUSH empties the queue; destroying a client
 *    whose decoder is busy joins it.
 * Usage: test_client_decode_thread CLIP (an H.264 clip with B-frames)
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/log.h>

#include <videoredir/client.h>

#include "../check.h"
#include "clip.h"

#define MAX_FRAMES 1024

static struct vr_client *client;
static struct vr_conn *guest;
static struct vr_feedback last_fb;
static uint32_t n_fb, n_keyreq, n_accept, n_reject;
static uint32_t max_streams; /* of the next setup (0: the default) */
static atomic_uint wakeups;
static char (*md5s)[33];
static uint32_t n_md5;

static void guest_msg(void *user, const struct vr_msg *msg)
{
    if (msg->type == VR_MSG_FEEDBACK) {
        last_fb = msg->u.feedback;
        n_fb++;
    }
    if (msg->type == VR_MSG_KEYFRAME_REQUEST)
        n_keyreq++;
    n_accept += msg->type == VR_MSG_ACCEPT;
    n_reject += msg->type == VR_MSG_REJECT;
}

static void on_frame(void *user, uint32_t id, const AVFrame *f)
{
    if (n_md5 < MAX_FRAMES && vr_frame_md5(f, md5s[n_md5]) == 0)
        n_md5++;
}

static void on_wakeup(void *user) { atomic_fetch_add(&wakeups, 1); }

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

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static struct vr_msg m;

static void send_msg(uint16_t type, uint32_t id)
{
    m.type = type;
    m.stream_id = id;
    vr_conn_send(guest, &m);
}

static void guest_comes(void);

static void setup(bool threaded, uint32_t slow_us)
{
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE, .decode_thread = threaded,
                                    .slow_us = slow_us, .max_streams = max_streams };
    struct vr_client_callbacks cb = { .frame = on_frame, .wakeup = on_wakeup };
    CHECK(vr_client_create(&cfg, &cb, NULL, &client) == 0, "create");
    n_md5 = n_fb = n_keyreq = n_accept = n_reject = 0;
    atomic_store(&wakeups, 0);
    guest_comes();
}

/* A guest opens the port and says hello. */
static void guest_comes(void)
{
    vr_conn_destroy(guest);
    struct vr_conn_callbacks gcb = { .on_message = guest_msg };
    CHECK(vr_conn_create(NULL, &gcb, NULL, &guest) == 0, "guest conn");
    vr_client_channel_open(client);
    memset(&m, 0, sizeof(m));
    m.u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1, .role = VR_ROLE_GUEST };
    snprintf(m.u.hello.software, sizeof(m.u.hello.software), "test guest");
    send_msg(VR_MSG_HELLO, 0);
    pump();
    CHECK(vr_client_established(client), "session up");
}

static void teardown(void)
{
    vr_client_destroy(client);
    vr_conn_destroy(guest);
    client = NULL;
    guest = NULL;
}

static void start(struct clip *c, uint32_t id)
{
    memset(&m, 0, sizeof(m));
    m.u.start = c->start;
    send_msg(VR_MSG_STREAM_START, id);
    pump();
}

/* Sends up to max frames of the clip (all: 0). Returns how many. */
static uint32_t send_clip(struct clip *c, uint32_t id, uint32_t max, bool deliver)
{
    struct vr_frame f;
    uint32_t n = 0;
    while ((!max || n < max) && clip_read(c, &f) == 1) {
        memset(&m, 0, sizeof(m));
        m.u.frame = f;
        send_msg(VR_MSG_FRAME, id);
        if (deliver)
            pump();
        n++;
    }
    return n;
}

/* The guest ends stream id at the end of its media. */
static void send_eos(uint32_t id)
{
    memset(&m, 0, sizeof(m));
    m.u.stop.reason = VR_REASON_EOS;
    send_msg(VR_MSG_STREAM_STOP, id);
    pump();
}

/* A client (at most max streams; 0: the default) with a slow decoder
 * thread gets the whole clip as stream 1, its EOS, then the guest goes
 * while the decoder is still behind. */
static void play_and_go(struct clip *c, const char *path, uint32_t max, const char *what)
{
    CHECK(clip_rewind(c, path) == 0, "rewind");
    max_streams = max;
    setup(true, 20000);
    max_streams = 0;
    start(c, 1);
    send_clip(c, 1, 0, true);
    send_eos(1);
    vr_client_channel_closed(client);
    CHECK(vr_client_streams_active(client) == 1 && vr_client_streams_ended(client) == 0,
          "%s: the tail is still being decoded", what);
}

/* Dispatches until the client's stream slot 0 ended or ms passed. */
static bool wait_ended(long ms)
{
    for (long t = 0; t < ms; t += 5) {
        vr_client_dispatch(client);
        vr_client_tick(client);
        pump();
        if (vr_client_streams_ended(client) > 0)
            return true;
        sleep_ms(5);
    }
    return false;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CLIP\n", argv[0]);
        return 2;
    }
    av_log_set_level(AV_LOG_QUIET);
    md5s = calloc(2 * MAX_FRAMES, sizeof(*md5s));
    if (!md5s)
        return 1;
    struct clip c;
    if (clip_open(&c, argv[1]) < 0) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 1;
    }

    /* 1. Bit-exact with inline decoding, drained at EOS. */
    setup(false, 0);
    start(&c, 1);
    uint32_t sent = send_clip(&c, 1, 0, true);
    send_eos(1);
    uint32_t n_inline = n_md5;
    CHECK(vr_client_streams_eos(client) == 1, "inline: ended at EOS");
    CHECK(n_inline == sent && sent > 10, "inline: %u frames of %u", n_inline, sent);
    memcpy(md5s + MAX_FRAMES, md5s, sizeof(*md5s) * n_inline);
    teardown();

    CHECK(clip_rewind(&c, argv[1]) == 0, "rewind");
    setup(true, 0);
    start(&c, 1);
    send_clip(&c, 1, 0, true);
    send_eos(1);
    CHECK(wait_ended(10000), "threaded: the stream ended (drained)");
    CHECK(vr_client_streams_eos(client) == 1, "threaded: ended at EOS");
    CHECK(n_md5 == n_inline, "threaded: %u frames, inline %u", n_md5, n_inline);
    bool same = true;
    for (uint32_t i = 0; i < n_md5 && i < n_inline; i++)
        same &= strcmp(md5s[i], md5s[MAX_FRAMES + i]) == 0;
    CHECK(same, "threaded: the frames are those of inline decoding, in order");
    CHECK(atomic_load(&wakeups) > 0, "threaded: the wakeup callback was called");
    teardown();

    /* 1b. The guest sends its EOS and closes the port while the decoder is
     * still behind (as videoredir-capture does once everything is
     * acknowledged, and a slow decoder has taken all but not decoded it):
     * the stream's tail is still decoded and shown, and it ends at EOS. */
    play_and_go(&c, argv[1], 0, "closed at EOS");
    CHECK(wait_ended(20000), "closed at EOS: the stream ended");
    CHECK(vr_client_streams_eos(client) == 1, "closed at EOS: ended at EOS");
    CHECK(n_md5 == n_inline, "closed at EOS: %u frames, inline %u", n_md5, n_inline);
    teardown();

    /* 1c. At max_streams, the tail of a guest that went gives way to a new
     * guest's stream (it is cut, not waited for). */
    play_and_go(&c, argv[1], 1, "max 1");
    guest_comes();
    CHECK(clip_rewind(&c, argv[1]) == 0, "rewind");
    start(&c, 2);
    CHECK(n_accept == 2 && n_reject == 0, "max 1: the new stream is accepted (%u accepts, %u rejects)",
          n_accept, n_reject);
    CHECK(vr_client_streams_ended(client) == 1 && vr_client_streams_active(client) == 1,
          "max 1: the tail was cut for it");
    teardown();

    /* 2. FEEDBACK: a slow decoder's queue is not acknowledged, then is. */
    CHECK(clip_rewind(&c, argv[1]) == 0, "rewind");
    setup(true, 30000);
    start(&c, 1);
    send_clip(&c, 1, 16, true);
    struct vr_conn_stats gst;
    vr_conn_get_stats(guest, &gst);
    CHECK(n_fb >= 1, "feedback while frames arrive (%u)", n_fb);
    struct vr_client_stream_stats st;
    CHECK(vr_client_stream_stats(client, 0, &st) == 0, "stats");
    CHECK(st.decode_queue >= 8, "a backlog waits for the slow decoder: %u", st.decode_queue);
    uint64_t acked_early = last_fb.bytes_received;
    CHECK(acked_early + 8 * 100 < gst.bytes_out, "queued frames not acknowledged: %llu of %llu bytes",
          (unsigned long long)acked_early, (unsigned long long)gst.bytes_out);
    /* No more FRAMEs: the decoder's progress alone must reach the guest. */
    for (int t = 0; t < 400 && last_fb.bytes_received < gst.bytes_out - 64; t++) {
        vr_client_dispatch(client);
        vr_client_tick(client);
        pump();
        sleep_ms(5);
    }
    CHECK(last_fb.bytes_received + 64 >= gst.bytes_out && last_fb.bytes_received > acked_early,
          "acknowledged as decoded: %llu of %llu bytes",
          (unsigned long long)last_fb.bytes_received, (unsigned long long)gst.bytes_out);
    /* (the decoder keeps the last ones for reordering until more come) */
    CHECK(vr_client_stream_stats(client, 0, &st) == 0 && st.decode_queue == 0 &&
              st.frames_decoded >= 12, "the 16 taken by the decoder: %llu out, queue %u",
          (unsigned long long)st.frames_decoded, st.decode_queue);

    /* FLUSH empties the queue at once (but for the unit being decoded),
     * and the decoder goes on from the next keyframe: the counts of what
     * waits stay right, everything is acknowledged in the end. */
    uint32_t more = send_clip(&c, 1, 20, true);
    sleep_ms(10); /* the decoder is in the first of them (30 ms each) */
    CHECK(vr_client_stream_stats(client, 0, &st) == 0 && st.decode_queue >= more / 2,
          "a backlog before the flush: %u of %u", st.decode_queue, more);
    memset(&m, 0, sizeof(m));
    send_msg(VR_MSG_FLUSH, 1);
    pump();
    CHECK(vr_client_stream_stats(client, 0, &st) == 0 && st.decode_queue <= 1,
          "flush empties the queue: %u", st.decode_queue);
    uint64_t decoded_before = st.frames_decoded;
    CHECK(clip_rewind(&c, argv[1]) == 0, "rewind");
    send_clip(&c, 1, 12, true);
    vr_conn_get_stats(guest, &gst);
    for (int t = 0; t < 400 && last_fb.bytes_received + 64 < gst.bytes_out; t++) {
        vr_client_dispatch(client);
        vr_client_tick(client);
        pump();
        sleep_ms(5);
    }
    CHECK(vr_client_stream_stats(client, 0, &st) == 0 && st.decode_queue == 0 &&
              st.decode_overflows == 0 && st.frames_decoded >= decoded_before + 8,
          "decoding after the flush: queue %u, overflows %llu, %llu decoded (%llu before)",
          st.decode_queue, (unsigned long long)st.decode_overflows,
          (unsigned long long)st.frames_decoded, (unsigned long long)decoded_before);
    CHECK(last_fb.bytes_received + 64 >= gst.bytes_out && last_fb.bytes_received <= gst.bytes_out,
          "after the flush all is acknowledged: %llu of %llu bytes",
          (unsigned long long)last_fb.bytes_received, (unsigned long long)gst.bytes_out);
    teardown();

    /* 3. A guest ignoring the window: the queue's cap, then a busy decoder
     * joined at destroy. */
    CHECK(clip_rewind(&c, argv[1]) == 0, "rewind");
    setup(true, 200000);
    start(&c, 1);
    uint32_t flood = 0;
    for (int round = 0; round < 8 && flood < 300; round++) {
        CHECK(clip_rewind(&c, argv[1]) == 0, "rewind");
        flood += send_clip(&c, 1, 0, true);
    }
    CHECK(vr_client_stream_stats(client, 0, &st) == 0, "stats");
    CHECK(st.decode_queue <= 256 && st.decode_overflows > 0 && st.frames_dropped >= st.decode_overflows,
          "queue capped: %u waiting, %llu overflows, %llu dropped of %u", st.decode_queue,
          (unsigned long long)st.decode_overflows, (unsigned long long)st.frames_dropped, flood);
    CHECK(n_keyreq >= 1, "a keyframe asked for after the overflow");
    teardown();

    clip_close(&c);
    free(md5s);
    return CHECK_DONE();
}
