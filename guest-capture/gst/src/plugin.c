/* The videoredir GStreamer plugin: one element, videoredirsink. */
#include <gst/gst.h>

#include "sink.h"

static gboolean plugin_init(GstPlugin *plugin)
{
    /* Rank none: playbin takes it only when asked (video-sink=videoredirsink). */
    return gst_element_register(plugin, "videoredirsink", GST_RANK_NONE, GST_TYPE_VIDEOREDIR_SINK);
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, videoredir,
                  "Sends compressed video, undecoded, to a SPICE client over a virtio port",
                  plugin_init, VR_VERSION_STRING, "unknown", "videoredir", "videoredir (built from source)")
