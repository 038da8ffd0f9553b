/*
 * The videoredir overlay on a SpiceDisplay.
 *
 * spice-gtk draws the guest desktop in its own widget; this draws the
 * decoded videos on top, in a "draw" handler that runs after spice-gtk's,
 * with the same geometry spice-gtk uses for the desktop (scale to fit keeping
 * the aspect ratio and centred, or 1:1 centred when scaling is off; the
 * monitor's area of the guest surface). Each new frame is scaled once into
 * an image the size of its mapped content rectangle (libswscale, the frame's
 * matrix and range), which cairo paints clipped to the mapped visible region:
 * redraws without a new frame (expose, the statistics) cost a paint only.
 * Redraws are queued for the area a new frame covers only.
 *
 * That is the cairo presenter. The others draw instead on a surface of their
 * own stacked over the display (xwin.c: a child X window of the toplevel,
 * shaped to the videos' visible region, transparent to input); GTK and
 * spice-gtk keep drawing the desktop with cairo, untouched, and a new frame
 * redraws nothing of theirs. GL (VR_OVERLAY_PRESENT_GL, or AUTO on a GPU):
 * the frame's planes are uploaded as textures and converted by the GL
 * renderer's shader, scissored to the mapped region. xshm (software, AUTO
 * without a GPU): the same libswscale picture is written into MIT-SHM
 * memory, and the X server copies its visible rectangles into the window.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libswscale/swscale.h>

#ifdef VR_GTK_XWIN
#include <gdk/gdkx.h>

#include "xwin.h"
#endif

#include <videoredir/client-audio.h>
#include <videoredir/gtk-overlay.h>
#include <videoredir/transport-spice.h>

#define SESSION_KEY "videoredir-gtk-session"
#define OVERLAY_KEY "videoredir-gtk-overlay"
#define TICK_MS 20
/* The statistics readout's corner, kept clear of the GL window. */
#define STATS_W 600
#define STATS_H 30

/* The videoredir side of one SpiceSession, shared by its overlays. */
struct vr_gtk_session {
    SpiceSession *session; /* not owned: this lives in its object data */
    struct vr_client *client;
    VrSpicePort *port;
    VrSpiceAudio *audio; /* the playback channel as the picture's clock, or NULL */
    guint tick;
    /* Woken from the decoders' threads (g_source_set_ready_time is
     * thread-safe): takes their frames on the main loop. Destroyed after
     * the client, whose destruction joins those threads. */
    GSource *decoded;
    GList *overlays;
    char *port_name;
    SpiceDisplayChannel *display0; /* the guest's primary display, for markers (not owned) */
    gulong channel_new_id, invalidate_id;
};

struct _VrOverlay {
    struct vr_gtk_session *vs;
    SpiceDisplay *display;
    gulong draw_id;
    bool show_stats;
    enum vr_overlay_present present; /* asked for */
    bool chosen, use_gl, use_shm;    /* the choice, made when first drawn */
    guint choose_idle;
#ifdef VR_GTK_XWIN
    struct vr_xwin *xw; /* while the display is mapped, when use_gl or use_shm */
    guint win_idle;
    GdkDisplay *gdisplay; /* for X error traps, also while the widget dies */
    gulong unmap_id, unrealize_id, hierarchy_id, size_id;
    bool filter_on;
    /* Per stream slot: the frame in the renderer's textures. */
    struct {
        uint64_t serial, presented;
        bool valid, warned;
    } up[VR_MAX_STREAMS];
#endif
    /* Per stream slot: its shown frame scaled to its mapped content size. */
    struct scaled {
        cairo_surface_t *img;
        struct SwsContext *sws;
        AVFrame *narrow; /* a deep frame rounded to 8 bits (vr_frame_to_bgra) */
        uint32_t w, h;
        uint64_t serial, presented; /* the frame in img */
        uint64_t path_logged;       /* serial whose frame path was logged */
        bool valid;
    } scaled[VR_MAX_STREAMS];
};

/* Guest desktop -> widget: x' = ox + (x - ax) * s, as spice-gtk maps it. */
struct map {
    double s;
    int ox, oy;
    int ax, ay;
};

static void client_log(void *user, enum vr_client_log level, const char *msg)
{
    GLogLevelFlags flags = level <= VR_CLOG_WARNING ? G_LOG_LEVEL_WARNING
                           : level == VR_CLOG_INFO  ? G_LOG_LEVEL_MESSAGE
                                                    : G_LOG_LEVEL_DEBUG;
    g_log(G_LOG_DOMAIN, flags, "%s", msg);
}

static void win_queue(VrOverlay *o);

static void queue_all(struct vr_gtk_session *vs)
{
    for (GList *l = vs->overlays; l; l = l->next) {
        gtk_widget_queue_draw(GTK_WIDGET(((VrOverlay *)l->data)->display));
        win_queue(l->data);
    }
}

static SpiceChannel *display_channel(VrOverlay *o)
{
    int want = 0;
    g_object_get(o->display, "channel-id", &want, NULL);
    GList *channels = spice_session_get_channels(o->vs->session);
    SpiceChannel *found = NULL;
    for (GList *l = channels; l && !found; l = l->next) {
        int id = -1;
        if (!SPICE_IS_DISPLAY_CHANNEL(l->data))
            continue;
        g_object_get(l->data, "channel-id", &id, NULL);
        if (id == want)
            found = l->data;
    }
    g_list_free(channels);
    return found;
}

