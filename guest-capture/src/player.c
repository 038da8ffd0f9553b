/*
 * The guest player session (player.h): a vr_guest in player mode, the port
 * it talks through and the I/O thread that drives both.
 *
 * Locking: `lock` guards everything below it in struct vr_player. The I/O
 * thread holds it except while it polls and while it calls the front end's
 * `show` callback; the front end's threads take it in each vr_player_* call.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#endif

#include "videoredir/guestd.h"
#include "videoredir/player.h"

/* The platform: a mutex, the I/O thread, and how that thread is woken while
 * it waits on the port. POSIX: pthreads, a self-pipe and poll(). Windows
 * (the Media Foundation decoder, guest-capture/win32/mft): an SRW lock, a
 * Win32 thread and an auto-reset event waited on with the port's overlapped
 * I/O events (vr_fd_wait_event). */
#ifdef _WIN32
typedef SRWLOCK player_mutex;
typedef HANDLE player_thread;
#define PORT_PREFIX "\\\\.\\Global\\"
#else
typedef pthread_mutex_t player_mutex;
typedef pthread_t player_thread;
#define PORT_PREFIX "/dev/virtio-ports/"
#endif

#define DEFAULT_REOPEN_US 500000
#define DEFAULT_DRAIN_US 3000000
#define DEFAULT_ACCEPT_US 2000000
#define DEFAULT_PEER_US 2000000

struct vr_player {
    struct vr_player_callbacks cb;
    void *user;
    char *path;
    char *daemon_path;  /* videoredir-guestd's socket, tried before path; NULL: none */
    uint64_t reopen_us, drain_us;

    player_mutex lock;
    struct vr_guest *guest;
    int fd;
    bool via_daemon;              /* fd is the daemon's socket */
    uint64_t next_open_us;
    bool open_failed_logged;
    bool have_stream;
    enum vr_player_show show;     /* where the video must be shown */
    enum vr_player_show notified; /* what the front end was last told */
    bool renotify;                /* tell it again even if unchanged */
    uint64_t frames_in, switches_local, switches_client;

    player_thread thread;
    bool thread_running;
    bool stop;
#ifdef _WIN32
    HANDLE wake; /* auto-reset event */
#else
    int wake[2];
#endif
};

#ifdef _WIN32
static int mutex_init(player_mutex *m)
{
    InitializeSRWLock(m);
    return 0;
}
static void mutex_destroy(player_mutex *m)
{
    (void)m;
}
static void lock(struct vr_player *p)
{
    AcquireSRWLockExclusive(&p->lock);
}
static void unlock(struct vr_player *p)
{
    ReleaseSRWLockExclusive(&p->lock);
}
static void sleep_ms(unsigned ms)
{
    Sleep(ms);
}
#else
static int mutex_init(player_mutex *m)
{
    return pthread_mutex_init(m, NULL) != 0 ? -ENOMEM : 0;
}
static void mutex_destroy(player_mutex *m)
{
    pthread_mutex_destroy(m);
}
static void lock(struct vr_player *p)
{
    pthread_mutex_lock(&p->lock);
}
static void unlock(struct vr_player *p)
{
    pthread_mutex_unlock(&p->lock);
}
static void sleep_ms(unsigned ms)
{
    usleep(ms * 1000u);
}
#endif

#define plog(p, level, ...) VR_LOGF((p)->cb.log, (p)->user, level, __VA_ARGS__)

static void wake_io(struct vr_player *p)
{
#ifdef _WIN32
    if (p->wake)
        SetEvent(p->wake);
#else
    if (p->wake[1] >= 0) {
        char c = 1;
        ssize_t r = write(p->wake[1], &c, 1);
        (void)r; /* full pipe: a wakeup is pending anyway */
    }
#endif
}

static void guest_log(void *user, enum vr_log_level level, const char *msg)
{
    struct vr_player *p = user;
    if (p->cb.log)
        p->cb.log(p->user, level, msg);
}

/* Lock held (called from inside the guest). Logs; the I/O thread derives
 * where the video is shown from the state afterwards (update_show). */
