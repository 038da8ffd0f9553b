/*
 * fd adapter tests over real kernel objects: a socketpair with tiny buffers
 * (partial writes), a FIFO (the write() path, as for a virtio port), a unix
 * socket path (the host stand-in's --guest-socket), EOF and a dead peer.
 * SIGPIPE keeps its default action: a write to a closed socket must not
 * kill the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "videoredir/transport.h"
#include "tutil.h"

struct rx {
    size_t frames, msgs;
    uint32_t next_seq;
    int seq_errors;
    struct t_buf data;
};

static void on_message(void *user, const struct vr_msg *m)
{
    struct rx *r = user;
    r->msgs++;
    if (m->type != VR_MSG_FRAME)
        return;
    if (m->u.frame.seq != r->next_seq)
        r->seq_errors++;
    r->next_seq = m->u.frame.seq + 1;
    r->frames++;
    t_buf_add(&r->data, m->u.frame.data, m->u.frame.data_len);
}

static const struct vr_conn_callbacks cbs = { .on_message = on_message };

/* Queues frames of random sizes totalling about total bytes; returns the
 * concatenated frame data in *expect. */
static size_t queue_frames(struct vr_conn *c, size_t total, uint64_t seed, struct t_buf *expect)
{
    struct t_rng r;
    t_rng_seed(&r, seed);
    size_t n = 0;
    while (expect->len < total) {
        uint32_t len = t_rng_range(&r, 1, 100000);
        struct vr_msg m = { .type = VR_MSG_FRAME, .stream_id = 1 };
        m.u.frame = (struct vr_frame){ .pts = 0, .dts = 0, .data_len = len,
                                       .data = t_pool + t_rng_range(&r, 0, T_POOL_SIZE - len) };
        CHECK(vr_conn_send(c, &m) == 0, "queue");
        t_buf_add(expect, m.u.frame.data, len);
        n++;
    }
    return n;
}

/* Moves everything queued on a (write fd wfd) to b (read fd rfd). Returns
 * how many flushes left bytes behind (partial writes). */
static int transfer(struct vr_conn *a, int wfd, struct vr_conn *b, int rfd)
{
    int partial = 0;
    for (int guard = 0; guard < 1000000; guard++) {
        int w = vr_fd_flush(a, wfd);
        CHECK(w == 0 || w == -EAGAIN, "flush %d", w);
        if (w == -EAGAIN)
            partial++;
        int r = vr_fd_read(b, rfd);
        CHECK(r == 0 || r == -EAGAIN, "read %d", r);
        if (w == 0 && r == -EAGAIN)
            break;
        if (w < 0 && w != -EAGAIN)
            break;
    }
    return partial;
}

static void test_socketpair(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
          "socketpair");
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));

    struct rx rx = { 0 };
    struct vr_conn *a, *b;
    struct vr_conn_config cfg = { .max_out_bytes = 32u << 20 };
    CHECK(vr_conn_create(&cfg, NULL, NULL, &a) == 0, "a");
    CHECK(vr_conn_create(NULL, &cbs, &rx, &b) == 0, "b");
    struct t_buf expect = { 0 };
    size_t n = queue_frames(a, 4u << 20, 5, &expect);
    int partial = transfer(a, sv[0], b, sv[1]);
    CHECK(partial > 10, "only %d partial writes with a 4 KiB buffer", partial);
    CHECK(vr_conn_out_queued(a) == 0, "all written");
    CHECK(rx.frames == n && rx.seq_errors == 0, "frames %zu of %zu", rx.frames, n);
    CHECK(rx.data.len == expect.len && memcmp(rx.data.p, expect.p, expect.len) == 0,
          "data differs");

    /* EOF: the peer closes; reads end with -EPIPE, writes too (no SIGPIPE). */
    close(sv[0]);
    CHECK(vr_fd_read(b, sv[1]) == -EPIPE, "EOF -> -EPIPE");
    struct vr_msg ping = { .type = VR_MSG_PING };
    vr_conn_send(b, &ping);
    CHECK(vr_fd_flush(b, sv[1]) == -EPIPE, "write to closed peer -> -EPIPE");
    CHECK(vr_fd_flush(b, -1) == -EINVAL && vr_fd_read(NULL, sv[1]) == -EINVAL, "bad args");
    close(sv[1]);
    vr_conn_destroy(a);
    vr_conn_destroy(b);
    free(expect.p);
    free(rx.data.p);
}

static void test_fifo(const char *dir)
{
    /* A FIFO is not a socket: the adapter must use write(), like for a
     * virtio port, and cope with partial writes of a small pipe. */
    char path[512];
    snprintf(path, sizeof(path), "%s/fifo", dir);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo");
    int rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    int wfd = vr_fd_open(path);
    CHECK(rfd >= 0 && wfd >= 0, "open fifo %d %d", rfd, wfd);
    fcntl(wfd, F_SETPIPE_SZ, 4096);

    struct rx rx = { 0 };
    struct vr_conn *a, *b;
    vr_conn_create(NULL, NULL, NULL, &a);
    vr_conn_create(NULL, &cbs, &rx, &b);
    struct t_buf expect = { 0 };
    size_t n = queue_frames(a, 1u << 20, 9, &expect);
    int partial = transfer(a, wfd, b, rfd);
    CHECK(partial > 10, "only %d partial writes", partial);
    CHECK(rx.frames == n && rx.seq_errors == 0, "frames %zu of %zu", rx.frames, n);
    CHECK(rx.data.len == expect.len && memcmp(rx.data.p, expect.p, expect.len) == 0,
          "data differs");
    close(rfd);
    close(wfd);
    unlink(path);
    vr_conn_destroy(a);
    vr_conn_destroy(b);
    free(expect.p);
    free(rx.data.p);
}

