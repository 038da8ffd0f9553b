/*
 * videoredir-host against a real spice-glib client and a fake guest on its
 * unix socket:
 *  - QEMU's port semantics: guest data discarded while no client listens
 *    (before the first client and between sessions), open/close events
 *    follow the guest, one guest at a time;
 *  - byte-exact relay both ways (5 MiB guest -> client in random pieces,
 *    64 KiB client -> guest), and spice-server's backpressure reaching the
 *    guest when the client stops reading;
 *  - the QXL desktop: a primary surface of the configured size showing the
 *    built-in picture, again after a reconnect, and a --desktop PNG;
 *  - the command line: --help, bad arguments, clean exit on SIGTERM (exit
 *    status 0, socket removed; under VR_SANITIZE that includes LeakSanitizer).
 * Every host process is killed if the test dies or hangs (watchdog alarm,
 * parent-death signal).
 * Usage: test_host PATH_TO_videoredir-host
 */
#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <poll.h>
#include <signal.h>
#include <spice-client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int checks, failures;
#define CHECK(cond, ...)                                                             \
    do {                                                                             \
        checks++;                                                                    \
        if (!(cond)) {                                                               \
            failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define PORT_NAME "org.spice-space.videoredir.0"
static const char *port_name = PORT_NAME; /* the one session_open waits for */

static const char *host_bin;
static char sock_path[108], png_path[108];
static volatile pid_t host_pid; /* read by the alarm handler */

/* ---- host process ---------------------------------------------------------- */

static void on_alarm(int sig)
{
    static const char msg[] = "test_host: watchdog: timed out, killing the host\n";
    if (host_pid > 0)
        kill(host_pid, SIGKILL);
    if (write(2, msg, sizeof(msg) - 1) < 0) {
        /* nothing left to do */
    }
    _exit(1);
}

static void child_setup(gpointer data)
{
    /* The host must not outlive the test, whatever kills it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Stops the host with sig; returns its wait status (or -1 if it hangs). */
static int stop_host(int sig)
{
    if (host_pid <= 0)
        return -1;
    int status = -1;
    kill(host_pid, sig);
    for (int i = 0; i < 1000; i++) { /* 10 s: sanitizer builds exit slowly */
        pid_t r = waitpid(host_pid, &status, WNOHANG);
        if (r == host_pid)
            break;
        if (i == 999) {
            kill(host_pid, SIGKILL);
            waitpid(host_pid, NULL, 0);
            status = -1;
        }
        g_usleep(10000);
    }
    host_pid = 0;
    return status;
}

/* Runs the host with args (NULL-terminated), waits for its ready line.
 * Returns the SPICE port, 0 on failure. */
static int start_host(const char *const *extra)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        int port = g_random_int_range(20000, 50000);
        char ps[16];
        snprintf(ps, sizeof(ps), "%d", port);
        const char *args[32] = { host_bin, "--spice-port", ps, "--guest-socket", sock_path };
        int n = 5;
        for (int i = 0; extra && extra[i] && n < 31; i++)
            args[n++] = extra[i];
        args[n] = NULL;
        int out_fd = -1;
        GPid pid;
        GError *err = NULL;
        if (!g_spawn_async_with_pipes(NULL, (char **)args, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                      child_setup, NULL, &pid, NULL, &out_fd, NULL, &err)) {
            fprintf(stderr, "cannot run %s: %s\n", host_bin, err->message);
            g_error_free(err);
            return 0;
        }
        host_pid = pid;
        char line[256] = { 0 };
        size_t len = 0;
        gint64 end = g_get_monotonic_time() + 15 * G_USEC_PER_SEC;
        while (!strchr(line, '\n') && len < sizeof(line) - 1 && g_get_monotonic_time() < end) {
            struct pollfd pfd = { .fd = out_fd, .events = POLLIN };
            if (poll(&pfd, 1, 100) <= 0)
                continue;
            ssize_t r = read(out_fd, line + len, sizeof(line) - 1 - len);
            if (r <= 0)
                break; /* exited */
            len += (size_t)r;
        }
        close(out_fd);
        char want[200];
        snprintf(want, sizeof(want), "videoredir-host: ready spice-port=%d guest-socket=%s\n", port,
                 sock_path);
        if (!strcmp(line, want))
            return port;
        fprintf(stderr, "host attempt %d: got '%s'\n", attempt, line);
        stop_host(SIGTERM);
    }
    return 0;
}

/* Runs the host to completion; returns its exit code (-1 if not exited). */
static int run_host_status(const char *const *args, char **err_out)
{
    int status = -1;
    gchar *err = NULL;
    GError *error = NULL;
    if (!g_spawn_sync(NULL, (char **)args, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, child_setup, NULL,
                      NULL, &err, &status, &error)) {
        g_error_free(error);
        return -1;
    }
    if (err_out)
        *err_out = err;
    else
        g_free(err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- SPICE client --------------------------------------------------------- */

struct session {
    SpiceSession *s;
    SpicePortChannel *port;
    SpiceChannel *display;
    gboolean opened;
    int primary_w, primary_h, invalidates;
    GByteArray *received;
};
static struct session cur;

static gboolean run_until(gboolean (*cond)(void), int ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
    while (!cond() && g_get_monotonic_time() < end)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(500);
    return cond();
}

static void port_data(SpicePortChannel *ch, gpointer data, int size, gpointer user)
{
    g_byte_array_append(cur.received, data, (guint)size);
}

static void port_opened_cb(GObject *obj, GParamSpec *ps, gpointer user)
{
    g_object_get(obj, "port-opened", &cur.opened, NULL);
}

static void name_cb(GObject *obj, GParamSpec *ps, gpointer user)
{
    gchar *name = NULL;
    g_object_get(obj, "port-name", &name, NULL);
    if (name && !strcmp(name, port_name) && !cur.port) {
        cur.port = SPICE_PORT_CHANNEL(obj);
        g_signal_connect(obj, "port-data", G_CALLBACK(port_data), NULL);
        g_signal_connect(obj, "notify::port-opened", G_CALLBACK(port_opened_cb), NULL);
        port_opened_cb(obj, NULL, NULL);
    }
    g_free(name);
}

static void primary_create(SpiceChannel *ch, gint format, gint w, gint h, gint stride, gint shmid,
                           gpointer data, gpointer user)
{
    cur.primary_w = w;
    cur.primary_h = h;
}

static void invalidate(SpiceChannel *ch, gint x, gint y, gint w, gint h, gpointer user)
{
    cur.invalidates++;
}

static void channel_new(SpiceSession *s, SpiceChannel *ch, gpointer user)
{
    if (SPICE_IS_PORT_CHANNEL(ch)) {
        g_signal_connect(ch, "notify::port-name", G_CALLBACK(name_cb), NULL);
        spice_channel_connect(ch);
    }
    if (SPICE_IS_DISPLAY_CHANNEL(ch) && !cur.display) {
        cur.display = ch;
        g_signal_connect(ch, "display-primary-create", G_CALLBACK(primary_create), NULL);
        g_signal_connect(ch, "display-invalidate", G_CALLBACK(invalidate), NULL);
        spice_channel_connect(ch);
    }
}

static gboolean have_port(void) { return cur.port != NULL; }
static gboolean is_open(void) { return cur.opened; }
static gboolean is_closed(void) { return !cur.opened; }

static gboolean session_open(int spice_port)
{
    memset(&cur, 0, sizeof(cur));
    cur.received = g_byte_array_new();
    cur.s = spice_session_new();
    char uri[64];
    snprintf(uri, sizeof(uri), "spice://127.0.0.1:%d", spice_port);
    g_object_set(cur.s, "uri", uri, NULL);
    g_signal_connect(cur.s, "channel-new", G_CALLBACK(channel_new), NULL);
    return spice_session_connect(cur.s) && run_until(have_port, 10000);
}

static void session_close(void)
{
    if (cur.s) {
        spice_session_disconnect(cur.s);
        g_object_unref(cur.s);
    }
    /* Let the disconnect reach the server. */
    for (int i = 0; i < 50; i++) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(2000);
    }
    g_byte_array_unref(cur.received);
    memset(&cur, 0, sizeof(cur));
}

/* Keeps the client's main loop running for ms. */
static void spin(int ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
    while (g_get_monotonic_time() < end)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(500);
}

static int want_w, want_h;
static gboolean primary_ready(void)
{
    SpiceDisplayPrimary p;
    return cur.display && spice_display_channel_get_primary(cur.display, 0, &p) && p.data &&
           (int)p.width == want_w && (int)p.height == want_h;
}

/* Pixel (x, y) of the client's primary surface, 0xRRGGBB. */
static uint32_t pixel(int x, int y)
{
    SpiceDisplayPrimary p;
    if (!primary_ready() || !spice_display_channel_get_primary(cur.display, 0, &p))
        return 0xff000000u;
    const uint8_t *row = p.data + (size_t)y * p.stride;
    uint32_t v;
    memcpy(&v, row + (size_t)x * 4, 4);
    return v & 0xffffff;
}

/* The built-in desktop (desktop.c): task bar 0x20252b over the bottom 32
 * rows, window 1 title bar 0x5a7d9a at (w/16, h/10) 24 rows high, window 1
 * body 0xe8e4dc, window 2 title bar 0x6b8f5e at (w*9/16, h/2). */
static gboolean builtin_desktop_drawn(void)
{
    int w = want_w, h = want_h;
    return primary_ready() && pixel(10, h - 5) == 0x20252b && pixel(w / 16 + 20, h / 10 + 5) == 0x5a7d9a &&
           pixel(w / 16 + 30, h / 10 + 60) == 0xe8e4dc && pixel(w * 9 / 16 + 40, h / 2 + 10) == 0x6b8f5e;
}

/* The PNG desktop: four flat quadrants. */
static const uint32_t quad[4] = { 0xc03020, 0x20a040, 0x2050d0, 0xf0e060 };
static gboolean png_desktop_drawn(void)
{
    int w = want_w, h = want_h;
    return primary_ready() && pixel(w / 4, h / 4) == quad[0] && pixel(3 * w / 4, h / 4) == quad[1] &&
           pixel(w / 4, 3 * h / 4) == quad[2] && pixel(3 * w / 4, 3 * h / 4) == quad[3];
}

/* ---- fake guest ----------------------------------------------------------- */

static int guest_connect(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Writes buf from the guest in random pieces while the client's loop runs. */
static size_t guest_write_all(int fd, const uint8_t *buf, size_t len)
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
    return off;
}

/* Reads exactly len bytes into buf on the guest side while the client runs. */
static size_t guest_read_all(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (got < len && g_get_monotonic_time() < end) {
        ssize_t r = recv(fd, buf + got, len - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(200);
    }
    return got;
}

/* Largest value (the third field) of a TCP buffer sysctl such as
 * /proc/sys/net/ipv4/tcp_rmem; fallback if it cannot be read. */
static size_t tcp_buf_max(const char *path, size_t fallback)
{
    FILE *f = fopen(path, "r");
    unsigned long lo, def, hi;
    if (!f)
        return fallback;
    int n = fscanf(f, "%lu %lu %lu", &lo, &def, &hi);
    fclose(f);
    return n == 3 ? (size_t)hi : fallback;
}

static size_t want_len;
static gboolean got_all(void) { return cur.received->len >= want_len; }

static void write_done(GObject *src, GAsyncResult *res, gpointer user)
{
    GError *err = NULL;
    spice_port_channel_write_finish(SPICE_PORT_CHANNEL(src), res, &err);
    g_clear_error(&err);
}

/* ---- desktop image -------------------------------------------------------- */

/* Writes a 320x200 PNG with four flat quadrants (libavcodec's encoder). */
static int write_png(const char *path)
{
    const int w = 320, h = 200;
    int ret = -1;
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    AVCodecContext *ctx = codec ? avcodec_alloc_context3(codec) : NULL;
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    if (!ctx || !f || !pkt)
        goto out;
    ctx->width = w;
    ctx->height = h;
    ctx->pix_fmt = AV_PIX_FMT_RGB24;
    ctx->time_base = (AVRational){ 1, 1 };
    f->width = w;
    f->height = h;
    f->format = AV_PIX_FMT_RGB24;
    if (avcodec_open2(ctx, codec, NULL) < 0 || av_frame_get_buffer(f, 0) < 0)
        goto out;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t c = quad[(y >= h / 2) * 2 + (x >= w / 2)];
            uint8_t *px = f->data[0] + (size_t)y * f->linesize[0] + (size_t)x * 3;
            px[0] = (uint8_t)(c >> 16), px[1] = (uint8_t)(c >> 8), px[2] = (uint8_t)c;
        }
    if (avcodec_send_frame(ctx, f) < 0 || avcodec_receive_packet(ctx, pkt) < 0)
        goto out;
    FILE *fp = fopen(path, "wb");
    if (fp) {
        ret = fwrite(pkt->data, 1, (size_t)pkt->size, fp) == (size_t)pkt->size ? 0 : -1;
        if (fclose(fp) != 0)
            ret = -1;
    }
out:
    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&ctx);
    return ret;
}

/* ---- the scenarios -------------------------------------------------------- */

static void test_command_line(void)
{
    char *err = NULL;
    const char *help[] = { host_bin, "--help", NULL };
    CHECK(run_host_status(help, NULL) == 0, "--help exits 0");
    const char *bad_size[] = { host_bin, "--size", "12x", NULL };
    CHECK(run_host_status(bad_size, &err) == 2 && err && strstr(err, "--size"),
          "bad --size: exit 2 and a message: %s", err ? err : "");
    g_free(err);
    err = NULL;
    const char *bad_img[] = { host_bin, "--desktop", "/nonexistent/desktop.png", "--spice-port", "1",
                              NULL };
    CHECK(run_host_status(bad_img, &err) == 1 && err && strstr(err, "/nonexistent/desktop.png"),
          "unreadable --desktop: exit 1 naming the file: %s", err ? err : "");
    g_free(err);
}

static void test_port_and_desktop(void)
{
    const char *extra[] = { "--size", "800x600", NULL };
    int spice_port = start_host(extra);
    CHECK(spice_port != 0, "host started");
    if (!spice_port)
        return;

    /* A guest that writes before any client listens: QEMU drops that. */
    int g = guest_connect();
    CHECK(g >= 0, "guest connects");
    static const char early[] = "written while nobody listened";
    CHECK(send(g, early, sizeof(early), MSG_NOSIGNAL) == sizeof(early), "early write");
    g_usleep(300000);

    CHECK(session_open(spice_port), "session connects, port channel " PORT_NAME " found");
    CHECK(run_until(is_open, 10000), "port opened (the guest was already there)");
    spin(300);
    CHECK(cur.received->len == 0, "early guest bytes discarded: %u arrived", cur.received->len);

    /* Guest -> client, 5 MiB in random pieces, byte-exact. */
    want_len = 5u << 20;
    uint8_t *data = g_malloc(want_len);
    for (size_t i = 0; i < want_len; i++)
        data[i] = (uint8_t)g_random_int();
    CHECK(guest_write_all(g, data, want_len) == want_len, "guest wrote 5 MiB");
    CHECK(run_until(got_all, 30000), "received %u of %zu", cur.received->len, want_len);
    CHECK(cur.received->len == want_len && !memcmp(cur.received->data, data, want_len),
          "guest -> client byte-exact");

    /* Backpressure: with the client not reading, the guest must block
     * (spice-server stops taking data at ~1 MiB queued, the host stops
     * reading the socket); then everything arrives once the client reads.
     * Before it blocks, the kernel's TCP buffers between server and client
     * take what they may grow to (autotuning: up to tcp_rmem's and
     * tcp_wmem's maximum, 32 + 4 MiB on some machines); above that plus
     * spice-server's queue, the host's and the socket's buffers, nothing
     * held the guest back. */
    g_byte_array_set_size(cur.received, 0);
    size_t pushed = 0;
    const size_t bound = tcp_buf_max("/proc/sys/net/ipv4/tcp_rmem", 6u << 20) +
                         tcp_buf_max("/proc/sys/net/ipv4/tcp_wmem", 4u << 20) + (8u << 20);
    const size_t limit = bound + (16u << 20);
    uint8_t *flood = g_malloc(limit);
    for (size_t i = 0; i < limit; i++)
        flood[i] = (uint8_t)(i * 7 + (i >> 13));
    gint64 last_progress = g_get_monotonic_time();
    while (pushed < limit && g_get_monotonic_time() - last_progress < 500000) {
        ssize_t w = send(g, flood + pushed, MIN((size_t)65536, limit - pushed), MSG_NOSIGNAL);
        if (w > 0) {
            pushed += (size_t)w;
            last_progress = g_get_monotonic_time();
        } else {
            g_usleep(1000); /* the client's loop deliberately not run */
        }
    }
    g_message("backpressure: guest blocked after %zu bytes", pushed);
    CHECK(pushed < bound, "guest blocked while the client did not read (%zu bytes accepted, bound %zu)",
          pushed, bound);
    want_len = pushed;
    CHECK(run_until(got_all, 30000), "after backpressure: received %u of %zu", cur.received->len,
          pushed);
    CHECK(cur.received->len == pushed && !memcmp(cur.received->data, flood, pushed),
          "backpressured bytes byte-exact");
    g_free(flood);

    /* Client -> guest, 64 KiB. */
    static uint8_t back[65536], in[65536];
    for (size_t i = 0; i < sizeof(back); i++)
        back[i] = (uint8_t)(i * 13 + 5);
    spice_port_channel_write_async(cur.port, back, sizeof(back), NULL, write_done, NULL);
    size_t got = guest_read_all(g, in, sizeof(in));
    CHECK(got == sizeof(back) && !memcmp(in, back, sizeof(back)), "client -> guest: %zu bytes", got);

    /* Client -> guest while the guest does not read: the host holds up to
     * its cap, refuses the rest (spice-server keeps it), and everything
     * arrives in order once the guest reads again. */
    const size_t big_len = 12u << 20;
    uint8_t *big = g_malloc(big_len), *big_in = g_malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (uint8_t)g_random_int();
    spice_port_channel_write_async(cur.port, big, big_len, NULL, write_done, NULL);
    spin(500);
    gint64 t0 = g_get_monotonic_time();
    size_t big_got = guest_read_all(g, big_in, big_len);
    g_message("client -> guest: 12 MiB drained in %.0f ms after a 500 ms stall",
              (double)(g_get_monotonic_time() - t0) / 1000.0);
    CHECK(big_got == big_len && !memcmp(big_in, big, big_len),
          "client -> guest through a stalled guest: %zu of %zu bytes, in order", big_got, big_len);
    g_free(big);
    g_free(big_in);

    /* The guest going away closes the port; coming back opens it. */
    close(g);
    CHECK(run_until(is_closed, 10000), "port closed when the guest left");
    g = guest_connect();
    CHECK(g >= 0 && run_until(is_open, 10000), "port opened when the guest came back");
    int g2 = guest_connect();
    char c;
    g_usleep(100000);
    CHECK(g2 >= 0 && recv(g2, &c, 1, 0) == 0, "second guest connection refused (closed)");
    if (g2 >= 0)
        close(g2);
    /* The first guest still works. */
    g_byte_array_set_size(cur.received, 0);
    static const char hello[] = "still here";
    CHECK(send(g, hello, sizeof(hello), MSG_NOSIGNAL) == sizeof(hello), "guest write");
    want_len = sizeof(hello);
    CHECK(run_until(got_all, 10000) && !memcmp(cur.received->data, hello, sizeof(hello)),
          "first guest unaffected by the refused one");

    /* The desktop. */
    want_w = 800, want_h = 600;
    CHECK(run_until(primary_ready, 10000), "primary surface 800x600");
    CHECK(cur.primary_w == 800 && cur.primary_h == 600, "display-primary-create %dx%d",
          cur.primary_w, cur.primary_h);
    CHECK(run_until(builtin_desktop_drawn, 10000), "the built-in desktop reached the client");
    CHECK(cur.invalidates > 0, "display-invalidate emitted");

    /* Client gone: guest data is discarded again, and a new client gets
     * none of it, but the desktop and whatever the guest writes next. */
    session_close();
    g_usleep(300000);
    static const char between[] = "written between sessions";
    CHECK(send(g, between, sizeof(between), MSG_NOSIGNAL) == sizeof(between), "write between");
    g_usleep(300000);
    CHECK(session_open(spice_port), "second session");
    CHECK(run_until(is_open, 10000), "second session sees the port opened");
    spin(300);
    CHECK(cur.received->len == 0, "bytes written between sessions discarded: %u arrived",
          cur.received->len);
    static const char fresh[] = "fresh";
    CHECK(send(g, fresh, sizeof(fresh), MSG_NOSIGNAL) == sizeof(fresh), "fresh write");
    want_len = sizeof(fresh);
    CHECK(run_until(got_all, 10000) && cur.received->len == sizeof(fresh) &&
              !memcmp(cur.received->data, fresh, sizeof(fresh)),
          "second session receives exactly the fresh bytes");
    CHECK(run_until(builtin_desktop_drawn, 10000), "desktop again after a reconnect");

    close(g);
    CHECK(run_until(is_closed, 10000), "port closed at the end");
    session_close();
    int st = stop_host(SIGTERM);
    CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "host exits 0 on SIGTERM (status 0x%x; sanitizer report on its stderr)", (unsigned)st);
    CHECK(access(sock_path, F_OK) != 0, "socket removed at exit");
    g_free(data);
}

