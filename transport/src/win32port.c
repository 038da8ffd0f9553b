/*
 * Windows channel adapter (guest side): the same vr_fd_* calls as fd.c, over
 * overlapped I/O.
 *
 * In a Windows guest the port is \\.\Global\NAME, a device of virtio-win's
 * vioserial driver, opened with CreateFile(FILE_FLAG_OVERLAPPED). What the
 * driver does that matters here (read from its sources, not seen live):
 *  - a handle opened for overlapped I/O is "non-blocking" to it: a read with
 *    no data while the host side is closed (no SPICE client has the port),
 *    and a write the host cannot take now (host closed or its queue full),
 *    fail at once with STATUS_INSUFFICIENT_RESOURCES, which Win32 reports as
 *    ERROR_NO_SYSTEM_RESOURCES. For a read that is this adapter's "the other
 *    end is gone" (-EPIPE, as EOF on Linux); for a write it is "try again
 *    shortly" (-EAGAIN with a short retry timer);
 *  - one write request takes at most 32 KiB: the completion says how much,
 *    the rest is written by the next request;
 *  - a second open of the same port fails (the port has one guest end).
 * For tests under Wine (no vioserial) "tcp:HOST:PORT" reaches the host
 * stand-in's --guest-tcp listener with the same overlapped model (WSARecv /
 * WSASend).
 *
 * Channels live in a small table; the number vr_fd_open returns indexes it.
 * One read is kept pending into the channel's own buffer and one write from
 * the channel's own copy of the conn's output, so the conn may change while
 * the system holds the I/O. Output is consumed from the conn only when the
 * write completed: vr_conn_out_queued() stays non-zero until then.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include "videoredir/transport.h"

#define MAX_CHANNELS 8
#define READ_SIZE (64u * 1024u)
#define WRITE_SIZE (256u * 1024u)
/* Bytes fed per vr_fd_read call at most (as fd.c). */
#define READ_BUDGET (1u << 20)
/* After the driver said "cannot take it now": retry a write this soon. */
#define WRITE_RETRY_MS 10u

struct channel;

struct backend {
    const char *name;
    DWORD max_write; /* bytes per write request at most */
    bool (*probe)(const char *path);
    int (*open)(struct channel *ch, const char *path);
    /* Start an overlapped read/write; false with GetLastError() set when it
     * failed at once (ERROR_IO_PENDING is success). */
    bool (*start_read)(struct channel *ch);
    bool (*start_write)(struct channel *ch, DWORD len);
    /* Result of the I/O on ov: true with *n, or false with GetLastError()
     * (ERROR_IO_INCOMPLETE: still running). */
    bool (*result)(struct channel *ch, OVERLAPPED *ov, DWORD *n, bool wait);
    void (*close)(struct channel *ch);
};

struct channel {
    const struct backend *be;
    HANDLE h;     /* device */
    SOCKET s;     /* tcp */
    HANDLE io;    /* the one of them the I/O runs on (for CancelIoEx) */
    OVERLAPPED rov, wov;
    bool rpending, wpending;
    int rerr;                 /* a read error to report from vr_fd_read */
    uint8_t rbuf[READ_SIZE];
    uint8_t wbuf[WRITE_SIZE];
    DWORD wlen;
    ULONGLONG write_retry_at; /* GetTickCount64 ms; 0 = none */
};

static struct channel *channels[MAX_CHANNELS];
/* Guards the slots of the table: two players (two videos in one process,
 * each with its own I/O thread) may open or close at the same time. */
static SRWLOCK table_lock = SRWLOCK_INIT;

/* ---- errors ------------------------------------------------------------ */

static int map_error(DWORD e, bool writing)
{
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_BAD_NETPATH:
        return -ENOENT;
    case ERROR_ACCESS_DENIED:
        return -EACCES;
    case ERROR_SHARING_VIOLATION:
    case ERROR_ALREADY_EXISTS:
    case ERROR_BUSY:
    case ERROR_PIPE_BUSY:
        return -EBUSY;
    case ERROR_NO_SYSTEM_RESOURCES:
        /* vioserial: host side closed, or (writes) its queue is full. */
        return writing ? -EAGAIN : -EPIPE;
    case ERROR_HANDLE_EOF:
    case ERROR_BROKEN_PIPE:
    case ERROR_PIPE_NOT_CONNECTED:
    case ERROR_NO_DATA:
    case ERROR_OPERATION_ABORTED:
    case ERROR_DEVICE_NOT_CONNECTED:
    case ERROR_DEV_NOT_EXIST:
    case ERROR_NETNAME_DELETED:
    case ERROR_GEN_FAILURE:
    case ERROR_INVALID_HANDLE:
    case WSAECONNRESET:
    case WSAECONNABORTED:
    case WSAESHUTDOWN:
    case WSAENOTCONN:
        return -EPIPE;
    case WSAECONNREFUSED:
    case ERROR_CONNECTION_REFUSED:
        return -ECONNREFUSED;
    case WSAETIMEDOUT:
    case ERROR_SEM_TIMEOUT:
        return -ETIMEDOUT;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case WSAENOBUFS:
        return -ENOMEM;
    case ERROR_INVALID_NAME:
    case ERROR_INVALID_PARAMETER:
        return -EINVAL;
    default:
        return -EIO;
    }
}

