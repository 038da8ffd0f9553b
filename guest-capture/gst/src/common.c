/* Shared GStreamer glue of the videoredir elements (common.h). */
#include <string.h>

#include <gst/video/video.h>

#include "common.h"

gboolean vr_gst_caps_to_start(GstObject *obj, const GstCaps *caps, struct vr_stream_start *st,
                              guint8 **extradata)
{
    memset(st, 0, sizeof(*st));
    if (!caps || gst_caps_get_size(caps) < 1)
        return FALSE;
    GstStructure *str = gst_caps_get_structure(caps, 0);
    const gchar *name = gst_structure_get_name(str);
    const gchar *fmt = gst_structure_get_string(str, "stream-format");
    if (!strcmp(name, "video/x-h264")) {
        st->codec = VR_CODEC_H264;
        if (fmt && !strcmp(fmt, "byte-stream"))
            st->flags |= VR_STREAM_ANNEXB;
    } else if (!strcmp(name, "video/x-h265")) {
        st->codec = VR_CODEC_HEVC;
        if (fmt && !strcmp(fmt, "byte-stream"))
            st->flags |= VR_STREAM_ANNEXB;
    } else if (!strcmp(name, "video/x-vp8")) {
        st->codec = VR_CODEC_VP8;
    } else if (!strcmp(name, "video/x-vp9")) {
        st->codec = VR_CODEC_VP9;
    } else if (!strcmp(name, "video/x-av1")) {
        st->codec = VR_CODEC_AV1;
    } else {
        GST_WARNING_OBJECT(obj, "caps %s are not a codec videoredir carries", name);
        return FALSE;
    }
    gint w = 0, h = 0, fn = 0, fd = 1;
    gst_structure_get_int(str, "width", &w);
    gst_structure_get_int(str, "height", &h);
    if (w <= 0 || h <= 0 || w > (gint)VR_MAX_DIMENSION || h > (gint)VR_MAX_DIMENSION) {
        GST_WARNING_OBJECT(obj, "caps carry no usable size (%dx%d)", w, h);
        return FALSE;
    }
    st->width = (uint32_t)w;
    st->height = (uint32_t)h;
    if (gst_structure_get_fraction(str, "framerate", &fn, &fd) && fn > 0 && fd > 0) {
        st->fps_num = (uint32_t)fn;
        st->fps_den = (uint32_t)fd;
    }
    st->timebase_num = 1;
    st->timebase_den = 1000000;
    const gchar *cm = gst_structure_get_string(str, "colorimetry");
    GstVideoColorimetry c;
    if (cm && gst_video_colorimetry_from_string(&c, cm)) {
        st->color.primaries = (uint8_t)gst_video_color_primaries_to_iso(c.primaries);
        st->color.transfer = (uint8_t)gst_video_transfer_function_to_iso(c.transfer);
        st->color.matrix = (uint8_t)gst_video_color_matrix_to_iso(c.matrix);
        st->color.full_range = c.range == GST_VIDEO_COLOR_RANGE_0_255;
    }
    g_free(*extradata);
    *extradata = NULL;
    const GValue *v = gst_structure_get_value(str, "codec_data");
    if (v && G_VALUE_HOLDS(v, GST_TYPE_BUFFER)) {
        GstBuffer *cd = gst_value_get_buffer(v);
        gsize len = gst_buffer_get_size(cd);
        if (len > VR_MAX_EXTRADATA) {
            GST_WARNING_OBJECT(obj, "codec_data of %zu bytes is over the limit", (size_t)len);
            return FALSE;
        }
        *extradata = g_malloc(len ? len : 1);
        gst_buffer_extract(cd, 0, *extradata, len);
        st->extradata = *extradata;
        st->extradata_len = (uint32_t)len;
    }
    return TRUE;
}

gboolean vr_gst_clock_map(GstElement *e, const GstSegment *seg, GstClockTime pts, gboolean paused,
                          GstClockTimeDiff offset_ns, int64_t *pts_us, uint64_t *due_us, uint32_t *rate_q16,
                          uint64_t *now_us)
{
    double rate = seg->rate * seg->applied_rate;
    if (rate <= 0)
        return FALSE; /* reverse playback: frames are shown as decoded */
    GstClockTime rt = gst_segment_to_running_time(seg, GST_FORMAT_TIME, pts);
    if (!GST_CLOCK_TIME_IS_VALID(rt))
        return FALSE;
    GstClock *clock = gst_element_get_clock(e);
    if (!clock)
        return FALSE;
    GstClockTime now_clock = gst_clock_get_time(clock);
    uint64_t now = vr_time_us();
    gst_object_unref(clock);
    GstClockTime due = gst_element_get_base_time(e) + rt;
    int64_t delta_ns = (int64_t)due + offset_ns - (int64_t)now_clock;
    *pts_us = (int64_t)(pts / 1000);
    *due_us = paused ? now : (uint64_t)((int64_t)now + delta_ns / 1000);
    *rate_q16 = paused ? 0 : (uint32_t)MIN(rate * 65536.0, (double)UINT32_MAX);
    *now_us = now;
    return TRUE;
}

