/*
 * X11 side of videoredirsink: own window or the application's, placeholder,
 * window tracking. The placeholder is a filled rectangle and one line of text
 * drawn by the X server on Expose: no decoding, no image uploads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>

#include <videoredir/x11track.h>

#include "window.h"

#define PLACEHOLDER_BG 0x202830u
#define PLACEHOLDER_FG 0x8090a0u
#define PLACEHOLDER_TEXT "video shown by the SPICE client (videoredir)"
/* After the placeholder goes on, painted again at these delays: a local
 * sink that just stopped draws over it from its own X connection (a frame
 * in flight, its answer to an Expose), and the X server orders requests of
 * different connections as it likes. */
static const uint64_t REPAINT_US[] = { 250000, 1000000 };
#define N_REPAINTS (sizeof(REPAINT_US) / sizeof(REPAINT_US[0]))

struct vr_sink_window {
    Display *dpy;
    Window win;
    bool own;
    GC gc;
    struct vr_x11track *track;
    bool placeholder;
    uint64_t on_us;      /* when the placeholder went on */
    unsigned repainted;  /* of REPAINT_US, done since */
    int rx, ry, rw, rh; /* render rectangle, rw == 0: whole window */
    bool first;         /* report the first state even if "unchanged" */
};

static int ignore_errors(Display *d, XErrorEvent *e)
{
    (void)d;
    (void)e;
    return 0;
}

int vr_sink_window_open(const char *display, unsigned long handle, uint32_t w, uint32_t h,
                        const char *title, struct vr_sink_window **out, char *err, size_t errlen)
{
    *out = NULL;
    struct vr_sink_window *win = calloc(1, sizeof(*win));
    if (!win)
        return -ENOMEM;
    win->dpy = XOpenDisplay(display);
    if (!win->dpy) {
        snprintf(err, errlen, "cannot open X display %s", display ? display : "(DISPLAY unset)");
        free(win);
        return -ECONNREFUSED;
    }
    int scr = DefaultScreen(win->dpy);
    if (handle) {
        win->win = (Window)handle;
        XWindowAttributes wa;
        int (*old)(Display *, XErrorEvent *) = XSetErrorHandler(ignore_errors);
        Status ok = XGetWindowAttributes(win->dpy, win->win, &wa);
        XSync(win->dpy, False);
        XSetErrorHandler(old);
        if (!ok) {
            snprintf(err, errlen, "window 0x%lx does not exist", handle);
            XCloseDisplay(win->dpy);
            free(win);
            return -ENOENT;
        }
        XSelectInput(win->dpy, win->win, ExposureMask);
    } else {
        win->own = true;
        if (w == 0 || w > 8192)
            w = 640;
        if (h == 0 || h > 8192)
            h = 360;
        win->win = XCreateSimpleWindow(win->dpy, RootWindow(win->dpy, scr), 0, 0, w, h, 0,
                                       BlackPixel(win->dpy, scr), PLACEHOLDER_BG);
        XStoreName(win->dpy, win->win, title);
        XSelectInput(win->dpy, win->win, ExposureMask | StructureNotifyMask);
        Atom del = XInternAtom(win->dpy, "WM_DELETE_WINDOW", False);
        XSetWMProtocols(win->dpy, win->win, &del, 1);
        XMapRaised(win->dpy, win->win);
    }
    win->gc = XCreateGC(win->dpy, win->win, 0, NULL);
    XFlush(win->dpy);
    int ret = vr_x11track_create(win->dpy, win->win, &win->track);
    if (ret < 0) {
        snprintf(err, errlen, "cannot track window 0x%lx: %s", (unsigned long)win->win, strerror(-ret));
        vr_sink_window_close(win);
        return ret;
    }
    win->first = true;
    *out = win;
    return 0;
}

void vr_sink_window_close(struct vr_sink_window *win)
{
    if (!win)
        return;
    vr_x11track_destroy(win->track);
    if (win->gc)
        XFreeGC(win->dpy, win->gc);
    if (win->own)
        XDestroyWindow(win->dpy, win->win);
    XCloseDisplay(win->dpy);
    free(win);
}

int vr_sink_window_fd(const struct vr_sink_window *win)
{
    return ConnectionNumber(win->dpy);
}

