/*
 * Guest side of a videoredir session, without I/O.
 *
 * The guest owns a vr_conn; whoever owns the channel moves its bytes. Input
 * arrives through the conn's on_message callback; timers run from
 * vr_guest_tick() with the injected clock. One stream per guest object (the
 * CLI and a sink element each play one video).
 *
 * Flow-control accounting: the client reports bytes_received counted from
 * when its end of the port opened, while our conn counts every byte it ever
 * queued, including hellos QEMU discarded because no client was listening.
 * So we remember where, in our own byte count, the client's count starts
 * (sess_base) and translate its reports before vr_conn_ack().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mingw-w64 reads format(printf) as Microsoft's printf; with
 * __USE_MINGW_ANSI_STDIO its C99 one is gnu_printf. */
#ifdef __MINGW_PRINTF_FORMAT
#define VR_PRINTF_FORMAT __MINGW_PRINTF_FORMAT
#else
#define VR_PRINTF_FORMAT printf
#endif

#include "videoredir/capture.h"

#define DEFAULT_HELLO_US 1000000u
#define DEFAULT_PING_US 1000000u
#define DEFAULT_ACCEPT_US 3000000u
#define DEFAULT_PEER_US 5000000u
#define DEFAULT_GOP_FRAMES 600u
#define DEFAULT_GOP_BYTES (64u << 20)
#define DEFAULT_BACKLOG 25u

/* One access unit of the GOP cache (player mode). */
struct gop_entry {
    uint8_t *data;
    uint32_t len, flags;
    int64_t pts, dts, duration;
    bool skip; /* dropped for the current client (drop policy) */
};

#ifndef VR_VERSION_STRING
#define VR_VERSION_STRING "0.1"
#endif

struct vr_guest {
    struct vr_conn *conn;
    struct vr_guest_callbacks cb;
    void *user;
    uint32_t stream_id;
    uint64_t hello_us, ping_us, accept_us, peer_us;
    char software[VR_MAX_STRING + 1];

    enum vr_guest_state state;
    char error[256];

    /* Session. */
    struct vr_hello peer;
    bool have_peer;
    uint32_t version;
    uint64_t last_rx_us;       /* last message from the client */
    uint64_t next_hello_us;    /* HELLO state: next resend */
    uint64_t next_ping_us;
    uint32_t ping_id;
    uint64_t announce_us;      /* when STREAM_START went out */

    /* Byte accounting, in our conn's stats.bytes_out scale. */
    uint64_t conn_base;        /* bytes_out when the conn was last reset */
    uint64_t sess_base;        /* bytes_out where the client's count starts */
    uint64_t last_hello_out;   /* bytes_out just before our latest HELLO */
    uint64_t acked_abs;        /* client's report translated to our scale */
    uint64_t frames_end;       /* bytes_out right after the last frame */

    /* The stream. */
    bool has_stream;
    bool stopped;              /* STREAM_STOP sent for it */
    struct vr_stream_start start;
    uint8_t *extradata;        /* owned copy */
    struct vr_geometry geom;
    bool has_region;
    struct vr_region *region;  /* owned, allocated once (it is large) */
    bool need_key;

    /* Player mode: the GOP since the last keyframe (at key_at; before it,
     * the unsent tail of the previous GOP); entries before cursor went to
     * the current client, the rest wait for the window. */
    bool player;
    struct gop_entry *gop;
    uint32_t gop_n, gop_cap;
    uint64_t gop_bytes;
    uint32_t cursor;
    uint32_t key_at;         /* index of the GOP's keyframe */
    uint32_t resend_end;     /* entries below this index are resends */
    bool resendable;         /* gop[key_at] is a keyframe and nothing was forgotten */
    bool skip_to_key;        /* dropping until the next keyframe */
    bool resend_discont;     /* the next frame sent starts a resend */
    uint32_t gop_max_frames, gop_max_bytes, max_backlog;
    bool has_clock;
    struct vr_clock clock;

    struct vr_guest_stats stats;
};

#define logf_(g, level, ...) VR_LOGF((g)->cb.log, (g)->user, level, __VA_ARGS__)

static void emit(struct vr_guest *g, enum vr_guest_event ev, const char *detail)
{
    if (g->cb.event)
        g->cb.event(g->user, ev, detail ? detail : "");
}

static uint64_t now_us(const struct vr_guest *g)
{
    return g->cb.clock ? g->cb.clock(g->user) : vr_time_us();
}

static uint64_t bytes_out(const struct vr_guest *g)
{
    struct vr_conn_stats st;
    vr_conn_get_stats(g->conn, &st);
    return st.bytes_out;
}

static void set_state(struct vr_guest *g, enum vr_guest_state s)
{
    if (g->state != s)
        logf_(g, VR_LOG_DEBUG, "state %s -> %s", vr_guest_state_name(g->state),
              vr_guest_state_name(s));
    g->state = s;
}