/* The mapping spice-gtk uses for the desktop in this widget right now. */
static bool get_map(VrOverlay *o, struct map *m)
{
    SpiceChannel *ch = display_channel(o);
    SpiceDisplayPrimary primary;
    if (!ch || !spice_display_channel_get_primary(ch, 0, &primary) || primary.width <= 0 ||
        primary.height <= 0)
        return false;
    int ax = 0, ay = 0, aw = primary.width, ah = primary.height, monitor = 0;
    g_object_get(o->display, "monitor-id", &monitor, NULL);
    GArray *monitors = NULL;
    g_object_get(ch, "monitors", &monitors, NULL);
    if (monitors) {
        if (monitor >= 0 && (guint)monitor < monitors->len) {
            const SpiceDisplayMonitorConfig *mc =
                &g_array_index(monitors, SpiceDisplayMonitorConfig, monitor);
            if (mc->width > 0 && mc->height > 0) {
                ax = (int)mc->x;
                ay = (int)mc->y;
                aw = (int)mc->width;
                ah = (int)mc->height;
            }
        }
        g_array_unref(monitors);
    }
    int ww = gtk_widget_get_allocated_width(GTK_WIDGET(o->display));
    int wh = gtk_widget_get_allocated_height(GTK_WIDGET(o->display));
    gboolean scaling = TRUE, only_down = FALSE;
    g_object_get(o->display, "scaling", &scaling, "only-downscale", &only_down, NULL);
    m->ax = ax;
    m->ay = ay;
    if (!scaling) {
        m->s = 1.0;
        m->ox = ww > aw ? (ww - aw) / 2 : 0;
        m->oy = wh > ah ? (wh - ah) / 2 : 0;
    } else {
        m->s = fmin((double)ww / aw, (double)wh / ah);
        if (only_down && m->s >= 1.0)
            m->s = 1.0;
        int w = (int)floor(aw * m->s + 0.5), h = (int)floor(ah * m->s + 0.5);
        m->ox = (ww - w) / 2;
        m->oy = (wh - h) / 2;
    }
    return m->s > 0;
}

/* One edge function for every coordinate, so rectangles that touch in the
 * guest still touch in the widget. */
static int map_x(const struct map *m, int64_t x)
{
    return m->ox + (int)floor((double)(x - m->ax) * m->s + 0.5);
}

static int map_y(const struct map *m, int64_t y)
{
    return m->oy + (int)floor((double)(y - m->ay) * m->s + 0.5);
}

static bool map_rect(const struct map *m, int64_t x, int64_t y, int64_t w, int64_t h,
                     struct vr_rect *out)
{
    int x0 = map_x(m, x), y0 = map_y(m, y), x1 = map_x(m, x + w), y1 = map_y(m, y + h);
    if (x1 <= x0 || y1 <= y0)
        return false;
    *out = (struct vr_rect){ x0, y0, (uint32_t)(x1 - x0), (uint32_t)(y1 - y0) };
    return true;
}

static void map_region(const struct map *m, pixman_region32_t *in, pixman_region32_t *out)
{
    int n = 0;
    const pixman_box32_t *b = pixman_region32_rectangles(in, &n);
    pixman_region32_clear(out);
    for (int i = 0; i < n; i++) {
        struct vr_rect r;
        if (map_rect(m, b[i].x1, b[i].y1, (int64_t)b[i].x2 - b[i].x1, (int64_t)b[i].y2 - b[i].y1, &r))
            pixman_region32_union_rect(out, out, r.x, r.y, r.w, r.h);
    }
}

static void scaled_drop(struct scaled *k)
{
    if (k->img)
        cairo_surface_destroy(k->img);
    sws_freeContext(k->sws);
    av_frame_free(&k->narrow);
    memset(k, 0, sizeof(*k));
}

/* Once per stream: which way its frames came to be drawn in software. */
static void log_path(VrOverlay *o, uint32_t i, const struct vr_client_stream_stats *st)
{
    if (o->scaled[i].path_logged == st->serial)
        return;
    char decoder[128];
    o->scaled[i].path_logged = st->serial;
    vr_client_decoder_label(st, decoder, sizeof(decoder));
    g_message("stream %" G_GUINT32_FORMAT ": drawn in software (%s), decoder %s", st->stream_id,
              o->use_shm ? "xshm" : "cairo", decoder);
}

/* Slot i's frame f (of stream st) scaled to w x h in o->scaled[i], made
 * again only for a new frame or size. Returns 0 or a negative errno. */
static int scale_frame(VrOverlay *o, uint32_t i, const AVFrame *f,
                       const struct vr_client_stream_stats *st, uint32_t w, uint32_t h)
{
    struct scaled *k = &o->scaled[i];
    if (k->valid && k->img && k->w == w && k->h == h && k->serial == st->serial &&
        k->presented == st->frames_presented)
        return 0;
    /* Held whole: bounded as the compositor bounds it. */
    if ((uint64_t)w * h > (uint64_t)8192 * 8192 || w > 16384 || h > 16384)
        return -E2BIG;
    if (!k->img || k->w != w || k->h != h) {
        if (k->img)
            cairo_surface_destroy(k->img);
        k->img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)w, (int)h);
        if (cairo_surface_status(k->img) != CAIRO_STATUS_SUCCESS) {
            cairo_surface_destroy(k->img);
            k->img = NULL;
            return -ENOMEM;
        }
        k->w = w;
        k->h = h;
    }
    k->valid = false;
    cairo_surface_flush(k->img);
    int ret = vr_frame_to_bgra(&k->sws, &k->narrow, f, w, h, cairo_image_surface_get_data(k->img),
                               cairo_image_surface_get_stride(k->img));
    if (ret < 0)
        return ret;
    cairo_surface_mark_dirty(k->img);
    k->serial = st->serial;
    k->presented = st->frames_presented;
    k->valid = true;
    return 0;
}

/* Widget area stream slot i covers now (its mapped content rectangle). */
static bool stream_area(VrOverlay *o, const struct map *m, uint32_t i, struct vr_rect *out)
{
    struct vr_client_stream_stats st;
    if (vr_client_stream_stats(o->vs->client, i, &st) < 0 || !st.active || !st.has_geometry)
        return false;
    const struct vr_rect *c = &st.geometry.content;
    return map_rect(m, c->x, c->y, c->w, c->h, out);
}

