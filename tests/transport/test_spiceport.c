/*
 * vr_transport_spice against a real SPICE stack, in one process on one GLib
 * main loop: libspice-server listens on a loopback port with a "port" char
 * device (playing QEMU's spiceport chardev, with the guest's side as a
 * vr_conn), and spice-client-glib connects to it with VrSpicePort.
 *
 * Checks: the port is found (also when the VrSpicePort is created after the
 * session connected), a port with another name is ignored, data flows both
 * ways in order (big frames, many 64 KiB writes), and guest-side close and
 * reopen reach the callbacks with the conn reset.
 *
 * `test_transport_spiceport windowed`: the server and a guest that keeps its
 * flow-control window full run in a child process (as QEMU and the guest
 * do: a server in the same process cannot refill the client's socket while
 * the client reads), the client here takes its time over each frame. The
 * guest must keep hearing the client's FEEDBACK while it works through the
 * window: spice-gtk sends only once it finds its socket empty, so feeding
 * the conn inside port-data held every answer back until the client had
 * taken everything in flight (and a real guest gives up after 5 s).
 */
#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <spice.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <videoredir/transport-spice.h>

#include "core.h"
#include "tutil.h"

/* The SPICE server runs on the host stand-in's GLib core. */

/* ---- the guest side: a port char device backed by a vr_conn ------------ */

struct peer {
    struct vr_conn *c;
    size_t msgs, frames;
    int seq_errors;
    uint32_t next_seq;
    struct t_buf data;
    int opened, closed; /* client side: callback counts */
    gboolean is_open;
};

static struct peer guest, client;
static SpiceCharDeviceInstance port_sin;
static SpiceCharDeviceInstance other_sin;

/* Windowed mode: WIN_FRAMES frames of WIN_FRAME bytes under a WIN_BYTES
 * window; the client takes WIN_SLOW_US per frame and sends FEEDBACK every 8
 * frames, as the real one does. Counters shared between the processes. */
#define WIN_FRAMES 1500u
#define WIN_FRAME 4096u
#define WIN_BYTES (1u << 20)
#define WIN_SLOW_US 400
struct win_shared {
    volatile int ready, done;          /* child: server listening; guest finished */
    volatile size_t client_frames;     /* parent: frames taken so far */
    volatile size_t max_gap, feedbacks; /* child: the result */
};
static struct win_shared *win;
static size_t win_sent;
static VrSpicePort *client_port;

static uint64_t bytes_in(struct vr_conn *c)
{
    struct vr_conn_stats st;
    vr_conn_get_stats(c, &st);
    return st.bytes_in;
}

static void windowed_msg(struct peer *p, const struct vr_msg *m)
{
    if (p == &client && m->type == VR_MSG_FRAME) {
        g_usleep(WIN_SLOW_US); /* decoding */
        size_t n = ++win->client_frames;
        if (n % 8 == 0 || n == WIN_FRAMES) {
            struct vr_msg fb = { .type = VR_MSG_FEEDBACK, .stream_id = 1 };
            fb.u.feedback.bytes_received = bytes_in(client.c);
            fb.u.feedback.decoded = (uint32_t)n;
            CHECK(vr_conn_send(client.c, &fb) == 0, "queue feedback");
            vr_spiceport_flush(client_port);
        }
    } else if (p == &guest && m->type == VR_MSG_FEEDBACK) {
        /* Frames the client took between sending this and our hearing it. */
        vr_conn_ack(guest.c, m->u.feedback.bytes_received);
        size_t gap = win->client_frames - m->u.feedback.decoded;
        win->max_gap = MAX(win->max_gap, gap);
        win->feedbacks++;
        if (m->u.feedback.decoded >= WIN_FRAMES)
            win->done = 1;
    }
}

/* A port freed by its own conn's message callback (the application quits
 * on a message): the adapter must finish the free once the feeding ends. */
static struct peer *free_peer;
static VrSpicePort *free_port_in_cb;

