/*
 * videoredirsink: takes compressed video (H.264, HEVC, VP8, VP9, AV1) from a
 * player and sends the access units, undecoded, through the videoredir port
 * to the SPICE client, which decodes them and draws them over the guest's
 * window. The guest window shows a placeholder meanwhile.
 *
 * The session (port, I/O thread, guest state machine, GOP cache, flow
 * control, end-of-stream drain) is a vr_player (videoredir/player.h), shared
 * with videoredirdec and the VLC module; this file is the GStreamer and X11
 * glue around it.
 *
 * Threads. The streaming thread (set_caps/render/event) hands caps and
 * access units to the player; the player's I/O thread tells the sink where
 * the video is shown (player_show); the sink's X11 thread owns the X11
 * window and gives its geometry and visible region to the player. All take
 * `lock` around what they share; the lock order is sink lock, then the
 * player's own lock (the player never calls back with its lock held).
 *
 * Never a black hole: until a client has accepted the stream, and whenever
 * it rejects it or goes away, the sink plays the video locally: a private
 * pipeline (appsrc ! decodebin ! videoconvert ! videoscale ! local-sink) on
 * the same clock and base time, drawing into the same window. Switching to
 * it replays the current GOP (kept as buffer references) from its keyframe,
 * so the picture comes back at once; switching away stops it. The guest
 * state machine keeps its own copy of the GOP for the client's side.
 *
 * Timestamps go out in microseconds (time base 1/1000000) with CLOCK
 * messages that tie them to the guest's monotonic clock through the pipeline
 * clock, so the client presents each frame when the player would have: at
 * its running time plus the pipeline latency and the ts-offset set from
 * outside (playbin's av-offset), which is when its sound leaves the audio
 * sink's device (PROTOCOL.md 6.6.1). The sink renders `lead` ms ahead of that
 * (the base sink's ts-offset is the outside one minus the lead; the
 * ts-offset property shows the outside one) so the frame is at the client
 * before it is due.
 *
 * Pause and frame stepping: paused, the client shows the frame at the
 * position the player shows and holds the rest (a CLOCK at rate 0 with that
 * position, PROTOCOL.md 6.6). On a pause that is the clock's position then,
 * on a step (GStreamer step event, a player's "next frame") the buffer the
 * step stopped at; the buffers the step skipped are sent too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/videooverlay.h>

#include <videoredir/capture.h>
#include <videoredir/player.h>

#include "common.h"
#include "sink.h"
#include "window.h"

GST_DEBUG_CATEGORY_STATIC(vr_sink_debug);
#define GST_CAT_DEFAULT vr_sink_debug

#define DEFAULT_PORT_NAME VR_PLAYER_DEFAULT_PORT
#define DEFAULT_LEAD_MS 100
#define DEFAULT_LOCAL_SINK "ximagesink"
#define GOP_MAX 600

enum mode { MODE_LOCAL = 0, MODE_REDIRECT };

struct _GstVideoredirSink {
    GstBaseSink parent;

    GMutex lock;
    /* Properties. */
    gchar *device, *port_name, *local_sink_desc, *display_name;
    guint lead_ms;
    gboolean fallback;
    /* ts-offset as set from outside (playbin's av-offset): presentation is
     * that much later; the base sink's own ts-offset is this minus the lead. */
    GstClockTimeDiff user_offset;

    /* The session: created in NULL->READY, destroyed in READY->NULL. */
    struct vr_player *player;
    enum mode mode;
    gboolean client_shows;     /* the session said the client shows it */
    gboolean have_stream;
    guint8 *extradata;         /* of the caps' codec_data */
    gboolean need_clock;
    uint64_t last_clock_us;
    uint64_t clock_settle_us;  /* until then, CLOCK again when the clock moved */
    int64_t clock_skew_us;     /* vr_gst_clock_skew at the last CLOCK */
    gint64 last_pts_us;        /* -1: none yet */
    gboolean discont;          /* flushed: the next keyframe carries DISCONT */
    gboolean eos;
    /* Frame stepping. The base sink drops the buffers a flushing step skips
     * without rendering them, but the client needs every access unit: the
     * pad probe notes the buffer in the base sink now (`cur`), and while
     * steps are under way buffers go out as they arrive. */
    GstBuffer *cur;            /* a ref; NULL: none */
    gboolean cur_sent;
    guint steps;               /* flushing steps under way */

    /* X11 thread. */
    GThread *x_thread;
    int wake[2];
    gboolean stop;

    /* Window (the X11 thread opens it; handles may come from any thread). */
    struct vr_sink_window *win;
    guintptr app_handle;
    gboolean want_window;
    gboolean window_failed;
    gboolean defer_local;     /* a window is coming: start the local branch in it */
    gint rx, ry, rw, rh;
    gboolean rect_dirty;
    guint vid_w, vid_h;
    struct vr_region *region; /* large: the X11 thread's scratch */

    /* The current GOP as buffer references, for the local branch. */
    GPtrArray *gop;
    /* Local branch. */
    GstElement *local, *appsrc, *local_sink;
    gboolean local_on;
    GstCaps *caps;

    /* Statistics. */
    guint64 frames_local, switches_local, switches_redirect;
};

static void overlay_init(GstVideoOverlayInterface *iface);

G_DEFINE_TYPE_WITH_CODE(GstVideoredirSink, gst_videoredir_sink, GST_TYPE_BASE_SINK,
                        G_IMPLEMENT_INTERFACE(GST_TYPE_VIDEO_OVERLAY, overlay_init));

enum {
    PROP_0,
    PROP_DEVICE,
    PROP_PORT_NAME,
    PROP_LEAD,
    PROP_FALLBACK,
    PROP_LOCAL_SINK,
    PROP_DISPLAY,
    PROP_MODE,
    PROP_STATS,
    PROP_TS_OFFSET, /* GstBaseSink's, overridden: the lead must survive playsink's av-offset */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS(VR_GST_CODEC_CAPS));

