/*
 * videoredir-guestd: the guest daemon. Owns the videoredir port and
 * multiplexes over it the streams of every player of the desktop session
 * (vr_guestd, videoredir/guestd.h). Players connect to a unix socket; who
 * connects is checked with SO_PEERCRED (its uid must be the daemon's, root's
 * or one given with --allow-uid), as spice-vdagentd checks its sessions.
 * This file is the I/O around the core: the socket, the port (reopened
 * every 500 ms while it cannot be opened or the host closed it), poll and
 * the stop signals.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <videoredir/guestd.h>
#include <videoredir/transport.h>

#ifndef VR_VERSION_STRING
#define VR_VERSION_STRING "0.1"
#endif

#define REOPEN_US 500000u
#define READ_CHUNK (64u * 1024u)
#define MAX_ALLOW 16

struct conn {
    int fd;
    uint32_t id;
};

struct app {
    const char *device, *socket_path;
    char sockbuf[PATH_MAX];
    uid_t allow[MAX_ALLOW];
    int n_allow;
    bool verbose;
    struct vr_guestd_config cfg;
    struct vr_guestd *d;
    int port_fd, listen_fd;
    uint64_t next_open_us;
    bool open_logged;
    struct conn *conns; /* cfg.max_players + 1 slots (one to refuse with) */
    uint32_t n_slots;
    uint8_t buf[READ_CHUNK];
};

static volatile sig_atomic_t stop_sig;
static int stop_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
    stop_sig = sig;
    char c = 1;
    ssize_t r = write(stop_pipe[1], &c, 1);
    (void)r;
}

static void logline(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logline(const char *level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "videoredir-guestd: %s: %s\n", level, msg);
}

static void core_log(void *user, enum vr_guestd_log_level lvl, const char *msg)
{
    struct app *a = user;
    static const char *names[] = { "error", "warning", "info", "debug" };
    if (lvl >= VR_GUESTD_LOG_DEBUG && !a->verbose)
        return;
    logline(names[lvl], "%s", msg);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: videoredir-guestd [OPTION...]\n"
            "The videoredir guest daemon: owns the videoredir port and carries the video\n"
            "streams of every player of the session over it. Players (videoredirsink,\n"
            "videoredirdec, the VLC module) try its socket first and open the port\n"
            "themselves when no daemon runs; videoredir-capture --device SOCKET uses it too.\n"
            "\n"
            "  -d, --device PATH        the port (default " VR_DEFAULT_DEVICE ",\n"
            "                           or the host stand-in's --guest-socket)\n"
            "  -S, --socket PATH        where players connect (default $" VR_GUESTD_SOCKET_ENV ",\n"
            "                           else $XDG_RUNTIME_DIR/" VR_GUESTD_SOCKET_NAME ",\n"
            "                           else " VR_GUESTD_SYSTEM_SOCKET ")\n"
            "      --allow-uid UID      also accept players of this user (repeatable; the\n"
            "                           socket is then mode 0666, else 0600)\n"
            "      --max-players N      connections at once (default %u, at most %u)\n"
            "      --max-players-per-user N  (default %u)\n"
            "      --max-streams N      streams at once in total (default %u; the client's\n"
            "                           hello may allow fewer)\n"
            "      --max-streams-per-player N  (default %u)\n"
            "      --max-streams-per-user N    (default %u)\n"
            "  -v, --verbose            log every stream and player\n"
            "  -h, --help               this text\n"
            "      --version            the version\n"
            "\n"
            "Accepted are players of the daemon's own user, root, and --allow-uid users\n"
            "(SO_PEERCRED); others are closed at once. SIGINT/SIGTERM: the players' streams\n"
            "are stopped on the client, the socket is removed, exit 0.\n"
            "Exit status: 0 after a stop signal, 1 bad options or the socket cannot be made\n"
            "(another daemon listens there).\n",
            VR_GUESTD_DEFAULT_MAX_PLAYERS, VR_GUESTD_MAX_PLAYERS, VR_GUESTD_DEFAULT_MAX_PLAYERS_PER_USER,
            VR_MAX_STREAMS, VR_GUESTD_DEFAULT_STREAMS_PER_PLAYER, VR_GUESTD_DEFAULT_STREAMS_PER_USER);
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

/* ---------------------------------------------------------------------- */