static void peer_msg(void *user, const struct vr_msg *m)
{
    struct peer *p = user;
    if (win) {
        windowed_msg(p, m);
        return;
    }
    if (p == free_peer && free_port_in_cb) {
        vr_spiceport_flush(free_port_in_cb); /* a write asked for, then the free */
        vr_spiceport_free(free_port_in_cb);
        free_port_in_cb = NULL;
    }
    p->msgs++;
    if (m->type == VR_MSG_FRAME) {
        if (m->u.frame.seq != p->next_seq)
            p->seq_errors++;
        p->next_seq = m->u.frame.seq + 1;
        p->frames++;
        t_buf_add(&p->data, m->u.frame.data, m->u.frame.data_len);
    } else if (m->type == VR_MSG_FEEDBACK) {
        t_buf_add(&p->data, &m->u.feedback.last_seq, 4);
    }
}

static void dev_state(SpiceCharDeviceInstance *sin, int connected)
{
}

/* Client -> guest. */
static int dev_write(SpiceCharDeviceInstance *sin, const uint8_t *buf, int len)
{
    if (sin != &port_sin)
        return len;
    CHECK(vr_conn_feed(guest.c, buf, (size_t)len) == 0, "guest feed");
    return len;
}

/* Guest -> client. */
static int dev_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
    if (sin != &port_sin)
        return 0;
    const uint8_t *d;
    size_t n = vr_conn_out_peek(guest.c, &d);
    if (n == 0)
        return 0;
    if (n > (size_t)len)
        n = (size_t)len;
    memcpy(buf, d, n);
    vr_conn_out_consume(guest.c, n);

    return (int)n;
}

/* spice-server reads one message (<= 64 KiB) per wakeup; QEMU wakes it for
 * every guest write. Here: keep waking it while the guest has output. */
static gboolean guest_pump(gpointer data)
{
    if (vr_conn_out_queued(guest.c) > 0)
        spice_server_char_device_wakeup(&port_sin);
    return G_SOURCE_CONTINUE;
}

/* The windowed guest: queues frames while its window has room. */
static gboolean windowed_pump(gpointer data)
{
    static uint8_t au[WIN_FRAME];
    while (win_sent < WIN_FRAMES && vr_conn_window_available(guest.c) >= WIN_FRAME + 64) {
        struct vr_msg f = { .type = VR_MSG_FRAME, .stream_id = 1 };
        f.u.frame = (struct vr_frame){ .data_len = WIN_FRAME, .data = au };
        if (vr_conn_send(guest.c, &f) != 0)
            break;
        win_sent++;
    }
    return guest_pump(data);
}

static void dev_event(SpiceCharDeviceInstance *sin, uint8_t event)
{
}

static SpiceCharDeviceInterface char_iface = {
    .base = { .type = SPICE_INTERFACE_CHAR_DEVICE, .description = "test port",
              .major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
              .minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR },
    .state = dev_state, .write = dev_write, .read = dev_read, .event = dev_event,
};

/* ---- client callbacks --------------------------------------------------- */

static void port_opened(void *user, gboolean opened)
{
    struct peer *p = user;
    if (opened)
        p->opened++;
    else
        p->closed++;
    p->is_open = opened;
    CHECK(vr_conn_out_queued(p->c) == 0, "conn reset before the callback");
}

static void port_error(void *user, const GError *error)
{
    CHECK(0, "write error: %s", error->message);
}

static gboolean timeout_flag;

static gboolean on_timeout(gpointer data)
{
    timeout_flag = TRUE;
    return G_SOURCE_REMOVE;
}

/* Runs the main loop until cond() or secs pass; returns cond(). */
static gboolean run_until(gboolean (*cond)(void), double secs)
{
    timeout_flag = FALSE;
    guint id = g_timeout_add((guint)(secs * 1000), on_timeout, NULL);
    while (!cond() && !timeout_flag)
        g_main_context_iteration(NULL, TRUE);
    if (!timeout_flag)
        g_source_remove(id);
    return cond();
}

static size_t want_frames, want_msgs;

