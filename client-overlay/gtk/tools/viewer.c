/*
 * videoredir-viewer: a SPICE client (spice-gtk) with the videoredir overlay
 * built in. videoredir-viewer spice://HOST:PORT
 * Keys: F9 toggles the statistics readout, F11 full screen; everything else
 * goes to the guest as in any spice-gtk client.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libavutil/log.h>

#include <videoredir/gtk-overlay.h>
#include <videoredir/transport-spice.h>

struct viewer {
    GtkWidget *window;
    SpiceDisplay *display;
    VrOverlay *overlay;
    gboolean fullscreen;
    int exit_code;
};

static gboolean on_key(GtkWidget *w, GdkEventKey *ev, gpointer data)
{
    struct viewer *v = data;
    if (ev->keyval == GDK_KEY_F9) {
        vr_overlay_set_show_stats(v->overlay, !vr_overlay_get_show_stats(v->overlay));
        return TRUE;
    }
    if (ev->keyval == GDK_KEY_F11) {
        v->fullscreen = !v->fullscreen;
        if (v->fullscreen)
            gtk_window_fullscreen(GTK_WINDOW(v->window));
        else
            gtk_window_unfullscreen(GTK_WINDOW(v->window));
        return TRUE;
    }
    return FALSE; /* to the guest */
}

static void on_channel_event(SpiceChannel *ch, SpiceChannelEvent event, gpointer data)
{
    struct viewer *v = data;
    if (event == SPICE_CHANNEL_OPENED)
        return;
    if (event == SPICE_CHANNEL_CLOSED) {
        g_message("the SPICE server closed the connection");
    } else {
        const char *error = vr_spice_channel_error(ch, event);
        if (!error)
            return; /* not an error: switching hosts, for one */
        g_printerr("videoredir-viewer: connection failed: %s\n", error);
        v->exit_code = 1;
    }
    gtk_main_quit();
}

static void on_channel_new(SpiceSession *s, SpiceChannel *ch, gpointer data)
{
    if (SPICE_IS_MAIN_CHANNEL(ch))
        g_signal_connect(ch, "channel-event", G_CALLBACK(on_channel_event), data);
}

int main(int argc, char **argv)
{
    char *port_name = NULL, *hwdec_name = NULL, *size = NULL, *present = NULL;
    gboolean stats = FALSE, full = FALSE, no_scaling = FALSE;
    GOptionEntry entries[] = {
        { "port-name", 0, 0, G_OPTION_ARG_STRING, &port_name,
          "videoredir port name (default " VR_DEFAULT_PORT_NAME ")", "NAME" },
        { "hwdec", 0, 0, G_OPTION_ARG_STRING, &hwdec_name,
          "decoders: auto (default), vaapi, vdpau, cuda, none", "NAME" },
        { "present", 0, 0, G_OPTION_ARG_STRING, &present,
          "how videos are drawn: auto (default: gl on a GPU, else software), gl, sw (xshm where the X "
          "server offers MIT-SHM, else cairo), xshm, cairo "
          "(default from VIDEOREDIR_PRESENT)", "MODE" },
        { "stats", 's', 0, G_OPTION_ARG_NONE, &stats, "show the statistics readout (F9 toggles)", NULL },
        { "full-screen", 'f', 0, G_OPTION_ARG_NONE, &full, "start in full screen (F11 toggles)", NULL },
        { "size", 0, 0, G_OPTION_ARG_STRING, &size, "initial window size (default 1024x640)", "WxH" },
        { "no-scaling", 0, 0, G_OPTION_ARG_NONE, &no_scaling,
          "show the guest 1:1 instead of scaling it to the window", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GError *err = NULL;
    GOptionContext *ctx = g_option_context_new("spice://HOST:PORT - SPICE client with videoredir");
    g_option_context_set_summary(ctx,
        "Shows the guest's desktop and draws the videos its players redirect (decoded here)\n"
        "where the guest's video windows are, clipped where other windows cover them.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_add_group(ctx, gtk_get_option_group(TRUE));
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "videoredir-viewer: %s (see --help)\n", err->message);
        return 2;
    }
    g_option_context_free(ctx);
    if (argc != 2) {
        fprintf(stderr, "videoredir-viewer: give one spice:// URI (see --help)\n");
        return 2;
    }
    struct vr_overlay_options opt = { .port_name = port_name, .show_stats = stats };
    if (hwdec_name && vr_hwdec_from_name(hwdec_name, &opt.hwdec) < 0) {
        fprintf(stderr, "videoredir-viewer: unknown --hwdec %s\n", hwdec_name);
        return 2;
    }
    const char *pm = present ? present : g_getenv("VIDEOREDIR_PRESENT");
    if (pm && *pm && vr_overlay_present_from_name(pm, &opt.present) < 0) {
        fprintf(stderr, "videoredir-viewer: unknown %s %s (auto, gl or sw)\n",
                present ? "--present" : "VIDEOREDIR_PRESENT", pm);
        return 2;
    }
    int w = 1024, h = 640;
    if (size && (sscanf(size, "%dx%d", &w, &h) != 2 || w < 64 || h < 64 || w > 16384 || h > 16384)) {
        fprintf(stderr, "videoredir-viewer: bad --size %s\n", size);
        return 2;
    }
    av_log_set_level(AV_LOG_ERROR);

    struct viewer v = { 0 };
    SpiceSession *session = spice_session_new();
    g_object_set(session, "uri", argv[1], NULL);
    g_signal_connect(session, "channel-new", G_CALLBACK(on_channel_new), &v);
    v.window = gtk_window_new(GTK_WINDOW_TOPLEVEL);
    gtk_window_set_title(GTK_WINDOW(v.window), "videoredir-viewer");
    gtk_window_set_default_size(GTK_WINDOW(v.window), w, h);
    v.display = spice_display_new(session, 0);
    g_object_set(v.display, "scaling", !no_scaling, NULL);
    gtk_container_add(GTK_CONTAINER(v.window), GTK_WIDGET(v.display));
    v.overlay = vr_overlay_attach(session, v.display, &opt);
    g_signal_connect(v.window, "key-press-event", G_CALLBACK(on_key), &v);
    g_signal_connect(v.window, "destroy", G_CALLBACK(gtk_main_quit), NULL);
    if (full) {
        v.fullscreen = TRUE;
        gtk_window_fullscreen(GTK_WINDOW(v.window));
    }
    gtk_widget_show_all(v.window);
    if (!spice_session_connect(session)) {
        fprintf(stderr, "videoredir-viewer: cannot connect to %s\n", argv[1]);
        return 1;
    }
    gtk_main();
    spice_session_disconnect(session);
    g_object_unref(session);
    g_free(port_name);
    g_free(hwdec_name);
    g_free(size);
    g_free(present);
    return v.exit_code;
}
