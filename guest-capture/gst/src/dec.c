/*
 * videoredirdec: sits where a video decoder goes, auto-plugged by rank
 * (decodebin, playbin, gst-play-1.0, Totem, GNOME Web need no setting),
 * sends each access unit, undecoded, to the SPICE client through the shared
 * guest player session (vr_player, videoredir/player.h: GOP cache, flow
 * control, CLOCK, flush, EOS drain), and outputs cheap placeholder frames
 * that the player displays like any decoded video.
 *
 * Never a black hole: while no client takes the stream (no port, no
 * answer yet, codec refused, client gone), it decodes locally in the same
 * element: it drives a real decoder element, the best-ranked other decoder
 * for the caps found at run time (never itself), through two private pads,
 * and outputs that decoder's frames instead of placeholders. Switching to
 * it replays the current GOP from its keyframe; switching back to the client
 * tears it down. Switches happen on the streaming thread, at the next
 * access unit after the session said where the video goes.
 *
 * Placeholders come out in presentation order: a frame is finished once
 * the decode timestamp of the input has reached its presentation timestamp
 * (frames without a DTS at once), with a bound on how many wait.
 *
 * A player cannot set properties on an element it plugs itself, so the port
 * also comes from $VIDEOREDIR_DEVICE (vr_player does that).
 *
 * Threads: the streaming thread (handle_frame, set_format, flush, finish)
 * does all the work, the local decoder included (it outputs on our private
 * sink pad, normally from inside our push); the player's I/O thread only
 * sets `want` through player_show; properties and stats from any thread.
 * `lock` guards want, the properties and the counters.
 */
#include <errno.h>
#include <string.h>

#include <gst/base/gstbasesink.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <videoredir/capture.h>
#include <videoredir/marker.h>
#include <videoredir/player.h>

#include "common.h"
#include "dec.h"

GST_DEBUG_CATEGORY_STATIC(vr_dec_debug);
#define GST_CAT_DEFAULT vr_dec_debug

#define GOP_MAX 600
/* Placeholders waiting for their turn (presentation order) at most. */
#define MAX_PENDING 16

struct _GstVideoredirDec {
    GstVideoDecoder parent;

    GMutex lock;
    gchar *device, *port_name;
    gboolean fallback;
    enum vr_player_show want;  /* what the session said last (I/O thread) */
    guint64 frames_local, frames_placeholder, switches_local, switches_client;
    gboolean local_mode;       /* decoding locally (for stats; stays so after EOS) */
    gchar *child_name;         /* factory of the local decoder, for stats */

    /* Created in open (NULL->READY), destroyed in close. */
    struct vr_player *player;

    /* Streaming thread. */
    GstVideoCodecState *input_state;
    guint8 *extradata;
    gboolean have_stream;
    gboolean discont;
    gint need_clock;           /* atomic: also set from change_state */
    uint64_t last_clock_us;
    uint64_t clock_settle_us;  /* until then, CLOCK again when the clock moved */
    int64_t clock_skew_us;     /* vr_gst_clock_skew at the last CLOCK */
    gint64 last_pts_us;        /* -1: none yet (also read in change_state, under lock) */
    GstSegment segment;        /* the input segment, for change_state (under lock) */
    GstElement *watched;       /* the video sink watched while paused (application thread) */
    gulong watch_id;
    GPtrArray *gop;            /* input buffers since the last keyframe */
    GstBuffer *placeholder;
    gint ph_w, ph_h;
    guint32 marker_code;       /* of the announced stream (1..63), 0: none yet */
    guint32 ph_code;           /* the code drawn into placeholder */

    /* The local decoder and the private pads that drive it. */
    GstElement *child;
    GstPad *csrc, *csink;      /* ours: csrc feeds the child, csink gets its frames */
    GstSegment child_segment;
    GstVideoInfo child_info;
    gboolean child_info_valid;
    gboolean child_failed;     /* no usable local decoder for these caps */
    GstFlowReturn child_ret;   /* the last downstream flow of a local frame */
};

G_DEFINE_TYPE(GstVideoredirDec, gst_videoredir_dec, GST_TYPE_VIDEO_DECODER);

