/*
 * Guest daemon core (guestd.h): one port session toward the SPICE client,
 * one "client" session toward each local player, stream ids renumbered.
 *
 * Byte accounting. The client reports in FEEDBACK how many bytes of the
 * port session it has handled; a player's vr_guest expects the same count
 * for its own bytes. So for every message taken from a player we remember
 * where it ends in the player's byte count and where the bytes it caused on
 * the port end (for a message not forwarded: the port's count at the time,
 * reached as soon as what was sent before it is). A client report that
 * reaches a port offset acknowledges the player's bytes up to the matching
 * player offset. The list is bounded: when full, the newest entry absorbs
 * the next one (acknowledgements get coarser, never early).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "videoredir/guestd.h"
#include "videoredir/transport.h"

#define DEFAULT_HELLO_US 1000000u
#define DEFAULT_PING_US 1000000u
#define DEFAULT_PEER_US 5000000u
#define ACK_RING 512u
#define MAX_MAPS 16u            /* stream ids a player may have used at once */
#define PLAYER_IN_MAX ((size_t)VR_HEADER_SIZE + VR_MAX_PAYLOAD)
#define MAX_BAD_MSGS 64u        /* malformed messages before a player is closed */

#ifndef VR_VERSION_STRING
#define VR_VERSION_STRING "0"
#endif

struct outq {
    uint8_t *buf;
    size_t start, len, cap; /* pending bytes are buf[start .. start+len) */
};

struct ack {
    uint64_t port_end, player_end;
};

struct smap {
    bool used, live;
    uint32_t local, global;
};

enum pstate { P_NEW = 0, P_GREETED, P_UP };

struct player {
    bool used, doomed;
    int doom_err;          /* what vr_guestd_player_feed reports once doomed */
    uint32_t id, uid;
    enum pstate state;
    struct vr_reassembler in;
    struct outq out;
    uint64_t rx;           /* bytes taken from the player */
    uint64_t rx_base;      /* where its session count starts */
    uint64_t acked;        /* its bytes the client has handled */
    struct ack ring[ACK_RING];
    uint32_t ring_head, ring_n;
    struct smap maps[MAX_MAPS];
    uint32_t bad_msgs;
};

struct vr_guestd {
    struct vr_guestd_config cfg;
    struct vr_guestd_callbacks cb;
    void *user;
    char software[VR_MAX_STRING + 1];
    uint64_t hello_us, ping_us, peer_us;

    /* Port. */
    bool port_open, up;
    struct vr_reassembler port_in;
    struct outq port_out;
    uint64_t port_total;      /* bytes ever queued for the port */
    uint64_t last_hello_out;  /* port_total just before our latest HELLO */
    uint64_t sess_base;       /* where the client's count starts in port_total */
    uint64_t next_hello_us, next_ping_us, last_rx_us;
    uint32_t ping_id;
    struct vr_hello peer;     /* the client's hello */
    uint32_t next_global;

    struct player *players;   /* cfg.max_players slots */
    uint32_t next_player_id;
    uint8_t scratch[4096 + 64]; /* encoded small messages */
    struct vr_guestd_stats st;
};

#define dlog(d, level, ...) VR_LOGF((d)->cb.log, (d)->user, level, __VA_ARGS__)

static uint64_t now_us(struct vr_guestd *d)
{
    return d->cb.clock ? d->cb.clock(d->user) : vr_time_us();
}

/* ---------------------------------------------------------------------- */
/* Output queues.                                                           */

static int outq_append(struct outq *q, const uint8_t *data, size_t n)
{
    if (q->start > 0 && (q->cap - q->start - q->len < n)) {
        memmove(q->buf, q->buf + q->start, q->len);
        q->start = 0;
    }
    if (q->cap - q->start - q->len < n) {
        size_t ncap = q->cap ? q->cap : 4096;
        while (ncap - q->len < n) {
            if (ncap > SIZE_MAX / 2)
                return -ENOMEM;
            ncap *= 2;
        }
        uint8_t *nb = realloc(q->buf, ncap);
        if (!nb)
            return -ENOMEM;
        q->buf = nb;
        q->cap = ncap;
    }
    memcpy(q->buf + q->start + q->len, data, n);
    q->len += n;
    return 0;
}

