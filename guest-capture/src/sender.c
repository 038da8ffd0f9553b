/*
 * vr_sender: sends a media file (vr_source) through a guest session
 * (vr_guest): pacing, passes, timed changes, and the two loops that move the
 * bytes (a port device with reopening and timeouts, or an in-memory stand-in
 * client on a virtual clock for recordings). What videoredir-capture does,
 * kept here so that another front end does the same.
 *
 * Portable: it also builds in the Windows cross build (videoredir-capture.exe).
 * The channel goes through the transport's adapter (vr_fd_open/wait/read/
 * flush/close/strerror: fd.c on Linux, win32port.c on Windows). Only the stop
 * differs: on Linux a stop fd (a signal's self-pipe) is polled together with
 * the channel, on Windows a stop flag is looked at between bounded waits.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <poll.h>
#endif

#include "videoredir/capture.h"
#include "videoredir/record.h"

#define REOPEN_US 500000u
#define DRAIN_TIMEOUT_US 3000000u
#define STOP_DRAIN_US 1000000u
/* With a stop flag (config.stop_flag), the longest one wait may sleep. */
#define STOP_FLAG_POLL_MS 50
/* Where the virtual clock starts (a recording's times are relative to it). */
#define VCLOCK_START_US 1000000u

struct change {
    struct vr_change c;
    bool done;
};

struct vr_sender {
    struct vr_sender_config cfg;
    struct vr_source *src;
    struct vr_guest *guest;
    struct change changes[VR_SENDER_MAX_CHANGES];
    uint32_t n_changes;

    bool virtual_clock;
    uint64_t vclock_us;

    int fd;
    uint64_t next_open_us;
    uint64_t wait_since_us; /* since when we have been without a client */
    bool waiting;           /* no established session right now */

    struct vr_au au;
    bool have_au, eof;
    long loops_done;
    uint64_t au_index;

    bool pace_set; /* pace_start/pace_t0 valid */
    uint64_t pace_start_us;
    double pace_t0_us;

    bool stop_sent, stop_requested;
    uint64_t stop_us;
    uint64_t start_us;

    struct vr_geometry geom;            /* as announced now (kept over restarts) */
    const struct vr_region *cur_region; /* NULL: all visible */
    bool have_t_first, discont;
    double t_first_us; /* time of the first frame sent */
};

#define slog(s, level, ...) VR_LOGF((s)->cfg.log, (s)->cfg.user, level, __VA_ARGS__)

uint64_t vr_sender_now(const struct vr_sender *s)
{
    if (!s)
        return 0;
    return s->virtual_clock ? s->vclock_us : vr_time_us();
}

int vr_sender_create(struct vr_source *src, struct vr_guest *guest, const struct vr_sender_config *cfg,
                     struct vr_sender **out)
{
    if (!src || !guest || !cfg || !out || cfg->n_changes > VR_SENDER_MAX_CHANGES ||
        (cfg->n_changes && !cfg->changes) || cfg->loops < -1)
        return -EINVAL;
    struct vr_sender *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cfg = *cfg;
    s->cfg.changes = NULL;
    s->src = src;
    s->guest = guest;
    s->fd = -1;
    s->virtual_clock = cfg->virtual_clock;
    s->vclock_us = VCLOCK_START_US;
    s->geom = cfg->geometry;
    s->cur_region = cfg->region;
    /* Kept in time order (stable: equal times apply as given). */
    for (uint32_t n = 0; n < cfg->n_changes; n++) {
        s->changes[n].c = cfg->changes[n];
        for (uint32_t i = n; i > 0 && s->changes[i - 1].c.at_us > s->changes[i].c.at_us; i--) {
            struct change t = s->changes[i - 1];
            s->changes[i - 1] = s->changes[i];
            s->changes[i] = t;
        }
    }
    s->n_changes = cfg->n_changes;
    *out = s;
    return 0;
}

void vr_sender_destroy(struct vr_sender *s)
{
    if (!s)
        return;
    if (s->fd >= 0) /* the guest, the caller's, outlives the sender: no writer left on it */
        vr_fd_attach(vr_guest_conn(s->guest), -1);
    vr_fd_close(s->fd); /* no-op when closed */
    free(s);
}

