/*
 * Session recordings: writer (and vr_conn tap), bounded reader, and the
 * stand-in client used to record without one. The format is
 * protocol/RECORDING.md; every field is written and read one by one,
 * little-endian.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mingw-w64 reads format(printf) as Microsoft's printf; with
 * __USE_MINGW_ANSI_STDIO its C99 one is gnu_printf. */
#ifdef __MINGW_PRINTF_FORMAT
#define VR_PRINTF_FORMAT __MINGW_PRINTF_FORMAT
#else
#define VR_PRINTF_FORMAT printf
#endif

#include "videoredir/record.h"

static const uint8_t file_magic[8] = { 'V', 'R', 'R', 'E', 'C', '\r', '\n', 0x1a };

/* Reader chunk: the buffer grows by at most this much (or by what it holds)
 * per read, so a huge length in a short file allocates little. */
#define READ_CHUNK (64u * 1024u)

/* ---------------------------------------------------------------------- */
/* Little-endian fields and CRC-32.                                         */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

uint32_t vr_record_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
    /* Reflected polynomial 0xEDB88320, four bits at a time: a 16-entry
     * table, no initialisation. */
    static const uint32_t tab[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
        0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
        0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
    };
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ tab[crc & 15];
        crc = (crc >> 4) ^ tab[crc & 15];
    }
    return ~crc;
}

/* ---------------------------------------------------------------------- */
/* Writer.                                                                  */

struct vr_record_writer {
    FILE *f;
    enum vr_record_side side;
    uint64_t (*clock)(void *user);
    void *clock_user;
    uint64_t origin, last;
    uint64_t count;
    int err; /* sticky */
};

static uint64_t writer_now(struct vr_record_writer *w)
{
    uint64_t t = w->clock ? w->clock(w->clock_user) : vr_time_us();
    t = t > w->origin ? t - w->origin : 0;
    if (t < w->last)
        t = w->last; /* times never go backwards in a recording */
    w->last = t;
    return t;
}

static int write_all(struct vr_record_writer *w, const uint8_t *data, size_t len)
{
    if (len && fwrite(data, 1, len, w->f) != len)
        return -(errno ? errno : EIO);
    return 0;
}

int vr_record_writer_open(const char *path, enum vr_record_side side,
                          uint64_t (*clock)(void *user), void *clock_user,
                          struct vr_record_writer **out)
{
    if (!path || !out || (side != VR_RECORD_SIDE_GUEST && side != VR_RECORD_SIDE_CLIENT))
        return -EINVAL;
    struct vr_record_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->side = side;
    w->clock = clock;
    w->clock_user = clock_user;
    w->f = fopen(path, "wb");
    if (!w->f) {
        int e = -errno;
        free(w);
        return e;
    }
    w->origin = clock ? clock(clock_user) : vr_time_us();
    uint8_t h[VR_RECORD_FILE_HEADER_SIZE] = { 0 };
    memcpy(h, file_magic, 8);
    put16(h + 8, VR_RECORD_VERSION);
    put16(h + 10, VR_RECORD_FILE_HEADER_SIZE);
    h[12] = (uint8_t)side;
    put64(h + 16, w->origin);
    put32(h + 28, vr_record_crc32(0, h, 28));
    int ret = write_all(w, h, sizeof(h));
    if (ret == 0 && fflush(w->f) != 0)
        ret = -(errno ? errno : EIO);
    if (ret < 0) {
        fclose(w->f);
        free(w);
        return ret;
    }
    *out = w;
    return 0;
}