static void outq_consume(struct outq *q, size_t n)
{
    if (n > q->len)
        n = q->len;
    q->start += n;
    q->len -= n;
    if (q->len == 0)
        q->start = 0;
    /* Give back a large buffer once it drained (a big frame went through). */
    if (q->len == 0 && q->cap > (1u << 20)) {
        free(q->buf);
        q->buf = NULL;
        q->cap = 0;
    }
}

static void outq_clear(struct outq *q)
{
    free(q->buf);
    memset(q, 0, sizeof(*q));
}

/* ---------------------------------------------------------------------- */
/* Sending our own messages.                                                */

static int send_port(struct vr_guestd *d, const struct vr_msg *m)
{
    long n = vr_msg_encode(m, d->scratch, sizeof(d->scratch));
    if (n < 0)
        return (int)n;
    int ret = outq_append(&d->port_out, d->scratch, (size_t)n);
    if (ret == 0)
        d->port_total += (uint64_t)n;
    return ret;
}

static void doom(struct vr_guestd *d, struct player *p, int err, const char *why)
{
    if (!p->doomed) {
        dlog(d, err == -EPIPE ? VR_GUESTD_LOG_INFO : VR_GUESTD_LOG_WARNING,
             "player %" PRIu32 " (uid %" PRIu32 "): closing: %s", p->id, p->uid, why);
        p->doom_err = err;
    }
    p->doomed = true;
}

static int send_player(struct vr_guestd *d, struct player *p, const struct vr_msg *m)
{
    if (p->doomed)
        return -EPIPE;
    long n = vr_msg_encode(m, d->scratch, sizeof(d->scratch));
    if (n < 0)
        return (int)n;
    if (p->out.len + (size_t)n > d->cfg.player_out_max) {
        d->st.players_closed_bad++;
        doom(d, p, -ENOBUFS, "does not read what the daemon sends");
        return -ENOBUFS;
    }
    return outq_append(&p->out, d->scratch, (size_t)n);
}

static void port_hello(struct vr_guestd *d, bool reply)
{
    struct vr_msg m;
    vr_msg_hello(&m, VR_ROLE_GUEST, reply, VR_FEATURE_REGION | VR_FEATURE_FEEDBACK | VR_FEATURE_KEYFRAME_REQ,
                 d->cfg.max_streams, d->software);
    if (!reply)
        d->last_hello_out = d->port_total;
    send_port(d, &m);
}

/* The client's capabilities, as the client of a player. */
static void player_hello(struct vr_guestd *d, struct player *p, bool reply)
{
    struct vr_msg m;
    char software[VR_MAX_STRING + 1];
    snprintf(software, sizeof(software), "%.100s via guestd", d->peer.software);
    uint32_t ms = d->peer.max_streams < d->cfg.max_streams_per_player ? d->peer.max_streams
                                                                        : d->cfg.max_streams_per_player;
    vr_msg_hello(&m, VR_ROLE_CLIENT, reply, d->peer.features, ms, software);
    m.u.hello.n_codecs = d->peer.n_codecs;
    memcpy(m.u.hello.codecs, d->peer.codecs, sizeof(m.u.hello.codecs));
    send_player(d, p, &m);
}

/* ---------------------------------------------------------------------- */
/* Players and streams.                                                     */

static struct player *find_player(const struct vr_guestd *d, uint32_t id)
{
    if (!id)
        return NULL;
    for (uint32_t i = 0; i < d->cfg.max_players; i++)
        if (d->players[i].used && d->players[i].id == id)
            return &d->players[i];
    return NULL;
}

static uint32_t live_streams(const struct vr_guestd *d, const struct player *only, bool by_uid,
                             uint32_t uid)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->cfg.max_players; i++) {
        const struct player *p = &d->players[i];
        if (!p->used || (only && p != only) || (by_uid && p->uid != uid))
            continue;
        for (uint32_t k = 0; k < MAX_MAPS; k++)
            n += p->maps[k].used && p->maps[k].live;
    }
    return n;
}

static bool find_global(struct vr_guestd *d, uint32_t global, struct player **pp, struct smap **mp)
{
    for (uint32_t i = 0; i < d->cfg.max_players; i++) {
        struct player *p = &d->players[i];
        if (!p->used)
            continue;
        for (uint32_t k = 0; k < MAX_MAPS; k++)
            if (p->maps[k].used && p->maps[k].global == global) {
                *pp = p;
                *mp = &p->maps[k];
                return true;
            }
    }
    return false;
}

