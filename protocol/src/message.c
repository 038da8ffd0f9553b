/*
 * Encode and decode of every videoredir message. The byte layouts are
 * specified in protocol/PROTOCOL.md; keep the two in step.
 *
 * Decoding is split in two: parse_* reads the bytes into the struct (checking
 * only what the struct cannot hold: truncation, counts before arrays, string
 * bytes, reserved fields), then check_* validates the struct. The encoder runs
 * the same check_* before writing, which is what makes "anything that encodes
 * decodes to the same struct" true by construction.
 */
#include "videoredir/protocol.h"

#include <errno.h>
#include <string.h>

#include "wire.h"

/* Fixed parts of each payload, in bytes. Variable parts follow them. */
#define HELLO_FIXED 20u
#define CODEC_CAP_SIZE 12u
#define PING_SIZE 16u
#define PONG_SIZE 24u
#define START_FIXED 36u
#define FRAME_FIXED 44u
#define RECT_SIZE 16u
#define GEOMETRY_SIZE (4u + 2u * RECT_SIZE)
#define REGION_FIXED 4u
#define U32_ONLY_SIZE 4u
#define FEEDBACK_SIZE 32u
#define CLOCK_SIZE 24u
#define STRING_FIXED 2u

/* ---- scope ---------------------------------------------------------------- */

static int is_known_type(uint16_t type)
{
    switch (type) {
    case VR_MSG_HELLO:
    case VR_MSG_PING:
    case VR_MSG_PONG:
    case VR_MSG_STREAM_START:
    case VR_MSG_FRAME:
    case VR_MSG_GEOMETRY:
    case VR_MSG_REGION:
    case VR_MSG_STREAM_STOP:
    case VR_MSG_FLUSH:
    case VR_MSG_CLOCK:
    case VR_MSG_ACCEPT:
    case VR_MSG_REJECT:
    case VR_MSG_FEEDBACK:
    case VR_MSG_KEYFRAME_REQUEST:
        return 1;
    default:
        return 0;
    }
}

static int is_session_type(uint16_t type)
{
    return type == VR_MSG_HELLO || type == VR_MSG_PING || type == VR_MSG_PONG;
}

/* Session messages carry stream id 0; stream messages 1..VR_MAX_STREAM_ID. */
static int check_stream_id(uint16_t type, uint32_t stream_id)
{
    if (is_session_type(type))
        return stream_id == 0 ? 0 : -EINVAL;
    return stream_id >= 1 && stream_id <= VR_MAX_STREAM_ID ? 0 : -EINVAL;
}

/* ---- field checks shared by decoder and encoder ---------------------------- */

static int is_known_codec(uint16_t codec)
{
    return codec > VR_CODEC_NONE && codec < VR_CODEC_COUNT_;
}

static int check_dimension(uint32_t v)
{
    if (v == 0)
        return -EINVAL;
    return v <= VR_MAX_DIMENSION ? 0 : -E2BIG;
}

static int check_coord(int32_t v)
{
    return v >= -VR_MAX_COORD && v <= VR_MAX_COORD ? 0 : -E2BIG;
}

/* A rectangle lies entirely inside [-VR_MAX_COORD, VR_MAX_COORD] on both
 * axes, so receivers may add and subtract edges in int32 arithmetic freely. */
static int check_rect(const struct vr_rect *r)
{
    int ret;
    if ((ret = check_coord(r->x)) < 0 || (ret = check_coord(r->y)) < 0 ||
        (ret = check_dimension(r->w)) < 0 || (ret = check_dimension(r->h)) < 0)
        return ret;
    /* Cannot overflow: |x| <= 65535 and w <= 16384 after the checks above. */
    if ((int64_t)r->x + r->w > VR_MAX_COORD || (int64_t)r->y + r->h > VR_MAX_COORD)
        return -EINVAL;
    return 0;
}

/* A C string field: NUL-terminated within its VR_MAX_STRING + 1 bytes. */
static int check_string(const char *s)
{
    return strnlen(s, VR_MAX_STRING + 1) <= VR_MAX_STRING ? 0 : -E2BIG;
}

