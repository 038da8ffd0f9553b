/* videoredir-host internals: the pieces of the host stand-in. */
#ifndef VR_HOST_H
#define VR_HOST_H

#include <glib.h>
#include <spice.h>
#include <spice/protocol.h>
#include <stdint.h>

#include "core.h"

/* The port char device bridged to a unix socket for the guest side. */
struct vr_host_port;
int vr_host_port_start(SpiceServer *server, const char *name, const char *socket_path,
                       struct vr_host_port **out);
void vr_host_port_stop(struct vr_host_port *p);

/* A QXL display showing pixels (x8r8g8b8, width*4 stride, copied). */
struct vr_host_display;
int vr_host_display_start(SpiceServer *server, uint32_t width, uint32_t height,
                          const uint32_t *pixels, struct vr_host_display **out);
void vr_host_display_stop(struct vr_host_display *d);

/* The built-in desktop picture, or IMAGE scaled to width x height.
 * Returns g_malloc'd x8r8g8b8 pixels or NULL with *error set. */
uint32_t *vr_host_desktop_builtin(uint32_t width, uint32_t height);
uint32_t *vr_host_desktop_load(const char *path, uint32_t width, uint32_t height, GError **error);

#endif
