/* The X11 window and occlusion tracker: geometry, mapped state and visible
 * region of one window, re-evaluated on X events under a rate limit. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <X11/extensions/shape.h>

#include "videoredir/x11track.h"

#define MAX_DEPTH 64        /* ancestors we are willing to walk */
#define MAX_ATTEMPTS 4      /* evaluations retried when the tree moves under us */
#define ICONIC_STATE 3      /* ICCCM WM_STATE value */

/* ---- X error trap ------------------------------------------------------
 * Xlib reports protocol errors through one process-wide handler whose default
 * exits. While the tracker talks to the server it installs its own and records
 * errors of its own requests (serial at or after the trap's start); anything
 * else goes to the handler that was there before. The trap ends with XSync so
 * no error of ours can arrive after the previous handler is back. */
struct trap {
    Display *dpy;
    unsigned long first_serial;
    XErrorHandler prev;
    unsigned n_errors;
    unsigned char last_code;
    XID last_resource;
};

static _Thread_local struct trap *current_trap;

static int trap_handler(Display *dpy, XErrorEvent *e)
{
    struct trap *tr = current_trap;
    if (tr && dpy == tr->dpy && e->serial >= tr->first_serial) {
        tr->n_errors++;
        tr->last_code = e->error_code;
        tr->last_resource = e->resourceid;
        return 0;
    }
    if (tr && tr->prev)
        return tr->prev(dpy, e);
    return 0;
}

static void trap_push(struct trap *tr, Display *dpy)
{
    memset(tr, 0, sizeof(*tr));
    tr->dpy = dpy;
    XSync(dpy, False); /* earlier errors belong to whoever sent those requests */
    tr->first_serial = NextRequest(dpy);
    tr->prev = XSetErrorHandler(trap_handler);
    current_trap = tr;
}

static void trap_pop(struct trap *tr)
{
    XSync(tr->dpy, False);
    current_trap = NULL;
    XSetErrorHandler(tr->prev);
}

/* ---- tracker ---------------------------------------------------------- */

enum { ATOM_NET_WM_STATE, ATOM_NET_WM_STATE_HIDDEN, ATOM_WM_STATE, N_ATOMS };

/* A window we selected events on, with this client's masks from before.
 * Chain windows and root get core and shape events; windows that covered the
 * video get shape events only, so a change of their shape is noticed. */
struct watched {
    Window w;
    bool core;
    long orig_mask;
    unsigned long orig_shape_mask;
};

struct vr_x11track {
    Display *dpy;
    bool own_dpy;
    Window win, root;
    bool has_shape;
    int shape_event_base;
    Atom atoms[N_ATOMS];

    bool has_content;
    struct vr_rect content_rel;
    uint32_t cap;
    uint64_t interval_us;

    bool dirty, gone, evaluated;
    uint64_t last_eval_us;

    Window chain[MAX_DEPTH]; /* win, its parent, ..., the child of root */
    size_t n_chain;

    struct watched *watched;
    size_t n_watched, alloc_watched;

    pixman_region32_t exact;
    struct vr_x11track_state state;

    vr_x11track_log_fn log_fn;
    void *log_opaque;
};