static void fail(struct vr_guest *g, enum vr_guest_event ev, const char *detail, const char *fmt, ...)
    __attribute__((format(VR_PRINTF_FORMAT, 4, 5)));

static void fail(struct vr_guest *g, enum vr_guest_event ev, const char *detail, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->error, sizeof(g->error), fmt, ap);
    va_end(ap);
    logf_(g, VR_LOG_ERROR, "%s", g->error);
    set_state(g, VR_GUEST_FAILED);
    emit(g, ev, detail);
}

static int send_msg(struct vr_guest *g, const struct vr_msg *m)
{
    int ret = vr_conn_send(g->conn, m);
    if (ret < 0)
        logf_(g, VR_LOG_WARNING, "cannot queue %s: %s", vr_msg_type_name(m->type), strerror(-ret));
    return ret;
}

static void send_hello(struct vr_guest *g, bool reply)
{
    struct vr_msg m;
    vr_msg_hello(&m, VR_ROLE_GUEST, reply, VR_FEATURE_REGION | VR_FEATURE_FEEDBACK | VR_FEATURE_KEYFRAME_REQ, 1,
                 g->software);
    if (!reply)
        g->last_hello_out = bytes_out(g);
    send_msg(g, &m);
}

static void send_geometry(struct vr_guest *g)
{
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_GEOMETRY;
    m.stream_id = g->stream_id;
    m.u.geometry = g->geom;
    send_msg(g, &m);
}

static void send_region(struct vr_guest *g)
{
    /* struct vr_msg holds a whole region (4 KiB): keep it off the stack frame
     * of the hot path by sending from the heap copy. */
    struct vr_msg *m = calloc(1, sizeof(*m));
    if (!m) {
        logf_(g, VR_LOG_WARNING, "cannot send region: out of memory");
        return;
    }
    m->type = VR_MSG_REGION;
    m->stream_id = g->stream_id;
    m->u.region = *g->region;
    send_msg(g, m);
    free(m);
}

/* STREAM_START + GEOMETRY (+ REGION), then wait for ACCEPT. */
static void announce(struct vr_guest *g)
{
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_STREAM_START;
    m.stream_id = g->stream_id;
    m.u.start = g->start;
    if (send_msg(g, &m) < 0) {
        fail(g, VR_GUEST_EV_REJECTED, "", "cannot announce the stream");
        return;
    }
    send_geometry(g);
    if (g->has_region)
        send_region(g);
    g->announce_us = now_us(g);
    g->need_key = true;
    set_state(g, VR_GUEST_ANNOUNCED);
    logf_(g, VR_LOG_INFO, "announced stream %" PRIu32 ": %s %" PRIu32 "x%" PRIu32 "%s",
          g->stream_id, vr_codec_name(g->start.codec), g->start.width, g->start.height,
          (g->start.flags & VR_STREAM_ANNEXB) ? " (Annex B)" : "");
}

/* A session just came up (or the peer restarted): what to do next. */
static void session_up(struct vr_guest *g)
{
    uint64_t now = now_us(g);
    g->next_ping_us = now + g->ping_us;
    g->acked_abs = g->sess_base;
    g->frames_end = g->sess_base;
    /* Whatever went out before this client's count started is either lost
     * or already received: it is no longer in flight. */
    vr_conn_ack(g->conn, g->sess_base - g->conn_base);
    g->stats.sessions++;
    g->stats.peer_acked = 0;
    if (g->has_stream && !g->stopped)
        announce(g);
    else
        set_state(g, VR_GUEST_IDLE);
}

