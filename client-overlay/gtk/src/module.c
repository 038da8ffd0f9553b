/*
 * GTK module for unmodified spice-gtk clients:
 *   GTK_MODULES=/path/to/libvideoredir-gtk-module.so remote-viewer spice://HOST:PORT
 * An emission hook on GtkWidget::realize finds every SpiceDisplay the client
 * creates and attaches the videoredir overlay to it with the display's own
 * session. Settings from the environment: VIDEOREDIR_PORT_NAME,
 * VIDEOREDIR_HWDEC (auto|vaapi|vdpau|cuda|none), VIDEOREDIR_STATS=1,
 * VIDEOREDIR_AUDIO_DELAY_MS (the audio output's delay, or "off"),
 * VIDEOREDIR_PRESENT (auto|gl|sw|xshm|cairo: how the videos are drawn).
 */
#include <gmodule.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/gtk-overlay.h>

G_MODULE_EXPORT void gtk_module_init(gint *argc, gchar ***argv);

static struct vr_overlay_options options;

static gboolean on_realize(GSignalInvocationHint *hint, guint n, const GValue *params,
                           gpointer data)
{
    GObject *obj = n > 0 ? g_value_get_object(&params[0]) : NULL;
    if (!SPICE_IS_DISPLAY(obj) || vr_overlay_get(SPICE_DISPLAY(obj)))
        return TRUE; /* keep watching */
    SpiceSession *session = NULL;
    g_object_get(obj, "session", &session, NULL);
    if (session) {
        if (vr_overlay_attach(session, SPICE_DISPLAY(obj), &options))
            g_message("videoredir overlay attached to a SpiceDisplay");
        g_object_unref(session);
    }
    return TRUE;
}

void gtk_module_init(gint *argc, gchar ***argv)
{
    const char *port = g_getenv("VIDEOREDIR_PORT_NAME"), *hw = g_getenv("VIDEOREDIR_HWDEC");
    const char *stats = g_getenv("VIDEOREDIR_STATS");
    options.port_name = port && *port ? g_strdup(port) : NULL;
    if (hw && vr_hwdec_from_name(hw, &options.hwdec) < 0)
        g_warning("VIDEOREDIR_HWDEC=%s: unknown, using auto", hw);
    options.show_stats = stats && *stats && *stats != '0';
    const char *present = g_getenv("VIDEOREDIR_PRESENT");
    if (present && *present && vr_overlay_present_from_name(present, &options.present) < 0)
        g_warning("VIDEOREDIR_PRESENT=%s: not auto, gl, sw, xshm or cairo, using auto", present);
    const char *delay = g_getenv("VIDEOREDIR_AUDIO_DELAY_MS");
    if (delay && !strcmp(delay, "off"))
        options.audio_delay_ms = -1;
    else if (delay && *delay) {
        char *end = NULL;
        long ms = strtol(delay, &end, 10);
        if (*end || ms < 0 || ms > 2000)
            g_warning("VIDEOREDIR_AUDIO_DELAY_MS=%s: not off or 0-2000, using 0", delay);
        else
            options.audio_delay_ms = (int)ms;
    }
    /* Signals exist once their class does; modules load before any widget. */
    g_type_class_ref(GTK_TYPE_WIDGET);
    g_signal_add_emission_hook(g_signal_lookup("realize", GTK_TYPE_WIDGET), 0, on_realize, NULL,
                               NULL);
}
