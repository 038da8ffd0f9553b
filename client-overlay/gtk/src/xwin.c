/*
 * The overlay's own surface: a child X window of the toplevel, drawn with GL
 * (EGL) or in software (MIT-SHM pictures). See xwin.h and the README for
 * why not a GtkGLArea or GTK's own drawing.
 *
 * GL: EGL rather than GLX: it is what imports VA-API surfaces as DMA-BUF
 * (the renderer probes it), and Mesa's EGL on X11 runs on Xvfb (llvmpipe) as
 * on a GPU. The window has the visual of the EGL config and a colormap of
 * its own, so it may differ from the toplevel's.
 *
 * Software: the parent's visual; each stream's picture is a shared-memory
 * XImage that libswscale writes into, and XShmPutImage has the server copy
 * the visible rectangles into the window: no copy through the socket and no
 * GTK redraw of the desktop under the video.
 *
 * Either way the window has no background (the server never clears it: no
 * flicker between a shape change and the next picture).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/shape.h>
#include <epoxy/egl.h>
#include <epoxy/gl.h>

#include "xwin.h"

/* A picture's size limit, as the software presenters bound theirs. */
#define MAX_PICTURE_PIXELS ((uint64_t)8192 * 8192)

struct picture {
    XImage *img;
    XShmSegmentInfo shm;
    uint32_t w, h;
};

struct vr_xwin {
    Display *dpy;
    Window win;
    Colormap cmap;
    /* GL */
    EGLDisplay edpy;
    EGLContext ctx;
    EGLSurface surf;
    struct vr_gl *gl;
    /* software */
    bool shm;
    Visual *visual;
    int depth;
    GC gc;
    struct picture pic[VR_MAX_STREAMS];
    int x, y, w, h;
    bool mapped, placed;
    pixman_region32_t shape;
    char desc[400];
};

static struct vr_xwin *xwin_new(Display *dpy)
{
    struct vr_xwin *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    pixman_region32_init(&g->shape);
    g->dpy = dpy;
    g->edpy = EGL_NO_DISPLAY;
    g->ctx = EGL_NO_CONTEXT;
    g->surf = EGL_NO_SURFACE;
    return g;
}

/* The window itself, child of parent, on visual (depth) with colormap
 * cmap: unmapped, no background, shaped to nothing, transparent to input. */
static int make_window(struct vr_xwin *g, Window parent, Visual *visual, int depth, Colormap cmap,
                       char *why, size_t whylen)
{
    XSetWindowAttributes a = { .colormap = cmap, .border_pixel = 0, .background_pixmap = None,
                               .event_mask = ExposureMask, .bit_gravity = NorthWestGravity };
    g->win = XCreateWindow(g->dpy, parent, 0, 0, 1, 1, 0, depth, InputOutput, visual,
                           CWColormap | CWBorderPixel | CWBackPixmap | CWEventMask | CWBitGravity, &a);
    if (!g->win) {
        snprintf(why, whylen, "XCreateWindow failed");
        return -ENODEV;
    }
    /* Transparent to input: clicks and keys reach the SPICE display under it. */
    XShapeCombineRectangles(g->dpy, g->win, ShapeInput, 0, 0, NULL, 0, ShapeSet, Unsorted);
    XShapeCombineRectangles(g->dpy, g->win, ShapeBounding, 0, 0, NULL, 0, ShapeSet, Unsorted);
    return 0;
}

static EGLDisplay get_display(Display *dpy)
{
    const char *ext = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
    if (ext && strstr(ext, "EGL_EXT_platform_x11") && strstr(ext, "EGL_EXT_platform_base"))
        return eglGetPlatformDisplayEXT(EGL_PLATFORM_X11_EXT, dpy, NULL);
    return eglGetDisplay((EGLNativeDisplayType)dpy);
}

/* A window-capable RGB888 config of api whose X visual exists; *vi set. */
static bool pick_config(struct vr_xwin *g, EGLint renderable, EGLConfig *cfg, XVisualInfo *vi)
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

/* What both kinds of window need. Returns 0 or a negative errno (why set). */
static int can_make(void *xdisplay, unsigned long parent, void *out, char *why, size_t whylen)
{
    if (!why || !whylen)
        return -EINVAL;
    if (!xdisplay || !parent || !out) {
        snprintf(why, whylen, "no X display or window");
        return -EINVAL;
    }
    int ev = 0, er = 0;
    if (!XShapeQueryExtension(xdisplay, &ev, &er)) {
        snprintf(why, whylen, "the X server has no SHAPE extension");
        return -ENOTSUP;
    }
    return 0;
}