static int write_record(struct vr_record_writer *w, uint8_t kind, uint8_t dir, const uint8_t *data,
                        size_t len)
{
    if (w->err)
        return w->err;
    uint8_t h[VR_RECORD_HEADER_SIZE];
    h[0] = kind;
    h[1] = dir;
    put16(h + 2, 0);
    put32(h + 4, (uint32_t)len);
    put64(h + 8, writer_now(w));
    put32(h + 16, vr_record_crc32(0, h, 16));
    uint8_t t[VR_RECORD_TRAILER_SIZE];
    put32(t, vr_record_crc32(0, data, len));
    int ret = write_all(w, h, sizeof(h));
    if (ret == 0)
        ret = write_all(w, data, len);
    if (ret == 0)
        ret = write_all(w, t, sizeof(t));
    /* Out of our buffer at once: a recorder killed later loses nothing. */
    if (ret == 0 && fflush(w->f) != 0)
        ret = -(errno ? errno : EIO);
    if (ret < 0)
        return w->err = ret;
    w->count++;
    return 0;
}

int vr_record_write_msg(struct vr_record_writer *w, enum vr_record_dir dir, const uint8_t *data,
                        size_t len)
{
    if (!w || !data || (dir != VR_RECORD_TO_CLIENT && dir != VR_RECORD_TO_GUEST) || len == 0)
        return -EINVAL;
    if (len > VR_RECORD_MAX_DATA)
        return -E2BIG;
    return write_record(w, VR_RECORD_MSG, (uint8_t)dir, data, len);
}

int vr_record_write_event(struct vr_record_writer *w, uint32_t event)
{
    if (!w || (event != VR_RECORD_EV_OPEN && event != VR_RECORD_EV_CLOSE))
        return -EINVAL;
    uint8_t p[4];
    put32(p, event);
    return write_record(w, VR_RECORD_EVENT, 0, p, sizeof(p));
}

void vr_record_tap(void *user, enum vr_direction dir, const uint8_t *raw, size_t len)
{
    struct vr_record_writer *w = user;
    if (!w)
        return;
    bool to_client = (w->side == VR_RECORD_SIDE_GUEST) == (dir == VR_DIR_OUT);
    int ret = vr_record_write_msg(w, to_client ? VR_RECORD_TO_CLIENT : VR_RECORD_TO_GUEST, raw, len);
    if (ret < 0 && !w->err)
        w->err = ret;
}

uint64_t vr_record_writer_count(const struct vr_record_writer *w)
{
    return w ? w->count : 0;
}

int vr_record_writer_close(struct vr_record_writer *w)
{
    if (!w)
        return 0;
    int ret = w->err;
    if (fclose(w->f) != 0 && ret == 0)
        ret = -(errno ? errno : EIO);
    free(w);
    return ret;
}

/* ---------------------------------------------------------------------- */
/* Reader.                                                                  */

struct vr_record_reader {
    FILE *f;              /* file source, or NULL */
    const uint8_t *mem;   /* memory source */
    size_t mem_len;
    uint64_t pos;         /* offset of the next unread byte */
    uint8_t *buf;         /* file source: payload + trailer */
    size_t cap;
    struct vr_record_info info;
    uint64_t next_off;    /* offset of the next record */
    uint64_t count;
    uint64_t last_time;
    int err;              /* sticky */
    char msg[192];
};

static char open_error[192];

static int fail(struct vr_record_reader *r, int err, const char *fmt, ...)
    __attribute__((format(VR_PRINTF_FORMAT, 3, 4)));

static int fail(struct vr_record_reader *r, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    va_end(ap);
    r->err = err;
    return err;
}

/* Reads up to n bytes (into dst for a file; *src points at them in memory).
 * Returns the number available (< n at the end of the data) or -EIO. */
static long src_read(struct vr_record_reader *r, uint8_t *dst, size_t n, const uint8_t **src)
{
    if (!r->f) {
        size_t left = r->mem_len - (size_t)r->pos;
        size_t k = n < left ? n : left;
        *src = r->mem + r->pos;
        r->pos += k;
        return (long)k;
    }
    size_t k = fread(dst, 1, n, r->f);
    if (k < n && ferror(r->f))
        return -EIO;
    *src = dst;
    r->pos += k;
    return (long)k;
}

