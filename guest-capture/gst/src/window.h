/*
 * The sink's X11 side: the window the video belongs to (the application's,
 * through GstVideoOverlay, or one the sink opens), the cheap placeholder
 * painted in it while the SPICE client shows the video, and the tracker that
 * turns the window's place and the windows above it into geometry and
 * visible-region messages. Used from the sink's I/O thread only.
 */
#ifndef VR_GST_WINDOW_H
#define VR_GST_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include <videoredir/protocol.h>

struct vr_sink_window;

/* Opens the display (NULL: $DISPLAY) and either adopts @handle (an X window
 * id the application gave) or, when @handle is 0, creates and maps a
 * top-level window of @w x @h titled @title. Returns 0 and *out, or a
 * negative errno with a reason in @err. */
int vr_sink_window_open(const char *display, unsigned long handle, uint32_t w, uint32_t h,
                        const char *title, struct vr_sink_window **out, char *err, size_t errlen);
void vr_sink_window_close(struct vr_sink_window *win);

/* The X connection's fd, to poll for input. */
int vr_sink_window_fd(const struct vr_sink_window *win);
/* The window the video is in (for the local sink's GstVideoOverlay). */
unsigned long vr_sink_window_xid(const struct vr_sink_window *win);

/* Placeholder on: paint it now, twice more in the next second (over what a
 * local sink that just stopped still draws) and on every Expose; off: leave
 * the window to whoever draws the video locally. Call
 * vr_sink_window_process soon after turning it on (it paints those). */
void vr_sink_window_set_placeholder(struct vr_sink_window *win, bool on);
/* Where in the window the video goes (GstVideoOverlay render rectangle);
 * w == 0: the whole window. */
void vr_sink_window_set_render_rect(struct vr_sink_window *win, int x, int y, int w, int h);

/*
 * Handles pending X events and, when the rate limit allows, re-evaluates the
 * window's place. Returns a mask (1: geometry changed, 2: region changed)
 * with *geom / *region filled from the latest state, 0 when nothing changed,
 * or -ENOENT when the window is gone. *timeout_ms: when to call again
 * (-1: on X input only).
 */
int vr_sink_window_process(struct vr_sink_window *win, struct vr_geometry *geom, struct vr_region *region,
                           int *timeout_ms);

#endif
