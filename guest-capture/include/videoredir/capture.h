/*
 * videoredir guest capture: where compressed video comes from on the guest
 * and the session state machine that sends it to the client.
 *
 * Two independent parts:
 *  - vr_source: a demuxer over libavformat that turns a media file into a
 *    vr_stream_start description and access units, exactly as av_read_frame
 *    returns them (no bitstream filters).
 *  - vr_guest: the guest side of a videoredir session (hello, stream
 *    announcement, accept/reject, flow control, ping/pong, liveness, end of
 *    stream). It does no I/O: it owns a vr_conn whose bytes the caller moves
 *    (vr_fd_read / vr_fd_flush on a device, or anything else) and is driven
 *    by the caller's event loop through vr_guest_tick() and
 *    vr_guest_next_timeout(). The CLI and the GStreamer sink share it.
 *
 * Neither part prints or aborts; they report through return values, error
 * strings and an optional log callback. Objects are not thread-safe: use each
 * from one thread at a time.
 */
#ifndef VIDEOREDIR_CAPTURE_H
#define VIDEOREDIR_CAPTURE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <videoredir/protocol.h>
#include <videoredir/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Demuxer source.                                                          */

struct vr_source;

/* One access unit. data is owned by the source and valid until the next
 * vr_source_read/rewind/close on it. */
struct vr_au {
    const uint8_t *data;
    uint32_t len;      /* 1..VR_MAX_FRAME_DATA */
    uint32_t flags;    /* VR_FRAME_KEY, VR_FRAME_DROPPABLE */
    int64_t pts, dts;  /* stream time base; INT64_MIN = unknown */
    int64_t duration;  /* stream time base; 0 = unknown */
};

/*
 * Opens a media file and selects its first video stream. On success returns
 * 0 and *out (free with vr_source_close). On failure returns a negative errno
 * (-ENOENT missing file, -ENOTSUP codec videoredir does not carry, -EINVAL
 * unusable stream parameters, -EIO unreadable file, ...) and writes a
 * human-readable reason to err (errlen bytes, NUL-terminated) when err is
 * not NULL.
 */
int vr_source_open(const char *path, struct vr_source **out, char *err, size_t errlen);

/* Closes the file and frees s. NULL is a no-op. */
void vr_source_close(struct vr_source *s);

/* The stream description: codec, coded size, time base (the stream's
 * time_base), frame rate, colour, extradata exactly as libavformat gives it
 * and VR_STREAM_ANNEXB for H.264/HEVC without avcC/hvcC. The pointer and the
 * extradata it borrows stay valid until vr_source_close. */
const struct vr_stream_start *vr_source_stream_start(const struct vr_source *s);

/* Short names for logs: container ("mov,mp4,...", "matroska,webm", ...)
 * and the stream index picked. Valid until vr_source_close. */
const char *vr_source_container(const struct vr_source *s);
int vr_source_stream_index(const struct vr_source *s);

/*
 * Reads the next access unit of the video stream into *au.
 * Returns 1 with *au filled, 0 at end of file, or a negative errno (then a
 * reason is available from vr_source_error). Packets of other streams are
 * skipped; empty packets are skipped (the wire cannot carry them).
 */
int vr_source_read(struct vr_source *s, struct vr_au *au);

/*
 * Goes back to the start of the file for looping. Timestamps of the next
 * pass are shifted so that they continue after the last access unit read
 * (the receiver sees one longer stream, no discontinuity). Returns 0 or a
 * negative errno.
 */
int vr_source_rewind(struct vr_source *s);

/* The last error's reason, "" if none. Valid until the next call on s. */
const char *vr_source_error(const struct vr_source *s);

/* ---------------------------------------------------------------------- */
/* Guest session state machine.                                            */

struct vr_guest;

enum vr_guest_state {
    VR_GUEST_CLOSED = 0,   /* no channel: waiting for vr_guest_channel_open */
    VR_GUEST_HELLO,        /* channel open, sending HELLO, waiting for the client's */
    VR_GUEST_ANNOUNCED,    /* session up, STREAM_START sent, waiting for ACCEPT */
    VR_GUEST_STREAMING,    /* accepted: frames may flow (within the window) */
    VR_GUEST_IDLE,         /* session up, no stream set (or stream stopped) */
    VR_GUEST_FAILED,       /* terminal: rejected, accept timeout, version mismatch */
};