const char *vr_fd_strerror(int err)
{
    switch (err < 0 ? -err : err) {
    case ENOENT:
        return "no such port (is the vioserial driver of virtio-win installed, and does the VM "
               "have a virtio-serial channel of this name?)";
    case EBUSY:
        return "the port is open in another program (a port has one guest end)";
    case EACCES:
        return "access denied (the port device needs an administrator or the SYSTEM account)";
    case EPIPE:
        return "the host side of the port is closed (no SPICE client has the port open)";
    case ECONNREFUSED:
        return "connection refused (is the host stand-in listening there?)";
    case EAGAIN:
        return "the port cannot take more now";
    case EIO:
        return "input/output error from the port driver";
    default:
        return strerror(err < 0 ? -err : err);
    }
}

/* ---- device: \\.\Global\NAME (vioserial) -------------------------------- */

static bool probe_device(const char *path)
{
    return strncmp(path, "tcp:", 4) != 0;
}

static int open_device(struct channel *ch, const char *path)
{
    ch->h = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                        FILE_FLAG_OVERLAPPED, NULL);
    if (ch->h == INVALID_HANDLE_VALUE)
        return map_error(GetLastError(), false);
    ch->io = ch->h;
    return 0;
}

static bool device_start_read(struct channel *ch)
{
    return ReadFile(ch->h, ch->rbuf, sizeof(ch->rbuf), NULL, &ch->rov) ||
           GetLastError() == ERROR_IO_PENDING;
}

static bool device_start_write(struct channel *ch, DWORD len)
{
    return WriteFile(ch->h, ch->wbuf, len, NULL, &ch->wov) || GetLastError() == ERROR_IO_PENDING;
}

static bool device_result(struct channel *ch, OVERLAPPED *ov, DWORD *n, bool wait)
{
    return GetOverlappedResult(ch->h, ov, n, wait);
}

static void device_close(struct channel *ch)
{
    CloseHandle(ch->h);
}

/* ---- tcp:HOST:PORT (the host stand-in under Wine) ----------------------- */

static bool probe_tcp(const char *path)
{
    return strncmp(path, "tcp:", 4) == 0;
}

static int open_tcp(struct channel *ch, const char *path)
{
    static bool wsa_started;
    if (!wsa_started) {
        WSADATA wd;
        if (WSAStartup(MAKEWORD(2, 2), &wd) != 0)
            return -EIO;
        wsa_started = true;
    }
    char host[256];
    const char *hp = path + 4;
    const char *colon = strrchr(hp, ':');
    if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof(host) || !colon[1])
        return -EINVAL;
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_protocol = IPPROTO_TCP };
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
        return -EINVAL;
    int ret = -ECONNREFUSED;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        SOCKET s = WSASocketW(a->ai_family, a->ai_socktype, a->ai_protocol, NULL, 0,
                              WSA_FLAG_OVERLAPPED);
        if (s == INVALID_SOCKET) {
            ret = map_error((DWORD)WSAGetLastError(), false);
            continue;
        }
        /* Loopback: the connect is quick, blocking is fine. */
        if (connect(s, a->ai_addr, (int)a->ai_addrlen) != 0) {
            ret = map_error((DWORD)WSAGetLastError(), false);
            closesocket(s);
            continue;
        }
        BOOL one = TRUE;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
        ch->s = s;
        ch->io = (HANDLE)s;
        ret = 0;
        break;
    }
    freeaddrinfo(ai);
    return ret;
}

static bool tcp_start_read(struct channel *ch)
{
    WSABUF b = { .len = sizeof(ch->rbuf), .buf = (char *)ch->rbuf };
    DWORD flags = 0;
    if (WSARecv(ch->s, &b, 1, NULL, &flags, &ch->rov, NULL) == 0)
        return true;
    int e = WSAGetLastError();
    SetLastError((DWORD)e);
    return e == WSA_IO_PENDING;
}