static int read_file_header(struct vr_record_reader *r)
{
    uint8_t tmp[VR_RECORD_FILE_HEADER_SIZE];
    const uint8_t *h;
    long n = src_read(r, tmp, sizeof(tmp), &h);
    if (n < 0)
        return fail(r, (int)n, "cannot read the file header: I/O error");
    if (n >= 8 && memcmp(h, file_magic, 8) != 0)
        return fail(r, -EINVAL, "not a videoredir recording (bad magic)");
    if (n < VR_RECORD_FILE_HEADER_SIZE)
        return fail(r, -ENODATA, "truncated: %ld of %d file header bytes", n,
                    VR_RECORD_FILE_HEADER_SIZE);
    uint16_t version = get16(h + 8), hsize = get16(h + 10);
    if (version != VR_RECORD_VERSION)
        return fail(r, -EPROTONOSUPPORT, "recording version %u, this reader knows %u", version,
                    VR_RECORD_VERSION);
    uint32_t crc = vr_record_crc32(0, h, 28);
    if (get32(h + 28) != crc)
        return fail(r, -EBADMSG, "file header CRC mismatch (stored 0x%08" PRIx32
                    ", computed 0x%08" PRIx32 ")", get32(h + 28), crc);
    if (hsize != VR_RECORD_FILE_HEADER_SIZE || h[13] || h[14] || h[15] || get32(h + 24) ||
        (h[12] != VR_RECORD_SIDE_GUEST && h[12] != VR_RECORD_SIDE_CLIENT))
        return fail(r, -EBADMSG, "bad file header (size %u, side %u, reserved fields)", hsize, h[12]);
    r->info.version = version;
    r->info.side = h[12];
    r->info.origin_us = get64(h + 16);
    r->next_off = r->pos;
    return 0;
}

static int reader_new(FILE *f, const uint8_t *mem, size_t len, struct vr_record_reader **out)
{
    struct vr_record_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        if (f)
            fclose(f);
        snprintf(open_error, sizeof(open_error), "out of memory");
        return -ENOMEM;
    }
    r->f = f;
    r->mem = mem;
    r->mem_len = len;
    int ret = read_file_header(r);
    if (ret < 0) {
        snprintf(open_error, sizeof(open_error), "%s", r->msg);
        vr_record_reader_close(r);
        return ret;
    }
    *out = r;
    return 0;
}

int vr_record_reader_open(const char *path, struct vr_record_reader **out)
{
    if (!path || !out)
        return -EINVAL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(open_error, sizeof(open_error), "cannot open %s: %s", path, strerror(e));
        return -e;
    }
    return reader_new(f, NULL, 0, out);
}

int vr_record_reader_open_memory(const uint8_t *data, size_t len, struct vr_record_reader **out)
{
    if ((!data && len) || !out)
        return -EINVAL;
    static const uint8_t empty;
    return reader_new(NULL, data ? data : &empty, len, out);
}

const struct vr_record_info *vr_record_reader_info(const struct vr_record_reader *r)
{
    return &r->info;
}

/* Makes n bytes of payload + trailer available at *out, growing the buffer
 * only as bytes arrive. Returns the bytes available (< n when the data
 * ends) or a negative errno. */
static long read_body(struct vr_record_reader *r, size_t n, const uint8_t **out)
{
    if (!r->f)
        return src_read(r, NULL, n, out);
    size_t have = 0;
    while (have < n) {
        size_t chunk = n - have;
        size_t grow = have > READ_CHUNK ? have : READ_CHUNK;
        if (chunk > grow)
            chunk = grow;
        if (have + chunk > r->cap) {
            size_t cap = r->cap ? r->cap : READ_CHUNK;
            while (cap < have + chunk)
                cap *= 2;
            if (cap > n)
                cap = n;
            uint8_t *nb = realloc(r->buf, cap);
            if (!nb)
                return -ENOMEM;
            r->buf = nb;
            r->cap = cap;
        }
        const uint8_t *src;
        long k = src_read(r, r->buf + have, chunk, &src);
        if (k < 0)
            return k;
        have += (size_t)k;
        if ((size_t)k < chunk)
            break;
    }
    *out = r->buf;
    return (long)have;
}

