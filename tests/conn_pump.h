/* Test helpers: two vr_conn ends wired together in memory, no sockets. */
#ifndef VR_TEST_CONN_PUMP_H
#define VR_TEST_CONN_PUMP_H
#include <stddef.h>

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
#endif