void vr_sender_guest_event(struct vr_sender *s, enum vr_guest_event ev)
{
    if (!s)
        return;
    switch (ev) {
    case VR_GUEST_EV_SESSION:
    case VR_GUEST_EV_PEER_RESTART:
        s->waiting = false;
        s->pace_set = false;
        break;
    case VR_GUEST_EV_ACCEPTED:
        s->pace_set = false; /* pacing starts at the first frame sent */
        break;
    case VR_GUEST_EV_PEER_GONE:
        s->waiting = true;
        s->wait_since_us = vr_sender_now(s);
        break;
    default:
        break;
    }
}

/* Timestamp of the pending access unit in microseconds, for pacing. */
static double au_time_us(const struct vr_sender *s)
{
    const struct vr_stream_start *st = vr_source_stream_start(s->src);
    int64_t ts = s->au.dts != INT64_MIN ? s->au.dts : s->au.pts;
    if (ts != INT64_MIN)
        return (double)ts * 1e6 * st->timebase_num / st->timebase_den;
    if (st->fps_num && st->fps_den)
        return (double)s->au_index * 1e6 * st->fps_den / st->fps_num;
    return (double)s->au_index * 40000.0; /* 25 fps when nothing says otherwise */
}

/* Applies the timed changes due at play time rel_us. Returns 0, 1 when the
 * file starts over (the pending access unit is dropped), or a negative errno. */
static int apply_changes(struct vr_sender *s, double rel_us)
{
    for (uint32_t i = 0; i < s->n_changes; i++) {
        struct change *ch = &s->changes[i];
        if (ch->done || (double)ch->c.at_us > rel_us)
            continue;
        ch->done = true;
        int r = 0, over = 0;
        const char *what = "";
        switch (ch->c.kind) {
        case VR_CHANGE_GEOMETRY:
            what = "change the geometry";
            s->geom.window = s->geom.content = ch->c.rect;
            r = vr_guest_set_geometry(s->guest, &s->geom);
            break;
        case VR_CHANGE_REGION:
            what = "change the region";
            s->cur_region = ch->c.region;
            r = vr_guest_set_region(s->guest, ch->c.region);
            break;
        case VR_CHANGE_FLUSH:
            what = "flush";
            r = vr_guest_flush(s->guest);
            if (r == 0)
                r = vr_source_rewind(s->src);
            s->discont = true;
            over = 1;
            break;
        case VR_CHANGE_RESTART:
            what = "restart the stream";
            r = vr_guest_stop(s->guest, VR_REASON_USER);
            if (r == 0)
                r = vr_source_rewind(s->src);
            if (r == 0) {
                struct vr_stream_start st = *vr_source_stream_start(s->src);
                st.flags |= s->cfg.stream_flags;
                r = vr_guest_set_stream(s->guest, &st, &s->geom, s->cur_region);
            }
            over = 1;
            break;
        }
        if (r < 0) {
            slog(s, VR_LOG_ERROR, "cannot %s at %.3f s: %s", what, ch->c.at_us / 1e6, strerror(-r));
            return r;
        }
        slog(s, VR_LOG_DEBUG, "%s at %.3f s", what, ch->c.at_us / 1e6);
        if (over) {
            s->have_au = false;
            return 1;
        }
    }
    return 0;
}

int vr_sender_pump(struct vr_sender *s, uint64_t *wait_us)
{
    *wait_us = 0; /* budget used up: come back at once */
    for (int budget = 0; budget < 256; budget++) {
        if (!s->have_au) {
            if (s->eof) {
                *wait_us = UINT64_MAX;
                return 0;
            }
            int r = vr_source_read(s->src, &s->au);
            if (r == 0) {
                if (s->cfg.loops < 0 || s->loops_done < s->cfg.loops) {
                    s->loops_done++;
                    r = vr_source_rewind(s->src);
                    if (r == 0)
                        continue;
                }
                if (r < 0) {
                    slog(s, VR_LOG_ERROR, "%s", vr_source_error(s->src));
                    return r;
                }
                s->eof = true;
                *wait_us = UINT64_MAX;
                return 0;
            }
            if (r < 0) {
                slog(s, VR_LOG_ERROR, "%s", vr_source_error(s->src));
                return r;
            }
            s->have_au = true;
        }
        double t = au_time_us(s);
        if (!s->have_t_first) {
            s->have_t_first = true;
            s->t_first_us = t;
        }
        int ch = apply_changes(s, t - s->t_first_us);
        if (ch < 0)
            return ch;
        if (ch > 0)
            continue;
        uint64_t now = vr_sender_now(s);
        if (s->cfg.pace == VR_SENDER_PACE_REALTIME && s->pace_set) {
            double due = (double)s->pace_start_us + (t - s->pace_t0_us);
            if (due > (double)now) {
                *wait_us = (uint64_t)(due - (double)now) + 1;
                return 0;
            }
        }
        int r = vr_guest_send_frame(s->guest, &s->au, s->discont ? VR_FRAME_DISCONT : 0);
        if (r == -EAGAIN) {
            *wait_us = UINT64_MAX; /* window full or not streaming: input wakes us */
            return 0;
        }
        if (r < 0) {
            slog(s, VR_LOG_ERROR, "cannot send frame: %s", strerror(-r));
            return r;
        }
        if (r == 1 && !s->pace_set) {
            s->pace_set = true;
            s->pace_start_us = now;
            s->pace_t0_us = t;
        }
        if (r == 1)
            s->discont = false;
        s->have_au = false;
        s->au_index++;
    }
    return 0;
}

