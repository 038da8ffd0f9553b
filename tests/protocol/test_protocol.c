/*
 * Unit tests of the wire protocol: round trips of every message type
 * (including the caps exactly), and every malformed form rejected with its
 * specific error, on the decoder and on the encoder.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg_util.h"
#include "videoredir/protocol.h"

static int failures, checks;

#define CHECK(cond)                                                                \
    do {                                                                           \
        checks++;                                                                  \
        if (!(cond)) {                                                             \
            failures++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                             \
    do {                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                        \
        checks++;                                                                  \
        if (a_ != b_) {                                                            \
            failures++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n",       \
                    __FILE__, __LINE__, #a, #b, a_, b_);                           \
        }                                                                          \
    } while (0)

#define P VR_HEADER_SIZE /* payload offset */

static uint8_t buf[1 << 16];
static struct vr_msg msg, out;

static void put_u8(uint8_t *b, size_t off, uint8_t v) { b[off] = v; }

static void put_u16(uint8_t *b, size_t off, uint16_t v)
{
    b[off] = (uint8_t)v;
    b[off + 1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *b, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

/* Encodes sample i into buf and returns its size. */
static size_t encode_sample(int i, struct vr_msg *m)
{
    vr_sample_msg(i, m);
    long n = vr_msg_encode(m, buf, sizeof(buf));
    CHECK(n >= (long)VR_HEADER_SIZE);
    return n < 0 ? 0 : (size_t)n;
}

/* Round trip: encode, check size agreement, decode, compare. */
static void roundtrip(const struct vr_msg *m, uint8_t *b, size_t cap)
{
    long size = vr_msg_encoded_size(m);
    long n = vr_msg_encode(m, b, cap);
    CHECK(n > 0);
    CHECK_EQ(n, size);
    if (n <= 0)
        return;
    struct vr_header hdr;
    CHECK_EQ(vr_header_decode(b, (size_t)n, &hdr), 0);
    CHECK_EQ(hdr.magic, VR_PROTO_MAGIC);
    CHECK_EQ(hdr.version, VR_PROTO_HEADER_VERSION);
    CHECK_EQ(hdr.type, m->type);
    CHECK_EQ(hdr.stream_id, m->stream_id);
    CHECK_EQ(hdr.length, (size_t)n - VR_HEADER_SIZE);
    CHECK_EQ(vr_msg_decode(b, (size_t)n, &out), 0);
    CHECK(vr_msg_equal(m, &out));
    /* Too small by one byte, and no buffer at all. */
    CHECK_EQ(vr_msg_encode(m, b, (size_t)n - 1), -ENOSPC);
    CHECK_EQ(vr_msg_encode(m, NULL, 0), -ENOSPC);
}

static void test_roundtrip_samples(void)
{
    int seen[0x30] = { 0 };
    for (int i = 0; i < VR_SAMPLE_COUNT; i++) {
        vr_sample_msg(i, &msg);
        seen[msg.type] = 1;
        roundtrip(&msg, buf, sizeof(buf));
    }
    const uint16_t types[] = { VR_MSG_HELLO, VR_MSG_PING, VR_MSG_PONG, VR_MSG_STREAM_START,
                               VR_MSG_FRAME, VR_MSG_GEOMETRY, VR_MSG_REGION,
                               VR_MSG_STREAM_STOP, VR_MSG_FLUSH, VR_MSG_ACCEPT,
                               VR_MSG_REJECT, VR_MSG_FEEDBACK, VR_MSG_KEYFRAME_REQUEST,
                               VR_MSG_CLOCK };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        CHECK(seen[types[i]]);

    /* Borrowed pointers point into the decoded buffer. */
    size_t n = encode_sample(4, &msg);
    CHECK_EQ(vr_msg_decode(buf, n, &out), 0);
    CHECK(out.u.start.extradata == buf + P + 36);
    n = encode_sample(6, &msg);
    CHECK_EQ(vr_msg_decode(buf, n, &out), 0);
    CHECK(out.u.frame.data == buf + P + 44);
    /* No extradata decodes as a NULL pointer. */
    n = encode_sample(5, &msg);
    CHECK_EQ(vr_msg_decode(buf, n, &out), 0);
    CHECK(out.u.start.extradata == NULL && out.u.start.extradata_len == 0);
}

static void fill_string(char *s, size_t n, char c)
{
    memset(s, c, n);
    s[n] = '\0';
}

static void test_roundtrip_edges(void)
{
    /* 16 codecs and a 127-byte software string. */
    memset(&msg, 0, sizeof(msg));
    msg.type = VR_MSG_HELLO;
    msg.u.hello = (struct vr_hello){ .version_min = 1, .version_max = 65535,
                                     .role = VR_ROLE_CLIENT, .flags = 0xff,
                                     .features = 0xffffffffu, .max_streams = 0xffffffffu,
                                     .n_codecs = VR_MAX_CODECS };
    for (uint32_t i = 0; i < VR_MAX_CODECS; i++)
        msg.u.hello.codecs[i] = (struct vr_codec_cap){ (uint16_t)(1 + i % 5), (uint16_t)i,
                                                       VR_MAX_DIMENSION, 1 };
    fill_string(msg.u.hello.software, VR_MAX_STRING, 'x');
    roundtrip(&msg, buf, sizeof(buf));
    CHECK_EQ(vr_msg_encoded_size(&msg), 16 + 20 + 16 * 12 + 2 + 127);
    CHECK_EQ(strlen(out.u.hello.software), VR_MAX_STRING);

    /* Empty strings. */
    msg.u.hello.software[0] = '\0';
    roundtrip(&msg, buf, sizeof(buf));

    /* 256 rectangles at the coordinate limits. */
    memset(&msg, 0, sizeof(msg));
    msg.type = VR_MSG_REGION;
    msg.stream_id = VR_MAX_STREAM_ID;
    msg.u.region.n_rects = VR_MAX_RECTS;
    for (uint32_t i = 0; i < VR_MAX_RECTS; i++) {
        int32_t x = (i & 1) ? -VR_MAX_COORD : VR_MAX_COORD - (int32_t)VR_MAX_DIMENSION;
        msg.u.region.rects[i] = (struct vr_rect){ x, (int32_t)i - 128, VR_MAX_DIMENSION, 1 + i };
    }
    roundtrip(&msg, buf, sizeof(buf));
    CHECK_EQ(vr_msg_encoded_size(&msg), 16 + 4 + 256 * 16);

    /* 127-byte strings in accept and reject. */
    memset(&msg, 0, sizeof(msg));
    msg.type = VR_MSG_ACCEPT;
    msg.stream_id = 3;
    msg.u.accept.flags = VR_CODEC_CAP_HW;
    fill_string(msg.u.accept.decoder, VR_MAX_STRING, 'd');
    roundtrip(&msg, buf, sizeof(buf));
    memset(&msg, 0, sizeof(msg));
    msg.type = VR_MSG_REJECT;
    msg.stream_id = 3;
    msg.u.reject.reason = 0xffffffffu; /* unknown reasons pass */
    fill_string(msg.u.reject.message, VR_MAX_STRING, 'r');
    roundtrip(&msg, buf, sizeof(buf));

    /* Extremes of the 64-bit fields. */
    vr_sample_msg(6, &msg);
    msg.u.frame.pts = INT64_MAX;
    msg.u.frame.dts = INT64_MIN;
    msg.u.frame.duration = INT64_MAX;
    msg.u.frame.send_time_us = UINT64_MAX;
    msg.u.frame.seq = UINT32_MAX;
    msg.u.frame.flags = UINT32_MAX;
    roundtrip(&msg, buf, sizeof(buf));

    /* Largest extradata and largest frame. */
    size_t cap = VR_HEADER_SIZE + 44 + VR_MAX_FRAME_DATA;
    uint8_t *big = malloc(cap), *payload = malloc(VR_MAX_FRAME_DATA);
    CHECK(big && payload);
    if (big && payload) {
        for (size_t i = 0; i < VR_MAX_FRAME_DATA; i++)
            payload[i] = (uint8_t)(i * 31 + 7);
        vr_sample_msg(4, &msg);
        msg.u.start.extradata_len = VR_MAX_EXTRADATA;
        msg.u.start.extradata = payload;
        roundtrip(&msg, big, cap);
        vr_sample_msg(6, &msg);
        msg.u.frame.data_len = VR_MAX_FRAME_DATA;
        msg.u.frame.data = payload;
        roundtrip(&msg, big, cap);
        CHECK_EQ(vr_msg_encoded_size(&msg), (long)cap);
        CHECK(cap - VR_HEADER_SIZE <= VR_MAX_PAYLOAD);
    }
    free(big);
    free(payload);
}

/* The worked example of PROTOCOL.md, byte for byte. */
static void test_worked_example(void)
{
    static const uint8_t ping[] = {
        0x56, 0x52, 0x44, 0x52, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x10, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xcb, 0x04, 0xfb, 0x71, 0x1f, 0x01, 0x00, 0x00,
    };
    vr_sample_msg(2, &msg);
    CHECK_EQ(vr_msg_encode(&msg, buf, sizeof(buf)), sizeof(ping));
    CHECK(memcmp(buf, ping, sizeof(ping)) == 0);
    CHECK_EQ(vr_msg_decode(ping, sizeof(ping), &out), 0);
    CHECK_EQ(out.type, VR_MSG_PING);
    CHECK_EQ(out.u.ping.id, 7);
    CHECK(out.u.ping.time_us == 1234567890123ull);
}

static void test_header(void)
{
    struct vr_header hdr;
    size_t n = encode_sample(2, &msg);

    for (size_t l = 0; l < VR_HEADER_SIZE; l++) {
        CHECK_EQ(vr_header_decode(buf, l, &hdr), -EAGAIN);
        CHECK_EQ(vr_msg_decode(buf, l, &out), -EAGAIN);
    }
    CHECK_EQ(vr_header_decode(buf, VR_HEADER_SIZE, &hdr), 0);

    buf[0] = 'X';
    CHECK_EQ(vr_header_decode(buf, n, &hdr), -EBADMSG);
    CHECK_EQ(vr_msg_decode(buf, n, &out), -EBADMSG);
    buf[0] = 'V';

    put_u16(buf, 4, 2);
    CHECK_EQ(vr_header_decode(buf, n, &hdr), -EPROTONOSUPPORT);
    CHECK_EQ(vr_msg_decode(buf, n, &out), -EPROTONOSUPPORT);
    put_u16(buf, 4, 0);
    CHECK_EQ(vr_msg_decode(buf, n, &out), -EPROTONOSUPPORT);
    put_u16(buf, 4, 1);

    put_u32(buf, 12, VR_MAX_PAYLOAD + 1);
    CHECK_EQ(vr_header_decode(buf, n, &hdr), -EMSGSIZE);
    CHECK_EQ(vr_msg_decode(buf, n, &out), -EMSGSIZE);
    put_u32(buf, 12, 0xffffffffu);
    CHECK_EQ(vr_header_decode(buf, n, &hdr), -EMSGSIZE);
    /* Exactly the cap is a valid header (the message is just not here yet). */
    put_u32(buf, 12, VR_MAX_PAYLOAD);
    CHECK_EQ(vr_header_decode(buf, n, &hdr), 0);
    CHECK_EQ(hdr.length, VR_MAX_PAYLOAD);
    CHECK_EQ(vr_msg_decode(buf, n, &out), -EAGAIN);
    put_u32(buf, 12, 16);

    /* Unknown types pass the header and are -ENOMSG as messages. */
    const uint16_t unknown[] = { 0, 0x0004, 0x000f, 0x0017, 0x001f, 0x0024, 0x1234, 0xffff };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        put_u16(buf, 6, unknown[i]);
        CHECK_EQ(vr_header_decode(buf, n, &hdr), 0);
        CHECK_EQ(hdr.type, unknown[i]);
        CHECK_EQ(vr_msg_decode(buf, n, &out), -ENOMSG);
    }
    /* Unknown types are not checked for stream id or payload either. */
    put_u32(buf, 8, 0xffffffffu);
    CHECK_EQ(vr_msg_decode(buf, n, &out), -ENOMSG);
    put_u32(buf, 8, 0);
    put_u16(buf, 6, VR_MSG_PING);
    CHECK_EQ(vr_msg_decode(buf, n, &out), 0);

    /* Bad arguments. */
    CHECK_EQ(vr_header_decode(NULL, 16, &hdr), -EINVAL);
    CHECK_EQ(vr_msg_decode(NULL, 16, &out), -EINVAL);
    CHECK_EQ(vr_msg_decode(buf, n, NULL), -EINVAL);
    CHECK_EQ(vr_msg_encoded_size(NULL), -EINVAL);
}

/* Every sample: every short buffer is -EAGAIN, every truncated payload (with
 * a header that agrees) is -EINVAL, a longer buffer is -EINVAL, and appended
 * payload bytes are ignored. */
static void test_truncation_and_trailing(void)
{
    static uint8_t copy[1 << 16];
    for (int i = 0; i < VR_SAMPLE_COUNT; i++) {
        size_t n = encode_sample(i, &msg);
        for (size_t l = 0; l < n; l++)
            CHECK_EQ(vr_msg_decode(buf, l, &out), -EAGAIN);
        for (size_t l = 0; l < n - VR_HEADER_SIZE; l++) {
            memcpy(copy, buf, VR_HEADER_SIZE + l);
            put_u32(copy, 12, (uint32_t)l);
            CHECK_EQ(vr_msg_decode(copy, VR_HEADER_SIZE + l, &out), -EINVAL);
        }
        memcpy(copy, buf, n);
        copy[n] = 0;
        CHECK_EQ(vr_msg_decode(copy, n + 1, &out), -EINVAL);

        memset(copy + n, 0xa5, 9);
        put_u32(copy, 12, (uint32_t)(n - VR_HEADER_SIZE + 9));
        CHECK_EQ(vr_msg_decode(copy, n + 9, &out), 0);
        CHECK(vr_msg_equal(&msg, &out));
    }
}

/* Encodes sample i, applies a patch at a payload offset, expects err. */
enum width { U8 = 1, U16 = 2, U32 = 4 };

static int decode_patched(int sample, size_t off, enum width w, uint32_t v)
{
    size_t n = encode_sample(sample, &msg);
    if (w == U8)
        put_u8(buf, P + off, (uint8_t)v);
    else if (w == U16)
        put_u16(buf, P + off, (uint16_t)v);
    else
        put_u32(buf, P + off, v);
    return vr_msg_decode(buf, n, &out);
}

#define S_HELLO_GUEST 0
#define S_HELLO_CLIENT 1
#define S_PING 2
#define S_PONG 3
#define S_START 4
#define S_START_ANNEXB 5
#define S_FRAME 6
#define S_GEOMETRY 8
#define S_REGION 9
#define S_FLUSH 12
#define S_ACCEPT 13
#define S_CLOCK 17
#define S_REJECT 14

static void test_decode_malformed(void)
{
    /* Stream scope. */
    size_t n = encode_sample(S_PING, &msg);
    put_u32(buf, 8, 1);
    CHECK_EQ(vr_msg_decode(buf, n, &out), -EINVAL);
    n = encode_sample(S_FRAME, &msg);
    put_u32(buf, 8, 0);
    CHECK_EQ(vr_msg_decode(buf, n, &out), -EINVAL);
    put_u32(buf, 8, 0xffffffffu);
    CHECK_EQ(vr_msg_decode(buf, n, &out), -EINVAL);
    put_u32(buf, 8, VR_MAX_STREAM_ID);
    CHECK_EQ(vr_msg_decode(buf, n, &out), 0);

    /* Hello: versions, role, reserved, counts, codecs, string. */
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 0, U16, 0), -EINVAL);       /* version_min 0 */
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 0, U16, 2), -EINVAL);       /* min > max */
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 4, U8, 0), -EINVAL);        /* role */
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 4, U8, 3), -EINVAL);
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 4, U8, VR_ROLE_GUEST), -EINVAL); /* guest w/ codecs */
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 6, U16, 1), -EINVAL);       /* reserved */
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 6, U16, 0x8000), -EINVAL);
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 16, U32, VR_MAX_CODECS + 1), -E2BIG);
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 16, U32, 0xffffffffu), -E2BIG);
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 20, U16, VR_CODEC_NONE), -EINVAL);
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 20, U16, VR_CODEC_COUNT_), -EINVAL);
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 20 + 12, U16, 0x1234), -EINVAL);
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 20 + 4, U32, 0), -EINVAL);  /* max_width 0 */
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 20 + 8, U32, 0), -EINVAL);  /* max_height 0 */
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 20 + 4, U32, VR_MAX_DIMENSION + 1), -E2BIG);
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 20 + 8, U32, VR_MAX_DIMENSION + 1), -E2BIG);
    /* software string: length field at 20 + 3 * 12 = 56, bytes at 58. */
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 58 + 3, U8, 0), -EINVAL);   /* embedded NUL */
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 56, U16, VR_MAX_STRING + 1), -E2BIG);
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 56, U16, 0xffff), -E2BIG);
    CHECK_EQ(decode_patched(S_HELLO_CLIENT, 56, U16, 100), -EINVAL);    /* past the end */

    /* Ping and pong reserved words. */
    CHECK_EQ(decode_patched(S_PING, 4, U32, 1), -EINVAL);
    CHECK_EQ(decode_patched(S_PONG, 4, U32, 0x80000000u), -EINVAL);

    /* Stream start. */
    CHECK_EQ(decode_patched(S_START, 0, U16, VR_CODEC_NONE), -EINVAL);
    CHECK_EQ(decode_patched(S_START, 0, U16, VR_CODEC_COUNT_), -EINVAL);
    CHECK_EQ(decode_patched(S_START, 0, U16, 0xffff), -EINVAL);
    CHECK_EQ(decode_patched(S_START, 2, U16, VR_STREAM_ANNEXB), 0);      /* h264 annexb ok */
    /* placement from the picture: the marker code (bits 8-13) must be set */
    CHECK_EQ(decode_patched(S_START, 2, U16, VR_STREAM_MARKED | (5u << VR_STREAM_MARKER_SHIFT)), 0);
    CHECK_EQ(decode_patched(S_START, 2, U16, VR_STREAM_MARKED | VR_STREAM_MARKER_MASK), 0);
    CHECK_EQ(decode_patched(S_START, 2, U16, VR_STREAM_MARKED), -EINVAL);
    CHECK_EQ(decode_patched(S_START, 2, U16, 7u << VR_STREAM_MARKER_SHIFT), 0); /* unmarked: ignored */
    CHECK_EQ(decode_patched(S_START, 4, U32, 0), -EINVAL);              /* width 0 */
    CHECK_EQ(decode_patched(S_START, 8, U32, 0), -EINVAL);              /* height 0 */
    CHECK_EQ(decode_patched(S_START, 4, U32, VR_MAX_DIMENSION + 1), -E2BIG);
    CHECK_EQ(decode_patched(S_START, 8, U32, 0xffffffffu), -E2BIG);
    CHECK_EQ(decode_patched(S_START, 4, U32, VR_MAX_DIMENSION), 0);
    CHECK_EQ(decode_patched(S_START, 12, U32, 0), -EINVAL);             /* timebase num 0 */
    CHECK_EQ(decode_patched(S_START, 16, U32, 0), -EINVAL);             /* timebase den 0 */
    CHECK_EQ(decode_patched(S_START, 20, U32, 0), -EINVAL);             /* fps 0/1001 */
    CHECK_EQ(decode_patched(S_START, 24, U32, 0), -EINVAL);             /* fps 30000/0 */
    CHECK_EQ(decode_patched(S_START, 31, U8, 2), -EINVAL);              /* full_range */
    CHECK_EQ(decode_patched(S_START, 32, U32, VR_MAX_EXTRADATA + 1), -E2BIG);
    CHECK_EQ(decode_patched(S_START, 32, U32, 0xffffffffu), -E2BIG);
    CHECK_EQ(decode_patched(S_START, 32, U32, 29), -EINVAL);            /* past the end */
    CHECK_EQ(decode_patched(S_START_ANNEXB, 20, U32, 0), 0);            /* fps 0/0 ok */
    n = encode_sample(S_START_ANNEXB, &msg);
    put_u16(buf, P + 0, VR_CODEC_VP9);
    CHECK_EQ(vr_msg_decode(buf, n, &out), -EINVAL);                     /* annexb on vp9 */

    /* Frame. */
    CHECK_EQ(decode_patched(S_FRAME, 40, U32, 0), -EINVAL);             /* data_len 0 */
    CHECK_EQ(decode_patched(S_FRAME, 40, U32, VR_MAX_FRAME_DATA + 1), -E2BIG);
    CHECK_EQ(decode_patched(S_FRAME, 40, U32, 0xffffffffu), -E2BIG);
    CHECK_EQ(decode_patched(S_FRAME, 40, U32, VR_MAX_FRAME_DATA), -EINVAL); /* past the end */
    CHECK_EQ(decode_patched(S_FRAME, 24 + 7, U8, 0x80), -EINVAL);        /* negative duration */
    CHECK_EQ(decode_patched(S_FRAME, 8 + 7, U8, 0x80), 0);               /* negative pts ok */

    /* Geometry rectangles: window at 4, content at 20 (x, y, w, h). */
    CHECK_EQ(decode_patched(S_GEOMETRY, 4 + 8, U32, 0), -EINVAL);       /* w 0 */
    CHECK_EQ(decode_patched(S_GEOMETRY, 20 + 12, U32, 0), -EINVAL);     /* h 0 */
    CHECK_EQ(decode_patched(S_GEOMETRY, 20 + 8, U32, VR_MAX_DIMENSION + 1), -E2BIG);
    CHECK_EQ(decode_patched(S_GEOMETRY, 20 + 8, U32, 0x80000000u), -E2BIG); /* "negative" w */
    CHECK_EQ(decode_patched(S_GEOMETRY, 4, U32, VR_MAX_COORD + 1), -E2BIG);
    CHECK_EQ(decode_patched(S_GEOMETRY, 4, U32, (uint32_t)-(VR_MAX_COORD + 1)), -E2BIG);
    CHECK_EQ(decode_patched(S_GEOMETRY, 20 + 4, U32, 0x80000000u), -E2BIG); /* INT32_MIN */
    CHECK_EQ(decode_patched(S_GEOMETRY, 4, U32, (uint32_t)-VR_MAX_COORD), 0);
    CHECK_EQ(decode_patched(S_GEOMETRY, 4, U32, VR_MAX_COORD), -EINVAL); /* x + w overflows */
    CHECK_EQ(decode_patched(S_GEOMETRY, 4, U32, VR_MAX_COORD - 1299), -EINVAL); /* by one */
    CHECK_EQ(decode_patched(S_GEOMETRY, 4, U32, VR_MAX_COORD - 1300), 0);
    CHECK_EQ(decode_patched(S_GEOMETRY, 20 + 4, U32, VR_MAX_COORD - 719), -EINVAL); /* y + h */
    CHECK_EQ(decode_patched(S_GEOMETRY, 20 + 4, U32, VR_MAX_COORD - 720), 0);

    /* Region: count at 0, rects from 4. */
    CHECK_EQ(decode_patched(S_REGION, 0, U32, VR_MAX_RECTS + 1), -E2BIG);
    CHECK_EQ(decode_patched(S_REGION, 0, U32, 0xffffffffu), -E2BIG);
    CHECK_EQ(decode_patched(S_REGION, 0, U32, 4), -EINVAL);             /* past the end */
    CHECK_EQ(decode_patched(S_REGION, 4 + 16 + 8, U32, 0), -EINVAL);    /* rect 1 w 0 */
    CHECK_EQ(decode_patched(S_REGION, 4 + 32 + 12, U32, 0), -EINVAL);   /* rect 2 h 0 */
    CHECK_EQ(decode_patched(S_REGION, 4 + 32, U32, (uint32_t)-VR_MAX_COORD - 1), -E2BIG);
    CHECK_EQ(decode_patched(S_REGION, 4 + 32, U32, 50000), -EINVAL);    /* x + w overflows */
    CHECK_EQ(decode_patched(S_REGION, 4 + 8, U32, 0xffffffffu), -E2BIG); /* w "negative" */
    CHECK_EQ(decode_patched(S_REGION, 4 + 4, U32, (uint32_t)-5), 0);    /* negative y ok */

    /* Flush flags are reserved. */
    CHECK_EQ(decode_patched(S_FLUSH, 0, U32, 1), -EINVAL);
    CHECK_EQ(decode_patched(S_CLOCK, 16, U32, VR_MAX_RATE_Q16 + 1), -EINVAL);
    CHECK_EQ(decode_patched(S_CLOCK, 20, U32, 1), -EINVAL);

    /* Accept / reject strings: length at 4, bytes at 6. */
    CHECK_EQ(decode_patched(S_ACCEPT, 6, U8, 0), -EINVAL);
    CHECK_EQ(decode_patched(S_ACCEPT, 6 + 14, U8, 0), -EINVAL);         /* NUL as last byte */
    CHECK_EQ(decode_patched(S_ACCEPT, 4, U16, VR_MAX_STRING + 1), -E2BIG);
    CHECK_EQ(decode_patched(S_REJECT, 6 + 5, U8, 0), -EINVAL);
    CHECK_EQ(decode_patched(S_REJECT, 4, U16, 200), -E2BIG);
    CHECK_EQ(decode_patched(S_REJECT, 4, U16, 16), -EINVAL);            /* past the end */
    CHECK_EQ(decode_patched(S_REJECT, 4, U16, 3), 0);                   /* shorter: trailing */
    CHECK(strcmp(out.u.reject.message, "no ") == 0);
}

