/*
 * What the test players vr-gst-play (tests/gst) and vr-av-play (tests/audio)
 * share: loading the videoredir plugin from VR_GST_PLUGIN (so an ASan build
 * of it runs in an ASan process, which gst-launch-1.0 cannot do), the bus's
 * error report, the time limit, and running a pipeline until its end.
 * Each player embeds struct vr_test_play first in its own state.
 */
#ifndef VR_TEST_PLAYER_H
#define VR_TEST_PLAYER_H

#include <stdio.h>
#include <stdlib.h>

#include <gst/gst.h>

struct vr_test_play {
    const char *prog; /* for messages */
    GMainLoop *loop;
    GstElement *pipeline;
    int status; /* the exit status: 1 after an error or the time limit */
};

/* Loads $VR_GST_PLUGIN when set. 0, or 1 (said on stderr). */
static inline int vr_test_play_load_plugin(const char *prog)
{
    const char *plugin = getenv("VR_GST_PLUGIN");
    if (!plugin)
        return 0;
    GError *err = NULL;
    GstPlugin *pl = gst_plugin_load_file(plugin, &err);
    if (!pl) {
        fprintf(stderr, "%s: cannot load %s: %s\n", prog, plugin, err ? err->message : "?");
        g_clear_error(&err);
        return 1;
    }
    gst_object_unref(pl);
    return 0;
}

/* A bus ERROR: said on stderr, the status set to 1, the loop left. */
static inline void vr_test_play_error(struct vr_test_play *p, GstMessage *m)
{
    GError *err = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error(m, &err, &dbg);
    fprintf(stderr, "%s: error from %s: %s (%s)\n", p->prog, GST_OBJECT_NAME(m->src), err->message,
            dbg ? dbg : "");
    g_clear_error(&err);
    g_free(dbg);
    p->status = 1;
    g_main_loop_quit(p->loop);
}

static inline gboolean vr_test_play_timed_out(gpointer user)
{
    struct vr_test_play *p = user;
    fprintf(stderr, "%s: timed out\n", p->prog);
    p->status = 1;
    g_main_loop_quit(p->loop);
    return G_SOURCE_REMOVE;
}

/* Makes the loop, watches the bus with on_bus(user), sets PLAYING and runs
 * until on_bus quits the loop or timeout seconds passed. The caller then
 * reads what it wants and calls vr_test_play_finish. */
static inline void vr_test_play_run(struct vr_test_play *p, GstBusFunc on_bus, gpointer user, double timeout)
{
    p->loop = g_main_loop_new(NULL, FALSE);
    GstBus *bus = gst_element_get_bus(p->pipeline);
    gst_bus_add_watch(bus, on_bus, user);
    gst_object_unref(bus);
    g_timeout_add((guint)(timeout * 1000), vr_test_play_timed_out, p);
    if (gst_element_set_state(p->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        fprintf(stderr, "%s: the pipeline does not start\n", p->prog);
        p->status = 1;
    } else {
        g_main_loop_run(p->loop);
    }
}

/* Stops and frees the pipeline and the loop; returns the exit status. */
static inline int vr_test_play_finish(struct vr_test_play *p)
{
    gst_element_set_state(p->pipeline, GST_STATE_NULL);
    GstBus *bus = gst_element_get_bus(p->pipeline);
    gst_bus_remove_watch(bus);
    gst_object_unref(bus);
    gst_object_unref(p->pipeline);
    g_main_loop_unref(p->loop);
    gst_deinit();
    return p->status;
}

#endif
