/* vr_x11track under a real X server: every case starts its own Xvfb, creates
 * real windows with Xlib and compares the tracker's view with regions
 * computed here by hand.
 *
 * Usage: test_x11track CASE [TOOL]   (CASE "all" runs every case)
 * Exit 77 (skip) when Xvfb is not installed.
 * VR_X11TRACK_SCREENSHOT=FILE: the "covered" case saves a screenshot there. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/shape.h>

#include "videoredir/x11track.h"

#ifndef VR_XVFB
#define VR_XVFB ""
#endif

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                                  \
    do {                                                                                \
        long long a_ = (long long)(a), b_ = (long long)(b);                             \
        if (a_ != b_) {                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, \
                    __LINE__, #a, #b, a_, b_);                                          \
            failures++;                                                                 \
        }                                                                               \
    } while (0)

/* ---- Xvfb --------------------------------------------------------------- */

static pid_t xvfb_pid;

static void stop_xvfb(void)
{
    if (xvfb_pid > 0) {
        kill(xvfb_pid, SIGTERM);
        waitpid(xvfb_pid, NULL, 0);
        xvfb_pid = 0;
    }
}

/* Starts Xvfb on a free display; writes ":N" into @name. 0, 77 (skip) or -1. */
static int start_xvfb(char *name, size_t size)
{
    if (!VR_XVFB[0] || access(VR_XVFB, X_OK) != 0) {
        printf("SKIP: Xvfb is not installed (Debian package xvfb)\n");
        return 77;
    }
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* Dies with the test, even when the test crashes. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(fds[0]);
        if (!getenv("VR_TEST_VERBOSE")) {
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0)
                dup2(devnull, 2);
        }
        char fd[16];
        snprintf(fd, sizeof(fd), "%d", fds[1]);
        execl(VR_XVFB, "Xvfb", "-displayfd", fd, "-screen", "0", "1280x800x24", "-nolisten", "tcp",
              (char *)NULL);
        _exit(127);
    }
    xvfb_pid = pid;
    atexit(stop_xvfb);
    close(fds[1]);
    char buf[32];
    size_t n = 0;
    struct pollfd pfd = { fds[0], POLLIN, 0 };
    while (n < sizeof(buf) - 1 && poll(&pfd, 1, 20000) > 0) {
        ssize_t r = read(fds[0], buf + n, sizeof(buf) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (memchr(buf, '\n', n))
            break;
    }
    close(fds[0]);
    buf[n] = '\0';
    int num = atoi(buf);
    if (n == 0 || !memchr(buf, '\n', n)) {
        fprintf(stderr, "Xvfb did not report a display number\n");
        return -1;
    }
    snprintf(name, size, ":%d", num);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

struct env {
    char name[32];
    Display *dpy; /* the "player" connection that creates windows */
    Window root;
};

static unsigned long colour(struct env *e, const char *spec)
{
    XColor c, exact;
    Colormap cm = DefaultColormap(e->dpy, DefaultScreen(e->dpy));
    if (!XAllocNamedColor(e->dpy, cm, spec, &c, &exact))
        return WhitePixel(e->dpy, DefaultScreen(e->dpy));
    return c.pixel;
}

static Window mkwin(struct env *e, Window parent, int x, int y, unsigned w, unsigned h,
                    const char *col)
{
    XSetWindowAttributes a;
    a.background_pixel = colour(e, col);
    a.override_redirect = True;
    Window win = XCreateWindow(e->dpy, parent, x, y, w, h, 0, CopyFromParent, InputOutput,
                               CopyFromParent, CWBackPixel | CWOverrideRedirect, &a);
    XMapWindow(e->dpy, win);
    XSync(e->dpy, False);
    return win;
}

/* Makes the tracker see every event caused by the player so far. */
static int settle(struct env *e, struct vr_x11track *t)
{
    XSync(e->dpy, False);
    XSync(vr_x11track_display(t), False);
    return vr_x11track_dispatch(t);
}

static void print_region(const char *what, pixman_region32_t *r)
{
    int n;
    const pixman_box32_t *b = pixman_region32_rectangles(r, &n);
    fprintf(stderr, "  %s (%d rects):", what, n);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %d,%d %dx%d", b[i].x1, b[i].y1, b[i].x2 - b[i].x1, b[i].y2 - b[i].y1);
    fprintf(stderr, "\n");
}

/* Rectangle-exact comparison of the tracker's exact region and of what it
 * reports (no simplification expected here) with @expect. */
static void check_region_(struct vr_x11track *t, pixman_region32_t *expect, int line)
{
    pixman_region32_t got;
    pixman_region32_init(&got);
    CHECK(vr_x11track_exact_region(t, &got) == 0);
    bool same = pixman_region32_equal(&got, expect);
    int n_got, n_exp;
    const pixman_box32_t *g = pixman_region32_rectangles(&got, &n_got);
    const pixman_box32_t *x = pixman_region32_rectangles(expect, &n_exp);
    same = same && n_got == n_exp;
    const struct vr_x11track_state *s = vr_x11track_state(t);
    same = same && s->region.n_rects == (uint32_t)n_exp && !s->simplified;
    for (int i = 0; same && i < n_exp; i++) {
        same = g[i].x1 == x[i].x1 && g[i].y1 == x[i].y1 && g[i].x2 == x[i].x2 && g[i].y2 == x[i].y2;
        const struct vr_rect *r = &s->region.rects[i];
        same = same && r->x == x[i].x1 && r->y == x[i].y1 && r->w == (uint32_t)(x[i].x2 - x[i].x1) &&
               r->h == (uint32_t)(x[i].y2 - x[i].y1);
    }
    if (!same) {
        fprintf(stderr, "%s:%d: region mismatch\n", __FILE__, line);
        print_region("expected", expect);
        print_region("got", &got);
        failures++;
    }
    pixman_region32_fini(&got);
}
#define check_region(t, r) check_region_(t, r, __LINE__)

/* Ground truth from the server's own pixels: every pixel of the screen is
 * the video's colour exactly where the tracker says the video is visible.
 * Valid when nothing else on screen has that colour. */
static void check_pixels_(struct env *e, struct vr_x11track *t, const char *col, int line)
{
    unsigned long want = colour(e, col);
    int sw = DisplayWidth(e->dpy, DefaultScreen(e->dpy));
    int sh = DisplayHeight(e->dpy, DefaultScreen(e->dpy));
    XSync(e->dpy, False);
    XImage *img = XGetImage(e->dpy, e->root, 0, 0, (unsigned)sw, (unsigned)sh, AllPlanes, ZPixmap);
    CHECK(img != NULL);
    if (!img)
        return;
    pixman_region32_t got;
    pixman_region32_init(&got);
    CHECK(vr_x11track_exact_region(t, &got) == 0);
    long wrong = 0;
    for (int y = 0; y < sh; y++)
        for (int x = 0; x < sw; x++) {
            bool is_video = XGetPixel(img, x, y) == want;
            if (is_video != (bool)pixman_region32_contains_point(&got, x, y, NULL) && !wrong++)
                fprintf(stderr, "%s:%d: pixel %d,%d is%s video\n", __FILE__, line, x, y,
                        is_video ? "" : " not");
        }
    if (wrong) {
        fprintf(stderr, "%s:%d: %ld pixels disagree with the region\n", __FILE__, line, wrong);
        failures++;
    }
    pixman_region32_fini(&got);
    XDestroyImage(img);
}
#define check_pixels(e, t, col) check_pixels_(e, t, col, __LINE__)

static void region_set(pixman_region32_t *r, int x, int y, int w, int h)
{
    pixman_region32_fini(r);
    pixman_region32_init_rect(r, x, y, (unsigned)w, (unsigned)h);
}

static void region_cut(pixman_region32_t *r, int x, int y, int w, int h)
{
    pixman_region32_t c;
    pixman_region32_init_rect(&c, x, y, (unsigned)w, (unsigned)h);
    pixman_region32_subtract(r, r, &c);
    pixman_region32_fini(&c);
}

static void check_rect(const struct vr_rect *r, int x, int y, unsigned w, unsigned h)
{
    CHECK_EQ(r->x, x);
    CHECK_EQ(r->y, y);
    CHECK_EQ(r->w, w);
    CHECK_EQ(r->h, h);
}

static struct vr_x11track *track(struct env *e, Window w)
{
    struct vr_x11track *t = NULL;
    int ret = vr_x11track_open(e->name, w, &t);
    CHECK_EQ(ret, 0);
    return t;
}

/* A poll on a clock that jumps an hour each time, so the rate limit never
 * interferes. Used only with trackers that no real-clock poll touches later. */
static int poll_now(struct vr_x11track *t)
{
    static uint64_t hours;
    hours++;
    return vr_x11track_poll(t, vr_x11track_now_us() + hours * 3600u * 1000000u);
}

/* ---- cases -------------------------------------------------------------- */

/* The scene most cases start from: video 400x300 at (100,100), A covering its
 * top-left corner, B its bottom-right one, and D below the video. */
struct scene {
    Window d, v, a, b;
};

static void scene_make(struct env *e, struct scene *s)
{
    s->d = mkwin(e, e->root, 0, 0, 300, 300, "yellow"); /* created first: below */
    s->v = mkwin(e, e->root, 100, 100, 400, 300, "blue");
    s->a = mkwin(e, e->root, 50, 50, 200, 150, "red");
    s->b = mkwin(e, e->root, 400, 300, 200, 200, "green");
}

static void scene_expect(pixman_region32_t *r)
{
    region_set(r, 100, 100, 400, 300);
    region_cut(r, 50, 50, 200, 150);
    region_cut(r, 400, 300, 200, 200);
}

static void case_covered(struct env *e)
{
    struct scene s;
    scene_make(e, &s);
    struct vr_x11track *t = track(e, s.v);
    if (!t)
        return;
    CHECK_EQ(vr_x11track_timeout_ms(t, vr_x11track_now_us()), 0); /* starts dirty */
    CHECK_EQ(vr_x11track_poll(t, vr_x11track_now_us()), VR_X11TRACK_GEOMETRY | VR_X11TRACK_REGION);
    const struct vr_x11track_state *st = vr_x11track_state(t);
    check_rect(&st->window, 100, 100, 400, 300);
    check_rect(&st->content, 100, 100, 400, 300);
    CHECK(st->viewable);
    pixman_region32_t want;
    pixman_region32_init(&want);
    scene_expect(&want);
    check_region(t, &want);
    CHECK_EQ(st->region.n_rects, 3); /* 100..500 x 100..400 minus two corners */
    check_pixels(e, t, "blue");
    /* Nothing happened: not dirty, nothing to report. */
    CHECK_EQ(settle(e, t), 0);
    CHECK_EQ(vr_x11track_timeout_ms(t, vr_x11track_now_us()), -1);
    CHECK_EQ(poll_now(t), 0);

    const char *shot = getenv("VR_X11TRACK_SCREENSHOT");
    if (shot) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "import -display %s -window root '%s'", e->name, shot);
        CHECK_EQ(system(cmd), 0);
        printf("screenshot %s; reported region:", shot);
        for (uint32_t i = 0; i < st->region.n_rects; i++)
            printf(" %d,%d %ux%u", st->region.rects[i].x, st->region.rects[i].y,
                   st->region.rects[i].w, st->region.rects[i].h);
        printf("\n");
    }
    pixman_region32_fini(&want);
    vr_x11track_destroy(t);
}