/* Encoder: the same rules, reported before anything is written. */
static void expect_encode(const struct vr_msg *m, long err)
{
    memset(buf, 0x5a, 64);
    CHECK_EQ(vr_msg_encoded_size(m), err);
    CHECK_EQ(vr_msg_encode(m, buf, sizeof(buf)), err);
    CHECK(buf[0] == 0x5a); /* nothing written */
}

static void test_encode_invalid(void)
{
    vr_sample_msg(S_PING, &msg);
    msg.type = 0x0099;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_PING, &msg);
    msg.stream_id = 1;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_FRAME, &msg);
    msg.stream_id = 0;
    expect_encode(&msg, -EINVAL);
    msg.stream_id = 0xffffffffu;
    expect_encode(&msg, -EINVAL);

    vr_sample_msg(S_HELLO_CLIENT, &msg);
    msg.u.hello.n_codecs = VR_MAX_CODECS + 1;
    expect_encode(&msg, -E2BIG);
    vr_sample_msg(S_HELLO_CLIENT, &msg);
    msg.u.hello.codecs[1].codec = 77;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_HELLO_CLIENT, &msg);
    msg.u.hello.codecs[2].max_height = VR_MAX_DIMENSION + 1;
    expect_encode(&msg, -E2BIG);
    vr_sample_msg(S_HELLO_CLIENT, &msg);
    msg.u.hello.version_min = 0;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_HELLO_CLIENT, &msg);
    msg.u.hello.role = VR_ROLE_GUEST;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_HELLO_GUEST, &msg);
    memset(msg.u.hello.software, 'a', sizeof(msg.u.hello.software)); /* no NUL */
    expect_encode(&msg, -E2BIG);

    vr_sample_msg(S_START, &msg);
    msg.u.start.codec = VR_CODEC_NONE;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_START, &msg);
    msg.u.start.timebase_den = 0;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_START, &msg);
    msg.u.start.timebase_num = 0;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_START, &msg);
    msg.u.start.width = VR_MAX_DIMENSION + 1;
    expect_encode(&msg, -E2BIG);
    vr_sample_msg(S_START, &msg);
    msg.u.start.extradata_len = VR_MAX_EXTRADATA + 1;
    expect_encode(&msg, -E2BIG);
    vr_sample_msg(S_START, &msg);
    msg.u.start.extradata = NULL;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_START, &msg);
    msg.u.start.codec = VR_CODEC_AV1;
    msg.u.start.flags = VR_STREAM_ANNEXB;
    expect_encode(&msg, -EINVAL);

    vr_sample_msg(S_FRAME, &msg);
    msg.u.frame.data_len = 0;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_FRAME, &msg);
    msg.u.frame.data_len = VR_MAX_FRAME_DATA + 1;
    expect_encode(&msg, -E2BIG);
    vr_sample_msg(S_FRAME, &msg);
    msg.u.frame.data = NULL;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_FRAME, &msg);
    msg.u.frame.duration = -1;
    expect_encode(&msg, -EINVAL);

    vr_sample_msg(S_GEOMETRY, &msg);
    msg.u.geometry.content.w = 0;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_GEOMETRY, &msg);
    msg.u.geometry.window.x = INT32_MIN;
    expect_encode(&msg, -E2BIG);
    vr_sample_msg(S_GEOMETRY, &msg);
    msg.u.geometry.window.y = VR_MAX_COORD;
    expect_encode(&msg, -EINVAL);

    vr_sample_msg(S_REGION, &msg);
    msg.u.region.n_rects = VR_MAX_RECTS + 1;
    expect_encode(&msg, -E2BIG);
    vr_sample_msg(S_REGION, &msg);
    msg.u.region.rects[2].h = 0;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_REGION, &msg);
    msg.u.region.rects[0].w = UINT32_MAX;
    expect_encode(&msg, -E2BIG);
    vr_sample_msg(S_REGION, &msg);
    msg.u.region.rects[1] = (struct vr_rect){ 60000, 0, 6000, 1 };
    expect_encode(&msg, -EINVAL);

    vr_sample_msg(S_FLUSH, &msg);
    msg.u.flush.flags = 2;
    expect_encode(&msg, -EINVAL);

    vr_sample_msg(S_CLOCK, &msg);
    msg.u.clock.pts = INT64_MIN;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_CLOCK, &msg);
    msg.u.clock.rate_q16 = VR_MAX_RATE_Q16 + 1;
    expect_encode(&msg, -EINVAL);
    vr_sample_msg(S_CLOCK, &msg);
    msg.u.clock.rate_q16 = 0; /* paused */
    roundtrip(&msg, buf, sizeof(buf));
    CHECK_EQ(vr_msg_encoded_size(&msg), 16 + 24);
    vr_sample_msg(S_CLOCK, &msg);
    msg.u.clock.flags = 1;
    expect_encode(&msg, -EINVAL);

    vr_sample_msg(S_ACCEPT, &msg);
    memset(msg.u.accept.decoder, 'z', sizeof(msg.u.accept.decoder));
    expect_encode(&msg, -E2BIG);
    vr_sample_msg(S_REJECT, &msg);
    memset(msg.u.reject.message, 'z', sizeof(msg.u.reject.message));
    expect_encode(&msg, -E2BIG);

    /* Encoding into a short buffer writes nothing past it. */
    size_t n = encode_sample(S_FRAME, &msg);
    memset(buf, 0xee, sizeof(buf));
    CHECK_EQ(vr_msg_encode(&msg, buf, n - 1), -ENOSPC);
    CHECK(buf[0] == 0xee);
    CHECK_EQ(vr_msg_encode(&msg, buf, 0), -ENOSPC);
    CHECK_EQ(vr_msg_encode(&msg, buf, n), (long)n);
    CHECK(buf[n] == 0xee);
}

