/*
 * An X server's screen as the host stand-in's QXL desktop (--x-display).
 *
 * XDamage on the root window says what changed (window contents, and the
 * background and windows exposed when others map, move, resize or unmap);
 * the damaged rectangles are read back with MIT-SHM (XGetImage where shared
 * memory is not available) and drawn with one QXL_DRAW_COPY each, as a
 * guest's QXL driver would. Damage is only fetched when an update is due, so
 * everything that happened between two updates is one region: at most
 * VR_XDESKTOP_RATE updates a second, at most MAX_RECTS draws each (more
 * rectangles collapse to their bounding box) and PIXEL_BUDGET pixels read
 * back per update (the rest waits for the next one).
 *
 * Everything runs on the default GLib main context: the X connection is one
 * of its fd sources.
 */
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/Xdamage.h>
#include <X11/extensions/Xfixes.h>
#include <glib-unix.h>
#include <pixman.h>

#include "host.h"

#define VR_XDESKTOP_RATE 60
#define MAX_RECTS 8                 /* draws per update before collapsing to the extents */
#define PIXEL_BUDGET (1920 * 1080) /* pixels read back per update (a larger rect still goes whole) */

struct vr_host_xdesktop {
    Display *dpy;
    Window root;
    uint32_t width, height;
    int damage_event, damage_error;
    Damage damage;
    XserverRegion parts;
    Visual *visual;
    int depth;
    /* MIT-SHM: one segment as large as the screen, shared by every read-back. */
    bool shm;
    XShmSegmentInfo shminfo;

    struct vr_host_display *display;
    vr_host_xdesktop_lost_fn lost;
    void *user;
    guint fd_watch, timer;
    uint64_t last_update_us;
    pixman_region32_t pending; /* damaged, not drawn yet */
    struct vr_host_xdesktop_stats stats;
    bool gone; /* the connection is closed: no more X calls */
};

/* Xlib reports protocol errors through one process-wide handler. The
 * requests here are on the root window and cannot fail unless the server is
 * odd; log, remember, go on. */
static int x_errors;
static int on_x_error(Display *dpy, XErrorEvent *e)
{
    char text[128];
    XGetErrorText(dpy, e->error_code, text, sizeof(text));
    g_warning("X error: %s (request %u.%u)", text, e->request_code, e->minor_code);
    x_errors++;
    return 0;
}

static int on_x_io_error(Display *dpy)
{
    /* Seen in the middle of a request: Xlib exits (status 1) when this returns. */
    g_warning("the X server %s went away", DisplayString(dpy));
    return 0;
}

static bool format_ok(const XImage *img)
{
    /* QXL's 32-bit xRGB is what Xvfb and most servers use at depth 24. */
    return img->bits_per_pixel == 32 && img->red_mask == 0xff0000 && img->green_mask == 0xff00 &&
           img->blue_mask == 0xff &&
           img->byte_order == (G_BYTE_ORDER == G_LITTLE_ENDIAN ? LSBFirst : MSBFirst);
}

static void shm_init(struct vr_host_xdesktop *x)
{
    if (!XShmQueryExtension(x->dpy))
        return;
    size_t size = (size_t)x->width * x->height * 4;
    x->shminfo.shmid = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
    if (x->shminfo.shmid < 0)
        return;
    x->shminfo.shmaddr = shmat(x->shminfo.shmid, NULL, 0);
    x->shminfo.readOnly = False;
    if (x->shminfo.shmaddr == (char *)-1) {
        shmctl(x->shminfo.shmid, IPC_RMID, NULL);
        return;
    }
    int errors = x_errors;
    XShmAttach(x->dpy, &x->shminfo);
    XSync(x->dpy, False);
    /* Freed once both sides have detached. */
    shmctl(x->shminfo.shmid, IPC_RMID, NULL);
    if (x_errors != errors) { /* e.g. a server on another machine */
        shmdt(x->shminfo.shmaddr);
        return;
    }
    x->shm = true;
}

/* Reads w x h at x,y of the root window. The image is valid until
 * XDestroyImage (for MIT-SHM, until the next read). */
static XImage *grab(struct vr_host_xdesktop *x, int rx, int ry, unsigned w, unsigned h)
{
    if (x->shm) {
        XImage *img = XShmCreateImage(x->dpy, x->visual, (unsigned)x->depth, ZPixmap,
                                      x->shminfo.shmaddr, &x->shminfo, w, h);
        if (!img)
            return NULL;
        if (!XShmGetImage(x->dpy, x->root, img, rx, ry, AllPlanes)) {
            XDestroyImage(img);
            return NULL;
        }
        return img;
    }
    return XGetImage(x->dpy, x->root, rx, ry, w, h, AllPlanes, ZPixmap);
}

