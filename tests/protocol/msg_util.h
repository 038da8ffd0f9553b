/*
 * Test helpers shared by the protocol tests, the corpus generator and the
 * fuzz target: field-wise message equality and a set of valid sample messages.
 */
#ifndef VR_TESTS_PROTOCOL_MSG_UTIL_H
#define VR_TESTS_PROTOCOL_MSG_UTIL_H

#include <stdint.h>
#include <string.h>

#include "videoredir/protocol.h"

static inline int rect_equal(const struct vr_rect *a, const struct vr_rect *b)
{
    return a->x == b->x && a->y == b->y && a->w == b->w && a->h == b->h;
}

static inline int bytes_equal(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    return n == 0 || (a && b && memcmp(a, b, n) == 0);
}

/* Compares what the wire carries; borrowed pointers are compared by content. */
static inline int vr_msg_equal(const struct vr_msg *a, const struct vr_msg *b)
{
    if (a->type != b->type || a->stream_id != b->stream_id)
        return 0;
    switch (a->type) {
    case VR_MSG_HELLO: {
        const struct vr_hello *x = &a->u.hello, *y = &b->u.hello;
        if (x->version_min != y->version_min || x->version_max != y->version_max ||
            x->role != y->role || x->flags != y->flags || x->features != y->features ||
            x->max_streams != y->max_streams || x->n_codecs != y->n_codecs ||
            strcmp(x->software, y->software) != 0)
            return 0;
        for (uint32_t i = 0; i < x->n_codecs && i < VR_MAX_CODECS; i++) {
            const struct vr_codec_cap *c = &x->codecs[i], *d = &y->codecs[i];
            if (c->codec != d->codec || c->flags != d->flags ||
                c->max_width != d->max_width || c->max_height != d->max_height)
                return 0;
        }
        return 1;
    }
    case VR_MSG_PING:
        return a->u.ping.id == b->u.ping.id && a->u.ping.time_us == b->u.ping.time_us;
    case VR_MSG_PONG:
        return a->u.pong.id == b->u.pong.id &&
               a->u.pong.ping_time_us == b->u.pong.ping_time_us &&
               a->u.pong.time_us == b->u.pong.time_us;
    case VR_MSG_STREAM_START: {
        const struct vr_stream_start *x = &a->u.start, *y = &b->u.start;
        return x->codec == y->codec && x->flags == y->flags && x->width == y->width &&
               x->height == y->height && x->timebase_num == y->timebase_num &&
               x->timebase_den == y->timebase_den && x->fps_num == y->fps_num &&
               x->fps_den == y->fps_den && x->color.primaries == y->color.primaries &&
               x->color.transfer == y->color.transfer && x->color.matrix == y->color.matrix &&
               x->color.full_range == y->color.full_range &&
               x->extradata_len == y->extradata_len &&
               bytes_equal(x->extradata, y->extradata, x->extradata_len);
    }
    case VR_MSG_FRAME: {
        const struct vr_frame *x = &a->u.frame, *y = &b->u.frame;
        return x->seq == y->seq && x->flags == y->flags && x->pts == y->pts &&
               x->dts == y->dts && x->duration == y->duration &&
               x->send_time_us == y->send_time_us && x->data_len == y->data_len &&
               bytes_equal(x->data, y->data, x->data_len);
    }
    case VR_MSG_GEOMETRY:
        return a->u.geometry.monitor == b->u.geometry.monitor &&
               rect_equal(&a->u.geometry.window, &b->u.geometry.window) &&
               rect_equal(&a->u.geometry.content, &b->u.geometry.content);
    case VR_MSG_REGION:
        if (a->u.region.n_rects != b->u.region.n_rects)
            return 0;
        for (uint32_t i = 0; i < a->u.region.n_rects && i < VR_MAX_RECTS; i++)
            if (!rect_equal(&a->u.region.rects[i], &b->u.region.rects[i]))
                return 0;
        return 1;
    case VR_MSG_STREAM_STOP:
        return a->u.stop.reason == b->u.stop.reason;
    case VR_MSG_FLUSH:
        return a->u.flush.flags == b->u.flush.flags;
    case VR_MSG_CLOCK:
        return a->u.clock.pts == b->u.clock.pts && a->u.clock.time_us == b->u.clock.time_us &&
               a->u.clock.rate_q16 == b->u.clock.rate_q16 && a->u.clock.flags == b->u.clock.flags;
    case VR_MSG_ACCEPT:
        return a->u.accept.flags == b->u.accept.flags &&
               strcmp(a->u.accept.decoder, b->u.accept.decoder) == 0;
    case VR_MSG_REJECT:
        return a->u.reject.reason == b->u.reject.reason &&
               strcmp(a->u.reject.message, b->u.reject.message) == 0;
    case VR_MSG_FEEDBACK: {
        const struct vr_feedback *x = &a->u.feedback, *y = &b->u.feedback;
        return x->bytes_received == y->bytes_received && x->last_seq == y->last_seq &&
               x->decoded == y->decoded && x->dropped == y->dropped && x->lost == y->lost &&
               x->queue_depth == y->queue_depth && x->latency_us == y->latency_us;
    }
    case VR_MSG_KEYFRAME_REQUEST:
        return a->u.keyframe_request.reason == b->u.keyframe_request.reason;
    default:
        return 0;
    }
}

