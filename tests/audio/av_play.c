/*
 * vr-av-play: the "guest" player of the A/V offset test. playbin plays URI
 * with the given video and audio sinks (gst-launch descriptions), like a
 * player of the guest desktop, and can pause and seek at given positions as
 * a user would. Loads the videoredir plugin from VR_GST_PLUGIN (so an ASan
 * build of it runs in an ASan process). Prints one line per event on stdout,
 * with the monotonic time in microseconds: "playing T", "paused T",
 * "resumed T", "seeked T", "eos T".
 *
 * Usage: vr-av-play [--timeout S] [--av-offset NS] [--pause-at S --pause-for S]
 *                   [--seek-at S --seek-to S] URI VIDEO-SINK AUDIO-SINK
 * Exit: 0 at EOS, 1 on an error or timeout, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gst/gst.h>

struct play {
    GMainLoop *loop;
    GstElement *pipeline;
    int status;
    double pause_at, pause_for, seek_at, seek_to;
    gboolean paused_done, seek_done, seeking, started;
};

static void event(const char *what)
{
    printf("%s %" G_GINT64_FORMAT "\n", what, g_get_monotonic_time());
    fflush(stdout);
}

static gboolean resume(gpointer user)
{
    struct play *p = user;
    gst_element_set_state(p->pipeline, GST_STATE_PLAYING);
    event("resumed");
    return G_SOURCE_REMOVE;
}

/* Every 10 ms: the position decides when to pause or seek. */
static gboolean poll_position(gpointer user)
{
    struct play *p = user;
    gint64 pos = 0;
    if (!gst_element_query_position(p->pipeline, GST_FORMAT_TIME, &pos))
        return G_SOURCE_CONTINUE;
    double s = (double)pos / GST_SECOND;
    if (p->pause_for > 0 && !p->paused_done && s >= p->pause_at) {
        p->paused_done = TRUE;
        gst_element_set_state(p->pipeline, GST_STATE_PAUSED);
        event("paused");
        g_timeout_add((guint)(p->pause_for * 1000), resume, p);
    }
    if (p->seek_at > 0 && !p->seek_done && s >= p->seek_at) {
        p->seek_done = TRUE;
        p->seeking = TRUE;
        if (!gst_element_seek_simple(p->pipeline, GST_FORMAT_TIME,
                                     GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT,
                                     (gint64)(p->seek_to * GST_SECOND)))
            fprintf(stderr, "vr-av-play: seek refused\n");
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_timeout(gpointer user)
{
    struct play *p = user;
    fprintf(stderr, "vr-av-play: timed out\n");
    p->status = 1;
    g_main_loop_quit(p->loop);
    return G_SOURCE_REMOVE;
}

static gboolean on_bus(GstBus *bus, GstMessage *m, gpointer user)
{
    (void)bus;
    struct play *p = user;
    switch (GST_MESSAGE_TYPE(m)) {
    case GST_MESSAGE_EOS:
        event("eos");
        g_main_loop_quit(p->loop);
        break;
    case GST_MESSAGE_ASYNC_DONE:
        if (p->seeking) {
            p->seeking = FALSE;
            event("seeked");
        }
        break;
    case GST_MESSAGE_STATE_CHANGED:
        if (GST_MESSAGE_SRC(m) == GST_OBJECT(p->pipeline)) {
            GstState old, now;
            gst_message_parse_state_changed(m, &old, &now, NULL);
            (void)old;
            if (now == GST_STATE_PLAYING && !p->started) {
                p->started = TRUE;
                event("playing");
            }
        }
        break;
    case GST_MESSAGE_ERROR: {
        GError *err = NULL;
        gchar *dbg = NULL;
        gst_message_parse_error(m, &err, &dbg);
        fprintf(stderr, "vr-av-play: error from %s: %s (%s)\n", GST_OBJECT_NAME(m->src), err->message,
                dbg ? dbg : "");
        g_clear_error(&err);
        g_free(dbg);
        p->status = 1;
        g_main_loop_quit(p->loop);
        break;
    }
    default:
        break;
    }
    return TRUE;
}

static GstElement *bin_of(const char *desc)
{
    GError *err = NULL;
    GstElement *b = gst_parse_bin_from_description(desc, TRUE, &err);
    if (!b)
        fprintf(stderr, "vr-av-play: %s: %s\n", desc, err ? err->message : "bad description");
    g_clear_error(&err);
    return b;
}

int main(int argc, char **argv)
{
    struct play p = { 0 };
    double timeout = 120;
    gint64 av_offset = 0;
    int i = 1;
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (!strcmp(o, "--timeout"))
            timeout = atof(v);
        else if (!strcmp(o, "--av-offset"))
            av_offset = g_ascii_strtoll(v, NULL, 10);
        else if (!strcmp(o, "--pause-at"))
            p.pause_at = atof(v);
        else if (!strcmp(o, "--pause-for"))
            p.pause_for = atof(v);
        else if (!strcmp(o, "--seek-at"))
            p.seek_at = atof(v);
        else if (!strcmp(o, "--seek-to"))
            p.seek_to = atof(v);
        else
            break;
    }
    if (i != argc - 3 || timeout <= 0) {
        fprintf(stderr, "usage: vr-av-play [--timeout S] [--av-offset NS] [--pause-at S --pause-for S] "
                        "[--seek-at S --seek-to S] URI VIDEO-SINK AUDIO-SINK\n");
        return 2;
    }
    gst_init(NULL, NULL);
    const char *plugin = getenv("VR_GST_PLUGIN");
    if (plugin) {
        GError *err = NULL;
        GstPlugin *pl = gst_plugin_load_file(plugin, &err);
        if (!pl) {
            fprintf(stderr, "vr-av-play: cannot load %s: %s\n", plugin, err ? err->message : "?");
            g_clear_error(&err);
            return 1;
        }
        gst_object_unref(pl);
    }
    GstElement *vsink = bin_of(argv[i + 1]), *asink = bin_of(argv[i + 2]);
    p.pipeline = gst_element_factory_make("playbin", NULL);
    if (!vsink || !asink || !p.pipeline) {
        fprintf(stderr, "vr-av-play: cannot make the player\n");
        return 1;
    }
    g_object_set(p.pipeline, "uri", argv[i], "video-sink", vsink, "audio-sink", asink, "av-offset",
                 av_offset, NULL);
    p.loop = g_main_loop_new(NULL, FALSE);
    GstBus *bus = gst_element_get_bus(p.pipeline);
    gst_bus_add_watch(bus, on_bus, &p);
    g_timeout_add(10, poll_position, &p);
    g_timeout_add((guint)(timeout * 1000), on_timeout, &p);
    if (gst_element_set_state(p.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        fprintf(stderr, "vr-av-play: the pipeline does not start\n");
        p.status = 1;
    } else {
        g_main_loop_run(p.loop);
    }
    gst_element_set_state(p.pipeline, GST_STATE_NULL);
    gst_bus_remove_watch(bus);
    gst_object_unref(bus);
    gst_object_unref(p.pipeline);
    g_main_loop_unref(p.loop);
    gst_deinit();
    return p.status;
}
