/*
 * videoredirsink under GstHarness, against a client played by this test:
 * a unix socket (what the sink's `device` opens) served by a thread with the
 * real vr_conn (hello, accept or reject, feedback after every frame, pings).
 * Every message the sink sends is decoded again with vr_msg_decode and kept,
 * so each case checks what went over the wire, not only the element.
 * Usage: test_gst_sink CASE  (caps | unoffered | timestamps | flush | eos |
 *                             pause | properties)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gst/base/gstbasesink.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>

#include <videoredir/protocol.h>
#include <videoredir/transport.h>

#include "../check.h"

#define WAIT_MS 5000

/* ---------------------------------------------------------------------- */
/* The client side.                                                         */

struct rec {
    struct vr_msg m;  /* frame data / extradata point into data */
    uint8_t *data;
};

struct peer {
    char *dir, *path;
    int lfd, fd, wake[2];
    struct vr_conn *conn;
    GThread *thread;
    GMutex lock;
    GCond cond;
    /* Under lock. */
    gboolean stop, kf_request;
    uint16_t codecs[VR_MAX_CODECS];
    uint32_t n_codecs;
    GPtrArray *msgs; /* struct rec *, everything the sink sent, in order */
    int bad;         /* messages vr_msg_decode refused */
    int connections;
    struct vr_hello guest_hello;
    /* Peer thread only. */
    uint32_t stream_id, n_frames, last_seq;
    uint64_t next_ping_us;
    uint32_t ping_id;
};

static void peer_send(struct peer *p, const struct vr_msg *m)
{
    int r = vr_conn_send(p->conn, m);
    CHECK(r == 0, "peer cannot send %s: %d", vr_msg_type_name(m->type), r);
}

static void send_feedback(struct peer *p)
{
    struct vr_conn_stats st;
    vr_conn_get_stats(p->conn, &st);
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_FEEDBACK;
    m.stream_id = p->stream_id;
    m.u.feedback.bytes_received = st.bytes_in;
    m.u.feedback.last_seq = p->last_seq;
    m.u.feedback.decoded = p->n_frames;
    peer_send(p, &m);
}

static void send_hello(struct peer *p)
{
    static struct vr_msg m; /* large; the peer thread only */
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_HELLO;
    m.u.hello.version_min = VR_PROTO_VERSION_MIN;
    m.u.hello.version_max = VR_PROTO_VERSION_MAX;
    m.u.hello.role = VR_ROLE_CLIENT;
    m.u.hello.flags = VR_HELLO_REPLY;
    m.u.hello.features = VR_FEATURE_REGION | VR_FEATURE_FEEDBACK | VR_FEATURE_KEYFRAME_REQ;
    m.u.hello.max_streams = 1;
    g_mutex_lock(&p->lock);
    m.u.hello.n_codecs = p->n_codecs;
    for (uint32_t i = 0; i < p->n_codecs; i++)
        m.u.hello.codecs[i] = (struct vr_codec_cap){ p->codecs[i], 0, 4096, 4096 };
    g_mutex_unlock(&p->lock);
    snprintf(m.u.hello.software, sizeof(m.u.hello.software), "test-gst-sink");
    peer_send(p, &m);
}

/* What a real client does: accept what its hello offered, refuse the rest. */
static void on_message(void *user, const struct vr_msg *msg)
{
    struct peer *p = user;
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    switch (msg->type) {
    case VR_MSG_HELLO:
        if (!(msg->u.hello.flags & VR_HELLO_REPLY))
            send_hello(p);
        break;
    case VR_MSG_PING:
        m.type = VR_MSG_PONG;
        m.u.pong.id = msg->u.ping.id;
        m.u.pong.ping_time_us = msg->u.ping.time_us;
        m.u.pong.time_us = vr_time_us();
        peer_send(p, &m);
        break;
    case VR_MSG_STREAM_START: {
        bool offered = false;
        g_mutex_lock(&p->lock);
        for (uint32_t i = 0; i < p->n_codecs; i++)
            offered |= p->codecs[i] == msg->u.start.codec;
        g_mutex_unlock(&p->lock);
        p->stream_id = msg->stream_id;
        p->n_frames = 0;
        m.stream_id = msg->stream_id;
        if (offered) {
            m.type = VR_MSG_ACCEPT;
            snprintf(m.u.accept.decoder, sizeof(m.u.accept.decoder), "test");
        } else {
            m.type = VR_MSG_REJECT;
            m.u.reject.reason = VR_REASON_UNSUPPORTED;
            snprintf(m.u.reject.message, sizeof(m.u.reject.message), "no %s decoder",
                     vr_codec_name(msg->u.start.codec));
        }
        peer_send(p, &m);
        break;
    }
    case VR_MSG_FRAME:
        p->n_frames++;
        p->last_seq = msg->u.frame.seq;
        send_feedback(p);
        break;
    case VR_MSG_STREAM_STOP:
        send_feedback(p); /* everything shown: the sink may finish its EOS */
        break;
    default:
        break;
    }
}

static void on_gap(void *user, uint32_t stream_id, uint32_t missing)
{
    (void)user;
    CHECK(0, "stream %" PRIu32 ": %" PRIu32 " frames missing", stream_id, missing);
}

/* Every valid message the sink sent, decoded once more on our own. */
static void tap(void *user, enum vr_direction dir, const uint8_t *raw, size_t len)
{
    struct peer *p = user;
    if (dir != VR_DIR_IN)
        return;
    struct rec *r = g_new0(struct rec, 1);
    int err = vr_msg_decode(raw, len, &r->m);
    g_mutex_lock(&p->lock);
    if (err < 0) {
        p->bad++;
        g_free(r);
    } else {
        if (r->m.type == VR_MSG_FRAME) {
            r->data = g_memdup2(r->m.u.frame.data, r->m.u.frame.data_len);
            r->m.u.frame.data = r->data;
        } else if (r->m.type == VR_MSG_STREAM_START && r->m.u.start.extradata_len) {
            r->data = g_memdup2(r->m.u.start.extradata, r->m.u.start.extradata_len);
            r->m.u.start.extradata = r->data;
        } else if (r->m.type == VR_MSG_HELLO) {
            p->guest_hello = r->m.u.hello;
        }
        g_ptr_array_add(p->msgs, r);
    }
    g_cond_broadcast(&p->cond);
    g_mutex_unlock(&p->lock);
}

static void rec_free(gpointer v)
{
    struct rec *r = v;
    g_free(r->data);
    g_free(r);
}

static gpointer peer_main(gpointer user)
{
    struct peer *p = user;
    for (;;) {
        g_mutex_lock(&p->lock);
        gboolean stop = p->stop, kf = p->kf_request;
        p->kf_request = FALSE;
        g_mutex_unlock(&p->lock);
        if (stop)
            break;
        if (p->fd >= 0 && kf) {
            struct vr_msg m;
            memset(&m, 0, sizeof(m));
            m.type = VR_MSG_KEYFRAME_REQUEST;
            m.stream_id = p->stream_id;
            m.u.keyframe_request.reason = VR_REASON_DECODE_ERROR;
            peer_send(p, &m);
        }
        uint64_t now = vr_time_us();
        if (p->fd >= 0 && now >= p->next_ping_us) {
            /* The sink treats 2 s of silence as a client gone. */
            struct vr_msg m;
            memset(&m, 0, sizeof(m));
            m.type = VR_MSG_PING;
            m.u.ping.id = ++p->ping_id;
            m.u.ping.time_us = now;
            peer_send(p, &m);
            p->next_ping_us = now + 300000;
        }
        if (p->fd >= 0 && vr_fd_flush(p->conn, p->fd) < -EAGAIN) {
            close(p->fd);
            p->fd = -1;
        }
        struct pollfd pfd[3] = { { .fd = p->wake[0], .events = POLLIN }, { .fd = p->lfd, .events = POLLIN } };
        nfds_t n = 2;
        if (p->fd >= 0)
            pfd[n++] = (struct pollfd){ .fd = p->fd,
                                        .events = POLLIN | (vr_conn_out_queued(p->conn) ? POLLOUT : 0) };
        poll(pfd, n, 50);
        if (pfd[0].revents & POLLIN) {
            char buf[64];
            while (read(p->wake[0], buf, sizeof(buf)) > 0) {
            }
        }
        if (pfd[1].revents & POLLIN) {
            int c = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c >= 0) {
                if (p->fd >= 0)
                    close(p->fd);
                p->fd = c;
                vr_conn_reset(p->conn);
                p->next_ping_us = 0;
                g_mutex_lock(&p->lock);
                p->connections++;
                g_mutex_unlock(&p->lock);
            }
        }
        while (p->fd >= 0) {
            int r = vr_fd_read(p->conn, p->fd);
            if (r == -EAGAIN)
                break;
            if (r < 0) {
                close(p->fd);
                p->fd = -1;
            }
        }
    }
    return NULL;
}

