/*
 * The GL overlay's own surface: a child X window of the toplevel with an EGL
 * context (see glwin.h and the README for why not a GtkGLArea).
 *
 * EGL rather than GLX: it is what imports VA-API surfaces as DMA-BUF (the
 * renderer probes it), and Mesa's EGL on X11 runs on Xvfb (llvmpipe) as on
 * a GPU. The window has no background (the server never clears it: no
 * flicker between a shape change and the next swap), the visual of the EGL
 * config and a colormap of its own, so it may differ from the toplevel's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/shape.h>
#include <epoxy/egl.h>
#include <epoxy/gl.h>

#include "glwin.h"

struct vr_glwin {
    Display *dpy;
    Window win;
    Colormap cmap;
    EGLDisplay edpy;
    EGLContext ctx;
    EGLSurface surf;
    struct vr_gl *gl;
    int x, y, w, h;
    bool mapped, placed;
    pixman_region32_t shape;
    char desc[400];
};

static EGLDisplay get_display(Display *dpy)
{
    const char *ext = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
    if (ext && strstr(ext, "EGL_EXT_platform_x11") && strstr(ext, "EGL_EXT_platform_base"))
        return eglGetPlatformDisplayEXT(EGL_PLATFORM_X11_EXT, dpy, NULL);
    return eglGetDisplay((EGLNativeDisplayType)dpy);
}

/* A window-capable RGB888 config of api whose X visual exists; *vi set. */
static bool pick_config(struct vr_glwin *g, EGLint renderable, EGLConfig *cfg, XVisualInfo *vi)
{
    const EGLint attr[] = { EGL_SURFACE_TYPE, EGL_WINDOW_BIT, EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8,
                            EGL_BLUE_SIZE, 8, EGL_RENDERABLE_TYPE, renderable, EGL_NONE };
    EGLConfig cfgs[64];
    EGLint n = 0;
    if (!eglChooseConfig(g->edpy, attr, cfgs, 64, &n))
        return false;
    /* An opaque 24-bit visual first (the toplevel's usual one), else any. */
    for (int pass = 0; pass < 2; pass++) {
        for (EGLint i = 0; i < n; i++) {
            EGLint vid = 0, alpha = 0;
            eglGetConfigAttrib(g->edpy, cfgs[i], EGL_NATIVE_VISUAL_ID, &vid);
            eglGetConfigAttrib(g->edpy, cfgs[i], EGL_ALPHA_SIZE, &alpha);
            if (!vid || (pass == 0 && alpha != 0))
                continue;
            XVisualInfo tmpl = { .visualid = (VisualID)vid };
            int nv = 0;
            XVisualInfo *v = XGetVisualInfo(g->dpy, VisualIDMask, &tmpl, &nv);
            if (!v)
                continue;
            bool ok = nv > 0 && (pass == 1 || v[0].depth == 24);
            if (ok)
                *vi = v[0];
            XFree(v);
            if (ok) {
                *cfg = cfgs[i];
                return true;
            }
        }
    }
    return false;
}

