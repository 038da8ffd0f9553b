/*
 * A hostile "guest" for the security tests: connects to the host stand-in's
 * guest socket (what /dev/virtio-ports/NAME is in a VM), brings a session up
 * like a real guest, then writes crafted bytes and checks the client's
 * answers.
 *
 * Usage: hostile_guest SOCKET SCENARIO
 *   garbage  bad headers, wrong version, length past the cap, unknown types,
 *            malformed messages, a flood of tiny messages, unknown-codec and
 *            too-large starts; expects REJECT(protocol), REJECT(too-large)
 *            and an answered PING at the end
 *   partial  announces a stream, writes half of a large frame and closes the
 *            socket in the middle of it (the port closes mid-message)
 * Prints one line per step; exit 0 when every expectation held.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <videoredir/transport.h>

static struct vr_conn *conn;
static int fd = -1;
static struct vr_msg *in; /* last message of interest */
static int n_in[0x30];
static uint32_t reject_reason[0x30];
static uint32_t pong_id;
static bool client_hello;

static void on_message(void *user, const struct vr_msg *m)
{
    if (m->type < 0x30)
        n_in[m->type]++;
    if (m->type == VR_MSG_HELLO) {
        client_hello = true;
        if (!(m->u.hello.flags & VR_HELLO_REPLY)) {
            /* Our own hello may have been discarded (no client yet): answer. */
            struct vr_msg *r = calloc(1, sizeof(*r));
            if (r) {
                r->type = VR_MSG_HELLO;
                r->u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1,
                                                .role = VR_ROLE_GUEST, .flags = VR_HELLO_REPLY,
                                                .max_streams = 8 };
                strcpy(r->u.hello.software, "hostile-guest");
                vr_conn_send(conn, r);
                free(r);
            }
        }
    }
    if (m->type == VR_MSG_PONG)
        pong_id = m->u.pong.id;
    if (m->type == VR_MSG_REJECT && m->stream_id < 0x30)
        reject_reason[m->stream_id] = m->u.reject.reason;
    if (m->type == VR_MSG_PING) {
        struct vr_msg pong = { .type = VR_MSG_PONG };
        pong.u.pong = (struct vr_pong){ .id = m->u.ping.id, .ping_time_us = m->u.ping.time_us,
                                        .time_us = vr_time_us() };
        vr_conn_send(conn, &pong);
    }
    memcpy(in, m, sizeof(*m));
}

/* Raw bytes, written whole (blocking on POLLOUT), reading meanwhile so the
 * client's answers never back up. */
static int write_all(const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLOUT };
        if (poll(&pfd, 1, 1000) > 0 && (pfd.revents & POLLIN))
            vr_fd_read(conn, fd);
    }
    return 0;
}

/* Runs the conn (reads, flushes queued output) until *flag or timeout_ms. */
static bool run_until(const bool *flag, int timeout_ms)
{
    uint64_t end = vr_time_us() + (uint64_t)timeout_ms * 1000;
    while (!*flag && vr_time_us() < end) {
        if (vr_fd_flush(conn, fd) == -EPIPE)
            return false;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 50) > 0) {
            int r;
            while ((r = vr_fd_read(conn, fd)) == 0)
                ;
            if (r == -EPIPE)
                return false;
        }
    }
    vr_fd_flush(conn, fd);
    return *flag;
}

static void send_msg(struct vr_msg *m)
{
    vr_conn_send(conn, m);
    vr_fd_flush(conn, fd);
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void header(uint8_t *p, uint32_t magic, uint16_t version, uint16_t type, uint32_t id,
                   uint32_t length)
{
    put32(p, magic);
    put16(p + 4, version);
    put16(p + 6, type);
    put32(p + 8, id);
    put32(p + 12, length);
}

static bool session_up(void)
{
    struct vr_msg m = { .type = VR_MSG_HELLO };
    m.u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1, .role = VR_ROLE_GUEST,
                                   .features = VR_FEATURE_REGION | VR_FEATURE_FEEDBACK |
                                               VR_FEATURE_KEYFRAME_REQ,
                                   .max_streams = 8 };
    strcpy(m.u.hello.software, "hostile-guest");
    /* Resend every second until the client answers, like a real guest. */
    for (int i = 0; i < 60 && !client_hello; i++) {
        send_msg(&m);
        run_until(&client_hello, 1000);
    }
    return client_hello;
}

static bool ping(uint32_t id, int timeout_ms)
{
    struct vr_msg m = { .type = VR_MSG_PING };
    m.u.ping = (struct vr_ping){ .id = id, .time_us = vr_time_us() };
    send_msg(&m);
    uint64_t end = vr_time_us() + (uint64_t)timeout_ms * 1000;
    bool got = false;
    while (!got && vr_time_us() < end) {
        run_until(&got, 50);
        got = pong_id == id;
    }
    return got;
}

static int fails;
static void expect(bool ok, const char *what)
{
    printf("hostile: %s: %s\n", what, ok ? "ok" : "FAILED");
    fflush(stdout);
    fails += !ok;
}

