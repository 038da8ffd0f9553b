/*
 * What videoredirsink's crash fix relies on (issue 14 item 5): the local
 * branch's video sink (ximagesink) answers caps queries from another thread
 * safely while it goes PAUSED -> READY and back, because READY keeps its X
 * context. (Going to NULL frees the context's caps outside the lock its
 * caps query holds: run with "null" to see it crash; the sink never does
 * that while the branch may still negotiate.)
 * Usage: vr-sink-teardown CYCLES ready|null    (needs $DISPLAY)
 * Exit: 0 when every cycle ran with queries in flight and nothing failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <X11/Xlib.h>
#include <gst/gst.h>
#include <gst/video/videooverlay.h>

static GstElement *sink;
static gint done;
static guint64 queries;

static void on_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer user)
{
    (void)domain, (void)level, (void)user;
    fprintf(stderr, "FAIL: %s\n", msg);
    exit(1);
}

static gpointer query_loop(gpointer user)
{
    (void)user;
    GstPad *pad = gst_element_get_static_pad(sink, "sink");
    GstCaps *filter = gst_caps_from_string("video/x-raw, width=640, height=360");
    while (!g_atomic_int_get(&done)) {
        GstCaps *c = gst_pad_query_caps(pad, filter);
        gst_clear_caps(&c);
        queries++;
    }
    gst_caps_unref(filter);
    gst_object_unref(pad);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vr-sink-teardown CYCLES ready|null\n");
        return 2;
    }
    int n = atoi(argv[1]);
    GstState to = strcmp(argv[2], "null") ? GST_STATE_READY : GST_STATE_NULL;
    gst_init(NULL, NULL);
    g_log_set_handler("GStreamer", G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING, on_log, NULL);
    g_log_set_handler("GLib", G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING, on_log, NULL);
    Display *dpy = XOpenDisplay(NULL);
    if (!dpy) {
        fprintf(stderr, "no X display\n");
        return 1;
    }
    Window w = XCreateSimpleWindow(dpy, DefaultRootWindow(dpy), 0, 0, 640, 360, 0, 0, 0);
    XMapWindow(dpy, w);
    XSync(dpy, False);
    sink = gst_element_factory_make("ximagesink", NULL);
    if (!sink) {
        printf("SKIP: no ximagesink\n");
        return 77;
    }
    gst_element_set_state(sink, GST_STATE_READY);
    GThread *t = g_thread_new("queries", query_loop, NULL);
    for (int k = 0; k < n; k++) {
        /* As the sink's local branch: our window, then play, then stop. */
        gst_video_overlay_set_window_handle(GST_VIDEO_OVERLAY(sink), w);
        gst_element_set_state(sink, GST_STATE_PAUSED);
        gst_element_set_state(sink, to);
    }
    g_atomic_int_set(&done, 1);
    g_thread_join(t);
    gst_element_set_state(sink, GST_STATE_NULL);
    gst_object_unref(sink);
    XCloseDisplay(dpy);
    printf("%d cycles to %s with %" G_GUINT64_FORMAT " caps queries in flight: no failure\n", n, argv[2], queries);
    return queries > 0 ? 0 : 1;
}
