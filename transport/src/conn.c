/*
 * vr_conn: the sans-I/O connection.
 *
 * Input:  bytes -> framing -> vr_msg_decode -> tap -> per-stream sequence
 *         tracking for frames -> on_message. While nothing is buffered,
 *         messages are decoded straight from the caller's bytes; only a
 *         message cut by a chunk boundary is copied (once) into the
 *         reassembler.
 * Output: messages are encoded directly into a list of blocks (the only copy
 *         of frame data); the adapter peeks the first block and consumes
 *         what it wrote. Blocks are freed (or one is kept spare) as they
 *         drain, so nothing is ever moved.
 *
 * Flow control. The peer reports in FEEDBACK how many bytes it has received
 * in this session, counting every message byte. So the sender counts the
 * same thing:
 *     sent      = bytes of every message queued since the last reset
 *     acked     = last value given to vr_conn_ack() (same origin)
 *     in_flight = sent - acked          (0 if acked > sent)
 *     available = window - in_flight    (0 if in_flight >= window)
 * The window bounds frames (the sender checks it before each frame), but all
 * messages count as in flight because the peer's count includes them.
 *
 * Window in time. Every frame sent is remembered (a ring, in send order)
 * with the byte offset where it ends and its duration in microseconds, taken
 * from the frame's duration, else the stream's nominal rate, else the dts
 * (or pts) step from the previous frame, all in the time base the stream's
 * STREAM_START announced (sent through this conn). An acknowledgement that
 * reaches a frame's end retires it. A stream's video in flight is the sum of
 * its unretired frames' durations; a frame may go while that sum plus the
 * stream's latest frame duration stays within window_us, or when none of
 * the stream's frames is in flight (so a long frame never deadlocks). The
 * byte window above still applies on top. A stream without a time base (no
 * STREAM_START through this conn) is bounded in bytes only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "videoredir/transport.h"
#include "frame.h"

#define DEFAULT_MAX_OUT (8u << 20)
#define DEFAULT_WINDOW (2u << 20)
/* Output blocks: messages are packed up to BLOCK_SIZE per block (a larger
 * one gets a block of its own), so the adapter's writes look the same
 * whatever memory backs them; drained blocks up to KEEP_BLOCK are reused
 * rather than freed (a fresh block per large frame cost page faults on
 * every one). */
#define BLOCK_SIZE (64u * 1024u)
#define KEEP_BLOCK (1024u * 1024u)
#define SCRATCH_SIZE (64u * 1024u)
/* FRAMEs this large or larger are written straight from the caller's buffer
 * when a writer is set; smaller ones are cheaper to copy and batch. */
#define DIRECT_MIN 1024u
/* Streams tracked at once; the least recently used one is evicted. A
 * peer may use at most VR_MAX_STREAMS at a time, the slack covers restarts. */
#define MAX_SLOTS (VR_MAX_STREAMS * 4u)
/* After a reset, an input buffer grown past this is released. */
#define KEEP_IN_BYTES (1u << 20)
#define DEFAULT_WINDOW_US 1000000u
/* Frames in flight at once (all streams): 1 s of video at 1000 fps. */
#define FLIGHT_MAX 1024u
/* One frame counts for at most this long (a bogus duration must not hold
 * the window shut for minutes). */
#define MAX_FRAME_US 1000000u

struct out_block {
    struct out_block *next;
    size_t cap, head, tail; /* data[head..tail) is queued */
    size_t limit;           /* packing bound, <= cap: max(BLOCK_SIZE, first message) */
    uint8_t data[];
};

struct stream_slot {
    bool used;
    uint32_t id;
    uint64_t last_use;
    struct vr_seq_rx rx; /* frames received */
    uint32_t tx_next;    /* seq of the next frame sent */
    /* Sender's time window: from the STREAM_START we sent. */
    uint32_t tb_num, tb_den, fps_num, fps_den; /* tb_den 0: no time base */
    int64_t last_ts;        /* dts (else pts) of the last frame sent */
    uint32_t last_dur_us;   /* duration of the last frame sent */
    uint32_t fl_frames;     /* frames in flight */
    uint64_t fl_us;         /* their durations */
};

/* A frame sent and not yet acknowledged. */
struct flight {
    uint64_t end; /* c->sent right after it */
    uint32_t stream_id;
    uint32_t dur_us;
};

