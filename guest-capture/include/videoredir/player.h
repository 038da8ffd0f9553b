/*
 * videoredir guest player session: one redirected video of a media player,
 * with the port it goes through, shared by every player front end
 * (videoredirsink, videoredirdec, the VLC module).
 *
 * A vr_player owns what a front end would otherwise have to write itself
 * around a vr_guest (capture.h): the port path (the configured device, else
 * $VIDEOREDIR_DEVICE, else /dev/virtio-ports/<port name>), opening it and
 * reopening it when it goes away, an I/O thread that moves bytes both ways
 * and runs the session's timers, and the guest state machine in player
 * mode (vr_guest_push_frame: GOP cache, flow control, CLOCK, flush, stop,
 * end-of-stream drain). No GLib, no GStreamer: pthreads and poll; on
 * Windows (the Media Foundation decoder) Win32 threads and the port's
 * overlapped I/O, the default port \\.\Global\<port name>.
 *
 * Never a black hole: the player tells its front end, through the `show`
 * callback, whether the SPICE client shows the video (it accepted the
 * stream and is streaming it) or the front end must show it locally (no
 * client, no answer, codec refused, client gone). While a client that said
 * hello has not answered the stream yet (at most the accept timeout), the
 * value does not change: no local decoder is started only to be stopped a
 * few milliseconds later. The front end keeps
 * what it needs to start local decoding at once (e.g. the access units of
 * the current GOP since its keyframe).
 *
 * Threads. Every function may be called from any thread except where said;
 * the player has its own lock and never calls a callback with it held.
 * Callbacks run on the player's I/O thread, one at a time, in order; they
 * may call any vr_player_* function except vr_player_destroy. A front end
 * must not hold a lock that its callbacks take while it calls
 * vr_player_destroy (destroy joins the I/O thread).
 *
 * Typical use (a player's streaming thread S, the application thread A):
 *   A: vr_player_create             (port opened in the background)
 *   S: vr_player_set_stream         (on caps / format known)
 *   S: vr_player_set_clock          (when the pts<->time relation changes)
 *   S: vr_player_push               (each access unit, in decode order)
 *   S: vr_player_flush              (seek)
 *   S: vr_player_finish             (end of stream: drains, bounded)
 *   any: vr_player_set_geometry / vr_player_set_region (window tracking)
 *   A: vr_player_destroy
 */
#ifndef VIDEOREDIR_PLAYER_H
#define VIDEOREDIR_PLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <videoredir/capture.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The port name used when neither a device nor $VIDEOREDIR_DEVICE is set. */
#define VR_PLAYER_DEFAULT_PORT "org.spice-space.videoredir.0"
/* The environment variable that names the port device (or the unix socket
 * of the videoredir-host stand-in) when the front end has no device set:
 * a player cannot set properties on an element it plugs itself. */
#define VR_PLAYER_DEVICE_ENV "VIDEOREDIR_DEVICE"

struct vr_player;

/* Where the video must be shown now. */
enum vr_player_show {
    VR_PLAYER_SHOW_NONE = 0, /* no stream set (before the first, after the end) */
    VR_PLAYER_SHOW_LOCAL,    /* the front end decodes and shows it in the guest */
    VR_PLAYER_SHOW_CLIENT,   /* the SPICE client shows it; the guest shows a placeholder */
};

struct vr_player_config {
    /* Port device or unix socket. NULL or "": $VIDEOREDIR_DEVICE if set and
     * not empty, else /dev/virtio-ports/<port_name>. */
    const char *device;
    const char *port_name;   /* NULL: VR_PLAYER_DEFAULT_PORT */
    const char *software;    /* sent in hello; NULL: "videoredir-player <version>" */
    /* 0 = defaults: no answer to the stream for 2 s, or 2 s of silence from
     * the client (it pings every second), means local playback. */
    uint64_t accept_timeout_us, peer_timeout_us;
    uint64_t reopen_interval_us; /* port open retry; 0 = 500 ms */
    uint64_t drain_timeout_us;   /* vr_player_finish bound; 0 = 3 s */
};

struct vr_player_callbacks {
    /* Log line (no trailing newline), valid only during the call. Called
     * from any thread that calls into the player, possibly with the player's
     * lock held: it must not call back into the player. May be NULL. */
    void (*log)(void *user, enum vr_log_level level, const char *msg);
    /* Where the video is shown changed (never called twice in a row with
     * the same value, except that every vr_player_set_stream makes the next
     * call happen even if the value is the same, so a front end can restart
     * its local decoding on new caps). why: a short reason for logs, valid
     * only during the call. I/O thread, player lock not held. May be NULL. */
    void (*show)(void *user, enum vr_player_show where, const char *why);
};

