/* SpiceCoreInterface on the default GLib main context. */
#include <glib-unix.h>

#include "core.h"

struct SpiceTimer {
    GSource *src;
    SpiceTimerFunc func;
    void *opaque;
};

struct SpiceWatch {
    int fd, mask;
    GSource *src;
    SpiceWatchFunc func;
    void *opaque;
};

static gboolean timer_fire(gpointer data)
{
    SpiceTimer *t = data;
    g_source_unref(t->src);
    t->src = NULL;
    t->func(t->opaque);
    return G_SOURCE_REMOVE;
}

static SpiceTimer *timer_add(SpiceTimerFunc func, void *opaque)
{
    SpiceTimer *t = g_new0(SpiceTimer, 1);
    t->func = func;
    t->opaque = opaque;
    return t;
}

static void timer_cancel(SpiceTimer *t)
{
    if (t->src) {
        g_source_destroy(t->src);
        g_source_unref(t->src);
        t->src = NULL;
    }
}

static void timer_start(SpiceTimer *t, uint32_t ms)
{
    timer_cancel(t);
    t->src = g_timeout_source_new(ms);
    g_source_set_callback(t->src, timer_fire, t, NULL);
    g_source_attach(t->src, NULL);
}

static void timer_remove(SpiceTimer *t)
{
    timer_cancel(t);
    g_free(t);
}

static gboolean watch_fire(gint fd, GIOCondition cond, gpointer data)
{
    SpiceWatch *w = data;
    int ev = 0;
    if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
        ev |= SPICE_WATCH_EVENT_READ;
    if (cond & G_IO_OUT)
        ev |= SPICE_WATCH_EVENT_WRITE;
    w->func(fd, ev & (w->mask | SPICE_WATCH_EVENT_READ), w->opaque);
    return G_SOURCE_CONTINUE;
}

static void watch_update_mask(SpiceWatch *w, int mask)
{
    if (w->src) {
        g_source_destroy(w->src);
        g_source_unref(w->src);
        w->src = NULL;
    }
    w->mask = mask;
    GIOCondition cond = 0;
    if (mask & SPICE_WATCH_EVENT_READ)
        cond |= G_IO_IN | G_IO_HUP | G_IO_ERR;
    if (mask & SPICE_WATCH_EVENT_WRITE)
        cond |= G_IO_OUT;
    if (!cond)
        return;
    w->src = g_unix_fd_source_new(w->fd, cond);
    g_source_set_callback(w->src, (GSourceFunc)(void (*)(void))watch_fire, w, NULL);
    g_source_attach(w->src, NULL);
}

static SpiceWatch *watch_add(int fd, int mask, SpiceWatchFunc func, void *opaque)
{
    SpiceWatch *w = g_new0(SpiceWatch, 1);
    w->fd = fd;
    w->func = func;
    w->opaque = opaque;
    watch_update_mask(w, mask);
    return w;
}

static void watch_remove(SpiceWatch *w)
{
    watch_update_mask(w, 0);
    g_free(w);
}

static void channel_event(int event, SpiceChannelEventInfo *info)
{
    static const char *const names[] = { "connected", "initialized", "disconnected" };
    if (event >= SPICE_CHANNEL_EVENT_CONNECTED && event <= SPICE_CHANNEL_EVENT_DISCONNECTED)
        g_debug("SPICE channel type %d id %d %s", info->type, info->id,
                names[event - SPICE_CHANNEL_EVENT_CONNECTED]);
}

SpiceCoreInterface vr_host_core = {
    .base = { .type = SPICE_INTERFACE_CORE, .description = "videoredir-host core",
              .major_version = SPICE_INTERFACE_CORE_MAJOR,
              .minor_version = SPICE_INTERFACE_CORE_MINOR },
    .timer_add = timer_add, .timer_start = timer_start, .timer_cancel = timer_cancel,
    .timer_remove = timer_remove, .watch_add = watch_add,
    .watch_update_mask = watch_update_mask, .watch_remove = watch_remove,
    .channel_event = channel_event,
};
