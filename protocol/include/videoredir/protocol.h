/*
 * videoredir wire protocol: encode and decode every message.
 *
 * Plain C11, depends on libc only, does no I/O and never allocates.
 * All multi-byte fields are little-endian on the wire; see PROTOCOL.md.
 * Every function here is reentrant and may be called from any thread.
 */
#ifndef VIDEOREDIR_PROTOCOL_H
#define VIDEOREDIR_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "VRDR" read as a little-endian u32. */
#define VR_PROTO_MAGIC 0x52445256u
/* Version of the common header; a peer with another one is refused. */
#define VR_PROTO_HEADER_VERSION 1u
/* Range of protocol versions this library speaks (negotiated by hello). */
#define VR_PROTO_VERSION_MIN 1u
#define VR_PROTO_VERSION_MAX 1u

#define VR_HEADER_SIZE 16u

/* Caps. A message breaking one of them is rejected, never truncated. */
#define VR_MAX_PAYLOAD (16u << 20)      /* bytes after the header */
#define VR_MAX_FRAME_DATA (VR_MAX_PAYLOAD - 64u)
#define VR_MAX_EXTRADATA (1u << 20)
#define VR_MAX_DIMENSION 16384u         /* width or height, pixels */
#define VR_MAX_COORD 65535              /* |x|, |y| of any rectangle */
#define VR_MAX_RECTS 256u               /* rectangles in one region */
#define VR_MAX_CODECS 16u               /* entries in one hello */
#define VR_MAX_STRING 127u              /* bytes of any string, no NUL */
#define VR_MAX_STREAMS 16u              /* concurrent streams per session (hello: max_streams) */
#define VR_MAX_STREAM_ID 0xfffffffeu    /* 0 = session scope, 0xffffffff reserved */
#define VR_MAX_RATE_Q16 (64u << 16)     /* clock.rate_q16: at most 64x speed */

/* Message types (u16 on the wire). */
enum vr_msg_type {
    VR_MSG_HELLO = 0x0001,            /* both ways, stream_id 0 */
    VR_MSG_PING = 0x0002,             /* both ways, stream_id 0 */
    VR_MSG_PONG = 0x0003,             /* both ways, stream_id 0 */
    VR_MSG_STREAM_START = 0x0010,     /* guest -> client */
    VR_MSG_FRAME = 0x0011,            /* guest -> client */
    VR_MSG_GEOMETRY = 0x0012,         /* guest -> client */
    VR_MSG_REGION = 0x0013,           /* guest -> client */
    VR_MSG_STREAM_STOP = 0x0014,      /* guest -> client */
    VR_MSG_FLUSH = 0x0015,            /* guest -> client */
    VR_MSG_CLOCK = 0x0016,            /* guest -> client */
    VR_MSG_ACCEPT = 0x0020,           /* client -> guest */
    VR_MSG_REJECT = 0x0021,           /* client -> guest */
    VR_MSG_FEEDBACK = 0x0022,         /* client -> guest */
    VR_MSG_KEYFRAME_REQUEST = 0x0023, /* client -> guest */
};

enum vr_codec {
    VR_CODEC_NONE = 0,
    VR_CODEC_H264 = 1,
    VR_CODEC_HEVC = 2,
    VR_CODEC_VP8 = 3,
    VR_CODEC_VP9 = 4,
    VR_CODEC_AV1 = 5,
    VR_CODEC_COUNT_ = 6, /* not a codec: one past the last */
};

enum vr_role {
    VR_ROLE_GUEST = 1,
    VR_ROLE_CLIENT = 2,
};

/* hello.flags */
#define VR_HELLO_REPLY (1u << 0) /* answer to the peer's hello; do not answer it */

