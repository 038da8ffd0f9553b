/*
 * bench-soak-guest: the guest side of the soak run (bench/soak.sh). Streams a
 * clip in a loop at its frame rate for a given time over the guest library
 * (vr_source + vr_guest), moving the window and changing its visible region
 * all the time, and reopening the port whenever it goes away. Prints one
 * summary line at the end: frames sent, sessions, keyframe requests, and the
 * client's last feedback.
 *
 * Usage: bench-soak-guest --device PATH --seconds N [--move-ms N] CLIP
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <videoredir/capture.h>

#define REOPEN_US 200000u

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = 1; }

static void on_log(void *user, enum vr_log_level level, const char *msg)
{
    if (level <= VR_LOG_INFO)
        fprintf(stderr, "soak-guest: %s\n", msg);
}

/* Window on a 1280x800 desktop, moving on a loop; every other step a
 * visible region with a bite taken out of it. */
static void place(struct vr_guest *g, const struct vr_stream_start *st, uint64_t step, bool send)
{
    struct vr_geometry geom = { 0 };
    int w = 640, h = 360;
    int x = (int)(step * 7 % 600), y = (int)(step * 3 % 400);
    geom.window = (struct vr_rect){ x, y, (uint32_t)w, (uint32_t)h };
    geom.content = geom.window;
    static struct vr_region region;
    region.n_rects = 2;
    region.rects[0] = (struct vr_rect){ x, y, (uint32_t)w, (uint32_t)h / 2 };
    region.rects[1] = (struct vr_rect){ x, y + h / 2, (uint32_t)w / 2, (uint32_t)h / 2 };
    if (!send) {
        vr_guest_set_stream(g, st, &geom, NULL);
        return;
    }
    vr_guest_set_geometry(g, &geom);
    vr_guest_set_region(g, step % 2 ? &region : NULL);
}

int main(int argc, char **argv)
{
    const char *device = NULL;
    double seconds = 60;
    long move_ms = 100;
    static const struct option opts[] = {
        { "device", required_argument, NULL, 'd' }, { "seconds", required_argument, NULL, 's' },
        { "move-ms", required_argument, NULL, 'm' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "d:s:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': device = optarg; break;
        case 's': seconds = atof(optarg); break;
        case 'm': move_ms = atol(optarg); break;
        case 'h':
            printf("Usage: bench-soak-guest --device PATH --seconds N [--move-ms N] CLIP\n"
                   "Streams CLIP in a loop at its frame rate for N seconds, moving the window\n"
                   "every --move-ms (default 100), reopening the port when it goes away.\n");
            return 0;
        default: return 2;
        }
    }
    if (!device || optind != argc - 1 || seconds <= 0 || move_ms <= 0) {
        fprintf(stderr, "bench-soak-guest: --device, --seconds and a CLIP are needed (see --help)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    char err[256];
    struct vr_source *src = NULL;
    if (vr_source_open(argv[optind], &src, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench-soak-guest: %s\n", err);
        return 1;
    }
    const struct vr_stream_start *st = vr_source_stream_start(src);
    double frame_us = st->fps_num && st->fps_den ? 1e6 * st->fps_den / st->fps_num : 40000;
    struct vr_guest_callbacks cb = { .log = on_log };
    struct vr_guest_config cfg = { .software = "bench-soak-guest" };
    struct vr_guest *g = NULL;
    if (vr_guest_create(&cfg, &cb, NULL, &g) < 0)
        return 1;
    uint64_t step = 0;
    place(g, st, step, false);

    int fd = -1;
    uint64_t start = vr_time_us(), end = start + (uint64_t)(seconds * 1e6), next_open = 0;
    uint64_t next_move = start, frames_due = 0, late = 0;
    struct vr_au au;
    bool have_au = false;
    while (!interrupted && vr_time_us() < end) {
        uint64_t now = vr_time_us();
        if (fd < 0 && now >= next_open) {
            fd = vr_fd_open(device);
            if (fd >= 0)
                vr_guest_channel_open(g);
            else
                next_open = now + REOPEN_US;
        }
        if (now >= next_move) {
            place(g, st, ++step, true);
            next_move += (uint64_t)move_ms * 1000;
        }
        /* Real time: frame n is due at start + n * frame_us. While the port
         * is gone or the client is not streaming, due frames are skipped as
         * a player keeps playing. */
        while ((double)frames_due * frame_us <= (double)(now - start)) {
            if (!have_au) {
                int r = vr_source_read(src, &au);
                if (r == 0 && vr_source_rewind(src) == 0)
                    r = vr_source_read(src, &au);
                if (r <= 0) {
                    fprintf(stderr, "bench-soak-guest: %s\n", vr_source_error(src));
                    return 1;
                }
                have_au = true;
            }
            if (vr_guest_can_send(g, au.len)) {
                vr_guest_send_frame(g, &au, 0);
                have_au = false;
            } else if (vr_guest_get_state(g) != VR_GUEST_STREAMING) {
                have_au = false; /* nobody to send to: the frame is gone */
            } else {
                late++;
                break; /* window full: try again when the client acknowledges */
            }
            frames_due++;
        }
        if (fd >= 0) {
            int r = vr_fd_flush(vr_guest_conn(g), fd);
            if (r < 0 && r != -EAGAIN) {
                close(fd);
                fd = -1;
                vr_guest_channel_closed(g);
                next_open = vr_time_us() + REOPEN_US;
            }
        }
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (fd >= 0 && !vr_guest_output_empty(g))
            pfd.events |= POLLOUT;
        poll(&pfd, fd >= 0 ? 1 : 0, 5);
        if (fd >= 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
            int r;
            while ((r = vr_fd_read(vr_guest_conn(g), fd)) == 0)
                ;
            if (r != -EAGAIN) {
                close(fd);
                fd = -1;
                vr_guest_channel_closed(g);
                next_open = vr_time_us() + REOPEN_US;
            }
        }
        vr_guest_tick(g);
    }
    vr_guest_stop(g, VR_REASON_EOS);
    for (int i = 0; fd >= 0 && i < 300 && !vr_guest_drained(g); i++) {
        vr_fd_flush(vr_guest_conn(g), fd);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 10) > 0)
            while (vr_fd_read(vr_guest_conn(g), fd) == 0)
                ;
        vr_guest_tick(g);
    }
    struct vr_guest_stats gs;
    vr_guest_get_stats(g, &gs);
    printf("soak-guest: %" PRIu64 " frames sent, %" PRIu64 " skipped for a keyframe, %" PRIu64
           " MB, %" PRIu64 " sessions, %" PRIu64 " keyframe requests, %" PRIu64
           " window waits, %" PRIu64 " geometry updates; last feedback: seq %" PRIu32 " decoded %" PRIu32
           " dropped %" PRIu32 " lost %" PRIu32 "\n",
           gs.frames_sent, gs.frames_skipped, gs.es_bytes >> 20, gs.sessions, gs.keyframe_requests,
           late, step, gs.last_feedback.last_seq, gs.last_feedback.decoded,
           gs.last_feedback.dropped, gs.last_feedback.lost);
    if (fd >= 0)
        close(fd);
    vr_guest_destroy(g);
    vr_source_close(src);
    return 0;
}
