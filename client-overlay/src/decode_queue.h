/*
 * A stream's decoder behind a queue (private to the client library).
 *
 * The session pushes access units in and pops what came out: decoded frames
 * with the guest send time of their access unit, decode errors, and the end
 * of a drain, in the order the decoder produced them. Inline, the decoder
 * runs in the pushing thread, inside push, drain and flush. Threaded, it runs
 * on a thread of the queue's own: push only queues a copy of the access unit,
 * so the session's thread goes on answering the guest (PONG, FEEDBACK) while
 * a slow decoder works through a backlog; wakeup is called from that thread
 * when something came out and the session should pop it.
 *
 * Every function is for the session's thread; only the decoder and wakeup
 * run on the queue's thread. The decoder is used by one thread only.
 */
#ifndef VR_DECODE_QUEUE_H
#define VR_DECODE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "videoredir/client.h"

struct vr_decode_queue;

enum vr_decode_out_kind {
    VR_DECODE_OUT_FRAME,      /* frame (owned by the popper), send_us */
    VR_DECODE_OUT_SEND_ERROR, /* the access unit seq was refused: err */
    VR_DECODE_OUT_ERROR,      /* decoding failed: err */
    VR_DECODE_OUT_DRAINED,    /* the drain is done: nothing more comes out */
};

struct vr_decode_out {
    enum vr_decode_out_kind kind;
    AVFrame *frame;
    uint64_t send_us; /* of frame's access unit; 0 unknown */
    uint32_t seq;
    int err;
};

/* Limits of what waits for a threaded decoder (a guest that honours the
 * flow-control window never gets near them). */
#define VR_DECODE_QUEUE_MAX_UNITS 256u
#define VR_DECODE_QUEUE_MAX_BYTES ((size_t)64 << 20)

/* Takes ownership of dec (also on failure). wakeup (may be NULL) is called
 * from the queue's thread when an output becomes ready while none was
 * waiting. Returns 0 and *out, -ENOMEM, or pthread_create's error negated
 * (e.g. -EAGAIN). */
int vr_decode_queue_create(struct vr_decoder *dec, bool threaded, void (*wakeup)(void *user),
                           void *user, struct vr_decode_queue **out);
/* Stops the thread (after the access unit it is decoding) and frees
 * everything, the decoder too. NULL is a no-op. */
void vr_decode_queue_destroy(struct vr_decode_queue *q);

/*
 * Queues (threaded) or decodes (inline) access unit f, whose data is
 * copied. send_us is its guest send time, msg_bytes the size of the message
 * that carried it (counted in vr_decode_queue_backlog until the decoder took
 * it), slow_us a test delay after decoding it. Returns 0, -ENOBUFS when the
 * queue is full (nothing queued) or -ENOMEM.
 */
int vr_decode_queue_push(struct vr_decode_queue *q, const struct vr_frame *f, uint64_t send_us,
                         size_t msg_bytes, uint32_t slow_us);
/* End of stream: what the decoder holds comes out, then DRAINED. */
int vr_decode_queue_drain(struct vr_decode_queue *q);
/* Seek: access units not decoded yet and outputs not popped yet are
 * dropped, then the decoder is flushed. */
void vr_decode_queue_flush(struct vr_decode_queue *q);
/* Next output, if any (true). */
bool vr_decode_queue_pop(struct vr_decode_queue *q, struct vr_decode_out *out);
/* Access units waiting for the decoder and the bytes of their messages. */
uint32_t vr_decode_queue_backlog(struct vr_decode_queue *q, size_t *msg_bytes);

#endif