static void guest_event(void *user, enum vr_guest_event ev, const char *detail)
{
    struct vr_player *p = user;
    switch (ev) {
    case VR_GUEST_EV_ACCEPTED:
        plog(p, VR_LOG_INFO, "client accepted the stream (decoder %s): video goes to the client", detail);
        break;
    case VR_GUEST_EV_REJECTED:
        plog(p, VR_LOG_WARNING, "client rejected the stream: %s; playing locally", detail);
        break;
    case VR_GUEST_EV_ACCEPT_TIMEOUT:
    case VR_GUEST_EV_VERSION_MISMATCH:
        plog(p, VR_LOG_WARNING, "no usable client (%s); playing locally", vr_guest_error(p->guest));
        break;
    case VR_GUEST_EV_PEER_GONE:
        plog(p, VR_LOG_WARNING, "client went silent; playing locally");
        break;
    case VR_GUEST_EV_PEER_RESTART:
        plog(p, VR_LOG_INFO, "client restarted (%s)", detail);
        break;
    default:
        break;
    }
}

const char *vr_player_show_name(enum vr_player_show s)
{
    switch (s) {
    case VR_PLAYER_SHOW_LOCAL: return "local";
    case VR_PLAYER_SHOW_CLIENT: return "client";
    default: return "none";
    }
}

/* ---------------------------------------------------------------------- */
/* Port (lock held).                                                        */

static void port_close(struct vr_player *p, const char *why)
{
    if (p->fd < 0)
        return;
    plog(p, VR_LOG_INFO, "port %s closed: %s", p->path, why);
    vr_fd_attach(vr_guest_conn(p->guest), -1);
    vr_fd_close(p->fd);
    p->fd = -1;
    vr_guest_channel_closed(p->guest);
    p->next_open_us = vr_time_us() + p->reopen_us;
}

/* A failed session (rejected, no answer) tries again on the next channel:
 * a different client may take the stream. */
static void port_try_open(struct vr_player *p)
{
    /* The daemon owns the port when it runs: through it, several players
     * redirect at once. Without it the player opens the port itself. */
    int fd = p->daemon_path ? vr_fd_open(p->daemon_path) : -ENOENT;
    p->via_daemon = fd >= 0;
    if (fd >= 0) {
        p->open_failed_logged = false;
        p->fd = fd;
        vr_fd_attach(vr_guest_conn(p->guest), fd); /* large frames from the player's buffer */
        vr_guest_retry(p->guest);
        plog(p, VR_LOG_INFO, "connected to videoredir-guestd at %s", p->daemon_path);
        vr_guest_channel_open(p->guest);
        vr_fd_flush(vr_guest_conn(p->guest), p->fd);
        return;
    }
    fd = vr_fd_open(p->path);
    if (fd < 0) {
        if (!p->open_failed_logged)
            plog(p, VR_LOG_WARNING, "cannot open %s: %s; retrying every %u ms, playing locally meanwhile",
                 p->path, vr_fd_strerror(fd), (unsigned)(p->reopen_us / 1000));
        p->open_failed_logged = true;
        p->next_open_us = vr_time_us() + p->reopen_us;
        return;
    }
    p->open_failed_logged = false;
    p->fd = fd;
    vr_fd_attach(vr_guest_conn(p->guest), fd);
    vr_guest_retry(p->guest);
    plog(p, VR_LOG_INFO, "port %s open", p->path);
    vr_guest_channel_open(p->guest);
    vr_fd_flush(vr_guest_conn(p->guest), p->fd);
}

/* Moves bytes both ways; closes the port on EOF or error. */
static void port_io(struct vr_player *p, bool readable)
{
    if (p->fd < 0)
        return;
    if (readable) {
        for (int i = 0; i < 64; i++) {
            int r = vr_fd_read(vr_guest_conn(p->guest), p->fd);
            if (r == -EAGAIN)
                break;
            if (r < 0) {
                port_close(p, r == -EPIPE ? "the host side went away" : vr_fd_strerror(r));
                return;
            }
        }
    }
    vr_guest_tick(p->guest);
    vr_guest_pump(p->guest);
    int r = vr_fd_flush(vr_guest_conn(p->guest), p->fd);
    if (r < 0 && r != -EAGAIN)
        port_close(p, vr_fd_strerror(r));
}

/* The video is the client's while it streams it; otherwise (no client,
 * refused, gone) it is shown locally. IDLE is between streams: no change.
 * ANNOUNCED: no change either. A client is there (it said hello) and answers
 * within the accept timeout, normally in milliseconds; showing the video
 * locally meanwhile would start a local decoder only to tear it down at
 * once, and a video sink torn down while it still negotiates is how
 * videoredirsink crashed (issue 14). No answer: FAILED, then local. */
static void update_show(struct vr_player *p)
{
    if (!p->have_stream) {
        p->show = VR_PLAYER_SHOW_NONE;
        return;
    }
    enum vr_guest_state gs = vr_guest_get_state(p->guest);
    if (gs == VR_GUEST_IDLE || gs == VR_GUEST_ANNOUNCED)
        return;
    enum vr_player_show want = gs == VR_GUEST_STREAMING ? VR_PLAYER_SHOW_CLIENT : VR_PLAYER_SHOW_LOCAL;
    if (want != p->show) {
        if (want == VR_PLAYER_SHOW_LOCAL)
            p->switches_local++;
        else
            p->switches_client++;
    }
    p->show = want;
}

