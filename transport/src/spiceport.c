/*
 * vr_transport_spice: a vr_conn over spice-gtk's SpicePortChannel.
 *
 * A port channel's name is only known once the server's port-init message
 * arrived, i.e. after the channel connected. So every port channel of the
 * session is connected (spice_channel_connect is a no-op for one the
 * application already connected) and watched for "notify::port-name"; the
 * first one with the configured name is adopted.
 *
 * Writes: one spice_port_channel_write_async in flight at a time, each with
 * a private copy of at most WRITE_CHUNK bytes (spice-gtk references the
 * buffer until the message is sent). The copied bytes are consumed from the
 * conn as soon as they are handed over, so a vr_conn_reset while the write
 * is in flight can never make us consume the wrong bytes afterwards.
 *
 * Reads: spice-gtk's channel coroutine reads messages for as long as its
 * socket is readable and only then sends what was queued. Feeding the conn
 * (and so decoding) inside `port-data` would keep the socket readable while
 * a slow client works through the guest's window, and its FEEDBACK would
 * wait behind all of it: seconds of silence, after which the guest gives the
 * client up. So `port-data` feeds its data at once only while nothing
 * waits and for at most about a millisecond (a client that keeps up copies
 * nothing); the rest is appended as a copy to a queue of chunks, and an idle
 * source feeds the conn about a millisecond at a time, letting the main loop
 * (and the coroutine's writes) run in between. Either way straight from the
 * buffer, about 4 KiB of messages per vr_conn_feed_some call (a chunk never
 * moves; the conn copies only a message cut by a buffer's end). A guest that honours the
 * window keeps that buffer under the window; past PENDING_SYNC (a guest
 * ignoring the window) the data is fed at once, as before, which restores
 * the socket's own backpressure; PENDING_MAX is the hard limit for data
 * that arrives while the conn is being fed (input dropped, conn reset).
 */
#include <string.h>

#include <videoredir/transport-spice.h>

#define WRITE_CHUNK (64u * 1024u)
#define PENDING_SYNC (4u << 20)
#define PENDING_MAX (2u * VR_MAX_PAYLOAD + (8u << 20))
/* Feeding per idle dispatch. Short: spice-gtk takes in a large message a
 * piece per main-loop turn, and sends only once it has read all there is,
 * so every turn we hold delays our answers by another piece. */
#define FEED_BUDGET_US 1000
/* Per vr_conn_feed_some call: messages up to about this many bytes (one
 * frame, or a few hundred tiny messages), then the budget is checked. */
#define FEED_QUOTA 4096u

/* Received bytes not yet fed, as port-data delivered them. */
struct chunk {
    struct chunk *next;
    guint len, off; /* data[off..len) not yet fed */
    guint8 data[];
};

/* One write in flight. Outlives the VrSpicePort if that is freed first:
 * then port is NULL and the completion only cleans up. */
struct write_op {
    VrSpicePort *port;
    guint8 *buf;
};

struct _VrSpicePort {
    SpiceSession *session;
    char *name;
    struct vr_conn *conn;
    struct vr_spiceport_callbacks cb;
    void *user;

    gulong new_id, destroy_id;
    SpicePortChannel *channel; /* adopted, ref held; NULL if none */
    gboolean open;

    struct write_op *inflight;
    GCancellable *cancel;

    struct chunk *head, *tail; /* received, not yet fed */
    gsize pending;       /* their bytes */
    guint generation;    /* +1 when they are dropped */
    guint feed_id;       /* idle source feeding it */
    gboolean feeding;    /* inside vr_conn_feed */
    guint busy;          /* feed_pending calls under way */
    gboolean flush_wanted; /* vr_spiceport_flush while feeding: done after */
    gboolean dying;      /* freed while busy: finished by the outermost call */
};

static void free_now(VrSpicePort *p);

static gsize pending_len(const VrSpicePort *p)
{
    return p->pending;
}

static void pending_clear(VrSpicePort *p)
{
    while (p->head) {
        struct chunk *c = p->head;
        p->head = c->next;
        g_free(c);
    }
    p->tail = NULL;
    p->pending = 0;
    p->generation++;
    if (p->feed_id) {
        g_source_remove(p->feed_id);
        p->feed_id = 0;
    }
}

/* Feeds pending bytes for at most budget_us (all of them if 0), then
 * starts the writes the callbacks asked for. Returns FALSE if p was freed
 * meanwhile (by the application, from a callback). */
static void feed_begin(VrSpicePort *p)
{
    p->busy++;
    p->feeding = TRUE;
}

/* Returns FALSE if p was freed meanwhile (by the application, from a
 * callback). */
