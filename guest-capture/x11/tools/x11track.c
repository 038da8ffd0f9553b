/* videoredir-x11track: prints a window's geometry and visible region each
 * time they change, for debugging video placement. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "videoredir/x11track.h"

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
    (void)sig;
    quit = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: videoredir-x11track [OPTION...] WINDOW_ID\n"
            "Print the window's geometry and visible region each time they change.\n"
            "\n"
            "  --display D        X display (default: $DISPLAY)\n"
            "  --content X,Y,WxH  content rectangle inside the window (default: all of it)\n"
            "  --interval MS      minimum interval between reports (default %u)\n"
            "  --max-rects N      cap on reported rectangles, 1..%u (default %u)\n"
            "  --once             print the current state and exit\n"
            "  --verbose          print the tracker's debug log on stderr\n"
            "  --help, --version\n"
            "\n"
            "WINDOW_ID is decimal or 0x-prefixed hex (see xwininfo).\n",
            VR_X11TRACK_DEFAULT_INTERVAL_MS, VR_MAX_RECTS, VR_MAX_RECTS);
}

static void log_stderr(void *opaque, const char *msg)
{
    (void)opaque;
    fprintf(stderr, "x11track: %s\n", msg);
}

static bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || end == s || *end || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

static void print_state(const struct vr_x11track_state *s, uint64_t t0)
{
    uint64_t ms = (vr_x11track_now_us() - t0) / 1000u;
    printf("[%" PRIu64 ".%03u] window %d,%d %ux%u content %d,%d %ux%u %s\n", ms / 1000u,
           (unsigned)(ms % 1000u), s->window.x, s->window.y, s->window.w, s->window.h,
           s->content.x, s->content.y, s->content.w, s->content.h,
           s->viewable ? "viewable" : "hidden");
    printf("  region %u rects", s->region.n_rects);
    if (s->simplified)
        printf(" (simplified from %u)", s->exact_rects);
    printf(":");
    for (uint32_t i = 0; i < s->region.n_rects; i++) {
        const struct vr_rect *r = &s->region.rects[i];
        printf(" %d,%d %ux%u", r->x, r->y, r->w, r->h);
    }
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "display", required_argument, NULL, 'd' }, { "content", required_argument, NULL, 'c' },
        { "interval", required_argument, NULL, 'i' }, { "max-rects", required_argument, NULL, 'm' },
        { "once", no_argument, NULL, 'o' },          { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },          { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *display = NULL;
    struct vr_rect content;
    bool has_content = false, once = false, verbose = false;
    uint32_t interval = VR_X11TRACK_DEFAULT_INTERVAL_MS, cap = VR_MAX_RECTS;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            display = optarg;
            break;
        case 'c': {
            int n = 0;
            if (sscanf(optarg, "%d,%d,%ux%u%n", &content.x, &content.y, &content.w, &content.h,
                       &n) != 4 ||
                optarg[n] != '\0') {
                fprintf(stderr, "videoredir-x11track: --content wants X,Y,WxH, got '%s'\n", optarg);
                return 2;
            }
            has_content = true;
            break;
        }
        case 'i':
            if (!parse_u32(optarg, 60000, &interval)) {
                fprintf(stderr, "videoredir-x11track: bad --interval '%s' (0..60000)\n", optarg);
                return 2;
            }
            break;
        case 'm':
            if (!parse_u32(optarg, VR_MAX_RECTS, &cap) || cap == 0) {
                fprintf(stderr, "videoredir-x11track: bad --max-rects '%s' (1..%u)\n", optarg,
                        VR_MAX_RECTS);
                return 2;
            }
            break;
        case 'o':
            once = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("videoredir-x11track %s\n", VR_VERSION_STRING);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    char *end;
    errno = 0;
    unsigned long id = strtoul(argv[optind], &end, 0);
    if (errno || end == argv[optind] || *end || id == 0 || id > 0x1fffffffUL) {
        fprintf(stderr, "videoredir-x11track: '%s' is not a window id\n", argv[optind]);
        return 2;
    }

    struct vr_x11track *t;
    int ret = vr_x11track_open(display, (Window)id, &t);
    if (ret == -ECONNREFUSED) {
        fprintf(stderr, "videoredir-x11track: cannot open display '%s'\n",
                display ? display : (getenv("DISPLAY") ? getenv("DISPLAY") : ""));
        return 1;
    }
    if (ret < 0) {
        fprintf(stderr, "videoredir-x11track: window 0x%lx: %s\n", id,
                ret == -ENOENT ? "no such window" : strerror(-ret));
        return 1;
    }
    if (verbose)
        vr_x11track_set_log(t, log_stderr, NULL);
    vr_x11track_set_min_interval(t, interval);
    vr_x11track_set_max_rects(t, cap);
    if (has_content && vr_x11track_set_content(t, &content) < 0) {
        fprintf(stderr, "videoredir-x11track: content rectangle out of range\n");
        vr_x11track_destroy(t);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns on a signal */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    uint64_t t0 = vr_x11track_now_us();
    int status = 0;
    struct pollfd pfd = { .fd = ConnectionNumber(vr_x11track_display(t)), .events = POLLIN };
    while (!quit) {
        vr_x11track_dispatch(t);
        ret = vr_x11track_poll(t, vr_x11track_now_us());
        if (ret == -ENOENT) {
            printf("window 0x%lx destroyed\n", id);
            break;
        }
        if (ret > 0)
            print_state(vr_x11track_state(t), t0);
        if (ret < 0 && ret != -EAGAIN) {
            fprintf(stderr, "videoredir-x11track: %s\n", strerror(-ret));
            status = 1;
            break;
        }
        if (once && ret >= 0)
            break;
        /* Events Xlib already read sit in its queue, invisible to poll(). */
        if (XPending(vr_x11track_display(t)) > 0)
            continue;
        if (poll(&pfd, 1, vr_x11track_timeout_ms(t, vr_x11track_now_us())) < 0 && errno != EINTR) {
            fprintf(stderr, "videoredir-x11track: poll: %s\n", strerror(errno));
            status = 1;
            break;
        }
    }
    vr_x11track_destroy(t);
    return status;
}
