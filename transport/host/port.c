/*
 * The videoredir port: a "port" char device whose guest end is a unix
 * socket, behaving like QEMU's spiceport chardev where it matters:
 *  - the guest connecting/disconnecting sends port opened/closed events;
 *  - guest data is read from the socket only when spice-server takes it, so
 *    its backpressure (it stops reading the device with ~1 MiB queued for
 *    the client) reaches the guest as a socket that stops draining;
 *  - while no SPICE client has the port channel, guest data is discarded.
 *
 * Wakeups: spice-server reads at most once per wakeup (its port channel
 * queues what it read and returns no message), and wakes itself when its
 * queue drains below the limit. So we wake it once per guest buffer, and
 * again only after a read that left data behind.
 */
#include <errno.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "host.h"

/* One guest read; no larger than what spice-server asks for per read
 * (64 KiB + 32), so a wakeup normally takes the whole buffer. */
#define IN_BUF (64 * 1024)
/* Client -> guest bytes held while the guest socket would block; beyond
 * this, writes are refused and spice-server keeps them (and retries). */
#define OUT_CAP (4u << 20)

struct vr_host_port {
    SpiceCharDeviceInstance sin;
    char *path;
    struct vr_host_file_id made; /* the socket file we made */
    int listen_fd, guest_fd;
    guint listen_src, guest_src;
    int tcp_fd;      /* --guest-tcp listener, -1 if none */
    guint tcp_src;
    gboolean client; /* a SPICE client has the port channel */
    /* guest -> client: one buffer, refilled only once spice-server took it */
    uint8_t in[IN_BUF];
    size_t in_len, in_off;
    guint rewake_src;
    /* client -> guest */
    GByteArray *out;
    guint out_src;
    gboolean write_refused; /* spice-server holds bytes we refused */
    uint64_t discarded, to_client, to_guest, dropped_no_guest;
};

static struct vr_host_port *from_sin(SpiceCharDeviceInstance *sin)
{
    return (struct vr_host_port *)((char *)sin - offsetof(struct vr_host_port, sin));
}

static void remove_source(guint *id)
{
    if (*id) {
        g_source_remove(*id);
        *id = 0;
    }
}

static void close_guest(struct vr_host_port *p)
{
    if (p->guest_fd < 0)
        return;
    remove_source(&p->guest_src);
    remove_source(&p->out_src);
    remove_source(&p->rewake_src);
    close(p->guest_fd);
    p->guest_fd = -1;
    p->in_len = p->in_off = 0;
    g_byte_array_set_size(p->out, 0);
    g_message("guest disconnected: port closed (%" G_GUINT64_FORMAT " bytes to the client, %"
              G_GUINT64_FORMAT " to the guest, %" G_GUINT64_FORMAT " discarded without a client)",
              p->to_client, p->to_guest, p->discarded);
    spice_server_port_event(&p->sin, SPICE_PORT_EVENT_CLOSED);
    if (p->write_refused) {
        /* Let spice-server retry: without a guest, dev_write drops. */
        p->write_refused = FALSE;
        spice_server_char_device_wakeup(&p->sin);
    }
}

static gboolean guest_readable(gint fd, GIOCondition cond, gpointer data);

/* Reads the guest socket only while nothing is held for spice-server. */
static void watch_guest(struct vr_host_port *p)
{
    if (p->guest_fd >= 0 && !p->guest_src && p->in_off >= p->in_len)
        p->guest_src = g_unix_fd_add(p->guest_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, guest_readable, p);
}

static gboolean rewake(gpointer data)
{
    struct vr_host_port *p = data;
    p->rewake_src = 0;
    if (p->client && p->in_off < p->in_len)
        spice_server_char_device_wakeup(&p->sin);
    return G_SOURCE_REMOVE;
}

static gboolean guest_readable(gint fd, GIOCondition cond, gpointer data)
{
    struct vr_host_port *p = data;
    ssize_t n = read(fd, p->in, sizeof(p->in));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        if (n < 0)
            g_message("guest socket: %s", g_strerror(errno));
        p->guest_src = 0; /* removed by returning G_SOURCE_REMOVE */
        close_guest(p);
        return G_SOURCE_REMOVE;
    }
    if (!p->client) {
        /* Nobody listens: dropped, as QEMU drops writes to such a port. */
        p->discarded += (uint64_t)n;
        g_debug("no client on the port: %zd guest bytes discarded (%" G_GUINT64_FORMAT " in all)",
                n, p->discarded);
        return G_SOURCE_CONTINUE;
    }
    p->in_len = (size_t)n;
    p->in_off = 0;
    /* Stop reading until spice-server has taken this buffer. The wakeup may
     * read it at once (and re-add a watch through dev_read), or, with its
     * queue full, later, when spice-server wakes itself. */
    p->guest_src = 0;
    spice_server_char_device_wakeup(&p->sin);
    return G_SOURCE_REMOVE;
}

