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

/* How long after a CLOCK that was asked for (a start, a flush, a new segment,
 * a resume) the mapping is watched, and by how much the pipeline clock may
 * move against the guest's monotonic clock in that time before a frame sends
 * a CLOCK again. */
#define VR_GST_CLOCK_SETTLE_US 1000000
#define VR_GST_CLOCK_SKEW_US 2000

/* Element e's pipeline clock minus the guest's monotonic clock (vr_time_us),
 * in microseconds, into *skew_us. FALSE when e has no clock. */
gboolean vr_gst_clock_skew(GstElement *e, int64_t *skew_us);

/*
 * Whether a frame of element e sends a CLOCK at now_us (vr_time_us): when one
 * is asked for (need); once a second after the last one (last_us: drift);
 * and until settle_until_us (VR_GST_CLOCK_SETTLE_US after an asked-for one)
 * whenever the pipeline clock moved against the monotonic clock by more than
 * VR_GST_CLOCK_SKEW_US since the last one (skew_us, vr_gst_clock_skew then):
 * an audio sink's clock stands still until its device runs again after a
 * flush or a resume, so the mapping taken at the first frame is off by that
 * wait. Call from the streaming thread.
 */
gboolean vr_gst_clock_due(GstElement *e, gboolean need, uint64_t last_us, uint64_t settle_until_us,
                          int64_t skew_us, uint64_t now_us);

G_END_DECLS

#endif