static void test_names(void)
{
    CHECK(strcmp(vr_msg_type_name(VR_MSG_HELLO), "hello") == 0);
    CHECK(strcmp(vr_msg_type_name(VR_MSG_KEYFRAME_REQUEST), "keyframe-request") == 0);
    CHECK(strcmp(vr_msg_type_name(0x7777), "unknown") == 0);
    /* Every sample's type has its own name. */
    const char *names[VR_SAMPLE_COUNT];
    for (int i = 0; i < VR_SAMPLE_COUNT; i++) {
        vr_sample_msg(i, &msg);
        names[i] = vr_msg_type_name(msg.type);
        CHECK(strcmp(names[i], "unknown") != 0);
        for (int j = 0; j < i; j++) {
            struct vr_msg other;
            vr_sample_msg(j, &other);
            CHECK((other.type == msg.type) == (strcmp(names[i], names[j]) == 0));
        }
    }
    CHECK(strcmp(vr_codec_name(VR_CODEC_HEVC), "hevc") == 0);
    CHECK(strcmp(vr_codec_name(VR_CODEC_COUNT_), "unknown") == 0);
    CHECK(strcmp(vr_reason_name(VR_REASON_EOS), "eos") == 0);
    CHECK(strcmp(vr_reason_name(VR_REASON_FALLBACK), "fallback") == 0);
    CHECK(strcmp(vr_reason_name(11), "unknown") == 0);
    CHECK(strcmp(vr_reason_name(UINT32_MAX), "unknown") == 0);
    for (int c = VR_CODEC_H264; c < VR_CODEC_COUNT_; c++)
        CHECK_EQ(vr_codec_from_name(vr_codec_name((uint16_t)c)), c);
    CHECK_EQ(vr_codec_from_name("H264"), VR_CODEC_H264);
    CHECK_EQ(vr_codec_from_name("h265"), VR_CODEC_HEVC);
    CHECK_EQ(vr_codec_from_name("none"), VR_CODEC_NONE);
    CHECK_EQ(vr_codec_from_name("mpeg2"), VR_CODEC_NONE);
    CHECK_EQ(vr_codec_from_name(""), VR_CODEC_NONE);
    CHECK_EQ(vr_codec_from_name(NULL), VR_CODEC_NONE);
}

