/* Static names of message types, codecs and reasons, for logs and CLIs. */
#include "videoredir/protocol.h"

#include <stddef.h>
#include <strings.h>

const char *vr_msg_type_name(uint16_t type)
{
    switch (type) {
    case VR_MSG_HELLO: return "hello";
    case VR_MSG_PING: return "ping";
    case VR_MSG_PONG: return "pong";
    case VR_MSG_STREAM_START: return "stream-start";
    case VR_MSG_FRAME: return "frame";
    case VR_MSG_GEOMETRY: return "geometry";
    case VR_MSG_REGION: return "region";
    case VR_MSG_STREAM_STOP: return "stream-stop";
    case VR_MSG_FLUSH: return "flush";
    case VR_MSG_CLOCK: return "clock";
    case VR_MSG_ACCEPT: return "accept";
    case VR_MSG_REJECT: return "reject";
    case VR_MSG_FEEDBACK: return "feedback";
    case VR_MSG_KEYFRAME_REQUEST: return "keyframe-request";
    default: return "unknown";
    }
}

/* Indexed by enum vr_codec; the short names double as vr_codec_from_name input. */
static const char *const codec_names[VR_CODEC_COUNT_] = {
    [VR_CODEC_NONE] = "none",
    [VR_CODEC_H264] = "h264",
    [VR_CODEC_HEVC] = "hevc",
    [VR_CODEC_VP8] = "vp8",
    [VR_CODEC_VP9] = "vp9",
    [VR_CODEC_AV1] = "av1",
};

const char *vr_codec_name(uint16_t codec)
{
    return codec < VR_CODEC_COUNT_ ? codec_names[codec] : "unknown";
}

enum vr_codec vr_codec_from_name(const char *name)
{
    if (!name)
        return VR_CODEC_NONE;
    for (int c = VR_CODEC_NONE + 1; c < VR_CODEC_COUNT_; c++)
        if (strcasecmp(name, codec_names[c]) == 0)
            return (enum vr_codec)c;
    /* The other common spelling, as GStreamer and many tools use it. */
    if (strcasecmp(name, "h265") == 0)
        return VR_CODEC_HEVC;
    return VR_CODEC_NONE;
}

static const char *const reason_names[] = {
    [VR_REASON_NONE] = "none",
    [VR_REASON_EOS] = "eos",
    [VR_REASON_USER] = "user",
    [VR_REASON_UNSUPPORTED] = "unsupported",
    [VR_REASON_TOO_LARGE] = "too-large",
    [VR_REASON_TOO_MANY] = "too-many",
    [VR_REASON_DECODE_ERROR] = "decode-error",
    [VR_REASON_SEQ_GAP] = "seq-gap",
    [VR_REASON_RECONNECT] = "reconnect",
    [VR_REASON_PROTOCOL] = "protocol",
    [VR_REASON_FALLBACK] = "fallback",
};

const char *vr_reason_name(uint32_t reason)
{
    if (reason < sizeof(reason_names) / sizeof(reason_names[0]))
        return reason_names[reason];
    return "unknown";
}
