/*
 * bench-spice-tap: a TCP relay between a SPICE client and a SPICE server
 * that counts what each channel carries, so a benchmark can compare the
 * bytes SPICE's own video streaming puts on the wire with videoredir's port
 * channel, on the real protocol, without touching either side.
 *
 * For every connection it reads the channel type from the client's link
 * message and follows the server's messages (link reply, link result, then
 * mini headers: u16 type, u32 size) to timestamp display stream creation
 * and count stream data, and looks into the port channel's data for the
 * first videoredir STREAM_START and FRAME. Prints a summary on SIGINT/SIGTERM, and with
 * --series FILE the bytes per channel in 100 ms buckets.
 *
 *   bench-spice-tap --listen 6001 --connect 5930 [--series FILE]
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <spice/enums.h>

#define MAX_CONNS 32
#define N_TYPES 16 /* SPICE channel types fit below this */
#define BUCKET_US 100000ull
#define MAX_BUCKETS 36000 /* an hour of 100 ms buckets */

enum phase { LINK_HEADER, LINK_BODY, LINK_RESULT, MSG_HEADER, MSG_BODY, LOST };

struct conn {
    int client, server;
    int type;              /* channel type, -1 until known */
    uint8_t link[32];      /* the client's first bytes */
    size_t link_len;
    enum phase phase;      /* of the server -> client stream */
    uint8_t hdr[16];
    size_t hdr_len, need;  /* bytes gathered / still needed in this phase */
    uint16_t msg_type;
    /* videoredir messages inside the port channel's data */
    uint8_t vr_hdr[16];
    size_t vr_hdr_len;
    uint64_t vr_skip;
};

struct channel_stats {
    uint64_t s2c, c2s, msgs, stream_creates, stream_data, stream_bytes, draws;
    uint64_t first_stream_us, first_s2c_us;
    uint64_t first_vr_start_us, first_vr_frame_us; /* port: videoredir STREAM_START, FRAME */
};

