/*
 * Reassembler and sequence-tracker tests: random message streams under
 * random chunkings, resync after garbage, the cap, and seq arithmetic.
 */
#include <errno.h>

#include "videoredir/transport.h"
#include "tutil.h"

struct stream {
    struct t_buf bytes;
    size_t *off, *len; /* message i at bytes.p + off[i], len[i] bytes */
    size_t n;
    size_t garbage;    /* bytes of garbage inserted */
    size_t garbage_runs;
};

static void stream_free(struct stream *s)
{
    free(s->bytes.p);
    free(s->off);
    free(s->len);
    memset(s, 0, sizeof(*s));
}

/* Garbage that can never contain a whole valid header: no "VRDR" except as
 * a bad header (wrong version or oversized length), and partial magics. */
static void add_garbage(struct t_rng *r, struct stream *s)
{
    static const uint8_t bad_version[16] = { 'V', 'R', 'D', 'R', 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t bad_length[16] = { 'V', 'R', 'D', 'R', 1, 0, 2, 0,
                                            0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f };
    size_t before = s->bytes.len;
    switch (t_rng_range(r, 0, 4)) {
    case 0:
        t_buf_add(&s->bytes, bad_version, sizeof(bad_version));
        break;
    case 1:
        t_buf_add(&s->bytes, bad_length, sizeof(bad_length));
        break;
    case 2:
        t_buf_add(&s->bytes, "VRD", t_rng_range(r, 1, 3));
        break;
    default: {
        size_t n = t_rng_range(r, 1, 300);
        uint8_t *p = t_buf_grow(&s->bytes, n);
        t_rng_fill(r, p, n);
        for (size_t i = 0; i < n; i++)
            if (p[i] == 'V')
                p[i] = 'v';
        s->bytes.len += n;
        break;
    }
    }
    s->garbage += s->bytes.len - before;
    s->garbage_runs++;
}

static void make_stream(struct stream *s, uint64_t seed, size_t n, unsigned big_every,
                        unsigned garbage_every)
{
    struct t_rng r;
    t_rng_seed(&r, seed);
    memset(s, 0, sizeof(*s));
    s->off = calloc(n, sizeof(size_t));
    s->len = calloc(n, sizeof(size_t));
    if (!s->off || !s->len)
        exit(2);
    for (size_t i = 0; i < n; i++) {
        if (garbage_every && t_rng_range(&r, 1, garbage_every) == 1)
            add_garbage(&r, s);
        struct vr_msg m;
        t_random_msg(&r, &m, big_every);
        s->off[i] = s->bytes.len;
        s->len[i] = t_buf_add_msg(&s->bytes, &m);
    }
    s->n = n;
}

enum chunking { CHUNK_ONE, CHUNK_RANDOM, CHUNK_64K };

static size_t next_chunk(struct t_rng *r, enum chunking mode)
{
    switch (mode) {
    case CHUNK_ONE:
        return 1;
    case CHUNK_RANDOM:
        return t_rng_range(r, 1, 70000);
    default:
        return 65536;
    }
}

/* Feeds the stream in chunks; every popped message must be the next one. */
static void run_reassembly(const struct stream *s, uint64_t seed, enum chunking mode)
{
    struct vr_reassembler ra;
    CHECK(vr_reassembler_init(&ra, 0) == 0, "init");
    struct t_rng r;
    t_rng_seed(&r, seed ^ 0xabcdef);
    size_t pos = 0, next = 0, errors = 0;
    int mismatches = 0;
    while (pos < s->bytes.len) {
        size_t n = next_chunk(&r, mode);
        if (n > s->bytes.len - pos)
            n = s->bytes.len - pos;
        int ret = vr_reassembler_push(&ra, s->bytes.p + pos, n);
        CHECK(ret == 0, "push %d", ret);
        pos += n;
        const uint8_t *m;
        size_t len;
        while ((ret = vr_reassembler_pop(&ra, &m, &len)) != 0) {
            if (ret < 0) {
                CHECK(ret == -EBADMSG || ret == -EPROTONOSUPPORT || ret == -EMSGSIZE,
                      "pop error %d", ret);
                errors++;
                continue;
            }
            if (next >= s->n || len != s->len[next] ||
                memcmp(m, s->bytes.p + s->off[next], len) != 0) {
                if (mismatches++ < 3)
                    CHECK(0, "seed %llu mode %d: message %zu differs (len %zu)",
                          (unsigned long long)seed, (int)mode, next, len);
            }
            next++;
        }
        CHECK(ra.len - ra.start <= ra.max && ra.cap <= ra.max, "cap exceeded");
    }
    CHECK(next == s->n, "seed %llu mode %d: got %zu of %zu messages", (unsigned long long)seed,
          (int)mode, next, s->n);
    CHECK(ra.resync_bytes == s->garbage, "resync %llu, garbage %zu",
          (unsigned long long)ra.resync_bytes, s->garbage);
    CHECK(errors >= s->garbage_runs, "%zu errors for %zu garbage runs", errors, s->garbage_runs);
    CHECK(ra.len == ra.start, "bytes left over");
    vr_reassembler_finish(&ra);
}

static void test_random_streams(void)
{
    static const uint64_t seeds[] = { 1, 2, 3, 42, 20240601 };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        struct stream s;
        /* Many small messages for the byte-by-byte run. */
        make_stream(&s, seeds[i], 300, 0, 0);
        run_reassembly(&s, seeds[i], CHUNK_ONE);
        run_reassembly(&s, seeds[i], CHUNK_RANDOM);
        run_reassembly(&s, seeds[i], CHUNK_64K);
        stream_free(&s);
        /* Bigger ones, frames up to 256 KiB. */
        make_stream(&s, seeds[i] + 1000, 600, 10, 0);
        run_reassembly(&s, seeds[i], CHUNK_RANDOM);
        run_reassembly(&s, seeds[i] + 7, CHUNK_RANDOM);
        run_reassembly(&s, seeds[i], CHUNK_64K);
        stream_free(&s);
    }
}

