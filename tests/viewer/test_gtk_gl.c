/*
 * The GTK overlay's presenter choice and the life of its GL and xshm
 * windows, under Xvfb with Mesa's llvmpipe, without a SPICE server (a
 * SpiceDisplay of a session that never connects):
 *   - VIDEOREDIR_PRESENT-like options: gl -> "gl" (llvmpipe accepted when
 *     asked for), auto -> "xshm" (a software rasteriser: software pictures
 *     on a window of their own), sw and xshm -> "xshm", cairo -> "cairo";
 *   - the display hidden and shown again (its window torn down and made
 *     again), moved to another toplevel, then destroyed with its toplevel:
 *     no X error (GDK would abort), no leak, presenter still the same;
 *   - vr_overlay_present_from_name accepts auto|gl|sw|software|xshm|cairo
 *     only.
 * Exits 77 without a display.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <videoredir/gtk-overlay.h>

#include "../check.h"

/* Runs the main loop until the overlay chose, or 20 s. */
static const char *wait_choice(VrOverlay *o)
{
    gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    while (!strcmp(vr_overlay_get_presenter(o), "undecided") && g_get_monotonic_time() < end)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(5000);
    return vr_overlay_get_presenter(o);
}

/* A few rounds of the main loop (draws, idles). */
static void spin(int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(2000);
}

static GtkWidget *window_with(SpiceSession *session, SpiceDisplay **display, VrOverlay **o,
                              enum vr_overlay_present present)
{
    GtkWidget *w = gtk_window_new(GTK_WINDOW_TOPLEVEL);
    gtk_window_set_default_size(GTK_WINDOW(w), 320, 200);
    *display = spice_display_new(session, 0);
    gtk_container_add(GTK_CONTAINER(w), GTK_WIDGET(*display));
    struct vr_overlay_options opt = { .present = present, .audio_delay_ms = -1 };
    *o = vr_overlay_attach(session, *display, &opt);
    CHECK(*o != NULL, "%s", "");
    gtk_widget_show_all(w);
    return w;
}

int main(int argc, char **argv)
{
    if (!gtk_init_check(&argc, &argv)) {
        printf("SKIP: no X display\n");
        return 77;
    }
    enum vr_overlay_present p;
    CHECK(vr_overlay_present_from_name("gl", &p) == 0 && p == VR_OVERLAY_PRESENT_GL, "%s", "");
    CHECK(vr_overlay_present_from_name("sw", &p) == 0 && p == VR_OVERLAY_PRESENT_SW, "%s", "");
    CHECK(vr_overlay_present_from_name("software", &p) == 0 && p == VR_OVERLAY_PRESENT_SW, "%s", "");
    CHECK(vr_overlay_present_from_name("auto", &p) == 0 && p == VR_OVERLAY_PRESENT_AUTO, "%s", "");
    CHECK(vr_overlay_present_from_name("xshm", &p) == 0 && p == VR_OVERLAY_PRESENT_XSHM, "%s", "");
    CHECK(vr_overlay_present_from_name("cairo", &p) == 0 && p == VR_OVERLAY_PRESENT_CAIRO, "%s", "");
    CHECK(vr_overlay_present_from_name("GL", &p) == -EINVAL, "%s", "");
    CHECK(vr_overlay_present_from_name("", &p) == -EINVAL, "%s", "");
    CHECK(vr_overlay_present_from_name(NULL, &p) == -EINVAL, "%s", "");
    CHECK(!strcmp(vr_overlay_get_presenter(NULL), "undecided"), "%s", "");

    static const struct {
        enum vr_overlay_present present;
        const char *want;
    } cases[] = {
        { VR_OVERLAY_PRESENT_GL, "gl" },
        { VR_OVERLAY_PRESENT_AUTO, "xshm" }, /* llvmpipe here */
        { VR_OVERLAY_PRESENT_SW, "xshm" },
        { VR_OVERLAY_PRESENT_XSHM, "xshm" },
        { VR_OVERLAY_PRESENT_CAIRO, "cairo" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        SpiceSession *session = spice_session_new();
        SpiceDisplay *display;
        VrOverlay *o;
        GtkWidget *w = window_with(session, &display, &o, cases[i].present);
        const char *got = wait_choice(o);
        printf("present %d: %s\n", cases[i].present, got);
        CHECK(!strcmp(got, cases[i].want), "presenter %s, want %s", got, cases[i].want);
        char line[512];
        vr_overlay_describe(o, line, sizeof(line));
        CHECK(strstr(line, cases[i].want) != NULL, "%s", "");
        if (cases[i].present == VR_OVERLAY_PRESENT_GL || cases[i].present == VR_OVERLAY_PRESENT_XSHM) {
            const char *want = cases[i].want;
            /* Hidden and shown: the window goes and comes back. */
            for (int k = 0; k < 3; k++) {
                gtk_widget_hide(GTK_WIDGET(display));
                spin(50);
                gtk_widget_show(GTK_WIDGET(display));
                spin(150);
                CHECK(!strcmp(vr_overlay_get_presenter(o), want), "%s", "after hide and show");
            }
            /* Into another toplevel (a new parent X window). */
            GtkWidget *w2 = gtk_window_new(GTK_WINDOW_TOPLEVEL);
            gtk_window_set_default_size(GTK_WINDOW(w2), 400, 300);
            g_object_ref(display);
            gtk_container_remove(GTK_CONTAINER(w), GTK_WIDGET(display));
            gtk_container_add(GTK_CONTAINER(w2), GTK_WIDGET(display));
            g_object_unref(display);
            gtk_widget_show_all(w2);
            spin(200);
            CHECK(!strcmp(vr_overlay_get_presenter(o), want), "%s", "in another toplevel");
            gtk_widget_destroy(w);
            w = w2;
            /* Detached and attached again: a new choice. */
            vr_overlay_detach(o);
            struct vr_overlay_options opt = { .present = cases[i].present, .audio_delay_ms = -1 };
            o = vr_overlay_attach(session, display, &opt);
            CHECK(o != NULL, "%s", "");
            gtk_widget_queue_draw(GTK_WIDGET(display));
            CHECK(!strcmp(wait_choice(o), want), "%s", "attached again");
            spin(100);
        }
        /* Destroyed with its toplevel while its window is up. */
        gtk_widget_destroy(w);
        spin(50);
        g_object_unref(session);
    }
    /* Every X request answered, no error left behind. */
    gdk_display_sync(gdk_display_get_default());
    printf("gtk-overlay-gl: presenter choice and the GL and xshm windows' life checked\n");
    return CHECK_DONE();
}