struct vr_conn {
    struct vr_conn_callbacks cb;
    void *user;
    vr_conn_tap_fn tap;
    void *tap_user;
    vr_conn_write_fn writer;
    void *writer_user;

    struct vr_reassembler in;
    bool in_feed, destroy_pending;
    bool resyncing; /* skipping garbage: report a run of it only once */

    struct out_block *out_first, *out_last, *spare;
    size_t out_queued, max_out;

    uint64_t sent, acked;
    uint64_t frames_end; /* c->sent right after the latest FRAME */
    size_t window;
    uint64_t window_us;
    struct flight *fl; /* ring of FLIGHT_MAX, allocated with the first frame */
    uint32_t fl_head, fl_len;

    struct stream_slot slots[MAX_SLOTS];
    uint64_t clock;

    struct vr_conn_stats st;

    uint8_t *scratch;
};

static struct stream_slot *slot_get(struct vr_conn *c, uint32_t id, bool create)
{
    struct stream_slot *victim = NULL;
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        struct stream_slot *s = &c->slots[i];
        if (s->used && s->id == id) {
            s->last_use = ++c->clock;
            return s;
        }
        if (!victim || (victim->used && (!s->used || s->last_use < victim->last_use)))
            victim = s;
    }
    if (!create)
        return NULL;
    memset(victim, 0, sizeof(*victim));
    victim->used = true;
    victim->id = id;
    victim->last_use = ++c->clock;
    return victim;
}

/* Lookup without an LRU update: the slot's index, or -1. */
static int slot_index(const struct vr_conn *c, uint32_t id)
{
    for (size_t i = 0; i < MAX_SLOTS; i++)
        if (c->slots[i].used && c->slots[i].id == id)
            return (int)i;
    return -1;
}

/* A stream (re)starts. Its frames still in flight stay counted: they are
 * retired by acknowledgements like any other. */
static void stream_restart(struct vr_conn *c, uint32_t id, const struct vr_stream_start *st)
{
    struct stream_slot *s = slot_get(c, id, true);
    vr_seq_rx_reset(&s->rx);
    s->tx_next = 0;
    if (st) {
        s->tb_num = st->timebase_num;
        s->tb_den = st->timebase_num ? st->timebase_den : 0;
        s->fps_num = st->fps_num;
        s->fps_den = st->fps_den;
        s->last_ts = INT64_MIN;
        s->last_dur_us = 0;
    }
}

int vr_conn_create(const struct vr_conn_config *cfg, const struct vr_conn_callbacks *cb,
                   void *user, struct vr_conn **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    struct vr_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    int ret = vr_reassembler_init(&c->in, cfg ? cfg->max_in_bytes : 0);
    if (ret < 0) {
        free(c);
        return ret;
    }
    if (cb)
        c->cb = *cb;
    c->user = user;
    c->max_out = cfg && cfg->max_out_bytes ? cfg->max_out_bytes : DEFAULT_MAX_OUT;
    c->window = cfg && cfg->window_bytes ? cfg->window_bytes : DEFAULT_WINDOW;
    c->window_us = cfg && cfg->window_us ? cfg->window_us : DEFAULT_WINDOW_US;
    *out = c;
    return 0;
}

static void out_free_all(struct vr_conn *c)
{
    struct out_block *b = c->out_first;
    while (b) {
        struct out_block *next = b->next;
        free(b);
        b = next;
    }
    c->out_first = c->out_last = NULL;
    c->out_queued = 0;
}

static void destroy_now(struct vr_conn *c)
{
    out_free_all(c);
    free(c->spare);
    free(c->scratch);
    free(c->fl);
    vr_reassembler_finish(&c->in);
    free(c);
}

void vr_conn_destroy(struct vr_conn *c)
{
    if (!c)
        return;
    /* From inside a callback: finish when vr_conn_feed unwinds. */
    if (c->in_feed) {
        c->destroy_pending = true;
        return;
    }
    destroy_now(c);
}

void vr_conn_reset(struct vr_conn *c)
{
    if (!c)
        return;
    vr_reassembler_reset(&c->in);
    c->st.bytes_consumed = c->st.bytes_in;
    c->resyncing = false;
    if (!c->in_feed && c->in.cap > KEEP_IN_BYTES)
        vr_reassembler_finish(&c->in); /* keeps max; reallocated on demand */
    out_free_all(c);
    c->sent = c->acked = c->frames_end = 0;
    c->fl_head = c->fl_len = 0;
    memset(c->slots, 0, sizeof(c->slots));
}