static void scenario_garbage(void)
{
    static uint8_t buf[1 << 20];
    /* 1. Plain garbage (no magic anywhere). */
    memset(buf, 0x41, 4096);
    write_all(buf, 4096);
    /* 2. Wrong header version, 3. length past the cap. */
    header(buf, VR_PROTO_MAGIC, 7, VR_MSG_PING, 0, 16);
    memset(buf + 16, 0, 16);
    header(buf + 32, VR_PROTO_MAGIC, 1, VR_MSG_FRAME, 1, VR_MAX_PAYLOAD + 1);
    write_all(buf, 48);
    /* 4. Unknown type with a payload, 5. a malformed region (w = 0) for a
     * stream nobody started, 6. a frame for an unknown stream. */
    header(buf, VR_PROTO_MAGIC, 1, 0x0999, 0, 64);
    memset(buf + 16, 0xee, 64);
    header(buf + 80, VR_PROTO_MAGIC, 1, VR_MSG_REGION, 3, 20);
    put32(buf + 96, 1);
    memset(buf + 100, 0, 16);
    write_all(buf, 116);
    struct vr_msg *m = calloc(1, sizeof(*m));
    m->type = VR_MSG_FRAME;
    m->stream_id = 77;
    m->u.frame = (struct vr_frame){ .flags = VR_FRAME_KEY, .dts = INT64_MIN, .data = buf,
                                    .data_len = 1000 };
    send_msg(m);
    expect(ping(1, 10000), "session alive after bad headers and malformed messages");

    /* 7. A start with an unknown codec (raw): REJECT(protocol). */
    header(buf, VR_PROTO_MAGIC, 1, VR_MSG_STREAM_START, 5, 36);
    memset(buf + 16, 0, 36);
    put16(buf + 16, 99);
    put32(buf + 20, 640);
    put32(buf + 24, 360);
    put32(buf + 28, 1);
    put32(buf + 32, 25);
    write_all(buf, 52);
    /* 8. A start over the client's size limit: REJECT(too-large). */
    memset(m, 0, sizeof(*m));
    m->type = VR_MSG_STREAM_START;
    m->stream_id = 6;
    m->u.start = (struct vr_stream_start){ .codec = VR_CODEC_H264, .flags = VR_STREAM_ANNEXB,
                                           .width = 16384, .height = 16384, .timebase_num = 1,
                                           .timebase_den = 25 };
    send_msg(m);
    expect(ping(2, 10000), "pings answered after hostile starts");
    expect(n_in[VR_MSG_REJECT] >= 2 && reject_reason[5] == VR_REASON_PROTOCOL,
           "unknown codec: REJECT(protocol)");
    expect(reject_reason[6] == VR_REASON_TOO_LARGE, "16384x16384: REJECT(too-large)");

    /* 9. A flood of tiny messages: 64 Ki zero-length unknown types (1 MiB). */
    for (size_t i = 0; i < sizeof(buf) / 16; i++)
        header(buf + 16 * i, VR_PROTO_MAGIC, 1, 0x0fff, 0, 0);
    for (int k = 0; k < 4; k++)
        write_all(buf, sizeof(buf));
    expect(ping(3, 20000), "pings answered after a flood of 256 Ki tiny messages");
    free(m);
}

static void scenario_partial(void)
{
    struct vr_msg *m = calloc(1, sizeof(*m));
    m->type = VR_MSG_STREAM_START;
    m->stream_id = 1;
    m->u.start = (struct vr_stream_start){ .codec = VR_CODEC_H264, .flags = VR_STREAM_ANNEXB,
                                           .width = 640, .height = 360, .timebase_num = 1,
                                           .timebase_den = 25 };
    send_msg(m);
    bool accepted = false;
    uint64_t end = vr_time_us() + 10000000;
    while (!accepted && vr_time_us() < end) {
        run_until(&accepted, 50);
        accepted = n_in[VR_MSG_ACCEPT] > 0;
    }
    expect(accepted, "stream accepted");
    /* Half of a 1 MiB frame, then the port goes away mid-message. */
    static uint8_t buf[1 << 19];
    header(buf, VR_PROTO_MAGIC, 1, VR_MSG_FRAME, 1, 44 + (1u << 20));
    memset(buf + 16, 0, 44);
    put32(buf + 20, VR_FRAME_KEY);
    put32(buf + 56, 1u << 20);
    write_all(buf, sizeof(buf));
    printf("hostile: closing the port in the middle of a 1 MiB frame\n");
    free(m);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: hostile_guest SOCKET garbage|partial\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    in = calloc(1, sizeof(*in));
    struct vr_conn_callbacks cb = { .on_message = on_message };
    if (!in || vr_conn_create(NULL, &cb, NULL, &conn) < 0)
        return 1;
    for (int i = 0; i < 100 && (fd = vr_fd_open(argv[1])) < 0; i++)
        usleep(100000);
    if (fd < 0) {
        fprintf(stderr, "hostile_guest: cannot open %s: %s\n", argv[1], strerror(-fd));
        return 1;
    }
    expect(session_up(), "session up");
    if (!fails) {
        if (!strcmp(argv[2], "garbage"))
            scenario_garbage();
        else if (!strcmp(argv[2], "partial"))
            scenario_partial();
        else
            expect(false, "known scenario");
    }
    close(fd);
    vr_conn_destroy(conn);
    free(in);
    return fails ? 1 : 0;
}