enum {
    PROP_0,
    PROP_DEVICE,
    PROP_PORT_NAME,
    PROP_FALLBACK,
    PROP_MODE,
    PROP_STATS,
};

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(VR_GST_CODEC_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw"));

/* ---------------------------------------------------------------------- */
/* Session callbacks (player's threads).                                    */

static void player_log(void *user, enum vr_log_level level, const char *msg)
{
    GstVideoredirDec *d = user;
    switch (level) {
    case VR_LOG_ERROR: GST_ERROR_OBJECT(d, "%s", msg); break;
    case VR_LOG_WARNING: GST_WARNING_OBJECT(d, "%s", msg); break;
    case VR_LOG_INFO: GST_INFO_OBJECT(d, "%s", msg); break;
    default: GST_DEBUG_OBJECT(d, "%s", msg); break;
    }
}

static void player_show(void *user, enum vr_player_show where, const char *why)
{
    GstVideoredirDec *d = user;
    GST_DEBUG_OBJECT(d, "show: %s (%s)", vr_player_show_name(where), why);
    g_mutex_lock(&d->lock);
    d->want = where;
    g_mutex_unlock(&d->lock);
}

/* ---------------------------------------------------------------------- */
/* Placeholder.                                                             */

/*
 * Draws the placeholder picture into a mapped I420 frame: the placement
 * marker of code (PROTOCOL.md section 10) over the whole frame, in the
 * frame's range. The client finds it in the SPICE display and shows the
 * video wherever the player really shows this picture. Without a code (no
 * stream announced yet) a flat dark blue-grey, the sink's colour (0x202830).
 */
static void placeholder_draw(GstVideoFrame *vf, guint32 code)
{
    if (code >= VR_MARKER_CODE_MIN && code <= VR_MARKER_CODE_MAX) {
        int full = GST_VIDEO_INFO_COLORIMETRY(&vf->info).range == GST_VIDEO_COLOR_RANGE_0_255;
        if (vr_marker_draw_i420(code, (uint32_t)GST_VIDEO_FRAME_WIDTH(vf), (uint32_t)GST_VIDEO_FRAME_HEIGHT(vf), full,
                                GST_VIDEO_FRAME_PLANE_DATA(vf, 0), (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(vf, 0),
                                GST_VIDEO_FRAME_PLANE_DATA(vf, 1), (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(vf, 1),
                                GST_VIDEO_FRAME_PLANE_DATA(vf, 2), (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(vf, 2)) == 0)
            return;
    }
    /* BT.601 limited range of RGB 0x20,0x28,0x30. */
    static const guint8 yuv[3] = { 0x31, 0x85, 0x7c };
    for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(vf); p++) {
        guint8 *row = GST_VIDEO_FRAME_PLANE_DATA(vf, p);
        gint stride = GST_VIDEO_FRAME_PLANE_STRIDE(vf, p);
        gint w = GST_VIDEO_FRAME_COMP_WIDTH(vf, p) * GST_VIDEO_FRAME_COMP_PSTRIDE(vf, p);
        gint h = GST_VIDEO_FRAME_COMP_HEIGHT(vf, p);
        for (gint y = 0; y < h; y++, row += stride)
            memset(row, yuv[p < 3 ? p : 0], (size_t)w);
    }
}

/* Output state I420 at the video's size, and one placeholder buffer that
 * every placeholder frame shares (finish_frame copies the buffer's metadata
 * only, not the picture). */
static gboolean ensure_placeholder(GstVideoredirDec *d)
{
    GstVideoDecoder *vd = GST_VIDEO_DECODER(d);
    if (!d->input_state)
        return FALSE;
    gint w = GST_VIDEO_INFO_WIDTH(&d->input_state->info), h = GST_VIDEO_INFO_HEIGHT(&d->input_state->info);
    GstVideoCodecState *out = gst_video_decoder_get_output_state(vd);
    if (!out || GST_VIDEO_INFO_FORMAT(&out->info) != GST_VIDEO_FORMAT_I420 || GST_VIDEO_INFO_WIDTH(&out->info) != w ||
        GST_VIDEO_INFO_HEIGHT(&out->info) != h) {
        if (out)
            gst_video_codec_state_unref(out);
        out = gst_video_decoder_set_output_state(vd, GST_VIDEO_FORMAT_I420, (guint)w, (guint)h, d->input_state);
        if (!out)
            return FALSE;
    }
    if (!d->placeholder || d->ph_w != w || d->ph_h != h || d->ph_code != d->marker_code) {
        gst_clear_buffer(&d->placeholder);
        GstBuffer *b = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&out->info), NULL);
        GstVideoFrame vf;
        if (b && gst_video_frame_map(&vf, &out->info, b, GST_MAP_WRITE)) {
            placeholder_draw(&vf, d->marker_code);
            gst_video_frame_unmap(&vf);
            d->placeholder = b;
            d->ph_w = w;
            d->ph_h = h;
            d->ph_code = d->marker_code;
        } else if (b) {
            gst_buffer_unref(b);
        }
    }
    gst_video_codec_state_unref(out);
    return d->placeholder != NULL;
}

/* Whether the player holds still: this element is PAUSED and so is the
 * state its pipeline was asked for (on a resume the sinks play before the
 * elements upstream of them change state). */
static gboolean player_paused(GstVideoredirDec *d)
{
    if (GST_STATE(d) != GST_STATE_PAUSED)
        return FALSE;
    GstObject *top = gst_object_ref(GST_OBJECT(d)), *up;
    while ((up = gst_object_get_parent(top))) {
        gst_object_unref(top);
        top = up;
    }
    GST_OBJECT_LOCK(top);
    GstState target = GST_STATE_TARGET(top);
    GST_OBJECT_UNLOCK(top);
    gst_object_unref(top);
    return target == GST_STATE_PAUSED;
}

/* The video sink our frames reach: through elements and bins with one
 * way on (a queue, converters, playsink's stream synchronizer, ghost pads),
 * NULL if there is no such sink. */
static GstElement *find_video_sink(GstVideoredirDec *d)
{
    GstPad *pad = gst_object_ref(GST_VIDEO_DECODER_SRC_PAD(d));
    for (int hops = 0; pad && hops < 64; hops++) {
        GstPad *peer = gst_pad_get_peer(pad);
        gst_object_unref(pad);
        pad = NULL;
        if (!peer)
            break;
        GstObject *parent = gst_pad_get_parent(peer);
        if (parent && GST_IS_BASE_SINK(parent)) {
            gst_object_unref(peer);
            return GST_ELEMENT(parent);
        }
        if (parent)
            gst_object_unref(parent);
        /* On through the element or ghost pad: its one internal link. */
        GstIterator *it = gst_pad_iterate_internal_links(peer);
        gst_object_unref(peer);
        if (!it)
            break;
        GValue v = G_VALUE_INIT;
        int n = 0;
        while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
            if (n++ == 0)
                pad = gst_object_ref(g_value_get_object(&v));
            g_value_reset(&v);
        }
        g_value_unset(&v);
        gst_iterator_free(it);
        if (n != 1 && pad) {
            gst_object_unref(pad);
            pad = NULL;
        }
    }
    if (pad)
        gst_object_unref(pad);
    return NULL;
}

/* A buffer reaches the video sink (its streaming thread). Paused, the sink
 * holds and shows it: after a pause it is the next frame if the sink was
 * waiting for one, and a frame step (GStreamer step events, which only the
 * sink sees) skips what the sink held and stops at a later one. The client
 * shows the same frame (PROTOCOL.md 6.6); the skipped ones went to it
 * anyway. On a resume the sink plays before we do: not paused then. */
static GstPadProbeReturn sink_buffer_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
    (void)pad;
    GstVideoredirDec *d = user;
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    if (!GST_BUFFER_PTS_IS_VALID(buf) || !player_paused(d))
        return GST_PAD_PROBE_OK;
    GST_DEBUG_OBJECT(d, "paused at %" GST_TIME_FORMAT, GST_TIME_ARGS(GST_BUFFER_PTS(buf)));
    g_mutex_lock(&d->lock);
    if (d->player && !d->local_mode)
        vr_player_set_clock(d->player, (int64_t)(GST_BUFFER_PTS(buf) / 1000), vr_time_us(), 0);
    g_mutex_unlock(&d->lock);
    return GST_PAD_PROBE_OK;
}