uint8_t *vr_conn_scratch(struct vr_conn *c, size_t *size)
{
    if (!c->scratch)
        c->scratch = malloc(SCRATCH_SIZE);
    *size = c->scratch ? SCRATCH_SIZE : 0;
    return c->scratch;
}

/* ---------------------------------------------------------------------- */
/* Input                                                                    */

static void report_error(struct vr_conn *c, int err, uint16_t type, uint32_t stream_id)
{
    if (c->cb.on_error)
        c->cb.on_error(c->user, err, type, stream_id);
}

/* raw is one framed message (its header already validated). */
static void dispatch(struct vr_conn *c, const uint8_t *raw, size_t len)
{
    c->resyncing = false;
    if (c->tap) {
        c->tap(c->tap_user, VR_DIR_IN, raw, len);
        if (c->destroy_pending)
            return;
    }

    struct vr_msg msg;
    int ret = vr_msg_decode(raw, len, &msg);
    if (ret < 0) {
        struct vr_header h = { 0 };
        vr_header_decode(raw, len, &h);
        if (ret == -ENOMSG)
            c->st.unknown_msgs++;
        else
            c->st.bad_msgs++;
        report_error(c, ret, h.type, h.stream_id);
        return;
    }
    c->st.msgs_in++;

    if (msg.type == VR_MSG_STREAM_START) {
        stream_restart(c, msg.stream_id, NULL);
    } else if (msg.type == VR_MSG_FRAME) {
        struct stream_slot *s = slot_get(c, msg.stream_id, true);
        long gap = vr_seq_rx_check(&s->rx, msg.u.frame.seq);
        if (gap < 0) {
            /* A duplicate or stale frame is skipped input like a bad one;
             * on_error lets the owner log it, it is not counted as bad. */
            report_error(c, (int)gap, msg.type, msg.stream_id);
            return;
        }
        if (gap > 0) {
            c->st.frames_lost += (uint64_t)gap;
            if (c->cb.on_gap)
                c->cb.on_gap(c->user, msg.stream_id, (uint32_t)gap);
            if (c->destroy_pending)
                return;
        }
    }
    if (c->cb.on_message)
        c->cb.on_message(c->user, &msg);
}

/* Input up to here is handled: what was taken from the caller's bytes
 * (base + taken) except what the reassembler still holds. */
static void mark_consumed(struct vr_conn *c, uint64_t base, size_t taken, bool count_in)
{
    if (count_in)
        c->st.bytes_in = base + taken;
    c->st.bytes_consumed = base + taken - (c->in.len - c->in.start);
}

static void bad_header(struct vr_conn *c, int err)
{
    /* One report per run of garbage, however it was chunked. */
    if (c->resyncing)
        return;
    c->resyncing = true;
    c->st.bad_msgs++;
    report_error(c, err, 0, 0);
}

int vr_conn_feed(struct vr_conn *c, const uint8_t *data, size_t len)
{
    return vr_conn_feed_some(c, data, len, 0, NULL);
}