int vr_host_xdesktop_open(const char *name, struct vr_host_xdesktop **out, GError **error)
{
    Display *dpy = XOpenDisplay(name);
    if (!dpy) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot open the X display %s",
                    name ? name : "($DISPLAY)");
        return -EIO;
    }
    XSetErrorHandler(on_x_error);
    XSetIOErrorHandler(on_x_io_error);
    struct vr_host_xdesktop *x = g_new0(struct vr_host_xdesktop, 1);
    x->dpy = dpy;
    pixman_region32_init(&x->pending);
    int screen = DefaultScreen(dpy), fixes_event, fixes_error, major = 1, minor = 1;
    x->root = RootWindow(dpy, screen);
    x->width = (uint32_t)DisplayWidth(dpy, screen);
    x->height = (uint32_t)DisplayHeight(dpy, screen);
    x->visual = DefaultVisual(dpy, screen);
    x->depth = DefaultDepth(dpy, screen);
    if (!XDamageQueryExtension(dpy, &x->damage_event, &x->damage_error) ||
        !XDamageQueryVersion(dpy, &major, &minor) ||
        !XFixesQueryExtension(dpy, &fixes_event, &fixes_error) ||
        (major = 2, minor = 0, !XFixesQueryVersion(dpy, &major, &minor)) || major < 2) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                    "the X server %s has no DAMAGE or XFIXES 2 extension", DisplayString(dpy));
        goto fail;
    }
    if (x->width < 64 || x->height < 64 || x->width > 8192 || x->height > 8192) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                    "the X screen is %ux%u (64..8192 supported)", x->width, x->height);
        goto fail;
    }
    XImage *probe = XGetImage(dpy, x->root, 0, 0, 1, 1, AllPlanes, ZPixmap);
    bool ok = probe && format_ok(probe);
    if (probe)
        XDestroyImage(probe);
    if (!ok) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                    "the X screen %s is not 32-bit xRGB (depth %d; run Xvfb with -screen 0 WxHx24)",
                    DisplayString(dpy), x->depth);
        goto fail;
    }
    /* Damage first, then the first picture: nothing drawn in between is lost. */
    x->damage = XDamageCreate(dpy, x->root, XDamageReportNonEmpty);
    x->parts = XFixesCreateRegion(dpy, NULL, 0);
    shm_init(x);
    g_debug("X desktop %s: %ux%u, read back with %s", DisplayString(dpy), x->width, x->height,
            x->shm ? "MIT-SHM" : "XGetImage");
    *out = x;
    return 0;
fail:
    vr_host_xdesktop_close(x);
    return -ENOTSUP;
}

void vr_host_xdesktop_size(const struct vr_host_xdesktop *x, uint32_t *w, uint32_t *h)
{
    *w = x->width;
    *h = x->height;
}

uint32_t *vr_host_xdesktop_grab(struct vr_host_xdesktop *x, GError **error)
{
    XImage *img = grab(x, 0, 0, x->width, x->height);
    if (!img || !format_ok(img)) {
        if (img)
            XDestroyImage(img);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot read the X screen");
        return NULL;
    }
    uint32_t *px = g_malloc((size_t)x->width * x->height * 4);
    for (uint32_t y = 0; y < x->height; y++)
        memcpy(px + (size_t)y * x->width, img->data + (size_t)y * (size_t)img->bytes_per_line,
               (size_t)x->width * 4);
    XDestroyImage(img);
    return px;
}

static void schedule(struct vr_host_xdesktop *x);
static void drain(struct vr_host_xdesktop *x);