/* Waits (lock not held) until the port has something to read or room to
 * write, the front end wakes the thread, or timeout_ms passes. Returns
 * whether the port is readable (or at an end or error to report). */
static bool wait_port(struct vr_player *p, int fd, bool want_write, int timeout_ms)
{
#ifdef _WIN32
    int r = vr_fd_wait_event(fd, want_write, timeout_ms, p->wake);
    return r < 0 || (r & VR_FD_READABLE);
#else
    struct pollfd pfd[2];
    nfds_t n = 0;
    pfd[n++] = (struct pollfd){ .fd = p->wake[0], .events = POLLIN };
    if (fd >= 0)
        pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN | (want_write ? POLLOUT : 0) };
    poll(pfd, n, timeout_ms);
    if (pfd[0].revents & POLLIN) {
        char buf[64];
        while (read(p->wake[0], buf, sizeof(buf)) > 0) {
        }
    }
    return fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR));
#endif
}

#ifdef _WIN32
static DWORD WINAPI io_main(void *arg)
#else
static void *io_main(void *arg)
#endif
{
    struct vr_player *p = arg;
    lock(p);
    while (!p->stop) {
        uint64_t now = vr_time_us();
        if (p->fd < 0 && now >= p->next_open_us)
            port_try_open(p);
        update_show(p);
        if (p->show != p->notified || p->renotify) {
            enum vr_player_show where = p->show;
            char why[128];
            enum vr_guest_state gs = vr_guest_get_state(p->guest);
            snprintf(why, sizeof(why), "%s%s%s", p->fd < 0 ? "no port, " : "", vr_guest_state_name(gs),
                     gs == VR_GUEST_FAILED ? (vr_guest_error(p->guest)[0] ? ": " : "") : "");
            if (gs == VR_GUEST_FAILED)
                strncat(why, vr_guest_error(p->guest), sizeof(why) - strlen(why) - 1);
            p->notified = where;
            p->renotify = false;
            if (p->cb.show) {
                unlock(p);
                p->cb.show(p->user, where, why);
                lock(p);
            }
            continue; /* the state may have moved meanwhile */
        }

        int port_fd = p->fd;
        bool want_write = p->fd >= 0 && !vr_guest_output_empty(p->guest);
        uint64_t t = vr_guest_next_timeout(p->guest);
        if (p->fd < 0)
            t = p->next_open_us > now ? p->next_open_us - now : 0;
        int timeout = t == UINT64_MAX ? 1000 : (int)(t / 1000 + 1 < 1000 ? t / 1000 + 1 : 1000);
        unlock(p);
        bool readable = wait_port(p, port_fd, want_write, timeout);
        lock(p);
        /* Only this thread opens and closes the port, so p->fd is the
         * descriptor waited on unless it was closed meanwhile. */
        if (port_fd >= 0 && p->fd == port_fd)
            port_io(p, readable);
        else if (p->fd >= 0)
            port_io(p, false);
    }
    unlock(p);
#ifdef _WIN32
    return 0;
#else
    return NULL;
#endif
}

/* ---------------------------------------------------------------------- */
/* API.                                                                     */