static void test_png_desktop(void)
{
    CHECK(write_png(png_path) == 0, "test PNG written");
    const char *extra[] = { "--size", "640x480", "--desktop", png_path, "--port-name",
                            "org.example.custom.1", NULL };
    /* Debug output on: stdout must still carry nothing but the ready line. */
    g_setenv("G_MESSAGES_DEBUG", "videoredir-host", TRUE);
    int spice_port = start_host(extra);
    g_unsetenv("G_MESSAGES_DEBUG");
    CHECK(spice_port != 0, "host started with --desktop PNG");
    if (!spice_port)
        return;
    port_name = "org.example.custom.1";
    CHECK(session_open(spice_port), "session connects, finds the port named by --port-name");
    port_name = PORT_NAME;
    want_w = 640, want_h = 480;
    CHECK(run_until(primary_ready, 10000), "primary surface 640x480");
    CHECK(run_until(png_desktop_drawn, 10000), "PNG scaled onto the desktop: %06x %06x %06x %06x",
          pixel(want_w / 4, want_h / 4), pixel(3 * want_w / 4, want_h / 4),
          pixel(want_w / 4, 3 * want_h / 4), pixel(3 * want_w / 4, 3 * want_h / 4));

    /* A second host on the same SPICE port fails clearly and leaves the
     * running one's guest socket alone. */
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", spice_port);
    const char *twin[] = { host_bin, "--spice-port", ps, "--guest-socket", sock_path, NULL };
    char *err = NULL;
    CHECK(run_host_status(twin, &err) == 1 && err && strstr(err, "in use"),
          "second host on a busy port: exit 1 and a message: %s", err ? err : "");
    g_free(err);
    CHECK(access(sock_path, F_OK) == 0, "the running host's socket is still there");
    session_close();
    int st = stop_host(SIGINT);
    CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "host exits 0 on SIGINT (status 0x%x)",
          (unsigned)st);
    CHECK(access(sock_path, F_OK) != 0, "socket removed after SIGINT");
    unlink(png_path);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH_TO_videoredir-host\n", argv[0]);
        return 2;
    }
    host_bin = argv[1];
    signal(SIGALRM, on_alarm);
    alarm(100);
    g_random_set_seed(7);
    snprintf(sock_path, sizeof(sock_path), "/tmp/vr-test-host-%d.sock", (int)getpid());
    snprintf(png_path, sizeof(png_path), "/tmp/vr-test-host-%d.png", (int)getpid());

    test_command_line();
    test_port_and_desktop();
    test_png_desktop();

    stop_host(SIGKILL); /* only if a scenario returned early */
    unlink(sock_path);
    unlink(png_path);
    printf("%d passed, %d failed\n", checks - failures, failures);
    fflush(stdout); /* before LeakSanitizer's exit handler, which may _exit */
    return failures != 0;
}