static struct smap *find_local(struct player *p, uint32_t local)
{
    for (uint32_t k = 0; k < MAX_MAPS; k++)
        if (p->maps[k].used && p->maps[k].local == local)
            return &p->maps[k];
    return NULL;
}

static void stop_on_client(struct vr_guestd *d, uint32_t global)
{
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_STREAM_STOP;
    m.stream_id = global;
    m.u.stop.reason = VR_REASON_USER;
    send_port(d, &m);
}

/* Forgets the player's session: its live streams end on the client (when a
 * session is up), its acknowledgements restart. */
static void player_reset(struct vr_guestd *d, struct player *p, bool tell_client)
{
    for (uint32_t k = 0; k < MAX_MAPS; k++) {
        if (p->maps[k].used && p->maps[k].live && tell_client && d->up)
            stop_on_client(d, p->maps[k].global);
        p->maps[k].used = p->maps[k].live = false;
    }
    p->ring_head = p->ring_n = 0;
    p->acked = p->rx_base = p->rx;
}

static void ack_push(struct player *p, uint64_t port_end, uint64_t player_end)
{
    if (p->ring_n > 0) {
        struct ack *last = &p->ring[(p->ring_head + p->ring_n - 1) % ACK_RING];
        if (last->port_end == port_end || p->ring_n == ACK_RING) {
            last->port_end = port_end;
            last->player_end = player_end;
            return;
        }
    }
    p->ring[(p->ring_head + p->ring_n) % ACK_RING] = (struct ack){ port_end, player_end };
    p->ring_n++;
}

/* The client has handled the port's bytes up to port_abs. */
static uint64_t ack_advance(struct player *p, uint64_t port_abs)
{
    while (p->ring_n > 0 && p->ring[p->ring_head].port_end <= port_abs) {
        if (p->ring[p->ring_head].player_end > p->acked)
            p->acked = p->ring[p->ring_head].player_end;
        p->ring_head = (p->ring_head + 1) % ACK_RING;
        p->ring_n--;
    }
    return p->acked > p->rx_base ? p->acked - p->rx_base : 0;
}

static void reject_local(struct vr_guestd *d, struct player *p, uint32_t local, uint32_t reason,
                         const char *why)
{
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_REJECT;
    m.stream_id = local;
    m.u.reject.reason = reason;
    snprintf(m.u.reject.message, sizeof(m.u.reject.message), "%s", why);
    send_player(d, p, &m);
}

static uint32_t alloc_global(struct vr_guestd *d)
{
    struct player *p;
    struct smap *m;
    for (;;) {
        uint32_t g = d->next_global++;
        if (d->next_global == 0 || d->next_global > VR_MAX_STREAM_ID)
            d->next_global = 1;
        if (g != 0 && g <= VR_MAX_STREAM_ID && !find_global(d, g, &p, &m))
            return g;
    }
}

/* A STREAM_START of a player: its id on the port, or 0 when refused. */
static uint32_t start_stream(struct vr_guestd *d, struct player *p, uint32_t local)
{
    struct smap *m = find_local(p, local);
    if (!(m && m->live)) {
        const char *why = NULL;
        uint32_t total_cap = d->cfg.max_streams < d->peer.max_streams ? d->cfg.max_streams : d->peer.max_streams;
        if (live_streams(d, p, false, 0) >= d->cfg.max_streams_per_player)
            why = "too many streams for this player";
        else if (live_streams(d, NULL, true, p->uid) >= d->cfg.max_streams_per_user)
            why = "too many streams for this user";
        else if (live_streams(d, NULL, false, 0) >= total_cap)
            why = "too many streams in this session";
        if (why) {
            d->st.streams_refused++;
            dlog(d, VR_GUESTD_LOG_WARNING, "player %" PRIu32 ": stream %" PRIu32 " refused: %s", p->id,
                 local, why);
            reject_local(d, p, local, VR_REASON_TOO_MANY, why);
            return 0;
        }
    }
    if (!m) {
        for (uint32_t k = 0; k < MAX_MAPS && !m; k++)
            if (!p->maps[k].used)
                m = &p->maps[k];
        for (uint32_t k = 0; k < MAX_MAPS && !m; k++)
            if (!p->maps[k].live)
                m = &p->maps[k]; /* forget an ended stream's id */
        if (!m)
            return 0; /* cannot happen: fewer live than MAX_MAPS */
        m->used = true;
        m->local = local;
        m->global = alloc_global(d);
    }
    if (!m->live)
        d->st.streams_total++;
    m->live = true;
    dlog(d, VR_GUESTD_LOG_INFO, "player %" PRIu32 ": stream %" PRIu32 " is %" PRIu32 " on the port", p->id,
         local, m->global);
    return m->global;
}

