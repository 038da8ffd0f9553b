/*
 * Benchmark: bytes per second through a real spice-server port channel
 * (videoredir-host) to a spice-glib client, raw bytes against the same
 * payload carried as videoredir FRAME messages under flow control (the
 * client sends FEEDBACK, the guest keeps to its window).
 *
 * One process plays both ends: a thread writes into the host stand-in's
 * guest socket, the main loop is the SPICE client. Rounds alternate
 * raw / framed so that machine noise hits both alike; the ratio is taken per
 * round pair and the median printed.
 *
 * The payload is random by default: compressed video does not compress,
 * while spice-server LZ4-compresses port data for clients that support it
 * (Debian's spice-server and spice-glib both do), so a repetitive payload
 * would measure LZ4 instead of the port (--payload pattern shows that).
 *
 * Usage: bench-port-throughput --uri spice://127.0.0.1:PORT --guest-socket PATH
 *                              [--mib N] [--rounds N] [--frame-kib N]
 *                              [--payload random|pattern] [--window-kib N]
 *                              [--feedback-kib N] [--only raw|framed] [--copy]
 */
#define G_LOG_DOMAIN "videoredir-bench"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spice-client.h>

#include <videoredir/transport-spice.h>

struct bench {
    GMainLoop *loop;
    VrSpicePort *port;
    struct vr_conn *conn; /* client side; raw mode only counts bytes */
    char *sock;
    gboolean framed;
    gboolean pattern;  /* compressible payload instead of random bytes */
    gboolean copy;     /* framed: queue frames in the conn (a copy each), no direct writes */
    size_t total;      /* payload bytes to move in a round */
    size_t frame_size;
    size_t window;     /* guest's byte window (0: the conn's default) */
    size_t fb_every;   /* client FEEDBACK every this many payload bytes */
    size_t got;        /* payload bytes received this round */
    uint64_t t0, t1;
    size_t since_fb;
    gint opened;
    gboolean done;
};

/* ---- guest side (a thread) -------------------------------------------- */

struct guest {
    struct vr_conn *conn;
};

static void guest_msg(void *user, const struct vr_msg *m)
{
    struct guest *g = user;
    if (m->type == VR_MSG_FEEDBACK)
        vr_conn_ack(g->conn, m->u.feedback.bytes_received);
}

static void wait_fd(int fd, short ev)
{
    struct pollfd p = { .fd = fd, .events = ev };
    poll(&p, 1, 100);
}

static void guest_raw(struct bench *b, int fd, const uint8_t *payload)
{
    size_t left = b->total;
    while (left > 0) {
        size_t n = left < b->frame_size ? left : b->frame_size;
        ssize_t w = send(fd, payload, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            wait_fd(fd, POLLOUT);
            continue;
        }
        if (w <= 0)
            return;
        left -= (size_t)w;
    }
}

static void guest_framed(struct bench *b, int fd, const uint8_t *payload)
{
    struct guest g = { 0 };
    struct vr_conn_callbacks cb = { .on_message = guest_msg };
    struct vr_conn_config cfg = { .window_bytes = b->window };
    if (vr_conn_create(&cfg, &cb, &g, &g.conn) < 0)
        return;
    /* Large frames go to the socket from the payload buffer (no copy), as a
     * guest sending from its demuxer's packets would. */
    if (!b->copy)
        vr_fd_attach(g.conn, fd);
    struct vr_msg *m = calloc(1, sizeof(*m));
    m->type = VR_MSG_STREAM_START;
    m->stream_id = 1;
    m->u.start = (struct vr_stream_start){ .codec = VR_CODEC_H264, .width = 1920, .height = 1080,
                                           .timebase_num = 1, .timebase_den = 90000 };
    vr_conn_send(g.conn, m);
    size_t left = b->total;
    int64_t pts = 0;
    while (left > 0 || vr_conn_out_queued(g.conn) > 0) {
        /* A frame goes out when the socket took everything before it, so
         * that vr_conn_send writes it from the payload buffer (the kernel's
         * socket buffer is the queue; nothing is copied into the conn's). */
        while (left > 0 && (b->copy || vr_conn_out_queued(g.conn) == 0) &&
               vr_conn_window_available(g.conn) >= b->frame_size) {
            size_t n = left < b->frame_size ? left : b->frame_size;
            memset(m, 0, sizeof(*m));
            m->type = VR_MSG_FRAME;
            m->stream_id = 1;
            m->u.frame = (struct vr_frame){ .pts = pts, .dts = pts, .duration = 3000,
                                            .data_len = (uint32_t)n, .data = payload,
                                            .send_time_us = vr_time_us() };
            pts += 3000;
            if (vr_conn_send(g.conn, m) < 0)
                break;
            left -= n;
        }
        int ret = vr_fd_flush(g.conn, fd);
        if (ret < 0 && ret != -EAGAIN)
            break;
        /* Read feedback; wait for it when the window is shut, for room when
         * the socket is full, and not at all when both allow another frame. */
        if (vr_fd_read(g.conn, fd) == -EAGAIN && !(ret == 0 && left > 0 &&
                                                   vr_conn_window_available(g.conn) >= b->frame_size))
            wait_fd(fd, ret == -EAGAIN ? POLLOUT | POLLIN : POLLIN);
    }
    /* Keep answering until the client has it all (the socket stays open). */
    free(m);
    vr_fd_attach(g.conn, -1);
    vr_conn_destroy(g.conn);
}