enum vr_guest_event {
    VR_GUEST_EV_SESSION,          /* client's hello received; detail: its software */
    VR_GUEST_EV_PEER_RESTART,     /* client restarted (new non-reply hello) */
    VR_GUEST_EV_ACCEPTED,         /* detail: the client's decoder name */
    VR_GUEST_EV_REJECTED,         /* detail: the client's message (state FAILED) */
    VR_GUEST_EV_ACCEPT_TIMEOUT,   /* no answer to STREAM_START (state FAILED) */
    VR_GUEST_EV_VERSION_MISMATCH, /* no common protocol version (state FAILED) */
    VR_GUEST_EV_PEER_GONE,        /* nothing heard for the peer timeout: back to HELLO */
    VR_GUEST_EV_KEYFRAME_REQUEST, /* client wants a keyframe; detail: reason name */
    VR_GUEST_EV_FEEDBACK,         /* a FEEDBACK for our stream arrived */
};

enum vr_log_level { VR_LOG_ERROR = 0, VR_LOG_WARNING, VR_LOG_INFO, VR_LOG_DEBUG };

struct vr_guest_callbacks {
    /* Log line (no trailing newline), valid only during the call. May be NULL. */
    void (*log)(void *user, enum vr_log_level level, const char *msg);
    /* Something happened; detail may be "" and is valid only during the call.
     * Called from inside vr_fd_read/vr_conn_feed or vr_guest_tick; it must not
     * destroy the guest. May be NULL. */
    void (*event)(void *user, enum vr_guest_event ev, const char *detail);
    /* Clock in microseconds (monotonic). NULL: vr_time_us. Tests inject one. */
    uint64_t (*clock)(void *user);
};

struct vr_guest_config {
    uint32_t stream_id;            /* 1..VR_MAX_STREAM_ID; 0 = 1 */
    struct vr_conn_config conn;    /* sizes of the owned vr_conn; zeros = defaults */
    const char *software;          /* sent in hello; NULL = "videoredir-capture <version>" */
    /* Timers in microseconds; 0 = the protocol's defaults (1 s, 1 s, 3 s, 5 s). */
    uint64_t hello_interval_us, ping_interval_us, accept_timeout_us, peer_timeout_us;
    /* Player mode (vr_guest_push_frame) only. GOP cache caps: a group of
     * pictures longer than this is not kept for resending (a reconnecting
     * client then waits for the player's next keyframe); 0 = 600 frames,
     * 64 MiB. Backlog: frames the window has not let out yet; above it the
     * drop policy runs; 0 = 25. */
    uint32_t gop_max_frames;
    uint32_t gop_max_bytes;
    uint32_t max_backlog;
};

struct vr_guest_stats {
    uint64_t frames_sent, frames_skipped; /* skipped: waiting for a keyframe */
    uint64_t es_bytes;                    /* access unit bytes sent */
    uint64_t keyframe_requests, feedbacks, pings_sent, pongs_received;
    uint64_t sessions;                    /* sessions established */
    uint64_t peer_acked;                  /* bytes the client reported in this session */
    uint32_t rtt_us;                      /* last ping round trip, 0 = unknown */
    /* Video sent and not yet acknowledged by the client (the time window,
     * vr_conn_window_allows), µs: now, and the most right after a send. */
    uint64_t in_flight_us, in_flight_max_us;
    /* Player mode. */
    uint64_t frames_dropped;              /* not sent: the client fell behind */
    uint64_t frames_resent;               /* sent again from the GOP cache */
    uint64_t gop_resends;                 /* times the cached GOP was replayed */
    uint64_t gop_overflows;               /* GOPs too long to keep */
    uint32_t cache_frames, cache_bytes;   /* GOP cache now */
    uint32_t backlog;                     /* frames waiting for the window now */
    struct vr_feedback last_feedback;     /* the client's last report */
};

/* Creates a guest session in state CLOSED, with its own vr_conn. cfg may be
 * NULL (defaults); cb is copied and may be NULL. Returns 0 and *out or a
 * negative errno. */
int vr_guest_create(const struct vr_guest_config *cfg, const struct vr_guest_callbacks *cb,
                    void *user, struct vr_guest **out);
/* Frees g and its conn. NULL is a no-op. */
void vr_guest_destroy(struct vr_guest *g);