static gboolean feed_end(VrSpicePort *p)
{
    p->feeding = FALSE;
    if (!p->dying) {
        /* Out here, not from inside the conn's callbacks: a write can run
         * the channel's coroutine at once, which may report the channel
         * closed, and that must not reach the application in the middle
         * of its message handler. */
        if (p->flush_wanted) {
            p->flush_wanted = FALSE;
            vr_spiceport_flush(p);
        }
    }
    if (--p->busy > 0)
        return !p->dying; /* nested: the outermost call finishes a free */
    if (p->dying) {
        free_now(p);
        return FALSE;
    }
    return TRUE;
}

static gboolean feed_pending(VrSpicePort *p, gint64 budget_us)
{
    if (p->feeding)
        return TRUE; /* a nested call (see port_data): the outer one goes on */
    gint64 start = budget_us ? g_get_monotonic_time() : 0;
    feed_begin(p);
    while (p->head && !p->dying) {
        /* Taken out while fed: callbacks may append chunks or drop them all
         * (pending_clear, then the generation changes). */
        struct chunk *c = p->head;
        p->head = c->next;
        if (!p->head)
            p->tail = NULL;
        guint gen = p->generation;
        size_t used = 0;
        int ret = vr_conn_feed_some(p->conn, c->data + c->off, c->len - c->off, FEED_QUOTA, &used);
        if (ret < 0)
            g_warning("port %s: input dropped: %s", p->name, g_strerror(-ret));
        if (gen != p->generation) {
            g_free(c); /* dropped meanwhile, with the rest */
        } else {
            c->off += (guint)used;
            p->pending -= used;
            if (c->off < c->len) {
                c->next = p->head;
                p->head = c;
                if (!p->tail)
                    p->tail = c;
            } else {
                g_free(c);
            }
        }
        if (budget_us && g_get_monotonic_time() - start >= budget_us)
            break;
    }
    return feed_end(p);
}

/* Nothing waits: feeds spice-gtk's own buffer (valid during port-data only)
 * for up to FEED_BUDGET_US, so that a client that keeps up copies nothing.
 * Returns the bytes taken (all of them if the session changed meanwhile:
 * the rest belonged to the old one), or -1 if p was freed. */
static gssize feed_direct(VrSpicePort *p, const guint8 *data, gsize size)
{
    gint64 start = g_get_monotonic_time();
    guint gen = p->generation;
    gsize off = 0;
    feed_begin(p);
    while (off < size && !p->dying && gen == p->generation) {
        size_t used = 0;
        int ret = vr_conn_feed_some(p->conn, data + off, size - off, FEED_QUOTA, &used);
        if (ret < 0)
            g_warning("port %s: input dropped: %s", p->name, g_strerror(-ret));
        off += used;
        if (g_get_monotonic_time() - start >= FEED_BUDGET_US)
            break;
    }
    if (gen != p->generation)
        off = size;
    if (!feed_end(p))
        return -1;
    return (gssize)off;
}

static gboolean feed_idle(gpointer data)
{
    VrSpicePort *p = data;
    guint self = g_source_get_id(g_main_current_source());
    if (!feed_pending(p, FEED_BUDGET_US))
        return G_SOURCE_REMOVE; /* freed: the source went with it */
    if (p->feed_id != self)
        return G_SOURCE_REMOVE; /* cleared while feeding; a new one may run */
    if (pending_len(p) > 0)
        return G_SOURCE_CONTINUE;
    p->feed_id = 0;
    return G_SOURCE_REMOVE;
}

/* Returns FALSE if p was freed (by a callback of the conn's last input). */
static gboolean set_open(VrSpicePort *p, gboolean open)
{
    /* What arrived before the change belongs to the old session (its last
     * frames, its EOS): fed first, unless the change came up while the conn
     * was being fed, where it is dropped with the session. */
    if (!p->feeding && !feed_pending(p, 0))
        return FALSE;
    pending_clear(p);
    /* Every change starts a new byte stream on both sides. */
    vr_conn_reset(p->conn);
    if (p->open == open)
        return TRUE;
    p->open = open;
    g_debug("port %s %s", p->name, open ? "opened" : "closed");
    if (p->cb.opened)
        p->cb.opened(p->user, open);
    return TRUE;
}