int vr_xwin_create_gl(void *xdisplay, unsigned long parent, vr_client_log_fn log, void *log_user,
                      char *why, size_t whylen, struct vr_xwin **out)
{
    int ret = can_make(xdisplay, parent, out, why, whylen);
    if (ret < 0)
        return ret;
    struct vr_xwin *g = xwin_new(xdisplay);
    if (!g) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    ret = -ENODEV;
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
    ret = make_window(g, (Window)parent, vi.visual, vi.depth, g->cmap, why, whylen);
    if (ret < 0)
        goto fail;
    ret = -ENODEV;
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
    vr_xwin_destroy(g);
    return ret;
}

int vr_xwin_create_shm(void *xdisplay, unsigned long parent, char *why, size_t whylen,
                       struct vr_xwin **out)
{
    int ret = can_make(xdisplay, parent, out, why, whylen);
    if (ret < 0)
        return ret;
    Display *dpy = xdisplay;
    if (!XShmQueryExtension(dpy)) {
        snprintf(why, whylen, "the X server has no MIT-SHM extension (a remote display?)");
        return -ENOTSUP;
    }
    XWindowAttributes pa;
    if (!XGetWindowAttributes(dpy, (Window)parent, &pa)) {
        snprintf(why, whylen, "the parent window is gone");
        return -ENODEV;
    }
    /* x8r8g8b8 in 32-bit pixels: what libswscale writes as BGRA. */
    int nf = 0, bpp = 0;
    XPixmapFormatValues *f = XListPixmapFormats(dpy, &nf);
    for (int i = 0; f && i < nf; i++)
        if (f[i].depth == pa.depth)
            bpp = f[i].bits_per_pixel;
    if (f)
        XFree(f);
    Visual *v = pa.visual;
    if ((pa.depth != 24 && pa.depth != 32) || bpp != 32 || v->class != TrueColor ||
        v->red_mask != 0xff0000 || v->green_mask != 0xff00 || v->blue_mask != 0xff ||
        ImageByteOrder(dpy) != LSBFirst) {
        snprintf(why, whylen, "the window's pixels are not x8r8g8b8 (depth %d, %d bits per pixel)",
                 pa.depth, bpp);
        return -ENOTSUP;
    }
    struct vr_xwin *g = xwin_new(dpy);
    if (!g) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    g->shm = true;
    g->visual = v;
    g->depth = pa.depth;
    /* A 32-bit (ARGB) toplevel: our own colormap, as for any visual. */
    g->cmap = XCreateColormap(dpy, pa.root, v, AllocNone);
    ret = make_window(g, (Window)parent, v, pa.depth, g->cmap, why, whylen);
    if (ret < 0) {
        vr_xwin_destroy(g);
        return ret;
    }
    g->gc = XCreateGC(dpy, g->win, 0, NULL);
    snprintf(g->desc, sizeof(g->desc), "libswscale + MIT-SHM pictures on an X11 child window");
    XFlush(dpy);
    *out = g;
    return 0;
}

static void picture_free(struct vr_xwin *g, struct picture *p)
{
    if (!p->img)
        return;
    XShmDetach(g->dpy, &p->shm);
    XSync(g->dpy, False); /* detached before the memory goes */
    p->img->data = NULL;  /* ours, not Xlib's to free */
    XDestroyImage(p->img);
    shmdt(p->shm.shmaddr);
    memset(p, 0, sizeof(*p));
}

void vr_xwin_destroy(struct vr_xwin *g)
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
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        picture_free(g, &g->pic[i]);
    if (g->gc)
        XFreeGC(g->dpy, g->gc);
    if (g->win)
        XDestroyWindow(g->dpy, g->win);
    if (g->cmap)
        XFreeColormap(g->dpy, g->cmap);
    if (g->win || g->cmap)
        XFlush(g->dpy);
    pixman_region32_fini(&g->shape);
    free(g);
}

unsigned long vr_xwin_xid(const struct vr_xwin *g)
{
    return g ? g->win : 0;
}

const char *vr_xwin_describe(const struct vr_xwin *g)
{
    return g ? g->desc : "";
}

