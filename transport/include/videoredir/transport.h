/*
 * videoredir transport: framing, reassembly, flow control and sequence
 * tracking over any byte stream, plus the file-descriptor adapter used by the
 * guest (a /dev/virtio-ports/NAME device or the host stand-in's unix socket).
 *
 * The connection object is "sans I/O": bytes go in with vr_conn_feed(), whole
 * messages come out through a callback; messages to send are queued with
 * vr_conn_send() and drained by whatever adapter owns the actual channel.
 * A vr_conn is not thread-safe: use it from one thread at a time.
 * Depends on libc and the protocol library only.
 */
#ifndef VIDEOREDIR_TRANSPORT_H
#define VIDEOREDIR_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <videoredir/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default SPICE port name (virtio-serial port name in the guest). */
#define VR_DEFAULT_PORT_NAME "org.spice-space.videoredir.0"

/* ---------------------------------------------------------------------- */
/* Reassembler: arbitrary chunks in, whole raw messages out.               */

struct vr_reassembler {
    uint8_t *buf;     /* owned */
    size_t len, cap;  /* bytes held, bytes allocated */
    size_t start;     /* offset of the first unconsumed byte */
    size_t max;       /* hard cap on bytes held (>= one maximal message) */
    uint64_t resync_bytes; /* bytes skipped looking for a valid header */
};

/* Initialises r to hold at most max bytes (0: VR_HEADER_SIZE + VR_MAX_PAYLOAD).
 * Returns 0 or -EINVAL. Storage is the caller's; release with _finish. */
int vr_reassembler_init(struct vr_reassembler *r, size_t max);
void vr_reassembler_finish(struct vr_reassembler *r);
/* Forget all buffered bytes (e.g. the peer reconnected). */
void vr_reassembler_reset(struct vr_reassembler *r);

/* Appends len bytes. Returns 0, or -ENOBUFS if that would exceed max
 * (nothing appended), -ENOMEM. */
int vr_reassembler_push(struct vr_reassembler *r, const uint8_t *data, size_t len);

/*
 * Takes the next whole message out. On success returns 1 and sets *msg and *len
 * to header + payload, valid until the next call on r. Returns 0 when more
 * bytes are needed. Returns -EBADMSG, -EPROTONOSUPPORT or -EMSGSIZE for a bad
 * header: the reassembler has then already skipped ahead to the next possible
 * magic (counted in resync_bytes), so the caller may log and call again.
 */
int vr_reassembler_pop(struct vr_reassembler *r, const uint8_t **msg, size_t *len);

/* ---------------------------------------------------------------------- */
/* Sequence tracking on the receiving side, one per stream.               */

struct vr_seq_rx {
    bool started;
    uint32_t expected; /* next seq expected */
    uint64_t lost;     /* frames skipped over by gaps, cumulative */
};

/* Resets the tracker (stream start): the next frame's seq is accepted as-is. */
void vr_seq_rx_reset(struct vr_seq_rx *s);
/* Checks seq. Returns the number of frames missing before it (0 in order),
 * or -EALREADY for a duplicate or older seq (which should be dropped). */
long vr_seq_rx_check(struct vr_seq_rx *s, uint32_t seq);

/* ---------------------------------------------------------------------- */
/* Connection.                                                              */

struct vr_conn;

enum vr_direction { VR_DIR_IN = 0, VR_DIR_OUT = 1 };

struct vr_conn_callbacks {
    /* A valid message arrived. msg and raw are valid only during the call.
     * Frames have already passed sequence tracking: gaps were reported
     * through on_gap first, duplicates were dropped. */
    void (*on_message)(void *user, const struct vr_msg *msg);
    /* A frame of stream_id arrived after `missing` frames were lost. */
    void (*on_gap)(void *user, uint32_t stream_id, uint32_t missing);
    /* Input that was skipped: bad header (resync), malformed or unknown
     * message (err is the vr_msg_decode error). May be NULL. */
    void (*on_error)(void *user, int err, uint16_t type, uint32_t stream_id);
};

struct vr_conn_config {
    size_t max_in_bytes;  /* reassembly cap; 0 = default (one maximal message) */
    size_t max_out_bytes; /* outgoing queue cap; 0 = default 8 MiB */
    size_t window_bytes;  /* flow-control window for frames; 0 = default 2 MiB */
    uint64_t window_us;   /* time window per stream, µs of video; 0 = default 1 s
                           * (see vr_conn_window_allows) */
};

/* Creates a connection. cb is copied; user is passed to every callback.
 * Returns 0 and *out, or -EINVAL / -ENOMEM. */
int vr_conn_create(const struct vr_conn_config *cfg, const struct vr_conn_callbacks *cb,
                   void *user, struct vr_conn **out);
/* Frees c and its buffers. NULL is a no-op. */
void vr_conn_destroy(struct vr_conn *c);

/* Drops buffered input and output, sequence and flow-control state: used when
 * the peer (re)connects or the channel closes. Statistics are kept. */
