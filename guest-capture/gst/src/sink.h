/* videoredirsink: a video sink for compressed video that sends it to the
 * SPICE client (see sink.c). */
#ifndef VR_GST_SINK_H
#define VR_GST_SINK_H

#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_VIDEOREDIR_SINK (gst_videoredir_sink_get_type())
G_DECLARE_FINAL_TYPE(GstVideoredirSink, gst_videoredir_sink, GST, VIDEOREDIR_SINK, GstBaseSink)

G_END_DECLS

#endif
