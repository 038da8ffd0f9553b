/*
 * videoredirdec under GstHarness, with no client (the port does not exist):
 * with fallback off it outputs placeholders only, so caps, timestamps
 * (presentation order out of decode order), flush and EOS are checked on
 * them; with fallback on it decodes locally with a real decoder (VP8 made by
 * vp8enc here), never with itself.
 * Usage: test_gst_dec CASE  (caps | timestamps | flush | eos | local)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <videoredir/marker.h>

#include "../check.h"

#define MS GST_MSECOND

static GstHarness *make(gboolean fallback)
{
    GstElement *e = gst_element_factory_make("videoredirdec", NULL);
    if (!e)
        return NULL;
    g_object_set(e, "device", "/nonexistent/videoredir-test", "fallback", fallback, NULL);
    GstHarness *h = gst_harness_new_with_element(e, "sink", "src");
    gst_object_unref(e);
    return h;
}

static const char *h264_caps = "video/x-h264, stream-format=avc, alignment=au, width=320, height=240, "
                               "framerate=25/1, codec_data=(buffer)0164001effe1001867640028acd940a0"
                               "2ff9610000030001000003003c8f1831960101000568ebecb22c";

static GstBuffer *au(GstClockTime pts, GstClockTime dts, gboolean key)
{
    static const guint8 data[16] = { 0, 0, 0, 12, 0x65, 0x88, 0x80, 0x40 };
    GstBuffer *b = gst_buffer_new_memdup(data, sizeof(data));
    GST_BUFFER_PTS(b) = pts;
    GST_BUFFER_DTS(b) = dts;
    GST_BUFFER_DURATION(b) = 40 * MS;
    if (!key)
        GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
    return b;
}

/* Decode order of I P B B P B B with two frames of reordering delay. */
static const struct {
    guint pts_ms, dts_ms;
    gboolean key;
} gop[] = {
    { 80, 0, TRUE }, { 200, 40, FALSE }, { 120, 80, FALSE }, { 160, 120, FALSE },
    { 320, 160, FALSE }, { 240, 200, FALSE }, { 280, 240, FALSE },
};

static guint pull_all(GstHarness *h, GstClockTime *pts, guint max)
{
    guint n = 0;
    GstBuffer *b;
    while ((b = gst_harness_try_pull(h))) {
        if (n < max)
            pts[n] = GST_BUFFER_PTS(b);
        n++;
        gst_buffer_unref(b);
    }
    return n;
}

static guint64 stat_u64(GstHarness *h, const char *field)
{
    GstStructure *st = NULL;
    guint64 v = 0;
    g_object_get(h->element, "stats", &st, NULL);
    if (st) {
        gst_structure_get_uint64(st, field, &v);
        gst_structure_free(st);
    }
    return v;
}

/* 1. Caps: I420 at the video's size, the placeholder picture. */
static void test_caps(void)
{
    GstHarness *h = make(FALSE);
    gst_harness_set_src_caps_str(h, h264_caps);
    CHECK(gst_harness_push(h, au(0, 0, TRUE)) == GST_FLOW_OK, "push");
    gst_harness_push_event(h, gst_event_new_eos());
    GstBuffer *b = gst_harness_pull(h);
    CHECK(b != NULL, "no output");
    GstCaps *caps = gst_pad_get_current_caps(h->sinkpad);
    GstVideoInfo vi;
    CHECK(caps && gst_video_info_from_caps(&vi, caps), "output caps %" GST_PTR_FORMAT, caps);
    if (caps && b) {
        CHECK(GST_VIDEO_INFO_FORMAT(&vi) == GST_VIDEO_FORMAT_I420 && vi.width == 320 && vi.height == 240,
              "output is %s %dx%d", gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&vi)), vi.width, vi.height);
        CHECK(gst_buffer_get_size(b) == GST_VIDEO_INFO_SIZE(&vi), "buffer of %zu bytes", gst_buffer_get_size(b));
        /* The placement marker: sub-block (0,0) is level 0 or 2 (even
         * parity), its neighbour across level 1 or 3, limited range. */
        guint8 y = 0, y1 = 0;
        gst_buffer_extract(b, 0, &y, 1);
        gst_buffer_extract(b, 15, &y1, 1);
        int l0 = 16 + (int)vr_marker_level_value(0) * 219 / 255, l2 = 16 + (int)vr_marker_level_value(2) * 219 / 255;
        int l1 = 16 + (int)vr_marker_level_value(1) * 219 / 255, l3 = 16 + (int)vr_marker_level_value(3) * 219 / 255;
        CHECK(abs(y - l0) <= 1 || abs(y - l2) <= 1, "placeholder luma %#x at 0,0", y);
        CHECK(abs(y1 - l1) <= 1 || abs(y1 - l3) <= 1, "placeholder luma %#x at 15,0", y1);
        CHECK(GST_BUFFER_PTS(b) == 0, "pts %" GST_TIME_FORMAT, GST_TIME_ARGS(GST_BUFFER_PTS(b)));
    }
    gst_clear_caps(&caps);
    gst_clear_buffer(&b);
    /* Caps of a codec videoredir does not carry are refused. */
    GstCaps *mp2 = gst_caps_from_string("video/mpeg, mpegversion=2, width=320, height=240");
    CHECK(!gst_pad_query_accept_caps(h->srcpad, mp2), "accepts MPEG-2");
    gst_caps_unref(mp2);
    CHECK(stat_u64(h, "frames-placeholder") == 1, "placeholders %" G_GUINT64_FORMAT,
          stat_u64(h, "frames-placeholder"));
    gst_harness_teardown(h);
}