/* vr_msg_encode_frame_head + the data is byte for byte vr_msg_encode's
 * output; anything but a valid FRAME, or too small a buffer, is refused. */
static void test_frame_head(void)
{
    static uint8_t data[300], whole[400];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 31 + 7);
    uint8_t head[VR_FRAME_HEAD_SIZE + 8];
    const uint32_t lens[] = { 1, 300 };
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        struct vr_msg m = { .type = VR_MSG_FRAME, .stream_id = 7 };
        m.u.frame = (struct vr_frame){ .seq = 3, .flags = VR_FRAME_KEY, .pts = -5, .dts = -9,
                                       .duration = 2, .send_time_us = 12345,
                                       .data_len = lens[k], .data = data };
        long n = vr_msg_encode(&m, whole, sizeof(whole));
        CHECK_EQ(vr_msg_encode_frame_head(&m, head, sizeof(head)), (long)VR_FRAME_HEAD_SIZE);
        CHECK_EQ(n, (long)(VR_FRAME_HEAD_SIZE + lens[k]));
        CHECK(memcmp(head, whole, VR_FRAME_HEAD_SIZE) == 0);
        CHECK(memcmp(whole + VR_FRAME_HEAD_SIZE, data, lens[k]) == 0);
        CHECK_EQ(vr_msg_encode_frame_head(&m, head, VR_FRAME_HEAD_SIZE - 1), (long)-ENOSPC);
        CHECK_EQ(vr_msg_encode_frame_head(&m, NULL, sizeof(head)), (long)-ENOSPC);
    }
    struct vr_msg empty = { .type = VR_MSG_FRAME, .stream_id = 7 }; /* no data: invalid */
    CHECK_EQ(vr_msg_encode_frame_head(&empty, head, sizeof(head)),
             vr_msg_encode(&empty, whole, sizeof(whole)));
    CHECK(vr_msg_encode(&empty, whole, sizeof(whole)) < 0);
    struct vr_msg ping = { .type = VR_MSG_PING };
    CHECK_EQ(vr_msg_encode_frame_head(&ping, head, sizeof(head)), (long)-EINVAL);
    CHECK_EQ(vr_msg_encode_frame_head(NULL, head, sizeof(head)), (long)-EINVAL);
    struct vr_msg bad = { .type = VR_MSG_FRAME, .stream_id = 0 }; /* stream id 0: invalid */
    CHECK(vr_msg_encode_frame_head(&bad, head, sizeof(head)) < 0);
}

int main(void)
{
    test_roundtrip_samples();
    test_roundtrip_edges();
    test_worked_example();
    test_header();
    test_truncation_and_trailing();
    test_decode_malformed();
    test_encode_invalid();
    test_names();
    test_frame_head();
    printf("protocol: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