static int check_hello(const struct vr_hello *h)
{
    if (h->version_min < 1 || h->version_min > h->version_max)
        return -EINVAL;
    if (h->role != VR_ROLE_GUEST && h->role != VR_ROLE_CLIENT)
        return -EINVAL;
    if (h->n_codecs > VR_MAX_CODECS)
        return -E2BIG;
    if (h->role == VR_ROLE_GUEST && h->n_codecs != 0)
        return -EINVAL;
    for (uint32_t i = 0; i < h->n_codecs; i++) {
        const struct vr_codec_cap *c = &h->codecs[i];
        int ret;
        if (!is_known_codec(c->codec))
            return -EINVAL;
        if ((ret = check_dimension(c->max_width)) < 0 ||
            (ret = check_dimension(c->max_height)) < 0)
            return ret;
    }
    return check_string(h->software);
}

static int check_start(const struct vr_stream_start *s)
{
    int ret;
    if (!is_known_codec(s->codec))
        return -EINVAL;
    if ((s->flags & VR_STREAM_ANNEXB) && s->codec != VR_CODEC_H264 &&
        s->codec != VR_CODEC_HEVC)
        return -EINVAL;
    /* A marked stream names its marker code. */
    if ((s->flags & VR_STREAM_MARKED) && VR_STREAM_MARKER_CODE(s->flags) == 0)
        return -EINVAL;
    if ((ret = check_dimension(s->width)) < 0 || (ret = check_dimension(s->height)) < 0)
        return ret;
    if (s->timebase_num == 0 || s->timebase_den == 0)
        return -EINVAL;
    /* Both zero (unknown) or both set. */
    if ((s->fps_num == 0) != (s->fps_den == 0))
        return -EINVAL;
    if (s->color.full_range > 1)
        return -EINVAL;
    if (s->extradata_len > VR_MAX_EXTRADATA)
        return -E2BIG;
    if (s->extradata_len && !s->extradata)
        return -EINVAL;
    return 0;
}

static int check_frame(const struct vr_frame *f)
{
    if (f->data_len == 0)
        return -EINVAL;
    if (f->data_len > VR_MAX_FRAME_DATA)
        return -E2BIG;
    if (!f->data)
        return -EINVAL;
    if (f->duration < 0)
        return -EINVAL;
    return 0;
}

static int check_geometry(const struct vr_geometry *g)
{
    int ret = check_rect(&g->window);
    return ret < 0 ? ret : check_rect(&g->content);
}

static int check_clock(const struct vr_clock *c)
{
    if (c->pts == INT64_MIN || c->rate_q16 > VR_MAX_RATE_Q16 || c->flags != 0)
        return -EINVAL;
    return 0;
}