int vr_conn_feed_some(struct vr_conn *c, const uint8_t *data, size_t len, size_t quota,
                      size_t *used)
{
    if (used)
        *used = 0;
    if (!c || (!data && len))
        return -EINVAL;
    if (c->in_feed)
        return -EBUSY;
    c->in_feed = true;
    const uint64_t base = c->st.bytes_in;
    const uint8_t *const start = data;
    size_t done = 0; /* bytes of messages dispatched */
    /* vr_conn_feed takes everything: bytes_in counts it all at once (as
     * callbacks have always seen it); otherwise it grows with what is taken. */
    const bool some = quota != 0;
    if (!some)
        c->st.bytes_in += len;

    int ret = 0;
    for (;;) {
        /* Whatever the reassembler holds comes first. */
        const uint8_t *m;
        size_t mlen;
        int r;
        while ((r = vr_reassembler_pop(&c->in, &m, &mlen)) != 0) {
            mark_consumed(c, base, (size_t)(data - start), some);
            if (r > 0) {
                done += mlen;
                dispatch(c, m, mlen);
            } else {
                bad_header(c, r);
            }
            if (c->destroy_pending)
                goto out;
        }
        if (len == 0 || (some && done >= quota))
            break;

        size_t held = c->in.len - c->in.start;
        if (held == 0) {
            /* Nothing pending: decode in place, keep only the tail. */
            while (len > 0) {
                size_t aux;
                int s = vr_frame_scan(data, len, c->in.max, &aux);
                if (s == 0)
                    break;
                mark_consumed(c, base, (size_t)(data - start) + aux, some);
                if (s < 0) {
                    c->in.resync_bytes += aux;
                    bad_header(c, s);
                } else {
                    done += aux;
                    dispatch(c, data, aux);
                }
                data += aux;
                len -= aux;
                if (c->destroy_pending || (some && done >= quota))
                    goto out;
            }
            if (len > 0) {
                r = vr_reassembler_push(&c->in, data, len);
                if (r < 0) {
                    ret = r;
                    vr_conn_reset(c);
                }
                data += len; /* taken (or dropped with the reset) */
                len = 0;
            }
            break;
        }

        /* Complete the pending message with exactly what it lacks, so the
         * bytes after it take the in-place path. */
        size_t need;
        vr_frame_scan(c->in.buf + c->in.start, held, c->in.max, &need);
        size_t take = need > held ? need - held : 1;
        if (take > len)
            take = len;
        r = vr_reassembler_push(&c->in, data, take);
        if (r < 0) {
            ret = r;
            vr_conn_reset(c);
            data += len; /* dropped */
            len = 0;
            break;
        }
        data += take;
        len -= take;
    }
out:
    mark_consumed(c, base, (size_t)(data - start), some);
    if (used)
        *used = (size_t)(data - start);
    c->in_feed = false;
    if (c->destroy_pending)
        destroy_now(c);
    return ret;
}

/* ---------------------------------------------------------------------- */
/* Output                                                                   */

/* Room for size bytes at the end of the queue (not yet counted as queued). */
static uint8_t *out_reserve(struct vr_conn *c, size_t size)
{
    struct out_block *b = c->out_last;
    if (b && b->limit >= size && b->limit - b->tail >= size)
        return b->data + b->tail;
    size_t limit = size > BLOCK_SIZE ? size : BLOCK_SIZE;
    if (b && b->tail == 0 && b->cap >= size) {
        /* Drained in place (see vr_conn_out_consume): start it again. */
        b->limit = limit < b->cap ? limit : b->cap;
        return b->data;
    }
    if (c->spare && c->spare->cap >= size) {
        b = c->spare;
        c->spare = NULL;
    } else {
        size_t cap = size > BLOCK_SIZE ? size : BLOCK_SIZE;
        b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->cap = cap;
    }
    b->next = NULL;
    b->head = b->tail = 0;
    b->limit = limit < b->cap ? limit : b->cap;
    if (c->out_last)
        c->out_last->next = b;
    else
        c->out_first = b;
    c->out_last = b;
    return b->data;
}

/* Stream time base units to microseconds. */
static double ts_to_us(const struct stream_slot *s, int64_t t)
{
    return (double)t * s->tb_num * 1e6 / s->tb_den;
}

static uint32_t frame_duration_us(struct stream_slot *s, const struct vr_frame *f)
{
    double d = 0;
    int64_t ts = f->dts != INT64_MIN ? f->dts : f->pts;
    if (f->duration > 0)
        d = ts_to_us(s, f->duration);
    else if (s->fps_num > 0 && s->fps_den > 0)
        d = 1e6 * s->fps_den / s->fps_num;
    else if (ts != INT64_MIN && s->last_ts != INT64_MIN && ts > s->last_ts)
        d = ts_to_us(s, ts - s->last_ts);
    s->last_ts = ts;
    if (!(d >= 1)) /* unknown (or NaN): as the previous frame */
        return s->last_dur_us;
    return d > MAX_FRAME_US ? MAX_FRAME_US : (uint32_t)d;
}

/* Remembers a frame just queued (c->sent counts it already). */
static void flight_add(struct vr_conn *c, struct stream_slot *s, const struct vr_frame *f)
{
    if (!s->tb_den)
        return; /* no time base: bytes only */
    if (!c->fl && !(c->fl = malloc(FLIGHT_MAX * sizeof(*c->fl))))
        return;
    uint32_t d = frame_duration_us(s, f);
    s->last_dur_us = d;
    if (c->fl_len == FLIGHT_MAX)
        return; /* the sender ignored vr_conn_window_allows: not tracked */
    c->fl[(c->fl_head + c->fl_len) % FLIGHT_MAX] = (struct flight){ c->sent, s->id, d };
    c->fl_len++;
    s->fl_frames++;
    s->fl_us += d;
}