bool vr_sender_at_end(const struct vr_sender *s)
{
    return s && s->eof && !s->have_au;
}

/* ---------------------------------------------------------------------- */
/* The device loop.                                                         */

/* Opening errors that waiting will not fix. */
static bool permanent_open_error(int err)
{
    return err == -ENOENT || err == -ENOTDIR || err == -EACCES || err == -EPERM || err == -EISDIR ||
           err == -ENOTSOCK || err == -EINVAL || err == -ENAMETOOLONG;
}

static void close_channel(struct vr_sender *s, const char *device, const char *why)
{
    if (s->fd < 0)
        return;
    slog(s, s->waiting ? VR_LOG_DEBUG : VR_LOG_WARNING, "%s: %s; reopening every %u ms", device, why,
         REOPEN_US / 1000);
    vr_fd_attach(vr_guest_conn(s->guest), -1);
    vr_fd_close(s->fd);
    s->fd = -1;
    vr_record_write_event(s->cfg.record, VR_RECORD_EV_CLOSE);
    vr_guest_channel_closed(s->guest);
    s->next_open_us = vr_sender_now(s) + REOPEN_US;
    if (!s->waiting) {
        s->waiting = true;
        s->wait_since_us = vr_sender_now(s);
    }
}

static void try_open(struct vr_sender *s, const char *device)
{
    int fd = vr_fd_open(device);
    if (fd < 0) {
        s->next_open_us = vr_sender_now(s) + REOPEN_US;
        slog(s, VR_LOG_DEBUG, "%s: %s; retrying", device, vr_fd_strerror(fd));
        return;
    }
    s->fd = fd;
    vr_fd_attach(vr_guest_conn(s->guest), fd); /* large frames from the caller's buffer */
    slog(s, VR_LOG_DEBUG, "%s opened", device);
    vr_record_write_event(s->cfg.record, VR_RECORD_EV_OPEN); /* no-op without a recording */
    vr_guest_channel_open(s->guest);
}

/* The stop flag is set, or the stop fd became readable (it is not read: it
 * stays so): stop the stream once, and let what is queued go for a short
 * while. */
static void check_stop(struct vr_sender *s, int stop_fd, uint64_t now)
{
    if (!s->stop_requested && s->cfg.stop_flag && *s->cfg.stop_flag)
        s->stop_requested = true;
#ifndef _WIN32
    if (!s->stop_requested && stop_fd >= 0) {
        struct pollfd p = { .fd = stop_fd, .events = POLLIN };
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
            s->stop_requested = true;
    }
#else
    (void)stop_fd; /* no stop fd on Windows: the flag */
#endif
    if (!s->stop_requested || s->stop_sent)
        return;
    slog(s, VR_LOG_INFO, "stop requested: stopping the stream, delivering what is queued");
    vr_guest_stop(s->guest, VR_REASON_USER);
    s->stop_sent = true;
    s->stop_us = now;
}

/*
 * Sleeps up to timeout_ms until the channel (s->fd; none: just the time) has
 * input or, with want_write, room; returns vr_fd_wait's VR_FD_* bits (0 on
 * timeout) or a negative errno.
 *
 * The stop: vr_fd_wait watches one channel only. On Linux, with a stop fd
 * (a signal's self-pipe), poll() takes both, so that a signal wakes the wait
 * at once (a flag alone could be set just before the wait sleeps); the
 * channel number of fd.c is the fd itself. On Windows the channel is an
 * overlapped handle in win32port.c's table and a signal (Ctrl+C: the C
 * runtime's handler, on a thread of its own) cannot wake its
 * WaitForMultipleObjects, so with a stop flag each wait is cut to
 * STOP_FLAG_POLL_MS (50 ms) and the flag is looked at in between: a stop
 * takes effect within 50 ms.
 */