/* ---------------------------------------------------------------------- */
/* Helpers.                                                                 */

static void wake_io(GstVideoredirSink *s)
{
    if (s->wake[1] >= 0) {
        char c = 1;
        ssize_t r = write(s->wake[1], &c, 1);
        (void)r; /* full pipe: a wakeup is pending anyway */
    }
}

static void player_log(void *user, enum vr_log_level level, const char *msg)
{
    GstVideoredirSink *s = user;
    switch (level) {
    case VR_LOG_ERROR: GST_ERROR_OBJECT(s, "%s", msg); break;
    case VR_LOG_WARNING: GST_WARNING_OBJECT(s, "%s", msg); break;
    case VR_LOG_INFO: GST_INFO_OBJECT(s, "%s", msg); break;
    default: GST_DEBUG_OBJECT(s, "%s", msg); break;
    }
}

static void free_extradata(GstVideoredirSink *s)
{
    g_free(s->extradata);
    s->extradata = NULL;
}

/* ---------------------------------------------------------------------- */
/* Local playback branch.                                                   */

static GstClockTime running_time(GstVideoredirSink *s, GstClockTime ts)
{
    GstBaseSink *bs = GST_BASE_SINK(s);
    GstClockTime rt;
    GST_OBJECT_LOCK(s);
    rt = gst_segment_to_running_time(&bs->segment, GST_FORMAT_TIME, ts);
    GST_OBJECT_UNLOCK(s);
    return rt;
}

/* A copy of the buffer's metadata with timestamps in running time: the
 * local pipeline plays one plain segment from 0 on the same base time. */
static void local_push(GstVideoredirSink *s, GstBuffer *buf, gboolean discont)
{
    GstClockTime pts = GST_BUFFER_PTS(buf), dts = GST_BUFFER_DTS(buf);
    GstBuffer *b = gst_buffer_copy_region(buf, GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_MEMORY, 0, -1);
    if (!b)
        return;
    GST_BUFFER_PTS(b) = GST_CLOCK_TIME_IS_VALID(pts) ? running_time(s, pts) : GST_CLOCK_TIME_NONE;
    GST_BUFFER_DTS(b) = GST_CLOCK_TIME_IS_VALID(dts) ? running_time(s, dts) : GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION(b) = GST_BUFFER_DURATION(buf);
    if (discont)
        GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DISCONT);
    if (gst_app_src_push_buffer(GST_APP_SRC(s->appsrc), b) == GST_FLOW_OK)
        s->frames_local++;
}

/* decodebin's GstAutoplugSelectResult (not in a public header). */
enum { AUTOPLUG_TRY = 0, AUTOPLUG_SKIP = 2 };

/* The local branch decodes: never with videoredirdec, which would send the
 * video to the client again instead of decoding it. */
static gint skip_videoredirdec(GstElement *bin, GstPad *pad, GstCaps *caps, GstElementFactory *f, gpointer user)
{
    (void)bin, (void)pad, (void)caps, (void)user;
    return g_str_has_prefix(GST_OBJECT_NAME(f), "videoredir") ? AUTOPLUG_SKIP : AUTOPLUG_TRY;
}

static GstElement *make_local(GstVideoredirSink *s, GError **error)
{
    gchar *desc = g_strdup_printf("appsrc name=src format=time is-live=false max-bytes=67108864 block=false ! "
                                  "decodebin name=dec ! videoconvert ! videoscale ! %s name=vsink",
                                  s->local_sink_desc ? s->local_sink_desc : DEFAULT_LOCAL_SINK);
    GstElement *p = gst_parse_launch_full(desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, error);
    g_free(desc);
    if (!p)
        return NULL;
    if (!GST_IS_PIPELINE(p)) {
        gst_object_unref(p);
        g_set_error(error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED, "local branch is not a pipeline");
        return NULL;
    }
    GstElement *dec = gst_bin_get_by_name(GST_BIN(p), "dec");
    if (dec) {
        g_signal_connect(dec, "autoplug-select", G_CALLBACK(skip_videoredirdec), NULL);
        gst_object_unref(dec);
    }
    return p;
}

/* The local branch's video sink as a GstVideoOverlay (a ref), when it has
 * one and the window is there; else NULL. Lock held. */
static GstVideoOverlay *local_overlay(GstVideoredirSink *s)
{
    if (!s->local_sink || !s->win)
        return NULL;
    GstElement *vs = s->local_sink;
    if (GST_IS_BIN(vs))
        vs = gst_bin_get_by_interface(GST_BIN(vs), GST_TYPE_VIDEO_OVERLAY);
    else
        gst_object_ref(vs);
    if (vs && !GST_IS_VIDEO_OVERLAY(vs)) {
        gst_object_unref(vs);
        vs = NULL;
    }
    return vs ? GST_VIDEO_OVERLAY(vs) : NULL;
}

