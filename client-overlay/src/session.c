/*
 * Client side of a videoredir session, without I/O.
 *
 * Flow-control accounting: the guest counts the bytes it sent from the moment
 * it saw our (non-reply) hello, or from its own hello that we answered. So we
 * take the conn's byte count at those moments as our zero and report
 * bytes_received from there (the guest clamps a count that runs ahead).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/frame.h>

#include "decode_queue.h"
#include "videoredir/client.h"
#include <videoredir/marker.h>

#define HELLO_US 1000000u
#define PING_US 1000000u
#define FEEDBACK_US 100000u
#define FEEDBACK_FRAMES 8u
#define DEFAULT_MAX_DIM 8192u
#define DEFAULT_MAX_STREAMS 4u
#define DEFAULT_MAX_TOTAL_PIXELS ((uint64_t)8192 * 8192)
/* Skipped input is logged as a warning this many times, then only at every
 * power of two (a flood of bad messages must not flood the log). */
#define WARN_ERRORS 16u
/* Keyframe requests are not repeated faster than this per stream. */
#define KEYREQ_US 500000u
/* Nothing at all from the guest for this long: it is gone. */
#define SILENCE_US 5000000u
/* A stream whose EOS came keeps showing its tail (the decoder's last frames,
 * the queue) after the guest went away, for at most this long. */
#define TAIL_US 5000000u
/* Our pings that a pong may answer. */
#define PING_RING 4u
/* Jitter buffer bounds (config 0: defaults; never more than MAX_QUEUE). */
#define MAX_QUEUE 64u
#define DEFAULT_QUEUE_FRAMES 32u
#define DEFAULT_QUEUE_BYTES ((uint64_t)256 << 20)

#ifndef VR_VERSION_STRING
#define VR_VERSION_STRING "0"
#endif

/* A decoded frame waiting for its due time. */
struct qframe {
    AVFrame *frame;
    uint64_t send_us; /* guest send time of its access unit, 0 unknown */
    size_t bytes;
};

struct stream {
    bool used, active, ended;
    bool ending; /* EOS received: queued frames are still shown, then it ends */
    uint64_t tail_until_us; /* ending after its guest went: cut off then */
    uint32_t id;
    struct vr_stream_start start; /* extradata points to our copy */
    uint8_t *extradata;           /* kept to reopen the decoder in software */
    struct vr_decode_queue *dq; /* the decoder, inline or on its thread */
    bool draining;              /* EOS: the decoder's last frames are coming */
    AVFrame *last;       /* latest decoded frame, for compositing */
    bool has_geometry, has_region;
    struct vr_geometry geometry;
    struct vr_region *region; /* allocated on first REGION */
    bool need_key;       /* drop frames until a keyframe */
    uint32_t last_seq;
    uint32_t since_feedback;
    uint64_t last_feedback_us, last_keyreq_us;
    uint64_t received, decoded, dropped, lost, errors, bytes;
    uint64_t hw_frames; /* of decoded: hardware frames */
    uint32_t latency_us;
    uint64_t shown_send_us; /* the shown frame's FRAME send_time_us */
    uint32_t stop_reason;
    uint64_t serial;
    char decoder[64]; /* kept after the decoder is closed, for stats */
    bool hw;
    /* Scheduling (see client.h): the guest's last CLOCK and the queue. */
    bool has_clock, preroll;
    struct vr_clock clock;
    struct qframe queue[MAX_QUEUE];
    uint32_t q_head, q_len;
    uint64_t q_bytes;
    uint64_t presented, late, flushed, geometry_seq;
    uint64_t overflows; /* frames dropped: the decoder's queue was full */
};

struct vr_client {
    struct vr_client_config cfg;
    struct vr_client_callbacks cb;
    void *user;
    struct vr_conn *conn;

    bool open, established;
    uint64_t next_hello_us, next_ping_us;
    uint64_t rx_base; /* conn bytes_in where the guest's count starts */
    uint64_t last_rx_us, last_bytes_in; /* when the guest was last heard */
    uint32_t ping_id;
    struct {
        uint32_t id;
        uint64_t time_us;
    } pings[PING_RING];
    /* Clock offset guest - client from the ping with the shortest round trip
     * seen recently. */
    bool have_offset;
    int64_t offset_us;
    uint32_t best_rtt_us;
    /* Audio path delay (vr_client_set_audio_delay): frames are due when the
     * sound of the same guest time is heard. */
    bool av_on;
    int64_t av_delay_us;

    struct stream streams[VR_MAX_STREAMS];
    uint32_t ended_count, eos_count;
    uint64_t serial; /* streams accepted */
    uint64_t protocol_errors;
    uint64_t send_errors; /* messages the output queue refused */
    uint32_t fed, slowed; /* frames fed to decoders, delayed by cfg.slow_us */
    struct vr_msg *scratch; /* outgoing messages; a region is 4 KiB */
    /* Placement from the picture (VR_STREAM_MARKED streams): the detector,
     * created with the first such stream, and the codes it watches. */
    struct vr_marker_detector *marker;
    uint64_t marker_watched;
};

#define logf_(c, level, ...) VR_LOGF((c)->cb.log, (c)->user, level, __VA_ARGS__)

static uint64_t now_us(struct vr_client *c)
{
    return c->cb.clock ? c->cb.clock(c->user) : vr_time_us();
}

static void emit(struct vr_client *c, enum vr_client_event ev, uint32_t id)
{
    if (c->cb.event)
        c->cb.event(c->user, ev, id);
}

static void send_msg(struct vr_client *c, struct vr_msg *m)
{
    if (!c->open)
        return; /* nobody listens (an ending tail's last FEEDBACK) */
    int ret = vr_conn_send(c->conn, m);
    if (ret < 0) {
        /* The guest floods us faster than the channel drains: rate limited. */
        uint64_t n = ++c->send_errors;
        logf_(c, n <= WARN_ERRORS || !(n & (n - 1)) ? VR_CLOG_WARNING : VR_CLOG_DEBUG,
              "cannot queue %s: %s (%" PRIu64 " so far)", vr_msg_type_name(m->type), strerror(-ret), n);
    } else if (c->cb.output)
        c->cb.output(c->user);
}

static struct vr_msg *msg(struct vr_client *c, uint16_t type, uint32_t stream_id)
{
    memset(c->scratch, 0, sizeof(*c->scratch));
    c->scratch->type = type;
    c->scratch->stream_id = stream_id;
    return c->scratch;
}

static uint64_t bytes_in(const struct vr_client *c)
{
    struct vr_conn_stats st;
    vr_conn_get_stats(c->conn, &st);
    return st.bytes_in;
}

/* What FEEDBACK acknowledges: the bytes of messages handled so far (the one
 * being handled included), not those still waiting in a chunk behind it, so
 * that the guest's window in time counts a slow decoder's backlog. */
static uint64_t bytes_handled(const struct vr_client *c)
{
    struct vr_conn_stats st;
    vr_conn_get_stats(c->conn, &st);
    return st.bytes_consumed;
}