static void forward_up(struct vr_guestd *d, struct player *p, const uint8_t *raw, size_t len, uint32_t global)
{
    uint8_t id[4] = { (uint8_t)global, (uint8_t)(global >> 8), (uint8_t)(global >> 16),
                      (uint8_t)(global >> 24) };
    if (outq_append(&d->port_out, raw, len) < 0) {
        d->st.msgs_dropped++;
        return;
    }
    (void)p;
    /* The copy ends the queue; header offset 8 is its stream_id. */
    memcpy(d->port_out.buf + d->port_out.start + d->port_out.len - len + 8, id, 4);
    d->port_total += len;
    d->st.msgs_up++;
    d->st.bytes_up += len;
}

static void handle_player_hello(struct vr_guestd *d, struct player *p, const struct vr_hello *h,
                                uint64_t msg_start)
{
    bool reply = h->flags & VR_HELLO_REPLY;
    if (!d->up)
        return; /* as a port with no client: the player keeps waiting */
    if (!reply) {
        /* A new session of this player (or its first). */
        if (p->state == P_UP)
            dlog(d, VR_GUESTD_LOG_INFO, "player %" PRIu32 " restarted its session", p->id);
        player_reset(d, p, true);
        p->rx_base = p->acked = msg_start;
        p->state = P_UP;
        player_hello(d, p, true);
        return;
    }
    if (p->state == P_GREETED) {
        /* It answered our hello: its count starts at this reply. */
        player_reset(d, p, true);
        p->rx_base = p->acked = msg_start;
        p->state = P_UP;
    }
}

/* One whole message of a player, raw[0..len), which started at msg_start of
 * its byte count. */
static void player_message(struct vr_guestd *d, struct player *p, const uint8_t *raw, size_t len,
                           uint64_t msg_start)
{
    static struct vr_msg m; /* holds a region: off the stack; one thread */
    int ret = vr_msg_decode(raw, len, &m);
    uint64_t end = msg_start + len;
    bool forwarded = false;

    if (ret < 0) {
        d->st.msgs_dropped++;
        if (ret != -ENOMSG && ++p->bad_msgs > MAX_BAD_MSGS) {
            d->st.players_closed_bad++;
            doom(d, p, -EPROTO, "too many malformed messages");
        }
        goto done;
    }
    if (m.type == VR_MSG_HELLO) {
        if (m.u.hello.role != VR_ROLE_GUEST) {
            d->st.players_closed_bad++;
            doom(d, p, -EPROTO, "hello with a role other than guest");
            return;
        }
        handle_player_hello(d, p, &m.u.hello, msg_start);
        goto done;
    }
    if (p->state != P_UP) {
        d->st.msgs_dropped += m.type != VR_MSG_PING && m.type != VR_MSG_PONG;
        goto done;
    }
    switch (m.type) {
    case VR_MSG_PING: {
        struct vr_msg r;
        memset(&r, 0, sizeof(r));
        r.type = VR_MSG_PONG;
        r.u.pong.id = m.u.ping.id;
        r.u.pong.ping_time_us = m.u.ping.time_us;
        r.u.pong.time_us = now_us(d);
        send_player(d, p, &r);
        break;
    }
    case VR_MSG_PONG:
        break;
    case VR_MSG_STREAM_START: {
        uint32_t g = start_stream(d, p, m.stream_id);
        if (g) {
            forward_up(d, p, raw, len, g);
            forwarded = true;
        }
        break;
    }
    case VR_MSG_FRAME:
    case VR_MSG_GEOMETRY:
    case VR_MSG_REGION:
    case VR_MSG_FLUSH:
    case VR_MSG_CLOCK:
    case VR_MSG_STREAM_STOP: {
        struct smap *s = find_local(p, m.stream_id);
        if (!s || !s->live) {
            d->st.msgs_dropped++;
            break;
        }
        forward_up(d, p, raw, len, s->global);
        forwarded = true;
        if (m.type == VR_MSG_STREAM_STOP)
            s->live = false; /* kept for the feedback of its drain */
        break;
    }
    default:
        d->st.msgs_dropped++; /* the client's messages, from a player */
        break;
    }
done:
    (void)forwarded;
    if (p->state == P_UP)
        ack_push(p, d->port_total, end);
}