static void case_move_cover(struct env *e)
{
    struct scene s;
    scene_make(e, &s);
    struct vr_x11track *t = track(e, s.v);
    if (!t)
        return;
    CHECK(vr_x11track_refresh(t) > 0);
    XMoveWindow(e->dpy, s.a, 300, 150);
    XSync(e->dpy, False);
    /* No event handled yet: the tracker does not know. */
    CHECK_EQ(poll_now(t), 0);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    pixman_region32_t want;
    pixman_region32_init(&want);
    region_set(&want, 100, 100, 400, 300);
    region_cut(&want, 300, 150, 200, 150);
    region_cut(&want, 400, 300, 200, 200);
    check_region(t, &want);

    /* Rate limit: a second change right after an evaluation waits. */
    vr_x11track_set_min_interval(t, 10000);
    CHECK(vr_x11track_refresh(t) == 0);
    uint64_t now = vr_x11track_now_us();
    XMoveWindow(e->dpy, s.a, 0, 0);
    CHECK(settle(e, t) > 0);
    int ms = vr_x11track_timeout_ms(t, now);
    CHECK(ms > 9000 && ms <= 10000);
    CHECK_EQ(vr_x11track_poll(t, now), 0);
    CHECK_EQ(vr_x11track_poll(t, now + 10001000u), VR_X11TRACK_REGION);
    region_set(&want, 100, 100, 400, 300);
    region_cut(&want, 0, 0, 200, 150);
    region_cut(&want, 400, 300, 200, 200);
    check_region(t, &want);
    pixman_region32_fini(&want);
    vr_x11track_destroy(t);
}

