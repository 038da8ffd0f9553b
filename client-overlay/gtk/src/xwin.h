/*
 * A surface of its own over a GTK widget (X11): a child X window of the
 * widget's toplevel, shaped to the area it draws (XShape bounding shape) and
 * transparent to input (empty input shape), so that the toplevel's own
 * drawing (the SPICE desktop) shows everywhere else and every click reaches
 * the widget under it. It is drawn either with GL (an EGL context and the GL
 * renderer) or in software (BGRA pictures in MIT-SHM shared memory, put with
 * XShmPutImage: the X server copies them, no GTK redraw, no socket copy).
 * Internal to vr_gtk; GTK main thread only.
 */
#ifndef VR_GTK_XWIN_H
#define VR_GTK_XWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pixman.h>

#include <videoredir/client.h>
#include <videoredir/gl.h>

struct vr_xwin;

/*
 * Makes the window (unmapped) as a child of parent (an X11 window ID on the
 * GDK display's X connection, xdisplay: a Display *), a GL 3.3 core (or GLES
 * 3.0) EGL context on it and a renderer in that context. Returns 0 and
 * *out, or a negative errno with the reason in why (whylen bytes, at least
 * 1; -EINVAL without it): -ENODEV
 * (no EGL, no context), -ENOTSUP (the renderer refuses the context).
 */
int vr_xwin_create_gl(void *xdisplay, unsigned long parent, vr_client_log_fn log, void *log_user,
                      char *why, size_t whylen, struct vr_xwin **out);

/*
 * Makes the window (unmapped) for software drawing: the parent's visual
 * (24- or 32-bit TrueColor, 32 bits per pixel, x8r8g8b8), MIT-SHM pictures.
 * Returns 0 and *out, or -ENOTSUP with the reason in why (no MIT-SHM, no
 * SHAPE, another pixel layout). An X error (e.g. a server that cannot reach
 * our shared memory) shows only later: wrap the calls in an error trap.
 */
int vr_xwin_create_shm(void *xdisplay, unsigned long parent, char *why, size_t whylen,
                       struct vr_xwin **out);

/* Destroys the window and what draws on it. NULL is a no-op. Must run
 * while the parent window exists. */
void vr_xwin_destroy(struct vr_xwin *w);

/* The X window ID (for its Expose events). */
unsigned long vr_xwin_xid(const struct vr_xwin *w);

/* "OpenGL 4.5 ... llvmpipe ..., upload, EGL ..." or "MIT-SHM ...": for logs. */
const char *vr_xwin_describe(const struct vr_xwin *w);

/* The GL renderer (its context is current after vr_xwin_begin); NULL for a
 * software window. */
struct vr_gl *vr_xwin_gl(struct vr_xwin *w);

/*
 * Places the window at x,y (parent coordinates), w x h, shaped to shape
 * (window coordinates; copied). An empty shape unmaps it. Cheap when
 * nothing changed.
 */
void vr_xwin_place(struct vr_xwin *w, int x, int y, int width, int height,
                   const pixman_region32_t *shape);

/* GL: makes the context current and sets the viewport: draw with vr_gl
 * after this. Software: nothing. Returns 0, or -EIO / -EINVAL. */
int vr_xwin_begin(struct vr_xwin *w);

/* GL: shows what was drawn (swap). Software: waits until the X server has
 * copied every picture put (they may be written again after this).
 * Returns 0, or -EIO / -EINVAL. */
int vr_xwin_end(struct vr_xwin *w);

/*
 * Software: the shared-memory picture of stream slot (< VR_MAX_STREAMS),
 * width x height x8r8g8b8, made again for a new size. Returns 1 (a new
 * picture: its contents are undefined) or 0 (the same as last time) with
 * *data and *stride, or a negative errno (-E2BIG over 8192x8192 pixels,
 * -ENOMEM, -EINVAL on a GL window).
 */
int vr_xwin_picture(struct vr_xwin *w, uint32_t slot, uint32_t width, uint32_t height,
                    uint8_t **data, int *stride);

/* Software: puts slot's picture, its top left corner at x,y (window
 * coordinates), clipped to clip (window coordinates). */
void vr_xwin_put(struct vr_xwin *w, uint32_t slot, int x, int y, const pixman_region32_t *clip);

/* Software: frees slot's picture (its stream went). */
void vr_xwin_picture_drop(struct vr_xwin *w, uint32_t slot);

#endif