static void peer_wake(struct peer *p)
{
    char c = 1;
    ssize_t r = write(p->wake[1], &c, 1);
    (void)r;
}

/* A listening client that offers the codecs given (VR_CODEC_NONE ends). */
static struct peer *peer_start(const uint16_t *codecs)
{
    struct peer *p = g_new0(struct peer, 1);
    g_mutex_init(&p->lock);
    g_cond_init(&p->cond);
    p->msgs = g_ptr_array_new_with_free_func(rec_free);
    p->fd = -1;
    while (codecs[p->n_codecs] != VR_CODEC_NONE && p->n_codecs < VR_MAX_CODECS) {
        p->codecs[p->n_codecs] = codecs[p->n_codecs];
        p->n_codecs++;
    }
    GError *err = NULL;
    p->dir = g_dir_make_tmp("vr-gst-sink-XXXXXX", &err);
    if (!p->dir) {
        fprintf(stderr, "no temporary directory: %s\n", err->message);
        exit(1);
    }
    p->path = g_build_filename(p->dir, "port.sock", NULL);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(p->path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "socket path too long: %s\n", p->path);
        exit(1);
    }
    strcpy(sa.sun_path, p->path);
    p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(p->lfd, 4) < 0) {
        perror("listening socket");
        exit(1);
    }
    if (pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        perror("pipe");
        exit(1);
    }
    struct vr_conn_callbacks cb = { .on_message = on_message, .on_gap = on_gap };
    if (vr_conn_create(NULL, &cb, p, &p->conn) < 0) {
        fprintf(stderr, "vr_conn_create failed\n");
        exit(1);
    }
    vr_conn_set_tap(p->conn, tap, p);
    p->thread = g_thread_new("test-peer", peer_main, p);
    return p;
}

static void peer_stop(struct peer *p)
{
    g_mutex_lock(&p->lock);
    p->stop = TRUE;
    g_mutex_unlock(&p->lock);
    peer_wake(p);
    g_thread_join(p->thread);
    CHECK(p->bad == 0, "%d messages from the sink did not decode", p->bad);
    if (p->fd >= 0)
        close(p->fd);
    close(p->lfd);
    close(p->wake[0]);
    close(p->wake[1]);
    vr_conn_destroy(p->conn);
    g_unlink(p->path);
    g_rmdir(p->dir);
    g_free(p->path);
    g_free(p->dir);
    g_ptr_array_unref(p->msgs);
    g_cond_clear(&p->cond);
    g_mutex_clear(&p->lock);
    g_free(p);
}

static int peer_count(struct peer *p)
{
    g_mutex_lock(&p->lock);
    int n = (int)p->msgs->len;
    g_mutex_unlock(&p->lock);
    return n;
}

/* Message i (stays valid until peer_stop: records are never moved). */
static const struct rec *peer_msg(struct peer *p, int i)
{
    g_mutex_lock(&p->lock);
    const struct rec *r = i >= 0 && (guint)i < p->msgs->len ? g_ptr_array_index(p->msgs, i) : NULL;
    g_mutex_unlock(&p->lock);
    return r;
}

/* Index of the first message of type at or after index from, waiting up to
 * ms for it; -1 if none came. */
static int peer_find(struct peer *p, uint16_t type, int from, int ms)
{
    gint64 until = g_get_monotonic_time() + (gint64)ms * 1000;
    g_mutex_lock(&p->lock);
    for (int i = from < 0 ? 0 : from;;) {
        for (; (guint)i < p->msgs->len; i++)
            if (((struct rec *)g_ptr_array_index(p->msgs, i))->m.type == type) {
                g_mutex_unlock(&p->lock);
                return i;
            }
        if (!g_cond_wait_until(&p->cond, &p->lock, until)) {
            g_mutex_unlock(&p->lock);
            return -1;
        }
    }
}

/* Index of the n-th (1-based) message of type from index from on, waiting. */
static int peer_find_nth(struct peer *p, uint16_t type, int from, int n, int ms)
{
    int i = from - 1;
    while (n-- > 0) {
        i = peer_find(p, type, i + 1, ms);
        if (i < 0)
            return -1;
    }
    return i;
}

/* Frames from index from on, copied into out (at most max). */
static int peer_frames(struct peer *p, int from, const struct rec **out, int max)
{
    int n = 0;
    for (int i = from < 0 ? 0 : from; i < peer_count(p); i++) {
        const struct rec *r = peer_msg(p, i);
        if (r->m.type == VR_MSG_FRAME && n < max)
            out[n++] = r;
    }
    return n;
}

static void peer_request_keyframe(struct peer *p)
{
    g_mutex_lock(&p->lock);
    p->kf_request = TRUE;
    g_mutex_unlock(&p->lock);
    peer_wake(p);
}

/* ---------------------------------------------------------------------- */
/* The element.                                                             */

static const uint16_t all_codecs[] = { VR_CODEC_H264, VR_CODEC_HEVC, VR_CODEC_VP8, VR_CODEC_VP9, VR_CODEC_AV1,
                                       VR_CODEC_NONE };

static GstStructure *stats_of(GstElement *e)
{
    GstStructure *st = NULL;
    g_object_get(e, "stats", &st, NULL);
    return st;
}

static guint64 stat_u64(GstElement *e, const char *field)
{
    GstStructure *st = stats_of(e);
    guint64 v = G_MAXUINT64;
    if (st) {
        gst_structure_get_uint64(st, field, &v);
        gst_structure_free(st);
    }
    return v;
}

static guint stat_uint(GstElement *e, const char *field)
{
    GstStructure *st = stats_of(e);
    guint v = G_MAXUINT;
    if (st) {
        gst_structure_get_uint(st, field, &v);
        gst_structure_free(st);
    }
    return v;
}

/* Bounded polling of the stats: the session's state and the mode live in the
 * sink's I/O thread. */
static gboolean wait_stat_str(GstElement *e, const char *field, const char *want, int ms)
{
    gint64 until = g_get_monotonic_time() + (gint64)ms * 1000;
    for (;;) {
        GstStructure *st = stats_of(e);
        const gchar *v = st ? gst_structure_get_string(st, field) : NULL;
        gboolean ok = v && !strcmp(v, want);
        if (!ok && g_get_monotonic_time() >= until)
            fprintf(stderr, "stats %s is \"%s\", want \"%s\"\n", field, v ? v : "(none)", want);
        if (st)
            gst_structure_free(st);
        if (ok)
            return TRUE;
        if (g_get_monotonic_time() >= until)
            return FALSE;
        g_usleep(5000);
    }
}

static gboolean wait_stat_u64(GstElement *e, const char *field, guint64 want, int ms)
{
    gint64 until = g_get_monotonic_time() + (gint64)ms * 1000;
    while (stat_u64(e, field) != want) {
        if (g_get_monotonic_time() >= until) {
            fprintf(stderr, "stats %s is %" G_GUINT64_FORMAT ", want %" G_GUINT64_FORMAT "\n", field,
                    stat_u64(e, field), want);
            return FALSE;
        }
        g_usleep(5000);
    }
    return TRUE;
}