gboolean vr_gst_clock_skew(GstElement *e, int64_t *skew_us)
{
    GstClock *clock = gst_element_get_clock(e);
    if (!clock)
        return FALSE;
    GstClockTime t = gst_clock_get_time(clock);
    uint64_t now = vr_time_us();
    gst_object_unref(clock);
    if (!GST_CLOCK_TIME_IS_VALID(t))
        return FALSE;
    *skew_us = (int64_t)(t / 1000) - (int64_t)now;
    return TRUE;
}

gboolean vr_gst_clock_due(GstElement *e, gboolean need, uint64_t last_us, uint64_t settle_until_us,
                          int64_t skew_us, uint64_t now_us)
{
    if (need || now_us - last_us >= 1000000)
        return TRUE;
    if (now_us >= settle_until_us)
        return FALSE;
    int64_t skew;
    if (!vr_gst_clock_skew(e, &skew))
        return FALSE;
    int64_t moved = skew - skew_us;
    return moved > VR_GST_CLOCK_SKEW_US || moved < -VR_GST_CLOCK_SKEW_US;
}

void vr_gst_install_session_properties(GObjectClass *oc, guint prop_device, guint prop_port_name,
                                       guint prop_fallback, const char *fallback_blurb, guint prop_mode,
                                       const char *default_mode, guint prop_stats, const char *stats_blurb)
{
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
    const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
    g_object_class_install_property(
        oc, prop_device,
        g_param_spec_string("device", "Device",
                            "Path of the videoredir port: a virtio port device, or the unix socket of the "
                            "videoredir-host stand-in. Empty: $" VR_PLAYER_DEVICE_ENV ", else "
                            "/dev/virtio-ports/<port-name>",
                            NULL, rw));
    g_object_class_install_property(
        oc, prop_port_name,
        g_param_spec_string("port-name", "Port name",
                            "Name of the virtio port (the SPICE port channel's name) used when no device is set",
                            VR_PLAYER_DEFAULT_PORT, rw));
    g_object_class_install_property(oc, prop_fallback,
                                    g_param_spec_boolean("fallback", "Fallback", fallback_blurb, TRUE, rw));
    g_object_class_install_property(
        oc, prop_mode,
        g_param_spec_string("mode", "Mode",
                            "Where the video is shown now: \"redirect\" (by the SPICE client) or \"local\"",
                            default_mode, ro));
    g_object_class_install_property(
        oc, prop_stats, g_param_spec_boxed("stats", "Statistics", stats_blurb, GST_TYPE_STRUCTURE, ro));
}

GstStructure *vr_gst_session_stats(const char *name, const char *mode, struct vr_player *player)
{
    struct vr_player_stats ps;
    memset(&ps, 0, sizeof(ps));
    const char *state = "stopped";
    if (player) {
        vr_player_get_stats(player, &ps);
        state = vr_guest_state_name(ps.state);
    }
    const struct vr_guest_stats *st = &ps.guest;
    return gst_structure_new(
        name, "mode", G_TYPE_STRING, mode, "session", G_TYPE_STRING, state, "frames-in", G_TYPE_UINT64,
        ps.frames_in, "frames-sent", G_TYPE_UINT64, st->frames_sent, "frames-dropped", G_TYPE_UINT64,
        st->frames_dropped, "frames-skipped", G_TYPE_UINT64, st->frames_skipped, "frames-resent",
        G_TYPE_UINT64, st->frames_resent, "gop-resends", G_TYPE_UINT64, st->gop_resends, "bytes-sent",
        G_TYPE_UINT64, st->es_bytes, "sessions", G_TYPE_UINT64, st->sessions, "keyframe-requests",
        G_TYPE_UINT64, st->keyframe_requests, "backlog", G_TYPE_UINT, st->backlog, "gop-cache-frames",
        G_TYPE_UINT, st->cache_frames, "rtt-us", G_TYPE_UINT, st->rtt_us, "client-latency-us", G_TYPE_UINT,
        st->last_feedback.latency_us, NULL);
}