unsigned long vr_sink_window_xid(const struct vr_sink_window *win)
{
    return (unsigned long)win->win;
}

static void paint(struct vr_sink_window *win)
{
    if (!win->placeholder)
        return;
    XWindowAttributes wa;
    if (!XGetWindowAttributes(win->dpy, win->win, &wa))
        return;
    int x = 0, y = 0, w = wa.width, h = wa.height;
    if (win->rw > 0 && win->rh > 0) {
        x = win->rx;
        y = win->ry;
        w = win->rw;
        h = win->rh;
    }
    XSetForeground(win->dpy, win->gc, PLACEHOLDER_BG);
    XFillRectangle(win->dpy, win->win, win->gc, x, y, (unsigned)w, (unsigned)h);
    XSetForeground(win->dpy, win->gc, PLACEHOLDER_FG);
    int len = (int)strlen(PLACEHOLDER_TEXT);
    int tx = x + w / 2 - len * 3; /* the default font is about 6 px wide */
    XDrawString(win->dpy, win->win, win->gc, tx > x ? tx : x + 4, y + h / 2, PLACEHOLDER_TEXT, len);
    XFlush(win->dpy);
}

void vr_sink_window_set_placeholder(struct vr_sink_window *win, bool on)
{
    if (on && !win->placeholder) {
        win->on_us = vr_x11track_now_us();
        win->repainted = 0;
    }
    win->placeholder = on;
    paint(win);
}

/* The repaints due at now; returns ms to the next one, or -1. */
static int repaint_due(struct vr_sink_window *win, uint64_t now)
{
    if (!win->placeholder)
        return -1;
    bool due = false;
    while (win->repainted < N_REPAINTS && now - win->on_us >= REPAINT_US[win->repainted]) {
        win->repainted++;
        due = true;
    }
    if (due)
        paint(win);
    if (win->repainted >= N_REPAINTS)
        return -1;
    return (int)((win->on_us + REPAINT_US[win->repainted] - now + 999) / 1000);
}

void vr_sink_window_set_render_rect(struct vr_sink_window *win, int x, int y, int w, int h)
{
    win->rx = x;
    win->ry = y;
    win->rw = w > 0 ? w : 0;
    win->rh = h > 0 ? h : 0;
    if (win->rw && win->rh) {
        struct vr_rect r = { x, y, (uint32_t)w, (uint32_t)h };
        vr_x11track_set_content(win->track, &r);
    } else {
        vr_x11track_set_content(win->track, NULL);
    }
    paint(win);
}

int vr_sink_window_process(struct vr_sink_window *win, struct vr_geometry *geom, struct vr_region *region,
                           int *timeout_ms)
{
    bool expose = false;
    while (XPending(win->dpy)) {
        XEvent ev;
        XNextEvent(win->dpy, &ev);
        if (ev.type == Expose && ev.xexpose.window == win->win && ev.xexpose.count == 0)
            expose = true;
        vr_x11track_handle_event(win->track, &ev);
    }
    if (expose)
        paint(win);
    uint64_t now = vr_x11track_now_us();
    int changed = vr_x11track_poll(win->track, now);
    if (changed == -ENOENT)
        return -ENOENT;
    if (changed < 0)
        changed = 0;
    if (win->first) {
        const struct vr_x11track_state *st = vr_x11track_state(win->track);
        if (st->window.w > 0) {
            changed |= VR_X11TRACK_GEOMETRY | VR_X11TRACK_REGION;
            win->first = false;
        }
    }
    now = vr_x11track_now_us();
    *timeout_ms = vr_x11track_timeout_ms(win->track, now);
    int rt = repaint_due(win, now);
    if (rt >= 0 && (*timeout_ms < 0 || rt < *timeout_ms))
        *timeout_ms = rt;
    if (!changed)
        return 0;
    const struct vr_x11track_state *st = vr_x11track_state(win->track);
    memset(geom, 0, sizeof(*geom));
    geom->window = st->window;
    geom->content = st->content;
    *region = st->region;
    if (!st->viewable)
        region->n_rects = 0;
    return (changed & VR_X11TRACK_GEOMETRY ? 1 : 0) | (changed & VR_X11TRACK_REGION ? 2 : 0);
}