/* ---------------------------------------------------------------------- */
/* Port.                                                                    */

static void session_down(struct vr_guestd *d, const char *why)
{
    if (d->up)
        dlog(d, VR_GUESTD_LOG_INFO, "session with the client ended: %s; players play locally", why);
    d->up = false;
    for (uint32_t i = 0; i < d->cfg.max_players; i++) {
        struct player *p = &d->players[i];
        if (!p->used)
            continue;
        player_reset(d, p, false);
        if (p->state != P_NEW)
            doom(d, p, -EPIPE, "no client");
        p->state = P_NEW;
    }
}

static void session_up(struct vr_guestd *d)
{
    uint64_t now = now_us(d);
    d->up = true;
    d->st.sessions++;
    d->next_ping_us = now + d->ping_us;
    /* Greet every waiting player: its reply starts its session at once. */
    for (uint32_t i = 0; i < d->cfg.max_players; i++) {
        struct player *p = &d->players[i];
        if (!p->used || p->doomed)
            continue;
        player_reset(d, p, false);
        p->state = P_GREETED;
        player_hello(d, p, false);
    }
}

static void handle_port_hello(struct vr_guestd *d, const struct vr_hello *h)
{
    bool reply = h->flags & VR_HELLO_REPLY;
    if (h->role != VR_ROLE_CLIENT) {
        dlog(d, VR_GUESTD_LOG_WARNING, "ignoring a hello of role %u on the port", h->role);
        return;
    }
    if (d->up && reply)
        return;
    uint32_t ver = h->version_max < VR_PROTO_VERSION_MAX ? h->version_max : VR_PROTO_VERSION_MAX;
    uint32_t need = h->version_min > VR_PROTO_VERSION_MIN ? h->version_min : VR_PROTO_VERSION_MIN;
    if (ver < need) {
        dlog(d, VR_GUESTD_LOG_WARNING, "no common protocol version with %s (client %u..%u, daemon %u..%u)",
             h->software, h->version_min, h->version_max, VR_PROTO_VERSION_MIN, VR_PROTO_VERSION_MAX);
        return;
    }
    bool restart = d->up;
    d->peer = *h;
    if (reply) {
        d->sess_base = d->last_hello_out;
    } else {
        d->sess_base = d->port_total;
        port_hello(d, true);
    }
    if (restart) {
        dlog(d, VR_GUESTD_LOG_INFO, "client restarted (%s): players announce again", h->software);
        d->up = false;
    } else {
        dlog(d, VR_GUESTD_LOG_INFO, "session up with %s (%u codecs, %u streams)", h->software, h->n_codecs,
             h->max_streams);
    }
    session_up(d);
}

static void port_message(struct vr_guestd *d, const uint8_t *raw, size_t len)
{
    static struct vr_msg m;
    if (vr_msg_decode(raw, len, &m) < 0) {
        d->st.msgs_dropped++;
        return;
    }
    d->last_rx_us = now_us(d);
    if (m.type == VR_MSG_HELLO) {
        handle_port_hello(d, &m.u.hello);
        return;
    }
    if (m.type == VR_MSG_PING) {
        struct vr_msg r;
        memset(&r, 0, sizeof(r));
        r.type = VR_MSG_PONG;
        r.u.pong.id = m.u.ping.id;
        r.u.pong.ping_time_us = m.u.ping.time_us;
        r.u.pong.time_us = now_us(d);
        send_port(d, &r);
        return;
    }
    if (!d->up)
        return;
    if (m.type == VR_MSG_PONG) {
        uint64_t now = now_us(d);
        if (m.u.pong.ping_time_us <= now && now - m.u.pong.ping_time_us < 60000000u)
            d->st.rtt_us = (uint32_t)(now - m.u.pong.ping_time_us);
        return;
    }
    struct player *p;
    struct smap *s;
    if (m.type != VR_MSG_ACCEPT && m.type != VR_MSG_REJECT && m.type != VR_MSG_FEEDBACK &&
        m.type != VR_MSG_KEYFRAME_REQUEST) {
        d->st.msgs_dropped++;
        return;
    }
    if (!find_global(d, m.stream_id, &p, &s) || p->state != P_UP || p->doomed) {
        d->st.msgs_dropped++;
        return;
    }
    m.stream_id = s->local;
    if (m.type == VR_MSG_REJECT)
        s->live = false;
    if (m.type == VR_MSG_FEEDBACK) {
        uint64_t abs = d->sess_base + m.u.feedback.bytes_received;
        if (abs < d->sess_base || abs > d->port_total)
            abs = d->port_total;
        m.u.feedback.bytes_received = ack_advance(p, abs);
    }
    if (send_player(d, p, &m) == 0)
        d->st.msgs_down++;
}