/* Lock held. Starts local playback from the cached GOP. */
static void local_start(GstVideoredirSink *s)
{
    if (s->local_on || !s->caps)
        return;
    if (!s->local) {
        GError *err = NULL;
        s->local = make_local(s, &err);
        if (!s->local) {
            GST_ELEMENT_WARNING(s, RESOURCE, FAILED, ("cannot play locally"),
                                ("local branch: %s", err ? err->message : "?"));
            g_clear_error(&err);
            return;
        }
        s->appsrc = gst_bin_get_by_name(GST_BIN(s->local), "src");
        s->local_sink = gst_bin_get_by_name(GST_BIN(s->local), "vsink");
    }
    gst_app_src_set_caps(GST_APP_SRC(s->appsrc), s->caps);
    /* Into the same window as the placeholder. */
    GstVideoOverlay *ov = local_overlay(s);
    if (ov) {
        gst_video_overlay_set_window_handle(ov, vr_sink_window_xid(s->win));
        gst_video_overlay_handle_events(ov, TRUE); /* off while stopped */
        if (s->rw > 0 && s->rh > 0)
            gst_video_overlay_set_render_rectangle(ov, s->rx, s->ry, s->rw, s->rh);
        gst_object_unref(ov);
    }
    if (s->win)
        vr_sink_window_set_placeholder(s->win, false);
    GstClock *clock = gst_element_get_clock(GST_ELEMENT(s));
    if (clock) {
        gst_pipeline_use_clock(GST_PIPELINE(s->local), clock);
        gst_object_unref(clock);
    }
    gst_element_set_start_time(s->local, GST_CLOCK_TIME_NONE);
    gst_element_set_base_time(s->local, gst_element_get_base_time(GST_ELEMENT(s)));
    GstState cur = GST_STATE(s);
    gst_element_set_state(s->local, cur == GST_STATE_PLAYING ? GST_STATE_PLAYING : GST_STATE_PAUSED);
    s->local_on = TRUE;
    for (guint i = 0; i < s->gop->len; i++)
        local_push(s, g_ptr_array_index(s->gop, i), i == 0);
    GST_INFO_OBJECT(s, "playing locally (%u frames of the current GOP replayed)", s->gop->len);
}

/* Lock held. READY, not NULL: READY stops the branch's streaming threads
 * (set_state returns once they are joined) and keeps its video sink's
 * display. ximagesink frees its display's caps in READY->NULL without the
 * lock its caps query takes, so a branch set to NULL while a caps query is
 * still in flight (the decoder just plugged, negotiating) can unref freed
 * caps: the "gst_caps_intersect_full: assertion 'GST_IS_CAPS (caps1)'",
 * then "free(): invalid pointer" of issue 14. The branch goes to NULL only in
 * local_destroy, after READY. */
static void local_stop(GstVideoredirSink *s)
{
    if (!s->local_on)
        return;
    s->local_on = FALSE;
    gst_element_set_state(s->local, GST_STATE_READY);
    /* In READY the local sink still listens to the window and answers an
     * Expose with its last frame, over the placeholder: it stops
     * listening (its own X connection deselects the events). */
    GstVideoOverlay *ov = local_overlay(s);
    if (ov) {
        gst_video_overlay_handle_events(ov, FALSE);
        gst_object_unref(ov);
    }
    if (s->win) {
        vr_sink_window_set_placeholder(s->win, true);
        wake_io(s); /* its repaints are timed by the X thread */
    }
}

static void local_destroy(GstVideoredirSink *s)
{
    if (s->local) {
        gst_element_set_state(s->local, GST_STATE_READY); /* threads joined first (local_stop) */
        gst_element_set_state(s->local, GST_STATE_NULL);
    }
    s->local_on = FALSE;
    g_clear_object(&s->appsrc);
    g_clear_object(&s->local_sink);
    g_clear_object(&s->local);
}

/* The player's I/O thread: where the video is shown changed (or new caps
 * were set: LOCAL again means "restart the local branch"). */
static void player_show(void *user, enum vr_player_show where, const char *why)
{
    GstVideoredirSink *s = user;
    g_mutex_lock(&s->lock);
    GST_DEBUG_OBJECT(s, "show: %s (%s)", vr_player_show_name(where), why);
    if (where == VR_PLAYER_SHOW_CLIENT || (where == VR_PLAYER_SHOW_LOCAL && !s->fallback)) {
        if (where == VR_PLAYER_SHOW_CLIENT && !s->client_shows) {
            s->client_shows = TRUE;
            s->switches_redirect++;
            GST_INFO_OBJECT(s, "video shown by the SPICE client");
        }
        if (s->mode != MODE_REDIRECT) {
            s->mode = MODE_REDIRECT;
            local_stop(s);
            /* Also when the local branch never started (it waited for the
             * window, or for the client's answer): the window opened
             * without the placeholder while the mode was local. */
            if (s->win)
                vr_sink_window_set_placeholder(s->win, true);
        }
    } else if (where == VR_PLAYER_SHOW_LOCAL) {
        s->client_shows = FALSE;
        if (s->mode != MODE_LOCAL)
            s->switches_local++;
        s->mode = MODE_LOCAL;
        /* Into the window once it is there (window_open), not twice. */
        if (!s->eos && !s->defer_local)
            local_start(s);
    }
    /* NONE (between streams, after the end): the local branch, if on,
     * plays out what it was given. */
    g_mutex_unlock(&s->lock);
}

/* ---------------------------------------------------------------------- */
/* X11 thread: the video window and its tracking.                          */

/* Lock held. */
static void window_update(GstVideoredirSink *s, int *timeout_ms)
{
    *timeout_ms = -1;
    if (!s->win)
        return;
    if (s->rect_dirty) {
        vr_sink_window_set_render_rect(s->win, s->rx, s->ry, s->rw, s->rh);
        s->rect_dirty = FALSE;
    }
    struct vr_geometry geom;
    int ch = vr_sink_window_process(s->win, &geom, s->region, timeout_ms);
    if (ch == -ENOENT) {
        GST_WARNING_OBJECT(s, "the video window is gone");
        vr_sink_window_close(s->win);
        s->win = NULL;
        return;
    }
    if (ch > 0 && s->player) {
        if (ch & 1)
            vr_player_set_geometry(s->player, &geom);
        vr_player_set_region(s->player, s->region);
        GST_DEBUG_OBJECT(s, "window at %d,%d %ux%u, %u visible rectangles", geom.content.x, geom.content.y,
                         geom.content.w, geom.content.h, s->region->n_rects);
    }
}

/* Lock held. */
static void window_open(GstVideoredirSink *s)
{
    s->want_window = FALSE;
    char err[256] = "";
    int r = vr_sink_window_open(s->display_name, s->app_handle, s->vid_w, s->vid_h, "videoredir", &s->win, err,
                                sizeof(err));
    if (r < 0) {
        s->window_failed = TRUE;
        GST_WARNING_OBJECT(s, "no video window: %s (geometry stays the video's size at 0,0)", err);
    } else {
        s->rect_dirty = TRUE;
        vr_sink_window_set_placeholder(s->win, s->mode == MODE_REDIRECT);
    }
    if (s->local_on && s->win) {
        /* Started before the window existed: restart into it. */
        local_stop(s);
        local_start(s);
    } else if (s->defer_local && s->mode == MODE_LOCAL && !s->eos) {
        local_start(s);
    }
    s->defer_local = FALSE;
}