/* Application thread: watch what reaches the video sink (again if it
 * changed), or stop watching (sink NULL). */
static void watch_sink(GstVideoredirDec *d, GstElement *sink)
{
    if (sink == d->watched)
        return;
    if (d->watched) {
        gst_pad_remove_probe(GST_BASE_SINK_PAD(d->watched), d->watch_id);
        gst_object_unref(d->watched);
        d->watched = NULL;
    }
    if (sink) {
        d->watched = gst_object_ref(sink);
        d->watch_id = gst_pad_add_probe(GST_BASE_SINK_PAD(sink), GST_PAD_PROBE_TYPE_BUFFER, sink_buffer_probe, d,
                                        NULL);
        GST_DEBUG_OBJECT(d, "watching %s for frame steps", GST_OBJECT_NAME(sink));
    }
}

/* Takes the frame reference. */
static GstFlowReturn finish_placeholder(GstVideoredirDec *d, GstVideoCodecFrame *f)
{
    GstVideoDecoder *vd = GST_VIDEO_DECODER(d);
    if (!ensure_placeholder(d)) {
        gst_video_decoder_release_frame(vd, f);
        return GST_FLOW_NOT_NEGOTIATED;
    }
    f->output_buffer = gst_buffer_ref(d->placeholder);
    g_mutex_lock(&d->lock);
    d->frames_placeholder++;
    g_mutex_unlock(&d->lock);
    return gst_video_decoder_finish_frame(vd, f);
}

static gint by_pts(gconstpointer a, gconstpointer b)
{
    const GstVideoCodecFrame *fa = a, *fb = b;
    /* Unknown timestamps first: they go at once. */
    if (fa->pts == fb->pts)
        return fa->system_frame_number < fb->system_frame_number ? -1 : 1;
    if (!GST_CLOCK_TIME_IS_VALID(fa->pts))
        return -1;
    if (!GST_CLOCK_TIME_IS_VALID(fb->pts))
        return 1;
    return fa->pts < fb->pts ? -1 : 1;
}

/* The pending frames, in presentation order (references). */
static GList *pending_frames(GstVideoredirDec *d)
{
    return g_list_sort(gst_video_decoder_get_frames(GST_VIDEO_DECODER(d)), by_pts);
}

/* Finishes with placeholders the pending frames that are due: pts <= bound
 * (all when bound is NONE and all is set), unknown pts, or too many wait. */
static GstFlowReturn finish_due(GstVideoredirDec *d, GstClockTime bound, gboolean all)
{
    GList *frames = pending_frames(d);
    guint left = g_list_length(frames);
    GstFlowReturn ret = GST_FLOW_OK;
    for (GList *l = frames; l; l = l->next) {
        GstVideoCodecFrame *f = l->data;
        gboolean due = all || !GST_CLOCK_TIME_IS_VALID(f->pts) ||
                       (GST_CLOCK_TIME_IS_VALID(bound) && f->pts <= bound) || left > MAX_PENDING;
        if (due && ret == GST_FLOW_OK) {
            ret = finish_placeholder(d, f);
            left--;
        } else {
            gst_video_codec_frame_unref(f);
        }
    }
    g_list_free(frames);
    return ret;
}

/* ---------------------------------------------------------------------- */
/* The local decoder.                                                       */

/* The best-ranked decoder that takes these caps, other than this element. */
static GstElementFactory *pick_decoder(GstCaps *caps)
{
    GList *all = gst_element_factory_list_get_elements(
        GST_ELEMENT_FACTORY_TYPE_DECODER | GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO, GST_RANK_MARGINAL);
    /* Subset only: a decoder for a variant (e.g. VP8 with alpha) does not
     * match plain caps. */
    GList *ok = gst_element_factory_list_filter(all, caps, GST_PAD_SINK, TRUE);
    ok = g_list_sort(ok, gst_plugin_feature_rank_compare_func);
    GstElementFactory *found = NULL;
    for (GList *l = ok; l && !found; l = l->next) {
        GstElementFactory *f = l->data;
        if (!g_str_has_prefix(GST_OBJECT_NAME(f), "videoredir"))
            found = gst_object_ref(f);
    }
    gst_plugin_feature_list_free(ok);
    gst_plugin_feature_list_free(all);
    return found;
}

static GstFlowReturn child_chain(GstPad *pad, GstObject *parent, GstBuffer *buf);

static gboolean child_event(GstPad *pad, GstObject *parent, GstEvent *event)
{
    (void)parent;
    GstVideoredirDec *d = gst_pad_get_element_private(pad);
    if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
        GstCaps *caps;
        gst_event_parse_caps(event, &caps);
        d->child_info_valid = gst_video_info_from_caps(&d->child_info, caps);
        GST_DEBUG_OBJECT(d, "local decoder outputs %" GST_PTR_FORMAT, caps);
    }
    gst_event_unref(event);
    return TRUE;
}