struct vr_player_stats {
    struct vr_guest_stats guest;          /* the session's counters */
    enum vr_guest_state state;            /* the session's state now */
    enum vr_player_show show;             /* where the video is shown now */
    uint64_t frames_in;                   /* access units handed to vr_player_push */
    uint64_t switches_local, switches_client;
    bool port_open;
};

/*
 * Creates a player session and starts its I/O thread, which opens the port
 * (and retries every reopen interval while it cannot). cfg and cb are
 * copied (the strings too); either may be NULL. Returns 0 and *out, or a
 * negative errno (-ENOMEM, or thread creation's error).
 */
int vr_player_create(const struct vr_player_config *cfg, const struct vr_player_callbacks *cb, void *user,
                     struct vr_player **out);

/* Stops the stream if one is set (STREAM_STOP, reason "user"), writes out
 * what it can without blocking, joins the I/O thread, closes the port and
 * frees p. NULL is a no-op. Not from a callback. */
void vr_player_destroy(struct vr_player *p);

/* The port path in use (resolved at create). Valid until destroy. */
const char *vr_player_device_path(const struct vr_player *p);

/*
 * Sets the stream to send (copied, extradata included), with its geometry
 * and visible region (region NULL: the whole content rectangle is visible).
 * A stream already set is stopped first (new caps: a new stream), and the
 * `show` callback fires again. Returns 0 or -EINVAL/-E2BIG/-ENOMEM.
 */
int vr_player_set_stream(struct vr_player *p, const struct vr_stream_start *start,
                         const struct vr_geometry *geom, const struct vr_region *region);

/* Where the video is on the guest desktop, and what of it is visible
 * (region NULL: all of it). Sent at once while the stream is announced,
 * remembered otherwise. Returns 0 or a negative errno. */
int vr_player_set_geometry(struct vr_player *p, const struct vr_geometry *geom);
int vr_player_set_region(struct vr_player *p, const struct vr_region *region);

/*
 * Hands over one access unit (copied), in decode order. It is sent as soon
 * as the flow-control window allows, from this thread when possible, else
 * by the I/O thread. Never blocks on the client, never refuses for flow
 * control (see vr_guest_push_frame for the GOP cache and the drop policy).
 * extra_flags: VR_FRAME_DISCONT on the first keyframe after a seek.
 * Returns 0 or -EINVAL (no stream set, bad access unit) / -ENOMEM.
 */
int vr_player_push(struct vr_player *p, const struct vr_au *au, uint32_t extra_flags);

/* A seek: the client drops what it holds; the GOP cache and backlog are
 * emptied; frames wait for a keyframe; the clock must be set again.
 * Returns 0 or a negative errno. */
int vr_player_flush(struct vr_player *p);

/* Ties stream timestamps to the guest's monotonic clock (vr_time_us): the
 * frame with timestamp pts is due at time_us, at rate_q16 (65536 normal,
 * 0 paused). Returns 0 or -EINVAL/-ENOENT (no stream). */
int vr_player_set_clock(struct vr_player *p, int64_t pts, uint64_t time_us, uint32_t rate_q16);

/*
 * End of stream, blocking (bounded by the drain timeout): lets the backlog
 * out to the client, sends STREAM_STOP with reason (VR_REASON_EOS at the
 * end of the file), and waits until the client has reported that it showed
 * everything, so a player that quits at EOS does not cut the video short.
 * Returns at once when no client is streaming. The stream is then unset
 * (`show` goes to NONE). Returns 0, or -ENOENT if no stream was set. Call
 * it from the thread that pushes (not from a callback).
 */
int vr_player_finish(struct vr_player *p, uint32_t reason);

/* Stops the stream now, without draining (STREAM_STOP with reason). */
int vr_player_stop(struct vr_player *p, uint32_t reason);

/* Where the video is shown now (the value of the last `show` callback, or
 * the one about to be delivered). */
enum vr_player_show vr_player_get_show(const struct vr_player *p);

/* A snapshot of the counters. */
void vr_player_get_stats(const struct vr_player *p, struct vr_player_stats *st);

/* Short names for logs and stats: "none", "local", "client". */
const char *vr_player_show_name(enum vr_player_show s);

#ifdef __cplusplus
}
#endif

#endif
