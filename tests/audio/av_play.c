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

#include "test_player.h"

struct play {
    struct vr_test_play base; /* first */
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
    gst_element_set_state(p->base.pipeline, GST_STATE_PLAYING);
    event("resumed");
    return G_SOURCE_REMOVE;
}

/* Every 10 ms: the position decides when to pause or seek. */
static gboolean poll_position(gpointer user)
{
    struct play *p = user;
    gint64 pos = 0;
    if (!gst_element_query_position(p->base.pipeline, GST_FORMAT_TIME, &pos))
        return G_SOURCE_CONTINUE;
    double s = (double)pos / GST_SECOND;
    if (p->pause_for > 0 && !p->paused_done && s >= p->pause_at) {
        p->paused_done = TRUE;
        gst_element_set_state(p->base.pipeline, GST_STATE_PAUSED);
        event("paused");
        g_timeout_add((guint)(p->pause_for * 1000), resume, p);
    }
    if (p->seek_at > 0 && !p->seek_done && s >= p->seek_at) {
        p->seek_done = TRUE;
        p->seeking = TRUE;
        if (!gst_element_seek_simple(p->base.pipeline, GST_FORMAT_TIME,
                                     GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT,
                                     (gint64)(p->seek_to * GST_SECOND)))
            fprintf(stderr, "vr-av-play: seek refused\n");
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_bus(GstBus *bus, GstMessage *m, gpointer user)
{
    (void)bus;
    struct play *p = user;
    switch (GST_MESSAGE_TYPE(m)) {
    case GST_MESSAGE_EOS:
        event("eos");
        g_main_loop_quit(p->base.loop);
        break;
    case GST_MESSAGE_ASYNC_DONE:
        if (p->seeking) {
            p->seeking = FALSE;
            event("seeked");
        }
        break;
    case GST_MESSAGE_STATE_CHANGED:
        if (GST_MESSAGE_SRC(m) == GST_OBJECT(p->base.pipeline)) {
            GstState old, now;
            gst_message_parse_state_changed(m, &old, &now, NULL);
            (void)old;
            if (now == GST_STATE_PLAYING && !p->started) {
                p->started = TRUE;
                event("playing");
            }
        }
        break;
    case GST_MESSAGE_ERROR:
        vr_test_play_error(&p->base, m);
        break;
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
    p.base.prog = "vr-av-play";
    if (vr_test_play_load_plugin(p.base.prog))
        return 1;
    GstElement *vsink = bin_of(argv[i + 1]), *asink = bin_of(argv[i + 2]);
    p.base.pipeline = gst_element_factory_make("playbin", NULL);
    if (!vsink || !asink || !p.base.pipeline) {
        fprintf(stderr, "vr-av-play: cannot make the player\n");
        return 1;
    }
    g_object_set(p.base.pipeline, "uri", argv[i], "video-sink", vsink, "audio-sink", asink, "av-offset",
                 av_offset, NULL);
    g_timeout_add(10, poll_position, &p);
    vr_test_play_run(&p.base, on_bus, &p, timeout);
    return vr_test_play_finish(&p.base);
}