/* Retires the frames the peer has now received in full. */
static void flight_retire(struct vr_conn *c)
{
    while (c->fl_len > 0 && c->fl[c->fl_head].end <= c->acked) {
        const struct flight *f = &c->fl[c->fl_head];
        int i = slot_index(c, f->stream_id);
        struct stream_slot *s = i < 0 ? NULL : &c->slots[i];
        if (s && s->fl_frames > 0) {
            s->fl_frames--;
            s->fl_us = s->fl_us > f->dur_us ? s->fl_us - f->dur_us : 0;
        }
        c->fl_head = (c->fl_head + 1) % FLIGHT_MAX;
        c->fl_len--;
    }
}

/* A FRAME of size bytes (nothing queued): header and data go to the writer
 * as they are; what it does not take is copied into the queue, reserved but
 * not yet counted (*queued: its size). */
static int send_direct(struct vr_conn *c, const struct vr_msg *m, size_t size, size_t *queued)
{
    uint8_t head[VR_FRAME_HEAD_SIZE];
    long hlen = vr_msg_encode_frame_head(m, head, sizeof(head));
    if (hlen < 0)
        return (int)hlen;
    struct vr_iov iov[2] = { { head, (size_t)hlen }, { m->u.frame.data, m->u.frame.data_len } };
    long w = c->writer(c->writer_user, iov, 2);
    size_t took = w < 0 ? 0 : (size_t)w > size ? size : (size_t)w;
    *queued = size - took;
    if (*queued == 0)
        return 0;
    uint8_t *dst = out_reserve(c, *queued);
    if (!dst) {
        /* Part of the message is on the wire already: the stream is broken
         * either way, and the conn must not send a torn message's tail later. */
        *queued = 0;
        return took ? -EPIPE : -ENOMEM;
    }
    if (took < (size_t)hlen) {
        memcpy(dst, head + took, (size_t)hlen - took);
        memcpy(dst + (size_t)hlen - took, m->u.frame.data, m->u.frame.data_len);
    } else {
        memcpy(dst, m->u.frame.data + (took - (size_t)hlen), *queued);
    }
    return 0;
}

void vr_conn_set_writer(struct vr_conn *c, vr_conn_write_fn fn, void *user)
{
    if (!c)
        return;
    c->writer = fn;
    c->writer_user = fn ? user : NULL;
}

int vr_conn_send(struct vr_conn *c, const struct vr_msg *msg)
{
    if (!c || !msg)
        return -EINVAL;

    struct vr_msg framed;
    const struct vr_msg *m = msg;
    struct stream_slot *slot = NULL;
    if (msg->type == VR_MSG_FRAME) {
        /* Copy only the header and frame part: vr_msg is kilobytes. */
        slot = slot_get(c, msg->stream_id, true);
        framed.type = msg->type;
        framed.stream_id = msg->stream_id;
        framed.u.frame = msg->u.frame;
        framed.u.frame.seq = slot->tx_next;
        m = &framed;
    }

    long size = vr_msg_encoded_size(m);
    if (size < 0)
        return (int)size;
    /* A message bigger than the whole cap (a large keyframe) still goes out
     * when the queue is empty, otherwise it could never be sent. */
    if (c->out_queued > 0 &&
        ((size_t)size > c->max_out || c->out_queued > c->max_out - (size_t)size))
        return -ENOBUFS;

    size_t queued = (size_t)size;
    if (slot && c->writer && !c->tap && c->out_queued == 0 && m->u.frame.data_len >= DIRECT_MIN) {
        int ret = send_direct(c, m, (size_t)size, &queued);
        if (ret < 0)
            return ret;
    } else {
        uint8_t *dst = out_reserve(c, (size_t)size);
        if (!dst)
            return -ENOMEM;
        long written = vr_msg_encode(m, dst, (size_t)size);
        if (written != size) {
            /* The reserved room stays unused at the end of the last block. */
            return written < 0 ? (int)written : -EINVAL;
        }
        if (c->tap)
            c->tap(c->tap_user, VR_DIR_OUT, dst, (size_t)size);
    }
    if (queued) {
        c->out_last->tail += queued;
        c->out_queued += queued;
    }
    c->sent += (uint64_t)size;
    c->st.bytes_out += (uint64_t)size;
    c->st.msgs_out++;

    if (slot) {
        c->frames_end = c->sent;
        slot->tx_next++;
        flight_add(c, slot, &msg->u.frame);
    } else if (msg->type == VR_MSG_STREAM_START) {
        stream_restart(c, msg->stream_id, &msg->u.start);
    }
    return 0;
}

