/* The videoredir GStreamer plugin: videoredirsink (named in a pipeline) and
 * videoredirdec (auto-plugged in a decoder's place by rank). */
#include <gst/gst.h>

#include "dec.h"
#include "sink.h"

static gboolean plugin_init(GstPlugin *plugin)
{
    /* The sink has rank none: playbin takes it only when asked
     * (video-sink=videoredirsink). The decoder's rank puts it before every
     * other decoder of its codecs. */
    return gst_element_register(plugin, "videoredirsink", GST_RANK_NONE, GST_TYPE_VIDEOREDIR_SINK) &&
           gst_element_register(plugin, "videoredirdec", VR_GST_DEC_RANK, GST_TYPE_VIDEOREDIR_DEC);
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, videoredir,
                  "Sends compressed video, undecoded, to a SPICE client over a virtio port",
                  plugin_init, VR_VERSION_STRING, "unknown", "videoredir", "videoredir (built from source)")
