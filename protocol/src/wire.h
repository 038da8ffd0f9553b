/*
 * Bounded little-endian reader and writer for the wire format.
 *
 * Both carry a sticky error flag: once a read or write would cross the end of
 * the buffer, the flag is set, the cursor is parked at the end, reads return 0
 * and writes store nothing. Callers therefore check the flag once after a run
 * of fields instead of after every field.
 */
#ifndef VR_PROTOCOL_WIRE_H
#define VR_PROTOCOL_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct reader {
    const uint8_t *p, *end;
    int err;
};

struct writer {
    uint8_t *p, *end;
    int err;
};

static inline void reader_init(struct reader *r, const uint8_t *buf, size_t len)
{
    r->p = buf;
    r->end = buf + len;
    r->err = 0;
}

static inline size_t reader_left(const struct reader *r)
{
    return (size_t)(r->end - r->p);
}

/* Returns a pointer to the next n bytes and advances, or NULL (and sets the
 * error flag) if fewer than n remain. */
static inline const uint8_t *read_bytes(struct reader *r, size_t n)
{
    if (r->err || reader_left(r) < n) {
        r->err = 1;
        r->p = r->end;
        return NULL;
    }
    const uint8_t *q = r->p;
    r->p += n;
    return q;
}

static inline uint8_t read_u8(struct reader *r)
{
    const uint8_t *q = read_bytes(r, 1);
    return q ? q[0] : 0;
}

static inline uint16_t read_u16(struct reader *r)
{
    const uint8_t *q = read_bytes(r, 2);
    return q ? (uint16_t)(q[0] | (uint16_t)q[1] << 8) : 0;
}

static inline uint32_t read_u32(struct reader *r)
{
    const uint8_t *q = read_bytes(r, 4);
    if (!q)
        return 0;
    return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
           (uint32_t)q[3] << 24;
}

static inline uint64_t read_u64(struct reader *r)
{
    uint64_t lo = read_u32(r);
    uint64_t hi = read_u32(r);
    return lo | hi << 32;
}

/* Two's complement reinterpretation without implementation-defined casts. */
static inline int32_t read_i32(struct reader *r)
{
    uint32_t v = read_u32(r);
    int32_t s;
    memcpy(&s, &v, sizeof(s));
    return s;
}

static inline int64_t read_i64(struct reader *r)
{
    uint64_t v = read_u64(r);
    int64_t s;
    memcpy(&s, &v, sizeof(s));
    return s;
}

static inline void writer_init(struct writer *w, uint8_t *buf, size_t cap)
{
    w->p = buf;
    w->end = buf + cap;
    w->err = 0;
}

/* Reserves n bytes and returns where to store them, or NULL (error flag set)
 * if they do not fit. */
static inline uint8_t *write_reserve(struct writer *w, size_t n)
{
    if (w->err || (size_t)(w->end - w->p) < n) {
        w->err = 1;
        w->p = w->end;
        return NULL;
    }
    uint8_t *q = w->p;
    w->p += n;
    return q;
}

static inline void write_bytes(struct writer *w, const void *src, size_t n)
{
    uint8_t *q = write_reserve(w, n);
    if (q && n)
        memcpy(q, src, n);
}

static inline void write_u8(struct writer *w, uint8_t v)
{
    uint8_t *q = write_reserve(w, 1);
    if (q)
        q[0] = v;
}

static inline void write_u16(struct writer *w, uint16_t v)
{
    uint8_t *q = write_reserve(w, 2);
    if (q) {
        q[0] = (uint8_t)v;
        q[1] = (uint8_t)(v >> 8);
    }
}

static inline void write_u32(struct writer *w, uint32_t v)
{
    uint8_t *q = write_reserve(w, 4);
    if (q) {
        q[0] = (uint8_t)v;
        q[1] = (uint8_t)(v >> 8);
        q[2] = (uint8_t)(v >> 16);
        q[3] = (uint8_t)(v >> 24);
    }
}

static inline void write_u64(struct writer *w, uint64_t v)
{
    write_u32(w, (uint32_t)v);
    write_u32(w, (uint32_t)(v >> 32));
}

static inline void write_i32(struct writer *w, int32_t v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof(u));
    write_u32(w, u);
}

static inline void write_i64(struct writer *w, int64_t v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    write_u64(w, u);
}

#endif
