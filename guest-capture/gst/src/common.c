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