/* Raw video in system memory: what we can output as our own frames. */
static gboolean child_query(GstPad *pad, GstObject *parent, GstQuery *query)
{
    (void)parent;
    GstVideoredirDec *d = gst_pad_get_element_private(pad);
    switch (GST_QUERY_TYPE(query)) {
    case GST_QUERY_CAPS: {
        GstCaps *filter, *raw = gst_caps_new_empty_simple("video/x-raw");
        gst_query_parse_caps(query, &filter);
        /* What downstream takes, in system memory; anything raw if it says
         * nothing useful (a converter follows in players). */
        GstCaps *peer = gst_pad_peer_query_caps(GST_VIDEO_DECODER_SRC_PAD(d), NULL);
        GstCaps *res = peer && !gst_caps_is_any(peer) ? gst_caps_intersect(peer, raw) : gst_caps_ref(raw);
        if (gst_caps_is_empty(res)) {
            gst_caps_unref(res);
            res = gst_caps_ref(raw);
        }
        if (filter) {
            GstCaps *t = gst_caps_intersect_full(filter, res, GST_CAPS_INTERSECT_FIRST);
            gst_caps_unref(res);
            res = t;
        }
        gst_query_set_caps_result(query, res);
        gst_caps_unref(res);
        gst_clear_caps(&peer);
        gst_caps_unref(raw);
        return TRUE;
    }
    case GST_QUERY_ACCEPT_CAPS: {
        GstCaps *caps, *raw = gst_caps_new_empty_simple("video/x-raw");
        gst_query_parse_accept_caps(query, &caps);
        gst_query_set_accept_caps_result(query, gst_caps_is_subset(caps, raw));
        gst_caps_unref(raw);
        return TRUE;
    }
    default:
        /* No allocation answer: the decoder uses its own plain buffers. */
        return FALSE;
    }
}

static gboolean upstream_query(GstPad *pad, GstObject *parent, GstQuery *query)
{
    (void)pad, (void)parent, (void)query;
    return FALSE;
}

static void child_stop(GstVideoredirDec *d)
{
    if (!d->child)
        return;
    gst_element_set_state(d->child, GST_STATE_NULL);
    gst_pad_set_active(d->csrc, FALSE);
    gst_pad_set_active(d->csink, FALSE);
    gst_clear_object(&d->csrc);
    gst_clear_object(&d->csink);
    gst_clear_object(&d->child);
    d->child_info_valid = FALSE;
}