void vr_guestd_port_open(struct vr_guestd *d)
{
    if (!d)
        return;
    vr_reassembler_reset(&d->port_in);
    outq_clear(&d->port_out);
    d->port_open = true;
    d->up = false;
    port_hello(d, false);
    d->next_hello_us = now_us(d) + d->hello_us;
    d->last_rx_us = now_us(d);
}

void vr_guestd_port_closed(struct vr_guestd *d)
{
    if (!d)
        return;
    session_down(d, "port closed");
    d->port_open = false;
    outq_clear(&d->port_out);
    vr_reassembler_reset(&d->port_in);
}

/* Pushes data through r, handing out every whole message with the byte
 * offset where it started (base: the count before data). Returns 0, or the
 * reassembler's error for a bad header when stop_on_bad. */
typedef void (*msg_fn)(struct vr_guestd *d, void *ctx, const uint8_t *raw, size_t len, uint64_t start);

static int pump(struct vr_guestd *d, struct vr_reassembler *r, const uint8_t *data, size_t len,
                uint64_t base, bool stop_on_bad, msg_fn fn, void *ctx)
{
    uint64_t pos = base; /* count at the end of the bytes pushed so far */
    while (len > 0) {
        size_t held = r->len - r->start;
        size_t n = r->max - held < len ? r->max - held : len;
        int ret = vr_reassembler_push(r, data, n);
        if (ret < 0)
            return ret;
        data += n;
        len -= n;
        pos += n;
        for (;;) {
            const uint8_t *msg;
            size_t mlen;
            ret = vr_reassembler_pop(r, &msg, &mlen);
            if (ret == 0)
                break;
            if (ret < 0) {
                if (stop_on_bad)
                    return ret;
                continue;
            }
            size_t after = r->len - r->start; /* bytes held behind this message */
            fn(d, ctx, msg, mlen, pos - after - mlen);
        }
    }
    return 0;
}

static void port_msg_fn(struct vr_guestd *d, void *ctx, const uint8_t *raw, size_t len, uint64_t start)
{
    (void)ctx;
    (void)start;
    port_message(d, raw, len);
}

int vr_guestd_port_feed(struct vr_guestd *d, const uint8_t *data, size_t len)
{
    if (!d || (!data && len))
        return -EINVAL;
    if (!d->port_open)
        return 0;
    return pump(d, &d->port_in, data, len, 0, false, port_msg_fn, NULL);
}

size_t vr_guestd_port_out_peek(struct vr_guestd *d, const uint8_t **data)
{
    if (!d || !d->port_out.len) {
        if (data)
            *data = NULL;
        return 0;
    }
    *data = d->port_out.buf + d->port_out.start;
    return d->port_out.len;
}

void vr_guestd_port_out_consume(struct vr_guestd *d, size_t n)
{
    if (d)
        outq_consume(&d->port_out, n);
}

size_t vr_guestd_port_out_queued(const struct vr_guestd *d)
{
    return d ? d->port_out.len : 0;
}

/* ---------------------------------------------------------------------- */
/* Player API.                                                              */

int vr_guestd_player_add(struct vr_guestd *d, uint32_t uid, uint32_t *id)
{
    if (!d || !id)
        return -EINVAL;
    uint32_t n = 0, same = 0;
    struct player *slot = NULL;
    for (uint32_t i = 0; i < d->cfg.max_players; i++) {
        struct player *p = &d->players[i];
        if (p->used) {
            n++;
            same += p->uid == uid;
        } else if (!slot) {
            slot = p;
        }
    }
    if (!slot || n >= d->cfg.max_players) {
        d->st.players_refused++;
        return -EMFILE;
    }
    if (same >= d->cfg.max_players_per_user) {
        d->st.players_refused++;
        return -EUSERS;
    }
    memset(slot, 0, sizeof(*slot));
    if (vr_reassembler_init(&slot->in, PLAYER_IN_MAX) < 0)
        return -ENOMEM;
    slot->used = true;
    slot->uid = uid;
    do {
        slot->id = ++d->next_player_id;
    } while (slot->id == 0 || (find_player(d, slot->id) != slot));
    slot->state = P_NEW;
    d->st.players_total++;
    /* Not greeted now: a player says hello as soon as it connects, and an
     * answer crossing its hello would start the two counts apart. */
    *id = slot->id;
    dlog(d, VR_GUESTD_LOG_INFO, "player %" PRIu32 " connected (uid %" PRIu32 ")", slot->id, uid);
    return 0;
}

