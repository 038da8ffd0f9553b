/* Test helpers: two vr_conn ends wired together in memory, no sockets. */
#ifndef VR_TEST_CONN_PUMP_H
#define VR_TEST_CONN_PUMP_H
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <videoredir/transport.h>

/* Moves every byte queued in from into to; returns how many. */
static inline size_t vr_test_move(struct vr_conn *from, struct vr_conn *to)
{
    const uint8_t *d;
    size_t n, moved = 0;
    while ((n = vr_conn_out_peek(from, &d)) > 0) {
        vr_conn_feed(to, d, n);
        vr_conn_out_consume(from, n);
        moved += n;
    }
    return moved;
}

/* Moves bytes both ways until both ends are quiet (at most 64 rounds: two
 * ends that keep answering each other stop there). */
static inline void vr_test_pump(struct vr_conn *a, struct vr_conn *b)
{
    for (int round = 0; round < 64; round++) {
        size_t moved = vr_test_move(a, b);
        moved += vr_test_move(b, a);
        if (!moved)
            return;
    }
}

/* Sends from `from` a message of type for stream id whose body is the first
 * len bytes of its union, then pumps both ways. Returns vr_conn_send's
 * result (-ENOMEM when the message cannot be made). */
static inline int vr_test_send_msg(struct vr_conn *from, struct vr_conn *to, uint16_t type, uint32_t id,
                                   const void *body, size_t len)
{
    struct vr_msg *m = calloc(1, sizeof(*m)); /* large: off the stack */
    if (!m || len > sizeof(m->u)) {
        free(m);
        return -ENOMEM;
    }
    m->type = type;
    m->stream_id = id;
    memcpy(&m->u, body, len);
    int ret = vr_conn_send(from, m);
    free(m);
    vr_test_pump(from, to);
    return ret;
}
#endif