/* The sink on a harness, its port at the peer, a test clock (so that CLOCK
 * messages can be predicted; the harness turns sync off, so nothing waits). */
static GstHarness *sink_harness(struct peer *p)
{
    GstElement *e = gst_element_factory_make("videoredirsink", NULL);
    if (!e) {
        fprintf(stderr, "no videoredirsink element\n");
        exit(1);
    }
    g_object_set(e, "device", p->path, "local-sink", "fakesink", NULL);
    GstHarness *h = gst_harness_new_with_element(e, "sink", NULL);
    gst_object_unref(e);
    gst_harness_use_testclock(h);
    return h;
}

/* Caps set, STREAM_START on the wire, the peer accepted: frames may flow.
 * Returns the STREAM_START's index. */
static int start_stream(GstHarness *h, struct peer *p, const char *caps)
{
    int from = peer_count(p);
    gst_harness_set_src_caps_str(h, caps);
    int i = peer_find(p, VR_MSG_STREAM_START, from, WAIT_MS);
    CHECK(i >= 0, "no STREAM_START for %s", caps);
    CHECK(wait_stat_str(h->element, "session", "streaming", WAIT_MS), "not streaming for %s", caps);
    CHECK(wait_stat_str(h->element, "mode", "redirect", WAIT_MS), "not redirecting for %s", caps);
    return i;
}

static uint8_t au_byte(guint id, gsize k)
{
    return (uint8_t)(id * 31u + k * 7u + 1u);
}

static gsize au_size(guint id)
{
    return 100 + id * 3;
}

/* An access unit whose bytes tell which one it is. */
static GstBuffer *make_au(guint id, GstClockTime pts, GstClockTime dts, GstClockTime dur, gboolean key)
{
    gsize n = au_size(id);
    guint8 *d = g_malloc(n);
    for (gsize k = 0; k < n; k++)
        d[k] = au_byte(id, k);
    GstBuffer *b = gst_buffer_new_wrapped(d, n);
    GST_BUFFER_PTS(b) = pts;
    GST_BUFFER_DTS(b) = dts;
    GST_BUFFER_DURATION(b) = dur;
    if (!key)
        GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
    return b;
}

static gboolean frame_is(const struct rec *r, guint id)
{
    if (!r || r->m.type != VR_MSG_FRAME || r->m.u.frame.data_len != au_size(id))
        return FALSE;
    for (gsize k = 0; k < au_size(id); k++)
        if (r->m.u.frame.data[k] != au_byte(id, k))
            return FALSE;
    return TRUE;
}

static void push(GstHarness *h, GstBuffer *b)
{
    GstFlowReturn r = gst_harness_push(h, b);
    CHECK(r == GST_FLOW_OK, "push: %s", gst_flow_get_name(r));
}

/* Pushes b with the test clock at `at` plus the real time since since_us: a
 * pipeline clock that runs with the guest's, so the sink has no reason to
 * send the mapping again (vr_gst_clock_due: a clock that stood still after
 * a start or a flush is mapped again). */
static void push_running(GstHarness *h, GstBuffer *b, GstClockTime at, uint64_t since_us)
{
    gst_harness_set_time(h, at + (vr_time_us() - since_us) * GST_USECOND);
    push(h, b);
}

static GstClockTime test_clock_now(GstHarness *h)
{
    GstTestClock *c = gst_harness_get_testclock(h);
    GstClockTime t = gst_clock_get_time(GST_CLOCK(c));
    gst_object_unref(c);
    return t;
}

static int64_t us(GstClockTime t)
{
    return (int64_t)(t / 1000);
}

/* The guest time at which running time rt is due, as the sink promises it:
 * the pipeline clock (the test clock, standing still at clock_now) tied to
 * the guest's monotonic clock at the moment of sending ([lo, hi]). */
static void check_clock(const struct rec *r, GstElement *e, int64_t pts_us, GstClockTime rt, GstClockTime clock_now,
                        uint64_t lo, uint64_t hi, const char *what)
{
    CHECK(r && r->m.type == VR_MSG_CLOCK, "%s: no CLOCK", what);
    if (!r || r->m.type != VR_MSG_CLOCK)
        return;
    int64_t delta = ((int64_t)(gst_element_get_base_time(e) + rt) - (int64_t)clock_now) / 1000;
    const struct vr_clock *c = &r->m.u.clock;
    CHECK(c->pts == pts_us, "%s: CLOCK pts %" PRId64 ", want %" PRId64, what, c->pts, pts_us);
    CHECK(c->rate_q16 == 65536, "%s: CLOCK rate %" PRIu32, what, c->rate_q16);
    CHECK(c->flags == 0, "%s: CLOCK flags %" PRIu32, what, c->flags);
    CHECK((int64_t)c->time_us >= (int64_t)lo + delta && (int64_t)c->time_us <= (int64_t)hi + delta,
          "%s: CLOCK time %" PRIu64 " not in [%" PRId64 ", %" PRId64 "]", what, c->time_us, (int64_t)lo + delta,
          (int64_t)hi + delta);
}

/* ---------------------------------------------------------------------- */
/* Cases.                                                                   */

#define AVCC "0142c01effe100046742c01e0100046ace3c80"
#define HVCC "0101600000009000000000005af000fcfdf8f800000f00"
#define AV1C "810c0000"

struct codec_case {
    const char *caps;
    uint16_t codec, flags;
    const char *extradata_hex; /* NULL: none */
    uint8_t primaries, transfer, matrix, full_range;
};

static void hex_to_bytes(const char *hex, guint8 *out, gsize *len)
{
    *len = strlen(hex) / 2;
    for (gsize i = 0; i < *len; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (guint8)v;
    }
}

/* 1. Caps: the pad accepts every codec videoredir carries, in the forms the
 * parsers give, and nothing else; each one announces the right stream. */