/* hello.features: optional abilities of the sender. */
#define VR_FEATURE_REGION (1u << 0)   /* understands visible regions */
#define VR_FEATURE_FEEDBACK (1u << 1) /* sends/uses feedback for flow control */
#define VR_FEATURE_KEYFRAME_REQ (1u << 2)
#define VR_FEATURE_MARKER (1u << 3) /* client: finds placement markers in the picture (VR_STREAM_MARKED) */

/* vr_codec_cap.flags */
#define VR_CODEC_CAP_HW (1u << 0) /* decoded in hardware on the client */

/* frame.flags */
#define VR_FRAME_KEY (1u << 0)         /* random access point */
#define VR_FRAME_DISCONT (1u << 1)     /* timestamps jump (after seek/flush) */
#define VR_FRAME_DROPPABLE (1u << 2)   /* no other frame references it */

/* stream_start.flags */
#define VR_STREAM_ANNEXB (1u << 0) /* H.264/HEVC in start-code form (no avcC/hvcC) */
/* The guest's placeholder frames carry the placement marker (videoredir/marker.h)
 * with the code in bits 8-13 (1..63): the client takes the video's rectangle
 * and visible region from the picture (PROTOCOL.md, section 10). */
#define VR_STREAM_MARKED (1u << 1)
#define VR_STREAM_MARKER_SHIFT 8u
#define VR_STREAM_MARKER_MASK (0x3fu << VR_STREAM_MARKER_SHIFT)
#define VR_STREAM_MARKER_CODE(flags) (((uint32_t)(flags) & VR_STREAM_MARKER_MASK) >> VR_STREAM_MARKER_SHIFT)

/* Reasons carried by stop, reject and keyframe_request. */
enum vr_reason {
    VR_REASON_NONE = 0,
    VR_REASON_EOS = 1,           /* stop: end of stream */
    VR_REASON_USER = 2,          /* stop: player stopped or closed */
    VR_REASON_UNSUPPORTED = 3,   /* reject: codec/profile not decodable */
    VR_REASON_TOO_LARGE = 4,     /* reject: size over the client's limit */
    VR_REASON_TOO_MANY = 5,      /* reject: stream count over the limit */
    VR_REASON_DECODE_ERROR = 6,  /* keyframe_request / reject */
    VR_REASON_SEQ_GAP = 7,       /* keyframe_request: frames went missing */
    VR_REASON_RECONNECT = 8,     /* keyframe_request: decoder (re)started */
    VR_REASON_PROTOCOL = 9,      /* reject/stop: peer broke the protocol */
    VR_REASON_FALLBACK = 10,     /* stop: guest switched to local playback */
};

/* Colour description; values are the ITU-T H.273 code points (2 = unspecified). */
struct vr_color {
    uint8_t primaries;
    uint8_t transfer;
    uint8_t matrix;
    uint8_t full_range; /* 0 limited ("tv"), 1 full ("pc") */
};

struct vr_rect {
    int32_t x, y;   /* |x|,|y| <= VR_MAX_COORD */
    uint32_t w, h;  /* <= VR_MAX_DIMENSION; 0 is allowed only where said */
};

struct vr_codec_cap {
    uint16_t codec;      /* enum vr_codec */
    uint16_t flags;      /* VR_CODEC_CAP_* */
    uint32_t max_width;  /* 1..VR_MAX_DIMENSION */
    uint32_t max_height;
};

struct vr_hello {
    uint16_t version_min, version_max; /* protocol versions spoken */
    uint8_t role;                      /* enum vr_role */
    uint8_t flags;                     /* VR_HELLO_* */
    uint32_t features;                 /* VR_FEATURE_* */
    uint32_t max_streams;              /* streams the sender accepts at once */
    uint32_t n_codecs;                 /* <= VR_MAX_CODECS; 0 from a guest */
    struct vr_codec_cap codecs[VR_MAX_CODECS];
    char software[VR_MAX_STRING + 1];  /* e.g. "videoredir-client 0.1", NUL-terminated */
};

struct vr_ping {
    uint32_t id;
    uint64_t time_us;  /* sender's monotonic clock */
};