static gboolean child_start(GstVideoredirDec *d)
{
    GstVideoDecoder *vd = GST_VIDEO_DECODER(d);
    GstElementFactory *f = pick_decoder(d->input_state->caps);
    if (!f) {
        d->child_failed = TRUE;
        GST_ELEMENT_WARNING(d, STREAM, CODEC_NOT_FOUND, ("no local decoder for this video"),
                            ("no decoder other than videoredirdec takes %" GST_PTR_FORMAT, d->input_state->caps));
        return FALSE;
    }
    d->child = gst_element_factory_create(f, NULL);
    g_mutex_lock(&d->lock);
    g_free(d->child_name);
    d->child_name = g_strdup(GST_OBJECT_NAME(f));
    g_mutex_unlock(&d->lock);
    gst_object_unref(f);
    if (!d->child)
        goto fail;
    GstPad *in = gst_element_get_static_pad(d->child, "sink"), *out = gst_element_get_static_pad(d->child, "src");
    d->csrc = gst_pad_new("local-src", GST_PAD_SRC);
    d->csink = gst_pad_new("local-sink", GST_PAD_SINK);
    gst_pad_set_element_private(d->csrc, d);
    gst_pad_set_element_private(d->csink, d);
    gst_pad_set_query_function(d->csrc, upstream_query);
    gst_pad_set_chain_function(d->csink, child_chain);
    gst_pad_set_event_function(d->csink, child_event);
    gst_pad_set_query_function(d->csink, child_query);
    gboolean ok = in && out && gst_pad_link(d->csrc, in) == GST_PAD_LINK_OK &&
                  gst_pad_link(out, d->csink) == GST_PAD_LINK_OK;
    gst_clear_object(&in);
    gst_clear_object(&out);
    if (!ok)
        goto fail;
    gst_pad_set_active(d->csink, TRUE);
    gst_pad_set_active(d->csrc, TRUE);
    if (gst_element_set_state(d->child, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
        goto fail;
    gst_segment_copy_into(&vd->input_segment, &d->child_segment);
    if (!gst_pad_push_event(d->csrc, gst_event_new_stream_start("videoredirdec-local")) ||
        !gst_pad_push_event(d->csrc, gst_event_new_caps(d->input_state->caps)) ||
        !gst_pad_push_event(d->csrc, gst_event_new_segment(&d->child_segment)))
        goto fail;
    d->child_ret = GST_FLOW_OK;
    g_mutex_lock(&d->lock);
    d->local_mode = TRUE;
    GST_INFO_OBJECT(d, "decoding locally with %s", d->child_name);
    g_mutex_unlock(&d->lock);
    return TRUE;

fail:
    child_stop(d);
    d->child_failed = TRUE;
    GST_ELEMENT_WARNING(d, STREAM, DECODE, ("cannot decode locally"), ("local decoder did not start"));
    return FALSE;
}

/* Feeds one access unit (reference taken) to the local decoder. */
static GstFlowReturn child_push(GstVideoredirDec *d, GstBuffer *buf)
{
    GstVideoDecoder *vd = GST_VIDEO_DECODER(d);
    if (!gst_segment_is_equal(&vd->input_segment, &d->child_segment)) {
        gst_segment_copy_into(&vd->input_segment, &d->child_segment);
        gst_pad_push_event(d->csrc, gst_event_new_segment(&d->child_segment));
    }
    return gst_pad_push(d->csrc, buf);
}

/* A decoded frame from the local decoder: it becomes the output of the
 * pending frame with its timestamp. Pending frames before it will never
 * come out of the decoder (skipped, or from before the replayed keyframe):
 * they get placeholders. Frames of the replayed GOP already shown have no
 * pending frame: dropped. */
static GstFlowReturn child_chain(GstPad *pad, GstObject *parent, GstBuffer *buf)
{
    (void)parent;
    GstVideoredirDec *d = gst_pad_get_element_private(pad);
    GstVideoDecoder *vd = GST_VIDEO_DECODER(d);
    GstClockTime pts = GST_BUFFER_PTS(buf);
    GstFlowReturn ret = GST_FLOW_OK;
    GST_VIDEO_DECODER_STREAM_LOCK(vd);
    GList *frames = pending_frames(d);
    GstVideoCodecFrame *match = NULL;
    for (GList *l = frames; l; l = l->next) {
        GstVideoCodecFrame *f = l->data;
        if (!match && GST_CLOCK_TIME_IS_VALID(pts) && f->pts == pts) {
            match = f;
        } else if (!match && GST_CLOCK_TIME_IS_VALID(pts) && GST_CLOCK_TIME_IS_VALID(f->pts) && f->pts < pts &&
                   ret == GST_FLOW_OK) {
            ret = finish_placeholder(d, f);
        } else {
            gst_video_codec_frame_unref(f);
        }
    }
    g_list_free(frames);
    if (!match || !d->child_info_valid || ret != GST_FLOW_OK) {
        if (match)
            gst_video_codec_frame_unref(match);
        gst_buffer_unref(buf);
        GST_VIDEO_DECODER_STREAM_UNLOCK(vd);
        return ret;
    }
    const GstVideoInfo *ci = &d->child_info;
    GstVideoCodecState *out = gst_video_decoder_get_output_state(vd);
    if (!out || GST_VIDEO_INFO_FORMAT(&out->info) != GST_VIDEO_INFO_FORMAT(ci) ||
        GST_VIDEO_INFO_WIDTH(&out->info) != GST_VIDEO_INFO_WIDTH(ci) ||
        GST_VIDEO_INFO_HEIGHT(&out->info) != GST_VIDEO_INFO_HEIGHT(ci)) {
        if (out)
            gst_video_codec_state_unref(out);
        out = gst_video_decoder_set_output_state(vd, GST_VIDEO_INFO_FORMAT(ci), (guint)GST_VIDEO_INFO_WIDTH(ci),
                                                 (guint)GST_VIDEO_INFO_HEIGHT(ci), d->input_state);
    }
    if (out)
        gst_video_codec_state_unref(out);
    match->output_buffer = buf;
    g_mutex_lock(&d->lock);
    d->frames_local++;
    g_mutex_unlock(&d->lock);
    ret = gst_video_decoder_finish_frame(vd, match);
    d->child_ret = ret;
    GST_VIDEO_DECODER_STREAM_UNLOCK(vd);
    return ret;
}

/* Lets the local decoder give out what it holds, then stops it. */
static void child_drain(GstVideoredirDec *d)
{
    if (!d->child)
        return;
    gst_pad_push_event(d->csrc, gst_event_new_eos());
    child_stop(d);
}

/* ---------------------------------------------------------------------- */
/* GstVideoDecoder.                                                         */

static gboolean vr_open(GstVideoDecoder *vd)
{
    GstVideoredirDec *d = GST_VIDEOREDIR_DEC(vd);
    g_mutex_lock(&d->lock);
    struct vr_player_config cfg = {
        .device = d->device,
        .port_name = d->port_name,
        .software = "videoredirdec " VR_VERSION_STRING,
    };
    d->want = VR_PLAYER_SHOW_NONE;
    d->frames_local = d->frames_placeholder = d->switches_local = d->switches_client = 0;
    g_mutex_unlock(&d->lock);
    struct vr_player_callbacks cb = { .log = player_log, .show = player_show };
    int r = vr_player_create(&cfg, &cb, d, &d->player);
    if (r < 0) {
        GST_ELEMENT_ERROR(d, RESOURCE, FAILED, ("cannot create the session"), ("%s", g_strerror(-r)));
        return FALSE;
    }
    GST_INFO_OBJECT(d, "port %s", vr_player_device_path(d->player));
    return TRUE;
}

static gboolean vr_close(GstVideoDecoder *vd)
{
    GstVideoredirDec *d = GST_VIDEOREDIR_DEC(vd);
    struct vr_player *p = d->player;
    vr_player_destroy(p); /* not under d->lock: player_show takes it */
    g_mutex_lock(&d->lock);
    d->player = NULL;
    g_mutex_unlock(&d->lock);
    return TRUE;
}

static gboolean vr_start(GstVideoDecoder *vd)
{
    GstVideoredirDec *d = GST_VIDEOREDIR_DEC(vd);
    d->have_stream = FALSE;
    d->discont = FALSE;
    g_atomic_int_set(&d->need_clock, TRUE);
    d->child_failed = FALSE;
    g_mutex_lock(&d->lock);
    d->last_pts_us = -1;
    gst_segment_init(&d->segment, GST_FORMAT_UNDEFINED);
    g_mutex_unlock(&d->lock);
    return TRUE;
}

static gboolean vr_stop(GstVideoDecoder *vd)
{
    GstVideoredirDec *d = GST_VIDEOREDIR_DEC(vd);
    child_stop(d);
    if (d->have_stream)
        vr_player_stop(d->player, VR_REASON_USER);
    d->have_stream = FALSE;
    g_ptr_array_set_size(d->gop, 0);
    g_clear_pointer(&d->input_state, gst_video_codec_state_unref);
    gst_clear_buffer(&d->placeholder);
    g_clear_pointer(&d->extradata, g_free);
    return TRUE;
}

/* Announces the stream of input_state, marked (PROTOCOL.md 10.2): a new
 * marker code per stream, never the previous one, drawn into every
 * placeholder from now on. Geometry: this element does not know where the
 * player draws its frames; it sends the video's size at 0,0, which the
 * client uses only until it finds the marker (the picture wins, 10.4) or
 * if it has no MARKER feature. */
static gboolean announce(GstVideoredirDec *d)
{
    struct vr_stream_start st;
    if (!vr_gst_caps_to_start(GST_OBJECT(d), d->input_state->caps, &st, &d->extradata))
        return FALSE;
    uint64_t in_use = d->marker_code ? (uint64_t)1 << d->marker_code : 0;
    d->marker_code = vr_marker_code_pick(((uint64_t)g_random_int() << 32) | (uint64_t)g_random_int(), in_use);
    st.flags = (uint16_t)((st.flags & ~VR_STREAM_MARKER_MASK) | VR_STREAM_MARKED |
                          (d->marker_code << VR_STREAM_MARKER_SHIFT));
    GST_INFO_OBJECT(d, "stream marked with code %u", d->marker_code);
    struct vr_geometry geom = { 0, { 0, 0, st.width, st.height }, { 0, 0, st.width, st.height } };
    int r = vr_player_set_stream(d->player, &st, &geom, NULL);
    if (r < 0) {
        GST_ELEMENT_ERROR(d, STREAM, FORMAT, ("unusable stream"), ("%s", g_strerror(-r)));
        return FALSE;
    }
    d->have_stream = TRUE;
    g_atomic_int_set(&d->need_clock, TRUE);
    return TRUE;
}

static gboolean vr_set_format(GstVideoDecoder *vd, GstVideoCodecState *state)
{
    GstVideoredirDec *d = GST_VIDEOREDIR_DEC(vd);
    GST_INFO_OBJECT(d, "caps %" GST_PTR_FORMAT, state->caps);
    g_clear_pointer(&d->input_state, gst_video_codec_state_unref);
    d->input_state = gst_video_codec_state_ref(state);
    /* New caps: a new stream for the client, a new local decoder. */
    child_stop(d);
    d->child_failed = FALSE;
    g_ptr_array_set_size(d->gop, 0);
    if (!announce(d))
        return FALSE;
    /* Negotiate now, so downstream knows the size before the first frame. */
    return ensure_placeholder(d) && gst_video_decoder_negotiate(vd);
}

/* Ties pts to the guest clock through the pipeline clock. Only while
 * playing: paused, the frames pushed say what is shown (finish_placeholder),
 * and need_clock stays set for the resume. */
static void send_clock(GstVideoredirDec *d, GstClockTime pts)
{
    int64_t pts_us;
    uint64_t due_us, now_us;
    uint32_t q16;
    if (GST_STATE(d) != GST_STATE_PLAYING)
        return;
    if (!vr_gst_clock_map(GST_ELEMENT(d), &GST_VIDEO_DECODER(d)->input_segment, pts, FALSE, 0, &pts_us,
                          &due_us, &q16, &now_us))
        return;
    vr_player_set_clock(d->player, pts_us, due_us, q16);
    d->last_clock_us = now_us;
    if (!vr_gst_clock_skew(GST_ELEMENT(d), &d->clock_skew_us))
        d->clock_skew_us = 0;
    if (g_atomic_int_get(&d->need_clock))
        d->clock_settle_us = now_us + VR_GST_CLOCK_SETTLE_US;
    g_atomic_int_set(&d->need_clock, FALSE);
}

static GstFlowReturn vr_handle_frame(GstVideoDecoder *vd, GstVideoCodecFrame *frame)
{
    GstVideoredirDec *d = GST_VIDEOREDIR_DEC(vd);
    GstBuffer *in = frame->input_buffer;
    gboolean key = !GST_BUFFER_FLAG_IS_SET(in, GST_BUFFER_FLAG_DELTA_UNIT);

    /* Where the video goes: the session's last word, applied here. */
    g_mutex_lock(&d->lock);
    gboolean local = d->fallback && d->want != VR_PLAYER_SHOW_CLIENT;
    g_mutex_unlock(&d->lock);
    local = local && !d->child_failed;
    if (local && !d->child) {
        if (child_start(d)) {
            g_mutex_lock(&d->lock);
            d->switches_local++;
            g_mutex_unlock(&d->lock);
            /* Replay the GOP so far: the decoder needs its keyframe; the
             * frames already shown come out with no pending frame and are
             * dropped. */
            for (guint i = 0; !key && i < d->gop->len && d->child; i++)
                child_push(d, gst_buffer_ref(g_ptr_array_index(d->gop, i)));
        }
    } else if (!local && d->child) {
        child_stop(d);
        g_mutex_lock(&d->lock);
        d->switches_client++;
        d->local_mode = FALSE;
        g_mutex_unlock(&d->lock);
        GST_INFO_OBJECT(d, "video shown by the SPICE client");
    }

    if (key || d->gop->len >= GOP_MAX)
        g_ptr_array_set_size(d->gop, 0);
    if (key || d->gop->len > 0)
        g_ptr_array_add(d->gop, gst_buffer_ref(in));

    /* To the client. */
    GstMapInfo map;
    if (d->have_stream && gst_buffer_map(in, &map, GST_MAP_READ)) {
        if (map.size > 0 && map.size <= VR_MAX_FRAME_DATA) {
            struct vr_au au = {
                .data = map.data,
                .len = (uint32_t)map.size,
                .flags = (key ? VR_FRAME_KEY : 0) |
                         (GST_BUFFER_FLAG_IS_SET(in, GST_BUFFER_FLAG_DROPPABLE) ? VR_FRAME_DROPPABLE : 0),
                .pts = GST_CLOCK_TIME_IS_VALID(frame->pts) ? (int64_t)(frame->pts / 1000) : INT64_MIN,
                .dts = GST_CLOCK_TIME_IS_VALID(frame->dts) ? (int64_t)(frame->dts / 1000) : INT64_MIN,
                .duration = GST_CLOCK_TIME_IS_VALID(frame->duration) ? (int64_t)(frame->duration / 1000) : 0,
            };
            uint64_t now = vr_time_us();
            if (GST_CLOCK_TIME_IS_VALID(frame->pts) &&
                vr_gst_clock_due(GST_ELEMENT(d), g_atomic_int_get(&d->need_clock), d->last_clock_us,
                                 d->clock_settle_us, d->clock_skew_us, now))
                send_clock(d, frame->pts);
            if (GST_CLOCK_TIME_IS_VALID(frame->pts)) {
                g_mutex_lock(&d->lock);
                d->last_pts_us = au.pts;
                gst_segment_copy_into(&vd->input_segment, &d->segment);
                g_mutex_unlock(&d->lock);
            }
            uint32_t extra = 0;
            if (key && d->discont) {
                extra = VR_FRAME_DISCONT; /* first keyframe after a seek (PROTOCOL.md, "Seek") */
                d->discont = FALSE;
            }
            int r = vr_player_push(d->player, &au, extra);
            if (r < 0)
                GST_WARNING_OBJECT(d, "cannot queue a frame: %s", g_strerror(-r));
        } else {
            GST_WARNING_OBJECT(d, "access unit of %zu bytes not sent", (size_t)map.size);
        }
        gst_buffer_unmap(in, &map);
    }

    /* To the player's screen. */
    GstClockTime bound = GST_CLOCK_TIME_IS_VALID(frame->dts) ? frame->dts : frame->pts;
    GstFlowReturn ret = GST_FLOW_OK;
    if (d->child) {
        d->child_ret = GST_FLOW_OK;
        GstFlowReturn cr = child_push(d, gst_buffer_ref(in));
        if (d->child_ret != GST_FLOW_OK) {
            ret = d->child_ret; /* downstream's answer to our output */
        } else if (cr != GST_FLOW_OK && cr != GST_FLOW_FLUSHING) {
            GST_ELEMENT_WARNING(d, STREAM, DECODE, ("local decoding failed"),
                                ("local decoder: %s; showing placeholders", gst_flow_get_name(cr)));
            child_stop(d);
            d->child_failed = TRUE;
        }
    }
    if (!d->child && ret == GST_FLOW_OK)
        ret = finish_due(d, bound, FALSE);
    gst_video_codec_frame_unref(frame);
    return ret;
}

/* Everything pending goes out: the local decoder's frames, then
 * placeholders for the rest. */
static GstFlowReturn drain_all(GstVideoredirDec *d)
{
    child_drain(d);
    return finish_due(d, GST_CLOCK_TIME_NONE, TRUE);
}

static GstFlowReturn vr_drain(GstVideoDecoder *vd)
{
    return drain_all(GST_VIDEOREDIR_DEC(vd));
}

/* End of stream: out with what is pending, then the session lets the
 * client show it all (bounded) before the EOS goes on, so a player that
 * quits at EOS does not cut the client's video short. */
static GstFlowReturn vr_finish(GstVideoDecoder *vd)
{
    GstVideoredirDec *d = GST_VIDEOREDIR_DEC(vd);
    GstFlowReturn ret = drain_all(d);
    if (d->have_stream)
        vr_player_finish(d->player, VR_REASON_EOS);
    d->have_stream = FALSE;
    return ret;
}

static gboolean vr_flush(GstVideoDecoder *vd)
{
    GstVideoredirDec *d = GST_VIDEOREDIR_DEC(vd);
    /* The local decoder starts again at the next keyframe. */
    child_stop(d);
    g_ptr_array_set_size(d->gop, 0);
    d->discont = TRUE;
    g_atomic_int_set(&d->need_clock, TRUE);
    if (d->have_stream)
        vr_player_flush(d->player);
    else if (d->input_state)
        announce(d); /* a seek after the end: the stream again */
    return TRUE;
}

static GstStateChangeReturn vr_change_state(GstElement *e, GstStateChange t)
{
    GstVideoredirDec *d = GST_VIDEOREDIR_DEC(e);
    if (t == GST_STATE_CHANGE_PLAYING_TO_PAUSED) {
        /* Paused: the client shows the frame at the position the player
         * stopped at (the running time now; frames are due at their running
         * time, send_clock), not the last one sent, and holds the rest. The
         * streaming thread may be blocked in a push downstream: the segment
         * is our copy. */
        GstClock *clock = gst_element_get_clock(e);
        GstClockTime now = clock ? gst_clock_get_time(clock) : GST_CLOCK_TIME_NONE;
        if (clock)
            gst_object_unref(clock);
        GstClockTime base = gst_element_get_base_time(e);
        g_mutex_lock(&d->lock);
        gint64 last = d->last_pts_us;
        struct vr_player *p = d->player;
        if (last >= 0 && GST_CLOCK_TIME_IS_VALID(now) && now >= base && d->segment.format == GST_FORMAT_TIME) {
            GstClockTime pos = gst_segment_position_from_running_time(&d->segment, GST_FORMAT_TIME, now - base);
            if (GST_CLOCK_TIME_IS_VALID(pos))
                last = MIN(last, (gint64)(pos / 1000));
        }
        g_mutex_unlock(&d->lock);
        if (p && last >= 0)
            vr_player_set_clock(p, last, vr_time_us(), 0);
        GstElement *sink = find_video_sink(d);
        watch_sink(d, sink);
        if (sink)
            gst_object_unref(sink);
    }
    GstStateChangeReturn ret = GST_ELEMENT_CLASS(gst_videoredir_dec_parent_class)->change_state(e, t);
    if (t == GST_STATE_CHANGE_PAUSED_TO_PLAYING)
        g_atomic_int_set(&d->need_clock, TRUE); /* a new base time */
    if (t == GST_STATE_CHANGE_PAUSED_TO_READY)
        watch_sink(d, NULL); /* the sink streams no more (sinks change state first) */
    return ret;
}

/* ---------------------------------------------------------------------- */
/* Properties.                                                               */

static GstStructure *make_stats(GstVideoredirDec *d)
{
    struct vr_player_stats ps;
    memset(&ps, 0, sizeof(ps));
    g_mutex_lock(&d->lock);
    const char *state = "stopped";
    if (d->player) {
        vr_player_get_stats(d->player, &ps);
        state = vr_guest_state_name(ps.state);
    }
    const struct vr_guest_stats *st = &ps.guest;
    GstStructure *r = gst_structure_new(
        "videoredirdec-stats", "mode", G_TYPE_STRING, d->local_mode ? "local" : "redirect", "session",
        G_TYPE_STRING, state, "frames-in", G_TYPE_UINT64, ps.frames_in, "frames-sent", G_TYPE_UINT64,
        st->frames_sent, "frames-dropped", G_TYPE_UINT64, st->frames_dropped, "frames-skipped", G_TYPE_UINT64,
        st->frames_skipped, "frames-resent", G_TYPE_UINT64, st->frames_resent, "gop-resends", G_TYPE_UINT64,
        st->gop_resends, "frames-local", G_TYPE_UINT64, d->frames_local, "frames-placeholder", G_TYPE_UINT64,
        d->frames_placeholder, "switches-to-local", G_TYPE_UINT64, d->switches_local, "switches-to-client",
        G_TYPE_UINT64, d->switches_client, "bytes-sent", G_TYPE_UINT64, st->es_bytes, "sessions", G_TYPE_UINT64,
        st->sessions, "keyframe-requests", G_TYPE_UINT64, st->keyframe_requests, "backlog", G_TYPE_UINT,
        st->backlog, "gop-cache-frames", G_TYPE_UINT, st->cache_frames, "rtt-us", G_TYPE_UINT, st->rtt_us,
        "client-latency-us", G_TYPE_UINT, st->last_feedback.latency_us, "local-decoder", G_TYPE_STRING,
        d->child_name ? d->child_name : "", NULL);
    g_mutex_unlock(&d->lock);
    return r;
}

static void vr_set_property(GObject *obj, guint id, const GValue *v, GParamSpec *ps)
{
    GstVideoredirDec *d = GST_VIDEOREDIR_DEC(obj);
    g_mutex_lock(&d->lock);
    switch (id) {
    case PROP_DEVICE: g_free(d->device); d->device = g_value_dup_string(v); break;
    case PROP_PORT_NAME:
        g_free(d->port_name);
        d->port_name = g_value_dup_string(v);
        if (!d->port_name)
            d->port_name = g_strdup(VR_PLAYER_DEFAULT_PORT);
        break;
    case PROP_FALLBACK: d->fallback = g_value_get_boolean(v); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps); break;
    }
    g_mutex_unlock(&d->lock);
}

static void vr_get_property(GObject *obj, guint id, GValue *v, GParamSpec *ps)
{
    GstVideoredirDec *d = GST_VIDEOREDIR_DEC(obj);
    if (id == PROP_STATS) {
        g_value_take_boxed(v, make_stats(d));
        return;
    }
    g_mutex_lock(&d->lock);
    switch (id) {
    case PROP_DEVICE: g_value_set_string(v, d->device); break;
    case PROP_PORT_NAME: g_value_set_string(v, d->port_name); break;
    case PROP_FALLBACK: g_value_set_boolean(v, d->fallback); break;
    case PROP_MODE: g_value_set_string(v, d->local_mode ? "local" : "redirect"); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps); break;
    }
    g_mutex_unlock(&d->lock);
}