static void handle_hello(struct vr_guest *g, const struct vr_hello *h)
{
    bool reply = h->flags & VR_HELLO_REPLY;
    bool established = g->state == VR_GUEST_ANNOUNCED || g->state == VR_GUEST_STREAMING ||
                       g->state == VR_GUEST_IDLE;

    if (h->role != VR_ROLE_CLIENT) {
        logf_(g, VR_LOG_WARNING, "ignoring hello from a peer with role %u (not a client)", h->role);
        return;
    }
    if (established && reply)
        return; /* a late answer to one of our resends */

    uint32_t ver = h->version_max < VR_PROTO_VERSION_MAX ? h->version_max : VR_PROTO_VERSION_MAX;
    uint32_t need = h->version_min > VR_PROTO_VERSION_MIN ? h->version_min : VR_PROTO_VERSION_MIN;
    if (ver < need) {
        char d[64];
        snprintf(d, sizeof(d), "client %u..%u, guest %u..%u", h->version_min, h->version_max,
                 VR_PROTO_VERSION_MIN, VR_PROTO_VERSION_MAX);
        fail(g, VR_GUEST_EV_VERSION_MISMATCH, d, "no common protocol version (%s)", d);
        return;
    }

    g->peer = *h;
    g->have_peer = true;
    g->version = ver;
    if (reply) {
        /* The client answered a hello of ours: its count includes (at least)
         * our latest one. Counting from there errs on the generous side. */
        g->sess_base = g->last_hello_out;
    } else {
        /* The client (re)started and counts from what we send now. */
        g->sess_base = bytes_out(g);
        send_hello(g, true);
    }
    if (established) {
        logf_(g, VR_LOG_INFO, "client restarted (%s): announcing again", h->software);
        emit(g, VR_GUEST_EV_PEER_RESTART, h->software);
    } else {
        logf_(g, VR_LOG_INFO, "session up with %s (protocol %u, %u codecs)", h->software, ver,
              h->n_codecs);
        emit(g, VR_GUEST_EV_SESSION, h->software);
    }
    if (g->has_stream && !g->stopped) {
        bool can = h->n_codecs == 0;
        for (uint32_t i = 0; i < h->n_codecs && i < VR_MAX_CODECS; i++)
            can |= h->codecs[i].codec == g->start.codec;
        if (!can)
            logf_(g, VR_LOG_WARNING, "client lists no %s decoder; announcing anyway",
                  vr_codec_name(g->start.codec));
    }
    session_up(g);
}

static void player_restart(struct vr_guest *g, bool flush);
static void send_clock(struct vr_guest *g);

static void handle_feedback(struct vr_guest *g, const struct vr_feedback *fb)
{
    uint64_t out = bytes_out(g);
    uint64_t abs = g->sess_base + fb->bytes_received;
    if (abs < g->sess_base || abs > out)
        abs = out; /* over-count (hellos it got before ours counted): clamp */
    if (abs > g->acked_abs)
        g->acked_abs = abs;
    vr_conn_ack(g->conn, g->acked_abs - g->conn_base);
    g->stats.feedbacks++;
    g->stats.peer_acked = fb->bytes_received;
    g->stats.last_feedback = *fb;
    emit(g, VR_GUEST_EV_FEEDBACK, "");
}

static void on_message(void *user, const struct vr_msg *msg)
{
    struct vr_guest *g = user;
    if (g->state == VR_GUEST_CLOSED || g->state == VR_GUEST_FAILED)
        return;
    if (msg->type == VR_MSG_HELLO) {
        g->last_rx_us = now_us(g);
        handle_hello(g, &msg->u.hello);
        return;
    }
    if (g->state == VR_GUEST_HELLO) {
        /* Before the client's hello nothing else makes sense; a leftover
         * from an earlier session must not move us. */
        logf_(g, VR_LOG_DEBUG, "ignoring %s before hello", vr_msg_type_name(msg->type));
        return;
    }
    g->last_rx_us = now_us(g);

    bool ours = g->has_stream && msg->stream_id == g->stream_id;
    switch (msg->type) {
    case VR_MSG_PING: {
        struct vr_msg m;
        memset(&m, 0, sizeof(m));
        m.type = VR_MSG_PONG;
        m.u.pong.id = msg->u.ping.id;
        m.u.pong.ping_time_us = msg->u.ping.time_us;
        m.u.pong.time_us = now_us(g);
        send_msg(g, &m);
        break;
    }
    case VR_MSG_PONG: {
        uint64_t now = now_us(g);
        g->stats.pongs_received++;
        if (msg->u.pong.ping_time_us <= now && now - msg->u.pong.ping_time_us < UINT32_MAX)
            g->stats.rtt_us = (uint32_t)(now - msg->u.pong.ping_time_us);
        break;
    }
    case VR_MSG_ACCEPT:
        if (!ours || g->state != VR_GUEST_ANNOUNCED)
            break;
        logf_(g, VR_LOG_INFO, "stream %" PRIu32 " accepted, decoder %s%s", g->stream_id,
              msg->u.accept.decoder, (msg->u.accept.flags & VR_CODEC_CAP_HW) ? " (hardware)" : "");
        set_state(g, VR_GUEST_STREAMING);
        send_clock(g);
        player_restart(g, false);
        emit(g, VR_GUEST_EV_ACCEPTED, msg->u.accept.decoder);
        break;
    case VR_MSG_REJECT:
        if (!ours || (g->state != VR_GUEST_ANNOUNCED && g->state != VR_GUEST_STREAMING))
            break;
        fail(g, VR_GUEST_EV_REJECTED, msg->u.reject.message, "client rejected the stream (%s): %s",
             vr_reason_name(msg->u.reject.reason), msg->u.reject.message);
        break;
    case VR_MSG_FEEDBACK:
        if (ours)
            handle_feedback(g, &msg->u.feedback);
        break;
    case VR_MSG_KEYFRAME_REQUEST:
        if (!ours)
            break;
        g->stats.keyframe_requests++;
        /* In player mode the cached GOP answers it; otherwise the next
         * keyframe of the source does. */
        logf_(g, VR_LOG_INFO, "client asked for a keyframe (%s)",
              vr_reason_name(msg->u.keyframe_request.reason));
        if (g->state == VR_GUEST_STREAMING)
            player_restart(g, true);
        emit(g, VR_GUEST_EV_KEYFRAME_REQUEST, vr_reason_name(msg->u.keyframe_request.reason));
        break;
    default:
        logf_(g, VR_LOG_DEBUG, "ignoring %s from the client", vr_msg_type_name(msg->type));
        break;
    }
}