static void draw_stats(VrOverlay *o, cairo_t *cr)
{
    char line[256];
    vr_overlay_describe(o, line, sizeof(line));
    cairo_save(cr);
    cairo_select_font_face(cr, "monospace", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 13);
    cairo_text_extents_t ext;
    cairo_text_extents(cr, line, &ext);
    cairo_set_source_rgba(cr, 0, 0, 0, 0.7);
    cairo_rectangle(cr, 4, 4, ext.x_advance + 12, 22);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 1, 1, 0.6);
    cairo_move_to(cr, 10, 20);
    cairo_show_text(cr, line);
    cairo_restore(cr);
}

/* ---- choosing the presenter; the GL one --------------------------------------- */

#ifdef VR_GTK_XWIN
static gboolean win_present_cb(gpointer data);

static void win_queue(VrOverlay *o)
{
    if (o->xw && !o->win_idle)
        o->win_idle = g_idle_add_full(GDK_PRIORITY_REDRAW, win_present_cb, o, NULL);
}

/* Exposures of the GL window (GDK does not know it): draw it again. */
static GdkFilterReturn on_xevent(GdkXEvent *xev, GdkEvent *event, gpointer data)
{
    VrOverlay *o = data;
    const XEvent *e = xev;
    if (o->xw && e->type == Expose && e->xexpose.window == vr_xwin_xid(o->xw)) {
        if (e->xexpose.count == 0)
            win_queue(o);
        return GDK_FILTER_REMOVE;
    }
    return GDK_FILTER_CONTINUE;
}

static void win_teardown(VrOverlay *o)
{
    if (o->win_idle) {
        g_source_remove(o->win_idle);
        o->win_idle = 0;
    }
    if (o->filter_on) {
        gdk_window_remove_filter(NULL, on_xevent, o);
        o->filter_on = false;
    }
    if (o->xw) {
        /* The toplevel may be gone already (the widget destroyed with it):
         * X errors of the teardown are expected then. */
        gdk_x11_display_error_trap_push(o->gdisplay);
        vr_xwin_destroy(o->xw);
        gdk_x11_display_error_trap_pop_ignored(o->gdisplay);
        o->xw = NULL;
    }
    memset(o->up, 0, sizeof(o->up));
}

/* The display widget's origin in its toplevel's window. */
static bool display_origin(VrOverlay *o, GdkWindow *top, int *x, int *y)
{
    GtkWidget *w = GTK_WIDGET(o->display);
    GdkWindow *win = gtk_widget_get_window(w);
    double dx = 0, dy = 0;
    if (!gtk_widget_get_has_window(w)) {
        GtkAllocation a;
        gtk_widget_get_allocation(w, &a);
        dx = a.x;
        dy = a.y;
    }
    for (; win && win != top; win = gdk_window_get_parent(win))
        gdk_window_coords_to_parent(win, dx, dy, &dx, &dy);
    if (win != top)
        return false;
    *x = (int)floor(dx + 0.5);
    *y = (int)floor(dy + 0.5);
    return true;
}

/* The renderer's messages after the first GL window: its probes (DMA-BUF
 * import...) said their piece once; warnings still are warnings. */
static void gl_log_again(void *user, enum vr_client_log level, const char *msg)
{
    client_log(user, level <= VR_CLOG_WARNING ? level : VR_CLOG_DEBUG, msg);
}

/* The window over the display (GL, or software: MIT-SHM), or false and
 * why. */
static bool win_setup(VrOverlay *o, bool gl, char *why, size_t len)
{
    GtkWidget *w = GTK_WIDGET(o->display);
    GdkDisplay *gd = gtk_widget_get_display(w);
    if (!GDK_IS_X11_DISPLAY(gd)) {
        snprintf(why, len, "not an X11 display (%s)", G_OBJECT_TYPE_NAME(gd));
        return false;
    }
    GtkWidget *top = gtk_widget_get_toplevel(w);
    GdkWindow *tw = gtk_widget_is_toplevel(top) ? gtk_widget_get_window(top) : NULL;
    if (!tw || !gtk_widget_get_mapped(w)) {
        snprintf(why, len, "the display is not shown");
        return false;
    }
    if (!o->gdisplay)
        o->gdisplay = g_object_ref(gd);
    gdk_x11_display_error_trap_push(gd);
    Display *dpy = gdk_x11_display_get_xdisplay(gd);
    Window parent = gdk_x11_window_get_xid(tw);
    int ret = gl ? vr_xwin_create_gl(dpy, parent, o->chosen ? gl_log_again : client_log, NULL, why,
                                     len, &o->xw)
                 : vr_xwin_create_shm(dpy, parent, why, len, &o->xw);
    if (ret == 0 && !gl) {
        /* A server that cannot reach our memory (another host, another IPC
         * namespace) says so when a picture is attached. */
        uint8_t *data;
        int stride;
        ret = vr_xwin_picture(o->xw, 0, 16, 16, &data, &stride);
        vr_xwin_picture_drop(o->xw, 0);
        if (ret < 0)
            snprintf(why, len, "no shared-memory picture: %s", g_strerror(-ret));
        ret = ret < 0 ? ret : 0;
    }
    int xerr = gdk_x11_display_error_trap_pop(gd);
    if (ret < 0 && o->xw)
        win_teardown(o);
    if (ret == 0 && xerr) {
        snprintf(why, len, "X error %d making the %s window%s", xerr, gl ? "GL" : "software",
                 gl ? "" : " (the X server cannot attach our shared memory: a remote display?)");
        win_teardown(o);
        return false;
    }
    if (ret < 0)
        return false;
    gdk_window_add_filter(NULL, on_xevent, o);
    o->filter_on = true;
    return true;
}