static void case_caps(void)
{
    GstElement *e = gst_element_factory_make("videoredirsink", NULL);
    GstPad *pad = gst_element_get_static_pad(e, "sink");
    static const char *yes[] = {
        "video/x-h264, stream-format=avc, alignment=au, codec_data=(buffer)" AVCC,
        "video/x-h264, stream-format=avc3, alignment=au",
        "video/x-h264, stream-format=byte-stream, alignment=au",
        "video/x-h265, stream-format=hvc1, alignment=au, codec_data=(buffer)" HVCC,
        "video/x-h265, stream-format=hev1, alignment=au, codec_data=(buffer)" HVCC,
        "video/x-h265, stream-format=byte-stream, alignment=au",
        "video/x-vp8, width=320, height=240",
        "video/x-vp9, profile=(string)0",
        "video/x-av1, stream-format=obu-stream, alignment=tu",
    };
    static const char *no[] = {
        "video/x-raw, format=I420, width=320, height=240",
        "video/mpeg, mpegversion=4, systemstream=false",
        "video/mpeg, mpegversion=2",
        "video/x-h264, stream-format=avc, alignment=nal",
        "video/x-h264, stream-format=byte-stream",  /* not whole access units */
        "video/x-h265, stream-format=byte-stream, alignment=nal",
        "video/x-av1, stream-format=annexb, alignment=tu",
        "video/x-theora",
        "audio/x-opus",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        GstCaps *c = gst_caps_from_string(yes[i]);
        CHECK(gst_pad_query_accept_caps(pad, c), "pad refuses %s", yes[i]);
        gst_caps_unref(c);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(no); i++) {
        GstCaps *c = gst_caps_from_string(no[i]);
        CHECK(!gst_pad_query_accept_caps(pad, c), "pad accepts %s", no[i]);
        gst_caps_unref(c);
    }
    gst_object_unref(pad);
    gst_object_unref(e);

    /* Negotiated for real: STREAM_START as the caps say, the client accepts,
     * a keyframe goes through. */
    static const struct codec_case cc[] = {
        { "video/x-h264, stream-format=avc, alignment=au, width=320, height=240, framerate=25/1, "
          "codec_data=(buffer)" AVCC,
          VR_CODEC_H264, 0, AVCC, 0, 0, 0, 0 },
        { "video/x-h264, stream-format=byte-stream, alignment=au, width=640, height=360, framerate=30000/1001",
          VR_CODEC_H264, VR_STREAM_ANNEXB, NULL, 0, 0, 0, 0 },
        { "video/x-h265, stream-format=hvc1, alignment=au, width=1920, height=1080, framerate=24/1, "
          "codec_data=(buffer)" HVCC,
          VR_CODEC_HEVC, 0, HVCC, 0, 0, 0, 0 },
        { "video/x-h265, stream-format=hev1, alignment=au, width=1280, height=720, codec_data=(buffer)" HVCC,
          VR_CODEC_HEVC, 0, HVCC, 0, 0, 0, 0 },
        { "video/x-h265, stream-format=byte-stream, alignment=au, width=3840, height=2160, framerate=50/1",
          VR_CODEC_HEVC, VR_STREAM_ANNEXB, NULL, 0, 0, 0, 0 },
        { "video/x-vp8, width=320, height=180, framerate=30/1", VR_CODEC_VP8, 0, NULL, 0, 0, 0, 0 },
        { "video/x-vp9, width=854, height=480, framerate=25/1, colorimetry=bt709", VR_CODEC_VP9, 0, NULL, 1, 1, 1,
          0 },
        { "video/x-av1, stream-format=obu-stream, alignment=tu, width=640, height=480, framerate=60/1, "
          "codec_data=(buffer)" AV1C,
          VR_CODEC_AV1, 0, AV1C, 0, 0, 0, 0 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cc); i++) {
        struct peer *p = peer_start(all_codecs);
        GstHarness *h = sink_harness(p);
        GstCaps *want = gst_caps_from_string(cc[i].caps);
        GstStructure *s = gst_caps_get_structure(want, 0);
        gint w = 0, ht = 0, fn = 0, fd = 0;
        gst_structure_get_int(s, "width", &w);
        gst_structure_get_int(s, "height", &ht);
        gst_structure_get_fraction(s, "framerate", &fn, &fd);

        if (i == 0) {
            /* Refused first: raw video (accept-caps) and caps without a size
             * (set_caps); neither may announce anything. */
            GstPad *sp = gst_element_get_static_pad(h->element, "sink");
            GstCaps *raw = gst_caps_from_string("video/x-raw, format=I420, width=320, height=240");
            CHECK(!gst_pad_send_event(sp, gst_event_new_caps(raw)), "raw caps event accepted");
            gst_caps_unref(raw);
            GstCaps *nosize = gst_caps_from_string("video/x-h264, stream-format=byte-stream, alignment=au");
            CHECK(!gst_pad_send_event(sp, gst_event_new_caps(nosize)), "caps without a size accepted");
            gst_caps_unref(nosize);
            gst_object_unref(sp);
        }
        int si = start_stream(h, p, cc[i].caps);
        const struct rec *r = peer_msg(p, si);
        if (i == 0)
            CHECK(si == peer_find(p, VR_MSG_STREAM_START, 0, 0), "a refused caps event was announced");
        if (r) {
            const struct vr_stream_start *st = &r->m.u.start;
            CHECK(st->codec == cc[i].codec, "%s: codec %u", cc[i].caps, st->codec);
            CHECK(st->flags == cc[i].flags, "%s: flags %u", cc[i].caps, st->flags);
            CHECK(st->width == (uint32_t)w && st->height == (uint32_t)ht, "%s: size %ux%u", cc[i].caps, st->width,
                  st->height);
            CHECK(st->timebase_num == 1 && st->timebase_den == 1000000, "%s: time base %u/%u", cc[i].caps,
                  st->timebase_num, st->timebase_den);
            CHECK(st->fps_num == (uint32_t)fn && st->fps_den == (uint32_t)(fn ? fd : 0), "%s: fps %u/%u",
                  cc[i].caps, st->fps_num, st->fps_den);
            guint8 ed[64];
            gsize edlen = 0;
            if (cc[i].extradata_hex)
                hex_to_bytes(cc[i].extradata_hex, ed, &edlen);
            CHECK(st->extradata_len == edlen && (!edlen || !memcmp(st->extradata, ed, edlen)),
                  "%s: extradata of %u bytes, want codec_data's %zu", cc[i].caps, st->extradata_len, (size_t)edlen);
            CHECK(st->color.primaries == cc[i].primaries && st->color.transfer == cc[i].transfer &&
                      st->color.matrix == cc[i].matrix && st->color.full_range == cc[i].full_range,
                  "%s: colour %u/%u/%u/%u", cc[i].caps, st->color.primaries, st->color.transfer, st->color.matrix,
                  st->color.full_range);
            int gi = peer_find(p, VR_MSG_GEOMETRY, si, WAIT_MS);
            const struct rec *g = peer_msg(p, gi);
            CHECK(g && g->m.u.geometry.content.w == (uint32_t)w && g->m.u.geometry.content.h == (uint32_t)ht,
                  "%s: no GEOMETRY of the video's size", cc[i].caps);
        }
        push(h, make_au(1, 0, 0, 40 * GST_MSECOND, TRUE));
        int fi = peer_find(p, VR_MSG_FRAME, si, WAIT_MS);
        CHECK(fi > si && frame_is(peer_msg(p, fi), 1), "%s: the keyframe did not arrive", cc[i].caps);
        g_mutex_lock(&p->lock);
        struct vr_hello gh = p->guest_hello;
        g_mutex_unlock(&p->lock);
        CHECK(gh.role == VR_ROLE_GUEST && g_str_has_prefix(gh.software, "videoredirsink "),
              "guest hello: role %u, software \"%s\"", gh.role, gh.software);
        gst_caps_unref(want);
        gst_harness_teardown(h);
        /* Going to NULL ends the stream. */
        int stop = peer_find(p, VR_MSG_STREAM_STOP, si, WAIT_MS);
        CHECK(stop > 0 && peer_msg(p, stop)->m.u.stop.reason == VR_REASON_USER, "%s: no STREAM_STOP(user)",
              cc[i].caps);
        peer_stop(p);
    }
}

/* 1b. A codec the client's hello did not offer: the pad cannot know the
 * client and accepts it; the sink announces it anyway, the client refuses
 * and the video plays locally (never a black hole). */
static void case_unoffered(void)
{
    static const uint16_t vp9_only[] = { VR_CODEC_VP9, VR_CODEC_NONE };
    struct peer *p = peer_start(vp9_only);
    GstHarness *h = sink_harness(p);
    const char *caps = "video/x-h264, stream-format=byte-stream, alignment=au, width=320, height=240, "
                       "framerate=25/1";
    GstPad *pad = gst_element_get_static_pad(h->element, "sink");
    GstCaps *c = gst_caps_from_string(caps);
    CHECK(gst_pad_query_accept_caps(pad, c), "pad refuses H.264");
    gst_caps_unref(c);
    gst_object_unref(pad);
    gst_harness_set_src_caps_str(h, caps);
    int si = peer_find(p, VR_MSG_STREAM_START, 0, WAIT_MS);
    CHECK(si >= 0 && peer_msg(p, si)->m.u.start.codec == VR_CODEC_H264, "no STREAM_START(h264)");
    CHECK(wait_stat_str(h->element, "session", "failed", WAIT_MS), "the reject did not fail the session");
    CHECK(wait_stat_str(h->element, "mode", "local", WAIT_MS), "not playing locally after the reject");
    CHECK(stat_u64(h->element, "switches-to-local") >= 1, "no switch to local counted");
    for (guint i = 0; i < 5; i++)
        push(h, make_au(i, i * 40 * GST_MSECOND, i * 40 * GST_MSECOND, 40 * GST_MSECOND, i == 0));
    CHECK(wait_stat_u64(h->element, "frames-local", 5, WAIT_MS), "the 5 frames were not played locally");
    CHECK(stat_u64(h->element, "frames-in") == 5, "frames-in %" G_GUINT64_FORMAT, stat_u64(h->element, "frames-in"));
    CHECK(stat_u64(h->element, "frames-sent") == 0, "frames sent to a client that refused them");
    CHECK(peer_find(p, VR_MSG_FRAME, 0, 0) < 0, "a FRAME went to the client");
    gst_harness_teardown(h);
    peer_stop(p);
}