static void on_gap(void *user, uint32_t stream_id, uint32_t missing)
{
    (void)user;
    (void)stream_id;
    (void)missing; /* the client sends no frames */
}

static void on_error(void *user, int err, uint16_t type, uint32_t stream_id)
{
    struct vr_guest *g = user;
    logf_(g, err == -ENOMSG ? VR_LOG_DEBUG : VR_LOG_WARNING,
          "skipped input: %s (type %s, stream %" PRIu32 ")", strerror(-err), vr_msg_type_name(type),
          stream_id);
}

int vr_guest_create(const struct vr_guest_config *cfg, const struct vr_guest_callbacks *cb,
                    void *user, struct vr_guest **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    struct vr_guest_config def;
    memset(&def, 0, sizeof(def));
    if (!cfg)
        cfg = &def;
    if (cfg->stream_id > VR_MAX_STREAM_ID)
        return -EINVAL;

    struct vr_guest *g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->region = calloc(1, sizeof(*g->region));
    if (!g->region) {
        free(g);
        return -ENOMEM;
    }
    if (cb)
        g->cb = *cb;
    g->user = user;
    g->stream_id = cfg->stream_id ? cfg->stream_id : 1;
    g->hello_us = cfg->hello_interval_us ? cfg->hello_interval_us : DEFAULT_HELLO_US;
    g->ping_us = cfg->ping_interval_us ? cfg->ping_interval_us : DEFAULT_PING_US;
    g->accept_us = cfg->accept_timeout_us ? cfg->accept_timeout_us : DEFAULT_ACCEPT_US;
    g->peer_us = cfg->peer_timeout_us ? cfg->peer_timeout_us : DEFAULT_PEER_US;
    snprintf(g->software, sizeof(g->software), "%s",
             cfg->software ? cfg->software : "videoredir-capture " VR_VERSION_STRING);
    g->gop_max_frames = cfg->gop_max_frames ? cfg->gop_max_frames : DEFAULT_GOP_FRAMES;
    g->gop_max_bytes = cfg->gop_max_bytes ? cfg->gop_max_bytes : DEFAULT_GOP_BYTES;
    g->max_backlog = cfg->max_backlog ? cfg->max_backlog : DEFAULT_BACKLOG;
    g->skip_to_key = true;

    struct vr_conn_callbacks ccb = { .on_message = on_message, .on_gap = on_gap, .on_error = on_error };
    int ret = vr_conn_create(&cfg->conn, &ccb, g, &g->conn);
    if (ret < 0) {
        free(g->region);
        free(g);
        return ret;
    }
    g->state = VR_GUEST_CLOSED;
    *out = g;
    return 0;
}

void vr_guest_destroy(struct vr_guest *g)
{
    if (!g)
        return;
    vr_conn_destroy(g->conn);
    for (uint32_t i = 0; i < g->gop_n; i++)
        free(g->gop[i].data);
    free(g->gop);
    free(g->extradata);
    free(g->region);
    free(g);
}

struct vr_conn *vr_guest_conn(struct vr_guest *g)
{
    return g->conn;
}

void vr_guest_channel_open(struct vr_guest *g)
{
    if (g->state == VR_GUEST_FAILED)
        return;
    /* Anything queued for an earlier channel is stale. */
    vr_conn_reset(g->conn);
    g->conn_base = bytes_out(g);
    g->sess_base = g->conn_base;
    g->acked_abs = g->conn_base;
    g->frames_end = g->conn_base;
    g->have_peer = false;
    set_state(g, VR_GUEST_HELLO);
    send_hello(g, false);
    g->next_hello_us = now_us(g) + g->hello_us;
}

void vr_guest_retry(struct vr_guest *g)
{
    if (g->state != VR_GUEST_FAILED)
        return;
    g->error[0] = '\0';
    g->have_peer = false;
    set_state(g, VR_GUEST_CLOSED);
}

void vr_guest_channel_closed(struct vr_guest *g)
{
    if (g->state == VR_GUEST_FAILED)
        return;
    g->have_peer = false;
    set_state(g, VR_GUEST_CLOSED);
}