static int wait_channel(struct vr_sender *s, int stop_fd, bool want_write, int timeout_ms)
{
    if (s->cfg.stop_flag && !s->stop_requested && timeout_ms > STOP_FLAG_POLL_MS)
        timeout_ms = STOP_FLAG_POLL_MS;
#ifndef _WIN32
    if (stop_fd >= 0 && !s->stop_requested) {
        /* [0] the stop fd (not once seen: the wait must not spin on it), [1] the channel */
        struct pollfd pfds[2] = { { .fd = stop_fd, .events = POLLIN }, { .fd = s->fd, .events = POLLIN } };
        if (want_write)
            pfds[1].events |= POLLOUT;
        int n = poll(pfds, 2, timeout_ms);
        if (n < 0)
            return errno == EINTR ? 0 : -errno;
        int ready = 0;
        if (n > 0 && s->fd >= 0 && (pfds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            ready |= VR_FD_READABLE;
        if (n > 0 && s->fd >= 0 && (pfds[1].revents & POLLOUT))
            ready |= VR_FD_WRITABLE;
        return ready; /* the stop fd: check_stop sees it next */
    }
#else
    (void)stop_fd;
#endif
    return vr_fd_wait(s->fd, want_write, timeout_ms);
}

enum vr_sender_result vr_sender_run_device(struct vr_sender *s, const char *device,
                                           double connect_timeout_s, int stop_fd)
{
    uint64_t connect_us = (uint64_t)(connect_timeout_s * 1e6);
    s->start_us = vr_sender_now(s);
    s->wait_since_us = s->start_us;
    s->waiting = true;

    int fd = vr_fd_open(device);
    if (fd < 0 && permanent_open_error(fd)) {
        slog(s, VR_LOG_ERROR, "cannot open device %s: %s", device, vr_fd_strerror(fd));
        return VR_SENDER_ERR_DEVICE;
    }
    if (fd >= 0) {
        s->fd = fd;
        vr_fd_attach(vr_guest_conn(s->guest), fd);
        vr_record_write_event(s->cfg.record, VR_RECORD_EV_OPEN);
        vr_guest_channel_open(s->guest);
    } else {
        slog(s, VR_LOG_WARNING, "%s: %s; retrying every %u ms", device, vr_fd_strerror(fd),
             REOPEN_US / 1000);
        s->next_open_us = vr_sender_now(s) + REOPEN_US;
    }

    for (;;) {
        uint64_t now = vr_sender_now(s);
        check_stop(s, stop_fd, now);
        if (s->fd < 0 && now >= s->next_open_us)
            try_open(s, device);

        enum vr_guest_state st = vr_guest_get_state(s->guest);
        if (st == VR_GUEST_FAILED) {
            slog(s, VR_LOG_ERROR, "%s", vr_guest_error(s->guest));
            return VR_SENDER_ERR_REJECTED;
        }
        if (s->waiting && !s->stop_sent && now - s->wait_since_us >= connect_us) {
            slog(s, VR_LOG_ERROR, "no client answered on %s within %.0f s (is a SPICE client with "
                 "videoredir connected?)", device, connect_timeout_s);
            return VR_SENDER_ERR_NO_CLIENT;
        }

        uint64_t wait = UINT64_MAX;
        if (!s->stop_sent && st == VR_GUEST_STREAMING) {
            if (vr_sender_pump(s, &wait) < 0)
                return VR_SENDER_ERR_INPUT;
            if (vr_sender_at_end(s)) {
                vr_guest_stop(s->guest, VR_REASON_EOS);
                s->stop_sent = true;
                s->stop_us = now;
            }
        }

        if (s->fd >= 0 && !vr_guest_output_empty(s->guest)) {
            int r = vr_fd_flush(vr_guest_conn(s->guest), s->fd);
            if (r < 0 && r != -EAGAIN)
                close_channel(s, device, r == -EPIPE ? "closed by the host" : vr_fd_strerror(r));
        }

        if (s->stop_sent) {
            now = vr_sender_now(s);
            if (s->fd >= 0 && vr_guest_drained(s->guest))
                break;
            uint64_t limit = s->stop_requested ? STOP_DRAIN_US : DRAIN_TIMEOUT_US;
            if (now - s->stop_us >= limit) {
                if (!vr_guest_output_empty(s->guest) || s->fd < 0)
                    slog(s, VR_LOG_WARNING, "could not deliver everything before exiting");
                else
                    slog(s, VR_LOG_DEBUG, "no final feedback from the client; exiting");
                break;
            }
            uint64_t left = limit - (now - s->stop_us);
            if (left < wait)
                wait = left;
        }

        /* How long the wait may sleep. */
        now = vr_sender_now(s);
        uint64_t t = vr_guest_next_timeout(s->guest);
        if (t < wait)
            wait = t;
        if (s->fd < 0) {
            uint64_t r = s->next_open_us > now ? s->next_open_us - now : 0;
            if (r < wait)
                wait = r;
        }
        if (s->waiting && !s->stop_sent) {
            uint64_t end = s->wait_since_us + connect_us;
            uint64_t r = end > now ? end - now : 0;
            if (r < wait)
                wait = r;
        }
        int timeout_ms = wait == UINT64_MAX ? 1000 : (int)((wait + 999) / 1000);
        if (timeout_ms > 1000)
            timeout_ms = 1000;

        int n = wait_channel(s, stop_fd, s->fd >= 0 && !vr_guest_output_empty(s->guest), timeout_ms);
        if (n < 0) {
            slog(s, VR_LOG_ERROR, "waiting on %s: %s", device, vr_fd_strerror(n));
            return VR_SENDER_ERR_DEVICE;
        }
        if (s->fd >= 0 && (n & VR_FD_READABLE)) {
            for (int i = 0; i < 64; i++) {
                int r = vr_fd_read(vr_guest_conn(s->guest), s->fd);
                if (r == -EAGAIN)
                    break;
                if (r < 0) {
                    close_channel(s, device, r == -EPIPE ? "closed by the host" : vr_fd_strerror(r));
                    break;
                }
            }
        }
        vr_guest_tick(s->guest);
    }
    return s->stop_requested ? VR_SENDER_STOPPED : VR_SENDER_DONE;
}

/* ---------------------------------------------------------------------- */
/* The offline loop: a stand-in client on the virtual clock.               */

enum vr_sender_result vr_sender_run_offline(struct vr_sender *s, int stop_fd)
{
    if (!s->virtual_clock) {
        slog(s, VR_LOG_ERROR, "the offline loop runs on the virtual clock only");
        return VR_SENDER_ERR_DEVICE;
    }
    struct vr_record_peer *peer = NULL;
    int ret = vr_record_peer_create("videoredir-capture --record (no client)", &peer);
    if (ret < 0) {
        slog(s, VR_LOG_ERROR, "%s", strerror(-ret));
        return VR_SENDER_ERR_DEVICE;
    }
    struct vr_conn *conn = vr_guest_conn(s->guest);
    s->start_us = vr_sender_now(s);
    s->waiting = false;
    vr_record_write_event(s->cfg.record, VR_RECORD_EV_OPEN);
    vr_guest_channel_open(s->guest);
    enum vr_sender_result result = VR_SENDER_DONE;
    for (;;) {
        check_stop(s, stop_fd, vr_sender_now(s));
        enum vr_guest_state st = vr_guest_get_state(s->guest);
        if (st == VR_GUEST_FAILED) {
            slog(s, VR_LOG_ERROR, "%s", vr_guest_error(s->guest));
            result = VR_SENDER_ERR_REJECTED;
            break;
        }
        uint64_t wait = UINT64_MAX;
        if (!s->stop_sent && st == VR_GUEST_STREAMING) {
            if (vr_sender_pump(s, &wait) < 0) {
                result = VR_SENDER_ERR_INPUT;
                break;
            }
            if (vr_sender_at_end(s)) {
                vr_guest_stop(s->guest, VR_REASON_EOS);
                s->stop_sent = true;
            }
        }
        long moved = vr_record_peer_pump(peer, conn, vr_sender_now(s));
        vr_guest_tick(s->guest);
        moved += vr_record_peer_pump(peer, conn, vr_sender_now(s));
        if (moved < 0) {
            slog(s, VR_LOG_ERROR, "stand-in client: %s", strerror((int)-moved));
            result = VR_SENDER_ERR_DEVICE;
            break;
        }
        if (s->stop_sent && vr_guest_drained(s->guest))
            break;
        if (moved > 0 || wait == 0)
            continue; /* something happened: look again before time moves */
        uint64_t t = vr_guest_next_timeout(s->guest);
        if (t < wait)
            wait = t;
        if (wait == UINT64_MAX) {
            slog(s, VR_LOG_ERROR, "the session stalled (state %s)", vr_guest_state_name(st));
            result = VR_SENDER_ERR_DEVICE;
            break;
        }
        s->vclock_us += wait;
    }
    vr_record_write_event(s->cfg.record, VR_RECORD_EV_CLOSE);
    vr_record_peer_destroy(peer);
    return s->stop_requested && result == VR_SENDER_DONE ? VR_SENDER_STOPPED : result;
}

uint64_t vr_sender_elapsed_us(const struct vr_sender *s)
{
    return s ? vr_sender_now(s) - s->start_us : 0;
}

/* ---------------------------------------------------------------------- */
/* Text forms.                                                              */

/* "X,Y,W,H" at s -> r (W,H > 0, within the protocol's caps); *end: where
 * parsing stopped. */
static bool parse_rect_at(const char *s, struct vr_rect *r, const char **end)
{
    long v[4];
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        char *e;
        errno = 0;
        v[i] = strtol(p, &e, 10);
        if (errno || e == p)
            return false;
        p = e;
        if (i < 3) {
            if (*p != ',')
                return false;
            p++;
        }
    }
    if (v[0] < -VR_MAX_COORD || v[0] > VR_MAX_COORD || v[1] < -VR_MAX_COORD || v[1] > VR_MAX_COORD ||
        v[2] <= 0 || v[2] > (long)VR_MAX_DIMENSION || v[3] <= 0 || v[3] > (long)VR_MAX_DIMENSION)
        return false;
    r->x = (int32_t)v[0];
    r->y = (int32_t)v[1];
    r->w = (uint32_t)v[2];
    r->h = (uint32_t)v[3];
    *end = p;
    return true;
}

int vr_rect_parse(const char *s, struct vr_rect *r)
{
    const char *end;
    if (!s || !r)
        return -EINVAL;
    return parse_rect_at(s, r, &end) && *end == '\0' ? 0 : -EINVAL;
}

int vr_region_parse(const char *s, struct vr_region *reg)
{
    if (!s || !reg)
        return -EINVAL;
    reg->n_rects = 0;
    const char *p = s;
    while (*p) {
        if (reg->n_rects >= VR_MAX_RECTS)
            return -EINVAL;
        const char *end;
        if (!parse_rect_at(p, &reg->rects[reg->n_rects], &end))
            return -EINVAL;
        reg->n_rects++;
        if (*end == ';')
            end++;
        else if (*end)
            return -EINVAL;
        p = end;
    }
    return 0;
}

/* "T" or "T:REST": T seconds (>= 0) of play time; *rest after the colon. */
static bool parse_time(const char *s, uint64_t *at_us, const char **rest, bool want_rest)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0) || v > 86400.0)
        return false;
    if (want_rest ? *end != ':' : *end != '\0')
        return false;
    *at_us = (uint64_t)(v * 1e6 + 0.5);
    *rest = want_rest ? end + 1 : end;
    return true;
}

int vr_change_parse(enum vr_change_kind kind, const char *arg, struct vr_change *out,
                    struct vr_region **region)
{
    if (!arg || !out || !region || kind > VR_CHANGE_RESTART)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    *region = NULL;
    out->kind = kind;
    const char *rest;
    if (!parse_time(arg, &out->at_us, &rest, kind == VR_CHANGE_GEOMETRY || kind == VR_CHANGE_REGION))
        return -EINVAL;
    if (kind == VR_CHANGE_GEOMETRY)
        return parse_rect_at(rest, &out->rect, &rest) && *rest == '\0' ? 0 : -EINVAL;
    if (kind == VR_CHANGE_REGION && strcmp(rest, "all") != 0) {
        struct vr_region *reg = calloc(1, sizeof(*reg));
        if (!reg)
            return -ENOMEM;
        if (vr_region_parse(rest, reg) < 0) {
            free(reg);
            return -EINVAL;
        }
        out->region = *region = reg;
    }
    return 0;
}