static void send_hello(struct vr_client *c, bool reply)
{
    struct vr_msg *m = c->scratch;
    vr_msg_hello(m, VR_ROLE_CLIENT, reply,
                 VR_FEATURE_REGION | VR_FEATURE_FEEDBACK | VR_FEATURE_KEYFRAME_REQ | VR_FEATURE_MARKER,
                 c->cfg.max_streams, c->cfg.software ? c->cfg.software : "videoredir-client " VR_VERSION_STRING);
    struct vr_hello *h = &m->u.hello;
    h->n_codecs = vr_decoder_caps(c->cfg.hwdec, c->cb.log, c->user, h->codecs, VR_MAX_CODECS);
    if (c->cfg.codec_mask) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < h->n_codecs; i++)
            if (h->codecs[i].codec < 32 && (c->cfg.codec_mask & (1u << h->codecs[i].codec)))
                h->codecs[n++] = h->codecs[i];
        h->n_codecs = n;
    }
    for (uint32_t i = 0; i < h->n_codecs; i++) {
        if (h->codecs[i].max_width > c->cfg.max_width)
            h->codecs[i].max_width = c->cfg.max_width;
        if (h->codecs[i].max_height > c->cfg.max_height)
            h->codecs[i].max_height = c->cfg.max_height;
    }
    if (!reply)
        c->rx_base = bytes_handled(c);
    send_msg(c, m);
}

static struct stream *find(struct vr_client *c, uint32_t id)
{
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (c->streams[i].used && c->streams[i].id == id)
            return &c->streams[i];
    return NULL;
}

static void queue_discard(struct stream *s)
{
    for (uint32_t k = 0; k < s->q_len; k++)
        av_frame_free(&s->queue[(s->q_head + k) % MAX_QUEUE].frame);
    s->q_head = s->q_len = 0;
    s->q_bytes = 0;
}

/* The marker code of a stream that takes its placement from the picture, else 0. */
static uint32_t marker_code(const struct stream *s)
{
    return s->used && (s->start.flags & VR_STREAM_MARKED) ? VR_STREAM_MARKER_CODE(s->start.flags)
                                                          : 0;
}

static void stream_clear(struct stream *s)
{
    queue_discard(s);
    free(s->extradata);
    vr_decode_queue_destroy(s->dq);
    av_frame_free(&s->last);
    free(s->region);
    memset(s, 0, sizeof(*s));
}

/* Bytes of FRAME messages handled by the session but still waiting for a
 * decoder thread: not acknowledged yet, so that the guest's window in time
 * counts a slow decoder's backlog as before. */
static uint64_t bytes_waiting(const struct vr_client *c)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        size_t b = 0;
        if (c->streams[i].dq)
            vr_decode_queue_backlog(c->streams[i].dq, &b);
        n += b;
    }
    return n;
}

static void send_feedback(struct vr_client *c, struct stream *s)
{
    struct vr_msg *m = msg(c, VR_MSG_FEEDBACK, s->id);
    struct vr_feedback *fb = &m->u.feedback;
    uint64_t in = bytes_handled(c), waiting = bytes_waiting(c);
    in = in > waiting ? in - waiting : 0;
    fb->bytes_received = in > c->rx_base ? in - c->rx_base : 0;
    fb->last_seq = s->last_seq;
    fb->decoded = (uint32_t)s->decoded;
    fb->dropped = (uint32_t)s->dropped;
    fb->lost = (uint32_t)s->lost;
    fb->queue_depth = s->q_len;
    fb->latency_us = s->latency_us;
    s->since_feedback = 0;
    s->last_feedback_us = now_us(c);
    send_msg(c, m);
}

static void request_key(struct vr_client *c, struct stream *s, uint32_t reason)
{
    uint64_t now = now_us(c);
    s->need_key = true;
    if (s->last_keyreq_us && now - s->last_keyreq_us < KEYREQ_US)
        return;
    s->last_keyreq_us = now;
    struct vr_msg *m = msg(c, VR_MSG_KEYFRAME_REQUEST, s->id);
    m->u.keyframe_request.reason = reason;
    logf_(c, VR_CLOG_INFO, "stream %" PRIu32 ": asking for a keyframe (%s)", s->id,
          vr_reason_name(reason));
    send_msg(c, m);
}

static void reject(struct vr_client *c, uint32_t id, uint32_t reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reject(struct vr_client *c, uint32_t id, uint32_t reason, const char *fmt, ...)
{
    struct vr_msg *m = msg(c, VR_MSG_REJECT, id);
    m->u.reject.reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->u.reject.message, sizeof(m->u.reject.message), fmt, ap);
    va_end(ap);
    logf_(c, VR_CLOG_WARNING, "stream %" PRIu32 " rejected: %s", id, m->u.reject.message);
    send_msg(c, m);
}

static size_t frame_bytes(const AVFrame *f)
{
    size_t n = 0;
    for (int i = 0; i < AV_NUM_DATA_POINTERS && f->buf[i]; i++)
        n += f->buf[i]->size;
    return n;
}

enum due { DUE_NOW, DUE_AT, DUE_HELD };

/* When frame f of s is due on our clock (*at, for DUE_AT). Frames of a stream
 * without CLOCK, without a clock offset yet or without pts are due at once.
 * Paused (rate 0), the CLOCK's pts is the position the player shows (after a
 * pause or a frame step): frames up to it are due, later ones wait, except
 * the picture of a paused seek. */
static enum due due_time(const struct vr_client *c, const struct stream *s, const AVFrame *f,
                         uint64_t *at)
{
    if (!s->has_clock || !c->have_offset || f->pts == AV_NOPTS_VALUE || !s->start.timebase_num ||
        !s->start.timebase_den)
        return DUE_NOW;
    if (s->clock.rate_q16 == 0)
        return f->pts <= s->clock.pts || s->preroll ? DUE_NOW : DUE_HELD;
    /* In double: hostile pts must not overflow, and microseconds over
     * centuries still fit the 53-bit mantissa. */
    double d = ((double)f->pts - (double)s->clock.pts) * s->start.timebase_num * 1e6 /
               s->start.timebase_den * 65536.0 / s->clock.rate_q16;
    double local = (double)s->clock.time_us + d - (double)c->offset_us;
    if (c->av_on)
        local += (double)c->av_delay_us;
    *at = local <= 0 ? 0 : local >= 0x1p62 ? (uint64_t)1 << 62 : (uint64_t)local;
    return DUE_AT;
}