static gboolean client_open(void) { return client.is_open; }
static gboolean client_closed(void) { return !client.is_open; }
static gboolean client_has_frames(void) { return client.frames >= want_frames; }
static gboolean guest_has_msgs(void) { return guest.msgs >= want_msgs; }

static gboolean win_done(void) { return win->done; }
static gboolean late_freed(void) { return free_port_in_cb == NULL; }
static gboolean win_ready(void) { return win->ready; }

/* SPICE server on 127.0.0.1:port with our port (opened by the guest) and one
 * with another name. */
static SpiceServer *start_server(int port)
{
    SpiceServer *server = spice_server_new();
    spice_server_set_addr(server, "127.0.0.1", 0);
    spice_server_set_port(server, port);
    spice_server_set_noauth(server);
    if (spice_server_init(server, &vr_host_core) != 0) {
        fprintf(stderr, "spice_server_init failed\n");
        exit(2);
    }
    port_sin.base.sif = &char_iface.base;
    port_sin.subtype = "port";
    port_sin.portname = VR_DEFAULT_PORT_NAME;
    other_sin.base.sif = &char_iface.base;
    other_sin.subtype = "port";
    other_sin.portname = "org.example.other";
    CHECK(spice_server_add_interface(server, &other_sin.base) == 0, "add other port");
    CHECK(spice_server_add_interface(server, &port_sin.base) == 0, "add port");
    /* The guest has the port open, as QEMU reports when the guest opens it. */
    spice_server_port_event(&port_sin, SPICE_PORT_EVENT_OPENED);
    spice_server_port_event(&other_sin, SPICE_PORT_EVENT_OPENED);
    return server;
}

static void stop_server(SpiceServer *server)
{
    spice_server_remove_interface(&port_sin.base);
    spice_server_remove_interface(&other_sin.base);
    spice_server_destroy(server);
}

static SpiceSession *new_session(int port)
{
    SpiceSession *session = spice_session_new();
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    g_object_set(session, "host", "127.0.0.1", "port", portstr, NULL);
    return session;
}

static int free_port(void);