/* A drag: many moves, a bounded number of evaluations, the last one right. */
static void case_drag(struct env *e)
{
    struct scene s;
    scene_make(e, &s);
    struct vr_x11track *t = track(e, s.v);
    if (!t)
        return;
    CHECK(vr_x11track_refresh(t) > 0);
    uint64_t start = vr_x11track_now_us();
    int reports = 0;
    for (int i = 1; i <= 60; i++) {
        XMoveWindow(e->dpy, s.a, 50 + 4 * i, 50 + 2 * i);
        settle(e, t);
        int r = vr_x11track_poll(t, vr_x11track_now_us());
        CHECK(r >= 0);
        reports += r > 0;
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    uint64_t elapsed = vr_x11track_now_us() - start;
    /* One evaluation per 50 ms at most (the first may come at once). */
    CHECK(reports <= (int)(elapsed / 50000u) + 1);
    CHECK(reports >= 1);
    int ms = vr_x11track_timeout_ms(t, vr_x11track_now_us());
    /* -1: the last move was already evaluated inside the loop. */
    CHECK(ms >= -1 && ms <= 50);
    if (ms > 0) {
        struct timespec ts = { 0, (long)ms * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    int r = vr_x11track_poll(t, vr_x11track_now_us());
    CHECK(r == VR_X11TRACK_REGION || r == 0);
    CHECK_EQ(vr_x11track_timeout_ms(t, vr_x11track_now_us()), -1);
    pixman_region32_t want;
    pixman_region32_init(&want);
    region_set(&want, 100, 100, 400, 300);
    region_cut(&want, 290, 170, 200, 150);
    region_cut(&want, 400, 300, 200, 200);
    check_region(t, &want);
    printf("drag: 60 moves in %llu ms, %d reports\n", (unsigned long long)(elapsed / 1000), reports);
    pixman_region32_fini(&want);
    vr_x11track_destroy(t);
}

static void case_raise_video(struct env *e)
{
    struct scene s;
    scene_make(e, &s);
    struct vr_x11track *t = track(e, s.v);
    if (!t)
        return;
    CHECK(vr_x11track_refresh(t) > 0);
    XRaiseWindow(e->dpy, s.v);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    pixman_region32_t want;
    pixman_region32_init_rect(&want, 100, 100, 400, 300);
    check_region(t, &want);
    CHECK_EQ(vr_x11track_state(t)->region.n_rects, 1);
    /* And lowering it below everything, D included, covers it again. */
    XLowerWindow(e->dpy, s.v);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    scene_expect(&want);
    region_cut(&want, 0, 0, 300, 300);
    check_region(t, &want);
    pixman_region32_fini(&want);
    vr_x11track_destroy(t);
}

static void case_unmap_cover(struct env *e)
{
    struct scene s;
    scene_make(e, &s);
    struct vr_x11track *t = track(e, s.v);
    if (!t)
        return;
    CHECK(vr_x11track_refresh(t) > 0);
    XUnmapWindow(e->dpy, s.a);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    pixman_region32_t want;
    pixman_region32_init_rect(&want, 100, 100, 400, 300);
    region_cut(&want, 400, 300, 200, 200);
    check_region(t, &want);
    /* Destroying the other one uncovers everything. */
    XDestroyWindow(e->dpy, s.b);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    region_set(&want, 100, 100, 400, 300);
    check_region(t, &want);
    pixman_region32_fini(&want);
    vr_x11track_destroy(t);
}

static void case_unmap_video(struct env *e)
{
    struct scene s;
    scene_make(e, &s);
    struct vr_x11track *t = track(e, s.v);
    if (!t)
        return;
    CHECK(vr_x11track_refresh(t) > 0);
    XUnmapWindow(e->dpy, s.v);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    const struct vr_x11track_state *st = vr_x11track_state(t);
    CHECK(!st->viewable);
    CHECK_EQ(st->region.n_rects, 0);
    check_rect(&st->window, 100, 100, 400, 300); /* geometry still known */
    XMapWindow(e->dpy, s.v);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    CHECK(st->viewable);
    CHECK_EQ(st->region.n_rects, 3);

    /* Minimised the EWMH/ICCCM way while still mapped. */
    Atom net_state = XInternAtom(e->dpy, "_NET_WM_STATE", False);
    Atom hidden = XInternAtom(e->dpy, "_NET_WM_STATE_HIDDEN", False);
    XChangeProperty(e->dpy, s.v, net_state, XA_ATOM, 32, PropModeReplace,
                    (unsigned char *)&hidden, 1);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    CHECK(!st->viewable);
    CHECK_EQ(st->region.n_rects, 0);
    XDeleteProperty(e->dpy, s.v, net_state);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    CHECK(st->viewable);
    Atom wm_state = XInternAtom(e->dpy, "WM_STATE", False);
    long iconic[2] = { 3 /* IconicState */, None };
    XChangeProperty(e->dpy, s.v, wm_state, wm_state, 32, PropModeReplace,
                    (unsigned char *)iconic, 2);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    CHECK(!st->viewable);
    /* An unrelated property is not an event for the tracker. */
    XChangeProperty(e->dpy, s.v, XA_WM_NAME, XA_STRING, 8, PropModeReplace,
                    (const unsigned char *)"x", 1);
    CHECK_EQ(settle(e, t), 0);
    vr_x11track_destroy(t);
}

static void case_move_video(struct env *e)
{
    struct scene s;
    scene_make(e, &s);
    struct vr_x11track *t = track(e, s.v);
    if (!t)
        return;
    CHECK(vr_x11track_refresh(t) > 0);
    XMoveResizeWindow(e->dpy, s.v, 700, 20, 320, 240);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_GEOMETRY | VR_X11TRACK_REGION);
    const struct vr_x11track_state *st = vr_x11track_state(t);
    check_rect(&st->window, 700, 20, 320, 240);
    check_rect(&st->content, 700, 20, 320, 240);
    pixman_region32_t want;
    pixman_region32_init_rect(&want, 700, 20, 320, 240);
    check_region(t, &want);
    /* A content rectangle (letterboxing): geometry changes, clipping follows. */
    struct vr_rect c = { 0, 40, 320, 160 };
    CHECK_EQ(vr_x11track_set_content(t, &c), 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_GEOMETRY | VR_X11TRACK_REGION);
    check_rect(&st->window, 700, 20, 320, 240);
    check_rect(&st->content, 700, 60, 320, 160);
    region_set(&want, 700, 60, 320, 160);
    check_region(t, &want);
    XMoveWindow(e->dpy, s.v, 600, 300); /* under B now: 600..920 x 300..540 */
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_GEOMETRY | VR_X11TRACK_REGION);
    check_rect(&st->content, 600, 340, 320, 160);
    region_set(&want, 600, 340, 320, 160);
    check_region(t, &want); /* B ends at x 600: touches, covers nothing */
    XMoveWindow(e->dpy, s.v, 550, 300);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_GEOMETRY | VR_X11TRACK_REGION);
    region_set(&want, 550, 340, 320, 160);
    region_cut(&want, 400, 300, 200, 200);
    check_region(t, &want);
    CHECK_EQ(vr_x11track_set_content(t, NULL), 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_GEOMETRY | VR_X11TRACK_REGION);
    check_rect(&st->content, 550, 300, 320, 240);
    struct vr_rect bad = { 0, 0, 0, 10 };
    CHECK_EQ(vr_x11track_set_content(t, &bad), -EINVAL);
    pixman_region32_fini(&want);
    vr_x11track_destroy(t);
}