/* The owned connection: feed received bytes into it (vr_fd_read or
 * vr_conn_feed) and write out what it queues (vr_fd_flush or
 * vr_conn_out_peek/consume). Valid until vr_guest_destroy. */
struct vr_conn *vr_guest_conn(struct vr_guest *g);

/* The channel became usable (device/socket opened): resets the conn and
 * starts the handshake (HELLO now and every hello interval). Not to be
 * called from inside a callback. */
void vr_guest_channel_open(struct vr_guest *g);
/* Leaves FAILED (rejected, no answer, no common version) for CLOSED, with
 * the stream and the GOP cache kept, so that the next channel tries again:
 * another client may take what this one refused. No-op in other states. */
void vr_guest_retry(struct vr_guest *g);
/* The channel went away (EOF, error): back to CLOSED; the stream, if any, is
 * kept and announced again on the next session. */
void vr_guest_channel_closed(struct vr_guest *g);

/*
 * Sets the stream to announce (copied, extradata included) with its
 * geometry and optional visible region (NULL: the whole content rectangle is
 * visible). If a session is up it is announced at once, otherwise as soon as
 * the client says hello. Returns 0, -EBUSY if a stream is already set, or
 * -EINVAL/-E2BIG/-ENOMEM.
 */
int vr_guest_set_stream(struct vr_guest *g, const struct vr_stream_start *start,
                        const struct vr_geometry *geom, const struct vr_region *region);
/* Updates geometry / region (region NULL: whole content visible again); sent
 * at once while the stream is announced. Returns 0 or a negative errno. */
int vr_guest_set_geometry(struct vr_guest *g, const struct vr_geometry *geom);
int vr_guest_set_region(struct vr_guest *g, const struct vr_region *region);

/*
 * True when a frame of data_len bytes may be sent now: state STREAMING and
 * the flow-control window has room, in time and in bytes
 * (vr_conn_window_allows): at most conn.window_us (default 1 s) of the
 * stream's video beyond what the client acknowledged, and at most
 * conn.window_bytes (default 2 MiB) of messages; a frame larger than either
 * is allowed when nothing is in flight.
 */
bool vr_guest_can_send(const struct vr_guest *g, uint32_t data_len);

/*
 * Sends one access unit (the conn numbers it). Until the first keyframe
 * after ACCEPT (or after a reconnect), non-key frames are skipped.
 * Returns 1 if sent, 0 if skipped, -EAGAIN if not streaming or the window
 * is full (see vr_guest_can_send), or another negative errno.
 */
int vr_guest_send_frame(struct vr_guest *g, const struct vr_au *au, uint32_t extra_flags);

/*
 * Player mode, for a sink that cannot wait for the client: hands over one
 * access unit (copied) and sends what the flow-control window lets out, in
 * order; the rest waits (vr_guest_pump). Never blocks and never refuses for
 * flow control. The access units since the last keyframe stay in a GOP
 * cache, so a client that connects, reconnects or asks for a keyframe gets a
 * decodable stream at once: the cached GOP from its keyframe (after a FLUSH
 * when the client was already decoding). When more than max_backlog frames
 * wait, droppable frames (VR_FRAME_DROPPABLE) are dropped first, then the
 * rest of the GOP up to the next keyframe, never a reference frame a later
 * sent frame needs; counted in frames_dropped. Returns 0 or -EINVAL/-ENOMEM.
 * Do not mix with vr_guest_send_frame on one guest.
 */
int vr_guest_push_frame(struct vr_guest *g, const struct vr_au *au, uint32_t extra_flags);
/* Sends waiting frames the window now allows (call after input was fed).
 * Returns the number sent. */
int vr_guest_pump(struct vr_guest *g);
/*
 * A seek in the player: FLUSH to the client (it drops what it holds and
 * resets its decoder), the GOP cache and the backlog are emptied, the clock
 * is forgotten until the next vr_guest_set_clock, frames wait for a keyframe.
 * Returns 0 or a negative errno.
 */
int vr_guest_flush(struct vr_guest *g);
/*
 * Ties stream timestamps to the guest clock (see struct vr_clock): the frame
 * with timestamp pts is due at time_us (vr_time_us scale) at rate_q16
 * (65536 normal, 0 paused). Sent now when streaming, and again after every
 * ACCEPT and resend FLUSH. Returns 0 or -EINVAL.
 */