static gboolean guest_writable(gint fd, GIOCondition cond, gpointer data)
{
    struct vr_host_port *p = data;
    while (p->out->len > 0) {
        ssize_t n = send(fd, p->out->data, p->out->len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return G_SOURCE_CONTINUE;
        if (n <= 0) {
            g_message("guest socket: %s", n < 0 ? g_strerror(errno) : "closed");
            p->out_src = 0;
            close_guest(p);
            return G_SOURCE_REMOVE;
        }
        p->to_guest += (uint64_t)n;
        g_byte_array_remove_range(p->out, 0, (guint)n);
    }
    p->out_src = 0;
    if (p->write_refused) {
        /* Room again: have spice-server retry now rather than on its timer. */
        p->write_refused = FALSE;
        spice_server_char_device_wakeup(&p->sin);
    }
    return G_SOURCE_REMOVE;
}

static gboolean accept_guest(gint fd, GIOCondition cond, gpointer data)
{
    struct vr_host_port *p = data;
    int g = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (g < 0)
        return G_SOURCE_CONTINUE;
    if (p->guest_fd >= 0) {
        /* A virtio port has one guest end: refuse a second. */
        g_message("second guest connection refused");
        close(g);
        return G_SOURCE_CONTINUE;
    }
    p->guest_fd = g;
    /* A TCP guest (Windows under Wine) writes small messages: no Nagle
     * delay on them. Not a TCP socket: harmlessly refused. */
    int one = 1;
    setsockopt(g, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    p->to_client = p->to_guest = p->discarded = 0;
    g_message("guest connected: port opened");
    spice_server_port_event(&p->sin, SPICE_PORT_EVENT_OPENED);
    watch_guest(p);
    return G_SOURCE_CONTINUE;
}

/* ---- char device interface (called by spice-server, main thread) ------ */

static void dev_state(SpiceCharDeviceInstance *sin, int connected)
{
    struct vr_host_port *p = from_sin(sin);
    p->client = connected != 0;
    g_message("SPICE client %s the port channel", connected ? "opened" : "closed");
    if (!p->client) {
        /* Read from the guest but not yet taken: nobody to give it to. */
        p->discarded += p->in_len - p->in_off;
        p->in_len = p->in_off = 0;
        remove_source(&p->rewake_src);
    }
    watch_guest(p);
}

/* Client -> guest. Returns how much was taken; spice-server keeps the rest. */
static int dev_write(SpiceCharDeviceInstance *sin, const uint8_t *buf, int len)
{
    struct vr_host_port *p = from_sin(sin);
    if (len <= 0)
        return 0;
    if (p->guest_fd < 0) {
        p->dropped_no_guest += (uint64_t)len;
        g_debug("no guest: %d client bytes dropped (%" G_GUINT64_FORMAT " in all)", len,
                p->dropped_no_guest);
        return len;
    }
    p->write_refused = FALSE; /* spice-server is retrying now */
    size_t room = OUT_CAP - MIN(OUT_CAP, p->out->len);
    int take = (size_t)len < room ? len : (int)room;
    if (take < len) {
        p->write_refused = TRUE;
        g_debug("guest not reading: %zu client bytes held, %d refused for now",
                (size_t)p->out->len + (size_t)take, len - take);
    }
    g_byte_array_append(p->out, buf, (guint)take);
    if (!p->out_src && p->out->len > 0) {
        /* Try at once; watch for room only if the socket would block. */
        gboolean more = guest_writable(p->guest_fd, G_IO_OUT, p);
        if (more && p->guest_fd >= 0)
            p->out_src = g_unix_fd_add(p->guest_fd, G_IO_OUT, guest_writable, p);
    }
    return take;
}

/* Guest -> client. */
static int dev_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
    struct vr_host_port *p = from_sin(sin);
    size_t avail = p->in_len - p->in_off;
    if (avail == 0 || len <= 0)
        return 0;
    size_t n = avail < (size_t)len ? avail : (size_t)len;
    memcpy(buf, p->in + p->in_off, n);
    p->in_off += n;
    p->to_client += n;
    if (p->in_off >= p->in_len) {
        p->in_len = p->in_off = 0;
        watch_guest(p);
    } else if (!p->rewake_src) {
        /* spice-server reads once per wakeup: ask again for the rest. */
        p->rewake_src = g_idle_add(rewake, p);
    }
    return (int)n;
}

static void dev_event(SpiceCharDeviceInstance *sin, uint8_t event)
{
    g_debug("port event %u from the client", event);
}

static SpiceCharDeviceInterface port_iface = {
    .base = { .type = SPICE_INTERFACE_CHAR_DEVICE, .description = "videoredir port",
              .major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
              .minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR },
    .state = dev_state, .write = dev_write, .read = dev_read, .event = dev_event,
};

int vr_host_port_start(SpiceServer *server, const char *name, const char *path,
                       struct vr_host_port **out)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (!name || !*name || !path || !*path)
        return -EINVAL;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    unlink(path); /* a stale socket from an earlier run */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    struct vr_host_port *p = g_new0(struct vr_host_port, 1);
    p->path = g_strdup(path);
    p->made = vr_host_file_id(path);
    p->listen_fd = fd;
    p->guest_fd = -1;
    p->tcp_fd = -1;
    p->out = g_byte_array_new();
    p->sin.base.sif = &port_iface.base;
    p->sin.subtype = "port";
    p->sin.portname = g_strdup(name);
    if (spice_server_add_interface(server, &p->sin.base) != 0) {
        p->sin.base.sif = NULL;
        vr_host_port_stop(p);
        return -EIO;
    }
    p->listen_src = g_unix_fd_add(fd, G_IO_IN, accept_guest, p);
    *out = p;
    return 0;
}