int vr_player_create(const struct vr_player_config *cfg, const struct vr_player_callbacks *cb, void *user,
                     struct vr_player **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    struct vr_player_config c;
    memset(&c, 0, sizeof(c));
    if (cfg)
        c = *cfg;
    struct vr_player *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    if (cb)
        p->cb = *cb;
    p->user = user;
    p->fd = -1;
#ifndef _WIN32
    p->wake[0] = p->wake[1] = -1;
#endif
    p->reopen_us = c.reopen_interval_us ? c.reopen_interval_us : DEFAULT_REOPEN_US;
    p->drain_us = c.drain_timeout_us ? c.drain_timeout_us : DEFAULT_DRAIN_US;
    int r = -ENOMEM;
    const char *dev = c.device && *c.device ? c.device : getenv(VR_PLAYER_DEVICE_ENV);
    if (dev && *dev) {
        p->path = strdup(dev);
    } else {
        const char *name = c.port_name && *c.port_name ? c.port_name : VR_PLAYER_DEFAULT_PORT;
        size_t len = strlen(PORT_PREFIX) + strlen(name) + 1;
        p->path = malloc(len);
        if (p->path)
            snprintf(p->path, len, "%s%s", PORT_PREFIX, name);
    }
    if (!p->path)
        goto fail;
#ifndef _WIN32
    /* An explicit device is used as is; otherwise the daemon comes first
     * (Linux: videoredir-guestd; a Windows port has no daemon). */
    if (!(c.device && *c.device)) {
        char sock[4096];
        const char *dp = vr_guestd_socket_path(sock, sizeof(sock));
        if (dp && strcmp(dp, p->path) != 0 && !(p->daemon_path = strdup(dp))) {
            free(p->path);
            free(p);
            return -ENOMEM;
        }
    }
#endif
    if (mutex_init(&p->lock) != 0) {
        free(p->path);
        free(p->daemon_path);
        free(p);
        return -ENOMEM;
    }

    struct vr_guest_config gcfg;
    memset(&gcfg, 0, sizeof(gcfg));
    gcfg.software = c.software ? c.software : "videoredir-player " VR_VERSION_STRING;
    gcfg.accept_timeout_us = c.accept_timeout_us ? c.accept_timeout_us : DEFAULT_ACCEPT_US;
    gcfg.peer_timeout_us = c.peer_timeout_us ? c.peer_timeout_us : DEFAULT_PEER_US;
    struct vr_guest_callbacks gcb = { .log = guest_log, .event = guest_event };
    r = vr_guest_create(&gcfg, &gcb, p, &p->guest);
    if (r < 0)
        goto fail;
#ifdef _WIN32
    p->wake = CreateEventW(NULL, FALSE, FALSE, NULL);
    if (!p->wake) {
        r = -ENOMEM;
        goto fail;
    }
    p->thread = CreateThread(NULL, 0, io_main, p, 0, NULL);
    if (!p->thread) {
        r = -EAGAIN;
        goto fail;
    }
#else
    if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        r = -errno;
        goto fail;
    }
    r = -pthread_create(&p->thread, NULL, io_main, p);
    if (r < 0)
        goto fail;
#endif
    p->thread_running = true;
    if (p->daemon_path)
        plog(p, VR_LOG_INFO, "videoredir-guestd at %s, else port %s", p->daemon_path, p->path);
    else
        plog(p, VR_LOG_INFO, "port %s", p->path);
    *out = p;
    return 0;

fail:
    vr_player_destroy(p);
    return r;
}

void vr_player_destroy(struct vr_player *p)
{
    if (!p)
        return;
    if (p->path && p->guest) {
        lock(p);
        p->stop = true;
        if (p->have_stream)
            vr_guest_stop(p->guest, VR_REASON_USER);
        p->have_stream = false;
        if (p->fd >= 0)
            vr_fd_flush(vr_guest_conn(p->guest), p->fd);
        unlock(p);
    }
    if (p->thread_running) {
        wake_io(p);
#ifdef _WIN32
        WaitForSingleObject(p->thread, INFINITE);
        CloseHandle(p->thread);
#else
        pthread_join(p->thread, NULL);
#endif
    }
    if (p->fd >= 0) {
        if (p->guest)
            vr_fd_attach(vr_guest_conn(p->guest), -1);
        vr_fd_close(p->fd);
    }
#ifdef _WIN32
    if (p->wake)
        CloseHandle(p->wake);
#else
    for (int i = 0; i < 2; i++)
        if (p->wake[i] >= 0)
            close(p->wake[i]);
#endif
    vr_guest_destroy(p->guest);
    if (p->path)
        mutex_destroy(&p->lock);
    free(p->path);
    free(p->daemon_path);
    free(p);
}

const char *vr_player_device_path(const struct vr_player *p)
{
    return p ? p->path : NULL;
}

int vr_player_set_stream(struct vr_player *p, const struct vr_stream_start *start,
                         const struct vr_geometry *geom, const struct vr_region *region)
{
    if (!p || !start || !geom)
        return -EINVAL;
    lock(p);
    if (p->have_stream)
        vr_guest_stop(p->guest, VR_REASON_USER); /* new caps: a new stream */
    p->have_stream = false;
    int r = vr_guest_set_stream(p->guest, start, geom, region);
    if (r == 0) {
        p->have_stream = true;
        p->renotify = true;
    }
    unlock(p);
    wake_io(p);
    return r;
}

int vr_player_set_geometry(struct vr_player *p, const struct vr_geometry *geom)
{
    if (!p || !geom)
        return -EINVAL;
    lock(p);
    int r = vr_guest_set_geometry(p->guest, geom);
    unlock(p);
    wake_io(p);
    return r;
}