static uint32_t clamp_u32(int64_t v)
{
    return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Makes f (owned, freed here) the shown frame of s. */
static void show(struct vr_client *c, struct stream *s, AVFrame *f, uint64_t send_us, uint64_t now)
{
    if (c->have_offset && send_us) /* the guest's clock is ahead of ours by offset_us */
        s->latency_us = clamp_u32((int64_t)now - ((int64_t)send_us - c->offset_us));
    s->shown_send_us = send_us;
    s->preroll = false;
    s->presented++;
    if (!s->last)
        s->last = f;
    else {
        av_frame_unref(s->last);
        av_frame_move_ref(s->last, f);
        av_frame_free(&f);
    }
    emit(c, VR_CLIENT_EV_PRESENT, s->id);
}

static void finish_stream(struct vr_client *c, struct stream *s);

/* From a decoder's thread: something came out of it. */
static void on_decoded(void *user)
{
    const struct vr_client *c = user;
    if (c->cb.wakeup)
        c->cb.wakeup(c->user);
}

/* Shows the newest queued frame that is due at now; older due ones are late.
 * Finishes an ending stream whose queue ran empty. Returns whether the shown
 * frame changed. */
static bool present_stream(struct vr_client *c, struct stream *s, uint64_t now)
{
    struct qframe pick = { 0 };
    while (s->q_len) {
        struct qframe *q = &s->queue[s->q_head];
        uint64_t at = 0;
        enum due kind = due_time(c, s, q->frame, &at);
        if (kind == DUE_HELD || (kind == DUE_AT && at > now))
            break;
        bool paused_seek = s->preroll && s->has_clock && s->clock.rate_q16 == 0;
        if (pick.frame) {
            av_frame_free(&pick.frame);
            s->dropped++;
            s->late++;
        }
        pick = *q;
        q->frame = NULL;
        s->q_head = (s->q_head + 1) % MAX_QUEUE;
        s->q_len--;
        s->q_bytes -= pick.bytes;
        if (paused_seek)
            break; /* one picture while paused */
    }
    if (pick.frame)
        show(c, s, pick.frame, pick.send_us, now);
    if (s->ending && !s->draining && !s->q_len)
        finish_stream(c, s);
    return pick.frame != NULL;
}

/* A decoded frame (owned, freed or kept here) whose access unit the guest
 * sent at sent. */
static void on_frame_out(struct vr_client *c, struct stream *s, AVFrame *copy, uint64_t sent)
{
    s->decoded++;
    s->hw_frames += vr_frame_is_hw(copy);
    if (c->cb.frame)
        c->cb.frame(c->user, s->id, copy);
    uint64_t now = now_us(c);
    if (!s->has_clock) { /* no timing from the guest: show it now */
        show(c, s, copy, sent, now);
        return;
    }
    size_t bytes = frame_bytes(copy);
    while (s->q_len && (s->q_len >= c->cfg.jitter_frames || s->q_bytes + bytes > c->cfg.jitter_bytes)) {
        /* Full: the guest runs too far ahead (or we are stuck): the oldest goes. */
        struct qframe *q = &s->queue[s->q_head];
        s->q_bytes -= q->bytes;
        av_frame_free(&q->frame);
        s->q_head = (s->q_head + 1) % MAX_QUEUE;
        s->q_len--;
        s->dropped++;
        s->late++;
    }
    s->queue[(s->q_head + s->q_len) % MAX_QUEUE] = (struct qframe){ copy, sent, bytes };
    s->q_len++;
    s->q_bytes += bytes;
    present_stream(c, s, now);
}

/* A hardware decoder failed mid-stream: continue in software from the next
 * keyframe (the caller asks the guest for one). Returns whether it switched. */
static bool fall_back_to_software(struct vr_client *c, struct stream *s, int err)
{
    if (!s->hw)
        return false;
    struct vr_decoder *sw = NULL;
    int threads = c->cfg.decode_threads > 16 ? 16 : (int)c->cfg.decode_threads;
    int ret = vr_decoder_open_threads(&s->start, VR_HWDEC_NONE, threads > 1 ? threads : 1,
                                      c->cb.log, c->user, &sw);
    if (ret < 0) {
        logf_(c, VR_CLOG_WARNING, "stream %" PRIu32 ": hardware decoder %s failed (%s) and "
              "software cannot open: %s", s->id, s->decoder, av_err2str(err), strerror(-ret));
        return false;
    }
    logf_(c, VR_CLOG_WARNING, "stream %" PRIu32 ": hardware decoder %s failed (%s): decoding in "
          "software (%s) from the next keyframe", s->id, s->decoder, av_err2str(err),
          vr_decoder_name(sw));
    char name[sizeof(s->decoder)];
    snprintf(name, sizeof(name), "%s", vr_decoder_name(sw));
    struct vr_decode_queue *dq = NULL;
    ret = vr_decode_queue_create(sw, c->cfg.decode_thread, on_decoded, c, &dq);
    if (ret < 0) {
        logf_(c, VR_CLOG_WARNING, "stream %" PRIu32 ": cannot start the software decoder: %s",
              s->id, strerror(-ret));
        return false;
    }
    vr_decode_queue_destroy(s->dq);
    s->dq = dq;
    s->hw = false;
    snprintf(s->decoder, sizeof(s->decoder), "%s", name);
    return true;
}

/* Handles what came out of s's decoder: frames (scheduled), errors (a
 * keyframe request, maybe the software decoder), the end of a drain. */
static void collect(struct vr_client *c, struct stream *s)
{
    struct vr_decode_out o;
    while (s->dq && vr_decode_queue_pop(s->dq, &o)) {
        switch (o.kind) {
        case VR_DECODE_OUT_FRAME:
            on_frame_out(c, s, o.frame, o.send_us);
            /* On its own thread the decoder's progress is what FEEDBACK
             * acknowledges (bytes_waiting): tell the guest, or its window
             * stays full once it stopped sending. */
            if (c->cfg.decode_thread && s->active && ++s->since_feedback >= FEEDBACK_FRAMES)
                send_feedback(c, s);
            break;
        case VR_DECODE_OUT_SEND_ERROR:
            s->errors++;
            s->dropped++;
            logf_(c, VR_CLOG_WARNING, "stream %" PRIu32 ": frame %" PRIu32 " rejected by decoder: %s",
                  s->id, o.seq, av_err2str(o.err));
            fall_back_to_software(c, s, o.err); /* from the next keyframe */
            request_key(c, s, VR_REASON_DECODE_ERROR);
            break;
        case VR_DECODE_OUT_ERROR:
            s->errors++;
            logf_(c, VR_CLOG_WARNING, "stream %" PRIu32 ": decode error: %s", s->id, av_err2str(o.err));
            fall_back_to_software(c, s, o.err);
            request_key(c, s, VR_REASON_DECODE_ERROR);
            break;
        case VR_DECODE_OUT_DRAINED:
            s->draining = false;
            if (s->ending && !s->q_len)
                finish_stream(c, s);
            break;
        }
    }
}

/* Ends s for reason (VR_REASON_EOS drains the decoder first: every frame
 * sent is shown). */
static void end_stream(struct vr_client *c, struct stream *s, uint32_t reason)
{
    if (!s->active)
        return;
    s->active = false;
    s->stop_reason = reason;
    if (reason == VR_REASON_EOS && s->dq && vr_decode_queue_drain(s->dq) == 0) {
        /* Every frame sent is shown: the decoder's last ones come out, then
         * DRAINED; the stream finishes after its last queued frame. */
        s->draining = s->ending = true;
        collect(c, s);
        return;
    }
    if (reason == VR_REASON_EOS && s->q_len) {
        s->ending = true; /* present_stream finishes it after the last frame */
        return;
    }
    s->flushed += s->q_len;
    queue_discard(s);
    finish_stream(c, s);
}

static void finish_stream(struct vr_client *c, struct stream *s)
{
    uint32_t reason = s->stop_reason;
    struct vr_client_stream_stats st = { .hw = s->hw, .frames_hw = s->hw_frames };
    char decoder[128];
    snprintf(st.decoder, sizeof(st.decoder), "%s", s->decoder);
    vr_client_decoder_label(&st, decoder, sizeof(decoder));
    s->ending = s->draining = false;
    s->ended = true;
    c->ended_count++;
    c->eos_count += reason == VR_REASON_EOS;
    send_feedback(c, s);
    logf_(c, VR_CLOG_INFO,
          "stream %" PRIu32 " ended (%s): %" PRIu64 " frames received, %" PRIu64 " decoded, %" PRIu64
          " dropped, %" PRIu64 " lost, %" PRIu64 " presented (%" PRIu64 " late), decoder %s",
          s->id, vr_reason_name(reason), s->received, s->decoded, s->dropped, s->lost, s->presented,
          s->late, decoder);
    vr_decode_queue_destroy(s->dq);
    s->dq = NULL;
    emit(c, VR_CLIENT_EV_STREAM_END, s->id);
}

/* The guest went (port closed, silence, restart): its streams go. One whose
 * EOS came stays until its tail is shown (every frame it sent was
 * received), TAIL_US at most; a new stream with its id replaces it. */
static void drop_all_streams(struct vr_client *c)
{
    uint64_t now = now_us(c);
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct stream *s = &c->streams[i];
        if (!s->used)
            continue;
        if (s->ending) {
            if (!s->tail_until_us)
                s->tail_until_us = now + TAIL_US;
            continue;
        }
        if (s->active)
            emit(c, VR_CLIENT_EV_STREAM_END, s->id);
        stream_clear(s);
    }
}