static bool tcp_start_write(struct channel *ch, DWORD len)
{
    WSABUF b = { .len = len, .buf = (char *)ch->wbuf };
    if (WSASend(ch->s, &b, 1, NULL, 0, &ch->wov, NULL) == 0)
        return true;
    int e = WSAGetLastError();
    SetLastError((DWORD)e);
    return e == WSA_IO_PENDING;
}

static bool tcp_result(struct channel *ch, OVERLAPPED *ov, DWORD *n, bool wait)
{
    DWORD flags = 0;
    if (WSAGetOverlappedResult(ch->s, ov, n, wait, &flags))
        return true;
    int e = WSAGetLastError();
    /* Same meaning as ERROR_IO_INCOMPLETE for the caller. */
    SetLastError(e == WSA_IO_INCOMPLETE ? ERROR_IO_INCOMPLETE : (DWORD)e);
    return false;
}

static void tcp_close(struct channel *ch)
{
    closesocket(ch->s);
}

/* vioserial cuts every write request to 32 KiB: asking for more would only
 * copy bytes that go back to the conn. */
static const struct backend backends[] = {
    { "tcp", WRITE_SIZE, probe_tcp, open_tcp, tcp_start_read, tcp_start_write, tcp_result,
      tcp_close },
    { "device", 32u * 1024u, probe_device, open_device, device_start_read, device_start_write,
      device_result, device_close },
};

/* ---- the table ---------------------------------------------------------- */

static struct channel *get(int fd)
{
    return fd >= 0 && fd < MAX_CHANNELS ? channels[fd] : NULL;
}

static void free_channel(struct channel *ch)
{
    if (ch->rov.hEvent)
        CloseHandle(ch->rov.hEvent);
    if (ch->wov.hEvent)
        CloseHandle(ch->wov.hEvent);
    free(ch);
}

int vr_fd_open(const char *path)
{
    if (!path || !*path)
        return -EINVAL;
    struct channel *ch = calloc(1, sizeof(*ch));
    if (!ch)
        return -ENOMEM;
    ch->h = INVALID_HANDLE_VALUE;
    ch->s = INVALID_SOCKET;
    /* Manual-reset events, as overlapped I/O wants. */
    ch->rov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    ch->wov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!ch->rov.hEvent || !ch->wov.hEvent) {
        free_channel(ch);
        return -ENOMEM;
    }
    int ret = -ENOTSUP;
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (backends[i].probe(path)) {
            ch->be = &backends[i];
            ret = ch->be->open(ch, path);
            break;
        }
    }
    if (ret < 0) {
        free_channel(ch);
        return ret;
    }
    int slot = -1;
    AcquireSRWLockExclusive(&table_lock);
    for (int i = 0; i < MAX_CHANNELS && slot < 0; i++) {
        if (!channels[i])
            slot = i;
    }
    if (slot >= 0)
        channels[slot] = ch;
    ReleaseSRWLockExclusive(&table_lock);
    if (slot < 0) {
        ch->be->close(ch);
        free_channel(ch);
        return -EMFILE;
    }
    return slot;
}

/* Waits for (after cancelling) an I/O the system still holds, so that its
 * buffer may be freed. */
static void finish_io(struct channel *ch, OVERLAPPED *ov, bool *pending)
{
    if (!*pending)
        return;
    CancelIoEx(ch->io, ov);
    DWORD n;
    ch->be->result(ch, ov, &n, true);
    *pending = false;
}

/* Writes go through vr_fd_flush's overlapped I/O here: no direct writer. */
void vr_fd_attach(struct vr_conn *c, int fd)
{
    (void)fd;
    vr_conn_set_writer(c, NULL, NULL);
}

void vr_fd_close(int fd)
{
    struct channel *ch = get(fd);
    if (!ch)
        return;
    finish_io(ch, &ch->rov, &ch->rpending);
    finish_io(ch, &ch->wov, &ch->wpending);
    ch->be->close(ch);
    free_channel(ch);
    AcquireSRWLockExclusive(&table_lock);
    channels[fd] = NULL;
    ReleaseSRWLockExclusive(&table_lock);
}

/* Keeps one read pending. Returns false if it failed at once (ch->rerr). */
static bool arm_read(struct channel *ch)
{
    if (ch->rpending || ch->rerr)
        return ch->rerr == 0;
    ResetEvent(ch->rov.hEvent);
    if (!ch->be->start_read(ch)) {
        ch->rerr = map_error(GetLastError(), false);
        return false;
    }
    ch->rpending = true;
    return true;
}

