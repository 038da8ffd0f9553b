/*
 * Shared helpers for the transport tests and the fuzz corpus generator:
 * a CHECK macro, a seeded PRNG and a generator of random valid messages.
 */
#ifndef VR_TESTS_TRANSPORT_TUTIL_H
#define VR_TESTS_TRANSPORT_TUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "videoredir/protocol.h"

static int t_failures __attribute__((unused));

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            t_failures++;                                                         \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
        }                                                                         \
    } while (0)

/* xorshift64*: deterministic for a given seed on every platform. */
struct t_rng {
    uint64_t s;
};

static inline void t_rng_seed(struct t_rng *r, uint64_t seed)
{
    r->s = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
    if (!r->s)
        r->s = 1;
}

static inline uint64_t t_rng_next(struct t_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

/* Uniform in [lo, hi]. */
static inline uint32_t t_rng_range(struct t_rng *r, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(t_rng_next(r) % ((uint64_t)hi - lo + 1));
}

static inline void t_rng_fill(struct t_rng *r, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(t_rng_next(r) >> 56);
}

/* Payload pool for frames and extradata; filled once with random bytes that
 * deliberately contain "VRDR" now and then so resync is exercised. */
#define T_POOL_SIZE (300u * 1024u)
static uint8_t t_pool[T_POOL_SIZE];

static inline void t_pool_init(uint64_t seed)
{
    struct t_rng r;
    t_rng_seed(&r, seed);
    t_rng_fill(&r, t_pool, sizeof(t_pool));
    for (size_t i = 0; i + 4 < sizeof(t_pool); i += 997)
        memcpy(t_pool + i, "VRDR", 4);
}

/*
 * Fills m with a random valid message (borrowing t_pool). big_every: one
 * frame in about that many is large (up to 256 KiB), 0 = never.
 */
static inline void t_random_msg(struct t_rng *r, struct vr_msg *m, unsigned big_every)
{
    memset(m, 0, sizeof(*m));
    uint32_t sid = t_rng_range(r, 1, 3);
    switch (t_rng_range(r, 0, 7)) {
    case 0:
        m->type = VR_MSG_HELLO;
        m->u.hello.version_min = 1;
        m->u.hello.version_max = 1;
        m->u.hello.role = VR_ROLE_CLIENT;
        m->u.hello.max_streams = 4;
        m->u.hello.n_codecs = t_rng_range(r, 0, 3);
        for (uint32_t i = 0; i < m->u.hello.n_codecs; i++)
            m->u.hello.codecs[i] = (struct vr_codec_cap){ .codec = (uint16_t)(i + 1),
                                                          .max_width = 1920,
                                                          .max_height = 1080 };
        snprintf(m->u.hello.software, sizeof(m->u.hello.software), "test %u",
                 (unsigned)t_rng_range(r, 0, 99999));
        break;
    case 1:
        m->type = VR_MSG_PING;
        m->u.ping.id = (uint32_t)t_rng_next(r);
        m->u.ping.time_us = t_rng_next(r) >> 8;
        break;
    case 2:
        m->type = VR_MSG_STREAM_START;
        m->stream_id = sid;
        m->u.start = (struct vr_stream_start){ .codec = VR_CODEC_H264, .width = 640, .height = 360,
                                               .timebase_num = 1, .timebase_den = 90000,
                                               .fps_num = 30, .fps_den = 1,
                                               .color = { 1, 1, 1, 0 } };
        m->u.start.extradata_len = t_rng_range(r, 0, 200);
        m->u.start.extradata = t_pool + t_rng_range(r, 0, 1000);
        break;
    case 3:
        m->type = VR_MSG_REGION;
        m->stream_id = sid;
        m->u.region.n_rects = t_rng_range(r, 0, 20);
        for (uint32_t i = 0; i < m->u.region.n_rects; i++)
            m->u.region.rects[i] = (struct vr_rect){ (int32_t)i * 10, 5, 10 + i, 20 };
        break;
    case 4:
        m->type = VR_MSG_FEEDBACK;
        m->stream_id = sid;
        m->u.feedback.bytes_received = t_rng_next(r) >> 20;
        m->u.feedback.last_seq = (uint32_t)t_rng_next(r);
        break;
    default: {
        m->type = VR_MSG_FRAME;
        m->stream_id = sid;
        uint32_t len = big_every && t_rng_range(r, 1, big_every) == 1
                           ? t_rng_range(r, 65536, 256 * 1024)
                           : t_rng_range(r, 1, 3000);
        m->u.frame = (struct vr_frame){ .seq = (uint32_t)t_rng_next(r),
                                        .flags = t_rng_range(r, 0, 1) ? VR_FRAME_KEY : 0,
                                        .pts = (int64_t)t_rng_range(r, 0, 1u << 30),
                                        .dts = INT64_MIN,
                                        .duration = 3000,
                                        .send_time_us = 1,
                                        .data_len = len,
                                        .data = t_pool + t_rng_range(r, 0, T_POOL_SIZE - len) };
        break;
    }
    }
}

/* Growable byte buffer. */
struct t_buf {
    uint8_t *p;
    size_t len, cap;
};

static inline uint8_t *t_buf_grow(struct t_buf *b, size_t add)
{
    if (b->cap - b->len < add) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap - b->len < add)
            ncap *= 2;
        uint8_t *np = realloc(b->p, ncap);
        if (!np) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        b->p = np;
        b->cap = ncap;
    }
    return b->p + b->len;
}

static inline void t_buf_add(struct t_buf *b, const void *d, size_t n)
{
    memcpy(t_buf_grow(b, n), d, n);
    b->len += n;
}

/* Appends the encoding of m; returns its size (exits on encoder failure:
 * the generator must only produce valid messages). */
static inline size_t t_buf_add_msg(struct t_buf *b, const struct vr_msg *m)
{
    long n = vr_msg_encoded_size(m);
    if (n <= 0) {
        fprintf(stderr, "generator made an invalid %s: %ld\n", vr_msg_type_name(m->type), n);
        exit(2);
    }
    uint8_t *dst = t_buf_grow(b, (size_t)n);
    if (vr_msg_encode(m, dst, (size_t)n) != n) {
        fprintf(stderr, "encode failed\n");
        exit(2);
    }
    b->len += (size_t)n;
    return (size_t)n;
}

#endif
