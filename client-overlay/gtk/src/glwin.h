/*
 * A GL surface of its own over a GTK widget (X11): a child X window of the
 * widget's toplevel with an EGL context and the GL renderer, shaped to the
 * area it draws (XShape bounding shape) and transparent to input (empty
 * input shape), so that the toplevel's own drawing (the SPICE desktop)
 * shows everywhere else and every click reaches the widget under it.
 * Internal to vr_gtk; GTK main thread only.
 */
#ifndef VR_GTK_GLWIN_H
#define VR_GTK_GLWIN_H

#include <stdbool.h>
#include <stddef.h>

#include <pixman.h>

#include <videoredir/client.h>
#include <videoredir/gl.h>

struct vr_glwin;

/*
 * Makes the window (unmapped) as a child of parent (an X11 window ID on the
 * GDK display's X connection, xdisplay: a Display *), a GL 3.3 core (or GLES
 * 3.0) EGL context on it and a renderer in that context. Returns 0 and
 * *out, or a negative errno with the reason in why (whylen bytes): -ENODEV
 * (no EGL, no context), -ENOTSUP (the renderer refuses the context).
 */
int vr_glwin_create(void *xdisplay, unsigned long parent, vr_client_log_fn log, void *log_user,
                    char *why, size_t whylen, struct vr_glwin **out);

/* Destroys the window, context and renderer. NULL is a no-op. Must run
 * while the parent window exists. */
void vr_glwin_destroy(struct vr_glwin *w);

/* The X window ID (for its Expose events). */
unsigned long vr_glwin_xid(const struct vr_glwin *w);

/* "OpenGL 4.5 ... llvmpipe ..., upload, EGL": for logs. */
const char *vr_glwin_describe(const struct vr_glwin *w);

/* The renderer (its context is current after vr_glwin_begin). */
struct vr_gl *vr_glwin_gl(struct vr_glwin *w);

/*
 * Places the window at x,y (parent coordinates), w x h, shaped to shape
 * (window coordinates; copied). An empty shape unmaps it. Cheap when
 * nothing changed.
 */
void vr_glwin_place(struct vr_glwin *w, int x, int y, int width, int height,
                    const pixman_region32_t *shape);

/* Makes the context current and sets the viewport: draw with vr_gl after
 * this. Returns 0, or -EIO. */
int vr_glwin_begin(struct vr_glwin *w);

/* Shows what was drawn (swap). Returns 0, or -EIO. */
int vr_glwin_end(struct vr_glwin *w);

#endif