/* GTK's (logical) pixels -> the X window's, at a scale factor of sf. */
static void scale_region(pixman_region32_t *r, int sf)
{
    int n = 0;
    const pixman_box32_t *b = pixman_region32_rectangles(r, &n);
    if (sf == 1 || n == 0)
        return;
    pixman_box32_t *s = g_new(pixman_box32_t, n);
    for (int i = 0; i < n; i++)
        s[i] = (pixman_box32_t){ b[i].x1 * sf, b[i].y1 * sf, b[i].x2 * sf, b[i].y2 * sf };
    pixman_region32_fini(r);
    pixman_region32_init_rects(r, s, n);
    g_free(s);
}

/* Software in the window: slot i's frame scaled into its shared-memory
 * picture (d's size; again only for a new frame, size or picture), put at d
 * clipped to clip (window coordinates). Returns 0 or a negative errno. */
static int shm_draw(VrOverlay *o, uint32_t i, const struct vr_client_stream_stats *st,
                    const struct vr_rect *d, const pixman_region32_t *clip)
{
    struct scaled *k = &o->scaled[i];
    uint8_t *data;
    int stride;
    int ret = vr_xwin_picture(o->xw, i, d->w, d->h, &data, &stride);
    if (ret < 0)
        return ret;
    if (ret == 1 || !k->valid || k->img || k->serial != st->serial ||
        k->presented != st->frames_presented) {
        if (k->img) { /* drawn by cairo before: its picture is not needed */
            cairo_surface_destroy(k->img);
            k->img = NULL;
        }
        k->valid = false;
        ret = vr_frame_to_bgra(&k->sws, &k->narrow, vr_client_stream_frame(o->vs->client, i), d->w,
                               d->h, data, stride);
        if (ret < 0)
            return ret;
        k->w = d->w;
        k->h = d->h;
        k->serial = st->serial;
        k->presented = st->frames_presented;
        k->valid = true;
        log_path(o, i, st);
    }
    vr_xwin_put(o->xw, i, d->x, d->y, clip);
    return 0;
}

/* One picture: every stream of the display in its mapped visible region,
 * the window shaped to exactly that; GL or software. */
static void win_present(VrOverlay *o)
{
    GtkWidget *w = GTK_WIDGET(o->display);
    GdkWindow *top = gtk_widget_get_window(gtk_widget_get_toplevel(w));
    int ww = gtk_widget_get_allocated_width(w), wh = gtk_widget_get_allocated_height(w), x = 0, y = 0;
    struct map m;
    struct vr_rect dst[VR_MAX_STREAMS];
    pixman_region32_t clip[VR_MAX_STREAMS], shape;
    bool on[VR_MAX_STREAMS] = { false };
    pixman_region32_init(&shape);
    if (o->vs->client && ww > 0 && wh > 0 && top && display_origin(o, top, &x, &y) &&
        get_map(o, &m)) {
        pixman_region32_t desk;
        pixman_region32_init(&desk);
        for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
            if (!vr_client_stream_frame(o->vs->client, i) || !stream_area(o, &m, i, &dst[i]))
                continue;
            pixman_region32_init(&clip[i]);
            on[i] = true;
            vr_client_stream_region(o->vs->client, i, &desk);
            map_region(&m, &desk, &clip[i]);
            pixman_region32_intersect_rect(&clip[i], &clip[i], dst[i].x, dst[i].y, dst[i].w, dst[i].h);
            pixman_region32_intersect_rect(&clip[i], &clip[i], 0, 0, (unsigned)ww, (unsigned)wh);
            if (o->show_stats) {
                /* The readout is drawn by cairo under this window: keep it clear. */
                pixman_region32_t st;
                pixman_region32_init_rect(&st, 0, 0, STATS_W, STATS_H);
                pixman_region32_subtract(&clip[i], &clip[i], &st);
                pixman_region32_fini(&st);
            }
            /* A HiDPI screen: the X window counts device pixels. */
            int sf = gtk_widget_get_scale_factor(w);
            scale_region(&clip[i], sf);
            dst[i] = (struct vr_rect){ dst[i].x * sf, dst[i].y * sf, dst[i].w * (uint32_t)sf,
                                       dst[i].h * (uint32_t)sf };
            pixman_region32_union(&shape, &shape, &clip[i]);
        }
        pixman_region32_fini(&desk);
        x *= gtk_widget_get_scale_factor(w);
        y *= gtk_widget_get_scale_factor(w);
    }
    /* The window covers the videos' visible extents only: a smaller surface
     * to fill and to swap than the whole display. */
    const pixman_box32_t *e = pixman_region32_extents(&shape);
    int ex = e->x1, ey = e->y1, ew = e->x2 - e->x1, eh = e->y2 - e->y1;
    pixman_region32_translate(&shape, -ex, -ey);
    vr_xwin_place(o->xw, x + ex, y + ey, ew, eh, &shape);
    if (pixman_region32_not_empty(&shape) && vr_xwin_begin(o->xw) == 0) {
        struct vr_gl *gl = vr_xwin_gl(o->xw);
        for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
            struct vr_client_stream_stats st;
            if (!on[i] || !pixman_region32_not_empty(&clip[i]) ||
                vr_client_stream_stats(o->vs->client, i, &st) < 0) {
                if (o->use_shm)
                    vr_xwin_picture_drop(o->xw, i); /* gone or hidden: its memory goes */
                continue;
            }
            struct vr_rect d = dst[i];
            d.x -= ex;
            d.y -= ey;
            pixman_region32_translate(&clip[i], -ex, -ey);
            if (o->use_shm) {
                int ret = shm_draw(o, i, &st, &d, &clip[i]);
                if (ret < 0 && !o->up[i].warned)
                    g_warning("xshm: cannot draw stream slot %u: %s", i, g_strerror(-ret));
                o->up[i].warned |= ret < 0;
                continue;
            }
            if (!o->up[i].valid || o->up[i].serial != st.serial ||
                o->up[i].presented != st.frames_presented) {
                int ret = vr_gl_upload(gl, i, vr_client_stream_frame(o->vs->client, i));
                o->up[i].valid = ret == 0;
                if (ret < 0) {
                    if (!o->up[i].warned)
                        g_warning("gl: cannot upload the frame of stream slot %u: %s", i,
                                  g_strerror(-ret));
                    o->up[i].warned = true;
                    continue;
                }
                o->up[i].serial = st.serial;
                o->up[i].presented = st.frames_presented;
            }
            vr_gl_draw(gl, i, &d, &clip[i], (uint32_t)ew, (uint32_t)eh, NULL);
        }
        if (vr_xwin_end(o->xw) < 0)
            g_warning("%s: the picture could not be shown", o->use_gl ? "gl" : "xshm");
    }
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (on[i])
            pixman_region32_fini(&clip[i]);
    pixman_region32_fini(&shape);
}