static int check_region(const struct vr_region *r)
{
    if (r->n_rects > VR_MAX_RECTS)
        return -E2BIG;
    for (uint32_t i = 0; i < r->n_rects; i++) {
        int ret = check_rect(&r->rects[i]);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int check_msg(const struct vr_msg *msg)
{
    if (!is_known_type(msg->type))
        return -ENOMSG;
    int ret = check_stream_id(msg->type, msg->stream_id);
    if (ret < 0)
        return ret;
    switch (msg->type) {
    case VR_MSG_HELLO:
        return check_hello(&msg->u.hello);
    case VR_MSG_STREAM_START:
        return check_start(&msg->u.start);
    case VR_MSG_FRAME:
        return check_frame(&msg->u.frame);
    case VR_MSG_GEOMETRY:
        return check_geometry(&msg->u.geometry);
    case VR_MSG_REGION:
        return check_region(&msg->u.region);
    case VR_MSG_FLUSH:
        return msg->u.flush.flags == 0 ? 0 : -EINVAL;
    case VR_MSG_CLOCK:
        return check_clock(&msg->u.clock);
    case VR_MSG_ACCEPT:
        return check_string(msg->u.accept.decoder);
    case VR_MSG_REJECT:
        return check_string(msg->u.reject.message);
    default:
        /* ping, pong, stop, feedback, keyframe_request: every value is valid.
         * Unknown reasons are kept; receivers treat them as generic. */
        return 0;
    }
}

/* ---- decode --------------------------------------------------------------- */

/* Reads a u16-length string into dst (VR_MAX_STRING + 1 bytes). */
static int parse_string(struct reader *r, char *dst)
{
    uint16_t n = read_u16(r);
    if (r->err)
        return -EINVAL;
    if (n > VR_MAX_STRING)
        return -E2BIG;
    const uint8_t *s = read_bytes(r, n);
    if (!s)
        return -EINVAL;
    if (memchr(s, 0, n))
        return -EINVAL;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static void parse_rect(struct reader *r, struct vr_rect *rect)
{
    rect->x = read_i32(r);
    rect->y = read_i32(r);
    rect->w = read_u32(r);
    rect->h = read_u32(r);
}

static int parse_hello(struct reader *r, struct vr_hello *h)
{
    h->version_min = read_u16(r);
    h->version_max = read_u16(r);
    h->role = read_u8(r);
    h->flags = read_u8(r);
    uint16_t reserved = read_u16(r);
    h->features = read_u32(r);
    h->max_streams = read_u32(r);
    h->n_codecs = read_u32(r);
    if (r->err)
        return -EINVAL;
    if (reserved)
        return -EINVAL;
    if (h->n_codecs > VR_MAX_CODECS)
        return -E2BIG;
    for (uint32_t i = 0; i < h->n_codecs; i++) {
        struct vr_codec_cap *c = &h->codecs[i];
        c->codec = read_u16(r);
        c->flags = read_u16(r);
        c->max_width = read_u32(r);
        c->max_height = read_u32(r);
    }
    if (r->err)
        return -EINVAL;
    return parse_string(r, h->software);
}

static int parse_ping(struct reader *r, struct vr_ping *p)
{
    p->id = read_u32(r);
    uint32_t reserved = read_u32(r);
    p->time_us = read_u64(r);
    if (r->err || reserved)
        return -EINVAL;
    return 0;
}

static int parse_pong(struct reader *r, struct vr_pong *p)
{
    p->id = read_u32(r);
    uint32_t reserved = read_u32(r);
    p->ping_time_us = read_u64(r);
    p->time_us = read_u64(r);
    if (r->err || reserved)
        return -EINVAL;
    return 0;
}

static int parse_start(struct reader *r, struct vr_stream_start *s)
{
    s->codec = read_u16(r);
    s->flags = read_u16(r);
    s->width = read_u32(r);
    s->height = read_u32(r);
    s->timebase_num = read_u32(r);
    s->timebase_den = read_u32(r);
    s->fps_num = read_u32(r);
    s->fps_den = read_u32(r);
    s->color.primaries = read_u8(r);
    s->color.transfer = read_u8(r);
    s->color.matrix = read_u8(r);
    s->color.full_range = read_u8(r);
    s->extradata_len = read_u32(r);
    if (r->err)
        return -EINVAL;
    if (s->extradata_len > VR_MAX_EXTRADATA)
        return -E2BIG;
    s->extradata = NULL;
    if (s->extradata_len) {
        s->extradata = read_bytes(r, s->extradata_len);
        if (!s->extradata)
            return -EINVAL;
    }
    return 0;
}

static int parse_frame(struct reader *r, struct vr_frame *f)
{
    f->seq = read_u32(r);
    f->flags = read_u32(r);
    f->pts = read_i64(r);
    f->dts = read_i64(r);
    f->duration = read_i64(r);
    f->send_time_us = read_u64(r);
    f->data_len = read_u32(r);
    if (r->err)
        return -EINVAL;
    if (f->data_len > VR_MAX_FRAME_DATA)
        return -E2BIG;
    /* data_len == 0 is refused by check_frame. */
    f->data = f->data_len ? read_bytes(r, f->data_len) : NULL;
    if (r->err)
        return -EINVAL;
    return 0;
}

static int parse_geometry(struct reader *r, struct vr_geometry *g)
{
    g->monitor = read_u32(r);
    parse_rect(r, &g->window);
    parse_rect(r, &g->content);
    return r->err ? -EINVAL : 0;
}

static int parse_region(struct reader *r, struct vr_region *reg)
{
    reg->n_rects = read_u32(r);
    if (r->err)
        return -EINVAL;
    if (reg->n_rects > VR_MAX_RECTS)
        return -E2BIG;
    for (uint32_t i = 0; i < reg->n_rects; i++)
        parse_rect(r, &reg->rects[i]);
    return r->err ? -EINVAL : 0;
}

static int parse_u32_only(struct reader *r, uint32_t *v)
{
    *v = read_u32(r);
    return r->err ? -EINVAL : 0;
}

static int parse_accept(struct reader *r, struct vr_accept *a)
{
    a->flags = read_u32(r);
    if (r->err)
        return -EINVAL;
    return parse_string(r, a->decoder);
}

static int parse_reject(struct reader *r, struct vr_reject *j)
{
    j->reason = read_u32(r);
    if (r->err)
        return -EINVAL;
    return parse_string(r, j->message);
}

static int parse_feedback(struct reader *r, struct vr_feedback *f)
{
    f->bytes_received = read_u64(r);
    f->last_seq = read_u32(r);
    f->decoded = read_u32(r);
    f->dropped = read_u32(r);
    f->lost = read_u32(r);
    f->queue_depth = read_u32(r);
    f->latency_us = read_u32(r);
    return r->err ? -EINVAL : 0;
}

static int parse_clock(struct reader *r, struct vr_clock *c)
{
    c->pts = read_i64(r);
    c->time_us = read_u64(r);
    c->rate_q16 = read_u32(r);
    c->flags = read_u32(r);
    return r->err ? -EINVAL : 0;
}

int vr_header_decode(const uint8_t *buf, size_t len, struct vr_header *hdr)
{
    if (!buf || !hdr)
        return -EINVAL;
    if (len < VR_HEADER_SIZE)
        return -EAGAIN;
    struct reader r;
    reader_init(&r, buf, VR_HEADER_SIZE);
    hdr->magic = read_u32(&r);
    hdr->version = read_u16(&r);
    hdr->type = read_u16(&r);
    hdr->stream_id = read_u32(&r);
    hdr->length = read_u32(&r);
    if (hdr->magic != VR_PROTO_MAGIC)
        return -EBADMSG;
    if (hdr->version != VR_PROTO_HEADER_VERSION)
        return -EPROTONOSUPPORT;
    if (hdr->length > VR_MAX_PAYLOAD)
        return -EMSGSIZE;
    return 0;
}

int vr_msg_decode(const uint8_t *buf, size_t len, struct vr_msg *msg)
{
    if (!buf || !msg)
        return -EINVAL;
    struct vr_header hdr;
    int ret = vr_header_decode(buf, len, &hdr);
    if (ret < 0)
        return ret;
    size_t total = (size_t)VR_HEADER_SIZE + hdr.length;
    if (len < total)
        return -EAGAIN;
    if (len > total)
        return -EINVAL;
    if (!is_known_type(hdr.type))
        return -ENOMSG;

    /* Zeroed so that unused array slots and string tails are deterministic. */
    memset(msg, 0, sizeof(*msg));
    msg->type = hdr.type;
    msg->stream_id = hdr.stream_id;
    if ((ret = check_stream_id(hdr.type, hdr.stream_id)) < 0)
        return ret;

    struct reader r;
    reader_init(&r, buf + VR_HEADER_SIZE, hdr.length);
    switch (hdr.type) {
    case VR_MSG_HELLO:
        ret = parse_hello(&r, &msg->u.hello);
        break;
    case VR_MSG_PING:
        ret = parse_ping(&r, &msg->u.ping);
        break;
    case VR_MSG_PONG:
        ret = parse_pong(&r, &msg->u.pong);
        break;
    case VR_MSG_STREAM_START:
        ret = parse_start(&r, &msg->u.start);
        break;
    case VR_MSG_FRAME:
        ret = parse_frame(&r, &msg->u.frame);
        break;
    case VR_MSG_GEOMETRY:
        ret = parse_geometry(&r, &msg->u.geometry);
        break;
    case VR_MSG_REGION:
        ret = parse_region(&r, &msg->u.region);
        break;
    case VR_MSG_STREAM_STOP:
        ret = parse_u32_only(&r, &msg->u.stop.reason);
        break;
    case VR_MSG_FLUSH:
        ret = parse_u32_only(&r, &msg->u.flush.flags);
        break;
    case VR_MSG_CLOCK:
        ret = parse_clock(&r, &msg->u.clock);
        break;
    case VR_MSG_ACCEPT:
        ret = parse_accept(&r, &msg->u.accept);
        break;
    case VR_MSG_REJECT:
        ret = parse_reject(&r, &msg->u.reject);
        break;
    case VR_MSG_FEEDBACK:
        ret = parse_feedback(&r, &msg->u.feedback);
        break;
    case VR_MSG_KEYFRAME_REQUEST:
        ret = parse_u32_only(&r, &msg->u.keyframe_request.reason);
        break;
    default:
        ret = -ENOMSG;
        break;
    }
    if (ret < 0)
        return ret;
    /* Bytes left in the payload are fields of a later minor version: ignored. */
    return check_msg(msg);
}

/* ---- encode --------------------------------------------------------------- */

/* Payload size of a message that passed check_msg (strings are terminated). */
static size_t payload_size(const struct vr_msg *msg)
{
    size_t n;
    switch (msg->type) {
    case VR_MSG_HELLO:
        n = strnlen(msg->u.hello.software, VR_MAX_STRING);
        return HELLO_FIXED + msg->u.hello.n_codecs * CODEC_CAP_SIZE + STRING_FIXED + n;
    case VR_MSG_PING:
        return PING_SIZE;
    case VR_MSG_PONG:
        return PONG_SIZE;
    case VR_MSG_STREAM_START:
        return START_FIXED + (size_t)msg->u.start.extradata_len;
    case VR_MSG_FRAME:
        return FRAME_FIXED + (size_t)msg->u.frame.data_len;
    case VR_MSG_GEOMETRY:
        return GEOMETRY_SIZE;
    case VR_MSG_REGION:
        return REGION_FIXED + msg->u.region.n_rects * RECT_SIZE;
    case VR_MSG_ACCEPT:
        n = strnlen(msg->u.accept.decoder, VR_MAX_STRING);
        return U32_ONLY_SIZE + STRING_FIXED + n;
    case VR_MSG_REJECT:
        n = strnlen(msg->u.reject.message, VR_MAX_STRING);
        return U32_ONLY_SIZE + STRING_FIXED + n;
    case VR_MSG_FEEDBACK:
        return FEEDBACK_SIZE;
    case VR_MSG_CLOCK:
        return CLOCK_SIZE;
    default: /* stop, flush, keyframe_request */
        return U32_ONLY_SIZE;
    }
}

long vr_msg_encoded_size(const struct vr_msg *msg)
{
    if (!msg)
        return -EINVAL;
    int ret = check_msg(msg);
    if (ret < 0)
        return ret == -ENOMSG ? -EINVAL : ret;
    return (long)(VR_HEADER_SIZE + payload_size(msg));
}

static void write_string(struct writer *w, const char *s)
{
    size_t n = strnlen(s, VR_MAX_STRING);
    write_u16(w, (uint16_t)n);
    write_bytes(w, s, n);
}

static void write_rect(struct writer *w, const struct vr_rect *r)
{
    write_i32(w, r->x);
    write_i32(w, r->y);
    write_u32(w, r->w);
    write_u32(w, r->h);
}

static void write_payload(struct writer *w, const struct vr_msg *msg)
{
    const struct vr_hello *h = &msg->u.hello;
    const struct vr_stream_start *s = &msg->u.start;
    const struct vr_frame *f = &msg->u.frame;
    const struct vr_feedback *fb = &msg->u.feedback;

    switch (msg->type) {
    case VR_MSG_HELLO:
        write_u16(w, h->version_min);
        write_u16(w, h->version_max);
        write_u8(w, h->role);
        write_u8(w, h->flags);
        write_u16(w, 0); /* reserved */
        write_u32(w, h->features);
        write_u32(w, h->max_streams);
        write_u32(w, h->n_codecs);
        for (uint32_t i = 0; i < h->n_codecs; i++) {
            write_u16(w, h->codecs[i].codec);
            write_u16(w, h->codecs[i].flags);
            write_u32(w, h->codecs[i].max_width);
            write_u32(w, h->codecs[i].max_height);
        }
        write_string(w, h->software);
        break;
    case VR_MSG_PING:
        write_u32(w, msg->u.ping.id);
        write_u32(w, 0); /* reserved */
        write_u64(w, msg->u.ping.time_us);
        break;
    case VR_MSG_PONG:
        write_u32(w, msg->u.pong.id);
        write_u32(w, 0); /* reserved */
        write_u64(w, msg->u.pong.ping_time_us);
        write_u64(w, msg->u.pong.time_us);
        break;
    case VR_MSG_STREAM_START:
        write_u16(w, s->codec);
        write_u16(w, s->flags);
        write_u32(w, s->width);
        write_u32(w, s->height);
        write_u32(w, s->timebase_num);
        write_u32(w, s->timebase_den);
        write_u32(w, s->fps_num);
        write_u32(w, s->fps_den);
        write_u8(w, s->color.primaries);
        write_u8(w, s->color.transfer);
        write_u8(w, s->color.matrix);
        write_u8(w, s->color.full_range);
        write_u32(w, s->extradata_len);
        write_bytes(w, s->extradata, s->extradata_len);
        break;
    case VR_MSG_FRAME:
        write_u32(w, f->seq);
        write_u32(w, f->flags);
        write_i64(w, f->pts);
        write_i64(w, f->dts);
        write_i64(w, f->duration);
        write_u64(w, f->send_time_us);
        write_u32(w, f->data_len);
        write_bytes(w, f->data, f->data_len);
        break;
    case VR_MSG_GEOMETRY:
        write_u32(w, msg->u.geometry.monitor);
        write_rect(w, &msg->u.geometry.window);
        write_rect(w, &msg->u.geometry.content);
        break;
    case VR_MSG_REGION:
        write_u32(w, msg->u.region.n_rects);
        for (uint32_t i = 0; i < msg->u.region.n_rects; i++)
            write_rect(w, &msg->u.region.rects[i]);
        break;
    case VR_MSG_STREAM_STOP:
        write_u32(w, msg->u.stop.reason);
        break;
    case VR_MSG_FLUSH:
        write_u32(w, msg->u.flush.flags);
        break;
    case VR_MSG_CLOCK:
        write_i64(w, msg->u.clock.pts);
        write_u64(w, msg->u.clock.time_us);
        write_u32(w, msg->u.clock.rate_q16);
        write_u32(w, msg->u.clock.flags);
        break;
    case VR_MSG_ACCEPT:
        write_u32(w, msg->u.accept.flags);
        write_string(w, msg->u.accept.decoder);
        break;
    case VR_MSG_REJECT:
        write_u32(w, msg->u.reject.reason);
        write_string(w, msg->u.reject.message);
        break;
    case VR_MSG_FEEDBACK:
        write_u64(w, fb->bytes_received);
        write_u32(w, fb->last_seq);
        write_u32(w, fb->decoded);
        write_u32(w, fb->dropped);
        write_u32(w, fb->lost);
        write_u32(w, fb->queue_depth);
        write_u32(w, fb->latency_us);
        break;
    case VR_MSG_KEYFRAME_REQUEST:
        write_u32(w, msg->u.keyframe_request.reason);
        break;
    default:
        break;
    }
}

long vr_msg_encode(const struct vr_msg *msg, uint8_t *buf, size_t cap)
{
    long size = vr_msg_encoded_size(msg);
    if (size < 0)
        return size;
    if (!buf || cap < (size_t)size)
        return -ENOSPC;

    struct writer w;
    writer_init(&w, buf, (size_t)size);
    write_u32(&w, VR_PROTO_MAGIC);
    write_u16(&w, VR_PROTO_HEADER_VERSION);
    write_u16(&w, msg->type);
    write_u32(&w, msg->stream_id);
    write_u32(&w, (uint32_t)(size - VR_HEADER_SIZE));
    write_payload(&w, msg);
    /* payload_size and write_payload disagreeing is a bug here, not in msg. */
    if (w.err || w.p != w.end)
        return -EINVAL;
    return size;
}

long vr_msg_encode_frame_head(const struct vr_msg *msg, uint8_t *buf, size_t cap)
{
    if (!msg || msg->type != VR_MSG_FRAME)
        return -EINVAL;
    long size = vr_msg_encoded_size(msg);
    if (size < 0)
        return size;
    if (!buf || cap < VR_FRAME_HEAD_SIZE)
        return -ENOSPC;
    const struct vr_frame *f = &msg->u.frame;
    struct writer w;
    writer_init(&w, buf, VR_FRAME_HEAD_SIZE);
    write_u32(&w, VR_PROTO_MAGIC);
    write_u16(&w, VR_PROTO_HEADER_VERSION);
    write_u16(&w, msg->type);
    write_u32(&w, msg->stream_id);
    write_u32(&w, (uint32_t)(size - VR_HEADER_SIZE));
    write_u32(&w, f->seq);
    write_u32(&w, f->flags);
    write_i64(&w, f->pts);
    write_i64(&w, f->dts);
    write_i64(&w, f->duration);
    write_u64(&w, f->send_time_us);
    write_u32(&w, f->data_len);
    /* The FRAME layout of write_payload, without the data. */
    if (w.err || w.p != w.end || (size_t)size != VR_FRAME_HEAD_SIZE + f->data_len)
        return -EINVAL;
    return VR_FRAME_HEAD_SIZE;
}

void vr_msg_hello(struct vr_msg *msg, uint8_t role, int reply, uint32_t features,
                  uint32_t max_streams, const char *software)
{
    memset(msg, 0, sizeof(*msg));
    msg->type = VR_MSG_HELLO;
    struct vr_hello *h = &msg->u.hello;
    h->version_min = VR_PROTO_VERSION_MIN;
    h->version_max = VR_PROTO_VERSION_MAX;
    h->role = role;
    h->flags = reply ? VR_HELLO_REPLY : 0;
    h->features = features;
    h->max_streams = max_streams;
    size_t n = software ? strnlen(software, VR_MAX_STRING) : 0;
    memcpy(h->software, software ? software : "", n);
    h->software[n] = 0;
}
