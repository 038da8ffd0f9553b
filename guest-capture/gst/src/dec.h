/* videoredirdec: a video decoder, auto-plugged by rank, that sends the
 * compressed video to the SPICE client and outputs placeholder frames (see
 * dec.c). */
#ifndef VR_GST_DEC_H
#define VR_GST_DEC_H

#include <gst/video/gstvideodecoder.h>

G_BEGIN_DECLS

#define GST_TYPE_VIDEOREDIR_DEC (gst_videoredir_dec_get_type())
G_DECLARE_FINAL_TYPE(GstVideoredirDec, gst_videoredir_dec, GST, VIDEOREDIR_DEC, GstVideoDecoder)

/* Its rank: above the software decoders (avdec_*, vp8dec, ... at PRIMARY)
 * and the hardware ones (VA-API, NVDEC, ... up to PRIMARY + a few), so
 * decodebin/playbin pick it first. GST_PLUGIN_FEATURE_RANK=videoredirdec:NONE
 * turns it off. */
#define VR_GST_DEC_RANK (GST_RANK_PRIMARY + 100)

G_END_DECLS

#endif