/* One update: what was damaged since the last one, read back and drawn. */
static gboolean update(gpointer data)
{
    struct vr_host_xdesktop *x = data;
    x->timer = 0;
    uint64_t start = (uint64_t)g_get_monotonic_time();
    x->last_update_us = start;

    XDamageSubtract(x->dpy, x->damage, None, x->parts);
    int n = 0;
    XRectangle *r = XFixesFetchRegion(x->dpy, x->parts, &n);
    for (int i = 0; r && i < n; i++)
        pixman_region32_union_rect(&x->pending, &x->pending, r[i].x, r[i].y, r[i].width,
                                   r[i].height);
    if (r)
        XFree(r);
    pixman_region32_intersect_rect(&x->pending, &x->pending, 0, 0, x->width, x->height);
    if (pixman_region32_n_rects(&x->pending) > MAX_RECTS) {
        pixman_box32_t e = *pixman_region32_extents(&x->pending);
        pixman_region32_reset(&x->pending, &e);
    }

    int nb = 0;
    const pixman_box32_t *b = pixman_region32_rectangles(&x->pending, &nb);
    pixman_region32_t done;
    pixman_region32_init(&done);
    uint64_t pixels = 0;
    for (int i = 0; i < nb; i++) {
        unsigned w = (unsigned)(b[i].x2 - b[i].x1), h = (unsigned)(b[i].y2 - b[i].y1);
        if (pixels && pixels + (uint64_t)w * h > PIXEL_BUDGET)
            break; /* the next update takes the rest */
        XImage *img = grab(x, b[i].x1, b[i].y1, w, h);
        if (!img) {
            g_warning("cannot read %ux%u at %d,%d of the X screen", w, h, b[i].x1, b[i].y1);
            pixman_region32_union_rect(&done, &done, b[i].x1, b[i].y1, w, h);
            continue;
        }
        int ret = vr_host_display_paint(x->display, b[i].x1, b[i].y1, w, h,
                                        (const uint8_t *)img->data, (size_t)img->bytes_per_line);
        XDestroyImage(img);
        if (ret == -EAGAIN) {
            x->stats.queue_full++;
            break; /* the server has not taken the last draws yet: retry next time */
        }
        if (ret < 0)
            g_warning("cannot draw %ux%u at %d,%d: %s", w, h, b[i].x1, b[i].y1, g_strerror(-ret));
        pixman_region32_union_rect(&done, &done, b[i].x1, b[i].y1, w, h);
        pixels += (uint64_t)w * h;
        x->stats.rects++;
    }
    pixman_region32_subtract(&x->pending, &x->pending, &done);
    pixman_region32_fini(&done);

    uint64_t us = (uint64_t)g_get_monotonic_time() - start;
    x->stats.updates++;
    x->stats.pixels += pixels;
    x->stats.busy_us += us;
    if (us > x->stats.max_us)
        x->stats.max_us = us;
    if (pixman_region32_not_empty(&x->pending))
        schedule(x);
    /* Xlib may have read events while waiting for the replies above: the fd
     * will not say so again. */
    drain(x);
    return G_SOURCE_REMOVE;
}

/* The next update, no sooner than 1/VR_XDESKTOP_RATE s after the last one. */
static void schedule(struct vr_host_xdesktop *x)
{
    if (x->timer)
        return;
    uint64_t now = (uint64_t)g_get_monotonic_time(), due = x->last_update_us + 1000000 / VR_XDESKTOP_RATE;
    guint ms = due > now ? (guint)((due - now + 999) / 1000) : 0;
    x->timer = g_timeout_add(ms, update, x);
}

/* Events Xlib has read (also while waiting for replies): damage says an
 * update is due. */
static void drain(struct vr_host_xdesktop *x)
{
    while (XPending(x->dpy)) {
        XEvent ev;
        XNextEvent(x->dpy, &ev);
        if (ev.type == x->damage_event + XDamageNotify) {
            x->stats.damage_events++;
            schedule(x);
        }
    }
}

static gboolean on_x_fd(gint fd, GIOCondition cond, gpointer data)
{
    struct vr_host_xdesktop *x = data;
    char byte;
    /* A closed connection: tell the owner instead of letting Xlib exit. */
    if ((cond & (G_IO_HUP | G_IO_ERR)) ||
        recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
        x->fd_watch = 0;
        x->gone = true;
        x->stats.lost = true;
        if (x->timer) {
            g_source_remove(x->timer);
            x->timer = 0;
        }
        g_warning("the X server %s went away", DisplayString(x->dpy));
        if (x->lost)
            x->lost(x->user);
        return G_SOURCE_REMOVE;
    }
    drain(x);
    return G_SOURCE_CONTINUE;
}

int vr_host_xdesktop_start(struct vr_host_xdesktop *x, struct vr_host_display *display,
                           vr_host_xdesktop_lost_fn lost, void *user)
{
    if (!x || !display || x->display)
        return -EINVAL;
    x->display = display;
    x->lost = lost;
    x->user = user;
    x->fd_watch = g_unix_fd_add(ConnectionNumber(x->dpy), G_IO_IN | G_IO_HUP | G_IO_ERR, on_x_fd, x);
    drain(x);
    schedule(x);
    return 0;
}

void vr_host_xdesktop_stats(const struct vr_host_xdesktop *x, struct vr_host_xdesktop_stats *st)
{
    *st = x->stats;
}

void vr_host_xdesktop_close(struct vr_host_xdesktop *x)
{
    if (!x)
        return;
    if (x->fd_watch)
        g_source_remove(x->fd_watch);
    if (x->timer)
        g_source_remove(x->timer);
    if (x->gone) {
        /* Any X call would end in Xlib's I/O error exit; Xlib's memory stays. */
        pixman_region32_fini(&x->pending);
        g_free(x);
        return;
    }
    if (x->shm) {
        XShmDetach(x->dpy, &x->shminfo);
        shmdt(x->shminfo.shmaddr);
    }
    if (x->parts)
        XFixesDestroyRegion(x->dpy, x->parts);
    if (x->damage)
        XDamageDestroy(x->dpy, x->damage);
    XCloseDisplay(x->dpy);
    pixman_region32_fini(&x->pending);
    g_free(x);
}