/* 2. Decode order in, presentation order out, every timestamp once. */
static void test_timestamps(void)
{
    GstHarness *h = make(FALSE);
    gst_harness_set_src_caps_str(h, h264_caps);
    for (guint i = 0; i < G_N_ELEMENTS(gop); i++)
        gst_harness_push(h, au(gop[i].pts_ms * MS, gop[i].dts_ms * MS, gop[i].key));
    /* Before EOS: only what is due (pts <= the last dts) came out. */
    GstClockTime pts[32];
    guint n = pull_all(h, pts, 32);
    CHECK(n == 5, "%u frames out before EOS, want 5 (pts <= 240 ms)", n);
    gst_harness_push_event(h, gst_event_new_eos());
    n += pull_all(h, pts + n, 32 - n);
    CHECK(n == G_N_ELEMENTS(gop), "%u frames out, want %zu", n, G_N_ELEMENTS(gop));
    for (guint i = 0; i < n && i < 32; i++) {
        CHECK(pts[i] == (80 + 40 * i) * MS, "frame %u pts %" GST_TIME_FORMAT ", want %u ms", i,
              GST_TIME_ARGS(pts[i]), 80 + 40 * i);
    }
    CHECK(stat_u64(h, "frames-in") == G_N_ELEMENTS(gop), "frames-in");
    gst_harness_teardown(h);
}

/* 3. A flush drops what waits; the stream goes on after it. */
static void test_flush(void)
{
    GstHarness *h = make(FALSE);
    gst_harness_set_src_caps_str(h, h264_caps);
    for (guint i = 0; i < 4; i++)
        gst_harness_push(h, au(gop[i].pts_ms * MS, gop[i].dts_ms * MS, gop[i].key));
    GstClockTime pts[32];
    guint before = pull_all(h, pts, 32);
    gst_harness_push_event(h, gst_event_new_flush_start());
    gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
    GstSegment seg;
    gst_segment_init(&seg, GST_FORMAT_TIME);
    gst_harness_push_event(h, gst_event_new_segment(&seg));
    for (guint i = 0; i < G_N_ELEMENTS(gop); i++)
        CHECK(gst_harness_push(h, au((1000 + gop[i].pts_ms) * MS, (1000 + gop[i].dts_ms) * MS, gop[i].key)) ==
                  GST_FLOW_OK,
              "push after flush");
    gst_harness_push_event(h, gst_event_new_eos());
    guint n = pull_all(h, pts, 32);
    CHECK(n == G_N_ELEMENTS(gop), "%u frames after the flush, want %zu (%u before)", n, G_N_ELEMENTS(gop), before);
    for (guint i = 0; i < n && i < 32; i++)
        CHECK(pts[i] >= 1000 * MS, "a frame from before the flush came out (%" GST_TIME_FORMAT ")",
              GST_TIME_ARGS(pts[i]));
    gst_harness_teardown(h);
}

/* 4. EOS: what waits comes out before it, then EOS goes downstream. */
static void test_eos(void)
{
    GstHarness *h = make(FALSE);
    gst_harness_set_src_caps_str(h, h264_caps);
    for (guint i = 0; i < 3; i++)
        gst_harness_push(h, au(gop[i].pts_ms * MS, gop[i].dts_ms * MS, gop[i].key));
    gst_harness_push_event(h, gst_event_new_eos());
    GstClockTime pts[8];
    guint n = pull_all(h, pts, 8);
    CHECK(n == 3, "%u frames before EOS, want 3", n);
    gboolean eos = FALSE;
    GstEvent *ev;
    while ((ev = gst_harness_try_pull_event(h))) {
        eos |= GST_EVENT_TYPE(ev) == GST_EVENT_EOS;
        gst_event_unref(ev);
    }
    CHECK(eos, "no EOS downstream");
    gst_harness_teardown(h);
}