/* One level of the walk: a chain window and its parent's children. */
struct level {
    Window w;
    XWindowAttributes attr;
    Window *siblings; /* children of the parent, bottom to top (XFree) */
    unsigned n_siblings;
    int ox, oy;       /* inside origin, root coordinates */
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void logf_(struct vr_x11track *t, const char *fmt, ...)
{
    if (!t->log_fn)
        return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    t->log_fn(t->log_opaque, buf);
}

uint64_t vr_x11track_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool in_chain(const struct vr_x11track *t, Window w)
{
    for (size_t i = 0; i < t->n_chain; i++)
        if (t->chain[i] == w)
            return true;
    return false;
}

static struct watched *find_watched(struct vr_x11track *t, Window w)
{
    for (size_t i = 0; i < t->n_watched; i++)
        if (t->watched[i].w == w)
            return &t->watched[i];
    return NULL;
}

/* Adds our event bits to @w without dropping this client's own (@mask 0:
 * core events untouched). Runs inside a trap; a window that vanished
 * meanwhile is simply not watched. */
static void watch(struct vr_x11track *t, Window w, long mask, bool shape)
{
    struct watched *old = find_watched(t, w);
    if (old) {
        if (mask && !old->core) { /* an occluder that became an ancestor */
            XWindowAttributes a;
            if (XGetWindowAttributes(t->dpy, w, &a)) {
                old->core = true;
                old->orig_mask = a.your_event_mask;
                XSelectInput(t->dpy, w, a.your_event_mask | mask);
            }
        }
        return;
    }
    if (!mask && !(shape && t->has_shape))
        return;
    if (t->n_watched == t->alloc_watched) {
        size_t n = t->alloc_watched ? 2 * t->alloc_watched : 8;
        struct watched *v = realloc(t->watched, n * sizeof(*v));
        if (!v)
            return; /* unwatched: we only miss events, the next poll still works */
        t->watched = v;
        t->alloc_watched = n;
    }
    XWindowAttributes a;
    if (mask && !XGetWindowAttributes(t->dpy, w, &a))
        return;
    struct watched *wd = &t->watched[t->n_watched++];
    wd->w = w;
    wd->core = mask != 0;
    wd->orig_mask = mask ? a.your_event_mask : 0;
    wd->orig_shape_mask = 0;
    if (mask)
        XSelectInput(t->dpy, w, a.your_event_mask | mask);
    if (shape && t->has_shape) {
        wd->orig_shape_mask = XShapeInputSelected(t->dpy, w);
        XShapeSelectInput(t->dpy, w, wd->orig_shape_mask | ShapeNotifyMask);
    }
}

static void watch_chain(struct vr_x11track *t)
{
    /* StructureNotify on root: the screen's size (RandR) changes the clip. */
    watch(t, t->root, StructureNotifyMask | SubstructureNotifyMask, false);
    for (size_t i = 0; i < t->n_chain; i++) {
        long mask = StructureNotifyMask | PropertyChangeMask;
        /* Siblings of chain[i-1] are children of chain[i]. */
        mask |= i == 0 ? VisibilityChangeMask : SubstructureNotifyMask;
        watch(t, t->chain[i], mask, true);
    }
}

static int init_common(struct vr_x11track *t, Display *dpy, Window window)
{
    t->dpy = dpy;
    t->win = window;
    t->root = DefaultRootWindow(dpy);
    t->cap = VR_MAX_RECTS;
    t->interval_us = VR_X11TRACK_DEFAULT_INTERVAL_MS * 1000u;
    t->dirty = true;
    pixman_region32_init(&t->exact);

    int err_base;
    t->has_shape = XShapeQueryExtension(dpy, &t->shape_event_base, &err_base);
    char *names[N_ATOMS] = { "_NET_WM_STATE", "_NET_WM_STATE_HIDDEN", "WM_STATE" };
    if (!XInternAtoms(dpy, names, N_ATOMS, False, t->atoms))
        return -ENOMEM;

    struct trap tr;
    trap_push(&tr, dpy);
    XWindowAttributes a;
    Status ok = XGetWindowAttributes(dpy, window, &a);
    if (ok)
        t->root = a.root;
    trap_pop(&tr);
    return ok ? 0 : -ENOENT;
}

int vr_x11track_create(Display *dpy, Window window, struct vr_x11track **out)
{
    if (!dpy || window == None || !out)
        return -EINVAL;
    *out = NULL;
    struct vr_x11track *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    int ret = init_common(t, dpy, window);
    if (ret < 0) {
        vr_x11track_destroy(t);
        return ret;
    }
    *out = t;
    return 0;
}

int vr_x11track_open(const char *display_name, Window window, struct vr_x11track **out)
{
    if (window == None || !out)
        return -EINVAL;
    *out = NULL;
    Display *dpy = XOpenDisplay(display_name);
    if (!dpy)
        return -ECONNREFUSED;
    struct vr_x11track *t = calloc(1, sizeof(*t));
    if (!t) {
        XCloseDisplay(dpy);
        return -ENOMEM;
    }
    t->own_dpy = true;
    int ret = init_common(t, dpy, window);
    if (ret < 0) {
        vr_x11track_destroy(t);
        return ret;
    }
    *out = t;
    return 0;
}

void vr_x11track_destroy(struct vr_x11track *t)
{
    if (!t)
        return;
    if (t->dpy && t->own_dpy) {
        XCloseDisplay(t->dpy); /* takes our selections with it */
    } else if (t->dpy && t->n_watched) {
        struct trap tr;
        trap_push(&tr, t->dpy);
        for (size_t i = 0; i < t->n_watched; i++) {
            if (t->watched[i].core)
                XSelectInput(t->dpy, t->watched[i].w, t->watched[i].orig_mask);
            if (t->has_shape)
                XShapeSelectInput(t->dpy, t->watched[i].w, t->watched[i].orig_shape_mask);
        }
        trap_pop(&tr);
    }
    pixman_region32_fini(&t->exact);
    free(t->watched);
    free(t);
}

Display *vr_x11track_display(const struct vr_x11track *t)
{
    return t ? t->dpy : NULL;
}

Window vr_x11track_window(const struct vr_x11track *t)
{
    return t ? t->win : None;
}

int vr_x11track_set_content(struct vr_x11track *t, const struct vr_rect *rect)
{
    if (!t)
        return -EINVAL;
    if (rect) {
        if (rect->w == 0 || rect->h == 0 || rect->w > VR_MAX_DIMENSION ||
            rect->h > VR_MAX_DIMENSION || rect->x < -VR_MAX_COORD || rect->x > VR_MAX_COORD ||
            rect->y < -VR_MAX_COORD || rect->y > VR_MAX_COORD)
            return -EINVAL;
        t->content_rel = *rect;
    }
    t->has_content = rect != NULL;
    t->dirty = true;
    return 0;
}

int vr_x11track_set_max_rects(struct vr_x11track *t, uint32_t cap)
{
    if (!t || cap == 0 || cap > VR_MAX_RECTS)
        return -EINVAL;
    t->cap = cap;
    t->dirty = true;
    return 0;
}

void vr_x11track_set_min_interval(struct vr_x11track *t, uint32_t ms)
{
    if (t)
        t->interval_us = (uint64_t)ms * 1000u;
}

void vr_x11track_set_log(struct vr_x11track *t, vr_x11track_log_fn fn, void *opaque)
{
    if (!t)
        return;
    t->log_fn = fn;
    t->log_opaque = opaque;
}

bool vr_x11track_handle_event(struct vr_x11track *t, const XEvent *ev)
{
    if (!t || !ev || t->gone)
        return false;
    Window w = ev->xany.window; /* the window the event was selected on */
    bool ours = w == t->root || in_chain(t, w);
    switch (ev->type) {
    case DestroyNotify: {
        Window dead = ev->xdestroywindow.window;
        if (dead == t->win) {
            t->gone = true;
            t->dirty = true;
            return true;
        }
        struct watched *wd = find_watched(t, dead);
        if (wd) /* ids get reused; forget it */
            *wd = t->watched[--t->n_watched];
        break;
    }
    case ConfigureNotify:
    case MapNotify:
    case UnmapNotify:
    case ReparentNotify:
    case CirculateNotify:
    case GravityNotify:
        break;
    case VisibilityNotify:
        ours = w == t->win;
        break;
    case PropertyNotify:
        ours = ours && (ev->xproperty.atom == t->atoms[ATOM_NET_WM_STATE] ||
                        ev->xproperty.atom == t->atoms[ATOM_WM_STATE]);
        break;
    default:
        if (t->has_shape && ev->type == t->shape_event_base + ShapeNotify) {
            ours = find_watched(t, ((const XShapeEvent *)ev)->window) != NULL;
            break;
        }
        return false;
    }
    if (ours)
        t->dirty = true;
    return ours;
}

int vr_x11track_dispatch(struct vr_x11track *t)
{
    if (!t)
        return -EINVAL;
    int n = 0;
    while (XPending(t->dpy) > 0) {
        XEvent ev;
        XNextEvent(t->dpy, &ev);
        n += vr_x11track_handle_event(t, &ev);
    }
    return n;
}

int vr_x11track_timeout_ms(const struct vr_x11track *t, uint64_t now_us)
{
    if (!t || !t->dirty)
        return -1;
    if (t->gone || !t->evaluated || now_us >= t->last_eval_us + t->interval_us)
        return 0;
    uint64_t left = (t->last_eval_us + t->interval_us - now_us + 999) / 1000;
    return left > INT_MAX ? INT_MAX : (int)left;
}

const struct vr_x11track_state *vr_x11track_state(const struct vr_x11track *t)
{
    return t ? &t->state : NULL;
}

int vr_x11track_exact_region(const struct vr_x11track *t, pixman_region32_t *dst)
{
    if (!t || !dst)
        return -EINVAL;
    return pixman_region32_copy(dst, (pixman_region32_t *)&t->exact) ? 0 : -ENOMEM;
}

/* ---- evaluation ------------------------------------------------------- */

static bool read_atoms_has(struct vr_x11track *t, Window w, Atom prop, Atom type, Atom want)
{
    Atom actual;
    int format;
    unsigned long n, after;
    unsigned char *data = NULL;
    bool found = false;
    if (XGetWindowProperty(t->dpy, w, prop, 0, 64, False, type, &actual, &format, &n, &after,
                           &data) == Success &&
        data && actual == type && format == 32) {
        const unsigned long *v = (const unsigned long *)data; /* Xlib widens to long */
        for (unsigned long i = 0; i < n && !found; i++)
            found = v[i] == want;
    }
    if (data)
        XFree(data);
    return found;
}

static bool iconic(struct vr_x11track *t, Window w)
{
    Atom actual;
    int format;
    unsigned long n, after;
    unsigned char *data = NULL;
    bool ret = false;
    if (XGetWindowProperty(t->dpy, w, t->atoms[ATOM_WM_STATE], 0, 2, False,
                           t->atoms[ATOM_WM_STATE], &actual, &format, &n, &after,
                           &data) == Success &&
        data && format == 32 && n >= 1)
        ret = ((const unsigned long *)data)[0] == ICONIC_STATE;
    if (data)
        XFree(data);
    return ret;
}

/* Bounding shape of @w whose inside origin is at (ox, oy) in root coordinates,
 * or its border box when SHAPE is missing. false if @w vanished. */
static bool bounding_region(struct vr_x11track *t, struct trap *tr, Window w,
                            const XWindowAttributes *a, int ox, int oy, pixman_region32_t *out)
{
    unsigned errors = tr->n_errors;
    Bool b_shaped = False, c_shaped;
    int xb, yb, xc, yc;
    unsigned wb, hb, wc, hc;
    /* Ask first whether the bounding shape is set at all: for an unshaped
     * window with a border, X.Org's ShapeGetRectangles answers a box one
     * border width too small (seen on Xvfb 21.1), so the border box is ours
     * to compute. */
    if (t->has_shape &&
        !XShapeQueryExtents(t->dpy, w, &b_shaped, &xb, &yb, &wb, &hb, &c_shaped, &xc, &yc, &wc, &hc))
        return false;
    if (tr->n_errors != errors)
        return false;
    if (!b_shaped) {
        int bw = a->border_width;
        pixman_region32_init_rect(out, ox - bw, oy - bw, (unsigned)(a->width + 2 * bw),
                                  (unsigned)(a->height + 2 * bw));
        return true;
    }
    int count = 0, ordering = 0;
    XRectangle *r = XShapeGetRectangles(t->dpy, w, ShapeBounding, &count, &ordering);
    if (tr->n_errors != errors) {
        if (r)
            XFree(r);
        return false;
    }
    pixman_box32_t *boxes = count > 0 ? malloc((size_t)count * sizeof(*boxes)) : NULL;
    int n = 0;
    for (int i = 0; boxes && i < count; i++) {
        if (r[i].width == 0 || r[i].height == 0)
            continue;
        boxes[n++] = (pixman_box32_t){ ox + r[i].x, oy + r[i].y, ox + r[i].x + r[i].width,
                                       oy + r[i].y + r[i].height };
    }
    if (r)
        XFree(r);
    bool ok = true;
    if (count > 0 && !boxes) {
        /* Out of memory: the border box still covers the shape. */
        int bw = a->border_width;
        pixman_region32_init_rect(out, ox - bw, oy - bw, (unsigned)(a->width + 2 * bw),
                                  (unsigned)(a->height + 2 * bw));
    } else if (!pixman_region32_init_rects(out, boxes, n)) {
        pixman_region32_init(out);
        ok = false;
    }
    free(boxes);
    return ok;
}

struct eval {
    struct vr_rect window, content;
    bool viewable;
    pixman_region32_t region;
};

static void free_levels(struct level *lv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lv[i].siblings)
            XFree(lv[i].siblings);
}

