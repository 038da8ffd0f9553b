/*
 * What videoredirsink and videoredirdec share on the GStreamer side: the
 * caps they take, caps to a stream description, and the CLOCK mapping of a
 * stream timestamp to the guest's monotonic clock. The session itself is the
 * vr_player of videoredir/player.h.
 */
#ifndef VR_GST_COMMON_H
#define VR_GST_COMMON_H

#include <gst/gst.h>

#include <videoredir/capture.h>

G_BEGIN_DECLS

/* The five codecs, as parsers give them (whole access units). */
#define VR_GST_CODEC_CAPS                                                                                    \
    "video/x-h264, stream-format=(string){ avc, avc3, byte-stream }, alignment=(string)au; "                 \
    "video/x-h265, stream-format=(string){ hvc1, hev1, byte-stream }, alignment=(string)au; "                \
    "video/x-vp8; "                                                                                          \
    "video/x-vp9; "                                                                                          \
    "video/x-av1, stream-format=(string)obu-stream, alignment=(string)tu"

/*
 * Fills *st from fixed caps of VR_GST_CODEC_CAPS: codec, size, frame rate,
 * colour, and codec_data as extradata, copied into *extradata (g_free'd and
 * replaced; st->extradata points into it, so it must outlive *st's use).
 * Timestamps are in microseconds (time base 1/1000000). Returns FALSE, with
 * a warning logged on obj, for caps videoredir cannot carry.
 */
gboolean vr_gst_caps_to_start(GstObject *obj, const GstCaps *caps, struct vr_stream_start *st,
                              guint8 **extradata);

/*
 * When is a frame due, for a CLOCK message: maps pts (stream time of
 * segment seg) through element e's clock and base time to the guest's
 * monotonic clock (vr_time_us). *pts_us, *due_us and *rate_q16 (0 if
 * paused; then due is now) are what vr_player_set_clock takes, *now_us is
 * the time of the mapping. offset_ns is added to the due time (the
 * pipeline's latency and a sink's ts-offset: when the frame is really
 * presented). Returns FALSE when there is no clock yet, pts is outside the
 * segment, or the rate is not forward.
 */
gboolean vr_gst_clock_map(GstElement *e, const GstSegment *seg, GstClockTime pts, gboolean paused,
                          GstClockTimeDiff offset_ns, int64_t *pts_us, uint64_t *due_us, uint32_t *rate_q16,
                          uint64_t *now_us);

G_END_DECLS

#endif