static void vr_finalize(GObject *obj)
{
    GstVideoredirDec *d = GST_VIDEOREDIR_DEC(obj);
    g_free(d->device);
    g_free(d->port_name);
    g_free(d->child_name);
    g_free(d->extradata);
    g_ptr_array_unref(d->gop);
    gst_clear_buffer(&d->placeholder);
    watch_sink(d, NULL);
    g_mutex_clear(&d->lock);
    G_OBJECT_CLASS(gst_videoredir_dec_parent_class)->finalize(obj);
}

static void gst_videoredir_dec_init(GstVideoredirDec *d)
{
    g_mutex_init(&d->lock);
    d->port_name = g_strdup(VR_PLAYER_DEFAULT_PORT);
    d->fallback = TRUE;
    d->last_pts_us = -1;
    gst_segment_init(&d->segment, GST_FORMAT_UNDEFINED);
    d->gop = g_ptr_array_new_with_free_func((GDestroyNotify)gst_buffer_unref);
    GstVideoDecoder *vd = GST_VIDEO_DECODER(d);
    gst_video_decoder_set_packetized(vd, TRUE);
    gst_video_decoder_set_needs_format(vd, TRUE);
    gst_video_decoder_set_use_default_pad_acceptcaps(vd, TRUE);
    GST_PAD_SET_ACCEPT_TEMPLATE(GST_VIDEO_DECODER_SINK_PAD(vd));
}