static void case_shaped(struct env *e)
{
    struct scene s;
    scene_make(e, &s);
    int ev, err;
    CHECK(XShapeQueryExtension(e->dpy, &ev, &err));
    Window sh = mkwin(e, e->root, 150, 150, 200, 200, "magenta");
    XRectangle r[2] = { { 0, 0, 50, 50 }, { 100, 100, 100, 100 } };
    XShapeCombineRectangles(e->dpy, sh, ShapeBounding, 0, 0, r, 2, ShapeSet, Unsorted);
    XSync(e->dpy, False);
    struct vr_x11track *t = track(e, s.v);
    if (!t)
        return;
    CHECK(vr_x11track_refresh(t) > 0);
    pixman_region32_t want;
    pixman_region32_init(&want);
    scene_expect(&want);
    region_cut(&want, 150, 150, 50, 50);
    region_cut(&want, 250, 250, 100, 100);
    check_region(t, &want);
    check_pixels(e, t, "blue");
    /* The occluder changes its shape only: a ShapeNotify, no ConfigureNotify. */
    XRectangle r2 = { 50, 0, 100, 200 };
    XShapeCombineRectangles(e->dpy, sh, ShapeBounding, 0, 0, &r2, 1, ShapeSet, Unsorted);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    scene_expect(&want);
    region_cut(&want, 200, 150, 100, 200);
    check_region(t, &want);
    check_pixels(e, t, "blue");
    /* An empty bounding shape covers nothing. */
    XShapeCombineRectangles(e->dpy, sh, ShapeBounding, 0, 0, NULL, 0, ShapeSet, Unsorted);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    scene_expect(&want);
    check_region(t, &want);
    pixman_region32_fini(&want);
    vr_x11track_destroy(t);
}