static bool valid_geometry(const struct vr_geometry *geom)
{
    const struct vr_rect *r[2] = { &geom->window, &geom->content };
    for (int i = 0; i < 2; i++)
        if (r[i]->x < -VR_MAX_COORD || r[i]->x > VR_MAX_COORD || r[i]->y < -VR_MAX_COORD ||
            r[i]->y > VR_MAX_COORD || r[i]->w > VR_MAX_DIMENSION || r[i]->h > VR_MAX_DIMENSION)
            return false;
    return true;
}

int vr_guest_set_geometry(struct vr_guest *g, const struct vr_geometry *geom)
{
    if (!geom || !valid_geometry(geom))
        return -EINVAL;
    g->geom = *geom;
    if (g->has_stream && (g->state == VR_GUEST_ANNOUNCED || g->state == VR_GUEST_STREAMING))
        send_geometry(g);
    return 0;
}

int vr_guest_set_region(struct vr_guest *g, const struct vr_region *region)
{
    if (region && region->n_rects > VR_MAX_RECTS)
        return -E2BIG;
    bool live = g->has_stream && (g->state == VR_GUEST_ANNOUNCED || g->state == VR_GUEST_STREAMING);
    if (region) {
        *g->region = *region;
        g->has_region = true;
    } else {
        /* Back to "all visible": a region equal to the content rectangle
         * says so to a client that already has one. */
        g->region->n_rects = 1;
        g->region->rects[0] = g->geom.content;
        g->has_region = g->geom.content.w > 0 && g->geom.content.h > 0;
    }
    if (live && g->has_region)
        send_region(g);
    return 0;
}

int vr_guest_set_stream(struct vr_guest *g, const struct vr_stream_start *start,
                        const struct vr_geometry *geom, const struct vr_region *region)
{
    if (!start || !geom)
        return -EINVAL;
    if (g->has_stream && !g->stopped)
        return -EBUSY;
    if (start->extradata_len > VR_MAX_EXTRADATA)
        return -E2BIG;
    if (start->extradata_len && !start->extradata)
        return -EINVAL;
    if (!valid_geometry(geom) || (region && region->n_rects > VR_MAX_RECTS))
        return -EINVAL;
    /* Validate with the encoder's own rules before taking it. */
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_STREAM_START;
    m.stream_id = g->stream_id;
    m.u.start = *start;
    long sz = vr_msg_encoded_size(&m);
    if (sz < 0)
        return (int)sz;

    uint8_t *copy = NULL;
    if (start->extradata_len) {
        copy = malloc(start->extradata_len);
        if (!copy)
            return -ENOMEM;
        memcpy(copy, start->extradata, start->extradata_len);
    }
    free(g->extradata);
    g->extradata = copy;
    g->start = *start;
    g->start.extradata = copy;
    g->geom = *geom;
    g->has_region = region != NULL;
    if (region)
        *g->region = *region;
    g->has_stream = true;
    g->stopped = false;
    if (g->state == VR_GUEST_IDLE)
        announce(g);
    return 0;
}

static size_t frame_msg_size(const struct vr_guest *g, uint32_t len)
{
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_FRAME;
    m.stream_id = g->stream_id;
    m.u.frame.data_len = len;
    static const uint8_t one = 0;
    m.u.frame.data = &one; /* size only depends on data_len */
    m.u.frame.pts = m.u.frame.dts = INT64_MIN;
    long sz = vr_msg_encoded_size(&m);
    return sz > 0 ? (size_t)sz : (size_t)len + VR_HEADER_SIZE;
}

bool vr_guest_can_send(const struct vr_guest *g, uint32_t data_len)
{
    if (g->state != VR_GUEST_STREAMING)
        return false;
    return vr_conn_window_allows(g->conn, g->stream_id, frame_msg_size(g, data_len));
}

int vr_guest_send_frame(struct vr_guest *g, const struct vr_au *au, uint32_t extra_flags)
{
    if (!au || !au->data || au->len == 0 || au->len > VR_MAX_FRAME_DATA)
        return -EINVAL;
    if (g->state != VR_GUEST_STREAMING)
        return -EAGAIN;
    uint32_t flags = au->flags | extra_flags;
    if (g->need_key && !(flags & VR_FRAME_KEY)) {
        g->stats.frames_skipped++;
        return 0;
    }
    if (!vr_guest_can_send(g, au->len))
        return -EAGAIN;
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_FRAME;
    m.stream_id = g->stream_id;
    m.u.frame.flags = flags;
    m.u.frame.pts = au->pts;
    m.u.frame.dts = au->dts;
    m.u.frame.duration = au->duration;
    m.u.frame.send_time_us = now_us(g);
    m.u.frame.data_len = au->len;
    m.u.frame.data = au->data;
    int ret = send_msg(g, &m);
    if (ret < 0)
        return ret;
    g->need_key = false;
    g->frames_end = bytes_out(g);
    uint64_t fl = vr_conn_in_flight_us(g->conn, g->stream_id);
    if (fl > g->stats.in_flight_max_us)
        g->stats.in_flight_max_us = fl;
    g->stats.frames_sent++;
    g->stats.es_bytes += au->len;
    return 1;
}

