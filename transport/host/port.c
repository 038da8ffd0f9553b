/*
 * The videoredir port: a "port" char device whose guest end is a unix
 * socket, behaving like QEMU's spiceport chardev where it matters:
 *  - the guest connecting/disconnecting sends port opened/closed events;
 *  - guest data is read from the socket only when spice-server takes it, so
 *    its backpressure reaches the guest;
 *  - while no SPICE client has the port channel, guest data is discarded.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host.h"

#define IN_BUF (64 * 1024)
#define OUT_CAP (4u << 20)

struct vr_host_port {
    SpiceCharDeviceInstance sin;
    SpiceServer *server;
    char *path;
    int listen_fd, guest_fd;
    guint listen_src, guest_src;
    gboolean client; /* a SPICE client has the port channel */
    /* guest -> client, one buffer */
    uint8_t in[IN_BUF];
    size_t in_len, in_off;
    guint wake_src;
    /* client -> guest */
    GByteArray *out;
    guint out_src;
    uint64_t discarded;
};

static struct vr_host_port *from_sin(SpiceCharDeviceInstance *sin)
{
    return (struct vr_host_port *)((char *)sin - offsetof(struct vr_host_port, sin));
}

static void watch_guest(struct vr_host_port *p);

static void close_guest(struct vr_host_port *p)
{
    if (p->guest_fd < 0)
        return;
    if (p->guest_src)
        g_source_remove(p->guest_src);
    if (p->out_src)
        g_source_remove(p->out_src);
    p->guest_src = p->out_src = 0;
    close(p->guest_fd);
    p->guest_fd = -1;
    p->in_len = p->in_off = 0;
    g_byte_array_set_size(p->out, 0);
    g_message("guest disconnected: port closed");
    spice_server_port_event(&p->sin, SPICE_PORT_EVENT_CLOSED);
}

/* spice-server takes at most one message per wakeup: keep waking it while
 * we hold data, as QEMU does on every guest write. */
static gboolean wake(gpointer data)
{
    struct vr_host_port *p = data;
    if (p->in_off < p->in_len && p->client) {
        spice_server_char_device_wakeup(&p->sin);
        return G_SOURCE_CONTINUE;
    }
    p->wake_src = 0;
    return G_SOURCE_REMOVE;
}

static gboolean guest_readable(gint fd, GIOCondition cond, gpointer data)
{
    struct vr_host_port *p = data;
    ssize_t n = read(fd, p->in, sizeof(p->in));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        p->guest_src = 0;
        close_guest(p);
        return G_SOURCE_REMOVE;
    }
    if (n < 0)
        return G_SOURCE_CONTINUE;
    if (!p->client) {
        /* Nobody listens: dropped, as QEMU drops writes to such a port. */
        p->discarded += (uint64_t)n;
        g_debug("no client on the port: %zd guest bytes discarded (%" G_GUINT64_FORMAT " in all)",
                n, p->discarded);
        return G_SOURCE_CONTINUE;
    }
    p->in_len = (size_t)n;
    p->in_off = 0;
    /* Stop reading until spice-server has taken this buffer. */
    p->guest_src = 0;
    spice_server_char_device_wakeup(&p->sin);
    if (!p->wake_src)
        p->wake_src = g_timeout_add(1, wake, p);
    return G_SOURCE_REMOVE;
}

static void watch_guest(struct vr_host_port *p)
{
    if (p->guest_fd >= 0 && !p->guest_src && p->in_off >= p->in_len)
        p->guest_src = g_unix_fd_add(p->guest_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, guest_readable, p);
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
            p->out_src = 0;
            close_guest(p);
            return G_SOURCE_REMOVE;
        }
        g_byte_array_remove_range(p->out, 0, (guint)n);
    }
    p->out_src = 0;
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
    g_message("guest connected: port opened");
    spice_server_port_event(&p->sin, SPICE_PORT_EVENT_OPENED);
    watch_guest(p);
    return G_SOURCE_CONTINUE;
}

/* ---- char device interface (called by spice-server) ------------------- */

static void dev_state(SpiceCharDeviceInstance *sin, int connected)
{
    struct vr_host_port *p = from_sin(sin);
    p->client = connected != 0;
    g_message("SPICE client %s the port", connected ? "opened" : "closed");
    if (!p->client)
        p->in_len = p->in_off = 0; /* nobody to give it to */
    watch_guest(p);
}

/* Client -> guest. */
static int dev_write(SpiceCharDeviceInstance *sin, const uint8_t *buf, int len)
{
    struct vr_host_port *p = from_sin(sin);
    if (p->guest_fd < 0) {
        g_debug("no guest: %d client bytes dropped", len);
        return len;
    }
    size_t room = OUT_CAP - MIN(OUT_CAP, p->out->len);
    int take = (size_t)len < room ? len : (int)room;
    g_byte_array_append(p->out, buf, (guint)take);
    if (!p->out_src && p->out->len > 0) {
        guest_writable(p->guest_fd, G_IO_OUT, p);
        if (p->guest_fd >= 0 && p->out->len > 0)
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
    if (p->in_off >= p->in_len) {
        p->in_len = p->in_off = 0;
        watch_guest(p);
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
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
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
    p->server = server;
    p->path = g_strdup(path);
    p->listen_fd = fd;
    p->guest_fd = -1;
    p->out = g_byte_array_new();
    p->sin.base.sif = &port_iface.base;
    p->sin.subtype = "port";
    p->sin.portname = g_strdup(name);
    if (spice_server_add_interface(server, &p->sin.base) != 0) {
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
    if (p->listen_src)
        g_source_remove(p->listen_src);
    if (p->wake_src)
        g_source_remove(p->wake_src);
    if (p->sin.base.sif)
        spice_server_remove_interface(&p->sin.base);
    close(p->listen_fd);
    unlink(p->path);
    g_free(p->path);
    g_free((char *)p->sin.portname);
    g_byte_array_unref(p->out);
    g_free(p);
}