static void case_offscreen(struct env *e)
{
    Window v = mkwin(e, e->root, 1100, 700, 400, 300, "blue");
    struct vr_x11track *t = track(e, v);
    if (!t)
        return;
    CHECK(vr_x11track_refresh(t) > 0);
    const struct vr_x11track_state *st = vr_x11track_state(t);
    check_rect(&st->window, 1100, 700, 400, 300);
    pixman_region32_t want;
    pixman_region32_init_rect(&want, 1100, 700, 180, 100);
    check_region(t, &want);
    XMoveWindow(e->dpy, v, -50, -30);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_GEOMETRY | VR_X11TRACK_REGION);
    check_rect(&st->window, -50, -30, 400, 300);
    region_set(&want, 0, 0, 350, 270);
    check_region(t, &want);
    check_pixels(e, t, "blue");
    XMoveWindow(e->dpy, v, 1300, 100); /* entirely off-screen */
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_GEOMETRY | VR_X11TRACK_REGION);
    CHECK(st->viewable);
    CHECK_EQ(st->region.n_rects, 0);

    /* Borders: the video's own is not video, a covering window's covers. */
    XSetWindowBorderWidth(e->dpy, v, 3);
    XMoveWindow(e->dpy, v, 100, 100); /* inside origin at 103,103 */
    Window bordered = XCreateSimpleWindow(e->dpy, e->root, 400, 50, 100, 100, 10,
                                          colour(e, "red"), colour(e, "green"));
    XMapWindow(e->dpy, bordered);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_GEOMETRY | VR_X11TRACK_REGION);
    check_rect(&st->window, 103, 103, 400, 300);
    region_set(&want, 103, 103, 400, 300);
    region_cut(&want, 400, 50, 120, 120);
    check_region(t, &want);
    check_pixels(e, t, "blue");
    pixman_region32_fini(&want);
    vr_x11track_destroy(t);
}

static void case_subwindow(struct env *e)
{
    Window top = mkwin(e, e->root, 100, 100, 600, 400, "grey");
    Window below = mkwin(e, top, 0, 0, 100, 100, "yellow"); /* sibling under the video */
    /* The video area is wider than its toplevel: clipped at x = 700. */
    Window v = mkwin(e, top, 50, 50, 600, 300, "blue");
    Window panel = mkwin(e, top, 300, 250, 200, 100, "red"); /* sibling above */
    Window popup = mkwin(e, e->root, 0, 120, 200, 60, "green"); /* toplevel above */
    (void)below;
    struct vr_x11track *t = track(e, v);
    if (!t)
        return;
    CHECK(vr_x11track_refresh(t) > 0);
    const struct vr_x11track_state *st = vr_x11track_state(t);
    check_rect(&st->window, 150, 150, 600, 300);
    pixman_region32_t want;
    pixman_region32_init_rect(&want, 150, 150, 550, 300);
    region_cut(&want, 400, 350, 200, 100);
    region_cut(&want, 0, 120, 200, 60);
    check_region(t, &want);
    check_pixels(e, t, "blue");
    /* Moving the toplevel moves the video: an ancestor's ConfigureNotify. */
    XMoveWindow(e->dpy, top, 200, 100);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_GEOMETRY | VR_X11TRACK_REGION);
    check_rect(&st->window, 250, 150, 600, 300);
    region_set(&want, 250, 150, 550, 300);
    region_cut(&want, 500, 350, 200, 100);
    check_region(t, &want);
    /* The panel goes below the video: a sibling restack. */
    XLowerWindow(e->dpy, panel);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    region_set(&want, 250, 150, 550, 300);
    check_region(t, &want);
    /* Unmapping the toplevel hides the video. */
    XUnmapWindow(e->dpy, top);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    CHECK(!st->viewable);
    CHECK_EQ(st->region.n_rects, 0);
    /* Reparenting (what a window manager does) into a new frame. */
    Window frame = mkwin(e, e->root, 20, 20, 800, 600, "white");
    XMapWindow(e->dpy, top);
    XReparentWindow(e->dpy, top, frame, 10, 30);
    CHECK(settle(e, t) > 0);
    CHECK(poll_now(t) > 0);
    check_rect(&st->window, 80, 100, 600, 300);
    CHECK(st->viewable);
    region_set(&want, 80, 100, 550, 300);
    check_region(t, &want);
    check_pixels(e, t, "blue");
    XMoveWindow(e->dpy, frame, 30, 20); /* the new ancestor is watched */
    CHECK(settle(e, t) > 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_GEOMETRY | VR_X11TRACK_REGION);
    check_rect(&st->window, 90, 100, 600, 300);
    (void)popup;
    pixman_region32_fini(&want);
    vr_x11track_destroy(t);
}