int vr_glwin_create(void *xdisplay, unsigned long parent, vr_client_log_fn log, void *log_user,
                    char *why, size_t whylen, struct vr_glwin **out)
{
    char dummy[1];
    if (!why || !whylen) {
        why = dummy;
        whylen = sizeof(dummy);
    }
    if (!xdisplay || !parent || !out) {
        snprintf(why, whylen, "no X display or window");
        return -EINVAL;
    }
    struct vr_glwin *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    pixman_region32_init(&g->shape);
    g->dpy = xdisplay;
    g->edpy = EGL_NO_DISPLAY;
    g->ctx = EGL_NO_CONTEXT;
    g->surf = EGL_NO_SURFACE;
    int ret = -ENODEV, ev = 0, er = 0;
    if (!XShapeQueryExtension(g->dpy, &ev, &er)) {
        snprintf(why, whylen, "the X server has no SHAPE extension");
        ret = -ENOTSUP;
        goto fail;
    }
    if (!epoxy_has_egl()) {
        snprintf(why, whylen, "no EGL library");
        goto fail;
    }
    g->edpy = get_display(g->dpy);
    EGLint major = 0, minor = 0;
    if (g->edpy == EGL_NO_DISPLAY || !eglInitialize(g->edpy, &major, &minor)) {
        snprintf(why, whylen, "EGL on this X display: error 0x%x", eglGetError());
        g->edpy = EGL_NO_DISPLAY;
        goto fail;
    }
    /* Desktop GL 3.3 core first, then OpenGL ES 3.0. */
    static const struct {
        EGLenum api;
        EGLint renderable;
        EGLint attr[7];
        const char *name;
    } tries[] = {
        { EGL_OPENGL_API, EGL_OPENGL_BIT,
          { EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 3,
            EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT, EGL_NONE },
          "OpenGL 3.3 core" },
        { EGL_OPENGL_ES_API, EGL_OPENGL_ES3_BIT,
          { EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 0, EGL_NONE },
          "OpenGL ES 3.0" },
    };
    EGLConfig cfg = NULL;
    XVisualInfo vi = { 0 };
    snprintf(why, whylen, "no EGL config with an X visual");
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]) && g->ctx == EGL_NO_CONTEXT; i++) {
        if (!eglBindAPI(tries[i].api) || !pick_config(g, tries[i].renderable, &cfg, &vi))
            continue;
        g->ctx = eglCreateContext(g->edpy, cfg, EGL_NO_CONTEXT, tries[i].attr);
        if (g->ctx == EGL_NO_CONTEXT)
            snprintf(why, whylen, "%s context: EGL error 0x%x", tries[i].name, eglGetError());
    }
    if (g->ctx == EGL_NO_CONTEXT)
        goto fail;

    XWindowAttributes pa;
    if (!XGetWindowAttributes(g->dpy, (Window)parent, &pa)) {
        snprintf(why, whylen, "the parent window is gone");
        goto fail;
    }
    g->cmap = XCreateColormap(g->dpy, pa.root, vi.visual, AllocNone);
    XSetWindowAttributes a = { .colormap = g->cmap, .border_pixel = 0, .background_pixmap = None,
                               .event_mask = ExposureMask, .bit_gravity = NorthWestGravity };
    g->win = XCreateWindow(g->dpy, (Window)parent, 0, 0, 1, 1, 0, vi.depth, InputOutput, vi.visual,
                           CWColormap | CWBorderPixel | CWBackPixmap | CWEventMask | CWBitGravity, &a);
    if (!g->win) {
        snprintf(why, whylen, "XCreateWindow failed");
        goto fail;
    }
    /* Transparent to input: clicks and keys reach the SPICE display under it. */
    XShapeCombineRectangles(g->dpy, g->win, ShapeInput, 0, 0, NULL, 0, ShapeSet, Unsorted);
    XShapeCombineRectangles(g->dpy, g->win, ShapeBounding, 0, 0, NULL, 0, ShapeSet, Unsorted);
    g->surf = eglCreateWindowSurface(g->edpy, cfg, (EGLNativeWindowType)g->win, NULL);
    if (g->surf == EGL_NO_SURFACE) {
        snprintf(why, whylen, "EGL window surface: error 0x%x", eglGetError());
        goto fail;
    }
    if (!eglMakeCurrent(g->edpy, g->surf, g->surf, g->ctx)) {
        snprintf(why, whylen, "eglMakeCurrent: error 0x%x", eglGetError());
        goto fail;
    }
    /* The client's scheduler says when a frame shows: no wait for vertical
     * blank in the GTK main loop. */
    eglSwapInterval(g->edpy, 0);
    ret = vr_gl_create(log, log_user, why, whylen, &g->gl);
    if (ret < 0)
        goto fail;
    snprintf(g->desc, sizeof(g->desc), "%s, EGL %d.%d on an X11 child window", vr_gl_describe(g->gl),
             major, minor);
    XFlush(g->dpy);
    *out = g;
    return 0;
fail:
    vr_glwin_destroy(g);
    return ret;
}