static void gst_videoredir_dec_class_init(GstVideoredirDecClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    GstElementClass *ec = GST_ELEMENT_CLASS(klass);
    GstVideoDecoderClass *vc = GST_VIDEO_DECODER_CLASS(klass);
    GST_DEBUG_CATEGORY_INIT(vr_dec_debug, "videoredirdec", 0, "videoredir decoder");

    oc->set_property = vr_set_property;
    oc->get_property = vr_get_property;
    oc->finalize = vr_finalize;
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
    g_object_class_install_property(
        oc, PROP_DEVICE,
        g_param_spec_string("device", "Device",
                            "Path of the videoredir port: a virtio port device, or the unix socket of the "
                            "videoredir-host stand-in. Empty: $VIDEOREDIR_DEVICE, else "
                            "/dev/virtio-ports/<port-name>",
                            NULL, rw));
    g_object_class_install_property(
        oc, PROP_PORT_NAME,
        g_param_spec_string("port-name", "Port name",
                            "Name of the virtio port (the SPICE port channel's name) used when no device is set",
                            VR_PLAYER_DEFAULT_PORT, rw));
    g_object_class_install_property(
        oc, PROP_FALLBACK,
        g_param_spec_boolean("fallback", "Fallback",
                             "Decode locally while no client takes the video: none answers, it rejects the "
                             "codec or size, or it goes away",
                             TRUE, rw));
    g_object_class_install_property(
        oc, PROP_MODE,
        g_param_spec_string("mode", "Mode",
                            "Where the video is shown now: \"redirect\" (by the SPICE client) or \"local\"",
                            "redirect", G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
    g_object_class_install_property(
        oc, PROP_STATS,
        g_param_spec_boxed("stats", "Statistics",
                           "mode, session state, frames in/sent/dropped/skipped/resent/decoded locally/"
                           "placeholders, GOP resends, mode switches, bytes sent, sessions, keyframe requests, "
                           "backlog, GOP cache size, round trip, the client's latency and the local decoder",
                           GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

    gst_element_class_set_static_metadata(
        ec, "videoredir decoder", "Codec/Decoder/Video",
        "Sends compressed video, undecoded, to the SPICE client over a virtio port and outputs placeholder "
        "frames; decodes locally (with the best other decoder) while no client takes it",
        "videoredir developers");
    gst_element_class_add_static_pad_template(ec, &sink_template);
    gst_element_class_add_static_pad_template(ec, &src_template);
    ec->change_state = vr_change_state;
    vc->open = vr_open;
    vc->close = vr_close;
    vc->start = vr_start;
    vc->stop = vr_stop;
    vc->set_format = vr_set_format;
    vc->handle_frame = vr_handle_frame;
    vc->finish = vr_finish;
    vc->drain = vr_drain;
    vc->flush = vr_flush;
}
