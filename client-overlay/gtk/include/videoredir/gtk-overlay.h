/*
 * videoredir overlay for spice-gtk applications: draws the guest's
 * redirected videos over a SpiceDisplay widget, following the widget's
 * scaling exactly as spice-gtk draws the desktop, clipped to each video's
 * visible region.
 *
 * One videoredir session (port channel, decoders) is shared by all displays
 * of a SpiceSession. Everything runs on the GTK main thread.
 */
#ifndef VIDEOREDIR_GTK_OVERLAY_H
#define VIDEOREDIR_GTK_OVERLAY_H

#include <stdbool.h>

#include <spice-client-gtk.h>

#include <videoredir/client.h>

G_BEGIN_DECLS

typedef struct _VrOverlay VrOverlay;

/* How the overlay draws the videos (client-overlay/gtk/README.md). */
enum vr_overlay_present {
    /* GL when the GL context is a GPU's; else software (the reason is
     * logged). */
    VR_OVERLAY_PRESENT_AUTO = 0,
    /* GL on a surface of its own over the display (a shaped child X window
     * with EGL), even on a software rasteriser; software if GL cannot run. */
    VR_OVERLAY_PRESENT_GL,
    /* Software: XSHM where the X server offers it, else CAIRO. */
    VR_OVERLAY_PRESENT_SW,
    /* libswscale into MIT-SHM pictures put on the same kind of child window
     * as GL's (no GTK redraw); CAIRO if it cannot run. */
    VR_OVERLAY_PRESENT_XSHM,
    /* libswscale + cairo in the display's draw handler (any GDK back end). */
    VR_OVERLAY_PRESENT_CAIRO,
};

struct vr_overlay_options {
    const char *port_name; /* NULL: VR_DEFAULT_PORT_NAME */
    enum vr_hwdec hwdec;   /* decoder back ends to try (VR_HWDEC_AUTO...) */
    bool show_stats;       /* draw a statistics readout in the corner */
    /* Show frames when their sound is heard from the session's playback
     * channel (PROTOCOL.md section 6.6.1), taking a buffer to be heard this
     * many ms after it arrives (the output delay of spice-gtk's audio back
     * end, which it does not tell); 0: when it arrives; -1: do not follow
     * the sound (frames at the guest's time). Taken when the session's
     * first overlay is attached. */
    int audio_delay_ms;
    enum vr_overlay_present present; /* which presenter (AUTO by default) */
};

/* "auto", "gl", "sw" (or "software"), "xshm", "cairo" -> *out. Returns 0,
 * or -EINVAL. */
int vr_overlay_present_from_name(const char *name, enum vr_overlay_present *out);


/*
 * Attaches the overlay to display (a SpiceDisplay of session). opt may be
 * NULL (defaults); it is copied. The overlay lives until vr_overlay_detach
 * or until the widget is destroyed, whichever comes first. Returns NULL if
 * display or session is not what they should be.
 */
VrOverlay *vr_overlay_attach(SpiceSession *session, SpiceDisplay *display,
                             const struct vr_overlay_options *opt);

/* Detaches and frees; the widget is redrawn without videos. NULL is a no-op. */
void vr_overlay_detach(VrOverlay *o);

/* Shows or hides the statistics readout. */
void vr_overlay_set_show_stats(VrOverlay *o, bool show);
bool vr_overlay_get_show_stats(const VrOverlay *o);

/* One line of statistics for display ("2 streams | h264 640x360 25.0 fps ..."),
 * written to buf (always terminated). */
void vr_overlay_describe(const VrOverlay *o, char *buf, size_t len);

/* The presenter drawing now: "gl", "xshm", "cairo", or "undecided" until
 * the display is first drawn. Static string. */
const char *vr_overlay_get_presenter(const VrOverlay *o);

/* The overlay attached to display, or NULL. */
VrOverlay *vr_overlay_get(SpiceDisplay *display);

G_END_DECLS

#endif
