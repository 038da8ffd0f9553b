/*
 * A minimal GStreamer player for the sink's tests: loads the videoredir
 * plugin from VR_GST_PLUGIN (so an ASan build of it runs in an ASan process,
 * which gst-launch-1.0 cannot do), runs a gst-launch description until end
 * of stream, and prints the statistics of its videoredirsink or videoredirdec every half second
 * and at the end ("stats: <structure>").
 * Usage: vr-gst-play [--timeout S] [--at T:ACTION]... PIPELINE-DESCRIPTION
 *   --at T:ACTION  T seconds after the pipeline first reached PLAYING (wall
 *                  clock), what a user of a player does: seek=POS (flushing,
 *                  key-unit seek to POS seconds), pause, play, rate=R (flushing
 *                  seek at the current position with rate R), step=N (N
 *                  frames forward while paused). Each prints
 *                  "action: T ACTION position=P mono=US" when done, P the
 *                  position just before it (seconds, -1 unknown), T and US
 *                  the monotonic clock just before it (T in seconds since
 *                  PLAYING, US in microseconds of CLOCK_MONOTONIC).
 *                  A step, once done, prints "step-done: T amount=N
 *                  position=P mono=US", P the position it stopped at.
 * Exit: 0 at EOS, 1 on an error or timeout, 2 on bad usage.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gst/gst.h>

#include "test_player.h"

#define MAX_ACTIONS 16

struct action {
    double at;
    char what[64];
};

struct play {
    struct vr_test_play base; /* first */
    struct action actions[MAX_ACTIONS];
    int n_actions;
    bool started;
    gint64 started_us;
};

static GstElement *find_sink(GstElement *pipeline)
{
    GstElement *found = NULL;
    GstIterator *it = gst_bin_iterate_recurse(GST_BIN(pipeline));
    GValue v = G_VALUE_INIT;
    while (!found && gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
        GstElement *e = g_value_get_object(&v);
        GstElementFactory *f = gst_element_get_factory(e);
        if (f && (!strcmp(GST_OBJECT_NAME(f), "videoredirsink") || !strcmp(GST_OBJECT_NAME(f), "videoredirdec")))
            found = gst_object_ref(e);
        g_value_reset(&v);
    }
    g_value_unset(&v);
    gst_iterator_free(it);
    if (!found) {
        /* playbin keeps its video-sink as a property, not a child, until it plays. */
        GObjectClass *k = G_OBJECT_GET_CLASS(pipeline);
        if (g_object_class_find_property(k, "video-sink"))
            g_object_get(pipeline, "video-sink", &found, NULL);
    }
    return found;
}

static void print_stats(struct play *p)
{
    GstElement *sink = find_sink(p->base.pipeline);
    if (!sink)
        return;
    GstStructure *st = NULL;
    g_object_get(sink, "stats", &st, NULL);
    if (st) {
        gchar *s = gst_structure_to_string(st);
        printf("stats: %s\n", s);
        fflush(stdout);
        g_free(s);
        gst_structure_free(st);
    }
    gst_object_unref(sink);
}

static gboolean on_tick(gpointer user)
{
    print_stats(user);
    return G_SOURCE_CONTINUE;
}

static double position_s(struct play *p)
{
    gint64 pos = -1;
    if (!gst_element_query_position(p->base.pipeline, GST_FORMAT_TIME, &pos) || pos < 0)
        return -1;
    return (double)pos / GST_SECOND;
}

static struct play *the_play;