void vr_guestd_player_remove(struct vr_guestd *d, uint32_t id)
{
    struct player *p = d ? find_player(d, id) : NULL;
    if (!p)
        return;
    player_reset(d, p, true);
    vr_reassembler_finish(&p->in);
    outq_clear(&p->out);
    dlog(d, VR_GUESTD_LOG_INFO, "player %" PRIu32 " gone", p->id);
    memset(p, 0, sizeof(*p));
}

struct feed_ctx {
    struct player *p;
};

static void player_msg_fn(struct vr_guestd *d, void *ctx, const uint8_t *raw, size_t len, uint64_t start)
{
    struct feed_ctx *fc = ctx;
    if (!fc->p->doomed)
        player_message(d, fc->p, raw, len, start);
}

int vr_guestd_player_feed(struct vr_guestd *d, uint32_t id, const uint8_t *data, size_t len)
{
    if (!d || (!data && len))
        return -EINVAL;
    struct player *p = find_player(d, id);
    if (!p)
        return -ENOENT;
    if (p->doomed)
        return p->doom_err;
    struct feed_ctx fc = { p };
    int ret = pump(d, &p->in, data, len, p->rx, true, player_msg_fn, &fc);
    p->rx += len;
    if (ret < 0) {
        d->st.players_closed_bad++;
        doom(d, p, -EPROTO, "not the videoredir protocol (bad header)");
        return -EPROTO;
    }
    return p->doomed ? p->doom_err : 0;
}

bool vr_guestd_players_readable(const struct vr_guestd *d)
{
    return d && d->port_out.len < d->cfg.port_backlog;
}

bool vr_guestd_player_doomed(const struct vr_guestd *d, uint32_t id)
{
    const struct player *p = d ? find_player(d, id) : NULL;
    return !p || p->doomed;
}

size_t vr_guestd_player_out_peek(struct vr_guestd *d, uint32_t id, const uint8_t **data)
{
    struct player *p = d ? find_player(d, id) : NULL;
    if (!p || !p->out.len) {
        if (data)
            *data = NULL;
        return 0;
    }
    *data = p->out.buf + p->out.start;
    return p->out.len;
}

void vr_guestd_player_out_consume(struct vr_guestd *d, uint32_t id, size_t n)
{
    struct player *p = d ? find_player(d, id) : NULL;
    if (p)
        outq_consume(&p->out, n);
}

/* ---------------------------------------------------------------------- */

void vr_guestd_tick(struct vr_guestd *d)
{
    if (!d || !d->port_open)
        return;
    uint64_t now = now_us(d);
    if (!d->up) {
        if (now >= d->next_hello_us) {
            port_hello(d, false);
            d->next_hello_us = now + d->hello_us;
        }
        return;
    }
    if (now - d->last_rx_us >= d->peer_us && now >= d->last_rx_us) {
        session_down(d, "client silent");
        port_hello(d, false);
        d->next_hello_us = now + d->hello_us;
        return;
    }
    if (now >= d->next_ping_us) {
        struct vr_msg m;
        memset(&m, 0, sizeof(m));
        m.type = VR_MSG_PING;
        m.u.ping.id = ++d->ping_id;
        m.u.ping.time_us = now;
        send_port(d, &m);
        /* The players too: while the port is congested the daemon stops
         * reading them (and so answering their pings); this keeps them from
         * taking the client for gone. The daemon watches the client itself. */
        for (uint32_t i = 0; i < d->cfg.max_players; i++)
            if (d->players[i].used && d->players[i].state == P_UP && !d->players[i].doomed)
                send_player(d, &d->players[i], &m);
        d->next_ping_us = now + d->ping_us;
    }
}