int vr_guest_stop(struct vr_guest *g, uint32_t reason)
{
    if (!g->has_stream || g->stopped)
        return -ENOENT;
    g->stopped = true;
    if (g->state == VR_GUEST_ANNOUNCED || g->state == VR_GUEST_STREAMING) {
        struct vr_msg m;
        memset(&m, 0, sizeof(m));
        m.type = VR_MSG_STREAM_STOP;
        m.stream_id = g->stream_id;
        m.u.stop.reason = reason;
        int ret = send_msg(g, &m);
        set_state(g, VR_GUEST_IDLE);
        if (ret < 0)
            return ret;
        logf_(g, VR_LOG_INFO, "stream %" PRIu32 " stopped (%s)", g->stream_id, vr_reason_name(reason));
    }
    return 0;
}

bool vr_guest_output_empty(const struct vr_guest *g)
{
    return vr_conn_out_queued(g->conn) == 0;
}

bool vr_guest_drained(const struct vr_guest *g)
{
    return vr_guest_output_empty(g) && g->acked_abs >= g->frames_end;
}

void vr_guest_tick(struct vr_guest *g)
{
    uint64_t now = now_us(g);
    switch (g->state) {
    case VR_GUEST_HELLO:
        if (now >= g->next_hello_us) {
            send_hello(g, false);
            g->next_hello_us = now + g->hello_us;
        }
        return;
    case VR_GUEST_ANNOUNCED:
    case VR_GUEST_STREAMING:
    case VR_GUEST_IDLE:
        break;
    default:
        return;
    }
    if (now - g->last_rx_us >= g->peer_us) {
        logf_(g, VR_LOG_WARNING, "client silent for %" PRIu64 " ms: treating it as gone",
              (now - g->last_rx_us) / 1000);
        emit(g, VR_GUEST_EV_PEER_GONE, "");
        /* Stop streaming and go back to waiting for a hello on the same
         * channel; the stream is announced again to the next client. */
        g->have_peer = false;
        set_state(g, VR_GUEST_HELLO);
        send_hello(g, false);
        g->next_hello_us = now + g->hello_us;
        return;
    }
    if (g->state == VR_GUEST_ANNOUNCED && now - g->announce_us >= g->accept_us) {
        fail(g, VR_GUEST_EV_ACCEPT_TIMEOUT, "",
             "client did not answer the stream announcement within %" PRIu64 " ms",
             g->accept_us / 1000);
        return;
    }
    if (now >= g->next_ping_us) {
        struct vr_msg m;
        memset(&m, 0, sizeof(m));
        m.type = VR_MSG_PING;
        m.u.ping.id = ++g->ping_id;
        m.u.ping.time_us = now;
        if (send_msg(g, &m) == 0)
            g->stats.pings_sent++;
        g->next_ping_us = now + g->ping_us;
    }
}

uint64_t vr_guest_next_timeout(const struct vr_guest *g)
{
    uint64_t now = now_us(g), next = UINT64_MAX;
    switch (g->state) {
    case VR_GUEST_HELLO:
        next = g->next_hello_us;
        break;
    case VR_GUEST_ANNOUNCED:
        next = g->announce_us + g->accept_us;
        /* fall through */
    case VR_GUEST_STREAMING:
    case VR_GUEST_IDLE:
        if (g->next_ping_us < next)
            next = g->next_ping_us;
        if (g->last_rx_us + g->peer_us < next)
            next = g->last_rx_us + g->peer_us;
        break;
    default:
        return UINT64_MAX;
    }
    return next > now ? next - now : 0;
}

enum vr_guest_state vr_guest_get_state(const struct vr_guest *g)
{
    return g->state;
}

const char *vr_guest_state_name(enum vr_guest_state s)
{
    switch (s) {
    case VR_GUEST_CLOSED: return "closed";
    case VR_GUEST_HELLO: return "hello";
    case VR_GUEST_ANNOUNCED: return "announced";
    case VR_GUEST_STREAMING: return "streaming";
    case VR_GUEST_IDLE: return "idle";
    case VR_GUEST_FAILED: return "failed";
    }
    return "unknown";
}

const char *vr_guest_error(const struct vr_guest *g)
{
    return g->error;
}

const struct vr_hello *vr_guest_peer_hello(const struct vr_guest *g)
{
    return g->have_peer ? &g->peer : NULL;
}