static bool region_covers(pixman_region32_t *big, pixman_region32_t *small)
{
    pixman_region32_t rest;
    pixman_region32_init(&rest);
    pixman_region32_subtract(&rest, small, big);
    bool ok = !pixman_region32_not_empty(&rest);
    pixman_region32_fini(&rest);
    return ok;
}

static bool disjoint_boxes(pixman_region32_t *r)
{
    int n;
    const pixman_box32_t *b = pixman_region32_rectangles(r, &n);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (b[i].x1 < b[j].x2 && b[j].x1 < b[i].x2 && b[i].y1 < b[j].y2 && b[j].y1 < b[i].y2)
                return false;
    return true;
}

/* vr_x11track_simplify on its own, with random regions. */
static void simplify_random(void)
{
    unsigned seed = 12345;
    const uint32_t caps[] = { 1, 2, 3, 8, 16, 64, 256 };
    for (int round = 0; round < 200; round++) {
        pixman_region32_t r, s;
        pixman_region32_init_rect(&r, 0, 0, 1280, 800);
        int holes = 1 + (int)(rand_r(&seed) % 300);
        for (int i = 0; i < holes; i++)
            region_cut(&r, (int)(rand_r(&seed) % 1300) - 10, (int)(rand_r(&seed) % 820) - 10,
                       1 + (int)(rand_r(&seed) % 120), 1 + (int)(rand_r(&seed) % 90));
        for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
            pixman_region32_init(&s);
            CHECK_EQ(vr_x11track_simplify(&r, caps[c], &s), 0);
            CHECK(pixman_region32_n_rects(&s) <= (int)caps[c]);
            CHECK(region_covers(&s, &r));
            CHECK(disjoint_boxes(&s));
            if (pixman_region32_n_rects(&r) <= (int)caps[c])
                CHECK(pixman_region32_equal(&s, &r));
            /* Never outside the bounding box of the truth. */
            pixman_region32_t ext;
            pixman_region32_init_with_extents(&ext, pixman_region32_extents(&r));
            CHECK(region_covers(&ext, &s));
            pixman_region32_fini(&ext);
            pixman_region32_fini(&s);
        }
        pixman_region32_fini(&r);
    }
    /* Two far apart strips with a small hole each: the holes are filled
     * before the strips are merged across the big gap. */
    pixman_region32_t r, s;
    pixman_region32_init_rect(&r, 0, 0, 1000, 10);
    pixman_region32_union_rect(&r, &r, 0, 500, 1000, 10);
    region_cut(&r, 500, 0, 2, 10);
    region_cut(&r, 500, 500, 2, 10);
    CHECK_EQ(pixman_region32_n_rects(&r), 4);
    pixman_region32_init(&s);
    CHECK_EQ(vr_x11track_simplify(&r, 2, &s), 0);
    pixman_region32_t want;
    pixman_region32_init_rect(&want, 0, 0, 1000, 10);
    pixman_region32_union_rect(&want, &want, 0, 500, 1000, 10);
    CHECK(pixman_region32_equal(&s, &want));
    CHECK_EQ(vr_x11track_simplify(&r, 0, &s), -EINVAL);
    struct vr_region vr;
    CHECK_EQ(vr_x11track_region_to_vr(&r, 1, &vr), 4);
    CHECK_EQ(vr.n_rects, 1);
    check_rect(&vr.rects[0], 0, 0, 1000, 510);
    pixman_region32_fini(&want);
    pixman_region32_fini(&s);
    pixman_region32_fini(&r);
}