/* 5. No client: decoded locally by a real decoder, not placeholders. */
static void test_local(void)
{
    GError *err = NULL;
    GstElement *enc = gst_parse_launch("videotestsrc num-buffers=30 pattern=smpte ! "
                                       "video/x-raw,format=I420,width=160,height=120,framerate=25/1 ! "
                                       "vp8enc keyframe-max-dist=10 deadline=1 ! appsink name=out sync=false",
                                       &err);
    if (!enc) {
        printf("SKIP: no vp8enc (%s)\n", err ? err->message : "?");
        g_clear_error(&err);
        return;
    }
    GstElement *out = gst_bin_get_by_name(GST_BIN(enc), "out");
    gst_element_set_state(enc, GST_STATE_PLAYING);
    GPtrArray *aus = g_ptr_array_new_with_free_func((GDestroyNotify)gst_buffer_unref);
    GstSample *s;
    GstCaps *caps = NULL;
    for (;;) {
        s = NULL;
        g_signal_emit_by_name(out, "pull-sample", &s);
        if (!s)
            break;
        if (!caps)
            caps = gst_caps_ref(gst_sample_get_caps(s));
        g_ptr_array_add(aus, gst_buffer_ref(gst_sample_get_buffer(s)));
        gst_sample_unref(s);
    }
    gst_element_set_state(enc, GST_STATE_NULL);
    gst_object_unref(out);
    gst_object_unref(enc);
    CHECK(aus->len == 30 && caps, "encoded %u frames", aus->len);

    GstHarness *h = make(TRUE);
    gst_harness_set_src_caps(h, caps);
    for (guint i = 0; i < aus->len; i++)
        gst_harness_push(h, gst_buffer_ref(g_ptr_array_index(aus, i)));
    gst_harness_push_event(h, gst_event_new_eos());
    guint n = 0, flat = 0;
    GstBuffer *b;
    while ((b = gst_harness_try_pull(h))) {
        guint8 y[2] = { 0, 0 };
        /* SMPTE bars: the first and the last pixel of the top row differ. */
        gst_buffer_extract(b, 0, &y[0], 1);
        gst_buffer_extract(b, 159, &y[1], 1);
        if (y[0] == y[1])
            flat++;
        n++;
        gst_buffer_unref(b);
    }
    CHECK(n == 30, "%u frames decoded, want 30", n);
    CHECK(flat == 0, "%u flat (placeholder) frames", flat);
    CHECK(stat_u64(h, "frames-local") == 30, "frames-local %" G_GUINT64_FORMAT, stat_u64(h, "frames-local"));
    GstStructure *st = NULL;
    g_object_get(h->element, "stats", &st, NULL);
    const gchar *dec = st ? gst_structure_get_string(st, "local-decoder") : NULL;
    CHECK(dec && *dec && !g_str_has_prefix(dec, "videoredir"), "local decoder \"%s\"", dec ? dec : "(none)");
    if (st)
        gst_structure_free(st);
    gst_harness_teardown(h);
    gst_caps_unref(caps);
    g_ptr_array_unref(aus);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_gst_dec CASE\n");
        return 2;
    }
    g_unsetenv("VIDEOREDIR_DEVICE");
    gst_init(NULL, NULL);
    GError *err = NULL;
    GstPlugin *pl = gst_plugin_load_file(VR_GST_PLUGIN, &err);
    if (!pl) {
        fprintf(stderr, "cannot load %s: %s\n", VR_GST_PLUGIN, err ? err->message : "?");
        return 1;
    }
    gst_object_unref(pl);
    const char *c = argv[1];
    if (!strcmp(c, "caps"))
        test_caps();
    else if (!strcmp(c, "timestamps"))
        test_timestamps();
    else if (!strcmp(c, "flush"))
        test_flush();
    else if (!strcmp(c, "eos"))
        test_eos();
    else if (!strcmp(c, "local"))
        test_local();
    else {
        fprintf(stderr, "unknown case %s\n", c);
        return 2;
    }
    int r = CHECK_DONE();
    gst_deinit();
    return r;
}