static gpointer guest_thread(gpointer arg)
{
    struct bench *b = arg;
    int fd = vr_fd_open(b->sock);
    if (fd < 0) {
        fprintf(stderr, "bench: cannot open %s: %s\n", b->sock, strerror(-fd));
        return NULL;
    }
    uint8_t *payload = malloc(b->frame_size);
    if (!payload) {
        close(fd);
        return NULL;
    }
    GRand *rand = g_rand_new_with_seed(42);
    for (size_t i = 0; i < b->frame_size; i++)
        payload[i] = b->pattern ? (uint8_t)(i * 7 + 3) : (uint8_t)g_rand_int(rand);
    g_rand_free(rand);
    /* QEMU drops what nobody reads: wait until the client has the port. */
    while (!g_atomic_int_get(&b->opened))
        g_usleep(1000);
    g_usleep(200000);
    b->t0 = vr_time_us();
    if (b->framed)
        guest_framed(b, fd, payload);
    else
        guest_raw(b, fd, payload);
    /* Hold the port open until the client saw everything. */
    while (!g_atomic_int_get(&b->done))
        g_usleep(1000);
    free(payload);
    close(fd);
    return NULL;
}

/* ---- client side -------------------------------------------------------- */

static void round_done(struct bench *b)
{
    if (b->done)
        return;
    b->t1 = vr_time_us();
    g_atomic_int_set(&b->done, TRUE);
    g_main_loop_quit(b->loop);
}

static void client_msg(void *user, const struct vr_msg *m)
{
    struct bench *b = user;
    if (m->type != VR_MSG_FRAME)
        return;
    b->got += m->u.frame.data_len;
    b->since_fb += m->u.frame.data_len;
    if (b->since_fb >= b->fb_every || b->got >= b->total) {
        struct vr_conn_stats st;
        vr_conn_get_stats(b->conn, &st);
        struct vr_msg *fb = calloc(1, sizeof(*fb));
        fb->type = VR_MSG_FEEDBACK;
        fb->stream_id = 1;
        fb->u.feedback.bytes_received = st.bytes_in;
        vr_conn_send(b->conn, fb);
        free(fb);
        vr_spiceport_flush(b->port);
        b->since_fb = 0;
    }
    if (b->got >= b->total)
        round_done(b);
}

/* Raw mode: count every byte; the reassembler would only find garbage. */
static void port_data_raw(SpicePortChannel *ch, gpointer data, int size, gpointer user)
{
    struct bench *b = user;
    if (b->framed || size <= 0)
        return;
    b->got += (size_t)size;
    if (b->got >= b->total)
        round_done(b);
}

static void raw_opened(GObject *obj, GParamSpec *pspec, gpointer user)
{
    struct bench *b = user;
    gboolean open = FALSE;
    gchar *name = NULL;
    g_object_get(obj, "port-opened", &open, "port-name", &name, NULL);
    if (name && !strcmp(name, VR_DEFAULT_PORT_NAME))
        g_atomic_int_set(&b->opened, open);
    g_free(name);
}

static void channel_new(SpiceSession *s, SpiceChannel *ch, gpointer user)
{
    struct bench *b = user;
    if (!SPICE_IS_PORT_CHANNEL(ch) || b->framed)
        return;
    /* Raw mode: bytes straight from the signal, no videoredir code at all. */
    g_signal_connect(ch, "port-data", G_CALLBACK(port_data_raw), b);
    g_signal_connect(ch, "notify::port-opened", G_CALLBACK(raw_opened), b);
    spice_channel_connect(ch);
}

static void opened(void *user, gboolean open)
{
    struct bench *b = user;
    g_atomic_int_set(&b->opened, open);
}

static gboolean give_up(gpointer user)
{
    struct bench *b = user;
    fprintf(stderr, "bench: round timed out (%zu of %zu bytes)\n", b->got, b->total);
    exit(1);
}