static void case_simplify(struct env *e)
{
    simplify_random();
    Window v = mkwin(e, e->root, 100, 100, 600, 400, "blue");
    /* A 10x8 grid of small windows on top: 80 holes, hundreds of rects. */
    pixman_region32_t want;
    pixman_region32_init_rect(&want, 100, 100, 600, 400);
    for (int gy = 0; gy < 8; gy++)
        for (int gx = 0; gx < 10; gx++) {
            int x = 110 + gx * 60 + (gy % 2) * 20, y = 110 + gy * 50;
            mkwin(e, e->root, x, y, 20, 15, "red");
            region_cut(&want, x, y, 20, 15);
        }
    struct vr_x11track *t = track(e, v);
    if (!t)
        return;
    CHECK_EQ(vr_x11track_set_max_rects(t, 0), -EINVAL);
    CHECK_EQ(vr_x11track_set_max_rects(t, VR_MAX_RECTS + 1), -EINVAL);
    CHECK_EQ(vr_x11track_set_max_rects(t, 16), 0);
    CHECK(vr_x11track_refresh(t) > 0);
    const struct vr_x11track_state *st = vr_x11track_state(t);
    pixman_region32_t exact, simple;
    pixman_region32_init(&exact);
    CHECK_EQ(vr_x11track_exact_region(t, &exact), 0);
    CHECK(pixman_region32_equal(&exact, &want));
    check_pixels(e, t, "blue");
    CHECK_EQ(st->exact_rects, (uint32_t)pixman_region32_n_rects(&want));
    CHECK(st->exact_rects > 16);
    CHECK(st->simplified);
    CHECK(st->region.n_rects >= 1 && st->region.n_rects <= 16);
    pixman_region32_init(&simple);
    for (uint32_t i = 0; i < st->region.n_rects; i++)
        pixman_region32_union_rect(&simple, &simple, st->region.rects[i].x, st->region.rects[i].y,
                                   st->region.rects[i].w, st->region.rects[i].h);
    CHECK(region_covers(&simple, &exact)); /* truth within the report */
    pixman_region32_t content;
    pixman_region32_init_rect(&content, 100, 100, 600, 400);
    CHECK(region_covers(&content, &simple)); /* and the report within the video */
    /* Some holes survive: not the bounding box (the video's whole rect). */
    CHECK(st->region.n_rects > 1);
    CHECK(!pixman_region32_equal(&content, &simple));
    printf("simplify: %u exact rects -> %u reported\n", st->exact_rects, st->region.n_rects);
    /* With the default cap the exact region goes out as is. */
    CHECK_EQ(vr_x11track_set_max_rects(t, VR_MAX_RECTS), 0);
    CHECK_EQ(poll_now(t), VR_X11TRACK_REGION);
    CHECK(!st->simplified);
    check_region(t, &want);
    pixman_region32_fini(&content);
    pixman_region32_fini(&simple);
    pixman_region32_fini(&exact);
    pixman_region32_fini(&want);
    vr_x11track_destroy(t);
}

static int counted_errors;
static int count_errors(Display *dpy, XErrorEvent *ev)
{
    (void)dpy;
    (void)ev;
    counted_errors++;
    return 0;
}

static void case_destroyed(struct env *e)
{
    struct scene s;
    scene_make(e, &s);
    XErrorHandler old = XSetErrorHandler(count_errors);
    /* Our own connection, borrowed by a tracker that is never told about
     * events: it finds out through BadWindow. */
    XSelectInput(e->dpy, s.v, ExposureMask);
    struct vr_x11track *lazy = NULL;
    CHECK_EQ(vr_x11track_create(e->dpy, s.v, &lazy), 0);
    struct vr_x11track *t = track(e, s.v);
    if (!t || !lazy)
        return;
    CHECK(vr_x11track_refresh(t) > 0);
    CHECK(vr_x11track_refresh(lazy) > 0);
    XWindowAttributes a;
    CHECK(XGetWindowAttributes(e->dpy, s.v, &a));
    CHECK((a.your_event_mask & (ExposureMask | StructureNotifyMask)) ==
          (ExposureMask | StructureNotifyMask));

    XDestroyWindow(e->dpy, s.v);
    CHECK(settle(e, t) > 0);
    CHECK_EQ(vr_x11track_timeout_ms(t, vr_x11track_now_us()), 0);
    CHECK_EQ(vr_x11track_poll(t, vr_x11track_now_us()), -ENOENT);
    CHECK_EQ(poll_now(t), -ENOENT);
    CHECK_EQ(vr_x11track_refresh(t), -ENOENT);
    CHECK_EQ(vr_x11track_timeout_ms(t, vr_x11track_now_us()), -1);

    XSync(e->dpy, False);
    CHECK_EQ(vr_x11track_refresh(lazy), -ENOENT);
    vr_x11track_destroy(lazy); /* restores masks on a window that is gone */
    CHECK_EQ(counted_errors, 0); /* the tracker's errors stayed with it */
    /* The caller's handler is back and still gets the caller's errors. */
    CHECK(XSetErrorHandler(count_errors) == count_errors);
    XMapWindow(e->dpy, s.v);
    XSync(e->dpy, False);
    CHECK_EQ(counted_errors, 1);

    struct vr_x11track *none = NULL;
    CHECK_EQ(vr_x11track_open(e->name, s.v, &none), -ENOENT);
    CHECK(none == NULL);
    CHECK_EQ(vr_x11track_create(e->dpy, s.v, &none), -ENOENT);
    CHECK_EQ(vr_x11track_open(":9999", s.a, &none), -ECONNREFUSED);

    /* Destroying a borrowed-display tracker restores the caller's masks. */
    struct vr_x11track *b = NULL;
    XSelectInput(e->dpy, s.a, ButtonPressMask);
    CHECK_EQ(vr_x11track_create(e->dpy, s.a, &b), 0);
    CHECK(vr_x11track_refresh(b) > 0);
    CHECK(XGetWindowAttributes(e->dpy, s.a, &a));
    CHECK(a.your_event_mask & StructureNotifyMask);
    vr_x11track_destroy(b);
    CHECK(XGetWindowAttributes(e->dpy, s.a, &a));
    CHECK_EQ(a.your_event_mask, ButtonPressMask);
    CHECK(XGetWindowAttributes(e->dpy, e->root, &a));
    CHECK_EQ(a.your_event_mask, 0);
    CHECK_EQ(counted_errors, 1);

    vr_x11track_destroy(t);
    vr_x11track_destroy(NULL);
    XSetErrorHandler(old);
}