int vr_fd_read(struct vr_conn *c, int fd)
{
    struct channel *ch = get(fd);
    if (!c || !ch)
        return -EINVAL;
    size_t total = 0;
    while (total < READ_BUDGET) {
        if (!arm_read(ch))
            break;
        DWORD n = 0;
        if (!ch->be->result(ch, &ch->rov, &n, false)) {
            DWORD e = GetLastError();
            if (e == ERROR_IO_INCOMPLETE)
                return total > 0 ? 0 : -EAGAIN;
            ch->rpending = false;
            ch->rerr = map_error(e, false);
            break;
        }
        ch->rpending = false;
        if (n == 0) {
            ch->rerr = -EPIPE; /* orderly end of the stream */
            break;
        }
        total += n;
        int ret = vr_conn_feed(c, ch->rbuf, n);
        if (ret < 0)
            return ret;
    }
    if (ch->rerr && total == 0)
        return ch->rerr;
    return 0; /* data first; a lasting error shows up on the next call */
}

int vr_fd_flush(struct vr_conn *c, int fd)
{
    struct channel *ch = get(fd);
    if (!c || !ch)
        return -EINVAL;
    for (;;) {
        if (ch->wpending) {
            DWORD n = 0;
            if (!ch->be->result(ch, &ch->wov, &n, false)) {
                DWORD e = GetLastError();
                if (e == ERROR_IO_INCOMPLETE)
                    return -EAGAIN;
                ch->wpending = false;
                int ret = map_error(e, true);
                if (ret == -EAGAIN)
                    ch->write_retry_at = GetTickCount64() + WRITE_RETRY_MS;
                return ret;
            }
            ch->wpending = false;
            /* The driver may have taken only part (vioserial: 32 KiB at a
             * time): the rest stays queued in the conn for the next write. */
            vr_conn_out_consume(c, n);
            if (n == 0)
                return -EAGAIN;
        }
        if (ch->write_retry_at) {
            if (GetTickCount64() < ch->write_retry_at)
                return -EAGAIN;
            ch->write_retry_at = 0;
        }
        const uint8_t *data;
        size_t n = vr_conn_out_peek(c, &data);
        if (n == 0)
            return 0;
        if (n > ch->be->max_write)
            n = ch->be->max_write;
        memcpy(ch->wbuf, data, n);
        ch->wlen = (DWORD)n;
        ResetEvent(ch->wov.hEvent);
        if (!ch->be->start_write(ch, ch->wlen)) {
            int ret = map_error(GetLastError(), true);
            if (ret == -EAGAIN)
                ch->write_retry_at = GetTickCount64() + WRITE_RETRY_MS;
            return ret;
        }
        ch->wpending = true;
    }
}

int vr_fd_wait(int fd, bool want_write, int timeout_ms)
{
    return vr_fd_wait_event(fd, want_write, timeout_ms, NULL);
}

int vr_fd_wait_event(int fd, bool want_write, int timeout_ms, void *wake)
{
    DWORD timeout = timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms;
    struct channel *ch = get(fd);
    if (!ch) {
        if (wake)
            WaitForSingleObject(wake, timeout);
        else
            Sleep(timeout == INFINITE ? 1000 : timeout);
        return 0;
    }
    if (!arm_read(ch))
        return VR_FD_READABLE; /* vr_fd_read reports the error */
    /* The wake event last: a set wake event must not hide ready I/O. */
    HANDLE hs[3] = { ch->rov.hEvent, ch->wov.hEvent, wake };
    DWORD n = 1;
    bool retry_wait = false;
    if (want_write) {
        if (ch->wpending) {
            n = 2;
        } else if (ch->write_retry_at) {
            ULONGLONG now = GetTickCount64();
            if (now >= ch->write_retry_at)
                return VR_FD_WRITABLE;
            DWORD left = (DWORD)(ch->write_retry_at - now);
            if (left < timeout) {
                timeout = left;
                retry_wait = true;
            }
        } else {
            return VR_FD_WRITABLE;
        }
    }
    if (wake) {
        if (n == 1)
            hs[1] = wake;
        else
            hs[2] = wake;
        n++;
    }
    DWORD r = WaitForMultipleObjects(n, hs, FALSE, timeout);
    if (r == WAIT_FAILED)
        return map_error(GetLastError(), false);
    if (r == WAIT_TIMEOUT)
        return retry_wait ? VR_FD_WRITABLE : 0;
    int ready = 0;
    if (WaitForSingleObject(hs[0], 0) == WAIT_OBJECT_0)
        ready |= VR_FD_READABLE;
    if (hs[1] == ch->wov.hEvent && n >= 2 && WaitForSingleObject(hs[1], 0) == WAIT_OBJECT_0)
        ready |= VR_FD_WRITABLE;
    return ready;
}