struct vr_gl *vr_xwin_gl(struct vr_xwin *g)
{
    return g ? g->gl : NULL;
}

void vr_xwin_place(struct vr_xwin *g, int x, int y, int width, int height,
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

int vr_xwin_begin(struct vr_xwin *g)
{
    if (!g || !g->placed)
        return -EINVAL;
    if (g->shm)
        return 0;
    if (!eglMakeCurrent(g->edpy, g->surf, g->surf, g->ctx))
        return -EIO;
    glViewport(0, 0, g->w, g->h);
    return 0;
}

int vr_xwin_end(struct vr_xwin *g)
{
    if (!g)
        return -EINVAL;
    if (g->shm) {
        /* The server copies a picture when it runs the request: once our
         * requests are answered, the pictures are ours to write again. */
        XSync(g->dpy, False);
        return 0;
    }
    return eglSwapBuffers(g->edpy, g->surf) ? 0 : -EIO;
}

int vr_xwin_picture(struct vr_xwin *g, uint32_t slot, uint32_t width, uint32_t height,
                    uint8_t **data, int *stride)
{
    if (!g || !g->shm || slot >= VR_MAX_STREAMS || !width || !height || !data || !stride)
        return -EINVAL;
    if ((uint64_t)width * height > MAX_PICTURE_PIXELS || width > 16384 || height > 16384)
        return -E2BIG;
    struct picture *p = &g->pic[slot];
    if (p->img && p->w == width && p->h == height) {
        *data = (uint8_t *)p->img->data;
        *stride = p->img->bytes_per_line;
        return 0;
    }
    picture_free(g, p);
    p->img = XShmCreateImage(g->dpy, g->visual, (unsigned)g->depth, ZPixmap, NULL, &p->shm, width,
                             height);
    if (!p->img)
        return -ENOMEM;
    size_t bytes = (size_t)p->img->bytes_per_line * height;
    p->shm.shmid = shmget(IPC_PRIVATE, bytes, IPC_CREAT | 0600);
    if (p->shm.shmid < 0) {
        int e = errno;
        XDestroyImage(p->img);
        memset(p, 0, sizeof(*p));
        return e == EINVAL || e == ENOSPC ? -ENOMEM : -e;
    }
    p->shm.shmaddr = shmat(p->shm.shmid, NULL, 0);
    if (p->shm.shmaddr == (char *)-1) {
        int e = errno;
        shmctl(p->shm.shmid, IPC_RMID, NULL);
        XDestroyImage(p->img);
        memset(p, 0, sizeof(*p));
        return -e;
    }
    p->img->data = p->shm.shmaddr;
    p->shm.readOnly = True;
    XShmAttach(g->dpy, &p->shm);
    /* Attached: the segment goes once both sides let go of it (also if
     * this process dies). */
    XSync(g->dpy, False);
    shmctl(p->shm.shmid, IPC_RMID, NULL);
    p->w = width;
    p->h = height;
    *data = (uint8_t *)p->img->data;
    *stride = p->img->bytes_per_line;
    return 1;
}

void vr_xwin_put(struct vr_xwin *g, uint32_t slot, int x, int y, const pixman_region32_t *clip)
{
    if (!g || !g->shm || slot >= VR_MAX_STREAMS || !g->pic[slot].img)
        return;
    const struct picture *p = &g->pic[slot];
    int n = 0;
    const pixman_box32_t *b = pixman_region32_rectangles((pixman_region32_t *)clip, &n);
    for (int i = 0; i < n; i++) {
        /* Only what the picture covers. */
        int x1 = b[i].x1 > x ? b[i].x1 : x, y1 = b[i].y1 > y ? b[i].y1 : y;
        int x2 = b[i].x2 < x + (int)p->w ? b[i].x2 : x + (int)p->w;
        int y2 = b[i].y2 < y + (int)p->h ? b[i].y2 : y + (int)p->h;
        if (x2 <= x1 || y2 <= y1)
            continue;
        XShmPutImage(g->dpy, g->win, g->gc, p->img, x1 - x, y1 - y, x1, y1, (unsigned)(x2 - x1),
                     (unsigned)(y2 - y1), False);
    }
}

void vr_xwin_picture_drop(struct vr_xwin *g, uint32_t slot)
{
    if (g && g->shm && slot < VR_MAX_STREAMS)
        picture_free(g, &g->pic[slot]);
}
