/*
 * The Windows channel adapter (transport/src/win32port.c) under Wine, with
 * the peer in the same process, over both back ends:
 *  - "device": a named pipe \\.\pipe\NAME stands in for vioserial's
 *    \\.\Global\NAME (same CreateFile/ReadFile/WriteFile overlapped path);
 *  - "tcp": a loopback socket, as the tests' host stand-in.
 * Messages both ways through vr_conn; 8 MB through overlapped writes while
 * the peer reads slowly (writes complete in parts); a second open of a busy
 * port (-EBUSY); the peer closing (-EPIPE); a port that does not exist
 * (-ENOENT with the driver hint); bad addresses; refused connections.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <videoredir/transport.h>

#include "../check.h"

/* The far end, in this process. */
struct peer {
    SOCKET s;     /* tcp */
    HANDLE pipe;  /* device */
};

static int peer_recv(struct peer *p, uint8_t *buf, int len)
{
    if (p->s != INVALID_SOCKET) {
        int n = recv(p->s, (char *)buf, len, 0);
        return n > 0 ? n : 0;
    }
    DWORD avail = 0, n = 0;
    if (!PeekNamedPipe(p->pipe, NULL, 0, NULL, &avail, NULL) || avail == 0)
        return 0;
    if (!ReadFile(p->pipe, buf, avail < (DWORD)len ? avail : (DWORD)len, &n, NULL))
        return 0;
    return (int)n;
}

static bool peer_send(struct peer *p, const uint8_t *buf, size_t len)
{
    if (p->s != INVALID_SOCKET)
        return send(p->s, (const char *)buf, (int)len, 0) == (int)len;
    DWORD n = 0;
    return WriteFile(p->pipe, buf, (DWORD)len, &n, NULL) && n == len;
}

static void peer_close(struct peer *p)
{
    if (p->s != INVALID_SOCKET)
        closesocket(p->s);
    if (p->pipe != INVALID_HANDLE_VALUE) {
        DisconnectNamedPipe(p->pipe);
        CloseHandle(p->pipe);
    }
}

struct rx {
    int msgs, frames;
    uint64_t frame_bytes;
};

static void on_message(void *user, const struct vr_msg *m)
{
    struct rx *r = user;
    r->msgs++;
    if (m->type == VR_MSG_FRAME) {
        r->frames++;
        r->frame_bytes += m->u.frame.data_len;
    }
}

static void on_gap(void *user, uint32_t stream_id, uint32_t missing) {}

static void peer_pump(struct peer *p, struct vr_conn *c, int max_bytes)
{
    static uint8_t buf[16384];
    int total = 0, n;
    while (total < max_bytes && (n = peer_recv(p, buf, sizeof(buf))) > 0) {
        total += n;
        vr_conn_feed(c, buf, (size_t)n);
    }
}

/* Everything the adapter must do once open, against either back end. */
static void exercise(const char *what, int fd, struct peer *p)
{
    struct vr_conn_callbacks cb = { .on_message = on_message, .on_gap = on_gap };
    struct rx guest_rx = { 0 }, peer_rx = { 0 };
    struct vr_conn_config big = { .max_out_bytes = 16u << 20, .window_bytes = 16u << 20 };
    struct vr_conn *gc = NULL, *pc = NULL;
    CHECK(vr_conn_create(&big, &cb, &guest_rx, &gc) == 0, "%s: guest conn", what);
    CHECK(vr_conn_create(NULL, &cb, &peer_rx, &pc) == 0, "%s: peer conn", what);

    /* Nothing to read yet: a wait times out, a read says -EAGAIN. */
    CHECK(vr_fd_wait(fd, false, 50) == 0, "%s: idle wait", what);
    CHECK(vr_fd_read(gc, fd) == -EAGAIN, "%s: idle read", what);
    CHECK(vr_fd_wait(fd, true, 50) == VR_FD_WRITABLE, "%s: writable when idle", what);

    /* Peer -> guest: a hello arrives through the pending overlapped read. */
    struct vr_msg hello;
    memset(&hello, 0, sizeof(hello));
    hello.type = VR_MSG_HELLO;
    hello.u.hello.version_min = hello.u.hello.version_max = 1;
    hello.u.hello.role = VR_ROLE_CLIENT;
    hello.u.hello.max_streams = 1;
    strcpy(hello.u.hello.software, "test");
    CHECK(vr_conn_send(pc, &hello) == 0, "%s: peer hello", what);
    const uint8_t *d;
    size_t n = vr_conn_out_peek(pc, &d);
    CHECK(peer_send(p, d, n), "%s: peer send", what);
    vr_conn_out_consume(pc, n);
    for (int i = 0; i < 100 && guest_rx.msgs == 0; i++) {
        int w = vr_fd_wait(fd, false, 100);
        if (w & VR_FD_READABLE)
            vr_fd_read(gc, fd);
    }
    CHECK(guest_rx.msgs == 1, "%s: guest got %d messages", what, guest_rx.msgs);

    /* Guest -> peer: 40 frames of 200 KiB (8 MB) while the peer reads at
     * most 64 KiB per round: writes complete in parts, all must arrive. */
    static uint8_t payload[200 * 1024];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 40; i++) {
        struct vr_msg m;
        memset(&m, 0, sizeof(m));
        m.type = VR_MSG_FRAME;
        m.stream_id = 1;
        m.u.frame.data = payload;
        m.u.frame.data_len = sizeof(payload);
        CHECK(vr_conn_send(gc, &m) == 0, "%s: queue frame %d", what, i);
    }
    uint64_t t0 = GetTickCount64();
    int flushes = 0, bad_flush = 0;
    while ((vr_conn_out_queued(gc) > 0 || peer_rx.frames < 40) && GetTickCount64() - t0 < 20000) {
        int r = vr_fd_flush(gc, fd);
        flushes++;
        bad_flush += r != 0 && r != -EAGAIN;
        peer_pump(p, pc, 64 * 1024);
        if (r == -EAGAIN)
            vr_fd_wait(fd, true, 5);
    }
    CHECK(bad_flush == 0, "%s: %d flushes failed", what, bad_flush);
    CHECK(peer_rx.frames == 40, "%s: peer got %d frames", what, peer_rx.frames);
    CHECK(peer_rx.frame_bytes == 40ull * sizeof(payload), "%s: bytes %llu", what,
          (unsigned long long)peer_rx.frame_bytes);
    CHECK(vr_conn_out_queued(gc) == 0, "%s: all written", what);
    printf("%s: 8 MB in %d flush calls, %llu ms\n", what, flushes,
           (unsigned long long)(GetTickCount64() - t0));

    /* The peer goes away: the guest reads -EPIPE (after any data). */
    peer_close(p);
    int r = -EAGAIN;
    for (int i = 0; i < 100 && r == -EAGAIN; i++) {
        vr_fd_wait(fd, false, 100);
        r = vr_fd_read(gc, fd);
    }
    CHECK(r == -EPIPE, "%s: read after close: %d", what, r);
    vr_fd_close(fd);
    vr_fd_close(fd); /* closed channel numbers are ignored */
    vr_conn_destroy(gc);
    vr_conn_destroy(pc);
}