static gboolean on_action(gpointer user)
{
    struct action *a = user;
    struct play *p = the_play;
    gboolean ok = TRUE;
    gint64 mono = g_get_monotonic_time();
    double v = 0, before = position_s(p);
    if (sscanf(a->what, "seek=%lf", &v) == 1) {
        ok = gst_element_seek_simple(p->base.pipeline, GST_FORMAT_TIME,
                                     GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT, (gint64)(v * GST_SECOND));
    } else if (sscanf(a->what, "rate=%lf", &v) == 1) {
        gint64 pos = 0;
        gst_element_query_position(p->base.pipeline, GST_FORMAT_TIME, &pos);
        ok = gst_element_seek(p->base.pipeline, v, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT,
                              GST_SEEK_TYPE_SET, pos < 0 ? 0 : pos, GST_SEEK_TYPE_NONE, -1);
    } else if (!strcmp(a->what, "pause")) {
        ok = gst_element_set_state(p->base.pipeline, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE;
    } else if (!strcmp(a->what, "play")) {
        ok = gst_element_set_state(p->base.pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
    } else if (sscanf(a->what, "step=%lf", &v) == 1) {
        ok = gst_element_send_event(p->base.pipeline,
                                    gst_event_new_step(GST_FORMAT_BUFFERS, (guint64)v, 1.0, TRUE, FALSE));
    } else {
        ok = FALSE;
    }
    printf("action: %.3f %s position=%.3f mono=%" G_GINT64_FORMAT "%s\n", (mono - p->started_us) / 1e6, a->what,
           before, mono, ok ? "" : " FAILED");
    fflush(stdout);
    if (!ok)
        p->base.status = 1;
    return G_SOURCE_REMOVE;
}

static gboolean on_bus(GstBus *bus, GstMessage *m, gpointer user)
{
    (void)bus;
    struct play *p = user;
    switch (GST_MESSAGE_TYPE(m)) {
    case GST_MESSAGE_EOS:
        printf("eos\n");
        g_main_loop_quit(p->base.loop);
        break;
    case GST_MESSAGE_ERROR:
        vr_test_play_error(&p->base, m);
        break;
    case GST_MESSAGE_WARNING: {
        GError *err = NULL;
        gst_message_parse_warning(m, &err, NULL);
        fprintf(stderr, "vr-gst-play: warning from %s: %s\n", GST_OBJECT_NAME(m->src), err->message);
        g_clear_error(&err);
        break;
    }
    case GST_MESSAGE_STEP_DONE: {
        guint64 amount = 0;
        gst_message_parse_step_done(m, NULL, &amount, NULL, NULL, NULL, NULL, NULL);
        gint64 mono = g_get_monotonic_time();
        printf("step-done: %.3f amount=%" G_GUINT64_FORMAT " position=%.3f mono=%" G_GINT64_FORMAT "\n",
               (mono - p->started_us) / 1e6, amount, position_s(p), mono);
        fflush(stdout);
        break;
    }
    case GST_MESSAGE_STATE_CHANGED:
        if (GST_MESSAGE_SRC(m) == GST_OBJECT(p->base.pipeline) && !p->started) {
            GstState now;
            gst_message_parse_state_changed(m, NULL, &now, NULL);
            if (now == GST_STATE_PLAYING) {
                p->started = true;
                p->started_us = g_get_monotonic_time();
                for (int i = 0; i < p->n_actions; i++)
                    g_timeout_add((guint)(p->actions[i].at * 1000), on_action, &p->actions[i]);
            }
        }
        break;
    default:
        break;
    }
    return TRUE;
}

int main(int argc, char **argv)
{
    double timeout = 120;
    int i = 1;
    static struct play p;
    the_play = &p;
    for (;;) {
        if (i + 1 < argc && !strcmp(argv[i], "--timeout")) {
            timeout = atof(argv[i + 1]);
            i += 2;
        } else if (i + 1 < argc && !strcmp(argv[i], "--at") && p.n_actions < MAX_ACTIONS) {
            struct action *a = &p.actions[p.n_actions];
            if (sscanf(argv[i + 1], "%lf:%63s", &a->at, a->what) != 2 || a->at < 0) {
                fprintf(stderr, "vr-gst-play: bad --at %s (T:ACTION)\n", argv[i + 1]);
                return 2;
            }
            p.n_actions++;
            i += 2;
        } else {
            break;
        }
    }
    if (i != argc - 1) {
        fprintf(stderr, "usage: vr-gst-play [--timeout S] [--at T:ACTION]... PIPELINE-DESCRIPTION\n");
        return 2;
    }
    gst_init(NULL, NULL);
    p.base.prog = "vr-gst-play";
    if (vr_test_play_load_plugin(p.base.prog))
        return 1;
    GError *err = NULL;
    p.base.pipeline = gst_parse_launch(argv[i], &err);
    if (!p.base.pipeline) {
        fprintf(stderr, "vr-gst-play: %s\n", err ? err->message : "bad pipeline");
        g_clear_error(&err);
        return 2;
    }
    g_clear_error(&err); /* a recoverable warning */
    g_timeout_add(500, on_tick, &p);
    vr_test_play_run(&p.base, on_bus, &p, timeout);
    print_stats(&p);
    return vr_test_play_finish(&p.base);
}
