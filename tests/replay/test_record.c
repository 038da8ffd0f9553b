/*
 * vr_record: writer and reader round trip, the CRC, truncation at every
 * byte, every single-byte corruption detected, caps, time order, and the
 * stand-in client's answers.
 * Usage: test_record SCRATCH_DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/record.h>

#include "../check.h"

static uint64_t fake_now;

static uint64_t fake_clock(void *user)
{
    (void)user;
    return fake_now;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Encodes a PING: a small real protocol message. */
static size_t ping(uint8_t *buf, uint32_t id)
{
    struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_PING;
    m.u.ping.id = id;
    m.u.ping.time_us = 1000 + id;
    long n = vr_msg_encode(&m, buf, 64);
    return n > 0 ? (size_t)n : 0;
}

/* Reads every record; returns the count, *err the final result (0 clean). */
static int read_all(const uint8_t *data, size_t len, int *err, uint64_t *bad_off)
{
    struct vr_record_reader *r;
    *err = vr_record_reader_open_memory(data, len, &r);
    if (*err < 0)
        return -1;
    struct vr_record rec;
    int n = 0, ret;
    while ((ret = vr_record_read(r, &rec)) == 1)
        n++;
    *err = ret;
    if (bad_off)
        *bad_off = vr_record_reader_offset(r);
    if (ret < 0)
        CHECK(vr_record_read(r, &rec) == ret, "errors are sticky");
    vr_record_reader_close(r);
    return n;
}

static void test_crc(void)
{
    CHECK(vr_record_crc32(0, (const uint8_t *)"123456789", 9) == 0xcbf43926u, "check value");
    uint32_t c = vr_record_crc32(0, (const uint8_t *)"1234", 4);
    CHECK(vr_record_crc32(c, (const uint8_t *)"56789", 5) == 0xcbf43926u, "continued");
}

static void test_round_trip(const char *path, uint8_t **file, size_t *file_len)
{
    struct vr_record_writer *w;
    fake_now = 5000000;
    CHECK(vr_record_writer_open(path, VR_RECORD_SIDE_CLIENT, fake_clock, NULL, &w) == 0, "open");
    CHECK(vr_record_write_event(w, VR_RECORD_EV_OPEN) == 0, "event");
    uint8_t buf[64];
    for (uint32_t i = 1; i <= 5; i++) {
        fake_now += 1000;
        size_t n = ping(buf, i);
        CHECK(vr_record_write_msg(w, i & 1 ? VR_RECORD_TO_CLIENT : VR_RECORD_TO_GUEST, buf, n) == 0,
              "msg %u", i);
    }
    /* The tap maps the conn's directions by side: a client receives IN. */
    size_t n = ping(buf, 9);
    vr_record_tap(w, VR_DIR_IN, buf, n);
    vr_record_tap(w, VR_DIR_OUT, buf, n);
    CHECK(vr_record_write_msg(w, VR_RECORD_TO_CLIENT, buf, 0) == -EINVAL, "empty");
    CHECK(vr_record_write_msg(w, 7, buf, n) == -EINVAL, "bad dir");
    CHECK(vr_record_write_event(w, 99) == -EINVAL, "bad event");
    fake_now = 1; /* the clock going back is clamped */
    CHECK(vr_record_write_event(w, VR_RECORD_EV_CLOSE) == 0, "close event");
    CHECK(vr_record_writer_count(w) == 9, "count %llu", (unsigned long long)vr_record_writer_count(w));
    CHECK(vr_record_writer_close(w) == 0, "close");

    *file = slurp(path, file_len);
    CHECK(*file != NULL, "read back");
    if (!*file)
        return;
    struct vr_record_reader *r;
    CHECK(vr_record_reader_open(path, &r) == 0, "reader: %s", vr_record_reader_error(NULL));
    const struct vr_record_info *info = vr_record_reader_info(r);
    CHECK(info->version == 1 && info->side == VR_RECORD_SIDE_CLIENT && info->origin_us == 5000000,
          "info %u %u %llu", info->version, info->side, (unsigned long long)info->origin_us);
    struct vr_record rec;
    CHECK(vr_record_read(r, &rec) == 1 && rec.kind == VR_RECORD_EVENT && rec.event == VR_RECORD_EV_OPEN &&
          rec.time_us == 0 && rec.offset == VR_RECORD_FILE_HEADER_SIZE && rec.index == 0, "open event");
    for (uint32_t i = 1; i <= 5; i++) {
        CHECK(vr_record_read(r, &rec) == 1, "msg %u", i);
        struct vr_msg m;
        CHECK(rec.kind == VR_RECORD_MSG && rec.time_us == 1000 * i &&
              rec.dir == (i & 1 ? VR_RECORD_TO_CLIENT : VR_RECORD_TO_GUEST) &&
              vr_msg_decode(rec.data, rec.len, &m) == 0 && m.type == VR_MSG_PING && m.u.ping.id == i,
              "msg %u contents", i);
    }
    CHECK(vr_record_read(r, &rec) == 1 && rec.dir == VR_RECORD_TO_CLIENT, "tap IN on the client side");
    CHECK(vr_record_read(r, &rec) == 1 && rec.dir == VR_RECORD_TO_GUEST, "tap OUT on the client side");
    CHECK(vr_record_read(r, &rec) == 1 && rec.event == VR_RECORD_EV_CLOSE && rec.time_us == 5000,
          "close event, time clamped (%llu)", (unsigned long long)rec.time_us);
    CHECK(vr_record_read(r, &rec) == 0, "clean end");
    CHECK(vr_record_read(r, &rec) == 0, "still the end");
    CHECK(vr_record_reader_count(r) == 9, "count");
    CHECK(strcmp(vr_record_reader_error(r), "") == 0, "no error");
    vr_record_reader_close(r);
}

