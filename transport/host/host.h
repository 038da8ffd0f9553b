/* videoredir-host internals: the pieces of the host stand-in. */
#ifndef VR_HOST_H
#define VR_HOST_H

#include <glib.h>
#include <spice.h>
#include <spice/protocol.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"

/* A file we made (the guest socket, the sound card's FIFO), removed when we
 * stop only if it is still that one: another host started on the same path
 * meanwhile has put its own there. */
struct vr_host_file_id {
    dev_t dev;
    ino_t ino;
    bool known;
};
/* The file at path now (known false if there is none). */
struct vr_host_file_id vr_host_file_id(const char *path);
/* Unlinks path if it is still the file id names. */
void vr_host_unlink_if_same(const char *path, const struct vr_host_file_id *id);

/* All of these run on the thread of the default GLib main context (the one
 * spice-server's core interface, vr_host_core, dispatches on). */

/* The port char device: adds a "port" SpiceCharDeviceInstance named name to
 * server and listens on a unix stream socket at socket_path (an old socket
 * file there is replaced) for one guest connection at a time. On success
 * *out owns the socket and the interface; vr_host_port_stop(NULL) is a
 * no-op. Returns 0 or a negative errno. */
struct vr_host_port;
int vr_host_port_start(SpiceServer *server, const char *name, const char *socket_path,
                       struct vr_host_port **out);
/* Also accepts the guest end over TCP on addr ("HOST:PORT", port 0: any
 * free one): a Windows guest side under Wine, which has no unix sockets to
 * the host, connects there. The port still has one guest at a time, over
 * either socket. Writes the address bound ("127.0.0.1:41234") to bound.
 * Returns 0 or a negative errno. */
int vr_host_port_listen_tcp(struct vr_host_port *p, const char *addr, char *bound, size_t bound_len);
/* Closes the guest (port closed event), removes the interface, the socket
 * and its file (unless another host has replaced that file since), and
 * frees p. */
void vr_host_port_stop(struct vr_host_port *p);

/* A QXL display: adds a QXL interface to server with a width x height
 * primary surface and paints pixels (x8r8g8b8, width * 4 stride; copied,
 * the caller keeps them) onto it with one QXL_DRAW_COPY. Returns 0 or a
 * negative errno. */
struct vr_host_display;
int vr_host_display_start(SpiceServer *server, uint32_t width, uint32_t height,
                          const uint32_t *pixels, struct vr_host_display **out);
/* Queues a w x h picture (x8r8g8b8, stride bytes per row; copied) to be drawn
 * at x,y with one QXL_DRAW_COPY, as a guest's driver draws a video frame.
 * Returns 0, -EINVAL if it does not fit the surface, -EAGAIN if the command
 * queue is full (the paint is dropped). Any thread. */
int vr_host_display_paint(struct vr_host_display *d, int32_t x, int32_t y, uint32_t w, uint32_t h,
                          const uint8_t *pixels, size_t stride);
/* Whether a SPICE client's display channel is connected. Any thread. */
bool vr_host_display_has_client(struct vr_host_display *d);
/* Removes the interface (stops its worker thread) and frees d; NULL is a no-op. */
void vr_host_display_stop(struct vr_host_display *d);

/* The built-in desktop picture (known flat colours, see desktop.c), or the
 * first picture of IMAGE (anything libavformat opens) scaled to width x
 * height. Return g_malloc'd x8r8g8b8 pixels (caller frees), or NULL with
 * *error set. */
uint32_t *vr_host_desktop_builtin(uint32_t width, uint32_t height);
uint32_t *vr_host_desktop_load(const char *path, uint32_t width, uint32_t height, GError **error);
/* Paints into the desktop px (w x h, xRGB) what a player shows of a
 * placeholder frame of src_w x src_h with the placement marker of code:
 * limited-range I420 scaled bilinearly into x,y rw x rh (inside the desktop).
 * Returns 0, -EINVAL or -ENOMEM. */
int vr_host_desktop_paint_marker(uint32_t *px, uint32_t w, uint32_t h, uint32_t code,
                                 uint32_t src_w, uint32_t src_h, int x, int y, uint32_t rw,
                                 uint32_t rh);
/* --marker CODE@X,Y,WxH, --cover X,Y,WxH, --marker-move SECONDS@X,Y,WxH
 * (each may be NULL) over a copy of the desktop desk (w x h): what a player
 * shows of a marked placeholder frame, a window over it, and the player moved
 * later. *out is NULL when none is given. Returns 0, or -EINVAL with error
 * set for a bad value. */
struct vr_host_extras;
int vr_host_extras_new(const uint32_t *desk, unsigned w, unsigned h, const char *marker,
                       const char *cover, const char *move, struct vr_host_extras **out,
                       GError **error);
/* Paints them on d as one QXL_DRAW_COPY once a client watches (and the move
 * later). NULL e: nothing. */
void vr_host_extras_start(struct vr_host_extras *e, struct vr_host_display *d);
/* Stops the timers and frees e. NULL is a no-op. */
void vr_host_extras_free(struct vr_host_extras *e);

/* Fills x,y rw x rh of the desktop px (w x h) with colour (clipped). */
void vr_host_desktop_fill(uint32_t *px, uint32_t w, uint32_t h, int x, int y, int rw, int rh,
                          uint32_t colour);