struct vr_pong {
    uint32_t id;           /* the ping's id */
    uint64_t ping_time_us; /* echoed from the ping */
    uint64_t time_us;      /* responder's monotonic clock when it answered */
};

struct vr_stream_start {
    uint16_t codec;       /* enum vr_codec */
    uint16_t flags;       /* VR_STREAM_* */
    uint32_t width, height;           /* coded size, 1..VR_MAX_DIMENSION */
    uint32_t timebase_num, timebase_den; /* unit of pts/dts/duration; both > 0 */
    uint32_t fps_num, fps_den;        /* nominal rate; 0/0 if unknown */
    struct vr_color color;
    uint32_t extradata_len;           /* <= VR_MAX_EXTRADATA */
    const uint8_t *extradata;         /* avcC/hvcC/av1C/..., borrowed */
};

struct vr_frame {
    uint32_t seq;        /* per stream, +1 per frame, from 0 after stream start */
    uint32_t flags;      /* VR_FRAME_* */
    int64_t pts, dts;    /* in the stream's time base; INT64_MIN = unknown */
    int64_t duration;    /* in the stream's time base; 0 = unknown */
    uint64_t send_time_us; /* guest monotonic clock when sent (for latency) */
    uint32_t data_len;   /* 1..VR_MAX_FRAME_DATA */
    const uint8_t *data; /* one access unit, borrowed */
};

struct vr_geometry {
    uint32_t monitor;        /* guest display/monitor index */
    struct vr_rect window;   /* window rectangle, guest desktop coordinates */
    struct vr_rect content;  /* where the video is drawn, desktop coordinates */
};

/* Visible part of the content rectangle, desktop coordinates. n_rects == 0:
 * hidden. Rectangles have w, h > 0. */
struct vr_region {
    uint32_t n_rects;
    struct vr_rect rects[VR_MAX_RECTS];
};

struct vr_stream_stop {
    uint32_t reason; /* enum vr_reason */
};

struct vr_flush {
    uint32_t flags; /* reserved, 0 */
};

/* Ties the stream's timestamps to the guest's monotonic clock, so the client
 * can present each frame when the guest's player (and its audio) expects it:
 * the frame with timestamp p is due at guest time
 *   time_us + (p - pts) * timebase * 1e6 / (rate_q16 / 65536).
 * Sent before the first frame, after FLUSH, on pause / resume / rate change
 * and about once a second. A stream that never sends one is shown as soon as
 * each frame is decoded. */
struct vr_clock {
    int64_t pts;       /* a timestamp in the stream's time base, not INT64_MIN */
    uint64_t time_us;  /* guest monotonic clock (vr_time_us) at which pts is due */
    uint32_t rate_q16; /* playback speed x 65536 (65536 = normal), 0 = paused */
    uint32_t flags;    /* reserved, 0 */
};

struct vr_accept {
    uint32_t flags;                    /* VR_CODEC_CAP_HW if decoded in hardware */
    char decoder[VR_MAX_STRING + 1];   /* e.g. "h264 (software)" */
};

struct vr_reject {
    uint32_t reason;                   /* enum vr_reason */
    char message[VR_MAX_STRING + 1];
};

struct vr_feedback {
    uint64_t bytes_received;  /* all message bytes received in this session */
    uint32_t last_seq;        /* highest frame seq handled for this stream */
    uint32_t decoded;         /* frames decoded, cumulative for the stream */
    uint32_t dropped;         /* frames dropped (late, error), cumulative */
    uint32_t lost;            /* frames never received (seq gaps), cumulative */
    uint32_t queue_depth;     /* frames received but not yet presented */
    uint32_t latency_us;      /* recent send -> present latency, 0 = unknown */
};

struct vr_keyframe_request {
    uint32_t reason; /* enum vr_reason */
};

/* One decoded message. Pointers inside (extradata, frame data) borrow from the
 * buffer given to vr_msg_decode and are valid only as long as it is. */