static void test_truncation(const uint8_t *file, size_t len)
{
    /* Record boundaries, from a clean read. */
    size_t bounds[32], nb = 0;
    struct vr_record_reader *r;
    if (vr_record_reader_open_memory(file, len, &r) < 0)
        return;
    struct vr_record rec;
    bounds[nb++] = VR_RECORD_FILE_HEADER_SIZE;
    while (vr_record_read(r, &rec) == 1 && nb < 32)
        bounds[nb++] = (size_t)vr_record_reader_offset(r);
    vr_record_reader_close(r);

    for (size_t cut = 0; cut < len; cut++) {
        int err;
        uint64_t off;
        int n = read_all(file, cut, &err, &off);
        if (cut < VR_RECORD_FILE_HEADER_SIZE) {
            CHECK(n < 0 && err == -ENODATA, "cut %zu in the header: %d", cut, err);
            continue;
        }
        /* Every whole record before the cut is read, then a clean end
         * (cut on a boundary) or -ENODATA naming the record cut. */
        int whole = 0;
        bool on_boundary = false;
        for (size_t i = 1; i < nb; i++)
            if (bounds[i] <= cut)
                whole = (int)i;
        for (size_t i = 0; i < nb; i++)
            on_boundary |= bounds[i] == cut;
        CHECK(n == whole, "cut %zu: %d records, want %d", cut, n, whole);
        CHECK(on_boundary ? err == 0 : (err == -ENODATA && off == bounds[whole]),
              "cut %zu: err %d offset %llu", cut, err, (unsigned long long)off);
    }
}