static gboolean win_present_cb(gpointer data)
{
    VrOverlay *o = data;
    o->win_idle = 0;
    if (!o->xw)
        return G_SOURCE_REMOVE;
    /* Shared memory the server stops accepting (it was probed when the
     * window was made): cairo from now on, not GDK's abort on an X error. */
    bool shm = o->use_shm;
    if (shm)
        gdk_x11_display_error_trap_push(o->gdisplay);
    win_present(o);
    int xerr = shm ? gdk_x11_display_error_trap_pop(o->gdisplay) : 0;
    if (xerr) {
        g_warning("xshm: X error %d drawing the videos: cairo from now on", xerr);
        win_teardown(o);
        o->use_shm = false;
        gtk_widget_queue_draw(GTK_WIDGET(o->display));
    }
    return G_SOURCE_REMOVE;
}

/* The GL window goes with the display's window (unmapped, unrealized, moved
 * to another toplevel); made again when it is drawn next. */
static void on_display_gone(GtkWidget *w, gpointer data)
{
    win_teardown(data);
}

static void on_hierarchy(GtkWidget *w, GtkWidget *previous, gpointer data)
{
    win_teardown(data);
    gtk_widget_queue_draw(w);
}

static void on_size_allocate(GtkWidget *w, GdkRectangle *a, gpointer data)
{
    win_queue(data);
}
#else
static void win_queue(VrOverlay *o)
{
}
#endif

/* Picks the presenter when the display is first drawn, or makes its window
 * again after the display was hidden: GL (asked for, or AUTO on a GPU),
 * else software in a window of its own (MIT-SHM), else cairo. */
static gboolean choose_cb(gpointer data)
{
    VrOverlay *o = data;
    GtkWidget *w = GTK_WIDGET(o->display);
    char why_gl[512] = "not asked for", why_shm[512] = "not asked for";
    o->choose_idle = 0;
    if (!gtk_widget_get_mapped(w) || (o->chosen && !o->use_gl && !o->use_shm))
        return G_SOURCE_REMOVE; /* again when drawn next */
    bool first = !o->chosen;
    bool want_gl = first ? o->present == VR_OVERLAY_PRESENT_AUTO || o->present == VR_OVERLAY_PRESENT_GL
                         : o->use_gl;
    bool want_shm = first ? o->present != VR_OVERLAY_PRESENT_CAIRO : o->use_shm;
#ifdef VR_GTK_XWIN
    if (want_gl && win_setup(o, true, why_gl, sizeof(why_gl))) {
        struct vr_gl *gl = vr_xwin_gl(o->xw);
        if (!first || o->present == VR_OVERLAY_PRESENT_GL || !vr_gl_is_software(gl)) {
            o->chosen = o->use_gl = true;
            if (first)
                g_message("presenter gl (%s)", vr_xwin_describe(o->xw));
            /* VA-API frames imported with no copy: keep them (streams
             * started from now on). */
            vr_client_set_keep_hw(o->vs->client, vr_gl_can_import(gl));
            win_queue(o);
            gtk_widget_queue_draw(w); /* the videos leave the cairo drawing */
            return G_SOURCE_REMOVE;
        }
        /* A software rasteriser: its shader costs more CPU than libswscale. */
        snprintf(why_gl, sizeof(why_gl),
                 "%s is a software rasteriser (VIDEOREDIR_PRESENT=gl or --present gl to use it)",
                 vr_gl_describe(gl));
        win_teardown(o);
    }
    if (want_shm && win_setup(o, false, why_shm, sizeof(why_shm))) {
        o->chosen = o->use_shm = true;
        o->use_gl = false;
        if (first)
            g_message("presenter xshm (%s; gl: %s)", vr_xwin_describe(o->xw), why_gl);
        win_queue(o);
        gtk_widget_queue_draw(w); /* the videos leave the cairo drawing */
        return G_SOURCE_REMOVE;
    }
#else
    snprintf(why_gl, sizeof(why_gl), "built without the X11 presenters (no epoxy, X11 or Xext)");
    snprintf(why_shm, sizeof(why_shm), "built without the X11 presenters (no epoxy, X11 or Xext)");
#endif
    if (o->present == VR_OVERLAY_PRESENT_GL && first)
        g_warning("the GL presenter was asked for but cannot run: %s", why_gl);
    if (o->present == VR_OVERLAY_PRESENT_XSHM && first)
        g_warning("the xshm presenter was asked for but cannot run: %s", why_shm);
    if (first || o->use_gl || o->use_shm)
        g_message("presenter cairo (libswscale + cairo; gl: %s; xshm: %s)", why_gl, why_shm);
    o->chosen = true;
    o->use_gl = o->use_shm = false;
    gtk_widget_queue_draw(w);
    return G_SOURCE_REMOVE;
}