static gpointer x_main(gpointer user)
{
    GstVideoredirSink *s = user;
    g_mutex_lock(&s->lock);
    while (!s->stop) {
        if (s->want_window && !s->win && !s->window_failed)
            window_open(s);
        int xt = -1;
        window_update(s, &xt);
        struct pollfd pfd[2];
        nfds_t n = 0;
        pfd[n++] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
        if (s->win)
            pfd[n++] = (struct pollfd){ .fd = vr_sink_window_fd(s->win), .events = POLLIN };
        g_mutex_unlock(&s->lock);
        poll(pfd, n, xt >= 0 ? xt : 1000);
        g_mutex_lock(&s->lock);
        if (pfd[0].revents & POLLIN) {
            char buf[64];
            while (read(s->wake[0], buf, sizeof(buf)) > 0) {
            }
        }
    }
    g_mutex_unlock(&s->lock);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Caps to a stream description.                                            */

static gboolean vr_set_caps(GstBaseSink *bs, GstCaps *caps)
{
    GstVideoredirSink *s = GST_VIDEOREDIR_SINK(bs);
    GST_INFO_OBJECT(s, "caps %" GST_PTR_FORMAT, caps);
    g_mutex_lock(&s->lock);
    struct vr_stream_start st;
    if (!vr_gst_caps_to_start(GST_OBJECT(s), caps, &st, &s->extradata)) {
        g_mutex_unlock(&s->lock);
        return FALSE;
    }
    gboolean need_window = !s->win && !s->window_failed;
    s->defer_local = need_window;
    /* A stream already set is stopped: new caps, a new stream. */
    struct vr_geometry geom = { 0, { 0, 0, st.width, st.height }, { 0, 0, st.width, st.height } };
    int r = vr_player_set_stream(s->player, &st, &geom, NULL);
    if (r < 0) {
        s->defer_local = FALSE;
        g_mutex_unlock(&s->lock);
        GST_ELEMENT_ERROR(s, STREAM, FORMAT, ("unusable stream"), ("%s", g_strerror(-r)));
        return FALSE;
    }
    s->have_stream = TRUE;
    s->eos = FALSE;
    s->vid_w = st.width;
    s->vid_h = st.height;
    gst_caps_replace(&s->caps, caps);
    g_ptr_array_set_size(s->gop, 0);
    if (s->local_on)
        local_stop(s);
    g_mutex_unlock(&s->lock);

    if (need_window) {
        /* The application may give us its window now. */
        gst_video_overlay_prepare_window_handle(GST_VIDEO_OVERLAY(s));
        g_mutex_lock(&s->lock);
        s->want_window = TRUE;
        g_mutex_unlock(&s->lock);
    }
    wake_io(s);
    return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Data and events.                                                          */

/* Lock held. Ties pts to the guest clock through the pipeline clock. */
static void send_clock(GstVideoredirSink *s, GstClockTime pts, gboolean paused)
{
    GstSegment seg;
    GST_OBJECT_LOCK(s);
    gst_segment_copy_into(&GST_BASE_SINK(s)->segment, &seg);
    GST_OBJECT_UNLOCK(s);
    int64_t pts_us;
    uint64_t due_us, now_us;
    uint32_t q16;
    /* The frame is presented when the pipeline renders it: its running time
     * plus the pipeline's latency and the offset asked for (an audio sink's
     * output latency, playbin's av-offset), which is when its sound leaves
     * the sound card (PROTOCOL.md section 6.6.1). */
    GstClockTimeDiff extra = s->user_offset + (GstClockTimeDiff)gst_base_sink_get_latency(GST_BASE_SINK(s));
    if (!vr_gst_clock_map(GST_ELEMENT(s), &seg, pts, paused, extra, &pts_us, &due_us, &q16, &now_us))
        return;
    vr_player_set_clock(s->player, pts_us, due_us, q16);
    s->last_clock_us = now_us;
    if (!vr_gst_clock_skew(GST_ELEMENT(s), &s->clock_skew_us))
        s->clock_skew_us = 0;
    if (s->need_clock)
        s->clock_settle_us = now_us + VR_GST_CLOCK_SETTLE_US;
    s->need_clock = FALSE;
}

/* Lock held. Hands one access unit to the session (and to the local branch
 * when it plays). FALSE if the buffer cannot be read. */
static gboolean send_au(GstVideoredirSink *s, GstBuffer *buf)
{
    GstMapInfo map;
    if (!gst_buffer_map(buf, &map, GST_MAP_READ))
        return FALSE;
    if (map.size == 0 || map.size > VR_MAX_FRAME_DATA) {
        GST_WARNING_OBJECT(s, "access unit of %zu bytes skipped", (size_t)map.size);
        gst_buffer_unmap(buf, &map);
        return TRUE;
    }
    gboolean key = !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
    struct vr_au au = {
        .data = map.data,
        .len = (uint32_t)map.size,
        .flags = (key ? VR_FRAME_KEY : 0) |
                 (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DROPPABLE) ? VR_FRAME_DROPPABLE : 0),
        .pts = GST_BUFFER_PTS_IS_VALID(buf) ? (int64_t)(GST_BUFFER_PTS(buf) / 1000) : INT64_MIN,
        .dts = GST_BUFFER_DTS_IS_VALID(buf) ? (int64_t)(GST_BUFFER_DTS(buf) / 1000) : INT64_MIN,
        .duration = GST_BUFFER_DURATION_IS_VALID(buf) ? (int64_t)(GST_BUFFER_DURATION(buf) / 1000) : 0,
    };
    if (key || s->gop->len >= GOP_MAX)
        g_ptr_array_set_size(s->gop, 0);
    if (key || s->gop->len > 0)
        g_ptr_array_add(s->gop, gst_buffer_ref(buf));
    if (GST_BUFFER_PTS_IS_VALID(buf))
        s->last_pts_us = au.pts;
    /* After a seek the stream resumes with a keyframe marked DISCONT
     * (PROTOCOL.md, "Seek"); frames before it are not sent anyway. */
    uint32_t extra = 0;
    if (key && s->discont) {
        extra = VR_FRAME_DISCONT;
        s->discont = FALSE;
    }
    int r = vr_player_push(s->player, &au, extra);
    if (r < 0)
        GST_WARNING_OBJECT(s, "cannot queue a frame: %s", g_strerror(-r));
    if (s->local_on)
        local_push(s, buf, FALSE);
    gst_buffer_unmap(buf, &map);
    return TRUE;
}

static GstFlowReturn vr_render(GstBaseSink *bs, GstBuffer *buf)
{
    GstVideoredirSink *s = GST_VIDEOREDIR_SINK(bs);
    g_mutex_lock(&s->lock);
    /* The buffer a step stopped at went out already. */
    gboolean sent = buf == s->cur && s->cur_sent;
    if (buf == s->cur)
        s->cur_sent = TRUE;
    uint64_t now = vr_time_us();
    if (GST_BUFFER_PTS_IS_VALID(buf) && vr_gst_clock_due(GST_ELEMENT(s), s->need_clock, s->last_clock_us,
                                                         s->clock_settle_us, s->clock_skew_us, now))
        send_clock(s, GST_BUFFER_PTS(buf), FALSE);
    gboolean ok = sent || send_au(s, buf);
    g_mutex_unlock(&s->lock);
    return ok ? GST_FLOW_OK : GST_FLOW_ERROR;
}

/* Streaming thread, before the base sink sees the buffer. */
static GstPadProbeReturn buffer_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
    (void)pad;
    GstVideoredirSink *s = user;
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    g_mutex_lock(&s->lock);
    gst_buffer_replace(&s->cur, buf);
    s->cur_sent = FALSE;
    if (s->steps > 0 && s->player) {
        /* A step skips it (never rendered) or stops at it. */
        send_au(s, buf);
        s->cur_sent = TRUE;
    }
    g_mutex_unlock(&s->lock);
    return GST_PAD_PROBE_OK;
}