static void test_unix_path(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/guest.sock", dir);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    CHECK(strlen(path) < sizeof(sa.sun_path), "socket path too long");
    memcpy(sa.sun_path, path, strlen(path) + 1);
    CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind");
    CHECK(listen(lfd, 1) == 0, "listen");

    int gfd = vr_fd_open(path);
    CHECK(gfd >= 0, "vr_fd_open(socket) = %d", gfd);
    CHECK((fcntl(gfd, F_GETFL) & O_NONBLOCK) != 0, "non-blocking");
    CHECK((fcntl(gfd, F_GETFD) & FD_CLOEXEC) != 0, "close-on-exec");
    int hfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    CHECK(hfd >= 0, "accept");

    /* Both directions. */
    struct rx grx = { 0 }, hrx = { 0 };
    struct vr_conn *g, *h;
    vr_conn_create(NULL, &cbs, &grx, &g);
    vr_conn_create(NULL, &cbs, &hrx, &h);
    struct t_buf expect = { 0 };
    size_t n = queue_frames(g, 3u << 20, 21, &expect);
    struct vr_msg hello = { .type = VR_MSG_HELLO };
    hello.u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1, .role = VR_ROLE_CLIENT };
    vr_conn_send(h, &hello);
    transfer(g, gfd, h, hfd);
    transfer(h, hfd, g, gfd);
    CHECK(hrx.frames == n && hrx.seq_errors == 0, "frames %zu of %zu", hrx.frames, n);
    CHECK(hrx.data.len == expect.len && memcmp(hrx.data.p, expect.p, expect.len) == 0, "data");
    CHECK(grx.msgs == 1, "hello back");
    CHECK(vr_fd_read(g, gfd) == -EAGAIN, "nothing more: -EAGAIN");
    CHECK(vr_fd_flush(g, gfd) == 0, "nothing queued: 0");

    /* The host goes away. */
    close(hfd);
    CHECK(vr_fd_read(g, gfd) == -EPIPE, "EOF");
    struct vr_msg ping = { .type = VR_MSG_PING };
    vr_conn_send(g, &ping);
    int ret = vr_fd_flush(g, gfd);
    CHECK(ret == -EPIPE, "flush after close: %d", ret);
    close(gfd);

    /* Nobody listening any more: a stale socket file. */
    close(lfd);
    CHECK(vr_fd_open(path) == -ECONNREFUSED, "stale socket refused");
    unlink(path);
    vr_conn_destroy(g);
    vr_conn_destroy(h);
    free(expect.p);
    free(hrx.data.p);
}

static void test_open_errors(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/missing", dir);
    CHECK(vr_fd_open(path) == -ENOENT, "missing");
    CHECK(vr_fd_open(dir) == -EISDIR, "directory");
    CHECK(vr_fd_open(NULL) == -EINVAL && vr_fd_open("") == -EINVAL, "empty");

    /* A character device: /dev/null reads EOF (-EPIPE) and swallows writes. */
    int fd = vr_fd_open("/dev/null");
    CHECK(fd >= 0, "char device");
    struct vr_conn *c;
    vr_conn_create(NULL, NULL, NULL, &c);
    CHECK(vr_fd_read(c, fd) == -EPIPE, "EOF from /dev/null");
    struct vr_msg ping = { .type = VR_MSG_PING };
    vr_conn_send(c, &ping);
    CHECK(vr_fd_flush(c, fd) == 0 && vr_conn_out_queued(c) == 0, "written with write()");
    close(fd);
    vr_conn_destroy(c);

    /* A socket path longer than sun_path. */
    char longp[300];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = 0;
    CHECK(vr_fd_open(longp) < 0, "long path");
}

/* vr_fd_wait / vr_fd_close / vr_fd_strerror, the calls the capture loop
 * shares with the Windows adapter. */
static void test_wait(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    CHECK(vr_fd_wait(sv[0], false, 20) == 0, "idle: timeout");
    CHECK(vr_fd_wait(sv[0], true, 20) == VR_FD_WRITABLE, "idle: writable");
    CHECK(write(sv[1], "x", 1) == 1, "write");
    CHECK(vr_fd_wait(sv[0], false, 1000) == VR_FD_READABLE, "readable");
    vr_fd_close(sv[1]);
    CHECK(vr_fd_wait(sv[0], false, 1000) & VR_FD_READABLE, "peer closed: readable (EOF to read)");
    vr_fd_close(sv[0]);
    vr_fd_close(-1); /* no-op */
    CHECK(vr_fd_wait(-1, false, 10) == 0, "no fd: a sleep");
    CHECK(!strcmp(vr_fd_strerror(-ENOENT), strerror(ENOENT)), "strerror");
}

int main(void)
{
    t_pool_init(3);
    test_wait();
    char dir[] = "/tmp/vr-test-fd-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_socketpair();
    test_fifo(dir);
    test_unix_path(dir);
    test_open_errors(dir);
    rmdir(dir);
    if (t_failures) {
        fprintf(stderr, "%d check(s) failed\n", t_failures);
        return 1;
    }
    printf("transport fd: all checks passed\n");
    return 0;
}