/* Ends the tail of s (an ending stream whose guest went) before its last
 * frames are shown. */
static void cut_tail(struct vr_client *c, struct stream *s, const char *why)
{
    logf_(c, VR_CLOG_WARNING, "stream %" PRIu32 ": its guest went and %" PRIu32
          " frames are still queued: cut off (%s)", s->id, s->q_len, why);
    s->flushed += s->q_len;
    queue_discard(s);
    finish_stream(c, s);
}

/* Ending streams whose guest went and whose tail outlived TAIL_US. */
static void cut_tails(struct vr_client *c, uint64_t now)
{
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct stream *s = &c->streams[i];
        if (s->ending && s->tail_until_us && now >= s->tail_until_us)
            cut_tail(c, s, "5 s after its guest went");
    }
}

/* A new stream over max_streams: the oldest tail of a guest that went gives
 * way to it. Returns whether there was one. */
static bool cut_oldest_tail(struct vr_client *c)
{
    struct stream *oldest = NULL;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct stream *s = &c->streams[i];
        if (s->ending && s->tail_until_us && (!oldest || s->tail_until_us < oldest->tail_until_us))
            oldest = s;
    }
    if (oldest)
        cut_tail(c, oldest, "a new stream needs its place");
    return oldest != NULL;
}

static void handle_hello(struct vr_client *c, const struct vr_hello *h)
{
    bool reply = h->flags & VR_HELLO_REPLY;
    if (h->role != VR_ROLE_GUEST) {
        logf_(c, VR_CLOG_WARNING, "ignoring hello from a peer with role %u (not a guest)", h->role);
        return;
    }
    uint32_t ver = h->version_max < VR_PROTO_VERSION_MAX ? h->version_max : VR_PROTO_VERSION_MAX;
    uint32_t need = h->version_min > VR_PROTO_VERSION_MIN ? h->version_min : VR_PROTO_VERSION_MIN;
    if (ver < need) {
        logf_(c, VR_CLOG_ERROR, "guest speaks protocol %u..%u, we speak %u..%u: refusing",
              h->version_min, h->version_max, VR_PROTO_VERSION_MIN, VR_PROTO_VERSION_MAX);
        return;
    }
    if (c->established && reply)
        return; /* a late answer to a resend */
    if (!reply) {
        /* The guest (re)started: its count starts at its hello, which we
         * have just received. */
        if (c->established)
            logf_(c, VR_CLOG_INFO, "guest restarted (%s): dropping its streams", h->software);
        /* Its count starts before that hello, which is handled already. */
        struct vr_msg *hm = msg(c, VR_MSG_HELLO, 0);
        hm->u.hello = *h;
        long hsize = vr_msg_encoded_size(hm);
        uint64_t base = bytes_handled(c);
        drop_all_streams(c);
        send_hello(c, true);
        c->rx_base = hsize > 0 && base >= (uint64_t)hsize ? base - (uint64_t)hsize : base;
    }
    if (!c->established)
        logf_(c, VR_CLOG_INFO, "session up with %s (protocol %u)", h->software, ver);
    c->established = true;
    c->last_rx_us = now_us(c);
    c->next_ping_us = now_us(c);
    emit(c, VR_CLIENT_EV_SESSION, 0);
}

static struct stream *free_slot(struct vr_client *c)
{
    /* Prefer an empty slot, else recycle one whose stream ended. */
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (!c->streams[i].used)
            return &c->streams[i];
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (!c->streams[i].active) {
            if (c->streams[i].ending)
                finish_stream(c, &c->streams[i]);
            stream_clear(&c->streams[i]);
            return &c->streams[i];
        }
    return NULL;
}