void vr_glwin_destroy(struct vr_glwin *g)
{
    if (!g)
        return;
    if (g->gl && g->edpy != EGL_NO_DISPLAY && g->surf != EGL_NO_SURFACE &&
        eglMakeCurrent(g->edpy, g->surf, g->surf, g->ctx))
        vr_gl_destroy(g->gl);
    if (g->edpy != EGL_NO_DISPLAY) {
        eglMakeCurrent(g->edpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
        if (g->surf != EGL_NO_SURFACE)
            eglDestroySurface(g->edpy, g->surf);
        if (g->ctx != EGL_NO_CONTEXT)
            eglDestroyContext(g->edpy, g->ctx);
        /* No eglTerminate: the EGLDisplay of an X display is one per
         * process, shared with every other overlay's window. */
    }
    if (g->win)
        XDestroyWindow(g->dpy, g->win);
    if (g->cmap)
        XFreeColormap(g->dpy, g->cmap);
    if (g->win || g->cmap)
        XFlush(g->dpy);
    pixman_region32_fini(&g->shape);
    free(g);
}

unsigned long vr_glwin_xid(const struct vr_glwin *g)
{
    return g ? g->win : 0;
}

const char *vr_glwin_describe(const struct vr_glwin *g)
{
    return g ? g->desc : "";
}

struct vr_gl *vr_glwin_gl(struct vr_glwin *g)
{
    return g ? g->gl : NULL;
}

void vr_glwin_place(struct vr_glwin *g, int x, int y, int width, int height,
                    const pixman_region32_t *shape)
{
    if (!g)
        return;
    bool empty = !shape || !pixman_region32_not_empty((pixman_region32_t *)shape) || width <= 0 ||
                 height <= 0;
    if (empty) {
        if (g->mapped) {
            XUnmapWindow(g->dpy, g->win);
            g->mapped = false;
            XFlush(g->dpy);
        }
        return;
    }
    bool changed = false;
    if (!g->placed || x != g->x || y != g->y || width != g->w || height != g->h) {
        XMoveResizeWindow(g->dpy, g->win, x, y, (unsigned)width, (unsigned)height);
        g->x = x;
        g->y = y;
        g->w = width;
        g->h = height;
        g->placed = changed = true;
    }
    if (!pixman_region32_equal(&g->shape, (pixman_region32_t *)shape)) {
        int n = 0;
        const pixman_box32_t *b = pixman_region32_rectangles((pixman_region32_t *)shape, &n);
        XRectangle *r = n > 0 ? calloc((size_t)n, sizeof(*r)) : NULL;
        if (r) {
            int k = 0;
            for (int i = 0; i < n; i++) {
                /* Window coordinates: the caller clips to the window, which
                 * is at most 16384 pixels wide (X's 16-bit fields). */
                if (b[i].x1 < 0 || b[i].y1 < 0 || b[i].x2 > 32767 || b[i].y2 > 32767 ||
                    b[i].x2 <= b[i].x1 || b[i].y2 <= b[i].y1)
                    continue;
                r[k++] = (XRectangle){ (short)b[i].x1, (short)b[i].y1,
                                       (unsigned short)(b[i].x2 - b[i].x1),
                                       (unsigned short)(b[i].y2 - b[i].y1) };
            }
            /* pixman's boxes are y-x banded, as SHAPE's YXBanded wants. */
            XShapeCombineRectangles(g->dpy, g->win, ShapeBounding, 0, 0, r, k, ShapeSet, YXBanded);
            free(r);
            pixman_region32_copy(&g->shape, (pixman_region32_t *)shape);
            changed = true;
        }
    }
    if (!g->mapped) {
        XMapWindow(g->dpy, g->win);
        g->mapped = changed = true;
    }
    if (changed)
        XFlush(g->dpy);
}

int vr_glwin_begin(struct vr_glwin *g)
{
    if (!g || !g->placed)
        return -EINVAL;
    if (!eglMakeCurrent(g->edpy, g->surf, g->surf, g->ctx))
        return -EIO;
    glViewport(0, 0, g->w, g->h);
    return 0;
}

int vr_glwin_end(struct vr_glwin *g)
{
    if (!g)
        return -EINVAL;
    return eglSwapBuffers(g->edpy, g->surf) ? 0 : -EIO;
}