/* 2. Timestamps, flags, sequence numbers and the CLOCK mapping. */
static void case_timestamps(void)
{
    struct peer *p = peer_start(all_codecs);
    GstHarness *h = sink_harness(p);
    const GstClockTime now = 500 * GST_MSECOND;
    gst_harness_set_time(h, now);
    int si = start_stream(h, p, "video/x-h264, stream-format=avc, alignment=au, width=320, height=240, "
                                "framerate=25/1, codec_data=(buffer)" AVCC);
    enum { N = 10 };
    GstClockTime pts[N], dts[N], dur[N];
    gboolean key[N];
    uint64_t lo = vr_time_us();
    for (guint i = 0; i < N; i++) {
        pts[i] = GST_SECOND + i * 40 * GST_MSECOND;
        dts[i] = pts[i] - 80 * GST_MSECOND;
        dur[i] = 40 * GST_MSECOND;
        key[i] = i % 5 == 0;
        if (i == 8)
            pts[i] = GST_CLOCK_TIME_NONE;
        if (i == 9)
            dts[i] = dur[i] = GST_CLOCK_TIME_NONE;
        GstBuffer *b = make_au(i, pts[i], dts[i], dur[i], key[i]);
        if (i == 3)
            GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DROPPABLE);
        push_running(h, b, now, lo);
    }
    uint64_t hi = vr_time_us();
    int last = peer_find_nth(p, VR_MSG_FRAME, si, N, WAIT_MS);
    CHECK(last > 0, "not all %d frames arrived", N);
    const struct rec *f[N + 4];
    int n = peer_frames(p, si, f, N + 4);
    CHECK(n == N, "%d frames, want %d", n, N);
    int ci = peer_find(p, VR_MSG_CLOCK, si, 0);
    int fi0 = peer_find(p, VR_MSG_FRAME, si, 0);
    CHECK(ci >= 0 && ci < fi0, "no CLOCK before the first frame (clock %d, frame %d)", ci, fi0);
    check_clock(peer_msg(p, ci), h->element, us(pts[0]), pts[0], now, lo, hi, "first frame");
    CHECK(peer_find(p, VR_MSG_CLOCK, ci + 1, 0) < 0, "a second CLOCK within a second");
    for (int i = 0; i < n && i < N; i++) {
        const struct vr_frame *fr = &f[i]->m.u.frame;
        CHECK(frame_is(f[i], (guint)i), "frame %d: not the access unit pushed", i);
        CHECK(fr->seq == (uint32_t)i, "frame %d: seq %" PRIu32, i, fr->seq);
        int64_t wp = GST_CLOCK_TIME_IS_VALID(pts[i]) ? us(pts[i]) : INT64_MIN;
        int64_t wd = GST_CLOCK_TIME_IS_VALID(dts[i]) ? us(dts[i]) : INT64_MIN;
        int64_t wdur = GST_CLOCK_TIME_IS_VALID(dur[i]) ? us(dur[i]) : 0;
        CHECK(fr->pts == wp, "frame %d: pts %" PRId64 ", want %" PRId64, i, fr->pts, wp);
        CHECK(fr->dts == wd, "frame %d: dts %" PRId64 ", want %" PRId64, i, fr->dts, wd);
        CHECK(fr->duration == wdur, "frame %d: duration %" PRId64 ", want %" PRId64, i, fr->duration, wdur);
        CHECK(!!(fr->flags & VR_FRAME_KEY) == key[i], "frame %d: flags %#x", i, fr->flags);
        CHECK(!!(fr->flags & VR_FRAME_DROPPABLE) == (i == 3), "frame %d: flags %#x", i, fr->flags);
        CHECK(!(fr->flags & VR_FRAME_DISCONT), "frame %d: DISCONT without a flush", i);
        CHECK(fr->send_time_us >= lo && fr->send_time_us <= vr_time_us(), "frame %d: send time %" PRIu64, i,
              fr->send_time_us);
    }
    guint64 bytes = 0;
    for (guint i = 0; i < N; i++)
        bytes += au_size(i);
    CHECK(stat_u64(h->element, "frames-in") == N && stat_u64(h->element, "frames-sent") == N,
          "frames in/sent %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, stat_u64(h->element, "frames-in"),
          stat_u64(h->element, "frames-sent"));
    CHECK(stat_u64(h->element, "bytes-sent") == bytes, "bytes-sent %" G_GUINT64_FORMAT ", want %" G_GUINT64_FORMAT,
          stat_u64(h->element, "bytes-sent"), bytes);
    CHECK(stat_uint(h->element, "gop-cache-frames") == 5, "GOP cache of %u frames, want 5 (from the last key)",
          stat_uint(h->element, "gop-cache-frames"));

    /* About once a second the mapping is sent again, so the two clocks
     * cannot drift apart: the next frame after a second brings a CLOCK. The
     * test clock stood still meanwhile, so the promise moves with the guest
     * clock. */
    g_usleep(1100000);
    int from = peer_count(p);
    GstClockTime p11 = GST_SECOND + 10 * 40 * GST_MSECOND;
    lo = vr_time_us();
    push(h, make_au(10, p11, p11 - 80 * GST_MSECOND, 40 * GST_MSECOND, FALSE));
    hi = vr_time_us();
    int fi = peer_find(p, VR_MSG_FRAME, from, WAIT_MS);
    ci = peer_find(p, VR_MSG_CLOCK, from, 0);
    CHECK(fi >= 0 && frame_is(peer_msg(p, fi), 10) && peer_msg(p, fi)->m.u.frame.seq == N, "frame 10 missing");
    CHECK(ci >= 0 && ci < fi, "no CLOCK again after a second");
    check_clock(peer_msg(p, ci), h->element, us(p11), p11, test_clock_now(h), lo, hi, "a second later");
    gst_harness_teardown(h);
    peer_stop(p);
}

/* 2b. A pipeline clock that stands still after the start (an audio sink's,
 * until its device runs): the next frame maps the clock again, with the
 * time it stood still; once it runs with the guest's, no more CLOCKs. */
static void case_clock_settle(void)
{
    struct peer *p = peer_start(all_codecs);
    GstHarness *h = sink_harness(p);
    const GstClockTime now = 500 * GST_MSECOND;
    gst_harness_set_time(h, now);
    int si = start_stream(h, p, "video/x-h264, stream-format=byte-stream, alignment=au, width=320, height=240, "
                                "framerate=25/1");
    uint64_t lo = vr_time_us();
    push_running(h, make_au(0, GST_SECOND, GST_SECOND, 40 * GST_MSECOND, TRUE), now, lo);
    uint64_t hi = vr_time_us();
    int c0 = peer_find(p, VR_MSG_CLOCK, si, WAIT_MS);
    check_clock(peer_msg(p, c0), h->element, us(GST_SECOND), GST_SECOND, test_clock_now(h), lo, hi, "first frame");
    /* The clock stands still for 20 ms (> VR_GST_CLOCK_SKEW_US). */
    g_usleep(20000);
    GstClockTime stood = test_clock_now(h), p1 = GST_SECOND + 40 * GST_MSECOND;
    lo = vr_time_us();
    push(h, make_au(1, p1, p1, 40 * GST_MSECOND, FALSE));
    hi = vr_time_us();
    CHECK(peer_find_nth(p, VR_MSG_FRAME, si, 2, WAIT_MS) > 0, "frame 1 did not arrive");
    int c1 = peer_find(p, VR_MSG_CLOCK, c0 + 1, 0);
    CHECK(c1 > c0, "no CLOCK again after the clock stood still");
    check_clock(peer_msg(p, c1), h->element, us(p1), p1, stood, lo, hi, "after the clock stood still");
    /* Now it runs with the guest's clock: the mapping holds, no CLOCK. */
    uint64_t since = vr_time_us();
    for (guint i = 2; i < 6; i++) {
        GstClockTime t = GST_SECOND + i * 40 * GST_MSECOND;
        push_running(h, make_au(i, t, t, 40 * GST_MSECOND, FALSE), stood, since);
    }
    CHECK(peer_find_nth(p, VR_MSG_FRAME, si, 6, WAIT_MS) > 0, "frames 2-5 did not arrive");
    CHECK(peer_find(p, VR_MSG_CLOCK, c1 + 1, 0) < 0, "a CLOCK while the clock ran with the guest's");
    gst_harness_teardown(h);
    peer_stop(p);
}