void vr_conn_reset(struct vr_conn *c);

/*
 * Feeds received bytes; calls on_message for every complete message, in
 * order (callbacks may call vr_conn_send, not vr_conn_feed/destroy).
 * Returns 0, or -ENOBUFS if the reassembly cap was hit (input dropped and
 * the conn reset), -ENOMEM.
 */
int vr_conn_feed(struct vr_conn *c, const uint8_t *data, size_t len);
/*
 * Like vr_conn_feed, but stops taking bytes once the messages dispatched in
 * this call add up to quota bytes or more (0: no limit), so that a caller
 * can bound the work per call (a frame may be decoded, a few hundred tiny
 * messages are cheap) and feed straight from its own buffers. *used (may be
 * NULL) is set to the bytes taken from data, which are counted in bytes_in
 * as they are taken; the caller passes the rest again later. A message cut
 * by the end of data is kept (copied) and counts as taken.
 */
int vr_conn_feed_some(struct vr_conn *c, const uint8_t *data, size_t len, size_t quota,
                      size_t *used);

/*
 * Encodes msg and queues it. For VR_MSG_FRAME the conn assigns the stream's
 * next sequence number (the seq in msg is ignored); VR_MSG_STREAM_START
 * restarts that stream's numbering at 0. Returns 0, -ENOBUFS if the queue
 * is over its cap (nothing queued), -EINVAL/-E2BIG for an invalid message.
 */
int vr_conn_send(struct vr_conn *c, const struct vr_msg *msg);

/* Next contiguous chunk of queued output: returns its size (0 if nothing is
 * queued) and sets *data, valid until the next call that changes c. */
size_t vr_conn_out_peek(struct vr_conn *c, const uint8_t **data);
/* Marks n bytes of the peeked chunk as written. */
void vr_conn_out_consume(struct vr_conn *c, size_t n);
/* Total bytes queued and not yet consumed. */
size_t vr_conn_out_queued(const struct vr_conn *c);

/*
 * Flow control (sender of frames), in bytes and in time. The peer reports,
 * in feedback, how many bytes it has received (handled) in this session;
 * vr_conn_ack() takes that count, in the same origin as the bytes this conn
 * queued since its last reset. Bytes in flight = queued - acked, over every
 * message. Each FRAME queued is remembered with where it ends and how much
 * video it holds (its duration, else the nominal frame rate, else the
 * timestamp step, in the time base of the stream's STREAM_START sent through
 * this conn); an ack that reaches its end retires it.
 */
void vr_conn_ack(struct vr_conn *c, uint64_t peer_bytes_received);
/* Bytes that may be queued now without exceeding the byte window. */
size_t vr_conn_window_available(const struct vr_conn *c);
/*
 * True when a FRAME of stream_id whose encoded size is `size` bytes may be
 * queued now: nothing at all is in flight (so a frame larger than a window
 * always goes eventually), or it fits in the byte window and the stream's
 * video in flight plus its latest frame's duration stays within window_us
 * (or none of its frames is in flight; a stream with no STREAM_START sent
 * here is bounded in bytes only). At most 1024 frames are in flight.
 */
bool vr_conn_window_allows(const struct vr_conn *c, uint32_t stream_id, size_t size);
/* Video of stream_id sent and not yet acknowledged, in microseconds (0 when
 * unknown). */
uint64_t vr_conn_in_flight_us(const struct vr_conn *c, uint32_t stream_id);

/* Tap: called for every message sent (when queued) and received (before
 * dispatch), with its raw encoded bytes, valid only during the call. Used to
 * record sessions. fn NULL removes it. */
typedef void (*vr_conn_tap_fn)(void *user, enum vr_direction dir, const uint8_t *raw,
                               size_t len);
void vr_conn_set_tap(struct vr_conn *c, vr_conn_tap_fn fn, void *user);

/* One piece of a scatter-gather write: len bytes at data. */
struct vr_iov {
    const uint8_t *data;
    size_t len;
};
/* Writes the n pieces in order without blocking. Returns the bytes it took
 * (0 up to their total), or a negative errno, which counts as none taken:
 * the message stays queued and the adapter's next flush meets the error. */
typedef long (*vr_conn_write_fn)(void *user, const struct vr_iov *iov, size_t n);
/*
 * Lets vr_conn_send write a FRAME of 1 KiB or more straight from the
 * caller's buffer while nothing is queued: its header and its data go to fn
 * as two pieces (the data is not copied), and only what fn did not take is
 * queued. Smaller frames and other messages are queued as always (several go
 * out in one write). Not used while a tap is set (a tap sees whole messages).
 * fn NULL turns it off; the owner must do so before the channel behind fn
 * goes away. Same thread as every other call on c.
 */
void vr_conn_set_writer(struct vr_conn *c, vr_conn_write_fn fn, void *user);