/* A flushing step skips buffers without rendering them, the one the sink
 * holds first: from now until it is done, buffers go out as they arrive. */
static gboolean vr_send_event(GstElement *e, GstEvent *event)
{
    GstVideoredirSink *s = GST_VIDEOREDIR_SINK(e);
    gboolean flush = FALSE;
    if (GST_EVENT_TYPE(event) == GST_EVENT_STEP)
        gst_event_parse_step(event, NULL, NULL, NULL, &flush, NULL);
    if (flush) {
        g_mutex_lock(&s->lock);
        s->steps++;
        if (s->cur && !s->cur_sent && s->player) {
            send_au(s, s->cur);
            s->cur_sent = TRUE;
        }
        g_mutex_unlock(&s->lock);
    }
    gboolean ret = GST_ELEMENT_CLASS(gst_videoredir_sink_parent_class)->send_event(e, event);
    if (flush && !ret) {
        g_mutex_lock(&s->lock);
        if (s->steps > 0)
            s->steps--;
        g_mutex_unlock(&s->lock);
    }
    return ret;
}

/* The base sink posts STEP_DONE (streaming thread) when a step stopped at
 * the buffer it now holds: paused, that is the picture the player shows. */
static gboolean vr_post_message(GstElement *e, GstMessage *m)
{
    GstVideoredirSink *s = GST_VIDEOREDIR_SINK(e);
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_STEP_DONE && GST_MESSAGE_SRC(m) == GST_OBJECT(e)) {
        g_mutex_lock(&s->lock);
        if (s->steps > 0)
            s->steps--;
        s->need_clock = TRUE; /* the step moved the segment */
        if (s->cur && s->have_stream && GST_STATE(e) == GST_STATE_PAUSED) {
            /* Where the base sink syncs it, which is the position it reports. */
            GstClockTime ts = GST_BUFFER_DTS_IS_VALID(s->cur) ? GST_BUFFER_DTS(s->cur) : GST_BUFFER_PTS(s->cur);
            if (GST_CLOCK_TIME_IS_VALID(ts)) {
                GST_DEBUG_OBJECT(s, "stepped to %" GST_TIME_FORMAT, GST_TIME_ARGS(ts));
                vr_player_set_clock(s->player, (int64_t)(ts / 1000), vr_time_us(), 0);
            }
        }
        g_mutex_unlock(&s->lock);
    }
    return GST_ELEMENT_CLASS(gst_videoredir_sink_parent_class)->post_message(e, m);
}

/* Lock held. The stream timestamp of what the player shows after a pause:
 * the running time it stopped at minus the latency and the offset that
 * presentation adds (send_clock). In a pipeline that running time is our
 * start time, which the pipeline sets when it pauses and on which the
 * position it reports is based; alone (a test harness), the clock's now.
 * FALSE if unknown or before the segment. */