/* Fake but plausible codec configuration and access units for samples. */
static const uint8_t sample_avcc[] = {
    0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x0b, 0x67, 0x64, 0x00, 0x1f,
    0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x01, 0x00, 0x06, 0x68, 0xeb,
    0xe3, 0xcb, 0x22, 0xc0,
};
static const uint8_t sample_au[] = {
    0x00, 0x00, 0x00, 0x0c, 0x65, 0x88, 0x84, 0x00, 0x33, 0xff, 0xfe, 0xf6,
    0xf0, 0xfe, 0x05, 0x36, 0x00, 0x00, 0x00, 0x04, 0x06, 0x05, 0xff, 0xee,
};

enum { VR_SAMPLE_COUNT = 18 };

/* Fills msg with valid sample i (0 <= i < VR_SAMPLE_COUNT) and returns a
 * short file-name stem for it. Every message type appears at least once. */
static inline const char *vr_sample_msg(int i, struct vr_msg *m)
{
    memset(m, 0, sizeof(*m));
    switch (i) {
    case 0:
        m->type = VR_MSG_HELLO;
        m->u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1,
                                        .role = VR_ROLE_GUEST, .max_streams = 8,
                                        .features = VR_FEATURE_REGION | VR_FEATURE_FEEDBACK };
        strcpy(m->u.hello.software, "videoredir-capture 0.1");
        return "hello-guest";
    case 1:
        m->type = VR_MSG_HELLO;
        m->u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1,
                                        .role = VR_ROLE_CLIENT, .flags = VR_HELLO_REPLY,
                                        .max_streams = 4, .n_codecs = 3,
                                        .features = VR_FEATURE_REGION | VR_FEATURE_FEEDBACK |
                                                    VR_FEATURE_KEYFRAME_REQ };
        m->u.hello.codecs[0] = (struct vr_codec_cap){ VR_CODEC_H264, VR_CODEC_CAP_HW, 4096, 2304 };
        m->u.hello.codecs[1] = (struct vr_codec_cap){ VR_CODEC_HEVC, 0, 8192, 4320 };
        m->u.hello.codecs[2] = (struct vr_codec_cap){ VR_CODEC_AV1, 0, 16384, 16384 };
        strcpy(m->u.hello.software, "videoredir-client 0.1");
        return "hello-client-reply";
    case 2:
        m->type = VR_MSG_PING;
        m->u.ping = (struct vr_ping){ .id = 7, .time_us = 1234567890123ull };
        return "ping";
    case 3:
        m->type = VR_MSG_PONG;
        m->u.pong = (struct vr_pong){ .id = 7, .ping_time_us = 1234567890123ull,
                                      .time_us = 987654321ull };
        return "pong";
    case 4:
        m->type = VR_MSG_STREAM_START;
        m->stream_id = 1;
        m->u.start = (struct vr_stream_start){
            .codec = VR_CODEC_H264, .width = 1280, .height = 720, .timebase_num = 1,
            .timebase_den = 90000, .fps_num = 30000, .fps_den = 1001,
            .color = { 1, 1, 1, 0 }, .extradata_len = sizeof(sample_avcc),
            .extradata = sample_avcc };
        return "start-h264-avcc";
    case 5:
        m->type = VR_MSG_STREAM_START;
        m->stream_id = 2;
        m->u.start = (struct vr_stream_start){
            .codec = VR_CODEC_HEVC, .flags = VR_STREAM_ANNEXB, .width = 3840,
            .height = 2160, .timebase_num = 1, .timebase_den = 1000,
            .color = { 9, 16, 9, 1 } };
        return "start-hevc-annexb";
    case 6:
        m->type = VR_MSG_FRAME;
        m->stream_id = 1;
        m->u.frame = (struct vr_frame){ .seq = 0, .flags = VR_FRAME_KEY, .pts = 3003,
                                        .dts = 0, .duration = 3003,
                                        .send_time_us = 1234567900000ull,
                                        .data_len = sizeof(sample_au), .data = sample_au };
        return "frame-key";
    case 7:
        m->type = VR_MSG_FRAME;
        m->stream_id = 1;
        m->u.frame = (struct vr_frame){ .seq = 41, .flags = VR_FRAME_DROPPABLE | VR_FRAME_DISCONT,
                                        .pts = INT64_MIN, .dts = -3003, .duration = 0,
                                        .send_time_us = 1, .data_len = 4, .data = sample_au };
        return "frame-unknown-pts";
    case 8:
        m->type = VR_MSG_GEOMETRY;
        m->stream_id = 1;
        m->u.geometry = (struct vr_geometry){ .monitor = 0,
                                              .window = { 100, 80, 1300, 780 },
                                              .content = { 110, 120, 1280, 720 } };
        return "geometry";
    case 9:
        m->type = VR_MSG_REGION;
        m->stream_id = 1;
        m->u.region.n_rects = 3;
        m->u.region.rects[0] = (struct vr_rect){ 110, 120, 1280, 200 };
        m->u.region.rects[1] = (struct vr_rect){ 110, 320, 600, 520 };
        m->u.region.rects[2] = (struct vr_rect){ -65535, -65535, 16384, 1 };
        return "region";
    case 10:
        m->type = VR_MSG_REGION;
        m->stream_id = 1;
        return "region-hidden";
    case 11:
        m->type = VR_MSG_STREAM_STOP;
        m->stream_id = 1;
        m->u.stop.reason = VR_REASON_EOS;
        return "stop-eos";
    case 12:
        m->type = VR_MSG_FLUSH;
        m->stream_id = 1;
        return "flush";
    case 13:
        m->type = VR_MSG_ACCEPT;
        m->stream_id = 1;
        m->u.accept.flags = 0;
        strcpy(m->u.accept.decoder, "h264 (software)");
        return "accept";
    case 14:
        m->type = VR_MSG_REJECT;
        m->stream_id = 2;
        m->u.reject.reason = VR_REASON_UNSUPPORTED;
        strcpy(m->u.reject.message, "no hevc decoder");
        return "reject";
    case 15:
        m->type = VR_MSG_FEEDBACK;
        m->stream_id = 1;
        m->u.feedback = (struct vr_feedback){ .bytes_received = 5000000000ull, .last_seq = 41,
                                              .decoded = 40, .dropped = 1, .lost = 0,
                                              .queue_depth = 3, .latency_us = 45000 };
        return "feedback";
    case 16:
        m->type = VR_MSG_KEYFRAME_REQUEST;
        m->stream_id = 1;
        m->u.keyframe_request.reason = VR_REASON_SEQ_GAP;
        return "keyframe-request";
    case 17:
        m->type = VR_MSG_CLOCK;
        m->stream_id = 1;
        m->u.clock = (struct vr_clock){ .pts = -3600, .time_us = 123456789012ull,
                                        .rate_q16 = 1u << 16, .flags = 0 };
        return "clock";
    default:
        return NULL;
    }
}

#endif