/* One attempt: 0, -ENOENT (window gone) or -EAGAIN (tree changed meanwhile). */
static int evaluate_once(struct vr_x11track *t, struct trap *tr, struct eval *e)
{
    struct level lv[MAX_DEPTH];
    size_t n = 0;
    int ret = 0;
    memset(lv, 0, sizeof(lv));

    /* Walk up: XQueryTree(w) names the parent, XQueryTree(parent) gives the
     * siblings in stacking order, bottom first. */
    Window w = t->win, root_ret, parent;
    Window *kids = NULL;
    unsigned n_kids = 0;
    if (!XQueryTree(t->dpy, w, &root_ret, &parent, &kids, &n_kids))
        return -ENOENT;
    if (kids)
        XFree(kids);
    for (;;) {
        if (n == MAX_DEPTH) {
            ret = -EAGAIN;
            goto out;
        }
        lv[n].w = w;
        Window grand = None;
        if (!XQueryTree(t->dpy, parent, &root_ret, &grand, &lv[n].siblings, &lv[n].n_siblings)) {
            n++;
            ret = -EAGAIN;
            goto out;
        }
        n++;
        if (parent == t->root)
            break;
        w = parent;
        parent = grand;
        if (parent == None) { /* reached a root that is not ours */
            ret = -EAGAIN;
            goto out;
        }
    }

    for (size_t i = 0; i < n; i++) {
        if (!XGetWindowAttributes(t->dpy, lv[i].w, &lv[i].attr)) {
            ret = i == 0 ? -ENOENT : -EAGAIN;
            goto out;
        }
    }
    /* Inside origins from the top down. */
    for (size_t i = n; i-- > 0;) {
        int px = i + 1 < n ? lv[i + 1].ox : 0, py = i + 1 < n ? lv[i + 1].oy : 0;
        lv[i].ox = px + lv[i].attr.x + lv[i].attr.border_width;
        lv[i].oy = py + lv[i].attr.y + lv[i].attr.border_width;
    }

    int rx = 0, ry = 0;
    Window child;
    if (!XTranslateCoordinates(t->dpy, t->win, t->root, 0, 0, &rx, &ry, &child)) {
        ret = -ENOENT;
        goto out;
    }
    if (rx != lv[0].ox || ry != lv[0].oy) { /* moved between our requests */
        ret = -EAGAIN;
        goto out;
    }

    /* The chain is known: watch it (new ancestors after a reparent too). */
    t->n_chain = n;
    for (size_t i = 0; i < n; i++)
        t->chain[i] = lv[i].w;
    watch_chain(t);

    e->window = (struct vr_rect){ rx, ry, (uint32_t)lv[0].attr.width, (uint32_t)lv[0].attr.height };
    if (t->has_content)
        e->content = (struct vr_rect){ rx + t->content_rel.x, ry + t->content_rel.y,
                                       t->content_rel.w, t->content_rel.h };
    else
        e->content = e->window;

    e->viewable = lv[0].attr.map_state == IsViewable;
    for (size_t i = 0; e->viewable && i < n; i++)
        if (iconic(t, lv[i].w) ||
            read_atoms_has(t, lv[i].w, t->atoms[ATOM_NET_WM_STATE], XA_ATOM,
                           t->atoms[ATOM_NET_WM_STATE_HIDDEN]))
            e->viewable = false;
    if (!e->viewable)
        goto out;

    /* Start from the content, clip by the screen and every chain window. */
    pixman_region32_t *r = &e->region;
    pixman_region32_fini(r);
    pixman_region32_init_rect(r, e->content.x, e->content.y, e->content.w, e->content.h);
    Window rr;
    int gx, gy;
    unsigned gw = 0, gh = 0, gb, gd;
    if (!XGetGeometry(t->dpy, t->root, &rr, &gx, &gy, &gw, &gh, &gb, &gd)) {
        ret = -EAGAIN;
        goto out;
    }
    pixman_region32_t clip;
    pixman_region32_init_rect(&clip, 0, 0, gw, gh);
    pixman_region32_intersect(r, r, &clip);
    pixman_region32_fini(&clip);
    for (size_t i = 0; i < n && pixman_region32_not_empty(r); i++) {
        pixman_region32_init_rect(&clip, lv[i].ox, lv[i].oy, (unsigned)lv[i].attr.width,
                                  (unsigned)lv[i].attr.height);
        pixman_region32_intersect(r, r, &clip);
        pixman_region32_fini(&clip);
        if (!bounding_region(t, tr, lv[i].w, &lv[i].attr, lv[i].ox, lv[i].oy, &clip)) {
            ret = -EAGAIN;
            goto out;
        }
        pixman_region32_intersect(r, r, &clip);
        pixman_region32_fini(&clip);
    }

    /* Subtract every viewable sibling stacked above a chain window. */
    for (size_t i = 0; i < n && pixman_region32_not_empty(r); i++) {
        int px = i + 1 < n ? lv[i + 1].ox : 0, py = i + 1 < n ? lv[i + 1].oy : 0;
        unsigned k = 0;
        while (k < lv[i].n_siblings && lv[i].siblings[k] != lv[i].w)
            k++;
        if (k == lv[i].n_siblings) { /* restacked or reparented meanwhile */
            ret = -EAGAIN;
            goto out;
        }
        for (k++; k < lv[i].n_siblings && pixman_region32_not_empty(r); k++) {
            XWindowAttributes a;
            if (!XGetWindowAttributes(t->dpy, lv[i].siblings[k], &a))
                continue; /* gone: covers nothing any more */
            if (a.map_state != IsViewable || a.class == InputOnly)
                continue;
            int bw = a.border_width;
            pixman_box32_t box = { px + a.x, py + a.y, px + a.x + a.width + 2 * bw,
                                   py + a.y + a.height + 2 * bw };
            if (pixman_region32_contains_rectangle(r, &box) == PIXMAN_REGION_OUT)
                continue;
            pixman_region32_t occ;
            if (!bounding_region(t, tr, lv[i].siblings[k], &a, px + a.x + bw, py + a.y + bw, &occ))
                continue;
            watch(t, lv[i].siblings[k], 0, true);
            pixman_region32_subtract(r, r, &occ);
            pixman_region32_fini(&occ);
        }
    }
out:
    free_levels(lv, n);
    return ret;
}