int vr_guest_set_clock(struct vr_guest *g, int64_t pts, uint64_t time_us, uint32_t rate_q16);

/* Ends the stream: STREAM_STOP with reason (VR_REASON_EOS at end of file).
 * The guest goes IDLE. Returns 0, -ENOENT if no stream is set, or a negative
 * errno. */
int vr_guest_stop(struct vr_guest *g, uint32_t reason);

/* True when everything sent before the stop is out of the conn and the
 * client's feedback has acknowledged at least the last frame. */
bool vr_guest_drained(const struct vr_guest *g);
/* True when the conn has nothing left to write. */
bool vr_guest_output_empty(const struct vr_guest *g);

/* Runs the timers (hello resend, ping, accept timeout, peer liveness).
 * Call it after input was fed and whenever vr_guest_next_timeout expires. */
void vr_guest_tick(struct vr_guest *g);
/* Microseconds until vr_guest_tick has something to do; UINT64_MAX if none. */
uint64_t vr_guest_next_timeout(const struct vr_guest *g);

enum vr_guest_state vr_guest_get_state(const struct vr_guest *g);
const char *vr_guest_state_name(enum vr_guest_state s);
/* Why the guest is FAILED ("" otherwise). Valid until the next call on g. */
const char *vr_guest_error(const struct vr_guest *g);
/* The client's hello (valid once a session was established), or NULL. */
const struct vr_hello *vr_guest_peer_hello(const struct vr_guest *g);
void vr_guest_get_stats(const struct vr_guest *g, struct vr_guest_stats *st);

/* ---------------------------------------------------------------------- */
/* Sending a file: vr_sender.                                              */
/*
 * Drives a vr_source into a vr_guest as videoredir-capture does: real-time
 * pacing (or as fast as flow control allows), extra passes over the file,
 * changes at given play times (move, region, seek, restart), and the loops
 * that move the bytes: a port device (or the host stand-in's socket) with
 * reopening, a connect timeout and a bounded drain at the end; or, for
 * recordings, an in-memory stand-in client on a virtual clock. It borrows
 * the source and the guest (both outlive it). One thread; it does not
 * print: it logs through the config's callback.
 */

struct vr_record_writer;
struct vr_sender;

/* A change at a time of the stream: applied before the first frame at or
 * after at_us of play time (microseconds since the first frame, counting
 * on over passes and restarts). */
enum vr_change_kind {
    VR_CHANGE_GEOMETRY, /* window (and content) become rect */
    VR_CHANGE_REGION,   /* visible region becomes region (NULL: all visible) */
    VR_CHANGE_FLUSH,    /* seek: FLUSH, then the file again from its start (DISCONT) */
    VR_CHANGE_RESTART,  /* stop the stream (user) and start it again from the file's start */
};
#define VR_SENDER_MAX_CHANGES 64

struct vr_change {
    enum vr_change_kind kind;
    uint64_t at_us;
    struct vr_rect rect;            /* GEOMETRY */
    const struct vr_region *region; /* REGION: borrowed, must outlive the sender */
};

enum vr_sender_pace {
    VR_SENDER_PACE_REALTIME, /* each frame when its time has come (after the first sent) */
    VR_SENDER_PACE_NONE,     /* as fast as the flow-control window allows */
};

struct vr_sender_config {
    enum vr_sender_pace pace;
    long loops;                     /* extra passes over the file; -1 for ever */
    struct vr_geometry geometry;    /* as announced with the stream */
    const struct vr_region *region; /* as announced (borrowed); NULL: all visible */
    const struct vr_change *changes;/* copied (regions borrowed); any order, kept stable */
    uint32_t n_changes;             /* at most VR_SENDER_MAX_CHANGES */
    /* ORed into the source's stream start when the stream is started again
     * (--restart-at), e.g. VR_STREAM_MARKED and its code: the same flags as
     * the caller's own first vr_guest_set_stream. */
    uint16_t stream_flags;
    /* Time jumps to whatever is due next instead of passing
     * (vr_sender_run_offline only): a recording made at once. */
    bool virtual_clock;
    /* Open/close events of the device go into it (may be NULL); the caller
     * taps the guest's connection for the messages. Borrowed. */
    struct vr_record_writer *record;
    /* Log lines (no newline, valid during the call); may be NULL. */
    void (*log)(void *user, enum vr_log_level level, const char *msg);
    void *user;
    /* The stop where there is no stop fd (Windows): when not NULL, a
     * non-zero *stop_flag asks for the stop as a readable stop_fd does, and
     * a wait of the device loop then sleeps at most 50 ms, so a stop takes
     * effect within that. May be set by a signal handler, also one that runs
     * on another thread (Windows' Ctrl+C); borrowed, must outlive the run. */
    const volatile sig_atomic_t *stop_flag;
};