static void test_corruption(const uint8_t *file, size_t len)
{
    uint8_t *copy = malloc(len);
    if (!copy)
        return;
    int clean_err;
    int clean = read_all(file, len, &clean_err, NULL);
    CHECK(clean == 9 && clean_err == 0, "clean read");
    /* Every byte, flipped in two ways: always detected (CRC-32 catches every
     * error within 32 bits), never a wrong record handed out. */
    for (size_t i = 0; i < len; i++) {
        for (int k = 0; k < 2; k++) {
            memcpy(copy, file, len);
            copy[i] ^= k ? 0xff : 0x01;
            int err;
            int n = read_all(copy, len, &err, NULL);
            CHECK(err < 0, "byte %zu ^ %s not detected (%d records)", i, k ? "ff" : "01", n);
            CHECK(n < clean, "byte %zu: %d records", i, n);
        }
    }
    free(copy);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A valid header with a given length and time after the file's header. */
static size_t craft(uint8_t *out, const uint8_t *file, uint32_t length, uint64_t time_us, uint8_t kind,
                    uint8_t dir)
{
    memcpy(out, file, VR_RECORD_FILE_HEADER_SIZE);
    uint8_t *h = out + VR_RECORD_FILE_HEADER_SIZE;
    memset(h, 0, VR_RECORD_HEADER_SIZE);
    h[0] = kind;
    h[1] = dir;
    put32(h + 4, length);
    for (int i = 0; i < 8; i++)
        h[8 + i] = (uint8_t)(time_us >> (8 * i));
    put32(h + 16, vr_record_crc32(0, h, 16));
    return VR_RECORD_FILE_HEADER_SIZE + VR_RECORD_HEADER_SIZE;
}

static void test_caps(const uint8_t *file)
{
    uint8_t buf[256];
    int err;
    uint64_t off;
    /* A huge (but allowed) length in a tiny file: truncated, not an
     * allocation of 16 MiB (the reader grows with the bytes present). */
    size_t n = craft(buf, file, VR_RECORD_MAX_DATA, 0, VR_RECORD_MSG, VR_RECORD_TO_CLIENT);
    memset(buf + n, 0xab, 40);
    CHECK(read_all(buf, n + 40, &err, &off) == 0 && err == -ENODATA && off == VR_RECORD_FILE_HEADER_SIZE,
          "max length, short file: %d", err);
    n = craft(buf, file, VR_RECORD_MAX_DATA + 1, 0, VR_RECORD_MSG, VR_RECORD_TO_CLIENT);
    CHECK(read_all(buf, n, &err, NULL) == 0 && err == -E2BIG, "over the cap: %d", err);
    n = craft(buf, file, 0xffffffffu, 0, VR_RECORD_MSG, VR_RECORD_TO_CLIENT);
    CHECK(read_all(buf, n, &err, NULL) == 0 && err == -E2BIG, "4 GiB length: %d", err);
    n = craft(buf, file, 1, 0, VR_RECORD_MSG, 3);
    CHECK(read_all(buf, n + 5, &err, NULL) == 0 && err == -EBADMSG, "bad direction: %d", err);
    n = craft(buf, file, 2, 0, VR_RECORD_EVENT, 0);
    CHECK(read_all(buf, n + 6, &err, NULL) == 0 && err == -EBADMSG, "short event: %d", err);

    /* An unknown kind is handed out (to be skipped), with its payload CRC. */
    n = craft(buf, file, 3, 7, 9, 0);
    memcpy(buf + n, "abc", 3);
    put32(buf + n + 3, vr_record_crc32(0, (const uint8_t *)"abc", 3));
    struct vr_record_reader *r;
    struct vr_record rec;
    CHECK(vr_record_reader_open_memory(buf, n + 7, &r) == 0, "open");
    CHECK(vr_record_read(r, &rec) == 1 && rec.kind == 9 && rec.len == 3 && rec.time_us == 7, "unknown kind");
    CHECK(vr_record_read(r, &rec) == 0, "end");
    vr_record_reader_close(r);

    /* Time going back: the second record is refused. */
    size_t m = craft(buf, file, 3, 100, 9, 0);
    memcpy(buf + m, "abc", 3);
    put32(buf + m + 3, vr_record_crc32(0, (const uint8_t *)"abc", 3));
    uint8_t *second = buf + m + 7;
    craft(buf + 128, file, 3, 99, 9, 0);
    memcpy(second, buf + 128 + VR_RECORD_FILE_HEADER_SIZE, VR_RECORD_HEADER_SIZE);
    memcpy(second + VR_RECORD_HEADER_SIZE, "abc", 3);
    put32(second + VR_RECORD_HEADER_SIZE + 3, vr_record_crc32(0, (const uint8_t *)"abc", 3));
    CHECK(read_all(buf, m + 7 + VR_RECORD_HEADER_SIZE + 7, &err, &off) == 1 && err == -EBADMSG &&
          off == m + 7 - 0, "time going back: %d at %llu", err, (unsigned long long)off);

    /* File headers. */
    CHECK(vr_record_reader_open_memory((const uint8_t *)"not a recording, clearly, no no no", 34, &r) ==
          -EINVAL, "bad magic");
    CHECK(strstr(vr_record_reader_error(NULL), "magic") != NULL, "says why: %s", vr_record_reader_error(NULL));
    memcpy(buf, file, VR_RECORD_FILE_HEADER_SIZE);
    buf[8] = 2;
    CHECK(vr_record_reader_open_memory(buf, VR_RECORD_FILE_HEADER_SIZE, &r) == -EPROTONOSUPPORT, "version");
    CHECK(vr_record_reader_open_memory(buf, 0, &r) == -ENODATA, "empty");
    CHECK(vr_record_reader_open("/nonexistent/x.vrr", &r) == -ENOENT, "missing file");
}

/* The stand-in client against a bare conn playing the guest. */
static int guest_got[0x30];

static void guest_msg(void *user, const struct vr_msg *m)
{
    (void)user;
    if (m->type < 0x30)
        guest_got[m->type]++;
    if (m->type == VR_MSG_HELLO)
        CHECK(m->u.hello.role == VR_ROLE_CLIENT && (m->u.hello.flags & VR_HELLO_REPLY) &&
              m->u.hello.n_codecs == 5, "peer hello");
    if (m->type == VR_MSG_PONG)
        CHECK(m->u.pong.id == 3 && m->u.pong.ping_time_us == 77 && m->u.pong.time_us == 1234, "pong");
}

static void test_peer(void)
{
    struct vr_record_peer *p;
    struct vr_conn *g;
    struct vr_conn_callbacks cb = { .on_message = guest_msg };
    CHECK(vr_record_peer_create(NULL, &p) == 0, "peer");
    CHECK(vr_conn_create(NULL, &cb, NULL, &g) == 0, "conn");
    static struct vr_msg m;
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_HELLO;
    m.u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1, .role = VR_ROLE_GUEST, .max_streams = 1 };
    snprintf(m.u.hello.software, sizeof(m.u.hello.software), "test");
    CHECK(vr_conn_send(g, &m) == 0, "hello");
    CHECK(vr_record_peer_pump(p, g, 1234) > 0, "pump");
    CHECK(guest_got[VR_MSG_HELLO] == 1, "hello answered");
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_PING;
    m.u.ping = (struct vr_ping){ .id = 3, .time_us = 77 };
    vr_conn_send(g, &m);
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_STREAM_START;
    m.stream_id = 1;
    m.u.start = (struct vr_stream_start){ .codec = VR_CODEC_VP9, .width = 64, .height = 64,
                                          .timebase_num = 1, .timebase_den = 25 };
    vr_conn_send(g, &m);
    static const uint8_t au[3] = { 1, 2, 3 };
    memset(&m, 0, sizeof(m));
    m.type = VR_MSG_FRAME;
    m.stream_id = 1;
    m.u.frame = (struct vr_frame){ .flags = VR_FRAME_KEY, .pts = 0, .dts = 0, .data_len = 3, .data = au };
    vr_conn_send(g, &m);
    CHECK(vr_record_peer_pump(p, g, 1234) > 0, "pump");
    CHECK(guest_got[VR_MSG_PONG] == 1 && guest_got[VR_MSG_ACCEPT] == 1 && guest_got[VR_MSG_FEEDBACK] == 1,
          "pong %d accept %d feedback %d", guest_got[VR_MSG_PONG], guest_got[VR_MSG_ACCEPT],
          guest_got[VR_MSG_FEEDBACK]);
    CHECK(vr_record_peer_pump(p, g, 1234) == 0, "nothing left");
    vr_conn_destroy(g);
    vr_record_peer_destroy(p);
}

int main(int argc, char **argv)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/test_record.vrr", argc > 1 ? argv[1] : ".");
    uint8_t *file = NULL;
    size_t len = 0;
    test_crc();
    test_round_trip(path, &file, &len);
    if (file) {
        test_truncation(file, len);
        test_corruption(file, len);
        test_caps(file);
    }
    test_peer();
    free(file);
    remove(path);
    return CHECK_DONE();
}