void vr_host_port_stop(struct vr_host_port *p)
{
    if (!p)
        return;
    close_guest(p);
    remove_source(&p->listen_src);
    remove_source(&p->tcp_src);
    remove_source(&p->rewake_src);
    if (p->tcp_fd >= 0)
        close(p->tcp_fd);
    if (p->sin.base.sif)
        spice_server_remove_interface(&p->sin.base);
    close(p->listen_fd);
    /* Only our own socket file: a host started on the same path after us
     * (a test's next run while we exit) has replaced it with its own. */
    vr_host_unlink_if_same(p->path, &p->made);
    g_free(p->path);
    g_free((char *)p->sin.portname);
    g_byte_array_unref(p->out);
    g_free(p);
}

int vr_host_port_listen_tcp(struct vr_host_port *p, const char *addr, char *bound, size_t bound_len)
{
    if (!p || !addr || p->tcp_fd >= 0)
        return -EINVAL;
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1])
        return -EINVAL;
    char *host = g_strndup(addr, (gsize)(colon - addr));
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    g_free(host);
    if (gai != 0 || !ai)
        return -EINVAL;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err = 0;
    int one = 1;
    if (fd < 0)
        err = -errno;
    else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
             bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4) < 0)
        err = -errno;
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char h[NI_MAXHOST], serv[NI_MAXSERV];
    if (!err && (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
                 getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), serv, sizeof(serv),
                             NI_NUMERICHOST | NI_NUMERICSERV) != 0))
        err = -EIO;
    if (err) {
        if (fd >= 0)
            close(fd);
        return err;
    }
    if (bound && bound_len)
        snprintf(bound, bound_len, "%s:%s", h, serv);
    p->tcp_fd = fd;
    /* The same single guest end as the unix socket: whichever connects first. */
    p->tcp_src = g_unix_fd_add(fd, G_IO_IN, accept_guest, p);
    return 0;
}

struct vr_host_file_id vr_host_file_id(const char *path)
{
    struct stat st;
    struct vr_host_file_id id = { 0 };
    if (path && stat(path, &st) == 0)
        id = (struct vr_host_file_id){ .dev = st.st_dev, .ino = st.st_ino, .known = true };
    return id;
}

void vr_host_unlink_if_same(const char *path, const struct vr_host_file_id *id)
{
    struct vr_host_file_id now = vr_host_file_id(path);
    if (id->known && now.known && now.dev == id->dev && now.ino == id->ino)
        unlink(path);
}