static void handle_start(struct vr_client *c, uint32_t id, const struct vr_stream_start *st)
{
    struct stream *s = find(c, id);
    if (s && s->active) {
        /* The guest restarted this stream without stopping it (e.g. after a
         * lost STREAM_STOP): the old one is over. */
        logf_(c, VR_CLOG_WARNING, "stream %" PRIu32 " started again while active: replacing it", id);
        end_stream(c, s, VR_REASON_PROTOCOL);
    }
    if (s && s->ending)
        finish_stream(c, s); /* its queued tail is not shown */
    if (s)
        stream_clear(s);
    if (st->timebase_num > INT32_MAX || st->timebase_den > INT32_MAX) {
        reject(c, id, VR_REASON_PROTOCOL, "time base %" PRIu32 "/%" PRIu32 " out of range",
               st->timebase_num, st->timebase_den);
        return;
    }
    if (st->width > c->cfg.max_width || st->height > c->cfg.max_height) {
        reject(c, id, VR_REASON_TOO_LARGE, "%" PRIu32 "x%" PRIu32 " is over the limit %" PRIu32
               "x%" PRIu32, st->width, st->height, c->cfg.max_width, c->cfg.max_height);
        return;
    }
    while (vr_client_streams_active(c) >= c->cfg.max_streams && cut_oldest_tail(c))
        ;
    if (vr_client_streams_active(c) >= c->cfg.max_streams) {
        reject(c, id, VR_REASON_TOO_MANY, "already %" PRIu32 " streams", c->cfg.max_streams);
        return;
    }
    uint64_t pixels = (uint64_t)st->width * st->height;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (c->streams[i].active)
            pixels += (uint64_t)c->streams[i].start.width * c->streams[i].start.height;
    if (pixels > c->cfg.max_total_pixels) {
        reject(c, id, VR_REASON_TOO_LARGE, "%" PRIu32 "x%" PRIu32 " is over the pixel budget "
               "(%" PRIu64 " of %" PRIu64 " pixels with the active streams)", st->width, st->height,
               pixels, c->cfg.max_total_pixels);
        return;
    }
    if (c->cfg.codec_mask && (st->codec >= 32 || !(c->cfg.codec_mask & (1u << st->codec)))) {
        reject(c, id, VR_REASON_UNSUPPORTED, "%s is not enabled on this client",
               vr_codec_name(st->codec));
        return;
    }
    s = free_slot(c);
    if (!s) {
        reject(c, id, VR_REASON_TOO_MANY, "no free stream slot");
        return;
    }
    struct vr_decoder *dec = NULL;
    int threads = c->cfg.decode_threads > 16 ? 16 : (int)c->cfg.decode_threads;
    int ret = vr_decoder_open_threads(st, c->cfg.hwdec, threads > 1 ? threads : 1, c->cb.log,
                                      c->user, &dec);
    if (ret < 0) {
        reject(c, id, ret == -ENOTSUP ? VR_REASON_UNSUPPORTED : VR_REASON_DECODE_ERROR,
               "cannot decode %s: %s", vr_codec_name(st->codec), strerror(-ret));
        return;
    }
    /* Kept hardware frames wait in the jitter buffer and the presenters
     * too: room for them in the decoder's surface pool. */
    vr_decoder_set_keep_hw(dec, c->cfg.keep_hw, c->cfg.jitter_frames + 4);
    char name[sizeof(s->decoder)];
    snprintf(name, sizeof(name), "%s", vr_decoder_name(dec));
    bool hw = vr_decoder_is_hw(dec);
    struct vr_decode_queue *dq = NULL;
    ret = vr_decode_queue_create(dec, c->cfg.decode_thread, on_decoded, c, &dq);
    if (ret < 0) {
        reject(c, id, VR_REASON_DECODE_ERROR, "cannot start a decoder for %s: %s",
               vr_codec_name(st->codec), strerror(-ret));
        return;
    }
    s->used = s->active = true;
    s->id = id;
    s->serial = ++c->serial;
    s->start = *st;
    s->start.extradata = NULL;
    s->start.extradata_len = 0;
    if (st->extradata_len && (s->extradata = malloc(st->extradata_len))) {
        memcpy(s->extradata, st->extradata, st->extradata_len);
        s->start.extradata = s->extradata;
        s->start.extradata_len = st->extradata_len;
    }
    s->dq = dq;
    snprintf(s->decoder, sizeof(s->decoder), "%s", name);
    s->hw = hw;
    s->need_key = true;
    s->last_feedback_us = now_us(c);

    struct vr_msg *m = msg(c, VR_MSG_ACCEPT, id);
    m->u.accept.flags = hw ? VR_CODEC_CAP_HW : 0;
    snprintf(m->u.accept.decoder, sizeof(m->u.accept.decoder), "%s", name);
    logf_(c, VR_CLOG_INFO, "stream %" PRIu32 ": %s %" PRIu32 "x%" PRIu32 ", decoder %s%s", id,
          vr_codec_name(st->codec), st->width, st->height, name,
          c->cfg.decode_thread ? " on its own thread" : "");
    send_msg(c, m);
    emit(c, VR_CLIENT_EV_STREAM_START, id);
}

/* Test option: a decoder slower than real time (blocks like one would, after
 * decoding the frame, in the decoder's thread). The delay for the next frame
 * fed to a decoder. */
static uint32_t slow_down(struct vr_client *c)
{
    if (!c->cfg.slow_us || c->fed++ < c->cfg.slow_from ||
        (c->cfg.slow_frames && c->slowed >= c->cfg.slow_frames))
        return 0;
    c->slowed++;
    return c->cfg.slow_us;
}

static void handle_frame(struct vr_client *c, uint32_t id, const struct vr_frame *f,
                         size_t msg_bytes)
{
    struct stream *s = find(c, id);
    if (!s || !s->active) {
        c->protocol_errors++;
        logf_(c, VR_CLOG_DEBUG, "frame for unknown stream %" PRIu32 " dropped", id);
        return;
    }
    s->received++;
    s->bytes += f->data_len;
    s->last_seq = f->seq;
    if (s->need_key && !(f->flags & VR_FRAME_KEY)) {
        /* Nothing to decode from until a keyframe: ask for one (a stream
         * that never sends one is asked every KEYREQ_US, never decoded). */
        s->dropped++;
        request_key(c, s, VR_REASON_RECONNECT);
    } else {
        s->need_key = false;
        int ret = vr_decode_queue_push(s->dq, f, f->send_time_us, msg_bytes, slow_down(c));
        if (ret < 0) {
            /* Only a guest that ignores the flow-control window fills the
             * decoder's queue: what it sends meanwhile is dropped. */
            s->dropped++;
            uint64_t n = ++s->overflows;
            logf_(c, n <= WARN_ERRORS || !(n & (n - 1)) ? VR_CLOG_WARNING : VR_CLOG_DEBUG,
                  "stream %" PRIu32 ": frame %" PRIu32 " dropped: the decoder's queue is full (%s; "
                  "%" PRIu64 " so far)", id, f->seq, strerror(-ret), n);
            request_key(c, s, VR_REASON_DECODE_ERROR);
        }
        collect(c, s);
    }
    if (++s->since_feedback >= FEEDBACK_FRAMES || now_us(c) - s->last_feedback_us >= FEEDBACK_US)
        send_feedback(c, s);
}

static void handle_geometry(struct vr_client *c, uint32_t id, const struct vr_geometry *g)
{
    struct stream *s = find(c, id);
    if (!s || !s->active) {
        c->protocol_errors++;
        return;
    }
    s->geometry = *g;
    s->has_geometry = true;
    s->geometry_seq++;
    emit(c, VR_CLIENT_EV_GEOMETRY, id);
}

static void handle_region(struct vr_client *c, uint32_t id, const struct vr_region *r)
{
    struct stream *s = find(c, id);
    if (!s || !s->active) {
        c->protocol_errors++;
        return;
    }
    if (!s->region && !(s->region = malloc(sizeof(*s->region))))
        return;
    memcpy(s->region, r, sizeof(*r));
    s->has_region = true;
    s->geometry_seq++;
    emit(c, VR_CLIENT_EV_GEOMETRY, id);
}