static gboolean on_draw(GtkWidget *widget, cairo_t *cr, gpointer data)
{
    VrOverlay *o = data;
    struct map m;
    if ((!o->chosen || o->use_gl || o->use_shm) && !o->choose_idle) {
#ifdef VR_GTK_XWIN
        if (!o->xw)
#endif
            o->choose_idle = g_idle_add(choose_cb, o);
    }
#ifdef VR_GTK_XWIN
    if (o->xw)
        goto stats; /* the videos are in the GL window */
#endif
    if (!o->vs->client || !get_map(o, &m))
        goto stats;
    int ww = gtk_widget_get_allocated_width(widget), wh = gtk_widget_get_allocated_height(widget);
    if (ww <= 0 || wh <= 0)
        goto stats;
    pixman_region32_t desk, mapped;
    pixman_region32_init(&desk);
    pixman_region32_init(&mapped);
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_rect dst;
        struct vr_client_stream_stats st;
        const AVFrame *f = vr_client_stream_frame(o->vs->client, i);
        if (!f || !stream_area(o, &m, i, &dst) || vr_client_stream_stats(o->vs->client, i, &st) < 0)
            continue;
        /* Hidden (empty region) videos keep decoding but are not drawn. */
        vr_client_stream_region(o->vs->client, i, &desk);
        map_region(&m, &desk, &mapped);
        pixman_region32_intersect_rect(&mapped, &mapped, dst.x, dst.y, dst.w, dst.h);
        pixman_region32_intersect_rect(&mapped, &mapped, 0, 0, (unsigned)ww, (unsigned)wh);
        if (!pixman_region32_not_empty(&mapped))
            continue;
        int ret = scale_frame(o, i, f, &st, dst.w, dst.h);
        if (ret < 0) {
            g_warning("cannot draw stream slot %u: %s", i, g_strerror(-ret));
            continue;
        }
        log_path(o, i, &st);
        cairo_save(cr);
        int n = 0;
        const pixman_box32_t *b = pixman_region32_rectangles(&mapped, &n);
        for (int k = 0; k < n; k++)
            cairo_rectangle(cr, b[k].x1, b[k].y1, b[k].x2 - b[k].x1, b[k].y2 - b[k].y1);
        cairo_clip(cr);
        cairo_set_source_surface(cr, o->scaled[i].img, dst.x, dst.y);
        cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE);
        cairo_paint(cr);
        cairo_restore(cr);
    }
    pixman_region32_fini(&desk);
    pixman_region32_fini(&mapped);
stats:
    if (o->show_stats)
        draw_stats(o, cr);
    return FALSE;
}

/* ---- the shared session ----------------------------------------------------- */

/* Streams marked "placement from the picture" (PROTOCOL.md, section 10):
 * the client library looks for their marker in the part of the guest's
 * display that changed. */
static void find_placement(struct vr_gtk_session *vs, int x, int y, int w, int h)
{
    SpiceDisplayPrimary p;
    if (!vs->display0 || w <= 0 || h <= 0 ||
        !spice_display_channel_get_primary(SPICE_CHANNEL(vs->display0), 0, &p) || !p.data ||
        (p.format != SPICE_SURFACE_FMT_32_xRGB && p.format != SPICE_SURFACE_FMT_32_ARGB))
        return;
    struct vr_rect area = { x, y, (uint32_t)w, (uint32_t)h };
    int ret = vr_client_display_invalidate(vs->client, p.data, (uint32_t)p.width, (uint32_t)p.height,
                                           (size_t)p.stride, &area);
    if (ret < 0)
        g_warning("placement from the picture: %s", g_strerror(-ret));
}

static void on_display_invalidate(SpiceChannel *ch, gint x, gint y, gint w, gint h, gpointer user)
{
    find_placement(user, x, y, w, h);
}

static void watch_display(struct vr_gtk_session *vs, SpiceChannel *channel)
{
    int id = -1;
    if (vs->display0 || !SPICE_IS_DISPLAY_CHANNEL(channel))
        return;
    g_object_get(channel, "channel-id", &id, NULL);
    if (id != 0)
        return;
    vs->display0 = SPICE_DISPLAY_CHANNEL(channel);
    g_object_add_weak_pointer(G_OBJECT(channel), (gpointer *)&vs->display0);
    vs->invalidate_id =
        g_signal_connect(channel, "display-invalidate", G_CALLBACK(on_display_invalidate), vs);
}

static void on_channel_new(SpiceSession *session, SpiceChannel *channel, gpointer user)
{
    watch_display(user, channel);
}

static void on_client_event(void *user, enum vr_client_event ev, uint32_t stream_id)
{
    struct vr_gtk_session *vs = user;
    /* A new stream: the library scans the whole display once for its marker. */
    if (ev == VR_CLIENT_EV_STREAM_START)
        find_placement(vs, 0, 0, 1, 1);
    queue_all(vs); /* geometry, region, start or end: redraw everything */
}