struct vr_msg {
    uint16_t type;      /* enum vr_msg_type */
    uint32_t stream_id; /* 0 for session-scope messages */
    union {
        struct vr_hello hello;
        struct vr_ping ping;
        struct vr_pong pong;
        struct vr_stream_start start;
        struct vr_frame frame;
        struct vr_geometry geometry;
        struct vr_region region;
        struct vr_stream_stop stop;
        struct vr_flush flush;
        struct vr_clock clock;
        struct vr_accept accept;
        struct vr_reject reject;
        struct vr_feedback feedback;
        struct vr_keyframe_request keyframe_request;
    } u;
};

struct vr_header {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t stream_id;
    uint32_t length; /* payload bytes after the header */
};

/*
 * Parses the 16-byte common header at buf.
 * Returns 0, -EAGAIN if len < VR_HEADER_SIZE, -EBADMSG on a wrong magic,
 * -EPROTONOSUPPORT on another header version, -EMSGSIZE if length >
 * VR_MAX_PAYLOAD. The type is not checked (unknown types are skippable).
 */
int vr_header_decode(const uint8_t *buf, size_t len, struct vr_header *hdr);

/*
 * Decodes one whole message (header + payload) of exactly len bytes.
 * Returns 0, or:
 *   -EAGAIN           len shorter than the header says;
 *   -EBADMSG / -EPROTONOSUPPORT / -EMSGSIZE  as vr_header_decode;
 *   -ENOMSG           unknown type: skip it (header.length tells how far);
 *   -EINVAL           a field is malformed or out of its range, or len is
 *                     longer than the header says;
 *   -E2BIG            a count or size breaks its cap.
 * Borrowed pointers in msg point into buf. msg is clobbered on error.
 */
int vr_msg_decode(const uint8_t *buf, size_t len, struct vr_msg *msg);

/* Bytes vr_msg_encode needs for msg, or a negative errno if msg is invalid. */
long vr_msg_encoded_size(const struct vr_msg *msg);

/*
 * Encodes msg into buf (cap bytes). Validates msg with the same rules as the
 * decoder, so what encodes also decodes. Returns bytes written, -ENOSPC if
 * cap is too small, -EINVAL / -E2BIG for an invalid message.
 */
long vr_msg_encode(const struct vr_msg *msg, uint8_t *buf, size_t cap);

/*
 * For a FRAME: encodes everything vr_msg_encode would write except the
 * frame's data bytes, which come last on the wire, so that a writer can send
 * the data from the caller's buffer (scatter-gather) without copying it.
 * Header plus data is byte for byte what vr_msg_encode writes. Returns the
 * head's size (VR_FRAME_HEAD_SIZE), -ENOSPC if cap is too small, -EINVAL
 * for a message that is not a valid FRAME.
 */
long vr_msg_encode_frame_head(const struct vr_msg *msg, uint8_t *buf, size_t cap);
#define VR_FRAME_HEAD_SIZE (VR_HEADER_SIZE + 44u)

/*
 * Fills msg (cleared first) with a HELLO of this side: every protocol version
 * this build speaks, role (enum vr_role), VR_HELLO_REPLY when reply is
 * nonzero, features (VR_FEATURE_*), max_streams and software (cut to
 * VR_MAX_STRING bytes). No codecs: a client adds its own.
 */
void vr_msg_hello(struct vr_msg *msg, uint8_t role, int reply, uint32_t features,
                  uint32_t max_streams, const char *software);

/* Static names for logs; "unknown" for values out of range. */
const char *vr_msg_type_name(uint16_t type);
const char *vr_codec_name(uint16_t codec);
const char *vr_reason_name(uint32_t reason);

/* Codec by short name ("h264", "hevc", "vp8", "vp9", "av1"); VR_CODEC_NONE if unknown. */
enum vr_codec vr_codec_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