static void handle_clock(struct vr_client *c, uint32_t id, const struct vr_clock *k)
{
    struct stream *s = find(c, id);
    if (!s || !s->active) {
        c->protocol_errors++;
        return;
    }
    if (k->pts == INT64_MIN || k->rate_q16 > VR_MAX_RATE_Q16) {
        c->protocol_errors++; /* the decoder checks this too; never trust it */
        return;
    }
    if (!s->has_clock || s->clock.rate_q16 != k->rate_q16)
        logf_(c, VR_CLOG_DEBUG, "stream %" PRIu32 ": clock pts %" PRId64 " at %" PRIu64 " rate %.3f",
              id, k->pts, k->time_us, k->rate_q16 / 65536.0);
    s->clock = *k;
    s->has_clock = true;
    /* A new clock can make queued frames due (resume, rate change). */
    present_stream(c, s, now_us(c));
}

static void handle_ping(struct vr_client *c, const struct vr_ping *p)
{
    struct vr_msg *m = msg(c, VR_MSG_PONG, 0);
    m->u.pong.id = p->id;
    m->u.pong.ping_time_us = p->time_us;
    m->u.pong.time_us = now_us(c);
    send_msg(c, m);
}

static void handle_pong(struct vr_client *c, const struct vr_pong *p)
{
    uint64_t now = now_us(c);
    bool ours = false;
    for (uint32_t i = 0; i < PING_RING; i++)
        ours |= c->pings[i].id == p->id && c->pings[i].time_us == p->ping_time_us && p->id;
    if (!ours || p->ping_time_us > now || now - p->ping_time_us > 10000000u)
        return; /* not an answer to one of our recent pings */
    uint32_t rtt = (uint32_t)(now - p->ping_time_us);
    /* Keep the estimate from the fastest exchange; let it age so a changed
     * path can take over. */
    if (!c->have_offset || rtt <= c->best_rtt_us + c->best_rtt_us / 4 + 200) {
        c->offset_us = (int64_t)p->time_us - (int64_t)(p->ping_time_us + rtt / 2);
        c->best_rtt_us = rtt;
        c->have_offset = true;
    } else {
        c->best_rtt_us += c->best_rtt_us / 8 + 1;
    }
}

static void on_message(void *user, const struct vr_msg *m)
{
    struct vr_client *c = user;
    if (m->type != VR_MSG_HELLO && !c->established) {
        logf_(c, VR_CLOG_DEBUG, "%s before hello ignored", vr_msg_type_name(m->type));
        return;
    }
    switch (m->type) {
    case VR_MSG_HELLO: handle_hello(c, &m->u.hello); break;
    case VR_MSG_PING: handle_ping(c, &m->u.ping); break;
    case VR_MSG_PONG: handle_pong(c, &m->u.pong); break;
    case VR_MSG_STREAM_START: handle_start(c, m->stream_id, &m->u.start); break;
    case VR_MSG_FRAME: {
        long size = vr_msg_encoded_size(m);
        handle_frame(c, m->stream_id, &m->u.frame, size > 0 ? (size_t)size : 0);
        break;
    }
    case VR_MSG_GEOMETRY: handle_geometry(c, m->stream_id, &m->u.geometry); break;
    case VR_MSG_REGION: handle_region(c, m->stream_id, &m->u.region); break;
    case VR_MSG_STREAM_STOP: {
        struct stream *s = find(c, m->stream_id);
        if (s)
            end_stream(c, s, m->u.stop.reason);
        break;
    }
    case VR_MSG_FLUSH: {
        struct stream *s = find(c, m->stream_id);
        if (s && s->active) {
            vr_decode_queue_flush(s->dq);
            s->need_key = true;
            /* A seek: what waits is from before it; the guest sends a new
             * CLOCK, until then frames show when decoded. */
            s->flushed += s->q_len;
            queue_discard(s);
            s->has_clock = false;
            s->preroll = true;
        }
        break;
    }
    case VR_MSG_CLOCK: handle_clock(c, m->stream_id, &m->u.clock); break;
    default:
        /* Client-bound only: a guest must not send these. */
        c->protocol_errors++;
        logf_(c, VR_CLOG_DEBUG, "unexpected %s from the guest ignored", vr_msg_type_name(m->type));
        break;
    }
}

static void on_gap(void *user, uint32_t stream_id, uint32_t missing)
{
    struct vr_client *c = user;
    struct stream *s = find(c, stream_id);
    if (!s || !s->active)
        return;
    s->lost += missing;
    logf_(c, VR_CLOG_WARNING, "stream %" PRIu32 ": %" PRIu32 " frames lost", stream_id, missing);
    request_key(c, s, VR_REASON_SEQ_GAP);
}

static void on_error(void *user, int err, uint16_t type, uint32_t stream_id)
{
    struct vr_client *c = user;
    uint64_t n = ++c->protocol_errors;
    /* Unknown types are forward compatibility and duplicates are harmless:
     * details. Anything else is a broken or hostile guest: a warning, rate
     * limited. */
    bool warn = err != -ENOMSG && err != -EALREADY && (n <= WARN_ERRORS || !(n & (n - 1)));
    if (!type && !c->established) {
        /* Before the guest's hello: the tail of a message the guest was
         * writing to an earlier client when the port closed under it. The
         * reassembler resynchronises on the next header; nothing is wrong. */
        logf_(c, VR_CLOG_INFO,
              "skipped the tail of a message to an earlier client (%s; %" PRIu64 " so far)",
              strerror(-err), n);
        return;
    }
    logf_(c, warn ? VR_CLOG_WARNING : VR_CLOG_DEBUG,
          "skipped bad input (%s, type %s, stream %" PRIu32 "; %" PRIu64 " so far)", strerror(-err),
          type ? vr_msg_type_name(type) : "none: bad header", stream_id, n);
    /* A start we cannot read still gets an answer, so the guest falls back
     * at once instead of after its 3 s timeout. */
    if (type == VR_MSG_STREAM_START && c->established && stream_id >= 1 &&
        stream_id <= VR_MAX_STREAM_ID) {
        struct stream *s = find(c, stream_id);
        if (s && s->active)
            end_stream(c, s, VR_REASON_PROTOCOL);
        reject(c, stream_id, VR_REASON_PROTOCOL, "stream start not understood (%s): unknown codec "
               "or malformed", strerror(-err));
    }
}