static void on_client_frame(void *user, uint32_t stream_id, const AVFrame *frame)
{
    struct vr_gtk_session *vs = user;
    for (GList *l = vs->overlays; l; l = l->next) {
        VrOverlay *o = l->data;
        struct map m;
#ifdef VR_GTK_XWIN
        if (o->xw) {
            win_queue(o);
            if (o->show_stats)
                gtk_widget_queue_draw_area(GTK_WIDGET(o->display), 0, 0, STATS_W, STATS_H);
            continue;
        }
#endif
        if (!get_map(o, &m))
            continue;
        for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
            struct vr_client_stream_stats st;
            struct vr_rect r;
            if (vr_client_stream_stats(vs->client, i, &st) < 0 || st.stream_id != stream_id ||
                !stream_area(o, &m, i, &r))
                continue;
            /* Only what shows of it: nothing for a hidden video, and spice-gtk
             * redraws no desktop under the windows on top of it. */
            pixman_region32_t desk, mapped;
            pixman_region32_init(&desk);
            pixman_region32_init(&mapped);
            vr_client_stream_region(vs->client, i, &desk);
            map_region(&m, &desk, &mapped);
            pixman_region32_intersect_rect(&mapped, &mapped, r.x, r.y, r.w, r.h);
            int n = 0;
            const pixman_box32_t *b = pixman_region32_rectangles(&mapped, &n);
            if (n > 0) {
                cairo_region_t *cr = cairo_region_create();
                for (int k = 0; k < n; k++)
                    cairo_region_union_rectangle(cr, &(cairo_rectangle_int_t){
                        b[k].x1, b[k].y1, b[k].x2 - b[k].x1, b[k].y2 - b[k].y1 });
                gtk_widget_queue_draw_region(GTK_WIDGET(o->display), cr);
                cairo_region_destroy(cr);
            }
            pixman_region32_fini(&desk);
            pixman_region32_fini(&mapped);
        }
        if (o->show_stats)
            gtk_widget_queue_draw_area(GTK_WIDGET(o->display), 0, 0, STATS_W, STATS_H);
    }
}

static void on_client_output(void *user)
{
    struct vr_gtk_session *vs = user;
    if (vs->port)
        vr_spiceport_flush(vs->port);
}

static void on_port_opened(void *user, gboolean opened)
{
    struct vr_gtk_session *vs = user;
    g_message("videoredir port %s", opened ? "opened by the guest" : "closed");
    if (opened)
        vr_client_channel_open(vs->client);
    else
        vr_client_channel_closed(vs->client);
    queue_all(vs);
}

static void on_port_error(void *user, const GError *error)
{
    g_warning("videoredir port: %s", error->message);
}

static gboolean on_tick(gpointer user)
{
    struct vr_gtk_session *vs = user;
    vr_client_tick(vs->client);
    return G_SOURCE_CONTINUE;
}

/* On a decoder's thread. */
static void on_client_wakeup(void *user)
{
    struct vr_gtk_session *vs = user;
    g_source_set_ready_time(vs->decoded, 0);
}