/* The debug program prints the scene's geometry and region. */
static void case_tool(struct env *e, const char *tool)
{
    if (!tool) {
        fprintf(stderr, "tool case needs the program's path\n");
        failures++;
        return;
    }
    struct scene s;
    scene_make(e, &s);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "'%s' --display %s --once 0x%lx", tool, e->name, (unsigned long)s.v);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p)
        return;
    char out[4096];
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    CHECK_EQ(pclose(p), 0);
    printf("%s", out);
    CHECK(strstr(out, "window 100,100 400x300 content 100,100 400x300 viewable") != NULL);
    CHECK(strstr(out, "region 3 rects: 250,100 250x100 100,200 400x100 100,300 300x100") != NULL);

    /* Following the window: a report per change, a last word when it dies. */
    snprintf(cmd, sizeof(cmd), "'%s' --display %s --content 0,0,200x100 %lu", tool, e->name,
             (unsigned long)s.v);
    p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p)
        return;
    char line[1024];
    CHECK(fgets(line, sizeof(line), p) && strstr(line, "content 100,100 200x100 viewable"));
    CHECK(fgets(line, sizeof(line), p) && strstr(line, "region 1 rects: 250,100 50x100"));
    XMoveWindow(e->dpy, s.v, 700, 500);
    XSync(e->dpy, False);
    CHECK(fgets(line, sizeof(line), p) && strstr(line, "window 700,500 400x300 content 700,500"));
    CHECK(fgets(line, sizeof(line), p) && strstr(line, "region 1 rects: 700,500 200x100"));
    XDestroyWindow(e->dpy, s.v);
    XSync(e->dpy, False);
    CHECK(fgets(line, sizeof(line), p) && strstr(line, "destroyed"));
    CHECK_EQ(pclose(p), 0);

    snprintf(cmd, sizeof(cmd), "'%s' --display %s 0x%lx 2>&1", tool, e->name,
             (unsigned long)s.v + 1000);
    p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p)
        return;
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    CHECK(WEXITSTATUS(pclose(p)) == 1);
    CHECK(strstr(out, "no such window") != NULL);
}

struct test_case {
    const char *name;
    void (*fn)(struct env *e);
};

static const struct test_case cases[] = {
    { "covered", case_covered },       { "move-cover", case_move_cover },
    { "drag", case_drag },             { "raise-video", case_raise_video },
    { "unmap-cover", case_unmap_cover }, { "unmap-video", case_unmap_video },
    { "move-video", case_move_video }, { "shaped", case_shaped },
    { "offscreen", case_offscreen },   { "subwindow", case_subwindow },
    { "simplify", case_simplify },     { "destroyed", case_destroyed },
};

static int run(const char *name, const char *tool)
{
    struct env e;
    memset(&e, 0, sizeof(e));
    int ret = start_xvfb(e.name, sizeof(e.name));
    if (ret != 0)
        return ret == 77 ? 77 : 1;
    e.dpy = XOpenDisplay(e.name);
    if (!e.dpy) {
        fprintf(stderr, "cannot open Xvfb display %s\n", e.name);
        stop_xvfb();
        return 1;
    }
    e.root = DefaultRootWindow(e.dpy);
    bool found = false;
    if (strcmp(name, "tool") == 0) {
        case_tool(&e, tool);
        found = true;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (strcmp(name, cases[i].name) == 0) {
            cases[i].fn(&e);
            found = true;
        }
    }
    XCloseDisplay(e.dpy);
    stop_xvfb();
    if (!found) {
        fprintf(stderr, "unknown case '%s'\n", name);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_x11track CASE|all [TOOL]\n");
        return 2;
    }
    if (strcmp(argv[1], "all") == 0) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            printf("== %s\n", cases[i].name);
            int ret = run(cases[i].name, NULL);
            if (ret != 0 && ret != 77)
                failures++;
            if (ret == 77)
                return 77;
        }
    } else {
        int ret = run(argv[1], argc > 2 ? argv[2] : NULL);
        if (ret != 0)
            return ret;
    }
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