static int make_socket(struct app *a)
{
    const char *path = a->socket_path;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        logline("error", "socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);

    /* The folder of the default path may not exist yet. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (mkdir(dir, a->n_allow ? 0755 : 0700) < 0 && errno != EEXIST) {
            logline("error", "cannot create %s: %s", dir, strerror(errno));
            return -1;
        }
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        logline("error", "socket: %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == EADDRINUSE) {
        /* A daemon listening, or a socket left by one that died. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (probe >= 0)
            close(probe);
        if (live) {
            logline("error", "another videoredir-guestd listens on %s", path);
            close(fd);
            return -1;
        }
        unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            errno = 0;
    } else {
        errno = 0;
    }
    if (errno) {
        logline("error", "cannot bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (chmod(path, a->n_allow ? 0666 : 0600) < 0 || listen(fd, 16) < 0) {
        logline("error", "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}

static bool uid_allowed(const struct app *a, uid_t uid)
{
    if (uid == 0 || uid == geteuid())
        return true;
    for (int i = 0; i < a->n_allow; i++)
        if (a->allow[i] == uid)
            return true;
    return false;
}

static void drop_conn(struct app *a, struct conn *c)
{
    vr_guestd_player_remove(a->d, c->id);
    close(c->fd);
    c->fd = -1;
    c->id = 0;
}

static void accept_players(struct app *a)
{
    for (;;) {
        int fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct ucred cr;
        socklen_t len = sizeof(cr);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || len != sizeof(cr)) {
            logline("warning", "cannot tell who connected (%s): closed", strerror(errno));
            close(fd);
            continue;
        }
        if (!uid_allowed(a, cr.uid)) {
            logline("warning", "refused a player of uid %u (pid %d): not this session's user", (unsigned)cr.uid,
                    (int)cr.pid);
            close(fd);
            continue;
        }
        struct conn *slot = NULL;
        for (uint32_t i = 0; i < a->n_slots && !slot; i++)
            if (a->conns[i].fd < 0)
                slot = &a->conns[i];
        uint32_t id = 0;
        int ret = slot ? vr_guestd_player_add(a->d, (uint32_t)cr.uid, &id) : -EMFILE;
        if (ret < 0) {
            logline("warning", "refused a player of uid %u (pid %d): %s", (unsigned)cr.uid, (int)cr.pid,
                    ret == -EUSERS ? "too many players of this user" : "too many players");
            close(fd);
            continue;
        }
        slot->fd = fd;
        slot->id = id;
        if (a->verbose)
            logline("info", "player %" PRIu32 ": pid %d, uid %u", id, (int)cr.pid, (unsigned)cr.uid);
    }
}

static void port_close(struct app *a, const char *why)
{
    if (a->port_fd < 0)
        return;
    logline("info", "port %s closed: %s", a->device, why);
    close(a->port_fd);
    a->port_fd = -1;
    vr_guestd_port_closed(a->d);
    a->next_open_us = vr_time_us() + REOPEN_US;
}

static void port_try_open(struct app *a)
{
    int fd = vr_fd_open(a->device);
    if (fd < 0) {
        if (!a->open_logged)
            logline("warning", "cannot open %s: %s; retrying every %u ms", a->device, strerror(-fd),
                    REOPEN_US / 1000);
        a->open_logged = true;
        a->next_open_us = vr_time_us() + REOPEN_US;
        return;
    }
    a->open_logged = false;
    a->port_fd = fd;
    logline("info", "port %s open", a->device);
    vr_guestd_port_open(a->d);
}

/* Writes what is queued for the port. */
static void port_flush(struct app *a)
{
    while (a->port_fd >= 0) {
        const uint8_t *p;
        size_t n = vr_guestd_port_out_peek(a->d, &p);
        if (!n)
            return;
        ssize_t w = write(a->port_fd, p, n);
        if (w > 0) {
            vr_guestd_port_out_consume(a->d, (size_t)w);
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        port_close(a, w < 0 ? strerror(errno) : "write returned 0");
    }
}

static void player_flush(struct app *a, struct conn *c)
{
    for (;;) {
        const uint8_t *p;
        size_t n = vr_guestd_player_out_peek(a->d, c->id, &p);
        if (!n)
            return;
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            vr_guestd_player_out_consume(a->d, c->id, (size_t)w);
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        drop_conn(a, c);
        return;
    }
}

static int run(struct app *a)
{
    uint32_t n_fds = a->n_slots + 3;
    struct pollfd *pfd = calloc(n_fds, sizeof(*pfd));
    struct conn **who = calloc(n_fds, sizeof(*who));
    if (!pfd || !who) {
        free(pfd);
        free(who);
        return 1;
    }
    while (!stop_sig) {
        uint64_t now = vr_time_us();
        if (a->port_fd < 0 && now >= a->next_open_us)
            port_try_open(a);
        vr_guestd_tick(a->d);
        /* Players the core wants closed (no client, misbehaving). */
        for (uint32_t i = 0; i < a->n_slots; i++)
            if (a->conns[i].fd >= 0 && vr_guestd_player_doomed(a->d, a->conns[i].id)) {
                player_flush(a, &a->conns[i]);
                if (a->conns[i].fd >= 0)
                    drop_conn(a, &a->conns[i]);
            }
        port_flush(a);

        uint32_t n = 0;
        pfd[n] = (struct pollfd){ .fd = stop_pipe[0], .events = POLLIN };
        who[n++] = NULL;
        pfd[n] = (struct pollfd){ .fd = a->listen_fd, .events = POLLIN };
        who[n++] = NULL;
        int port_ix = -1;
        if (a->port_fd >= 0) {
            port_ix = (int)n;
            pfd[n] = (struct pollfd){ .fd = a->port_fd,
                                      .events = POLLIN | (vr_guestd_port_out_queued(a->d) ? POLLOUT : 0) };
            who[n++] = NULL;
        }
        bool readable = vr_guestd_players_readable(a->d);
        for (uint32_t i = 0; i < a->n_slots; i++) {
            struct conn *c = &a->conns[i];
            if (c->fd < 0)
                continue;
            const uint8_t *p;
            short ev = (readable ? POLLIN : 0) | (vr_guestd_player_out_peek(a->d, c->id, &p) ? POLLOUT : 0);
            pfd[n] = (struct pollfd){ .fd = c->fd, .events = ev };
            who[n++] = c;
        }
        uint64_t t = vr_guestd_next_timeout(a->d);
        if (a->port_fd < 0) {
            uint64_t now2 = vr_time_us();
            uint64_t o = a->next_open_us > now2 ? a->next_open_us - now2 : 0;
            if (o < t)
                t = o;
        }
        int timeout = t == UINT64_MAX ? -1 : (int)((t + 999) / 1000);
        if (poll(pfd, n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            logline("error", "poll: %s", strerror(errno));
            break;
        }
        if (pfd[1].revents & POLLIN)
            accept_players(a);
        if (port_ix >= 0 && a->port_fd >= 0) {
            short re = pfd[port_ix].revents;
            if (re & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t r = read(a->port_fd, a->buf, sizeof(a->buf));
                if (r > 0)
                    vr_guestd_port_feed(a->d, a->buf, (size_t)r);
                else if (r == 0 || (errno != EAGAIN && errno != EINTR))
                    port_close(a, r == 0 ? "end of file (host side closed)" : strerror(errno));
            }
        }
        for (uint32_t i = 0; i < n; i++) {
            struct conn *c = who[i];
            if (!c || c->fd < 0 || pfd[i].fd != c->fd)
                continue;
            short re = pfd[i].revents;
            if (re & POLLOUT)
                player_flush(a, c);
            if (c->fd < 0 || !(re & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (!(re & POLLIN) && !readable) {
                drop_conn(a, c); /* hung up while not read */
                continue;
            }
            ssize_t r = recv(c->fd, a->buf, sizeof(a->buf), 0);
            if (r > 0) {
                int ret = vr_guestd_player_feed(a->d, c->id, a->buf, (size_t)r);
                if (ret < 0)
                    drop_conn(a, c);
                else
                    player_flush(a, c);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                drop_conn(a, c);
            }
        }
        port_flush(a);
    }
    free(pfd);
    free(who);
    return 0;
}

int main(int argc, char **argv)
{
    static struct app a;
    a.port_fd = -1;
    a.listen_fd = -1;
    enum { O_ALLOW = 256, O_MAXP, O_MAXPU, O_MAXS, O_MAXSP, O_MAXSU, O_VERSION };
    static const struct option opts[] = {
        { "device", required_argument, NULL, 'd' },
        { "socket", required_argument, NULL, 'S' },
        { "allow-uid", required_argument, NULL, O_ALLOW },
        { "max-players", required_argument, NULL, O_MAXP },
        { "max-players-per-user", required_argument, NULL, O_MAXPU },
        { "max-streams", required_argument, NULL, O_MAXS },
        { "max-streams-per-player", required_argument, NULL, O_MAXSP },
        { "max-streams-per-user", required_argument, NULL, O_MAXSU },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, O_VERSION },
        { NULL, 0, NULL, 0 },
    };
    int c, li = -1;
    while ((c = getopt_long(argc, argv, "d:S:vh", opts, &li)) != -1) {
        uint32_t v = 0;
        int bad = 0;
        switch (c) {
        case 'd': a.device = optarg; break;
        case 'S': a.socket_path = optarg; break;
        case 'v': a.verbose = true; break;
        case 'h': usage(stdout); return 0;
        case O_VERSION: printf("videoredir-guestd %s\n", VR_VERSION_STRING); return 0;
        case O_ALLOW:
            bad = parse_u32(optarg, 0, UINT32_MAX - 1, &v) < 0 || a.n_allow >= MAX_ALLOW;
            if (!bad)
                a.allow[a.n_allow++] = (uid_t)v;
            break;
        case O_MAXP:
            bad = parse_u32(optarg, 1, VR_GUESTD_MAX_PLAYERS, &a.cfg.max_players);
            break;
        case O_MAXPU: bad = parse_u32(optarg, 1, VR_GUESTD_MAX_PLAYERS, &a.cfg.max_players_per_user); break;
        case O_MAXS: bad = parse_u32(optarg, 1, VR_MAX_STREAMS, &a.cfg.max_streams); break;
        case O_MAXSP: bad = parse_u32(optarg, 1, VR_MAX_STREAMS, &a.cfg.max_streams_per_player); break;
        case O_MAXSU: bad = parse_u32(optarg, 1, VR_MAX_STREAMS, &a.cfg.max_streams_per_user); break;
        default: usage(stderr); return 1;
        }
        if (bad) {
            fprintf(stderr, "videoredir-guestd: bad value '%s' for --%s (see --help)\n", optarg,
                    li >= 0 ? opts[li].name : "?");
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "videoredir-guestd: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 1;
    }
    if (!a.device)
        a.device = VR_DEFAULT_DEVICE;
    if (!a.socket_path) {
        a.socket_path = vr_guestd_socket_path(a.sockbuf, sizeof(a.sockbuf));
        if (!a.socket_path) {
            fprintf(stderr, "videoredir-guestd: no socket path ($%s is empty or 'none'): give --socket\n",
                    VR_GUESTD_SOCKET_ENV);
            return 1;
        }
    }
    if (!a.cfg.max_players)
        a.cfg.max_players = VR_GUESTD_DEFAULT_MAX_PLAYERS;

    struct vr_guestd_callbacks cb = { .log = core_log };
    int ret = vr_guestd_create(&a.cfg, &cb, &a, &a.d);
    if (ret < 0) {
        fprintf(stderr, "videoredir-guestd: %s\n", strerror(-ret));
        return 1;
    }
    a.n_slots = a.cfg.max_players;
    a.conns = calloc(a.n_slots, sizeof(*a.conns));
    if (!a.conns || pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        fprintf(stderr, "videoredir-guestd: out of memory\n");
        return 1;
    }
    for (uint32_t i = 0; i < a.n_slots; i++)
        a.conns[i].fd = -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    a.listen_fd = make_socket(&a);
    if (a.listen_fd < 0)
        return 1;
    logline("info", "listening on %s for players (port %s)", a.socket_path, a.device);
    run(&a);

    /* Stop: players' streams end on the client, what is queued goes out. */
    for (uint32_t i = 0; i < a.n_slots; i++)
        if (a.conns[i].fd >= 0)
            drop_conn(&a, &a.conns[i]);
    if (a.port_fd >= 0) {
        int fl = fcntl(a.port_fd, F_GETFL);
        if (fl >= 0)
            fcntl(a.port_fd, F_SETFL, fl & ~O_NONBLOCK);
        port_flush(&a);
        close(a.port_fd);
    }
    struct vr_guestd_stats st;
    vr_guestd_get_stats(a.d, &st);
    logline("info",
            "stopped: %" PRIu64 " sessions, %" PRIu64 " players (%" PRIu64 " refused, %" PRIu64
            " closed for misbehaving), %" PRIu64 " streams (%" PRIu64 " refused), %" PRIu64
            " messages up, %" PRIu64 " down, %" PRIu64 " dropped",
            st.sessions, st.players_total, st.players_refused, st.players_closed_bad, st.streams_total,
            st.streams_refused, st.msgs_up, st.msgs_down, st.msgs_dropped);
    close(a.listen_fd);
    unlink(a.socket_path);
    vr_guestd_destroy(a.d);
    free(a.conns);
    return 0;
}