/* Creates a sender over src and guest (the guest has its stream set). Returns
 * 0 and *out, -EINVAL for bad arguments (too many changes), -ENOMEM. */
int vr_sender_create(struct vr_source *src, struct vr_guest *guest, const struct vr_sender_config *cfg,
                     struct vr_sender **out);
/* Frees s and closes its device; NULL is a no-op. The source and guest stay
 * (destroy s first: it takes its direct writer off the guest's connection). */
void vr_sender_destroy(struct vr_sender *s);

/* The sender's clock in microseconds: vr_time_us(), or the virtual clock.
 * Give it to the guest's and the record writer's clock callbacks (0 while
 * s is NULL). */
uint64_t vr_sender_now(const struct vr_sender *s);
/* Microseconds since the run started (on the sender's clock). */
uint64_t vr_sender_elapsed_us(const struct vr_sender *s);

/* Pass every event of the guest on (from its event callback): a new session
 * or an accept restarts the pacing; a lost peer starts the connect timeout. */
void vr_sender_guest_event(struct vr_sender *s, enum vr_guest_event ev);

/* Sends what may be sent now (for a front end with its own loop). Returns 0
 * with *wait_us: microseconds until pacing lets the next frame go, 0 to come
 * back at once, UINT64_MAX when it waits for the window or the session (input
 * wakes it); or a negative errno on a read or send error (logged). */
int vr_sender_pump(struct vr_sender *s, uint64_t *wait_us);
/* Every pass was read and sent. */
bool vr_sender_at_end(const struct vr_sender *s);

enum vr_sender_result {
    VR_SENDER_DONE = 0,      /* sent to the end, stopped (EOS) and drained */
    VR_SENDER_STOPPED,       /* stop_fd or stop_flag: stopped (user), drained up to 1 s */
    VR_SENDER_ERR_INPUT,     /* the file could not be read, or a change failed */
    VR_SENDER_ERR_DEVICE,    /* the device cannot be opened or failed */
    VR_SENDER_ERR_REJECTED,  /* rejected, no answer, or no common version */
    VR_SENDER_ERR_NO_CLIENT, /* no client within the connect timeout */
};

/* Opens device with vr_fd_open (reopened every 0.5 s while it fails or the
 * host closes it) and runs the session until the file was sent and
 * acknowledged (or 3 s), an error, or a stop: stop_fd (-1: none) becomes
 * readable, e.g. a signal's self-pipe, or config.stop_flag is set; then the
 * stream is stopped (user) and what is queued is delivered for up to 1 s.
 * stop_fd is polled together with the device, never read: Linux only (on
 * Windows it is ignored, use stop_flag). Blocks. */
enum vr_sender_result vr_sender_run_device(struct vr_sender *s, const char *device,
                                           double connect_timeout_s, int stop_fd);
/* The same with an in-memory client that accepts everything, on the
 * virtual clock (config.virtual_clock must be set): for recordings
 * without a client. */
enum vr_sender_result vr_sender_run_offline(struct vr_sender *s, int stop_fd);

/* Text forms, as videoredir-capture's options take them. Return 0 or
 * -EINVAL. "X,Y,W,H" (W,H > 0, within the protocol's caps): */
int vr_rect_parse(const char *s, struct vr_rect *r);
/* "X,Y,W,H;X,Y,W,H;..." (at most VR_MAX_RECTS; "" is the empty region): */
int vr_region_parse(const char *s, struct vr_region *reg);
/* "SECONDS" (FLUSH, RESTART) or "SECONDS:X,Y,W,H" (GEOMETRY) or
 * "SECONDS:REGION" / "SECONDS:all" (REGION). A region is allocated into
 * *region (caller frees with free(); NULL for "all" and other kinds) and
 * borrowed by out->region. Also -ENOMEM. */
int vr_change_parse(enum vr_change_kind kind, const char *arg, struct vr_change *out,
                    struct vr_region **region);

#ifdef __cplusplus
}
#endif

#endif