static void port_data(SpicePortChannel *channel, gpointer data, int size, gpointer user)
{
    VrSpicePort *p = user;
    if (channel != p->channel || size <= 0 || p->dying)
        return;
    gsize len = pending_len(p);
    if (p->feeding && len + (gsize)size > PENDING_MAX) {
        /* Only a guest that ignores the flow-control window gets here. */
        g_warning("port %s: input dropped: over %u MiB received and not yet processed",
                  p->name, PENDING_MAX >> 20);
        pending_clear(p);
        vr_conn_reset(p->conn);
        return;
    }
    if (!p->feeding && !p->head) {
        gssize taken = feed_direct(p, data, (gsize)size);
        if (taken < 0)
            return; /* freed */
        data = (guint8 *)data + taken;
        size -= (int)taken;
        if (size == 0)
            return;
        len = 0;
    }
    struct chunk *c = g_malloc(sizeof(*c) + (gsize)size);
    c->next = NULL;
    c->len = (guint)size;
    c->off = 0;
    memcpy(c->data, data, (gsize)size);
    if (p->tail)
        p->tail->next = c;
    else
        p->head = c;
    p->tail = c;
    p->pending += (gsize)size;
    if (!p->feeding && len + (gsize)size > PENDING_SYNC) {
        feed_pending(p, 0); /* may free p: nothing of it is used after */
        return;
    }
    if (!p->feed_id)
        p->feed_id = g_idle_add(feed_idle, p);
}

static gboolean channel_port_opened(SpicePortChannel *channel)
{
    gboolean opened = FALSE;
    g_object_get(channel, "port-opened", &opened, NULL);
    return opened;
}

static void port_opened_changed(GObject *obj, GParamSpec *pspec, gpointer user)
{
    VrSpicePort *p = user;
    if (SPICE_PORT_CHANNEL(obj) != p->channel)
        return;
    set_open(p, channel_port_opened(p->channel));
}

/* Returns FALSE if p was freed meanwhile (see set_open). */
static gboolean release(VrSpicePort *p)
{
    if (!p->channel)
        return TRUE;
    SpicePortChannel *ch = p->channel;
    p->channel = NULL;
    g_signal_handlers_disconnect_by_func(ch, G_CALLBACK(port_data), p);
    g_signal_handlers_disconnect_by_func(ch, G_CALLBACK(port_opened_changed), p);
    g_object_unref(ch);
    return set_open(p, FALSE);
}

static void channel_event(SpiceChannel *channel, SpiceChannelEvent event, gpointer user)
{
    VrSpicePort *p = user;
    if (SPICE_PORT_CHANNEL(channel) != p->channel)
        return;
    switch (event) {
    case SPICE_CHANNEL_CLOSED:
    case SPICE_CHANNEL_ERROR_CONNECT:
    case SPICE_CHANNEL_ERROR_TLS:
    case SPICE_CHANNEL_ERROR_LINK:
    case SPICE_CHANNEL_ERROR_AUTH:
    case SPICE_CHANNEL_ERROR_IO:
        g_debug("port %s: channel event %d, closing", p->name, (int)event);
        release(p);
        break;
    default:
        break;
    }
}

static void adopt(VrSpicePort *p, SpicePortChannel *ch)
{
    p->channel = g_object_ref(ch);
    g_signal_connect(ch, "port-data", G_CALLBACK(port_data), p);
    g_signal_connect(ch, "notify::port-opened", G_CALLBACK(port_opened_changed), p);
    g_debug("port %s: found channel %p", p->name, (void *)ch);
    if (channel_port_opened(ch))
        set_open(p, TRUE);
}

static void try_adopt(VrSpicePort *p, SpicePortChannel *ch)
{
    if (p->channel)
        return;
    gchar *name = NULL;
    g_object_get(ch, "port-name", &name, NULL);
    if (name && strcmp(name, p->name) == 0)
        adopt(p, ch);
    g_free(name);
}

static void port_name_changed(GObject *obj, GParamSpec *pspec, gpointer user)
{
    try_adopt(user, SPICE_PORT_CHANNEL(obj));
}

static void watch_channel(VrSpicePort *p, SpiceChannel *channel)
{
    if (!SPICE_IS_PORT_CHANNEL(channel))
        return;
    g_signal_connect(channel, "notify::port-name", G_CALLBACK(port_name_changed), p);
    g_signal_connect(channel, "channel-event", G_CALLBACK(channel_event), p);
    try_adopt(p, SPICE_PORT_CHANNEL(channel));
    /* The name only arrives once connected; a no-op if already connecting. */
    spice_channel_connect(channel);
}

static void channel_new(SpiceSession *session, SpiceChannel *channel, gpointer user)
{
    watch_channel(user, channel);
}

static void channel_destroy(SpiceSession *session, SpiceChannel *channel, gpointer user)
{
    VrSpicePort *p = user;
    if (!SPICE_IS_PORT_CHANNEL(channel))
        return;
    if (SPICE_PORT_CHANNEL(channel) == p->channel) {
        g_debug("port %s: channel destroyed", p->name);
        if (!release(p))
            return;
    }
    g_signal_handlers_disconnect_by_data(channel, p);
}