void vr_guest_get_stats(const struct vr_guest *g, struct vr_guest_stats *st)
{
    *st = g->stats;
    st->in_flight_us = vr_conn_in_flight_us(g->conn, g->stream_id);
    st->cache_frames = g->gop_n;
    st->cache_bytes = (uint32_t)g->gop_bytes;
    st->backlog = 0;
    for (uint32_t i = g->cursor; i < g->gop_n; i++)
        st->backlog += !g->gop[i].skip;
}

/* ---------------------------------------------------------------------- */
/* Player mode: GOP cache, backlog and drop policy.                        */

static void gop_clear(struct vr_guest *g)
{
    for (uint32_t i = 0; i < g->gop_n; i++)
        free(g->gop[i].data);
    g->gop_n = g->cursor = g->resend_end = g->key_at = 0;
    g->gop_bytes = 0;
}

/* Forgets the entries before index n (sent, or not wanted any more). */
static void gop_shift(struct vr_guest *g, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        g->gop_bytes -= g->gop[i].len;
        free(g->gop[i].data);
    }
    memmove(g->gop, g->gop + n, (g->gop_n - n) * sizeof(*g->gop));
    g->gop_n -= n;
    g->cursor -= n < g->cursor ? n : g->cursor;
    g->resend_end -= n < g->resend_end ? n : g->resend_end;
    g->key_at -= n < g->key_at ? n : g->key_at;
}

/* Unsent frames the current client will not get: counted, skipped. */
static void drop_backlog(struct vr_guest *g)
{
    for (uint32_t i = g->cursor; i < g->gop_n && g->state == VR_GUEST_STREAMING; i++)
        if (!g->gop[i].skip)
            g->stats.frames_dropped++;
    g->cursor = g->gop_n;
}

/* The GOP is too long to keep: forget what was sent; it can no longer be
 * replayed from its keyframe. */
static void gop_forget_sent(struct vr_guest *g)
{
    bool key_sent = g->cursor > g->key_at;
    if (g->resendable && key_sent) {
        g->stats.gop_overflows++;
        logf_(g, VR_LOG_INFO, "GOP longer than %" PRIu32 " frames / %" PRIu32 " bytes: not kept",
              g->gop_max_frames, g->gop_max_bytes);
    }
    gop_shift(g, g->cursor);
    g->resend_end = 0;
    if (key_sent)
        g->resendable = false;
}

static void send_clock(struct vr_guest *g)
{
    if (!g->has_clock || g->state != VR_GUEST_STREAMING)
        return;
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_CLOCK;
    m.stream_id = g->stream_id;
    m.u.clock = g->clock;
    send_msg(g, &m);
}

static void send_flush(struct vr_guest *g)
{
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_FLUSH;
    m.stream_id = g->stream_id;
    send_msg(g, &m);
}

/* A client starts (ACCEPT) or restarts (keyframe request, flush first):
 * from the cached keyframe if there is one, else from the next keyframe. */
static void player_restart(struct vr_guest *g, bool flush)
{
    if (!g->player)
        return;
    if (g->resendable && g->gop_n) {
        /* The old GOP's tail that still waited: the restart needs none of it. */
        for (uint32_t i = g->cursor; i < g->key_at; i++)
            if (!g->gop[i].skip && g->state == VR_GUEST_STREAMING)
                g->stats.frames_dropped++;
        gop_shift(g, g->key_at);
        if (flush) {
            send_flush(g);
            send_clock(g);
            g->need_key = true;
            g->resend_discont = true;
        }
        if (g->cursor > 0) {
            g->stats.gop_resends++;
            logf_(g, VR_LOG_INFO, "sending the cached GOP again (%" PRIu32 " frames)", g->gop_n);
        }
        g->resend_end = g->cursor;
        g->cursor = 0;
        for (uint32_t i = 0; i < g->gop_n; i++)
            g->gop[i].skip = false;
        g->skip_to_key = false;
    } else {
        drop_backlog(g);
        g->skip_to_key = true;
    }
    vr_guest_pump(g);
}

int vr_guest_pump(struct vr_guest *g)
{
    int sent = 0;
    if (!g->player || g->state != VR_GUEST_STREAMING)
        return 0;
    while (g->cursor < g->gop_n) {
        struct gop_entry *e = &g->gop[g->cursor];
        if (e->flags & VR_FRAME_KEY)
            g->skip_to_key = false;
        if (e->skip || g->skip_to_key) {
            if (!e->skip)
                g->stats.frames_dropped++;
            g->cursor++;
            continue;
        }
        if (!vr_guest_can_send(g, e->len))
            break;
        struct vr_au au = { e->data, e->len, e->flags, e->pts, e->dts, e->duration };
        int r = vr_guest_send_frame(g, &au, g->resend_discont ? VR_FRAME_DISCONT : 0);
        if (r < 0)
            break;
        if (r == 1) {
            sent++;
            g->resend_discont = false;
            if (g->cursor < g->resend_end)
                g->stats.frames_resent++;
        }
        g->cursor++;
    }
    return sent;
}