int vr_record_read(struct vr_record_reader *r, struct vr_record *rec)
{
    if (!r || !rec)
        return -EINVAL;
    if (r->err)
        return r->err;
    uint64_t off = r->next_off;
    uint64_t idx = r->count;
    uint8_t tmp[VR_RECORD_HEADER_SIZE];
    const uint8_t *h;
    long n = src_read(r, tmp, sizeof(tmp), &h);
    if (n < 0)
        return fail(r, (int)n, "record %" PRIu64 " at offset %" PRIu64 ": I/O error", idx, off);
    if (n == 0)
        return 0;
    if (n < VR_RECORD_HEADER_SIZE)
        return fail(r, -ENODATA, "record %" PRIu64 " at offset %" PRIu64 ": truncated "
                    "(%ld of %d header bytes)", idx, off, n, VR_RECORD_HEADER_SIZE);
    uint32_t hcrc = vr_record_crc32(0, h, 16);
    if (get32(h + 16) != hcrc)
        return fail(r, -EBADMSG, "record %" PRIu64 " at offset %" PRIu64 ": header CRC mismatch "
                    "(stored 0x%08" PRIx32 ", computed 0x%08" PRIx32 ")", idx, off, get32(h + 16), hcrc);
    uint8_t kind = h[0], dir = h[1];
    uint32_t len = get32(h + 4);
    uint64_t t = get64(h + 8);
    if (get16(h + 2) != 0)
        return fail(r, -EBADMSG, "record %" PRIu64 " at offset %" PRIu64 ": reserved field not zero",
                    idx, off);
    if (len > VR_RECORD_MAX_DATA)
        return fail(r, -E2BIG, "record %" PRIu64 " at offset %" PRIu64 ": length %" PRIu32
                    " over the cap of %u", idx, off, len, (unsigned)VR_RECORD_MAX_DATA);
    if (t < r->last_time)
        return fail(r, -EBADMSG, "record %" PRIu64 " at offset %" PRIu64 ": time %" PRIu64
                    " us goes back (previous %" PRIu64 " us)", idx, off, t, r->last_time);
    if (kind == VR_RECORD_MSG && ((dir != VR_RECORD_TO_CLIENT && dir != VR_RECORD_TO_GUEST) || len == 0))
        return fail(r, -EBADMSG, "record %" PRIu64 " at offset %" PRIu64 ": message with direction %u"
                    " and length %" PRIu32, idx, off, dir, len);
    if (kind == VR_RECORD_EVENT && (dir != 0 || len < 4))
        return fail(r, -EBADMSG, "record %" PRIu64 " at offset %" PRIu64 ": bad event record", idx, off);

    const uint8_t *body;
    size_t need = (size_t)len + VR_RECORD_TRAILER_SIZE;
    n = read_body(r, need, &body);
    if (n < 0)
        return fail(r, (int)n, "record %" PRIu64 " at offset %" PRIu64 ": %s", idx, off,
                    n == -ENOMEM ? "out of memory" : "I/O error");
    if ((size_t)n < need)
        return fail(r, -ENODATA, "record %" PRIu64 " at offset %" PRIu64 ": truncated (%ld of %zu "
                    "payload and CRC bytes)", idx, off, n, need);
    uint32_t crc = vr_record_crc32(0, body, len);
    if (get32(body + len) != crc)
        return fail(r, -EBADMSG, "record %" PRIu64 " at offset %" PRIu64 ": payload CRC mismatch "
                    "(stored 0x%08" PRIx32 ", computed 0x%08" PRIx32 ")", idx, off, get32(body + len), crc);

    memset(rec, 0, sizeof(*rec));
    rec->kind = kind;
    rec->dir = dir;
    rec->time_us = t;
    rec->data = body;
    rec->len = len;
    rec->event = kind == VR_RECORD_EVENT ? get32(body) : 0;
    rec->index = idx;
    rec->offset = off;
    r->last_time = t;
    r->count++;
    r->next_off = r->pos;
    return 1;
}

