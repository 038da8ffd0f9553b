/* videoredir-host internals: the pieces of the host stand-in. */
#ifndef VR_HOST_H
#define VR_HOST_H

#include <glib.h>
#include <spice.h>
#include <spice/protocol.h>
#include <stdint.h>

#include "core.h"

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
/* Closes the guest (port closed event), removes the interface, the socket
 * and its file, and frees p. */
void vr_host_port_stop(struct vr_host_port *p);

/* A QXL display: adds a QXL interface to server with a width x height
 * primary surface and paints pixels (x8r8g8b8, width * 4 stride; copied,
 * the caller keeps them) onto it with one QXL_DRAW_COPY. Returns 0 or a
 * negative errno. */
struct vr_host_display;
int vr_host_display_start(SpiceServer *server, uint32_t width, uint32_t height,
                          const uint32_t *pixels, struct vr_host_display **out);
/* Removes the interface (stops its worker thread) and frees d; NULL is a no-op. */
void vr_host_display_stop(struct vr_host_display *d);

/* The built-in desktop picture (known flat colours, see desktop.c), or the
 * first picture of IMAGE (anything libavformat opens) scaled to width x
 * height. Return g_malloc'd x8r8g8b8 pixels (caller frees), or NULL with
 * *error set. */
uint32_t *vr_host_desktop_builtin(uint32_t width, uint32_t height);
uint32_t *vr_host_desktop_load(const char *path, uint32_t width, uint32_t height, GError **error);

#endif
