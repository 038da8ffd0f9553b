/*
 * File-descriptor adapter (guest side): opens the channel and moves bytes
 * between a non-blocking fd and a vr_conn.
 *
 * The channel is a /dev/virtio-ports/NAME character device in a real guest,
 * or the unix socket of the host stand-in; the back end is picked by probing
 * the path (stat), one table entry per kind.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "videoredir/transport.h"
#include "frame.h"

/* Bytes read per vr_fd_read call at most, so one busy peer cannot starve
 * the caller's loop. */
#define READ_BUDGET (1u << 20)

struct fd_backend {
    const char *name;
    bool (*probe)(const struct stat *st);
    int (*open)(const char *path);
};

static bool probe_socket(const struct stat *st)
{
    return S_ISSOCK(st->st_mode);
}

static int open_socket(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t n = strlen(path);
    if (n >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* A unix-socket connect completes at once; EAGAIN means the listener's
     * backlog is full and the caller should retry later. */
    if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

static bool probe_device(const struct stat *st)
{
    /* The virtio port is a character device; FIFOs and plain files are let
     * through as well (useful for tests and replay), directories are not. */
    return !S_ISDIR(st->st_mode) && !S_ISSOCK(st->st_mode);
}

static int open_device(const char *path)
{
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    return fd < 0 ? -errno : fd;
}

static const struct fd_backend backends[] = {
    { "unix-socket", probe_socket, open_socket },
    { "device", probe_device, open_device },
};

int vr_fd_open(const char *path)
{
    if (!path || !*path)
        return -EINVAL;
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (backends[i].probe(&st))
            return backends[i].open(path);
    }
    return S_ISDIR(st.st_mode) ? -EISDIR : -ENOTSUP;
}

static int map_io_error(int err)
{
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return -EAGAIN;
    case EPIPE:
    case ECONNRESET:
    case ENOTCONN:
    case ESHUTDOWN:
        return -EPIPE;
    default:
        return -err;
    }
}

int vr_fd_read(struct vr_conn *c, int fd)
{
    if (!c || fd < 0)
        return -EINVAL;
    size_t size;
    uint8_t *buf = vr_conn_scratch(c, &size);
    if (!buf)
        return -ENOMEM;
    size_t total = 0;
    while (total < READ_BUDGET) {
        ssize_t n = read(fd, buf, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int ret = map_io_error(errno);
            /* Report data first; a lasting error shows up on the next call. */
            return total > 0 ? 0 : ret;
        }
        if (n == 0)
            return total > 0 ? 0 : -EPIPE;
        total += (size_t)n;
        int ret = vr_conn_feed(c, buf, (size_t)n);
        if (ret < 0)
            return ret;
    }
    return 0;
}

int vr_fd_flush(struct vr_conn *c, int fd)
{
    if (!c || fd < 0)
        return -EINVAL;
    /* send() with MSG_NOSIGNAL keeps a closed socket from raising SIGPIPE;
     * character devices refuse send() with ENOTSOCK and get write(). */
    bool is_socket = true;
    for (;;) {
        const uint8_t *data;
        size_t n = vr_conn_out_peek(c, &data);
        if (n == 0)
            return 0;
        ssize_t w;
        if (is_socket) {
            w = send(fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && errno == ENOTSOCK) {
                is_socket = false;
                continue;
            }
        } else {
            w = write(fd, data, n);
        }
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return map_io_error(errno);
        }
        if (w == 0)
            return -EAGAIN;
        /* A virtio port may take only part (up to 32 KiB); go on from there. */
        vr_conn_out_consume(c, (size_t)w);
    }
}

/* vr_conn_write_fn over a non-blocking fd: header and data in one call. */
static long fd_writev(void *user, const struct vr_iov *iov, size_t n)
{
    int fd = (int)(intptr_t)user;
    struct iovec v[4];
    if (n > sizeof(v) / sizeof(v[0]))
        n = sizeof(v) / sizeof(v[0]);
    for (size_t i = 0; i < n; i++)
        v[i] = (struct iovec){ .iov_base = (void *)iov[i].data, .iov_len = iov[i].len };
    struct msghdr mh = { .msg_iov = v, .msg_iovlen = n };
    for (;;) {
        /* sendmsg: no SIGPIPE from a closed socket; a character device
         * (the virtio port) refuses it with ENOTSOCK and gets writev. */
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == ENOTSOCK)
            w = writev(fd, v, (int)n);
        if (w < 0 && errno == EINTR)
            continue;
        return w < 0 ? map_io_error(errno) : (long)w;
    }
}

void vr_fd_attach(struct vr_conn *c, int fd)
{
    if (fd < 0)
        vr_conn_set_writer(c, NULL, NULL);
    else
        vr_conn_set_writer(c, fd_writev, (void *)(intptr_t)fd);
}

void vr_fd_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

int vr_fd_wait(int fd, bool want_write, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    if (want_write)
        pfd.events |= POLLOUT;
    int n = poll(&pfd, fd >= 0 ? 1 : 0, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int ready = 0;
    if (n > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
        ready |= VR_FD_READABLE;
    if (n > 0 && (pfd.revents & POLLOUT))
        ready |= VR_FD_WRITABLE;
    return ready;
}

const char *vr_fd_strerror(int err)
{
    return strerror(err < 0 ? -err : err);
}