uint64_t vr_record_reader_offset(const struct vr_record_reader *r)
{
    return r ? r->next_off : 0;
}

uint64_t vr_record_reader_count(const struct vr_record_reader *r)
{
    return r ? r->count : 0;
}

const char *vr_record_reader_error(const struct vr_record_reader *r)
{
    if (!r)
        return open_error;
    return r->err ? r->msg : "";
}

void vr_record_reader_close(struct vr_record_reader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    free(r->buf);
    free(r);
}

/* ---------------------------------------------------------------------- */
/* Stand-in client.                                                         */

struct peer_stream {
    bool used;
    uint32_t id;
    uint32_t frames, last_seq;
};

struct vr_record_peer {
    struct vr_conn *conn;
    char software[VR_MAX_STRING + 1];
    bool established;
    uint64_t rx_base; /* conn bytes_in where the guest's count starts */
    uint64_t now;
    struct peer_stream streams[VR_MAX_STREAMS];
    struct vr_msg out; /* 4 KiB (a region): not on the stack */
};

static uint64_t peer_bytes_in(const struct vr_record_peer *p)
{
    struct vr_conn_stats st;
    vr_conn_get_stats(p->conn, &st);
    return st.bytes_in;
}

static struct vr_msg *peer_msg(struct vr_record_peer *p, uint16_t type, uint32_t id)
{
    memset(&p->out, 0, sizeof(p->out));
    p->out.type = type;
    p->out.stream_id = id;
    return &p->out;
}

static struct peer_stream *peer_find(struct vr_record_peer *p, uint32_t id, bool create)
{
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (p->streams[i].used && p->streams[i].id == id)
            return &p->streams[i];
    if (!create)
        return NULL;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (!p->streams[i].used) {
            p->streams[i] = (struct peer_stream){ .used = true, .id = id };
            return &p->streams[i];
        }
    return NULL;
}

static void peer_hello(struct vr_record_peer *p, const struct vr_hello *h)
{
    if (h->role != VR_ROLE_GUEST)
        return;
    if (!(h->flags & VR_HELLO_REPLY)) {
        struct vr_msg *m = peer_msg(p, VR_MSG_HELLO, 0);
        struct vr_hello *o = &m->u.hello;
        o->version_min = VR_PROTO_VERSION_MIN;
        o->version_max = VR_PROTO_VERSION_MAX;
        o->role = VR_ROLE_CLIENT;
        o->flags = VR_HELLO_REPLY;
        o->features = VR_FEATURE_REGION | VR_FEATURE_FEEDBACK;
        /* 8, the VR_MAX_STREAMS of the first releases: recordings made
         * again stay byte for byte the committed ones (replay-convert). */
        o->max_streams = 8;
        for (uint16_t c = VR_CODEC_H264; c < VR_CODEC_COUNT_; c++)
            o->codecs[o->n_codecs++] = (struct vr_codec_cap){ .codec = c, .flags = 0,
                                                              .max_width = VR_MAX_DIMENSION,
                                                              .max_height = VR_MAX_DIMENSION };
        snprintf(o->software, sizeof(o->software), "%s", p->software);
        memset(p->streams, 0, sizeof(p->streams));
        vr_conn_send(p->conn, m);
    }
    p->established = true;
}

