/*
 * Fuzz target for the receive path: framing, resync, decoding and sequence
 * tracking of a vr_conn, plus the bare reassembler's caps.
 *
 * Input: byte 0 picks the chunking (and seeds the chunk sizes), byte 1 the
 * input cap, the rest is the byte stream. Every message received is answered
 * (PONG for PING, FEEDBACK for FRAME) and the output queue is drained in
 * odd-sized pieces, so the send path runs too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "videoredir/transport.h"

#define REQUIRE(c)        \
    do {                  \
        if (!(c))         \
            abort();      \
    } while (0)

#define MODEL_STREAMS 32u /* the conn tracks at least this many */

struct model {
    struct vr_conn *c;
    uint32_t ids[MODEL_STREAMS + 1];
    uint32_t expected[MODEL_STREAMS + 1];
    uint8_t started[MODEL_STREAMS + 1];
    unsigned n_ids;
    int overflow; /* more streams than tracked: stop checking seqs */
    uint32_t gap_stream, gap_missing;
    int gap_pending;
};

static int slot(struct model *m, uint32_t id)
{
    for (unsigned i = 0; i < m->n_ids; i++)
        if (m->ids[i] == id)
            return (int)i;
    if (m->n_ids == MODEL_STREAMS) {
        m->overflow = 1;
        return -1;
    }
    m->ids[m->n_ids] = id;
    m->started[m->n_ids] = 0;
    return (int)m->n_ids++;
}

static void on_gap(void *user, uint32_t stream_id, uint32_t missing)
{
    struct model *m = user;
    REQUIRE(missing > 0);
    m->gap_stream = stream_id;
    m->gap_missing = missing;
    m->gap_pending = 1;
}

static void on_message(void *user, const struct vr_msg *msg)
{
    struct model *m = user;
    REQUIRE(vr_msg_type_name(msg->type) != NULL);
    if (msg->type == VR_MSG_STREAM_START) {
        int i = slot(m, msg->stream_id);
        if (i >= 0)
            m->started[i] = 0;
    } else if (msg->type == VR_MSG_FRAME) {
        REQUIRE(msg->u.frame.data_len > 0 && msg->u.frame.data);
        int i = m->overflow ? -1 : slot(m, msg->stream_id);
        if (i >= 0 && !m->overflow) {
            if (m->started[i]) {
                uint32_t ahead = msg->u.frame.seq - m->expected[i];
                REQUIRE(ahead < 0x80000000u); /* duplicates never get here */
                if (ahead)
                    REQUIRE(m->gap_pending && m->gap_stream == msg->stream_id &&
                            m->gap_missing == ahead);
                else
                    REQUIRE(!m->gap_pending);
            }
            m->started[i] = 1;
            m->expected[i] = msg->u.frame.seq + 1;
        }
        struct vr_msg fb = { .type = VR_MSG_FEEDBACK, .stream_id = msg->stream_id };
        fb.u.feedback.last_seq = msg->u.frame.seq;
        vr_conn_send(m->c, &fb);
    } else if (msg->type == VR_MSG_PING) {
        struct vr_msg p = { .type = VR_MSG_PONG };
        p.u.pong.id = msg->u.ping.id;
        p.u.pong.ping_time_us = msg->u.ping.time_us;
        REQUIRE(vr_conn_send(m->c, &p) == 0 || vr_conn_out_queued(m->c) > 0);
    }
    m->gap_pending = 0;
}

static size_t chunk_size(uint8_t mode, uint32_t *state, size_t left)
{
    size_t n;
    switch (mode & 3) {
    case 0:
        n = 1;
        break;
    case 1:
        *state = *state * 1103515245u + 12345u;
        n = 1 + (*state >> 8) % (((mode >> 2) + 1) * 97u);
        break;
    case 2:
        n = 65536;
        break;
    default:
        n = left;
        break;
    }
    return n < left ? n : left;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[4] = { 0, 64, 1000, 70000 };
    if (size < 2)
        return 0;
    uint8_t mode = data[0];
    size_t max = caps[data[1] & 3];
    data += 2;
    size -= 2;

    struct model m;
    memset(&m, 0, sizeof(m));
    struct vr_conn_config cfg = { .max_in_bytes = max, .max_out_bytes = 4096 };
    struct vr_conn_callbacks cb = { .on_message = on_message, .on_gap = on_gap };
    REQUIRE(vr_conn_create(&cfg, &cb, &m, &m.c) == 0);

    struct vr_reassembler ra;
    REQUIRE(vr_reassembler_init(&ra, max ? max : 0) == 0);

    uint32_t state = mode;
    size_t pos = 0;
    while (pos < size) {
        size_t n = chunk_size(mode, &state, size - pos);
        REQUIRE(vr_conn_feed(m.c, data + pos, n) == 0);

        /* The same bytes through a bare reassembler, never over its cap. */
        size_t off = 0;
        while (off < n) {
            size_t room = ra.max - (ra.len - ra.start);
            size_t k = n - off < room ? n - off : room;
            if (k > 0) {
                REQUIRE(vr_reassembler_push(&ra, data + pos + off, k) == 0);
                off += k;
            }
            const uint8_t *msg;
            size_t len;
            int r;
            size_t progress = ra.start;
            while ((r = vr_reassembler_pop(&ra, &msg, &len)) != 0) {
                if (r > 0)
                    REQUIRE(len >= VR_HEADER_SIZE && len <= ra.max);
            }
            REQUIRE(ra.len - ra.start <= ra.max && ra.cap <= ra.max);
            /* A full buffer always yields a message or a skip. */
            REQUIRE(k > 0 || ra.start != progress || ra.len - ra.start < ra.max);
            if (k == 0 && ra.len - ra.start == ra.max)
                abort();
        }

        /* Drain what the callbacks queued, in odd pieces. */
        const uint8_t *out;
        size_t q;
        while ((q = vr_conn_out_peek(m.c, &out)) > 0)
            vr_conn_out_consume(m.c, q > 7 ? q / 2 + 1 : q);
        REQUIRE(vr_conn_out_queued(m.c) == 0);
        pos += n;
    }

    struct vr_conn_stats st;
    vr_conn_get_stats(m.c, &st);
    REQUIRE(st.bytes_in == size);
    REQUIRE(st.resync_bytes <= size);
    vr_reassembler_finish(&ra);
    vr_conn_destroy(m.c);
    return 0;
}