/* 3. Flush (seek): FLUSH on the wire, the GOP cache emptied, the stream
 * resumes at a keyframe with DISCONT and the new segment's timestamps. */
static void case_flush(void)
{
    struct peer *p = peer_start(all_codecs);
    GstHarness *h = sink_harness(p);
    int si = start_stream(h, p, "video/x-h264, stream-format=byte-stream, alignment=au, width=320, height=240, "
                                "framerate=25/1");
    for (guint i = 0; i < 3; i++)
        push(h, make_au(i, i * 40 * GST_MSECOND, i * 40 * GST_MSECOND, 40 * GST_MSECOND, i == 0));
    int third = peer_find_nth(p, VR_MSG_FRAME, si, 3, WAIT_MS);
    CHECK(third > 0, "the first GOP did not arrive");
    CHECK(stat_uint(h->element, "gop-cache-frames") == 3, "GOP cache %u, want 3",
          stat_uint(h->element, "gop-cache-frames"));

    CHECK(gst_harness_push_event(h, gst_event_new_flush_start()), "flush-start refused");
    CHECK(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)), "flush-stop refused");
    CHECK(stat_uint(h->element, "gop-cache-frames") == 0, "GOP cache %u after the flush",
          stat_uint(h->element, "gop-cache-frames"));
    int fl = peer_find(p, VR_MSG_FLUSH, si, WAIT_MS);
    CHECK(fl > third, "no FLUSH after the frames (%d)", fl);
    if (fl > 0)
        CHECK(peer_msg(p, fl)->m.u.flush.flags == 0, "FLUSH flags");

    /* The seek target: 5 s, running time from 0 again. */
    GstSegment seg;
    gst_segment_init(&seg, GST_FORMAT_TIME);
    seg.start = seg.time = seg.position = 5 * GST_SECOND;
    CHECK(gst_harness_push_event(h, gst_event_new_segment(&seg)), "segment refused");
    const GstClockTime t = 5 * GST_SECOND;
    uint64_t lo = vr_time_us();
    push_running(h, make_au(10, t, t, 40 * GST_MSECOND, FALSE), 0, lo); /* no keyframe yet: useless to the client */
    push_running(h, make_au(11, t + 40 * GST_MSECOND, t + 40 * GST_MSECOND, 40 * GST_MSECOND, TRUE), 0, lo);
    uint64_t hi = vr_time_us();
    push_running(h, make_au(12, t + 80 * GST_MSECOND, t + 80 * GST_MSECOND, 40 * GST_MSECOND, FALSE), 0, lo);
    int k = peer_find_nth(p, VR_MSG_FRAME, fl + 1, 2, WAIT_MS);
    CHECK(k > 0, "the frames after the seek did not arrive");
    const struct rec *f[8];
    int n = peer_frames(p, fl + 1, f, 8);
    CHECK(n == 2, "%d frames after FLUSH, want 2 (the delta before the keyframe is not sent)", n);
    if (n >= 2) {
        CHECK(frame_is(f[0], 11) && f[0]->m.u.frame.pts == us(t + 40 * GST_MSECOND), "first frame after FLUSH");
        CHECK((f[0]->m.u.frame.flags & (VR_FRAME_KEY | VR_FRAME_DISCONT)) == (VR_FRAME_KEY | VR_FRAME_DISCONT),
              "first frame after FLUSH: flags %#x, want KEY|DISCONT", f[0]->m.u.frame.flags);
        CHECK(frame_is(f[1], 12) && f[1]->m.u.frame.pts == us(t + 80 * GST_MSECOND) &&
                  !(f[1]->m.u.frame.flags & (VR_FRAME_KEY | VR_FRAME_DISCONT)),
              "second frame after FLUSH");
        /* Numbering goes on: nothing was lost on the wire. */
        CHECK(f[0]->m.u.frame.seq == 3 && f[1]->m.u.frame.seq == 4, "seq %" PRIu32 ", %" PRIu32,
              f[0]->m.u.frame.seq, f[1]->m.u.frame.seq);
    }
    int ci = peer_find(p, VR_MSG_CLOCK, fl + 1, 0);
    int fi = peer_find(p, VR_MSG_FRAME, fl + 1, 0);
    CHECK(ci > fl && ci < fi, "no CLOCK between FLUSH and the next frame");
    CHECK(peer_find(p, VR_MSG_CLOCK, ci + 1, 0) < 0 || peer_find(p, VR_MSG_CLOCK, ci + 1, 0) > fi,
          "more than one CLOCK after the seek");
    /* The first buffer after the seek brings the new mapping: 5 s is the
     * start of the new segment, running time 0. */
    check_clock(peer_msg(p, ci), h->element, us(t), 0, 0, lo, hi, "after seek");
    CHECK(stat_uint(h->element, "gop-cache-frames") == 2, "GOP cache %u, want 2",
          stat_uint(h->element, "gop-cache-frames"));

    /* The client asks for a keyframe: what the sink replays is the new GOP
     * only (FLUSH, CLOCK, 11, 12): the old one is gone. */
    int from = peer_count(p);
    peer_request_keyframe(p);
    int rf = peer_find(p, VR_MSG_FLUSH, from, WAIT_MS);
    int last = peer_find_nth(p, VR_MSG_FRAME, from, 2, WAIT_MS);
    CHECK(rf >= from && last > rf, "no replay after the keyframe request");
    n = peer_frames(p, from, f, 8);
    CHECK(n == 2 && frame_is(f[0], 11) && frame_is(f[1], 12), "replayed %d frames, want 11 and 12", n);
    if (n >= 1)
        CHECK(f[0]->m.u.frame.flags & VR_FRAME_DISCONT, "replay starts without DISCONT");
    ci = peer_find(p, VR_MSG_CLOCK, rf, 0);
    CHECK(ci > rf && ci < last, "no CLOCK with the replay");
    CHECK(wait_stat_u64(h->element, "gop-resends", 1, WAIT_MS), "gop-resends");
    CHECK(stat_u64(h->element, "keyframe-requests") == 1, "keyframe-requests");
    gst_harness_teardown(h);
    peer_stop(p);
}

/* 4. EOS: STREAM_STOP(eos) after the last frame, and the EOS message only
 * once the client has everything (its feedback, not the 3 s timeout). */