static gboolean paused_position(GstVideoredirSink *s, GstClockTime *pos)
{
    GstClockTime stopped = GST_CLOCK_TIME_NONE;
    GstObject *parent = gst_object_get_parent(GST_OBJECT(s));
    if (parent) {
        gst_object_unref(parent);
        stopped = gst_element_get_start_time(GST_ELEMENT(s));
    } else {
        GstClock *clock = gst_element_get_clock(GST_ELEMENT(s));
        if (clock) {
            GstClockTime now = gst_clock_get_time(clock), base = gst_element_get_base_time(GST_ELEMENT(s));
            gst_object_unref(clock);
            stopped = now >= base ? now - base : 0;
        }
    }
    if (!GST_CLOCK_TIME_IS_VALID(stopped))
        return FALSE;
    GstClockTimeDiff rt = (GstClockTimeDiff)stopped - s->user_offset -
                          (GstClockTimeDiff)gst_base_sink_get_latency(GST_BASE_SINK(s));
    GstSegment seg;
    GST_OBJECT_LOCK(s);
    gst_segment_copy_into(&GST_BASE_SINK(s)->segment, &seg);
    GST_OBJECT_UNLOCK(s);
    if (seg.format != GST_FORMAT_TIME)
        return FALSE;
    *pos = gst_segment_position_from_running_time(&seg, GST_FORMAT_TIME, rt < 0 ? 0 : (GstClockTime)rt);
    return GST_CLOCK_TIME_IS_VALID(*pos);
}

/* End of stream: the player lets the backlog reach the client, sends
 * STREAM_STOP(EOS) and waits until the client has shown it all (bounded): a
 * player that quits at EOS closes the port right after. The local branch,
 * if on, gets its end of stream and plays out what it holds. */
static void finish_stream(GstVideoredirSink *s)
{
    g_mutex_lock(&s->lock);
    s->eos = TRUE;
    s->have_stream = FALSE;
    if (s->local_on)
        gst_app_src_end_of_stream(GST_APP_SRC(s->appsrc));
    g_mutex_unlock(&s->lock);
    vr_player_finish(s->player, VR_REASON_EOS);
}

static gboolean vr_event(GstBaseSink *bs, GstEvent *event)
{
    GstVideoredirSink *s = GST_VIDEOREDIR_SINK(bs);
    switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_EOS:
        finish_stream(s);
        break;
    case GST_EVENT_FLUSH_STOP:
        g_mutex_lock(&s->lock);
        if (s->have_stream) {
            vr_player_flush(s->player);
        } else if (s->caps) {
            /* A seek after the end: the stream again. */
            struct vr_stream_start st;
            if (vr_gst_caps_to_start(GST_OBJECT(s), s->caps, &st, &s->extradata)) {
                struct vr_geometry geom = { 0, { 0, 0, st.width, st.height }, { 0, 0, st.width, st.height } };
                s->have_stream = vr_player_set_stream(s->player, &st, &geom, NULL) == 0;
            }
        }
        g_ptr_array_set_size(s->gop, 0);
        gst_buffer_replace(&s->cur, NULL);
        s->steps = 0;
        s->need_clock = TRUE;
        s->discont = TRUE;
        s->eos = FALSE;
        if (s->local_on) {
            /* A fresh local branch: the decoder starts at the next keyframe. */
            local_stop(s);
            local_start(s);
        }
        g_mutex_unlock(&s->lock);
        break;
    case GST_EVENT_SEGMENT:
        g_mutex_lock(&s->lock);
        s->need_clock = TRUE; /* rate or position may have changed */
        g_mutex_unlock(&s->lock);
        break;
    default:
        break;
    }
    return GST_BASE_SINK_CLASS(gst_videoredir_sink_parent_class)->event(bs, event);
}

/* ---------------------------------------------------------------------- */
/* State.                                                                    */