int vr_client_create(const struct vr_client_config *cfg, const struct vr_client_callbacks *cb,
                     void *user, struct vr_client **out)
{
    if (!out)
        return -EINVAL;
    struct vr_client *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    if (cfg)
        c->cfg = *cfg;
    if (cb)
        c->cb = *cb;
    c->user = user;
    if (!c->cfg.max_width || c->cfg.max_width > VR_MAX_DIMENSION)
        c->cfg.max_width = DEFAULT_MAX_DIM;
    if (!c->cfg.max_height || c->cfg.max_height > VR_MAX_DIMENSION)
        c->cfg.max_height = DEFAULT_MAX_DIM;
    if (!c->cfg.max_streams || c->cfg.max_streams > VR_MAX_STREAMS)
        c->cfg.max_streams = c->cfg.max_streams ? VR_MAX_STREAMS : DEFAULT_MAX_STREAMS;
    if (!c->cfg.jitter_frames || c->cfg.jitter_frames > MAX_QUEUE)
        c->cfg.jitter_frames = c->cfg.jitter_frames ? MAX_QUEUE : DEFAULT_QUEUE_FRAMES;
    if (!c->cfg.jitter_bytes)
        c->cfg.jitter_bytes = DEFAULT_QUEUE_BYTES;
    if (!c->cfg.max_total_pixels)
        c->cfg.max_total_pixels = DEFAULT_MAX_TOTAL_PIXELS;
    c->scratch = malloc(sizeof(*c->scratch));
    struct vr_conn_callbacks ccb = { .on_message = on_message, .on_gap = on_gap, .on_error = on_error };
    int ret = c->scratch ? vr_conn_create(&c->cfg.conn, &ccb, c, &c->conn) : -ENOMEM;
    if (ret < 0) {
        free(c->scratch);
        free(c);
        return ret;
    }
    *out = c;
    return 0;
}

void vr_client_destroy(struct vr_client *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        stream_clear(&c->streams[i]);
    vr_conn_destroy(c->conn);
    vr_marker_detector_destroy(c->marker);
    free(c->scratch);
    free(c);
}

struct vr_conn *vr_client_conn(struct vr_client *c)
{
    return c->conn;
}

void vr_client_channel_open(struct vr_client *c)
{
    c->open = true;
    c->established = false;
    c->have_offset = false;
    drop_all_streams(c);
    send_hello(c, false);
    c->next_hello_us = now_us(c) + HELLO_US;
    c->last_rx_us = now_us(c);
    c->last_bytes_in = bytes_in(c);
}

void vr_client_channel_closed(struct vr_client *c)
{
    c->open = false;
    c->established = false;
    drop_all_streams(c);
}

uint32_t vr_client_dispatch(struct vr_client *c)
{
    uint32_t mask = 0;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct stream *s = &c->streams[i];
        if (!s->used || !s->dq)
            continue;
        uint64_t presented = s->presented;
        collect(c, s);
        if (s->presented != presented)
            mask |= 1u << i;
    }
    return mask;
}

void vr_client_tick(struct vr_client *c)
{
    uint64_t now = now_us(c);
    vr_client_present(c, now); /* also after the guest went: ending tails */
    cut_tails(c, now);
    if (!c->open)
        return;
    uint64_t in = bytes_in(c);
    if (in != c->last_bytes_in) {
        c->last_bytes_in = in;
        c->last_rx_us = now;
    }
    if (c->established && now - c->last_rx_us >= SILENCE_US) {
        logf_(c, VR_CLOG_WARNING, "nothing from the guest for %u s: dropping its streams, "
              "waiting for its hello", SILENCE_US / 1000000u);
        c->established = false;
        c->have_offset = false;
        drop_all_streams(c);
        c->next_hello_us = now;
    }
    if (!c->established) {
        if (now >= c->next_hello_us) {
            send_hello(c, false);
            c->next_hello_us = now + HELLO_US;
        }
        return;
    }
    if (now >= c->next_ping_us) {
        struct vr_msg *m = msg(c, VR_MSG_PING, 0);
        if (++c->ping_id == 0)
            c->ping_id = 1; /* 0 never names one of our pings */
        m->u.ping.id = c->ping_id;
        m->u.ping.time_us = now;
        c->pings[c->ping_id % PING_RING].id = m->u.ping.id;
        c->pings[c->ping_id % PING_RING].time_us = now;
        send_msg(c, m);
        c->next_ping_us = now + PING_US;
    }
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct stream *s = &c->streams[i];
        if (s->active && s->since_feedback > 0 && now - s->last_feedback_us >= FEEDBACK_US)
            send_feedback(c, s);
    }
}

bool vr_client_established(const struct vr_client *c)
{
    return c->established;
}

uint32_t vr_client_streams_ended(const struct vr_client *c)
{
    return c->ended_count;
}

uint32_t vr_client_streams_eos(const struct vr_client *c)
{
    return c->eos_count;
}

uint32_t vr_client_streams_active(const struct vr_client *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        n += c->streams[i].active || c->streams[i].ending;
    return n;
}

int vr_client_stream_stats(const struct vr_client *c, uint32_t i, struct vr_client_stream_stats *st)
{
    if (i >= VR_MAX_STREAMS || !c->streams[i].used)
        return -ENOENT;
    const struct stream *s = &c->streams[i];
    memset(st, 0, sizeof(*st));
    st->stream_id = s->id;
    st->serial = s->serial;
    st->codec = s->start.codec;
    st->width = s->start.width;
    st->height = s->start.height;
    st->timebase_num = s->start.timebase_num;
    st->timebase_den = s->start.timebase_den;
    st->active = s->active;
    st->ended = s->ended;
    st->stop_reason = s->stop_reason;
    st->hw = s->hw;
    snprintf(st->decoder, sizeof(st->decoder), "%s", s->decoder);
    st->frames_received = s->received;
    st->frames_decoded = s->decoded;
    st->frames_hw = s->hw_frames;
    st->frames_dropped = s->dropped;
    st->frames_lost = s->lost;
    st->decode_errors = s->errors;
    st->bytes_received = s->bytes;
    st->latency_us = s->latency_us;
    st->send_us = s->shown_send_us;
    st->has_geometry = s->has_geometry;
    st->geometry = s->geometry;
    st->has_region = s->has_region;
    st->n_rects = s->has_region ? s->region->n_rects : 0;
    st->frames_presented = s->presented;
    st->frames_late = s->late;
    st->frames_flushed = s->flushed;
    st->queue_depth = s->q_len;
    st->decode_queue = s->dq ? vr_decode_queue_backlog(s->dq, NULL) : 0;
    st->decode_overflows = s->overflows;
    st->has_clock = s->has_clock;
    st->rate_q16 = s->clock.rate_q16;
    st->geometry_seq = s->geometry_seq;
    uint32_t code = marker_code(s);
    pixman_region32_t vis;
    pixman_region32_init(&vis);
    if (code && c->marker && vr_marker_detector_get(c->marker, code, &st->geometry.content, &vis) == 0) {
        /* Placement found in the picture wins over the guest's GEOMETRY and
         * REGION (PROTOCOL.md, section 10.4). */
        st->has_geometry = true;
        st->geometry.window = st->geometry.content;
        st->has_region = true;
        st->n_rects = (uint32_t)pixman_region32_n_rects(&vis);
    }
    pixman_region32_fini(&vis);
    return 0;
}

uint64_t vr_client_now_us(const struct vr_client *c)
{
    return c->cb.clock ? c->cb.clock(c->user) : vr_time_us();
}