struct vr_conn_stats {
    uint64_t bytes_in, bytes_out;   /* bytes fed / queued for output */
    /* Bytes fed and handled: whole messages dispatched (inside on_message,
     * the current one included) and garbage skipped; the rest of bytes_in
     * waits for the end of its message. What a receiver acknowledges. */
    uint64_t bytes_consumed;
    uint64_t msgs_in, msgs_out;
    uint64_t bad_msgs;              /* malformed or bad-header, skipped */
    uint64_t unknown_msgs;          /* unknown type, skipped */
    uint64_t resync_bytes;          /* bytes skipped to find a header */
    uint64_t frames_lost;           /* sum of gaps reported */
    uint64_t acked;                 /* last peer_bytes_received */
};
void vr_conn_get_stats(const struct vr_conn *c, struct vr_conn_stats *st);

/* ---------------------------------------------------------------------- */
/* Channel adapter (guest side): fd.c on Linux, win32port.c on Windows.     */

/* Where the guest finds the port by default. */
#ifdef _WIN32
#define VR_DEFAULT_DEVICE "\\\\.\\Global\\" VR_DEFAULT_PORT_NAME
#else
#define VR_DEFAULT_DEVICE "/dev/virtio-ports/" VR_DEFAULT_PORT_NAME
#endif

/*
 * Opens the channel at path without blocking and returns a small
 * non-negative channel number, or a negative errno. The back end is chosen by
 * looking at the path (a table in each adapter):
 *  - Linux (fd.c): a unix stream socket (the host stand-in's --guest-socket)
 *    is connected, anything else (a /dev/virtio-ports/NAME character device)
 *    is opened read-write; the number is the fd.
 *  - Windows (win32port.c): "tcp:HOST:PORT" connects to the host stand-in's
 *    --guest-tcp listener (tests under Wine, which has no vioserial);
 *    anything else, e.g. \\.\Global\NAME, is opened with CreateFile for
 *    overlapped I/O (the vioserial driver of virtio-win). -ENOENT: no such
 *    port, -EBUSY: another program has it open.
 * The Windows adapter keeps its channels in a table (opening and closing
 * are serialised); one channel is used by one thread at a time.
 */
int vr_fd_open(const char *path);

/* Closes a channel of vr_fd_open (pending I/O is cancelled first). */
void vr_fd_close(int fd);

/* vr_fd_wait result bits. */
#define VR_FD_READABLE 1
#define VR_FD_WRITABLE 2

/*
 * Waits up to timeout_ms (-1: no limit) until fd has input, an end or an
 * error to report (VR_FD_READABLE: call vr_fd_read), or, with want_write,
 * room for output (VR_FD_WRITABLE: call vr_fd_flush). fd < 0 just sleeps.
 * Returns the bits that are ready (0 on timeout or signal) or a negative
 * errno.
 */
int vr_fd_wait(int fd, bool want_write, int timeout_ms);

#ifdef _WIN32
/*
 * Windows only: vr_fd_wait that also returns, with 0, as soon as the event
 * `wake` (a HANDLE of an auto-reset event, or NULL) is set; fd < 0 waits for
 * wake or the timeout alone. For a thread that owns the port and must also
 * hear from other threads (the player session's I/O thread).
 */
int vr_fd_wait_event(int fd, bool want_write, int timeout_ms, void *wake);
#endif

/* Text for an error of vr_fd_open/read/flush, for users: strerror() on
 * Linux; on Windows it says what the vioserial driver means by it (no such
 * port, port in use, host side closed). Static storage. */
const char *vr_fd_strerror(int err);

/* Reads what is available from fd into c (via vr_conn_feed).
 * Returns 0 if data was read, -EAGAIN if nothing was available, -EPIPE when
 * the other end is gone (EOF or reset; for a virtio port this means the host
 * side closed it), or another negative errno. */
int vr_fd_read(struct vr_conn *c, int fd);

/* Writes queued output. Returns 0 when everything queued was written,
 * -EAGAIN if some is left (wait for POLLOUT), -EPIPE, or a negative errno.
 * Partial writes are handled. */
int vr_fd_flush(struct vr_conn *c, int fd);
/*
 * Makes vr_conn_send write large FRAMEs of c straight to fd (vr_conn_set_writer
 * with a non-blocking writev/sendmsg; what fd does not take is queued for
 * vr_fd_flush), so their data is not copied. fd < 0 detaches: call it before
 * closing fd or resetting the channel.
 */
void vr_fd_attach(struct vr_conn *c, int fd);

/* Monotonic clock in microseconds (the clock used for ping/pong and
 * frame send times). */
uint64_t vr_time_us(void);

/*
 * The libraries' log calls: when fn (a log callback taking (user, level,
 * text)) is set, formats the printf-style arguments into a line of at most
 * 511 bytes (longer ones are cut) and hands it over for the call.
 */
#define VR_LOGF(fn, user, level, ...)                                      \
    do {                                                                   \
        if (fn) {                                                          \
            char vr_logf_line_[512];                                       \
            snprintf(vr_logf_line_, sizeof(vr_logf_line_), __VA_ARGS__);   \
            (fn)((user), (level), vr_logf_line_);                          \
        }                                                                  \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