VrSpicePort *vr_spiceport_new(SpiceSession *session, const char *port_name,
                              struct vr_conn *conn,
                              const struct vr_spiceport_callbacks *cb, void *user)
{
    g_return_val_if_fail(SPICE_IS_SESSION(session), NULL);
    g_return_val_if_fail(conn != NULL, NULL);

    VrSpicePort *p = g_new0(VrSpicePort, 1);
    p->session = g_object_ref(session);
    p->name = g_strdup(port_name && *port_name ? port_name : VR_DEFAULT_PORT_NAME);
    p->conn = conn;
    if (cb)
        p->cb = *cb;
    p->user = user;
    p->cancel = g_cancellable_new();
    p->new_id = g_signal_connect(session, "channel-new", G_CALLBACK(channel_new), p);
    p->destroy_id = g_signal_connect(session, "channel-destroy", G_CALLBACK(channel_destroy), p);

    GList *list = spice_session_get_channels(session);
    for (GList *l = list; l; l = l->next)
        watch_channel(p, SPICE_CHANNEL(l->data));
    g_list_free(list);
    return p;
}

static void write_done(GObject *source, GAsyncResult *res, gpointer data)
{
    struct write_op *op = data;
    GError *error = NULL;
    gssize n = spice_port_channel_write_finish(SPICE_PORT_CHANNEL(source), res, &error);
    VrSpicePort *p = op->port;
    g_free(op->buf);
    g_free(op);
    if (!p) {
        g_clear_error(&error);
        return;
    }
    p->inflight = NULL;
    if (n < 0) {
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_warning("port %s: write failed: %s", p->name, error ? error->message : "?");
            if (p->cb.error)
                p->cb.error(p->user, error);
            if (SPICE_PORT_CHANNEL(source) == p->channel)
                set_open(p, FALSE);
        }
        g_clear_error(&error);
        return;
    }
    vr_spiceport_flush(p);
}

void vr_spiceport_flush(VrSpicePort *p)
{
    if (p && p->feeding) {
        p->flush_wanted = TRUE; /* see feed_pending */
        return;
    }
    if (!p || p->inflight || !p->channel || !p->open)
        return;
    const guint8 *data;
    size_t n = vr_conn_out_peek(p->conn, &data);
    if (n == 0)
        return;
    if (n > WRITE_CHUNK)
        n = WRITE_CHUNK;
    struct write_op *op = g_new(struct write_op, 1);
    op->port = p;
    op->buf = g_memdup2(data, n);
    vr_conn_out_consume(p->conn, n);
    p->inflight = op;
    spice_port_channel_write_async(p->channel, op->buf, n, p->cancel, write_done, op);
}

gboolean vr_spiceport_writing(const VrSpicePort *p)
{
    return p && (p->inflight || p->flush_wanted);
}

gboolean vr_spiceport_is_open(const VrSpicePort *p)
{
    return p && p->channel && p->open;
}

void vr_spiceport_free(VrSpicePort *p)
{
    if (!p)
        return;
    if (p->busy) {
        /* From a callback: finished when the feeding returns. */
        p->dying = TRUE;
        return;
    }
    free_now(p);
}

static void free_now(VrSpicePort *p)
{
    pending_clear(p);
    if (p->inflight)
        p->inflight->port = NULL;
    g_cancellable_cancel(p->cancel);
    g_object_unref(p->cancel);
    g_signal_handler_disconnect(p->session, p->new_id);
    g_signal_handler_disconnect(p->session, p->destroy_id);
    GList *list = spice_session_get_channels(p->session);
    for (GList *l = list; l; l = l->next)
        g_signal_handlers_disconnect_by_data(l->data, p);
    g_list_free(list);
    if (p->channel) {
        g_signal_handlers_disconnect_by_data(p->channel, p);
        g_object_unref(p->channel);
    }
    g_object_unref(p->session);
    g_free(p->name);
    g_free(p);
}

const char *vr_spice_channel_error(SpiceChannel *channel, SpiceChannelEvent event)
{
    const char *what;
    switch (event) {
    case SPICE_CHANNEL_ERROR_CONNECT: what = "no SPICE server there"; break;
    case SPICE_CHANNEL_ERROR_TLS: what = "TLS error"; break;
    case SPICE_CHANNEL_ERROR_LINK: what = "the server refused the link"; break;
    case SPICE_CHANNEL_ERROR_AUTH: what = "authentication failed"; break;
    case SPICE_CHANNEL_ERROR_IO: what = "I/O error"; break;
    default: return NULL;
    }
    const GError *err = channel ? spice_channel_get_error(channel) : NULL;
    return err && err->message ? err->message : what;
}