uint64_t vr_client_next_wakeup(const struct vr_client *c)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        const struct stream *s = &c->streams[i];
        uint64_t at = 0;
        if (!s->used || !s->q_len)
            continue;
        enum due kind = due_time(c, s, s->queue[s->q_head].frame, &at);
        if (kind == DUE_NOW)
            return 0;
        if (kind == DUE_AT && at < next)
            next = at;
    }
    return next;
}

uint32_t vr_client_present(struct vr_client *c, uint64_t now)
{
    uint32_t mask = vr_client_dispatch(c);
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (c->streams[i].used && c->streams[i].q_len && present_stream(c, &c->streams[i], now))
            mask |= 1u << i;
    return mask;
}

const AVFrame *vr_client_frame_due(const struct vr_client *c, uint32_t i, uint64_t now)
{
    if (i >= VR_MAX_STREAMS || !c->streams[i].used)
        return NULL;
    const struct stream *s = &c->streams[i];
    const AVFrame *due = NULL;
    for (uint32_t k = 0; k < s->q_len; k++) {
        const struct qframe *q = &s->queue[(s->q_head + k) % MAX_QUEUE];
        uint64_t at = 0;
        enum due kind = due_time(c, s, q->frame, &at);
        if (kind == DUE_HELD || (kind == DUE_AT && at > now))
            break;
        due = q->frame;
        if (s->preroll && s->has_clock && s->clock.rate_q16 == 0)
            break;
    }
    return due;
}

bool vr_client_clock_offset(const struct vr_client *c, int64_t *offset_us, uint32_t *rtt_us)
{
    if (offset_us)
        *offset_us = c->offset_us;
    if (rtt_us)
        *rtt_us = c->best_rtt_us;
    return c->have_offset;
}

const AVFrame *vr_client_stream_frame(const struct vr_client *c, uint32_t i)
{
    if (i >= VR_MAX_STREAMS || !c->streams[i].used || !c->streams[i].last ||
        !c->streams[i].last->buf[0])
        return NULL;
    return c->streams[i].last;
}

int vr_client_stream_region(const struct vr_client *c, uint32_t i, pixman_region32_t *out)
{
    pixman_region32_clear(out);
    if (i >= VR_MAX_STREAMS || !c->streams[i].used)
        return -ENOENT;
    const struct stream *s = &c->streams[i];
    uint32_t code = marker_code(s);
    if (code && c->marker && vr_marker_detector_get(c->marker, code, NULL, out) == 0)
        return 0;
    if (!s->has_geometry)
        return 0;
    const struct vr_rect *ct = &s->geometry.content;
    if (!s->has_region) {
        pixman_region32_union_rect(out, out, ct->x, ct->y, ct->w, ct->h);
        return 0;
    }
    for (uint32_t k = 0; k < s->region->n_rects; k++) {
        const struct vr_rect *r = &s->region->rects[k];
        pixman_region32_union_rect(out, out, r->x, r->y, r->w, r->h);
    }
    /* The region never reaches outside the content rectangle. */
    pixman_region32_intersect_rect(out, out, ct->x, ct->y, ct->w, ct->h);
    return 0;
}

void vr_client_set_keep_hw(struct vr_client *c, bool keep)
{
    if (c && c->cfg.keep_hw != keep) {
        c->cfg.keep_hw = keep;
        logf_(c, VR_CLOG_INFO, "hardware frames %s for streams started from now on",
              keep ? "kept for the presenter (zero-copy import)" : "downloaded in the decoder");
    }
}

void vr_client_set_audio_delay(struct vr_client *c, bool on, int64_t delay_us)
{
    if (!c)
        return;
    /* A delay outside +-10 s is no audio path: ignore it. */
    if (on && (delay_us < -10000000 || delay_us > 10000000))
        on = false;
    c->av_on = on;
    c->av_delay_us = on ? delay_us : 0;
}

bool vr_client_audio_delay(const struct vr_client *c, int64_t *delay_us)
{
    if (delay_us)
        *delay_us = c->av_delay_us;
    return c->av_on;
}

void vr_av_clock_reset(struct vr_av_clock *k)
{
    memset(k, 0, sizeof(*k));
}

bool vr_av_clock_buffer(struct vr_av_clock *k, uint64_t recv_us, uint64_t heard_us,
                        int64_t *delay_us)
{
    /* heard - received is the true delay minus how late the buffer left the
     * host and crossed the network: the largest over the window is the
     * buffer that was least late, the best estimate. */
    int64_t d = (int64_t)(heard_us - recv_us);
    k->d[k->head] = d;
    k->head = (k->head + 1) % VR_AV_CLOCK_WINDOW;
    if (k->n < VR_AV_CLOCK_WINDOW)
        k->n++;
    int64_t best = INT64_MIN;
    for (uint32_t i = 0; i < k->n; i++)
        best = k->d[i] > best ? k->d[i] : best;
    k->delay_us = best;
    if (delay_us)
        *delay_us = best;
    return k->n >= VR_AV_CLOCK_MIN;
}

uint64_t vr_client_protocol_errors(const struct vr_client *c)
{
    return c->protocol_errors;
}

int vr_client_display_invalidate(struct vr_client *c, const uint8_t *pixels, uint32_t width,
                                 uint32_t height, size_t stride, const struct vr_rect *area)
{
    if (!c || !pixels || !area)
        return -EINVAL;
    uint64_t want = 0;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        uint32_t code = marker_code(&c->streams[i]);
        if (code)
            want |= 1ull << code;
    }
    if (!want && !c->marker)
        return 0;
    if (!c->marker) {
        int ret = vr_marker_detector_create(&c->marker);
        if (ret < 0)
            return ret;
    }
    uint64_t added = want & ~c->marker_watched;
    for (uint32_t code = VR_MARKER_CODE_MIN; code <= VR_MARKER_CODE_MAX; code++)
        if (((want ^ c->marker_watched) >> code) & 1u)
            vr_marker_detector_watch(c->marker, code, (want >> code) & 1u);
    c->marker_watched = want;
    if (!want)
        return 0;
    /* A new code may already be on screen, drawn before its stream started. */
    struct vr_rect all = {0, 0, width, height};
    uint64_t changed = 0;
    int ret = vr_marker_detector_scan(c->marker, pixels, width, height, stride,
                                      added ? &all : area, &changed);
    for (uint32_t i = 0; i < VR_MAX_STREAMS && changed; i++) {
        struct stream *s = &c->streams[i];
        uint32_t code = marker_code(s);
        if (!code || !((changed >> code) & 1u))
            continue;
        struct vr_rect r;
        if (vr_marker_detector_get(c->marker, code, &r, NULL) == 0)
            logf_(c, VR_CLOG_DEBUG, "stream %" PRIu32 ": placement from the picture %" PRId32
                  ",%" PRId32 " %" PRIu32 "x%" PRIu32, s->id, r.x, r.y, r.w, r.h);
        s->geometry_seq++;
        emit(c, VR_CLIENT_EV_GEOMETRY, s->id);
    }
    return ret;
}