static gboolean io_start(GstVideoredirSink *s)
{
    g_mutex_lock(&s->lock);
    struct vr_player_config cfg = {
        .device = s->device,
        .port_name = s->port_name,
        .software = "videoredirsink " VR_VERSION_STRING,
    };
    g_mutex_unlock(&s->lock);
    struct vr_player_callbacks cb = { .log = player_log, .show = player_show };
    if (!g_unix_open_pipe(s->wake, FD_CLOEXEC, NULL)) {
        GST_ELEMENT_ERROR(s, RESOURCE, FAILED, ("cannot create a pipe"), (NULL));
        return FALSE;
    }
    fcntl(s->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(s->wake[1], F_SETFL, O_NONBLOCK);
    s->stop = FALSE;
    s->mode = MODE_REDIRECT;
    s->client_shows = FALSE;
    s->window_failed = FALSE;
    s->eos = FALSE;
    s->have_stream = FALSE;
    s->last_pts_us = -1;
    s->discont = FALSE;
    s->frames_local = s->switches_local = s->switches_redirect = 0;
    int r = vr_player_create(&cfg, &cb, s, &s->player);
    if (r < 0) {
        GST_ELEMENT_ERROR(s, RESOURCE, FAILED, ("cannot create the session"), ("%s", g_strerror(-r)));
        close(s->wake[0]);
        close(s->wake[1]);
        s->wake[0] = s->wake[1] = -1;
        return FALSE;
    }
    s->x_thread = g_thread_new("videoredir-x11", x_main, s);
    GST_INFO_OBJECT(s, "port %s, lead %u ms, fallback %s", vr_player_device_path(s->player), s->lead_ms,
                    s->fallback ? "on" : "off");
    return TRUE;
}

/* The sink's lock is not held here: the player's I/O thread may be in
 * player_show, waiting for it, and vr_player_destroy joins that thread. */
static void io_stop(GstVideoredirSink *s)
{
    if (!s->player)
        return;
    g_mutex_lock(&s->lock);
    s->stop = TRUE;
    s->have_stream = FALSE;
    g_mutex_unlock(&s->lock);
    wake_io(s);
    g_thread_join(s->x_thread);
    s->x_thread = NULL;
    vr_player_destroy(s->player);
    g_mutex_lock(&s->lock);
    s->player = NULL;
    local_destroy(s);
    vr_sink_window_close(s->win);
    s->win = NULL;
    close(s->wake[0]);
    close(s->wake[1]);
    s->wake[0] = s->wake[1] = -1;
    g_ptr_array_set_size(s->gop, 0);
    gst_buffer_replace(&s->cur, NULL);
    s->steps = 0;
    gst_caps_replace(&s->caps, NULL);
    free_extradata(s);
    g_mutex_unlock(&s->lock);
}

static GstStateChangeReturn vr_change_state(GstElement *e, GstStateChange t)
{
    GstVideoredirSink *s = GST_VIDEOREDIR_SINK(e);
    switch (t) {
    case GST_STATE_CHANGE_NULL_TO_READY:
        if (!io_start(s))
            return GST_STATE_CHANGE_FAILURE;
        break;
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
        g_mutex_lock(&s->lock);
        s->need_clock = TRUE;
        if (s->local_on)
            gst_element_set_state(s->local, GST_STATE_PAUSED);
        g_mutex_unlock(&s->lock);
        break;
    default:
        break;
    }
    GstStateChangeReturn ret = GST_ELEMENT_CLASS(gst_videoredir_sink_parent_class)->change_state(e, t);
    switch (t) {
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
        g_mutex_lock(&s->lock);
        if (s->have_stream && s->last_pts_us >= 0) {
            /* Paused (the base sink noted when): the client shows the frame
             * at the position the player stopped at, not the last one sent
             * (up to `lead` ahead). */
            GstClockTime pos;
            int64_t pos_us = paused_position(s, &pos) ? MIN((int64_t)(pos / 1000), s->last_pts_us) : s->last_pts_us;
            vr_player_set_clock(s->player, pos_us, vr_time_us(), 0);
        }
        g_mutex_unlock(&s->lock);
        break;
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING:
        g_mutex_lock(&s->lock);
        s->need_clock = TRUE;
        if (s->local_on) {
            gst_element_set_base_time(s->local, gst_element_get_base_time(e));
            gst_element_set_state(s->local, GST_STATE_PLAYING);
        }
        g_mutex_unlock(&s->lock);
        break;
    case GST_STATE_CHANGE_READY_TO_NULL:
        io_stop(s);
        break;
    default:
        break;
    }
    return ret;
}

/* ---------------------------------------------------------------------- */
/* GstVideoOverlay.                                                          */

static void overlay_set_window_handle(GstVideoOverlay *o, guintptr handle)
{
    GstVideoredirSink *s = GST_VIDEOREDIR_SINK(o);
    g_mutex_lock(&s->lock);
    if (handle != s->app_handle) {
        s->app_handle = handle;
        if (s->win) {
            vr_sink_window_close(s->win); /* the I/O thread reopens on the new one */
            s->win = NULL;
        }
        s->window_failed = FALSE;
        s->want_window = s->caps != NULL || s->win != NULL;
    }
    g_mutex_unlock(&s->lock);
    wake_io(s);
}

static void overlay_set_render_rectangle(GstVideoOverlay *o, gint x, gint y, gint w, gint h)
{
    GstVideoredirSink *s = GST_VIDEOREDIR_SINK(o);
    g_mutex_lock(&s->lock);
    if (w <= 0 || h <= 0)
        x = y = w = h = 0; /* -1: the whole window again */
    s->rx = x;
    s->ry = y;
    s->rw = w;
    s->rh = h;
    s->rect_dirty = TRUE;
    if (s->local_on && s->local_sink && GST_IS_VIDEO_OVERLAY(s->local_sink))
        gst_video_overlay_set_render_rectangle(GST_VIDEO_OVERLAY(s->local_sink), x, y, w ? w : -1, h ? h : -1);
    g_mutex_unlock(&s->lock);
    wake_io(s);
}

static void overlay_expose(GstVideoOverlay *o)
{
    GstVideoredirSink *s = GST_VIDEOREDIR_SINK(o);
    g_mutex_lock(&s->lock);
    if (s->win && s->mode == MODE_REDIRECT)
        vr_sink_window_set_placeholder(s->win, true);
    if (s->local_on && s->local_sink && GST_IS_VIDEO_OVERLAY(s->local_sink))
        gst_video_overlay_expose(GST_VIDEO_OVERLAY(s->local_sink));
    g_mutex_unlock(&s->lock);
}

static void overlay_init(GstVideoOverlayInterface *iface)
{
    iface->set_window_handle = overlay_set_window_handle;
    iface->set_render_rectangle = overlay_set_render_rectangle;
    iface->expose = overlay_expose;
}

/* ---------------------------------------------------------------------- */
/* Properties.                                                               */

static GstStructure *make_stats(GstVideoredirSink *s)
{
    g_mutex_lock(&s->lock);
    GstStructure *r = vr_gst_session_stats("videoredirsink-stats",
                                           s->mode == MODE_REDIRECT ? "redirect" : "local", s->player);
    gst_structure_set(r, "frames-local", G_TYPE_UINT64, s->frames_local, "switches-to-local", G_TYPE_UINT64,
                      s->switches_local, "switches-to-client", G_TYPE_UINT64, s->switches_redirect, NULL);
    g_mutex_unlock(&s->lock);
    return r;
}

static void vr_set_property(GObject *obj, guint id, const GValue *v, GParamSpec *ps)
{
    GstVideoredirSink *s = GST_VIDEOREDIR_SINK(obj);
    g_mutex_lock(&s->lock);
    switch (id) {
    case PROP_DEVICE: g_free(s->device); s->device = g_value_dup_string(v); break;
    case PROP_PORT_NAME:
        g_free(s->port_name);
        s->port_name = g_value_dup_string(v);
        if (!s->port_name)
            s->port_name = g_strdup(DEFAULT_PORT_NAME);
        break;
    case PROP_LEAD:
        s->lead_ms = g_value_get_uint(v);
        gst_base_sink_set_ts_offset(GST_BASE_SINK(s), s->user_offset - (GstClockTimeDiff)s->lead_ms * GST_MSECOND);
        break;
    case PROP_TS_OFFSET:
        /* playsink sets every sink's ts-offset (to MAX(0, av-offset)) when it
         * builds its chains: that must not undo the lead. */
        s->user_offset = g_value_get_int64(v);
        gst_base_sink_set_ts_offset(GST_BASE_SINK(s), s->user_offset - (GstClockTimeDiff)s->lead_ms * GST_MSECOND);
        break;
    case PROP_FALLBACK: s->fallback = g_value_get_boolean(v); break;
    case PROP_LOCAL_SINK: g_free(s->local_sink_desc); s->local_sink_desc = g_value_dup_string(v); break;
    case PROP_DISPLAY: g_free(s->display_name); s->display_name = g_value_dup_string(v); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps); break;
    }
    g_mutex_unlock(&s->lock);
}

