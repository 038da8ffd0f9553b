/* videoredir X11 window and occlusion tracker.
 *
 * Follows one X window (the player's video window) and reports where it is on
 * the guest desktop and which part of it other windows leave visible, in the
 * shape the protocol carries (struct vr_rect, struct vr_region).
 *
 * The tracker does its X I/O on a Display the caller gives, or on one it opens
 * itself. It never blocks waiting for events: the caller polls
 * ConnectionNumber(display), hands events to vr_x11track_handle_event() (or
 * lets vr_x11track_dispatch() read them), and calls vr_x11track_poll() when
 * vr_x11track_timeout_ms() says so.
 *
 * Threads: a tracker, and the Display it uses, belong to one thread. While a
 * tracker call talks to the server it installs its own X error handler
 * (process-wide in Xlib) and restores the previous one before returning;
 * errors for other requests are passed on to the previous handler.
 */
#ifndef VIDEOREDIR_X11TRACK_H
#define VIDEOREDIR_X11TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include <X11/Xlib.h>
#include <pixman.h>

#include <videoredir/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vr_x11track;

/* Bits returned by vr_x11track_poll() and vr_x11track_refresh(). */
enum vr_x11track_change {
    VR_X11TRACK_GEOMETRY = 1u << 0, /* window or content rectangle changed */
    VR_X11TRACK_REGION = 1u << 1,   /* visible region changed (shown/hidden too) */
};

/* Default minimum interval between two evaluations, milliseconds. */
#define VR_X11TRACK_DEFAULT_INTERVAL_MS 50u

/* What the tracker last reported. All rectangles in root (desktop)
 * coordinates. */
struct vr_x11track_state {
    struct vr_rect window;   /* inside area of the tracked window */
    struct vr_rect content;  /* where the video is drawn (may exceed window) */
    bool viewable;           /* window and all ancestors mapped, not iconic or
                              * _NET_WM_STATE_HIDDEN */
    bool simplified;         /* region was coarsened to respect the cap */
    uint32_t exact_rects;    /* rectangles of the exact region before that */
    struct vr_region region; /* visible part of content, <= cap rectangles,
                              * non-overlapping; 0 rects = hidden or covered */
};

/* Creates a tracker for @window on @dpy, which stays owned by the caller and
 * must outlive the tracker. The tracker selects events on the root window and
 * on @window and its ancestors (adding to, never replacing, this client's own
 * event masks; they are restored by vr_x11track_destroy()). The tracker starts
 * dirty: the first vr_x11track_poll() evaluates at once.
 * Returns 0 and *out, -EINVAL, -ENOMEM, or -ENOENT if @window does not exist. */
int vr_x11track_create(Display *dpy, Window window, struct vr_x11track **out);

/* Same, on a connection the tracker opens to @display_name (NULL: $DISPLAY)
 * and closes on destroy. -ECONNREFUSED when the display cannot be opened. */
int vr_x11track_open(const char *display_name, Window window, struct vr_x11track **out);

/* Frees the tracker, restores the event masks it changed on a borrowed
 * Display, closes an owned one. NULL is a no-op. */
void vr_x11track_destroy(struct vr_x11track *t);

/* The Display the tracker uses (borrowed or owned); valid until destroy. */
Display *vr_x11track_display(const struct vr_x11track *t);

/* The tracked window. */
Window vr_x11track_window(const struct vr_x11track *t);

/* Sets the content rectangle relative to the window's inside origin (e.g. the
 * video sink's render rectangle); NULL means the whole window. w and h must be
 * 1..VR_MAX_DIMENSION, |x|,|y| <= VR_MAX_COORD. Marks the tracker dirty.
 * Returns 0 or -EINVAL. */
int vr_x11track_set_content(struct vr_x11track *t, const struct vr_rect *rect);

/* Caps the number of rectangles reported (1..VR_MAX_RECTS, default
 * VR_MAX_RECTS). A visible region with more rectangles is simplified to a
 * region that covers it (see vr_x11track_simplify()). Returns 0 or -EINVAL. */
int vr_x11track_set_max_rects(struct vr_x11track *t, uint32_t cap);

/* Minimum interval between two evaluations, milliseconds (0: none). Bounds
 * the stream of reports while a window is dragged. */
void vr_x11track_set_min_interval(struct vr_x11track *t, uint32_t ms);

/* Optional log sink for debug messages; @msg is valid during the call only. */
typedef void (*vr_x11track_log_fn)(void *opaque, const char *msg);
void vr_x11track_set_log(struct vr_x11track *t, vr_x11track_log_fn fn, void *opaque);

/* Looks at one event read from the tracker's Display. Returns true when it
 * may change geometry or visibility (the tracker is then dirty), false when
 * the event is not the tracker's business. @ev is only read. */
bool vr_x11track_handle_event(struct vr_x11track *t, const XEvent *ev);

/* Reads every event already queued or readable on the Display without
 * blocking and hands each to vr_x11track_handle_event(); other events are
 * dropped, so use it only when nobody else reads this Display (e.g. after
 * vr_x11track_open()). Returns the number of relevant events. */
int vr_x11track_dispatch(struct vr_x11track *t);

/* How long the caller may sleep before calling vr_x11track_poll():
 * -1 when nothing is pending (wait for X events), 0 to call it now, else
 * milliseconds until the rate limit allows the next evaluation.
 * @now_us: monotonic clock, microseconds (vr_x11track_now_us()). */
int vr_x11track_timeout_ms(const struct vr_x11track *t, uint64_t now_us);

/* Re-evaluates if the tracker is dirty and the minimum interval since the last
 * evaluation has passed. Returns a mask of enum vr_x11track_change (0: nothing
 * changed or not evaluated yet), -ENOENT once the window is destroyed, or
 * -EAGAIN if the window tree changed under the evaluation (still dirty). */
int vr_x11track_poll(struct vr_x11track *t, uint64_t now_us);

/* Evaluates now, ignoring dirtiness and the rate limit. Same returns. */
int vr_x11track_refresh(struct vr_x11track *t);

/* The last evaluated state; valid until the next poll/refresh/destroy. */
const struct vr_x11track_state *vr_x11track_state(const struct vr_x11track *t);

/* Copies the exact (unsimplified) visible region of the last evaluation into
 * @dst, which the caller has initialised and still owns. Returns 0 or -ENOMEM. */
int vr_x11track_exact_region(const struct vr_x11track *t, pixman_region32_t *dst);

/* Coarsens @src to at most @cap (>= 1) rectangles into @dst (initialised by
 * the caller), never losing a pixel of @src: first the narrowest horizontal
 * gaps inside a band are closed, then vertically adjacent bands are merged
 * where that adds the least area; the bounding box is the end of that road
 * (cap 1). Why cover more rather than less: the client draws the video inside
 * this region, and a sliver of video over a neighbouring window is a smaller
 * harm than a hole of stale guest pixels in the video. The result has
 * non-overlapping rectangles. Returns 0, -EINVAL or -ENOMEM. */
int vr_x11track_simplify(const pixman_region32_t *src, uint32_t cap, pixman_region32_t *dst);

/* Converts @src to a protocol region, simplifying above @cap (1..VR_MAX_RECTS).
 * Returns the number of rectangles of @src before simplification, or
 * -EINVAL/-ENOMEM/-ERANGE (a rectangle outside the protocol's limits). */
int vr_x11track_region_to_vr(const pixman_region32_t *src, uint32_t cap, struct vr_region *dst);

/* Monotonic clock in microseconds, for @now_us. */
uint64_t vr_x11track_now_us(void);

#ifdef __cplusplus
}
#endif

#endif