static void test_resync(void)
{
    static const uint64_t seeds[] = { 5, 6, 7 };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        struct stream s;
        make_stream(&s, seeds[i], 300, 15, 3);
        CHECK(s.garbage_runs > 50, "too little garbage");
        run_reassembly(&s, seeds[i], CHUNK_ONE);
        run_reassembly(&s, seeds[i], CHUNK_RANDOM);
        run_reassembly(&s, seeds[i], CHUNK_64K);
        stream_free(&s);
    }

    /* Garbage only: everything is skipped, nothing is returned. */
    struct vr_reassembler ra;
    vr_reassembler_init(&ra, 0);
    uint8_t junk[1000];
    memset(junk, 'x', sizeof(junk));
    CHECK(vr_reassembler_push(&ra, junk, sizeof(junk)) == 0, "push");
    const uint8_t *m;
    size_t len;
    CHECK(vr_reassembler_pop(&ra, &m, &len) == -EBADMSG, "bad magic");
    CHECK(vr_reassembler_pop(&ra, &m, &len) == 0, "then empty");
    CHECK(ra.resync_bytes == sizeof(junk), "skipped %llu", (unsigned long long)ra.resync_bytes);

    /* A partial magic at the end is kept until it can be judged. */
    CHECK(vr_reassembler_push(&ra, (const uint8_t *)"xxVR", 4) == 0, "push");
    CHECK(vr_reassembler_pop(&ra, &m, &len) == -EBADMSG, "xx skipped");
    CHECK(vr_reassembler_pop(&ra, &m, &len) == 0, "VR kept");
    CHECK(ra.len - ra.start == 2, "held %zu", ra.len - ra.start);
    CHECK(vr_reassembler_push(&ra, (const uint8_t *)"X", 1) == 0, "push");
    CHECK(vr_reassembler_pop(&ra, &m, &len) == -EBADMSG, "VRX is no magic");
    CHECK(ra.len == ra.start, "all skipped");

    /* Reset forgets a partial message. */
    struct vr_msg ping = { .type = VR_MSG_PING, .u.ping = { 7, 8 } };
    uint8_t raw[64];
    long n = vr_msg_encode(&ping, raw, sizeof(raw));
    CHECK(n > 0, "encode");
    vr_reassembler_push(&ra, raw, 5);
    vr_reassembler_reset(&ra);
    vr_reassembler_push(&ra, raw, (size_t)n);
    CHECK(vr_reassembler_pop(&ra, &m, &len) == 1 && len == (size_t)n, "whole ping after reset");
    vr_reassembler_finish(&ra);
    vr_reassembler_finish(&ra); /* twice is harmless */
}