static void vr_get_property(GObject *obj, guint id, GValue *v, GParamSpec *ps)
{
    GstVideoredirSink *s = GST_VIDEOREDIR_SINK(obj);
    if (id == PROP_STATS) {
        g_value_take_boxed(v, make_stats(s));
        return;
    }
    g_mutex_lock(&s->lock);
    switch (id) {
    case PROP_DEVICE: g_value_set_string(v, s->device); break;
    case PROP_PORT_NAME: g_value_set_string(v, s->port_name); break;
    case PROP_LEAD: g_value_set_uint(v, s->lead_ms); break;
    case PROP_TS_OFFSET: g_value_set_int64(v, s->user_offset); break;
    case PROP_FALLBACK: g_value_set_boolean(v, s->fallback); break;
    case PROP_LOCAL_SINK: g_value_set_string(v, s->local_sink_desc); break;
    case PROP_DISPLAY: g_value_set_string(v, s->display_name); break;
    case PROP_MODE: g_value_set_string(v, s->mode == MODE_REDIRECT ? "redirect" : "local"); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps); break;
    }
    g_mutex_unlock(&s->lock);
}

static void vr_finalize(GObject *obj)
{
    GstVideoredirSink *s = GST_VIDEOREDIR_SINK(obj);
    g_free(s->device);
    g_free(s->port_name);
    g_free(s->local_sink_desc);
    g_free(s->display_name);
    g_free(s->region);
    g_ptr_array_unref(s->gop);
    gst_buffer_replace(&s->cur, NULL);
    gst_caps_replace(&s->caps, NULL);
    free_extradata(s);
    g_mutex_clear(&s->lock);
    G_OBJECT_CLASS(gst_videoredir_sink_parent_class)->finalize(obj);
}

static void gst_videoredir_sink_init(GstVideoredirSink *s)
{
    g_mutex_init(&s->lock);
    s->port_name = g_strdup(DEFAULT_PORT_NAME);
    s->local_sink_desc = g_strdup(DEFAULT_LOCAL_SINK);
    s->lead_ms = DEFAULT_LEAD_MS;
    s->fallback = TRUE;
    s->wake[0] = s->wake[1] = -1;
    s->region = g_new0(struct vr_region, 1);
    s->gop = g_ptr_array_new_with_free_func((GDestroyNotify)gst_buffer_unref);
    gst_base_sink_set_sync(GST_BASE_SINK(s), TRUE);
    gst_base_sink_set_ts_offset(GST_BASE_SINK(s), -(GstClockTimeDiff)DEFAULT_LEAD_MS * GST_MSECOND);
    /* Late frames still go out: the client decides what is too late. */
    gst_base_sink_set_max_lateness(GST_BASE_SINK(s), -1);
    gst_base_sink_set_qos_enabled(GST_BASE_SINK(s), FALSE);
    gst_base_sink_set_last_sample_enabled(GST_BASE_SINK(s), FALSE);
    gst_pad_add_probe(GST_BASE_SINK_PAD(s), GST_PAD_PROBE_TYPE_BUFFER, buffer_probe, s, NULL);
}

static void gst_videoredir_sink_class_init(GstVideoredirSinkClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    GstElementClass *ec = GST_ELEMENT_CLASS(klass);
    GstBaseSinkClass *bc = GST_BASE_SINK_CLASS(klass);
    GST_DEBUG_CATEGORY_INIT(vr_sink_debug, "videoredirsink", 0, "videoredir sink");

    oc->set_property = vr_set_property;
    oc->get_property = vr_get_property;
    oc->finalize = vr_finalize;
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
    vr_gst_install_session_properties(
        oc, PROP_DEVICE, PROP_PORT_NAME, PROP_FALLBACK,
        "Play locally (decode and display in the guest) while no client takes the video: none answers, it "
        "rejects the codec or size, or it goes away",
        PROP_MODE, "local", PROP_STATS,
        "mode, session state, frames in/sent/dropped/skipped/resent/shown locally, GOP resends, mode "
        "switches, bytes sent, sessions, keyframe requests, backlog, GOP cache size, round trip and the "
        "client's latency");
    g_object_class_install_property(
        oc, PROP_LEAD,
        g_param_spec_uint("lead", "Lead (ms)",
                          "How far ahead of its presentation time a frame is sent, so it reaches the client "
                          "before it is due",
                          0, 5000, DEFAULT_LEAD_MS, rw));
    g_object_class_override_property(oc, PROP_TS_OFFSET, "ts-offset");
    g_object_class_install_property(
        oc, PROP_LOCAL_SINK,
        g_param_spec_string("local-sink", "Local sink",
                            "Video sink (a gst-launch description) of the local fallback branch",
                            DEFAULT_LOCAL_SINK, rw));
    g_object_class_install_property(
        oc, PROP_DISPLAY,
        g_param_spec_string("display", "Display", "X display of the video window (NULL: $DISPLAY)", NULL, rw));

    gst_element_class_set_static_metadata(
        ec, "videoredir sink", "Sink/Video",
        "Sends compressed video, undecoded, to the SPICE client over a virtio port; the client decodes it "
        "and draws it over this window. Plays locally while no client takes it.",
        "videoredir developers");
    gst_element_class_add_static_pad_template(ec, &sink_template);
    ec->change_state = vr_change_state;
    ec->send_event = vr_send_event;
    ec->post_message = vr_post_message;
    bc->set_caps = vr_set_caps;
    bc->render = vr_render;
    bc->event = vr_event;
}