static struct conn conns[MAX_CONNS];
static struct channel_stats stats[N_TYPES];
static uint64_t (*series)[N_TYPES];
static size_t max_bucket;
static uint64_t t0_us;
static volatile sig_atomic_t stop;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *channel_name(int t)
{
    switch (t) {
    case SPICE_CHANNEL_MAIN: return "main";
    case SPICE_CHANNEL_DISPLAY: return "display";
    case SPICE_CHANNEL_INPUTS: return "inputs";
    case SPICE_CHANNEL_CURSOR: return "cursor";
    case SPICE_CHANNEL_PLAYBACK: return "playback";
    case SPICE_CHANNEL_RECORD: return "record";
    case SPICE_CHANNEL_USBREDIR: return "usbredir";
    case SPICE_CHANNEL_PORT: return "port";
    case SPICE_CHANNEL_WEBDAV: return "webdav";
    default: return "other";
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void on_message(struct conn *c, uint64_t t)
{
    if (c->type < 0 || c->type >= N_TYPES)
        return;
    struct channel_stats *st = &stats[c->type];
    st->msgs++;
    if (c->type != SPICE_CHANNEL_DISPLAY)
        return;
    switch (c->msg_type) {
    case SPICE_MSG_DISPLAY_STREAM_CREATE:
        if (!st->stream_creates++)
            st->first_stream_us = t;
        break;
    case SPICE_MSG_DISPLAY_STREAM_DATA:
    case SPICE_MSG_DISPLAY_STREAM_DATA_SIZED:
        st->stream_data++;
        st->stream_bytes += c->need;
        break;
    case SPICE_MSG_DISPLAY_DRAW_COPY:
        st->draws++;
        break;
    default:
        break;
    }
}

/* Follows the videoredir byte stream inside a port channel's data messages
 * (16-byte header: "VRDR", u16 version, u16 type, u32 stream, u32 length). */
static void scan_videoredir(struct conn *c, const uint8_t *p, size_t n, uint64_t t)
{
    struct channel_stats *st = &stats[SPICE_CHANNEL_PORT];
    while (n) {
        if (c->vr_skip) {
            size_t k = n < c->vr_skip ? n : (size_t)c->vr_skip;
            c->vr_skip -= k;
            p += k;
            n -= k;
            continue;
        }
        size_t k = 16 - c->vr_hdr_len < n ? 16 - c->vr_hdr_len : n;
        memcpy(c->vr_hdr + c->vr_hdr_len, p, k);
        c->vr_hdr_len += k;
        p += k;
        n -= k;
        if (c->vr_hdr_len < 16)
            continue;
        c->vr_hdr_len = 0;
        if (memcmp(c->vr_hdr, "VRDR", 4) != 0) {
            c->vr_skip = UINT64_MAX; /* not videoredir: stop looking */
            continue;
        }
        uint16_t type = (uint16_t)(c->vr_hdr[6] | c->vr_hdr[7] << 8);
        if (type == 0x0010 && !st->first_vr_start_us)
            st->first_vr_start_us = t;
        if (type == 0x0011 && !st->first_vr_frame_us)
            st->first_vr_frame_us = t;
        c->vr_skip = le32(c->vr_hdr + 12);
    }
}

/* Follows the server -> client byte stream of c. */
static void parse_s2c(struct conn *c, const uint8_t *p, size_t n, uint64_t t)
{
    while (n && c->phase != LOST) {
        if (c->phase == LINK_BODY || c->phase == MSG_BODY) {
            size_t k = n < c->need ? n : c->need;
            if (c->phase == MSG_BODY && c->type == SPICE_CHANNEL_PORT &&
                c->msg_type == SPICE_MSG_SPICEVMC_DATA)
                scan_videoredir(c, p, k, t);
            c->need -= k;
            p += k;
            n -= k;
            if (c->need == 0) {
                c->phase = c->phase == LINK_BODY ? LINK_RESULT : MSG_HEADER;
                c->hdr_len = 0;
            }
            continue;
        }
        size_t want = c->phase == LINK_HEADER ? 16 : c->phase == LINK_RESULT ? 4 : 6;
        size_t k = want - c->hdr_len < n ? want - c->hdr_len : n;
        memcpy(c->hdr + c->hdr_len, p, k);
        c->hdr_len += k;
        p += k;
        n -= k;
        if (c->hdr_len < want)
            continue;
        c->hdr_len = 0;
        if (c->phase == LINK_HEADER) {
            c->need = le32(c->hdr + 12);
            c->phase = c->need <= 4096 && memcmp(c->hdr, "REDQ", 4) == 0 ? LINK_BODY : LOST;
        } else if (c->phase == LINK_RESULT) {
            c->phase = MSG_HEADER;
        } else {
            c->msg_type = (uint16_t)(c->hdr[0] | c->hdr[1] << 8);
            c->need = le32(c->hdr + 2);
            if (c->need > (256u << 20)) {
                c->phase = LOST; /* not mini headers: count bytes only */
                continue;
            }
            /* Counted at its header: the message is on its way. */
            c->phase = MSG_BODY;
            on_message(c, t);
            if (c->need == 0)
                c->phase = MSG_HEADER;
        }
    }
}

static void count(struct conn *c, bool s2c, size_t n, uint64_t t)
{
    int type = c->type >= 0 && c->type < N_TYPES ? c->type : 0;
    struct channel_stats *st = &stats[type];
    if (s2c) {
        st->s2c += n;
        if (!st->first_s2c_us)
            st->first_s2c_us = t;
    } else {
        st->c2s += n;
    }
    size_t b = (size_t)((t - t0_us) / BUCKET_US);
    if (series && b < MAX_BUCKETS) {
        series[b][type] += n;
        if (b + 1 > max_bucket)
            max_bucket = b + 1;
    }
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void drop(struct conn *c)
{
    close(c->client);
    close(c->server);
    c->client = c->server = -1;
}

/* Moves what is readable on from to to (blocking write: loopback, and the
 * relay must not reorder or drop). Returns false when the pair is done. */
static bool relay(struct conn *c, bool s2c)
{
    static uint8_t buf[1 << 16];
    int from = s2c ? c->server : c->client, to = s2c ? c->client : c->server;
    ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0)
        return n < 0 && (errno == EINTR || errno == EAGAIN);
    uint64_t t = now_us();
    if (!s2c && c->type < 0) {
        size_t k = (size_t)n < sizeof(c->link) - c->link_len ? (size_t)n : sizeof(c->link) - c->link_len;
        memcpy(c->link + c->link_len, buf, k);
        c->link_len += k;
        if (c->link_len >= 21)
            c->type = c->link[20]; /* SpiceLinkHeader (16) + connection_id (4) */
    }
    count(c, s2c, (size_t)n, t);
    if (s2c)
        parse_s2c(c, buf, (size_t)n, t);
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        off += w;
    }
    return true;
}

static void on_signal(int sig)
{
    stop = 1;
}

static void report(const char *series_path)
{
    double secs = (double)(now_us() - t0_us) / 1e6;
    for (int t = 0; t < N_TYPES; t++) {
        const struct channel_stats *st = &stats[t];
        if (!st->s2c && !st->c2s)
            continue;
        printf("channel=%s s2c_bytes=%" PRIu64 " c2s_bytes=%" PRIu64 " msgs=%" PRIu64
               " stream_creates=%" PRIu64 " stream_data=%" PRIu64 " stream_bytes=%" PRIu64
               " draw_copies=%" PRIu64 " first_s2c_us=%" PRIu64 " first_stream_us=%" PRIu64
               " first_vr_start_us=%" PRIu64 " first_vr_frame_us=%" PRIu64 "\n",
               channel_name(t), st->s2c, st->c2s, st->msgs, st->stream_creates, st->stream_data,
               st->stream_bytes, st->draws, st->first_s2c_us, st->first_stream_us,
               st->first_vr_start_us, st->first_vr_frame_us);
    }
    printf("elapsed_s=%.3f\n", secs);
    if (series_path && series) {
        FILE *f = fopen(series_path, "w");
        if (!f) {
            fprintf(stderr, "bench-spice-tap: cannot write %s: %s\n", series_path, strerror(errno));
            return;
        }
        fprintf(f, "# t_s display_bytes port_bytes other_bytes (server->client and back, per %llu ms)\n",
                BUCKET_US / 1000);
        for (size_t b = 0; b < max_bucket; b++) {
            uint64_t other = 0;
            for (int t = 0; t < N_TYPES; t++)
                if (t != SPICE_CHANNEL_DISPLAY && t != SPICE_CHANNEL_PORT)
                    other += series[b][t];
            fprintf(f, "%.1f %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", (double)b * BUCKET_US / 1e6,
                    series[b][SPICE_CHANNEL_DISPLAY], series[b][SPICE_CHANNEL_PORT], other);
        }
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    int listen_port = 0, connect_port = 0;
    const char *series_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen_port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--connect") == 0 && i + 1 < argc)
            connect_port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--series") == 0 && i + 1 < argc)
            series_path = argv[++i];
        else {
            fprintf(stderr, "usage: bench-spice-tap --listen PORT --connect PORT [--series FILE]\n"
                            "Relays SPICE on 127.0.0.1 and counts bytes per channel; prints a\n"
                            "summary on SIGINT/SIGTERM.\n");
            return 2;
        }
    }
    if (listen_port <= 0 || listen_port > 65535 || connect_port <= 0 || connect_port > 65535) {
        fprintf(stderr, "bench-spice-tap: --listen and --connect need ports\n");
        return 2;
    }
    if (series_path && !(series = calloc(MAX_BUCKETS, sizeof(*series)))) {
        fprintf(stderr, "bench-spice-tap: out of memory\n");
        return 1;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0) {
        fprintf(stderr, "bench-spice-tap: cannot listen on %d: %s\n", listen_port, strerror(errno));
        return 1;
    }
    for (int i = 0; i < MAX_CONNS; i++)
        conns[i].client = conns[i].server = -1;
    t0_us = now_us();
    printf("bench-spice-tap: ready listen=%d connect=%d\n", listen_port, connect_port);
    fflush(stdout);

    while (!stop) {
        struct pollfd pfd[1 + 2 * MAX_CONNS];
        int idx[1 + 2 * MAX_CONNS], n = 0;
        pfd[n] = (struct pollfd){ .fd = lfd, .events = POLLIN };
        idx[n++] = -1;
        for (int i = 0; i < MAX_CONNS; i++) {
            if (conns[i].client < 0)
                continue;
            pfd[n] = (struct pollfd){ .fd = conns[i].client, .events = POLLIN };
            idx[n++] = 2 * i;
            pfd[n] = (struct pollfd){ .fd = conns[i].server, .events = POLLIN };
            idx[n++] = 2 * i + 1;
        }
        if (poll(pfd, (nfds_t)n, -1) < 0)
            continue; /* EINTR: a signal, checked above */
        if (pfd[0].revents & POLLIN) {
            int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            int slot = -1;
            for (int i = 0; i < MAX_CONNS && slot < 0; i++)
                if (conns[i].client < 0)
                    slot = i;
            int sfd = cfd >= 0 && slot >= 0 ? tcp_connect(connect_port) : -1;
            if (sfd < 0) {
                if (cfd >= 0)
                    close(cfd);
            } else {
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                conns[slot] = (struct conn){ .client = cfd, .server = sfd, .type = -1 };
            }
        }
        for (int k = 1; k < n; k++) {
            struct conn *c = &conns[idx[k] / 2];
            if (c->client < 0 || !(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (!relay(c, idx[k] % 2 == 1))
                drop(c);
        }
    }
    report(series_path);
    free(series);
    return 0;
}
