/*
 * videoredir-host against a real spice-glib client and a fake guest on its
 * unix socket: QEMU's port semantics (guest data discarded while no client
 * listens, open/close events follow the guest), byte-exact relay both ways
 * under backpressure, and the QXL desktop of the configured size.
 * Usage: test_host PATH_TO_videoredir-host
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <spice-client.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../client/check.h"

static char sock_path[128];
static GPid host_pid;
static SpicePortChannel *port;
static SpiceChannel *display;
static gboolean opened;
static GByteArray *received;

static void kill_host(void)
{
    if (host_pid > 0) {
        kill(host_pid, SIGTERM);
        waitpid(host_pid, NULL, 0);
        host_pid = 0;
    }
}

static gboolean run_until(gboolean (*cond)(void), int ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
    while (!cond() && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, FALSE), g_usleep(500);
    return cond();
}

static void port_data(SpicePortChannel *ch, gpointer data, int size, gpointer user)
{
    g_byte_array_append(received, data, (guint)size);
}

static void port_opened_cb(GObject *obj, GParamSpec *ps, gpointer user)
{
    g_object_get(obj, "port-opened", &opened, NULL);
}

static void name_cb(GObject *obj, GParamSpec *ps, gpointer user)
{
    gchar *name = NULL;
    g_object_get(obj, "port-name", &name, NULL);
    if (name && !strcmp(name, "org.spice-space.videoredir.0") && !port) {
        port = SPICE_PORT_CHANNEL(obj);
        g_signal_connect(obj, "port-data", G_CALLBACK(port_data), NULL);
        g_signal_connect(obj, "notify::port-opened", G_CALLBACK(port_opened_cb), NULL);
        port_opened_cb(obj, NULL, NULL);
    }
    g_free(name);
}

static void channel_new(SpiceSession *s, SpiceChannel *ch, gpointer user)
{
    if (SPICE_IS_PORT_CHANNEL(ch)) {
        g_signal_connect(ch, "notify::port-name", G_CALLBACK(name_cb), NULL);
        spice_channel_connect(ch);
    }
    if (SPICE_IS_DISPLAY_CHANNEL(ch) && !display) {
        display = ch;
        spice_channel_connect(ch);
    }
}

static int guest_connect(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Writes all of buf from the guest while the client's main loop runs. */
static void guest_write_all(int fd, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (off < len && g_get_monotonic_time() < end) {
        size_t n = (size_t)g_random_int_range(1, 70000);
        if (n > len - off)
            n = len - off;
        ssize_t w = send(fd, buf + off, n, MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        g_main_context_iteration(NULL, FALSE);
    }
}

static size_t want_len;
static gboolean got_all(void) { return received->len >= want_len; }
static gboolean is_open(void) { return opened; }
static gboolean is_closed(void) { return !opened; }
static gboolean primary_ready(void)
{
    SpiceDisplayPrimary p;
    return display && spice_display_channel_get_primary(display, 0, &p) && p.width == 800 &&
           p.height == 600;
}

/* The built-in desktop's task bar (0x20252b) along the bottom 32 rows, its
 * first window's title bar (0x5a7d9a) at (w/16.., h/10..). */
static gboolean desktop_drawn(void)
{
    SpiceDisplayPrimary p;
    if (!primary_ready() || !spice_display_channel_get_primary(display, 0, &p) || !p.data)
        return FALSE;
    const uint32_t *bar = (const uint32_t *)(p.data + (size_t)(p.height - 5) * p.stride);
    const uint32_t *title = (const uint32_t *)(p.data + (size_t)(p.height / 10 + 5) * p.stride);
    return (bar[10] & 0xffffff) == 0x20252b && (title[p.width / 16 + 20] & 0xffffff) == 0x5a7d9a;
}

static void write_done(GObject *src, GAsyncResult *res, gpointer user)
{
    GError *err = NULL;
    spice_port_channel_write_finish(SPICE_PORT_CHANNEL(src), res, &err);
    g_clear_error(&err);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    g_random_set_seed(7);
    snprintf(sock_path, sizeof(sock_path), "/tmp/vr-test-host-%d.sock", (int)getpid());
    received = g_byte_array_new();

    /* Start the host on a free port (retry if taken). */
    int spice_port = 0;
    for (int attempt = 0; attempt < 8 && !spice_port; attempt++) {
        int p = g_random_int_range(20000, 50000);
        char ps[16];
        snprintf(ps, sizeof(ps), "%d", p);
        char *args[] = { argv[1], "--spice-port", ps, "--guest-socket", sock_path, "--size", "800x600", NULL };
        int out_fd;
        if (!g_spawn_async_with_pipes(NULL, args, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                      &host_pid, NULL, &out_fd, NULL, NULL))
            break;
        char line[256] = { 0 };
        ssize_t n = read(out_fd, line, sizeof(line) - 1); /* blocks until ready or exit */
        close(out_fd);
        if (n > 0 && strstr(line, "ready"))
            spice_port = p;
        else
            kill_host();
    }
    CHECK(spice_port != 0, "host started");
    if (!spice_port)
        return CHECK_DONE();

    /* A guest that writes before any client listens: QEMU drops that. */
    int g = guest_connect();
    CHECK(g >= 0, "guest connects");
    static const char early[] = "written while nobody listened";
    CHECK(send(g, early, sizeof(early), MSG_NOSIGNAL) == sizeof(early), "early write");
    g_usleep(200000);

    SpiceSession *s = spice_session_new();
    char uri[64];
    snprintf(uri, sizeof(uri), "spice://127.0.0.1:%d", spice_port);
    g_object_set(s, "uri", uri, NULL);
    g_signal_connect(s, "channel-new", G_CALLBACK(channel_new), NULL);
    CHECK(spice_session_connect(s), "session connect");
    CHECK(run_until(is_open, 10000), "port opened (guest was already there)");
    g_usleep(200000);
    g_main_context_iteration(NULL, FALSE);
    CHECK(received->len == 0, "early guest bytes discarded: %u arrived", received->len);

    /* Guest -> client, 4 MiB in random pieces, byte-exact. */
    want_len = 4u << 20;
    uint8_t *data = g_malloc(want_len);
    for (size_t i = 0; i < want_len; i++)
        data[i] = (uint8_t)g_random_int();
    guest_write_all(g, data, want_len);
    CHECK(run_until(got_all, 30000), "received %u of %zu", received->len, want_len);
    CHECK(received->len == want_len && !memcmp(received->data, data, want_len), "byte-exact");

    /* Client -> guest. */
    uint8_t back[16384];
    for (size_t i = 0; i < sizeof(back); i++)
        back[i] = (uint8_t)(i * 13);
    spice_port_channel_write_async(port, back, sizeof(back), NULL, write_done, NULL);
    uint8_t in[sizeof(back)];
    size_t got = 0;
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (got < sizeof(in) && g_get_monotonic_time() < end) {
        ssize_t r = recv(g, in + got, sizeof(in) - got, 0);
        if (r > 0)
            got += (size_t)r;
        g_main_context_iteration(NULL, FALSE);
    }
    CHECK(got == sizeof(back) && !memcmp(in, back, sizeof(back)), "client -> guest: %zu bytes", got);

    /* The guest going away closes the port; coming back opens it. */
    close(g);
    CHECK(run_until(is_closed, 10000), "port closed when the guest left");
    g = guest_connect();
    CHECK(run_until(is_open, 10000), "port opened when the guest came back");
    int g2 = guest_connect();
    char c;
    CHECK(g2 >= 0 && (g_usleep(100000), recv(g2, &c, 1, 0)) == 0, "second guest refused");
    if (g2 >= 0)
        close(g2);

    /* The desktop. */
    CHECK(run_until(primary_ready, 10000), "primary surface 800x600");
    CHECK(run_until(desktop_drawn, 10000), "the built-in desktop reached the client");

    close(g);
    spice_session_disconnect(s);
    g_object_unref(s);
    kill_host();
    CHECK(access(sock_path, F_OK) != 0, "socket removed at exit");
    g_free(data);
    g_byte_array_unref(received);
    return CHECK_DONE();
}
