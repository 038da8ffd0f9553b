/*
 * The Windows channel adapter (transport/src/win32port.c) under Wine, against
 * a TCP peer in the same process: messages both ways through vr_conn,
 * several MiB through overlapped writes while the peer reads slowly (partial
 * completions), the peer closing (-EPIPE), a port that does not exist
 * (-ENOENT with the driver hint), bad addresses.
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

static SOCKET listener(unsigned short *port)
{
    SOCKET l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int sl = sizeof(sa);
    if (l == INVALID_SOCKET || bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&sa, &sl) != 0)
        return INVALID_SOCKET;
    *port = ntohs(sa.sin_port);
    return l;
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

/* Reads everything the peer socket has now (non-blocking) into c. */
static int peer_pump(SOCKET s, struct vr_conn *c, int max_bytes)
{
    static uint8_t buf[16384];
    int total = 0;
    while (total < max_bytes) {
        int n = recv(s, (char *)buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        total += n;
        vr_conn_feed(c, buf, (size_t)n);
    }
    return total;
}

static struct vr_msg frame_msg(uint8_t *data, uint32_t len)
{
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_FRAME;
    m.stream_id = 1;
    m.u.frame.pts = m.u.frame.dts = 0;
    m.u.frame.data = data;
    m.u.frame.data_len = len;
    return m;
}

int main(void)
{
    WSADATA wd;
    WSAStartup(MAKEWORD(2, 2), &wd);
    struct vr_conn_callbacks cb = { .on_message = on_message, .on_gap = on_gap };
    struct rx guest_rx = { 0 }, peer_rx = { 0 };
    struct vr_conn_config big = { .max_out_bytes = 16u << 20, .window_bytes = 16u << 20 };
    struct vr_conn *gc = NULL, *pc = NULL;
    CHECK(vr_conn_create(&big, &cb, &guest_rx, &gc) == 0, "guest conn");
    CHECK(vr_conn_create(NULL, &cb, &peer_rx, &pc) == 0, "peer conn");

    /* Errors first: the adapter's own words for a missing port. */
    int fd = vr_fd_open("\\\\.\\Global\\org.spice-space.videoredir.test-missing");
    CHECK(fd == -ENOENT, "missing port: %d", fd);
    CHECK(strstr(vr_fd_strerror(fd), "vioserial") != NULL, "hint: %s", vr_fd_strerror(fd));
    CHECK(vr_fd_open("tcp:nocolon") == -EINVAL, "bad tcp address");
    CHECK(vr_fd_open("") == -EINVAL, "empty path");
    CHECK(vr_fd_read(gc, 5) == -EINVAL && vr_fd_flush(gc, -1) == -EINVAL, "bad channel numbers");

    unsigned short port = 0;
    SOCKET l = listener(&port);
    CHECK(l != INVALID_SOCKET, "listener");
    char path[64];
    snprintf(path, sizeof(path), "tcp:127.0.0.1:%u", port);
    fd = vr_fd_open(path);
    CHECK(fd >= 0, "open %s: %d", path, fd);
    SOCKET peer = accept(l, NULL, NULL);
    CHECK(peer != INVALID_SOCKET, "accept");
    u_long nb = 1;
    ioctlsocket(peer, FIONBIO, &nb);

    /* Nothing to read yet: a wait times out, a read says -EAGAIN. */
    CHECK(vr_fd_wait(fd, false, 50) == 0, "idle wait");
    CHECK(vr_fd_read(gc, fd) == -EAGAIN, "idle read");

    /* Peer -> guest: a hello arrives through the pending overlapped read. */
    struct vr_msg hello;
    memset(&hello, 0, sizeof(hello));
    hello.type = VR_MSG_HELLO;
    hello.u.hello.version_min = hello.u.hello.version_max = 1;
    hello.u.hello.role = VR_ROLE_CLIENT;
    hello.u.hello.max_streams = 1;
    strcpy(hello.u.hello.software, "test");
    CHECK(vr_conn_send(pc, &hello) == 0, "peer hello");
    const uint8_t *d;
    size_t n = vr_conn_out_peek(pc, &d);
    CHECK(send(peer, (const char *)d, (int)n, 0) == (int)n, "peer send");
    vr_conn_out_consume(pc, n);
    for (int i = 0; i < 100 && guest_rx.msgs == 0; i++) {
        int w = vr_fd_wait(fd, false, 100);
        if (w & VR_FD_READABLE)
            vr_fd_read(gc, fd);
    }
    CHECK(guest_rx.msgs == 1, "guest got %d messages", guest_rx.msgs);

    /* Guest -> peer: 40 frames of 200 KiB (8 MB) while the peer reads at
     * most 64 KiB per round: writes complete in parts, all must arrive. */
    static uint8_t payload[200 * 1024];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 40; i++) {
        struct vr_msg m = frame_msg(payload, sizeof(payload));
        CHECK(vr_conn_send(gc, &m) == 0, "queue frame %d", i);
    }
    uint64_t t0 = GetTickCount64();
    while ((vr_conn_out_queued(gc) > 0 || peer_rx.frames < 40) && GetTickCount64() - t0 < 20000) {
        int r = vr_fd_flush(gc, fd);
        CHECK(r == 0 || r == -EAGAIN, "flush %d", r);
        peer_pump(peer, pc, 64 * 1024);
        if (r == -EAGAIN)
            vr_fd_wait(fd, true, 5);
    }
    CHECK(peer_rx.frames == 40, "peer got %d frames", peer_rx.frames);
    CHECK(peer_rx.frame_bytes == 40ull * sizeof(payload), "bytes %llu",
          (unsigned long long)peer_rx.frame_bytes);
    CHECK(vr_conn_out_queued(gc) == 0, "all written");

    /* The peer goes away: the guest reads -EPIPE (after any data). */
    closesocket(peer);
    int r = -EAGAIN;
    for (int i = 0; i < 100 && r == -EAGAIN; i++) {
        vr_fd_wait(fd, false, 100);
        r = vr_fd_read(gc, fd);
    }
    CHECK(r == -EPIPE, "read after close: %d", r);
    vr_fd_close(fd);
    vr_fd_close(fd); /* closed channel numbers are ignored */

    /* Nobody listening: connection refused, which the CLI retries. */
    closesocket(l);
    fd = vr_fd_open(path);
    CHECK(fd == -ECONNREFUSED, "refused: %d", fd);

    vr_conn_destroy(gc);
    vr_conn_destroy(pc);
    WSACleanup();
    return CHECK_DONE();
}