/* Unlinks the first block (drained) and keeps it as the spare or frees it. */
static void drop_first(struct vr_conn *c)
{
    struct out_block *b = c->out_first;
    c->out_first = b->next;
    if (!c->out_first)
        c->out_last = NULL;
    if (b->cap <= KEEP_BLOCK && (!c->spare || c->spare->cap < b->cap)) {
        free(c->spare); /* keep the larger one */
        c->spare = b;
    } else {
        free(b);
    }
}

size_t vr_conn_out_peek(struct vr_conn *c, const uint8_t **data)
{
    if (!c || !data)
        return 0;
    *data = NULL;
    /* Only a block whose encode failed can be empty before the last one. */
    while (c->out_first && c->out_first->head == c->out_first->tail &&
           c->out_first != c->out_last)
        drop_first(c);
    struct out_block *b = c->out_first;
    if (!b || b->head == b->tail)
        return 0;
    *data = b->data + b->head;
    return b->tail - b->head;
}

void vr_conn_out_consume(struct vr_conn *c, size_t n)
{
    if (!c)
        return;
    while (n > 0 && c->out_first) {
        struct out_block *b = c->out_first;
        size_t avail = b->tail - b->head;
        size_t k = n < avail ? n : avail;
        b->head += k;
        c->out_queued -= k;
        n -= k;
        if (b->head < b->tail)
            break;
        if (b == c->out_last && b->cap <= KEEP_BLOCK) {
            /* Drained tail block: reuse it in place. */
            b->head = b->tail = 0;
            b->limit = b->cap < BLOCK_SIZE ? b->cap : BLOCK_SIZE;
            break;
        }
        drop_first(c);
    }
}

size_t vr_conn_out_queued(const struct vr_conn *c)
{
    return c ? c->out_queued : 0;
}

void vr_conn_ack(struct vr_conn *c, uint64_t peer_bytes_received)
{
    if (!c)
        return;
    c->acked = peer_bytes_received;
    c->st.acked = peer_bytes_received;
    flight_retire(c);
}

bool vr_conn_window_allows(const struct vr_conn *c, uint32_t stream_id, size_t size)
{
    if (!c)
        return false;
    uint64_t in_flight = c->sent > c->acked ? c->sent - c->acked : 0;
    if (in_flight == 0)
        return true; /* even a frame larger than the window */
    /* No frame in flight, only control messages the peer has no reason to
     * acknowledge yet (it sends FEEDBACK for frames): a frame goes whatever
     * its size, or one larger than the window (a 4K keyframe) would wait
     * for ever. */
    if (c->acked >= c->frames_end)
        return true;
    if (in_flight >= c->window || size > c->window - (size_t)in_flight)
        return false;
    if (c->fl_len == FLIGHT_MAX)
        return false;
    int i = slot_index(c, stream_id);
    const struct stream_slot *s = i < 0 ? NULL : &c->slots[i];
    if (!s || !s->tb_den || s->fl_frames == 0)
        return true;
    return s->fl_us + s->last_dur_us <= c->window_us;
}

uint64_t vr_conn_in_flight_us(const struct vr_conn *c, uint32_t stream_id)
{
    int i = c ? slot_index(c, stream_id) : -1;
    return i < 0 ? 0 : c->slots[i].fl_us;
}

size_t vr_conn_window_available(const struct vr_conn *c)
{
    if (!c)
        return 0;
    uint64_t in_flight = c->sent > c->acked ? c->sent - c->acked : 0;
    return in_flight >= c->window ? 0 : c->window - (size_t)in_flight;
}

void vr_conn_set_tap(struct vr_conn *c, vr_conn_tap_fn fn, void *user)
{
    if (!c)
        return;
    c->tap = fn;
    c->tap_user = fn ? user : NULL;
}

void vr_conn_get_stats(const struct vr_conn *c, struct vr_conn_stats *st)
{
    if (!c || !st)
        return;
    *st = c->st;
    st->resync_bytes = c->in.resync_bytes;
}