static void test_cap(void)
{
    struct vr_reassembler ra;
    CHECK(vr_reassembler_init(&ra, 8) == -EINVAL, "max below a header");
    CHECK(vr_reassembler_init(NULL, 0) == -EINVAL, "NULL");
    CHECK(vr_reassembler_init(&ra, 0) == 0 && ra.max == VR_HEADER_SIZE + VR_MAX_PAYLOAD,
          "default max");
    vr_reassembler_finish(&ra);

    CHECK(vr_reassembler_init(&ra, 1000) == 0, "init");
    uint8_t buf[1000];
    struct vr_msg f = { .type = VR_MSG_FRAME, .stream_id = 1 };
    f.u.frame = (struct vr_frame){ .pts = 0, .dts = INT64_MIN, .data_len = 500, .data = buf };
    memset(buf, 0, sizeof(buf));
    uint8_t raw[2000];
    long n = vr_msg_encode(&f, raw, sizeof(raw));
    CHECK(n > 500 && n < 600, "encode %ld", n);
    CHECK(vr_reassembler_push(&ra, raw, (size_t)n) == 0, "first");
    CHECK(vr_reassembler_push(&ra, raw, (size_t)n) == -ENOBUFS, "over the cap");
    CHECK(ra.len - ra.start == (size_t)n, "nothing appended");
    const uint8_t *m;
    size_t len;
    CHECK(vr_reassembler_pop(&ra, &m, &len) == 1 && len == (size_t)n, "pop");
    CHECK(vr_reassembler_push(&ra, raw, (size_t)n) == 0, "room again after pop");
    CHECK(vr_reassembler_pop(&ra, &m, &len) == 1, "pop");
    CHECK(ra.cap <= 1000, "allocation %zu over max", ra.cap);

    /* A message that can never fit is rejected at its header. */
    f.u.frame.data_len = 990;
    n = vr_msg_encode(&f, raw, sizeof(raw));
    CHECK(vr_reassembler_push(&ra, raw, 100) == 0, "push header");
    CHECK(vr_reassembler_pop(&ra, &m, &len) == -EMSGSIZE, "too big for max");
    vr_reassembler_finish(&ra);

    CHECK(vr_reassembler_push(NULL, raw, 1) == -EINVAL, "NULL push");
}

static void test_seq(void)
{
    struct vr_seq_rx s;
    memset(&s, 0xa5, sizeof(s));
    vr_seq_rx_reset(&s);
    CHECK(s.lost == 0 && !s.started, "reset");

    /* First seq is taken as-is, then in order. */
    CHECK(vr_seq_rx_check(&s, 1000) == 0, "first");
    for (uint32_t i = 1001; i < 1100; i++)
        CHECK(vr_seq_rx_check(&s, i) == 0, "in order %u", i);
    /* Gaps. */
    CHECK(vr_seq_rx_check(&s, 1103) == 3, "gap of 3");
    CHECK(vr_seq_rx_check(&s, 1104) == 0, "after gap");
    CHECK(s.lost == 3, "lost %llu", (unsigned long long)s.lost);
    /* Duplicates and older. */
    CHECK(vr_seq_rx_check(&s, 1104) == -EALREADY, "duplicate");
    CHECK(vr_seq_rx_check(&s, 1050) == -EALREADY, "older");
    CHECK(vr_seq_rx_check(&s, 1105) == 0, "expected unchanged by duplicates");
    CHECK(vr_seq_rx_check(&s, 1106u + 0x80000000u) == -EALREADY, "half the circle is behind");

    /* Wrap-around at 2^32. */
    vr_seq_rx_reset(&s);
    CHECK(vr_seq_rx_check(&s, 0xfffffffeu) == 0, "near the end");
    CHECK(vr_seq_rx_check(&s, 0xffffffffu) == 0, "last");
    CHECK(vr_seq_rx_check(&s, 0) == 0, "wrapped");
    CHECK(vr_seq_rx_check(&s, 1) == 0, "after wrap");
    CHECK(vr_seq_rx_check(&s, 0xffffffffu) == -EALREADY, "pre-wrap is old");
    vr_seq_rx_reset(&s);
    CHECK(vr_seq_rx_check(&s, 0xfffffffeu) == 0, "near the end");
    CHECK(vr_seq_rx_check(&s, 2) == 3, "gap across the wrap");
    CHECK(s.lost == 3, "lost across wrap");

    /* Stream start: anything goes again. */
    vr_seq_rx_reset(&s);
    CHECK(vr_seq_rx_check(&s, 0) == 0, "restart at 0");
    CHECK(s.lost == 0, "lost reset with the stream");
    CHECK(vr_seq_rx_check(NULL, 0) == -EINVAL, "NULL");
}

int main(void)
{
    t_pool_init(99);
    test_random_streams();
    test_resync();
    test_cap();
    test_seq();
    if (t_failures) {
        fprintf(stderr, "%d check(s) failed\n", t_failures);
        return 1;
    }
    printf("transport reassembler/seq: all checks passed\n");
    return 0;
}