static int windowed(void)
{
    const struct vr_conn_callbacks ccb = { .on_message = peer_msg };
    win = mmap(NULL, sizeof(*win), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (win == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    memset(win, 0, sizeof(*win));
    int port = free_port();
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 2;
    }
    if (child == 0) {
        /* QEMU's side: spice-server and the guest. */
        struct vr_conn_config wc = { .window_bytes = WIN_BYTES };
        CHECK(vr_conn_create(&wc, &ccb, &guest, &guest.c) == 0, "guest conn");
        SpiceServer *server = start_server(port);
        g_timeout_add(1, windowed_pump, NULL);
        win->ready = 1;
        run_until(win_done, 60);
        /* Until the parent has seen the answer to the end. */
        for (int i = 0; i < 200 && win->ready; i++)
            g_main_context_iteration(NULL, FALSE), g_usleep(5000);
        stop_server(server);
        vr_conn_destroy(guest.c);
        _exit(t_failures ? 1 : 0);
    }

    CHECK(vr_conn_create(NULL, &ccb, &client, &client.c) == 0, "client conn");
    for (int i = 0; i < 1000 && !win_ready(); i++)
        g_usleep(10000);
    CHECK(win->ready, "server started");
    SpiceSession *session = new_session(port);
    const struct vr_spiceport_callbacks pcb = { port_opened, port_error };
    client_port = vr_spiceport_new(session, NULL, client.c, &pcb, &client);
    CHECK(spice_session_connect(session), "connect");
    CHECK(run_until(win_done, 90), "the guest heard %zu of %u frames taken (%zu feedbacks)",
          (size_t)win->client_frames, WIN_FRAMES, (size_t)win->feedbacks);
    const size_t window_frames = WIN_BYTES / WIN_FRAME;
    printf("windowed: %zu frames taken, %zu feedbacks heard by the guest, at most %zu frames "
           "taken between sending one and the guest hearing it (the window holds %zu)\n",
           (size_t)win->client_frames, (size_t)win->feedbacks, (size_t)win->max_gap,
           window_frames);
    CHECK(win->max_gap <= window_frames / 4,
          "a FEEDBACK reached the guest only %zu frames later (window %zu frames)",
          (size_t)win->max_gap, window_frames);
    win->ready = 0;
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server process status %d", status);
    vr_spiceport_free(client_port);
    spice_session_disconnect(session);
    g_object_unref(session);
    for (int i = 0; i < 50; i++)
        g_main_context_iteration(NULL, FALSE);
    vr_conn_destroy(client.c);
    munmap(win, sizeof(*win));
    if (t_failures) {
        fprintf(stderr, "%d check(s) failed\n", t_failures);
        return 1;
    }
    printf("transport spiceport windowed: all checks passed\n");
    return 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
        perror("free port");
        exit(2);
    }
    close(fd);
    return ntohs(sa.sin_port);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "windowed") == 0)
        return windowed();
    t_pool_init(17);
    const struct vr_conn_callbacks ccb = { .on_message = peer_msg };
    struct vr_conn_config big = { .max_out_bytes = 64u << 20 };
    CHECK(vr_conn_create(&big, &ccb, &guest, &guest.c) == 0, "guest conn");
    CHECK(vr_conn_create(&big, &ccb, &client, &client.c) == 0, "client conn");

    /* Server with our port and one with another name. */
    int port = free_port();
    SpiceServer *server = start_server(port);
    SpiceSession *session = new_session(port);
    const struct vr_spiceport_callbacks pcb = { port_opened, port_error };
    VrSpicePort *vp = vr_spiceport_new(session, NULL, client.c, &pcb, &client);
    struct peer wrong = { 0 };
    vr_conn_create(NULL, &ccb, &wrong, &wrong.c);
    VrSpicePort *vp_wrong = vr_spiceport_new(session, "org.example.missing", wrong.c, &pcb, &wrong);
    CHECK(vp && vp_wrong, "new");
    CHECK(!vr_spiceport_is_open(vp), "not open before connecting");
    CHECK(spice_session_connect(session), "connect");

    CHECK(run_until(client_open, 10), "port opened within 10 s");
    CHECK(client.opened == 1 && vr_spiceport_is_open(vp), "opened once");

    /* Client -> guest: many messages, more than one 64 KiB write. */
    want_msgs = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        struct vr_msg fb = { .type = VR_MSG_FEEDBACK, .stream_id = 1 };
        fb.u.feedback.last_seq = i;
        CHECK(vr_conn_send(client.c, &fb) == 0, "queue feedback");
        want_msgs++;
    }
    size_t client_bytes = vr_conn_out_queued(client.c);
    vr_spiceport_flush(vp);
    vr_spiceport_flush(vp); /* a second call while a write is in flight is a no-op */
    CHECK(run_until(guest_has_msgs, 20), "guest got %zu of %zu messages", guest.msgs, want_msgs);
    CHECK(client_bytes > 4 * 65536, "several writes needed (%zu bytes)", client_bytes);
    int order_ok = guest.data.len == want_msgs * 4;
    for (uint32_t i = 0; order_ok && i < want_msgs; i++) {
        uint32_t v;
        memcpy(&v, guest.data.p + 4 * i, 4);
        order_ok = v == i;
    }
    CHECK(order_ok, "client messages arrived in order");

    /* Guest -> client: frames up to 1 MiB, about 6 MiB in total. */
    struct t_rng r;
    t_rng_seed(&r, 5);
    struct t_buf expect = { 0 };
    want_frames = 0;
    while (expect.len < (6u << 20)) {
        uint32_t len = want_frames % 10 == 0 ? 1u << 20 : t_rng_range(&r, 1, 200000);
        static uint8_t *big_au;
        if (!big_au) {
            big_au = malloc(1u << 20);
            t_rng_fill(&r, big_au, 1u << 20);
        }
        const uint8_t *src = len == (1u << 20) ? big_au : t_pool + t_rng_range(&r, 0, T_POOL_SIZE - len);
        struct vr_msg f = { .type = VR_MSG_FRAME, .stream_id = 1 };
        f.u.frame = (struct vr_frame){ .pts = 0, .dts = 0, .data_len = len, .data = src };
        CHECK(vr_conn_send(guest.c, &f) == 0, "queue frame");
        t_buf_add(&expect, src, len);
        want_frames++;
    }
    guint pump_id = g_timeout_add(1, guest_pump, NULL);
    CHECK(run_until(client_has_frames, 30), "client got %zu of %zu frames", client.frames,
          want_frames);
    {
        struct vr_conn_stats cst;
        vr_conn_get_stats(client.c, &cst);
        CHECK(client.frames == want_frames, "bytes in %llu, bad %llu, queued at guest %zu",
              (unsigned long long)cst.bytes_in, (unsigned long long)cst.bad_msgs,
              vr_conn_out_queued(guest.c));
    }
    CHECK(client.seq_errors == 0, "frame seqs in order");
    g_source_remove(pump_id);
    CHECK(client.data.len == expect.len && memcmp(client.data.p, expect.p, expect.len) == 0,
          "frame data identical");

    /* Another VrSpicePort created now finds the existing, open channel. */
    struct peer late = { 0 };
    vr_conn_create(NULL, &ccb, &late, &late.c);
    VrSpicePort *vp_late = vr_spiceport_new(session, VR_DEFAULT_PORT_NAME, late.c, &pcb, &late);
    CHECK(vr_spiceport_is_open(vp_late) && late.opened == 1, "existing channel adopted");
    /* It frees itself from inside its first message (ASan checks the rest). */
    free_peer = &late;
    free_port_in_cb = vp_late;
    vr_conn_send(late.c, &(struct vr_msg){ .type = VR_MSG_PING });
    {
        struct vr_msg f = { .type = VR_MSG_FRAME, .stream_id = 1 };
        f.u.frame = (struct vr_frame){ .data_len = 3, .data = (const uint8_t *)"abc" };
        CHECK(vr_conn_send(guest.c, &f) == 0, "queue frame");
        want_frames = client.frames + 1;
        pump_id = g_timeout_add(1, guest_pump, NULL);
        CHECK(run_until(client_has_frames, 10), "frame after the late port");
        CHECK(run_until(late_freed, 10), "late port's callback ran");
        g_source_remove(pump_id);
    }
    CHECK(late.msgs == 1 && !free_port_in_cb, "late port freed from its callback");
    free_peer = NULL;
    vr_conn_destroy(late.c);
    free(late.data.p);

    /* The guest closes the port, then opens it again. */
    vr_conn_send(client.c, &(struct vr_msg){ .type = VR_MSG_PING });
    spice_server_port_event(&port_sin, SPICE_PORT_EVENT_CLOSED);
    CHECK(run_until(client_closed, 10), "close seen");
    CHECK(client.closed == 1 && !vr_spiceport_is_open(vp), "closed once");
    spice_server_port_event(&port_sin, SPICE_PORT_EVENT_OPENED);
    CHECK(run_until(client_open, 10), "reopen seen");
    CHECK(client.opened == 2, "opened twice");

    CHECK(wrong.opened == 0 && !vr_spiceport_is_open(vp_wrong), "other name never matched");

    vr_spiceport_free(vp_wrong);
    vr_spiceport_free(vp);
    vr_spiceport_free(NULL);
    spice_session_disconnect(session);
    g_object_unref(session);
    for (int i = 0; i < 50; i++)
        g_main_context_iteration(NULL, FALSE);
    stop_server(server);
    vr_conn_destroy(guest.c);
    vr_conn_destroy(client.c);
    vr_conn_destroy(wrong.c);
    free(expect.p);
    free(guest.data.p);
    free(client.data.p);
    if (t_failures) {
        fprintf(stderr, "%d check(s) failed\n", t_failures);
        return 1;
    }
    printf("transport spiceport: all checks passed\n");
    return 0;
}