static void device_backend(void)
{
    char name[96];
    snprintf(name, sizeof(name), "\\\\.\\pipe\\videoredir-test-%lu", GetCurrentProcessId());
    /* Small pipe buffers: the 8 MB cannot go in one write. */
    HANDLE srv = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT,
                                  1, 16384, 16384, 0, NULL);
    CHECK(srv != INVALID_HANDLE_VALUE, "named pipe: %lu", GetLastError());
    int fd = vr_fd_open(name);
    CHECK(fd >= 0, "open %s: %d", name, fd);
    CHECK(ConnectNamedPipe(srv, NULL) || GetLastError() == ERROR_PIPE_CONNECTED, "connect pipe");
    /* One guest end: a second open is refused as busy (vioserial refuses too). */
    int fd2 = vr_fd_open(name);
    CHECK(fd2 == -EBUSY, "second open: %d", fd2);
    struct peer p = { .s = INVALID_SOCKET, .pipe = srv };
    if (fd >= 0)
        exercise("device", fd, &p);
}

static void tcp_backend(void)
{
    SOCKET l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int sl = sizeof(sa);
    CHECK(l != INVALID_SOCKET && bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(l, 1) == 0 &&
          getsockname(l, (struct sockaddr *)&sa, &sl) == 0, "listener");
    char path[64];
    snprintf(path, sizeof(path), "tcp:127.0.0.1:%u", ntohs(sa.sin_port));
    int fd = vr_fd_open(path);
    CHECK(fd >= 0, "open %s: %d", path, fd);
    SOCKET s = accept(l, NULL, NULL);
    CHECK(s != INVALID_SOCKET, "accept");
    u_long nb = 1;
    ioctlsocket(s, FIONBIO, &nb);
    struct peer p = { .s = s, .pipe = INVALID_HANDLE_VALUE };
    if (fd >= 0)
        exercise("tcp", fd, &p);
    /* Nobody listening: connection refused, which the CLI retries. */
    closesocket(l);
    fd = vr_fd_open(path);
    CHECK(fd == -ECONNREFUSED, "refused: %d", fd);
}

int main(void)
{
    WSADATA wd;
    WSAStartup(MAKEWORD(2, 2), &wd);

    /* The adapter's own words for a missing port. */
    int fd = vr_fd_open("\\\\.\\Global\\org.spice-space.videoredir.test-missing");
    CHECK(fd == -ENOENT, "missing port: %d", fd);
    CHECK(strstr(vr_fd_strerror(fd), "vioserial") != NULL, "hint: %s", vr_fd_strerror(fd));
    CHECK(strstr(vr_fd_strerror(-EPIPE), "host side") != NULL, "EPIPE: %s", vr_fd_strerror(-EPIPE));
    CHECK(vr_fd_open("tcp:nocolon") == -EINVAL, "bad tcp address");
    CHECK(vr_fd_open("") == -EINVAL && vr_fd_open(NULL) == -EINVAL, "empty path");
    struct vr_conn *c = NULL;
    CHECK(vr_conn_create(NULL, NULL, NULL, &c) == 0 || c == NULL, "conn");
    CHECK(vr_fd_read(c, 5) == -EINVAL && vr_fd_flush(c, -1) == -EINVAL, "bad channel numbers");
    vr_conn_destroy(c);
    CHECK(vr_fd_wait(-1, false, 10) == 0, "no channel: just a sleep");

    device_backend();
    tcp_backend();
    WSACleanup();
    return CHECK_DONE();
}