static void peer_on_message(void *user, const struct vr_msg *msg)
{
    struct vr_record_peer *p = user;
    if (msg->type == VR_MSG_HELLO) {
        /* The guest counts from its hello: rx_base was taken before the
         * chunk that carried it (vr_record_peer_pump). */
        peer_hello(p, &msg->u.hello);
        return;
    }
    if (!p->established)
        return;
    struct vr_msg *m;
    struct peer_stream *s;
    switch (msg->type) {
    case VR_MSG_PING:
        m = peer_msg(p, VR_MSG_PONG, 0);
        m->u.pong.id = msg->u.ping.id;
        m->u.pong.ping_time_us = msg->u.ping.time_us;
        m->u.pong.time_us = p->now;
        vr_conn_send(p->conn, m);
        break;
    case VR_MSG_STREAM_START:
        s = peer_find(p, msg->stream_id, true);
        if (!s) {
            m = peer_msg(p, VR_MSG_REJECT, msg->stream_id);
            m->u.reject.reason = VR_REASON_TOO_MANY;
            snprintf(m->u.reject.message, sizeof(m->u.reject.message), "too many streams");
        } else {
            s->frames = s->last_seq = 0;
            m = peer_msg(p, VR_MSG_ACCEPT, msg->stream_id);
            snprintf(m->u.accept.decoder, sizeof(m->u.accept.decoder), "recorded (not decoded)");
        }
        vr_conn_send(p->conn, m);
        break;
    case VR_MSG_FRAME: {
        s = peer_find(p, msg->stream_id, false);
        if (!s)
            break;
        s->frames++;
        s->last_seq = msg->u.frame.seq;
        uint64_t in = peer_bytes_in(p);
        m = peer_msg(p, VR_MSG_FEEDBACK, msg->stream_id);
        m->u.feedback.bytes_received = in > p->rx_base ? in - p->rx_base : 0;
        m->u.feedback.last_seq = s->last_seq;
        m->u.feedback.decoded = s->frames;
        vr_conn_send(p->conn, m);
        break;
    }
    case VR_MSG_STREAM_STOP:
        s = peer_find(p, msg->stream_id, false);
        if (s)
            s->used = false;
        break;
    default:
        break;
    }
}

int vr_record_peer_create(const char *software, struct vr_record_peer **out)
{
    if (!out)
        return -EINVAL;
    struct vr_record_peer *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    snprintf(p->software, sizeof(p->software), "%s", software ? software : "videoredir record peer");
    struct vr_conn_callbacks cb = { .on_message = peer_on_message };
    int ret = vr_conn_create(NULL, &cb, p, &p->conn);
    if (ret < 0) {
        free(p);
        return ret;
    }
    *out = p;
    return 0;
}

void vr_record_peer_destroy(struct vr_record_peer *p)
{
    if (!p)
        return;
    vr_conn_destroy(p->conn);
    free(p);
}

void vr_record_peer_reset(struct vr_record_peer *p)
{
    if (!p)
        return;
    vr_conn_reset(p->conn);
    p->established = false;
    memset(p->streams, 0, sizeof(p->streams));
}

long vr_record_peer_pump(struct vr_record_peer *p, struct vr_conn *guest, uint64_t now_us)
{
    if (!p || !guest)
        return -EINVAL;
    p->now = now_us;
    long moved = 0;
    /* Bounded: hellos do not ping-pong (REPLY), every answer is to input. */
    for (int round = 0; round < 1024; round++) {
        bool any = false;
        const uint8_t *data;
        size_t n;
        while ((n = vr_conn_out_peek(guest, &data)) > 0) {
            if (!p->established)
                p->rx_base = peer_bytes_in(p);
            int ret = vr_conn_feed(p->conn, data, n);
            vr_conn_out_consume(guest, n);
            if (ret < 0)
                return ret;
            moved += (long)n;
            any = true;
        }
        while ((n = vr_conn_out_peek(p->conn, &data)) > 0) {
            int ret = vr_conn_feed(guest, data, n);
            vr_conn_out_consume(p->conn, n);
            if (ret < 0)
                return ret;
            moved += (long)n;
            any = true;
        }
        if (!any)
            break;
    }
    return moved;
}