static bool rect_eq(const struct vr_rect *a, const struct vr_rect *b)
{
    return a->x == b->x && a->y == b->y && a->w == b->w && a->h == b->h;
}

static bool vr_region_eq(const struct vr_region *a, const struct vr_region *b)
{
    if (a->n_rects != b->n_rects)
        return false;
    for (uint32_t i = 0; i < a->n_rects; i++)
        if (!rect_eq(&a->rects[i], &b->rects[i]))
            return false;
    return true;
}

static int evaluate(struct vr_x11track *t, uint64_t now_us)
{
    if (t->gone) {
        t->dirty = false;
        return -ENOENT;
    }
    struct eval e;
    int ret = -EAGAIN;
    memset(&e, 0, sizeof(e));
    pixman_region32_init(&e.region);
    struct trap tr;
    trap_push(&tr, t->dpy);
    for (int attempt = 0; attempt < MAX_ATTEMPTS && ret == -EAGAIN; attempt++) {
        pixman_region32_clear(&e.region);
        ret = evaluate_once(t, &tr, &e);
    }
    trap_pop(&tr);
    t->last_eval_us = now_us;

    if (ret == -ENOENT || (tr.last_code == BadWindow && tr.last_resource == t->win)) {
        logf_(t, "window 0x%lx is gone", (unsigned long)t->win);
        t->gone = true;
        t->dirty = false;
        ret = -ENOENT;
        goto out;
    }
    if (ret < 0) {
        logf_(t, "window tree kept changing; will retry");
        goto out; /* still dirty */
    }
    t->dirty = false;

    struct vr_x11track_state *s = &t->state;
    struct vr_region region;
    int exact = vr_x11track_region_to_vr(&e.region, t->cap, &region);
    if (exact < 0) {
        ret = exact;
        t->dirty = true;
        goto out;
    }
    unsigned changes = 0;
    if (!t->evaluated || !rect_eq(&s->window, &e.window) || !rect_eq(&s->content, &e.content))
        changes |= VR_X11TRACK_GEOMETRY;
    if (!t->evaluated || s->viewable != e.viewable || !vr_region_eq(&s->region, &region))
        changes |= VR_X11TRACK_REGION;
    s->window = e.window;
    s->content = e.content;
    s->viewable = e.viewable;
    s->exact_rects = (uint32_t)exact;
    s->simplified = region.n_rects != (uint32_t)exact;
    s->region = region;
    if (!pixman_region32_copy(&t->exact, &e.region)) {
        ret = -ENOMEM;
        t->dirty = true;
        goto out;
    }
    t->evaluated = true;
    if (changes)
        logf_(t, "window %d,%d %ux%u, %s, %u rects%s", e.window.x, e.window.y, e.window.w,
              e.window.h, e.viewable ? "viewable" : "hidden", region.n_rects,
              s->simplified ? " (simplified)" : "");
    ret = (int)changes;
out:
    pixman_region32_fini(&e.region);
    return ret;
}

int vr_x11track_poll(struct vr_x11track *t, uint64_t now_us)
{
    if (!t)
        return -EINVAL;
    if (t->gone && !t->dirty)
        return -ENOENT;
    if (!t->dirty)
        return 0;
    if (!t->gone && t->evaluated && now_us < t->last_eval_us + t->interval_us)
        return 0;
    return evaluate(t, now_us);
}

int vr_x11track_refresh(struct vr_x11track *t)
{
    if (!t)
        return -EINVAL;
    return evaluate(t, vr_x11track_now_us());
}