static void case_eos(void)
{
    struct peer *p = peer_start(all_codecs);
    GstHarness *h = sink_harness(p);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    int si = start_stream(h, p, "video/x-vp9, width=320, height=240, framerate=30/1");
    for (guint i = 0; i < 4; i++)
        push(h, make_au(i, i * 33 * GST_MSECOND, GST_CLOCK_TIME_NONE, 33 * GST_MSECOND, i == 0));
    gint64 t0 = g_get_monotonic_time();
    CHECK(gst_harness_push_event(h, gst_event_new_eos()), "EOS refused");
    gint64 took = g_get_monotonic_time() - t0;
    /* By now the client has received STREAM_STOP: the sink waited for its
     * feedback, which the client sends on STREAM_STOP only. */
    int stop = peer_find(p, VR_MSG_STREAM_STOP, si, 0);
    CHECK(stop > 0, "no STREAM_STOP before the EOS event returned");
    CHECK(took < 2500000, "EOS took %" G_GINT64_FORMAT " ms: the drain timed out instead of seeing feedback",
          took / 1000);
    if (stop > 0) {
        CHECK(peer_msg(p, stop)->m.u.stop.reason == VR_REASON_EOS, "STREAM_STOP reason %s",
              vr_reason_name(peer_msg(p, stop)->m.u.stop.reason));
        const struct rec *f[8];
        CHECK(peer_frames(p, si, f, 8) == 4 && peer_frames(p, stop, f, 8) == 0, "the 4 frames are not all before it");
        int fourth = peer_find_nth(p, VR_MSG_FRAME, si, 4, 0);
        CHECK(fourth > 0 && fourth < stop && frame_is(peer_msg(p, fourth), 3), "the last frame is not before STREAM_STOP");
    }
    GstMessage *m = gst_bus_timed_pop_filtered(bus, 2 * GST_SECOND, GST_MESSAGE_EOS);
    CHECK(m && GST_MESSAGE_SRC(m) == GST_OBJECT(h->element), "no EOS message from the sink");
    if (m)
        gst_message_unref(m);
    GstFlowReturn r = gst_harness_push(h, make_au(9, GST_SECOND, GST_CLOCK_TIME_NONE, 0, TRUE));
    CHECK(r == GST_FLOW_EOS, "a buffer after EOS: %s", gst_flow_get_name(r));
    CHECK(wait_stat_str(h->element, "session", "idle", WAIT_MS), "session not idle after EOS");
    CHECK(wait_stat_str(h->element, "mode", "redirect", 0), "mode changed at EOS");
    CHECK(stat_u64(h->element, "frames-sent") == 4, "frames-sent");
    gst_harness_teardown(h);
    CHECK(peer_find(p, VR_MSG_STREAM_STOP, stop + 1, 0) < 0, "a second STREAM_STOP at teardown");
    gst_object_unref(bus);
    peer_stop(p);
}

/* The CLOCK at pause: rate 0 at the position the player stopped at (the
 * running time then, on the harness's test clock; not the last frame sent,
 * which is up to `lead` ahead), dated now. */