/* Decoded pictures of a media file (clip.c), converted to x8r8g8b8 at
 * w x h (0 x 0: the coded size). */
struct vr_host_clip;
int vr_host_clip_open(const char *path, uint32_t w, uint32_t h, struct vr_host_clip **out,
                      GError **error);
/* Decodes the next picture: 0 with *pixels (w * 4 stride, valid until the
 * next call), 1 at the end, negative with *error set. */
int vr_host_clip_next(struct vr_host_clip *c, const uint8_t **pixels, GError **error);
int vr_host_clip_rewind(struct vr_host_clip *c);
double vr_host_clip_fps(const struct vr_host_clip *c);
uint32_t vr_host_clip_width(const struct vr_host_clip *c);
uint32_t vr_host_clip_height(const struct vr_host_clip *c);
void vr_host_clip_close(struct vr_host_clip *c);

/* Plays a clip onto the display like a guest player that decodes locally:
 * one QXL_DRAW_COPY per frame at x,y at the clip's frame rate, starting once
 * a display client is connected; loops times (0 = until stopped). done is
 * called on the main context when it finishes. The guest-decoding baseline
 * against which SPICE's own video streaming is measured. */
struct vr_host_player;
struct vr_host_player_stats {
    uint64_t start_us, end_us; /* vr_time_us() of the first and last paint */
    uint32_t frames, dropped;  /* painted, and dropped for a full queue */
};
typedef void (*vr_host_player_done_fn)(void *user, const struct vr_host_player_stats *st);
int vr_host_player_start(struct vr_host_display *d, const char *path, int32_t x, int32_t y,
                         uint32_t w, uint32_t h, uint32_t loops, vr_host_player_done_fn done,
                         void *user, struct vr_host_player **out, GError **error);
void vr_host_player_stop(struct vr_host_player *p);

/* An X server's screen as the desktop (xdesktop.c, built with
 * VR_HOST_XDESKTOP): damage on the root window is read back and drawn on the
 * display, at most 60 updates a second. Opens display name (NULL: $DISPLAY),
 * checks DAMAGE, XFIXES 2 and a 32-bit xRGB screen, and starts collecting
 * damage. Returns 0 with *out (vr_host_xdesktop_close frees it, NULL is a
 * no-op), or a negative errno with *error set. */
struct vr_host_xdesktop;
struct vr_host_xdesktop_stats {
    uint64_t damage_events, updates, rects, pixels; /* pixels read back and drawn */
    uint64_t busy_us, max_us;                      /* time in updates, all and longest */
    uint64_t queue_full;                           /* updates cut short by a full QXL queue */
    bool lost;                                     /* the X server went away */
};
typedef void (*vr_host_xdesktop_lost_fn)(void *user);
int vr_host_xdesktop_open(const char *name, struct vr_host_xdesktop **out, GError **error);
/* The X screen's size: the display's surface size. */
void vr_host_xdesktop_size(const struct vr_host_xdesktop *x, uint32_t *w, uint32_t *h);
/* The whole screen now, g_malloc'd x8r8g8b8 (width * 4 stride; caller frees),
 * or NULL with *error set: the display's first picture. */
uint32_t *vr_host_xdesktop_grab(struct vr_host_xdesktop *x, GError **error);
/* Follows the screen onto display (not owned; must outlive x) from the
 * default main context. lost(user) is called once if the X server closes the
 * connection; x stops updating then (close it). Returns 0 or -EINVAL. */
int vr_host_xdesktop_start(struct vr_host_xdesktop *x, struct vr_host_display *display,
                           vr_host_xdesktop_lost_fn lost, void *user);
void vr_host_xdesktop_stats(const struct vr_host_xdesktop *x, struct vr_host_xdesktop_stats *st);
void vr_host_xdesktop_close(struct vr_host_xdesktop *x);

/* The guest's sound card (audio.c): a SPICE playback interface on server
 * fed from a FIFO at fifo_path (made if missing, 0600; removed by
 * vr_host_audio_stop) into which the guest side writes 48 kHz S16LE stereo,
 * as a player's audio sink writes into a sound card. The card starts playing
 * latency_ms (10..500) after the first sound arrives and then hands
 * spice-server one 10 ms period at the time it plays it, so the mm-time
 * spice-server stamps on each period is when that sound leaves the guest. It
 * keeps to the writer's timeline (sound written at t leaves at t + latency):
 * a card that holds more than latency_ms (it started late) skips the excess.
 * Returns 0 or a negative errno with *error set. */
struct vr_host_audio;
struct vr_host_audio_stats {
    uint64_t bytes_in;                     /* read from the FIFO */
    uint64_t periods_sent, periods_dropped; /* to a client, and with no client */
    uint64_t starts, underruns;
    uint64_t late_us_sum, late_us_max; /* periods handed over after their time */
    uint64_t realigns, realigned_us;   /* skips back onto the writer's timeline, and how much */
};
int vr_host_audio_start(SpiceServer *server, const char *fifo_path, uint32_t latency_ms,
                        struct vr_host_audio **out, GError **error);
void vr_host_audio_stats(const struct vr_host_audio *a, struct vr_host_audio_stats *st);
/* Stops playing, removes the interface and the FIFO, frees a; NULL is a no-op. */
void vr_host_audio_stop(struct vr_host_audio *a);

#endif