/* Too many frames wait: drop what no other frame needs, then the rest of
 * the GOP (the next keyframe starts clean). */
static void apply_drop_policy(struct vr_guest *g)
{
    if (g->state != VR_GUEST_STREAMING || g->gop_n - g->cursor <= g->max_backlog)
        return;
    uint32_t waiting = 0;
    for (uint32_t i = g->cursor; i < g->gop_n; i++) {
        struct gop_entry *e = &g->gop[i];
        if (!e->skip && (e->flags & VR_FRAME_DROPPABLE) && !(e->flags & VR_FRAME_KEY)) {
            e->skip = true;
            g->stats.frames_dropped++;
        }
        waiting += !e->skip;
    }
    if (waiting <= g->max_backlog) {
        logf_(g, VR_LOG_DEBUG, "client behind: dropped droppable frames, %" PRIu32 " waiting", waiting);
        return;
    }
    /* A later keyframe that waits starts clean: drop only what comes
     * before it. Otherwise the whole rest of this GOP goes, its keyframe
     * too, since what follows it until the next one would still be late. */
    uint32_t key = g->gop_n;
    for (uint32_t i = g->cursor + 1; i < g->gop_n; i++)
        if (g->gop[i].flags & VR_FRAME_KEY)
            key = i;
    for (uint32_t i = g->cursor; i < key; i++)
        if (!g->gop[i].skip) {
            g->gop[i].skip = true;
            g->stats.frames_dropped++;
        }
    if (key == g->gop_n) {
        g->skip_to_key = true;
        g->cursor = g->gop_n;
    }
    logf_(g, VR_LOG_INFO, "client behind: %" PRIu32 " frames waiting, dropped up to the next keyframe",
          waiting);
}

int vr_guest_push_frame(struct vr_guest *g, const struct vr_au *au, uint32_t extra_flags)
{
    if (!au || !au->data || au->len == 0 || au->len > VR_MAX_FRAME_DATA)
        return -EINVAL;
    g->player = true;
    uint32_t flags = (au->flags | extra_flags) & (VR_FRAME_KEY | VR_FRAME_DISCONT | VR_FRAME_DROPPABLE);
    bool key = flags & VR_FRAME_KEY;
    bool streaming = g->state == VR_GUEST_STREAMING;
    if (key) {
        if (streaming && g->cursor < g->gop_n) {
            /* The old GOP's tail waits for the window: it goes out before
             * this keyframe (a client that is behind loses it through the
             * drop policy below, not here). */
            gop_shift(g, g->cursor);
            g->key_at = g->gop_n;
        } else {
            drop_backlog(g);
            gop_clear(g);
        }
        g->resendable = true;
        g->skip_to_key = false;
    } else if (!g->resendable && !streaming) {
        /* No keyframe to start from and no client: useless to keep. */
        g->stats.frames_skipped++;
        return 0;
    }
    if (g->gop_n + 1 > g->gop_max_frames || g->gop_bytes + au->len > g->gop_max_bytes) {
        gop_forget_sent(g);
        if (g->gop_n + 1 > g->gop_max_frames || g->gop_bytes + au->len > g->gop_max_bytes) {
            /* Even the unsent frames exceed the cap: give them up. */
            drop_backlog(g);
            gop_clear(g);
            g->skip_to_key = true;
            if (!key) {
                g->stats.frames_dropped += streaming;
                return 0;
            }
        }
    }
    if (g->gop_n == g->gop_cap) {
        uint32_t cap = g->gop_cap ? g->gop_cap * 2 : 64;
        if (cap > g->gop_max_frames)
            cap = g->gop_max_frames;
        struct gop_entry *n = realloc(g->gop, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        g->gop = n;
        g->gop_cap = cap;
    }
    uint8_t *copy = malloc(au->len);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, au->data, au->len);
    g->gop[g->gop_n++] = (struct gop_entry){ copy, au->len, flags, au->pts, au->dts, au->duration, false };
    g->gop_bytes += au->len;
    vr_guest_pump(g);
    apply_drop_policy(g);
    return 0;
}

int vr_guest_flush(struct vr_guest *g)
{
    if (!g->has_stream)
        return -ENOENT;
    drop_backlog(g);
    gop_clear(g);
    g->resendable = false;
    g->skip_to_key = true;
    g->has_clock = false;
    g->need_key = true;
    if (g->state == VR_GUEST_STREAMING)
        send_flush(g);
    return 0;
}

int vr_guest_set_clock(struct vr_guest *g, int64_t pts, uint64_t time_us, uint32_t rate_q16)
{
    if (pts == INT64_MIN)
        return -EINVAL;
    g->clock = (struct vr_clock){ pts, time_us, rate_q16, 0 };
    g->has_clock = true;
    send_clock(g);
    return 0;
}