uint64_t vr_guestd_next_timeout(const struct vr_guestd *d)
{
    if (!d || !d->port_open)
        return UINT64_MAX;
    uint64_t now = d->cb.clock ? d->cb.clock(d->user) : vr_time_us();
    uint64_t at;
    if (!d->up) {
        at = d->next_hello_us;
    } else {
        at = d->next_ping_us;
        uint64_t dead = d->last_rx_us + d->peer_us;
        if (dead < at)
            at = dead;
    }
    return at > now ? at - now : 0;
}

void vr_guestd_get_stats(const struct vr_guestd *d, struct vr_guestd_stats *st)
{
    if (!d || !st)
        return;
    *st = d->st;
    st->port_open = d->port_open;
    st->session_up = d->up;
    st->players = st->players_up = 0;
    for (uint32_t i = 0; i < d->cfg.max_players; i++) {
        st->players += d->players[i].used;
        st->players_up += d->players[i].used && d->players[i].state == P_UP;
    }
    st->streams_live = live_streams(d, NULL, false, 0);
}

int vr_guestd_create(const struct vr_guestd_config *cfg, const struct vr_guestd_callbacks *cb, void *user,
                     struct vr_guestd **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    struct vr_guestd_config c;
    memset(&c, 0, sizeof(c));
    if (cfg)
        c = *cfg;
    if (!c.max_players)
        c.max_players = VR_GUESTD_DEFAULT_MAX_PLAYERS;
    if (c.max_players > VR_GUESTD_MAX_PLAYERS)
        return -EINVAL;
    if (!c.max_players_per_user)
        c.max_players_per_user = VR_GUESTD_DEFAULT_MAX_PLAYERS_PER_USER;
    if (!c.max_streams || c.max_streams > VR_MAX_STREAMS)
        c.max_streams = c.max_streams ? VR_MAX_STREAMS : VR_MAX_STREAMS;
    if (!c.max_streams_per_player)
        c.max_streams_per_player = VR_GUESTD_DEFAULT_STREAMS_PER_PLAYER;
    if (c.max_streams_per_player > MAX_MAPS - 1)
        c.max_streams_per_player = MAX_MAPS - 1;
    if (!c.max_streams_per_user)
        c.max_streams_per_user = VR_GUESTD_DEFAULT_STREAMS_PER_USER;
    if (!c.port_backlog)
        c.port_backlog = VR_GUESTD_DEFAULT_PORT_BACKLOG;
    if (!c.player_out_max)
        c.player_out_max = VR_GUESTD_DEFAULT_PLAYER_OUT;

    struct vr_guestd *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->players = calloc(c.max_players, sizeof(*d->players));
    if (!d->players) {
        free(d);
        return -ENOMEM;
    }
    d->cfg = c;
    d->cfg.software = NULL;
    if (cb)
        d->cb = *cb;
    d->user = user;
    snprintf(d->software, sizeof(d->software), "%s",
             c.software && *c.software ? c.software : "videoredir-guestd " VR_VERSION_STRING);
    d->hello_us = c.hello_interval_us ? c.hello_interval_us : DEFAULT_HELLO_US;
    d->ping_us = c.ping_interval_us ? c.ping_interval_us : DEFAULT_PING_US;
    d->peer_us = c.peer_timeout_us ? c.peer_timeout_us : DEFAULT_PEER_US;
    d->next_global = 1;
    vr_reassembler_init(&d->port_in, 0);
    *out = d;
    return 0;
}

void vr_guestd_destroy(struct vr_guestd *d)
{
    if (!d)
        return;
    for (uint32_t i = 0; i < d->cfg.max_players; i++)
        if (d->players[i].used) {
            vr_reassembler_finish(&d->players[i].in);
            outq_clear(&d->players[i].out);
        }
    free(d->players);
    outq_clear(&d->port_out);
    vr_reassembler_finish(&d->port_in);
    free(d);
}

const char *vr_guestd_socket_path(char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return NULL;
    const char *env = getenv(VR_GUESTD_SOCKET_ENV);
    int n;
    if (env) {
        if (!*env || strcmp(env, "none") == 0)
            return NULL;
        n = snprintf(buf, cap, "%s", env);
    } else {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (xdg && *xdg == '/')
            n = snprintf(buf, cap, "%s/%s", xdg, VR_GUESTD_SOCKET_NAME);
        else
            n = snprintf(buf, cap, "%s", VR_GUESTD_SYSTEM_SOCKET);
    }
    return n > 0 && (size_t)n < cap ? buf : NULL;
}