static gboolean on_decoded(GSource *source, GSourceFunc callback, gpointer user)
{
    struct vr_gtk_session *vs = user;
    g_source_set_ready_time(source, -1);
    vr_client_dispatch(vs->client);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs decoded_funcs = { .dispatch = on_decoded };

static void session_free(gpointer data)
{
    struct vr_gtk_session *vs = data;
    if (vs->tick)
        g_source_remove(vs->tick);
    if (vs->display0) {
        g_signal_handler_disconnect(vs->display0, vs->invalidate_id);
        g_object_remove_weak_pointer(G_OBJECT(vs->display0), (gpointer *)&vs->display0);
    }
    if (vs->channel_new_id)
        g_signal_handler_disconnect(vs->session, vs->channel_new_id);
    vr_spiceport_free(vs->port);
    vr_spiceaudio_free(vs->audio);
    vr_client_destroy(vs->client);
    g_source_destroy(vs->decoded);
    g_source_unref(vs->decoded);
    g_free(vs->port_name);
    g_free(vs);
}

static struct vr_gtk_session *session_get(SpiceSession *session, const struct vr_overlay_options *opt)
{
    struct vr_gtk_session *vs = g_object_get_data(G_OBJECT(session), SESSION_KEY);
    if (vs)
        return vs;
    vs = g_new0(struct vr_gtk_session, 1);
    vs->session = session;
    vs->port_name = g_strdup(opt->port_name ? opt->port_name : VR_DEFAULT_PORT_NAME);
    /* Decoders on threads of their own: the client answers the guest while
     * a slow decoder works through a backlog. */
    struct vr_client_config cfg = { .hwdec = opt->hwdec, .software = "videoredir-gtk " VR_VERSION_STRING,
                                    .decode_thread = true };
    struct vr_client_callbacks cb = { .log = client_log, .event = on_client_event,
                                      .frame = on_client_frame, .output = on_client_output,
                                      .wakeup = on_client_wakeup };
    vs->decoded = g_source_new(&decoded_funcs, sizeof(GSource));
    g_source_set_callback(vs->decoded, NULL, vs, NULL);
    g_source_set_ready_time(vs->decoded, -1);
    if (vr_client_create(&cfg, &cb, vs, &vs->client) < 0) {
        g_source_unref(vs->decoded);
        g_free(vs->port_name);
        g_free(vs);
        return NULL;
    }
    g_source_attach(vs->decoded, NULL);
    struct vr_spiceport_callbacks pcb = { .opened = on_port_opened, .error = on_port_error };
    vs->port = vr_spiceport_new(session, vs->port_name, vr_client_conn(vs->client), &pcb, vs);
    if (opt->audio_delay_ms >= 0) {
        /* spice-gtk's own audio back end plays; the application connects
         * the channel. That back end does not say when it plays a buffer:
         * its output delay is the option's. */
        struct vr_spiceaudio_config acfg = { .speaker = FALSE,
                                             .output_delay_ms = (guint)opt->audio_delay_ms };
        vs->audio = vr_spiceaudio_new(session, vs->client, &acfg);
    }
    vs->tick = g_timeout_add(TICK_MS, on_tick, vs);
    GList *channels = spice_session_get_channels(session);
    for (GList *l = channels; l; l = l->next)
        watch_display(vs, l->data);
    g_list_free(channels);
    vs->channel_new_id = g_signal_connect(session, "channel-new", G_CALLBACK(on_channel_new), vs);
    g_object_set_data_full(G_OBJECT(session), SESSION_KEY, vs, session_free);
    return vs;
}

/* ---- overlays --------------------------------------------------------------- */

static void overlay_free(gpointer data)
{
    VrOverlay *o = data;
    struct vr_gtk_session *vs = o->vs;
    vs->overlays = g_list_remove(vs->overlays, o);
    if (o->choose_idle)
        g_source_remove(o->choose_idle);
#ifdef VR_GTK_XWIN
    win_teardown(o);
    if (o->gdisplay)
        g_object_unref(o->gdisplay);
#endif
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        scaled_drop(&o->scaled[i]);
    g_free(o);
    if (!vs->overlays) /* the last one: the session's videoredir side goes too */
        g_object_set_data(G_OBJECT(vs->session), SESSION_KEY, NULL);
}

VrOverlay *vr_overlay_attach(SpiceSession *session, SpiceDisplay *display,
                             const struct vr_overlay_options *opt)
{
    static const struct vr_overlay_options defaults = { 0 };
    if (!SPICE_IS_SESSION(session) || !SPICE_IS_DISPLAY(display))
        return NULL;
    if (!opt)
        opt = &defaults;
    VrOverlay *o = vr_overlay_get(display);
    if (o)
        return o;
    struct vr_gtk_session *vs = session_get(session, opt);
    if (!vs)
        return NULL;
    o = g_new0(VrOverlay, 1);
    o->vs = vs;
    o->display = display;
    o->show_stats = opt->show_stats;
    o->present = opt->present;
    vs->overlays = g_list_prepend(vs->overlays, o);
    /* After spice-gtk's own drawing: the videos go on top of the desktop. */
    o->draw_id = g_signal_connect_after(display, "draw", G_CALLBACK(on_draw), o);
#ifdef VR_GTK_XWIN
    o->unmap_id = g_signal_connect(display, "unmap", G_CALLBACK(on_display_gone), o);
    o->unrealize_id = g_signal_connect(display, "unrealize", G_CALLBACK(on_display_gone), o);
    o->hierarchy_id = g_signal_connect(display, "hierarchy-changed", G_CALLBACK(on_hierarchy), o);
    o->size_id = g_signal_connect_after(display, "size-allocate", G_CALLBACK(on_size_allocate), o);
#endif
    /* Freed with the widget, or by vr_overlay_detach. */
    g_object_set_data_full(G_OBJECT(display), OVERLAY_KEY, o, overlay_free);
    gtk_widget_queue_draw(GTK_WIDGET(display));
    return o;
}

void vr_overlay_detach(VrOverlay *o)
{
    if (!o)
        return;
    SpiceDisplay *display = o->display;
    g_signal_handler_disconnect(display, o->draw_id);
#ifdef VR_GTK_XWIN
    g_signal_handler_disconnect(display, o->unmap_id);
    g_signal_handler_disconnect(display, o->unrealize_id);
    g_signal_handler_disconnect(display, o->hierarchy_id);
    g_signal_handler_disconnect(display, o->size_id);
#endif
    g_object_set_data(G_OBJECT(display), OVERLAY_KEY, NULL); /* frees o */
    gtk_widget_queue_draw(GTK_WIDGET(display));
}

VrOverlay *vr_overlay_get(SpiceDisplay *display)
{
    return display ? g_object_get_data(G_OBJECT(display), OVERLAY_KEY) : NULL;
}

void vr_overlay_set_show_stats(VrOverlay *o, bool show)
{
    if (!o || o->show_stats == show)
        return;
    o->show_stats = show;
    gtk_widget_queue_draw(GTK_WIDGET(o->display));
    win_queue(o); /* the readout's corner leaves or joins the GL window's shape */
}

bool vr_overlay_get_show_stats(const VrOverlay *o)
{
    return o && o->show_stats;
}

void vr_overlay_describe(const VrOverlay *o, char *buf, size_t len)
{
    if (!len)
        return;
    buf[0] = '\0';
    if (!o)
        return;
    struct vr_client *c = o->vs->client;
    size_t n = (size_t)g_snprintf(buf, len, "videoredir: %s, %u stream%s, presenter %s",
                                  vr_client_established(c) ? "connected" : "waiting for the guest",
                                  vr_client_streams_active(c),
                                  vr_client_streams_active(c) == 1 ? "" : "s",
                                  vr_overlay_get_presenter(o));
    for (uint32_t i = 0; i < VR_MAX_STREAMS && n < len; i++) {
        struct vr_client_stream_stats st;
        if (vr_client_stream_stats(c, i, &st) < 0 || !st.active)
            continue;
        char decoder[128];
        vr_client_decoder_label(&st, decoder, sizeof(decoder));
        n += (size_t)g_snprintf(buf + n, len - n,
                                " | %s %ux%u %s, %" G_GUINT64_FORMAT " decoded, %" G_GUINT64_FORMAT
                                " dropped, %" G_GUINT64_FORMAT " lost, %.1f ms",
                                vr_codec_name(st.codec), st.width, st.height, decoder,
                                st.frames_decoded, st.frames_dropped, st.frames_lost,
                                st.latency_us / 1000.0);
    }
}

const char *vr_overlay_get_presenter(const VrOverlay *o)
{
    if (!o || !o->chosen)
        return "undecided";
    return o->use_gl ? "gl" : o->use_shm ? "xshm" : "cairo";
}

int vr_overlay_present_from_name(const char *name, enum vr_overlay_present *out)
{
    if (!name || !out)
        return -EINVAL;
    if (!strcmp(name, "auto"))
        *out = VR_OVERLAY_PRESENT_AUTO;
    else if (!strcmp(name, "gl"))
        *out = VR_OVERLAY_PRESENT_GL;
    else if (!strcmp(name, "sw") || !strcmp(name, "software"))
        *out = VR_OVERLAY_PRESENT_SW;
    else if (!strcmp(name, "xshm"))
        *out = VR_OVERLAY_PRESENT_XSHM;
    else if (!strcmp(name, "cairo"))
        *out = VR_OVERLAY_PRESENT_CAIRO;
    else
        return -EINVAL;
    return 0;
}