int vr_player_set_region(struct vr_player *p, const struct vr_region *region)
{
    if (!p)
        return -EINVAL;
    lock(p);
    int r = vr_guest_set_region(p->guest, region);
    unlock(p);
    wake_io(p);
    return r;
}

int vr_player_push(struct vr_player *p, const struct vr_au *au, uint32_t extra_flags)
{
    if (!p || !au)
        return -EINVAL;
    lock(p);
    if (!p->have_stream) {
        unlock(p);
        return -EINVAL;
    }
    p->frames_in++;
    int r = vr_guest_push_frame(p->guest, au, extra_flags);
    bool wake = false;
    if (p->fd >= 0 && !vr_guest_output_empty(p->guest)) {
        /* Straight out when the port takes it; the I/O thread waits for
         * POLLOUT otherwise, and handles errors (it owns the port). */
        int fr = vr_fd_flush(vr_guest_conn(p->guest), p->fd);
        wake = fr < 0;
    }
    unlock(p);
    if (wake)
        wake_io(p);
    return r;
}

int vr_player_flush(struct vr_player *p)
{
    if (!p)
        return -EINVAL;
    lock(p);
    int r = p->have_stream ? vr_guest_flush(p->guest) : 0;
    unlock(p);
    wake_io(p);
    return r;
}

int vr_player_set_clock(struct vr_player *p, int64_t pts, uint64_t time_us, uint32_t rate_q16)
{
    if (!p)
        return -EINVAL;
    lock(p);
    int r = p->have_stream ? vr_guest_set_clock(p->guest, pts, time_us, rate_q16) : -ENOENT;
    unlock(p);
    wake_io(p);
    return r;
}

int vr_player_stop(struct vr_player *p, uint32_t reason)
{
    if (!p)
        return -EINVAL;
    lock(p);
    int r = -ENOENT;
    if (p->have_stream) {
        r = vr_guest_stop(p->guest, reason);
        p->have_stream = false;
        if (p->fd >= 0)
            vr_fd_flush(vr_guest_conn(p->guest), p->fd);
    }
    unlock(p);
    wake_io(p);
    return r;
}

int vr_player_finish(struct vr_player *p, uint32_t reason)
{
    if (!p)
        return -EINVAL;
    uint64_t until = vr_time_us() + p->drain_us;
    bool stopped = false, was_streaming = false;
    uint64_t feedbacks_at_stop = 0;
    lock(p);
    if (!p->have_stream) {
        unlock(p);
        return -ENOENT;
    }
    for (;;) {
        struct vr_guest_stats st;
        vr_guest_get_stats(p->guest, &st);
        bool streaming = vr_guest_get_state(p->guest) == VR_GUEST_STREAMING;
        bool late = vr_time_us() >= until;
        if (!stopped && (!streaming || (st.backlog == 0 && vr_guest_output_empty(p->guest)) || late)) {
            if (p->have_stream)
                vr_guest_stop(p->guest, reason);
            p->have_stream = false;
            if (p->fd >= 0)
                vr_fd_flush(vr_guest_conn(p->guest), p->fd);
            stopped = true;
            was_streaming = streaming && p->fd >= 0;
            feedbacks_at_stop = st.feedbacks;
        }
        /* The client reports after the stream ended; its queue is then
         * empty: everything sent was shown. */
        bool shown = st.feedbacks > feedbacks_at_stop && st.last_feedback.queue_depth == 0 &&
                     vr_guest_drained(p->guest);
        if (stopped && (!was_streaming || p->fd < 0 || shown || late))
            break;
        unlock(p);
        wake_io(p);
        sleep_ms(5);
        lock(p);
    }
    unlock(p);
    wake_io(p);
    return 0;
}

enum vr_player_show vr_player_get_show(const struct vr_player *p)
{
    if (!p)
        return VR_PLAYER_SHOW_NONE;
    struct vr_player *m = (struct vr_player *)p;
    lock(m);
    enum vr_player_show s = m->show;
    unlock(m);
    return s;
}

void vr_player_get_stats(const struct vr_player *p, struct vr_player_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof(*st));
    if (!p)
        return;
    struct vr_player *m = (struct vr_player *)p;
    lock(m);
    vr_guest_get_stats(m->guest, &st->guest);
    st->state = vr_guest_get_state(m->guest);
    st->show = m->show;
    st->frames_in = m->frames_in;
    st->switches_local = m->switches_local;
    st->switches_client = m->switches_client;
    st->port_open = m->fd >= 0;
    st->via_daemon = m->fd >= 0 && m->via_daemon;
    unlock(m);
}