/* One round in a fresh SPICE session. Returns MB/s. */
static double run_round(const char *uri, struct bench *b)
{
    b->got = b->since_fb = 0;
    b->done = FALSE;
    b->opened = FALSE;
    b->loop = g_main_loop_new(NULL, FALSE);
    SpiceSession *session = spice_session_new();
    g_object_set(session, "uri", uri, NULL);
    g_signal_connect(session, "channel-new", G_CALLBACK(channel_new), b);
    struct vr_conn_callbacks cb = { .on_message = client_msg };
    vr_conn_create(NULL, &cb, b, &b->conn);
    struct vr_spiceport_callbacks pcb = { .opened = opened };
    b->port = b->framed ? vr_spiceport_new(session, NULL, b->conn, &pcb, b) : NULL;
    GThread *t = g_thread_new("guest", guest_thread, b);
    spice_session_connect(session);
    guint to = g_timeout_add_seconds(60, give_up, b);
    g_main_loop_run(b->loop);
    g_source_remove(to);
    g_thread_join(t);
    vr_spiceport_free(b->port);
    spice_session_disconnect(session);
    g_object_unref(session);
    vr_conn_destroy(b->conn);
    g_main_loop_unref(b->loop);
    /* Let the host see the guest go before the next round connects. */
    g_usleep(300000);
    return b->total / ((b->t1 - b->t0) / 1e6) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    char *uri = NULL, *sock = NULL, *payload = NULL;
    int mib = 64, rounds = 5, frame_kib = 64, window_kib = 0, fb_kib = 256;
    char *only = NULL;
    gboolean copy = FALSE;
    GOptionEntry entries[] = {
        { "uri", 0, 0, G_OPTION_ARG_STRING, &uri, "host stand-in", "spice://HOST:PORT" },
        { "guest-socket", 0, 0, G_OPTION_ARG_FILENAME, &sock, "its guest socket", "PATH" },
        { "mib", 0, 0, G_OPTION_ARG_INT, &mib, "MiB per round (64)", "N" },
        { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "round pairs (5)", "N" },
        { "frame-kib", 0, 0, G_OPTION_ARG_INT, &frame_kib, "frame payload KiB (64)", "N" },
        { "window-kib", 0, 0, G_OPTION_ARG_INT, &window_kib, "guest window KiB (conn default)", "N" },
        { "feedback-kib", 0, 0, G_OPTION_ARG_INT, &fb_kib, "client feedback every N KiB (256)", "N" },
        { "only", 0, 0, G_OPTION_ARG_STRING, &only, "run only raw or framed rounds (profiling)", "KIND" },
        { "copy", 0, 0, G_OPTION_ARG_NONE, &copy,
          "framed: queue every frame in the conn (copied) instead of writing it from the "
          "payload buffer (vr_fd_attach): the path before direct writes, for A/B", NULL },
        { "payload", 0, 0, G_OPTION_ARG_STRING, &payload,
          "random (default: like compressed video) or pattern (LZ4-compressible)", "KIND" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = g_option_context_new("- port channel throughput, raw vs videoredir");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || !uri || !sock || mib < 1 ||
        rounds < 1 || frame_kib < 1 || frame_kib > 8192 || window_kib < 0 || fb_kib < 1 ||
        (only && strcmp(only, "raw") && strcmp(only, "framed")) ||
        (payload && strcmp(payload, "random") && strcmp(payload, "pattern"))) {
        fprintf(stderr, "usage: %s --uri URI --guest-socket PATH [--mib N] [--rounds N]"
                " [--frame-kib N] [--payload random|pattern] [--window-kib N] [--feedback-kib N]"
                " [--only raw|framed] [--copy]\n", argv[0]);
        return 2;
    }
    g_option_context_free(ctx);

    struct bench b = { .sock = sock, .total = (size_t)mib << 20, .frame_size = (size_t)frame_kib << 10,
                       .pattern = payload && !strcmp(payload, "pattern"), .copy = copy,
                       .window = (size_t)window_kib << 10, .fb_every = (size_t)fb_kib << 10 };
    gboolean do_raw = !only || !strcmp(only, "raw"), do_framed = !only || !strcmp(only, "framed");
    double *raw = calloc((size_t)rounds, sizeof(double));
    double *framed = calloc((size_t)rounds, sizeof(double));
    double *ratio = calloc((size_t)rounds, sizeof(double));
    printf("round  raw MB/s  videoredir MB/s  ratio\n");
    for (int i = 0; i < rounds; i++) {
        b.framed = FALSE;
        raw[i] = do_raw ? run_round(uri, &b) : 1;
        b.framed = TRUE;
        framed[i] = do_framed ? run_round(uri, &b) : 1;
        ratio[i] = framed[i] / raw[i];
        printf("%5d  %8.1f  %15.1f  %5.3f\n", i + 1, raw[i], framed[i], ratio[i]);
        fflush(stdout);
    }
    qsort(raw, (size_t)rounds, sizeof(double), cmp_double);
    qsort(framed, (size_t)rounds, sizeof(double), cmp_double);
    qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
    printf("median raw %.1f MB/s, videoredir %.1f MB/s (payload goodput), ratio videoredir/raw %.3f"
           " (%d MiB per round, %d KiB frames, %s payload)\n",
           raw[rounds / 2], framed[rounds / 2], ratio[rounds / 2], mib, frame_kib,
           b.pattern ? "pattern" : "random");
    free(raw);
    free(framed);
    free(ratio);
    g_free(uri);
    g_free(sock);
    g_free(payload);
    g_free(only);
    return 0;
}