static void check_pause(struct peer *p, GstHarness *h, int64_t pts_us, const char *what)
{
    int from = peer_count(p);
    uint64_t lo = vr_time_us();
    CHECK(gst_element_set_state(h->element, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE, "%s: no pause", what);
    uint64_t hi = vr_time_us();
    int ci = peer_find(p, VR_MSG_CLOCK, from, WAIT_MS);
    const struct rec *r = peer_msg(p, ci);
    CHECK(r, "%s: no CLOCK at pause", what);
    if (r) {
        CHECK(r->m.u.clock.rate_q16 == 0, "%s: rate %" PRIu32 " at pause", what, r->m.u.clock.rate_q16);
        CHECK(r->m.u.clock.pts == pts_us, "%s: pause at %" PRId64 ", want %" PRId64, what, r->m.u.clock.pts, pts_us);
        CHECK(r->m.u.clock.time_us >= lo && r->m.u.clock.time_us <= hi, "%s: pause dated %" PRIu64, what,
              r->m.u.clock.time_us);
    }
    CHECK(wait_stat_str(h->element, "mode", "redirect", 0) && wait_stat_str(h->element, "session", "streaming", 0),
          "%s: the stream did not stay with the client", what);
}

/* After resume the next frame is preceded by a normal-rate CLOCK (the test
 * clock at clock_now). */
static void check_resume(struct peer *p, GstHarness *h, guint id, GstClockTime pts, gboolean key,
                         GstClockTime clock_now, const char *what)
{
    gst_harness_play(h);
    int from = peer_count(p);
    uint64_t lo = vr_time_us();
    push(h, make_au(id, pts, pts, 40 * GST_MSECOND, key));
    uint64_t hi = vr_time_us();
    int fi = peer_find(p, VR_MSG_FRAME, from, WAIT_MS);
    int ci = peer_find(p, VR_MSG_CLOCK, from, 0);
    CHECK(fi >= 0 && frame_is(peer_msg(p, fi), id), "%s: frame %u missing", what, id);
    CHECK(ci >= 0 && ci < fi, "%s: no CLOCK before the first frame after resume", what);
    check_clock(peer_msg(p, ci), h->element, us(pts), pts, clock_now, lo, hi, what);
}

/* 5. Pause and resume. */
static void case_pause(void)
{
    struct peer *p = peer_start(all_codecs);
    GstHarness *h = sink_harness(p);
    int si = start_stream(h, p, "video/x-h265, stream-format=byte-stream, alignment=au, width=320, height=240, "
                                "framerate=25/1");
    /* Paused on the very first frame (pts 0). */
    push(h, make_au(0, 0, 0, 40 * GST_MSECOND, TRUE));
    CHECK(peer_find(p, VR_MSG_FRAME, si, WAIT_MS) > si, "frame 0 missing");
    check_pause(p, h, 0, "pause at 0");
    check_resume(p, h, 1, 40 * GST_MSECOND, FALSE, 0, "resume at 40 ms");
    push(h, make_au(2, 80 * GST_MSECOND, 80 * GST_MSECOND, 40 * GST_MSECOND, FALSE));
    CHECK(peer_find_nth(p, VR_MSG_FRAME, si, 3, WAIT_MS) > 0, "frame 2 missing");
    /* Frame 2 went out at once (lead); the player stops at 60 ms, before it
     * is due: the client is told 60 ms, and shows the frame at 40 ms. */
    gst_harness_set_time(h, 60 * GST_MSECOND);
    check_pause(p, h, 60000, "pause at 60 ms");
    check_resume(p, h, 3, 120 * GST_MSECOND, TRUE, 60 * GST_MSECOND, "resume at 120 ms");
    const struct rec *f[8];
    int n = peer_frames(p, si, f, 8);
    CHECK(n == 4, "%d frames, want 4", n);
    for (int i = 0; i < n; i++)
        CHECK(f[i]->m.u.frame.seq == (uint32_t)i && frame_is(f[i], (guint)i), "frame %d", i);
    gst_harness_teardown(h);
    peer_stop(p);
}

static void check_str_prop(GstElement *e, const char *name, const char *def, const char *set)
{
    gchar *v = NULL;
    g_object_get(e, name, &v, NULL);
    CHECK(g_strcmp0(v, def) == 0, "%s defaults to \"%s\", want \"%s\"", name, v ? v : "(null)", def ? def : "(null)");
    g_free(v);
    g_object_set(e, name, set, NULL);
    g_object_get(e, name, &v, NULL);
    CHECK(g_strcmp0(v, set) == 0, "%s set to \"%s\" reads \"%s\"", name, set ? set : "(null)", v ? v : "(null)");
    g_free(v);
}

/* 6. Properties: defaults, set/get, read-only ones, the stats fields. */
static void case_properties(void)
{
    GstElement *e = gst_element_factory_make("videoredirsink", NULL);
    GObjectClass *k = G_OBJECT_GET_CLASS(e);
    check_str_prop(e, "device", NULL, "/tmp/vr-test.sock");
    check_str_prop(e, "port-name", "org.spice-space.videoredir.0", "com.example.other");
    check_str_prop(e, "local-sink", "ximagesink", "fakesink sync=true");
    check_str_prop(e, "display", NULL, ":42");
    gchar *v = NULL;
    g_object_set(e, "port-name", NULL, NULL);
    g_object_get(e, "port-name", &v, NULL);
    CHECK(!g_strcmp0(v, "org.spice-space.videoredir.0"), "port-name NULL gives \"%s\", not the default", v);
    g_free(v);
    g_object_set(e, "device", NULL, NULL);
    g_object_get(e, "device", &v, NULL);
    CHECK(v == NULL, "device NULL reads \"%s\"", v);
    g_free(v);

    guint lead = 0;
    g_object_get(e, "lead", &lead, NULL);
    CHECK(lead == 100, "lead defaults to %u", lead);
    CHECK(gst_base_sink_get_ts_offset(GST_BASE_SINK(e)) == -100 * (GstClockTimeDiff)GST_MSECOND,
          "ts-offset %" G_GINT64_FORMAT " for lead 100", gst_base_sink_get_ts_offset(GST_BASE_SINK(e)));
    g_object_set(e, "lead", 250u, NULL);
    g_object_get(e, "lead", &lead, NULL);
    CHECK(lead == 250, "lead reads %u after 250", lead);
    CHECK(gst_base_sink_get_ts_offset(GST_BASE_SINK(e)) == -250 * (GstClockTimeDiff)GST_MSECOND,
          "lead 250 renders %" G_GINT64_FORMAT " ns early", -gst_base_sink_get_ts_offset(GST_BASE_SINK(e)));
    /* playsink sets ts-offset (av-offset) on its sinks: it adds to the lead, never replaces it. */
    g_object_set(e, "ts-offset", (gint64)(40 * GST_MSECOND), NULL);
    gint64 tso = 0;
    g_object_get(e, "ts-offset", &tso, NULL);
    CHECK(tso == 40 * (gint64)GST_MSECOND, "ts-offset reads %" G_GINT64_FORMAT " after 40 ms", tso);
    CHECK(gst_base_sink_get_ts_offset(GST_BASE_SINK(e)) == -210 * (GstClockTimeDiff)GST_MSECOND,
          "ts-offset 40 ms with lead 250 renders %" G_GINT64_FORMAT " ns early",
          -gst_base_sink_get_ts_offset(GST_BASE_SINK(e)));
    g_object_set(e, "ts-offset", (gint64)0, NULL);
    GParamSpecUInt *lp = G_PARAM_SPEC_UINT(g_object_class_find_property(k, "lead"));
    CHECK(lp->minimum == 0 && lp->maximum == 5000 && lp->default_value == 100, "lead range %u..%u", lp->minimum,
          lp->maximum);

    gboolean fb = FALSE;
    g_object_get(e, "fallback", &fb, NULL);
    CHECK(fb, "fallback defaults to off");
    g_object_set(e, "fallback", FALSE, NULL);
    g_object_get(e, "fallback", &fb, NULL);
    CHECK(!fb, "fallback stays on");

    /* The sink waits for the clock (rendering `lead` early) but never drops
     * late frames: the client decides what is too late. */
    CHECK(gst_base_sink_get_sync(GST_BASE_SINK(e)), "sync is off");
    CHECK(gst_base_sink_get_max_lateness(GST_BASE_SINK(e)) == -1, "max-lateness");
    CHECK(!gst_base_sink_is_qos_enabled(GST_BASE_SINK(e)), "qos on");

    GParamSpec *mp = g_object_class_find_property(k, "mode");
    GParamSpec *sp = g_object_class_find_property(k, "stats");
    CHECK(mp && (mp->flags & G_PARAM_READABLE) && !(mp->flags & G_PARAM_WRITABLE), "mode is not read-only");
    CHECK(sp && (sp->flags & G_PARAM_READABLE) && !(sp->flags & G_PARAM_WRITABLE), "stats is not read-only");
    CHECK(sp && sp->value_type == GST_TYPE_STRUCTURE, "stats is not a GstStructure");
    g_object_get(e, "mode", &v, NULL);
    CHECK(!g_strcmp0(v, "local"), "mode is \"%s\" before starting", v);
    g_free(v);

    static const struct {
        const char *name;
        GType type;
    } fields[] = {
        { "mode", G_TYPE_STRING },           { "session", G_TYPE_STRING },
        { "frames-in", G_TYPE_UINT64 },      { "frames-sent", G_TYPE_UINT64 },
        { "frames-dropped", G_TYPE_UINT64 }, { "frames-skipped", G_TYPE_UINT64 },
        { "frames-resent", G_TYPE_UINT64 },  { "gop-resends", G_TYPE_UINT64 },
        { "frames-local", G_TYPE_UINT64 },   { "switches-to-local", G_TYPE_UINT64 },
        { "switches-to-client", G_TYPE_UINT64 }, { "bytes-sent", G_TYPE_UINT64 },
        { "sessions", G_TYPE_UINT64 },       { "keyframe-requests", G_TYPE_UINT64 },
        { "backlog", G_TYPE_UINT },          { "gop-cache-frames", G_TYPE_UINT },
        { "rtt-us", G_TYPE_UINT },           { "client-latency-us", G_TYPE_UINT },
    };
    GstStructure *st = stats_of(e);
    CHECK(st && gst_structure_has_name(st, "videoredirsink-stats"), "stats structure name");
    if (st) {
        for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
            CHECK(gst_structure_has_field_typed(st, fields[i].name, fields[i].type), "stats lack %s (%s)",
                  fields[i].name, g_type_name(fields[i].type));
        CHECK(gst_structure_n_fields(st) == (gint)G_N_ELEMENTS(fields), "stats have %d fields, want %zu",
              gst_structure_n_fields(st), G_N_ELEMENTS(fields));
        CHECK(!g_strcmp0(gst_structure_get_string(st, "session"), "stopped"), "session before start");
        gst_structure_free(st);
    }
    gst_object_unref(e);

    /* Live: `device` is what it opens; mode and the counters follow the
     * session. */
    struct peer *p = peer_start(all_codecs);
    GstHarness *h = sink_harness(p);
    int si = start_stream(h, p, "video/x-vp8, width=160, height=120, framerate=30/1");
    g_mutex_lock(&p->lock);
    int conns = p->connections;
    g_mutex_unlock(&p->lock);
    CHECK(conns == 1, "%d connections to the device", conns);
    g_object_get(h->element, "mode", &v, NULL);
    CHECK(!g_strcmp0(v, "redirect"), "mode \"%s\" while the client shows it", v);
    g_free(v);
    push(h, make_au(0, 0, 0, 33 * GST_MSECOND, TRUE));
    push(h, make_au(1, 33 * GST_MSECOND, 33 * GST_MSECOND, 33 * GST_MSECOND, FALSE));
    CHECK(peer_find_nth(p, VR_MSG_FRAME, si, 2, WAIT_MS) > 0, "frames missing");
    CHECK(stat_u64(h->element, "sessions") == 1 && stat_u64(h->element, "frames-sent") == 2 &&
              stat_u64(h->element, "frames-local") == 0 && stat_u64(h->element, "bytes-sent") == au_size(0) + au_size(1),
          "stats after two frames");
    gst_harness_teardown(h);
    peer_stop(p);
}

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    { "caps", case_caps },   { "unoffered", case_unoffered }, { "timestamps", case_timestamps },
    { "flush", case_flush }, { "eos", case_eos },             { "pause", case_pause },
    { "properties", case_properties }, { "clock-settle", case_clock_settle },
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_gst_sink CASE\n");
        return 2;
    }
    /* The placeholder window is not part of these tests: no X display, the
     * sink logs that it has no window and goes on. */
    g_unsetenv("DISPLAY");
    gst_init(NULL, NULL);
    GError *err = NULL;
    GstPlugin *pl = gst_plugin_load_file(VR_GST_PLUGIN, &err);
    if (!pl) {
        fprintf(stderr, "cannot load %s: %s\n", VR_GST_PLUGIN, err ? err->message : "?");
        return 1;
    }
    gst_object_unref(pl);
    int found = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        if (!strcmp(argv[1], cases[i].name)) {
            cases[i].fn();
            found = 1;
        }
    if (!found) {
        fprintf(stderr, "unknown case %s\n", argv[1]);
        return 2;
    }
    gst_deinit();
    return CHECK_DONE();
}
