/*
 * Elementary-stream demuxer (see es.h): Annex B H.264/HEVC and IVF, in plain
 * C over a file read into memory. Every length is checked against what is
 * left; the bit reader has a sticky error flag.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "es.h"

/* mingw-w64 reads format(printf) as Microsoft's printf; with
 * __USE_MINGW_ANSI_STDIO its C99 one is gnu_printf. */
#ifdef __MINGW_PRINTF_FORMAT
#define VR_PRINTF_FORMAT __MINGW_PRINTF_FORMAT
#else
#define VR_PRINTF_FORMAT printf
#endif

#define MAX_FILE (1u << 30)
#define IVF_HEADER 32u
#define IVF_FRAME_HEADER 12u
/* Annex B files carry no rate: libavformat assumes 25 fps, so do we. */
#define DEFAULT_FPS 25u
/* Largest IVF timestamp taken (2^52: years at any sane time base). */
#define MAX_TS (1ull << 52)

enum es_kind { ES_ANNEXB, ES_IVF };

struct vr_es {
    enum es_kind kind;
    uint8_t *data;
    size_t len, pos, first; /* first: offset of the first access unit */
    struct vr_stream_start ss;
    int64_t index, base;    /* access units read in this pass; timestamp offset of the pass */
    int64_t last_end;       /* IVF: end of the last frame read (pts + 1) */
    char error[160];
};

static void set_error(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(VR_PRINTF_FORMAT, 3, 4)));
static void set_error(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* ---- bit reader over an RBSP (emulation prevention removed) ------------ */

struct bits {
    const uint8_t *p;
    size_t n, pos; /* bytes, bit position */
    bool err;
};

static uint32_t get_bits(struct bits *b, unsigned count)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < count; i++) {
        if (b->pos >= b->n * 8) {
            b->err = true;
            return 0;
        }
        v = v << 1 | ((b->p[b->pos >> 3] >> (7 - (b->pos & 7))) & 1u);
        b->pos++;
    }
    return v;
}

static void skip_bits(struct bits *b, size_t count)
{
    if (count > b->n * 8 - b->pos) {
        b->err = true;
        b->pos = b->n * 8;
        return;
    }
    b->pos += count;
}

/* ue(v), capped at 32 leading zeros (a longer one is an error). */
static uint32_t get_ue(struct bits *b)
{
    unsigned zeros = 0;
    while (!b->err && get_bits(b, 1) == 0) {
        if (++zeros > 31) {
            b->err = true;
            return 0;
        }
    }
    if (b->err)
        return 0;
    return (uint32_t)((1ull << zeros) - 1 + get_bits(b, zeros));
}

static int32_t get_se(struct bits *b)
{
    uint32_t k = get_ue(b);
    return (k & 1) ? (int32_t)((k + 1) / 2) : -(int32_t)(k / 2);
}

/* Copies a NAL's payload without emulation prevention bytes (at most cap). */
static size_t unescape(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    size_t o = 0, zeros = 0;
    for (size_t i = 0; i < n && o < cap; i++) {
        if (zeros >= 2 && src[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = src[i] == 0 ? zeros + 1 : 0;
        dst[o++] = src[i];
    }
    return o;
}

/* ---- Annex B ------------------------------------------------------------ */

/* Finds the next 00 00 01 at or after from; returns its offset or len. */
static size_t find_start(const uint8_t *p, size_t len, size_t from)
{
    for (size_t i = from; i + 3 <= len; i++) {
        if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1)
            return i;
    }
    return len;
}

/* One NAL: its header at hdr (after the start code), bytes up to end. */
struct nal {
    size_t hdr, end; /* header (after 00 00 01), end (zero bytes before the next start code excluded) */
};

static bool next_nal(const struct vr_es *e, size_t from, struct nal *n)
{
    size_t sc = find_start(e->data, e->len, from);
    if (sc >= e->len)
        return false;
    n->hdr = sc + 3;
    size_t nx = find_start(e->data, e->len, n->hdr);
    /* Zero bytes before the next start code belong to it (4-byte form) or
     * are trailing_zero_8bits: not part of this NAL. */
    while (nx < e->len && nx > n->hdr && e->data[nx - 1] == 0)
        nx--;
    n->end = nx;
    return n->hdr < e->len;
}

static bool is_hevc_header(const uint8_t *h, size_t n)
{
    /* forbidden_zero_bit 0, nuh_layer_id 0, nuh_temporal_id_plus1 1. */
    if (n < 2 || (h[0] & 0x81) != 0 || h[1] != 1)
        return false;
    unsigned t = (h[0] >> 1) & 0x3f;
    return t == 32 || t == 33 || t == 34 || t == 35 || t == 39;
}

static bool is_h264_header(const uint8_t *h, size_t n)
{
    if (n < 1 || (h[0] & 0x80))
        return false;
    unsigned t = h[0] & 0x1f;
    return t == 7 || t == 9 || t == 6;
}

/* Parses an H.264 SPS RBSP (after the NAL header byte) for the picture size. */
static bool parse_h264_sps(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h)
{
    struct bits b = { p, n, 0, false };
    unsigned profile = get_bits(&b, 8);
    skip_bits(&b, 16); /* constraint flags, level */
    get_ue(&b);        /* seq_parameter_set_id */
    unsigned chroma = 1;
    static const unsigned high[] = { 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135 };
    bool is_high = false;
    for (size_t i = 0; i < sizeof(high) / sizeof(high[0]); i++)
        is_high |= profile == high[i];
    if (is_high) {
        chroma = get_ue(&b);
        if (chroma > 3)
            return false;
        if (chroma == 3)
            skip_bits(&b, 1); /* separate_colour_plane_flag */
        get_ue(&b);           /* bit_depth_luma_minus8 */
        get_ue(&b);           /* bit_depth_chroma_minus8 */
        skip_bits(&b, 1);     /* qpprime_y_zero_transform_bypass_flag */
        if (get_bits(&b, 1)) { /* seq_scaling_matrix_present_flag */
            for (unsigned i = 0; i < (chroma == 3 ? 12u : 8u) && !b.err; i++) {
                if (!get_bits(&b, 1))
                    continue;
                int last = 8, next = 8;
                for (unsigned j = 0; j < (i < 6 ? 16u : 64u) && !b.err; j++) {
                    if (next != 0) {
                        int32_t delta = get_se(&b); /* delta_scale: -128..127 */
                        if (delta < -128 || delta > 127)
                            return false;
                        next = (last + delta + 256) % 256;
                    }
                    last = next == 0 ? last : next;
                }
            }
        }
    }
    get_ue(&b); /* log2_max_frame_num_minus4 */
    uint32_t poc_type = get_ue(&b);
    if (poc_type == 0) {
        get_ue(&b);
    } else if (poc_type == 1) {
        skip_bits(&b, 1);
        get_se(&b);
        get_se(&b);
        uint32_t cycle = get_ue(&b);
        if (cycle > 255)
            return false;
        for (uint32_t i = 0; i < cycle; i++)
            get_se(&b);
    } else if (poc_type != 2) {
        return false;
    }
    get_ue(&b);       /* max_num_ref_frames */
    skip_bits(&b, 1); /* gaps_in_frame_num_value_allowed_flag */
    uint32_t mbs_w = get_ue(&b) + 1, map_h = get_ue(&b) + 1;
    unsigned frame_mbs_only = get_bits(&b, 1);
    if (!frame_mbs_only)
        skip_bits(&b, 1); /* mb_adaptive_frame_field_flag */
    skip_bits(&b, 1);     /* direct_8x8_inference_flag */
    uint32_t cl = 0, cr = 0, ct = 0, cb = 0;
    if (get_bits(&b, 1)) {
        cl = get_ue(&b);
        cr = get_ue(&b);
        ct = get_ue(&b);
        cb = get_ue(&b);
    }
    if (b.err || mbs_w > VR_MAX_DIMENSION / 16 || map_h > VR_MAX_DIMENSION / 16)
        return false;
    uint64_t width = (uint64_t)mbs_w * 16, height = (uint64_t)map_h * 16 * (2 - frame_mbs_only);
    uint64_t ux = chroma == 1 || chroma == 2 ? 2 : 1;
    uint64_t uy = (chroma == 1 ? 2 : 1) * (2 - frame_mbs_only);
    uint64_t cw = ux * ((uint64_t)cl + cr), ch = uy * ((uint64_t)ct + cb);
    if (cw >= width || ch >= height)
        return false;
    *w = (uint32_t)(width - cw);
    *h = (uint32_t)(height - ch);
    return *w >= 1 && *h >= 1 && *w <= VR_MAX_DIMENSION && *h <= VR_MAX_DIMENSION;
}

/* Parses an HEVC SPS RBSP (after the 2-byte NAL header) for the picture size. */
static bool parse_hevc_sps(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h)
{
    struct bits b = { p, n, 0, false };
    skip_bits(&b, 4); /* sps_video_parameter_set_id */
    unsigned sub = get_bits(&b, 3);
    skip_bits(&b, 1); /* sps_temporal_id_nesting_flag */
    /* profile_tier_level(1, sub): general profile 88 bits, level 8 bits. */
    skip_bits(&b, 96);
    bool prof[8] = { false }, lvl[8] = { false };
    for (unsigned i = 0; i < sub; i++) {
        prof[i] = get_bits(&b, 1);
        lvl[i] = get_bits(&b, 1);
    }
    if (sub > 0)
        skip_bits(&b, 2 * (8 - sub));
    for (unsigned i = 0; i < sub; i++) {
        if (prof[i])
            skip_bits(&b, 88);
        if (lvl[i])
            skip_bits(&b, 8);
    }
    get_ue(&b); /* sps_seq_parameter_set_id */
    uint32_t chroma = get_ue(&b);
    if (chroma > 3)
        return false;
    if (chroma == 3)
        skip_bits(&b, 1);
    uint32_t width = get_ue(&b), height = get_ue(&b);
    uint64_t cl = 0, cr = 0, ct = 0, cb = 0;
    if (get_bits(&b, 1)) {
        cl = get_ue(&b);
        cr = get_ue(&b);
        ct = get_ue(&b);
        cb = get_ue(&b);
    }
    if (b.err)
        return false;
    uint64_t ux = chroma == 1 || chroma == 2 ? 2 : 1, uy = chroma == 1 ? 2 : 1;
    uint64_t cw = ux * (cl + cr), ch = uy * (ct + cb);
    if (cw >= width || ch >= height)
        return false;
    *w = (uint32_t)(width - cw);
    *h = (uint32_t)(height - ch);
    return *w >= 1 && *h >= 1 && *w <= VR_MAX_DIMENSION && *h <= VR_MAX_DIMENSION;
}

static int open_annexb(struct vr_es *e, char *err, size_t errlen)
{
    struct nal n;
    if (!next_nal(e, 0, &n)) {
        set_error(err, errlen, "no start code: not an Annex B stream");
        return -ENOTSUP;
    }
    const uint8_t *h = e->data + n.hdr;
    size_t hl = n.end - n.hdr;
    e->ss.codec = is_hevc_header(h, hl) ? VR_CODEC_HEVC : is_h264_header(h, hl) ? VR_CODEC_H264
                                                                               : VR_CODEC_NONE;
    if (e->ss.codec == VR_CODEC_NONE) {
        set_error(err, errlen, "the first NAL unit is neither H.264 nor HEVC");
        return -ENOTSUP;
    }
    e->first = 0; /* vr_es_probe: the file begins with a start code */
    /* The first SPS gives the size. */
    bool hevc = e->ss.codec == VR_CODEC_HEVC;
    for (size_t from = 0; next_nal(e, from, &n); from = n.end) {
        const uint8_t *nh = e->data + n.hdr;
        size_t nl = n.end - n.hdr;
        unsigned t = hevc ? (nh[0] >> 1) & 0x3f : nh[0] & 0x1f;
        size_t skip = hevc ? 2 : 1;
        if (t != (hevc ? 33u : 7u) || nl <= skip)
            continue;
        uint8_t rbsp[512];
        size_t rl = unescape(nh + skip, nl - skip, rbsp, sizeof(rbsp));
        bool ok = hevc ? parse_hevc_sps(rbsp, rl, &e->ss.width, &e->ss.height)
                       : parse_h264_sps(rbsp, rl, &e->ss.width, &e->ss.height);
        if (!ok) {
            set_error(err, errlen, "unusable %s sequence parameter set", hevc ? "HEVC" : "H.264");
            return -EINVAL;
        }
        break;
    }
    if (!e->ss.width) {
        set_error(err, errlen, "no sequence parameter set in the stream");
        return -EINVAL;
    }
    e->ss.flags = VR_STREAM_ANNEXB;
    e->ss.timebase_num = 1;
    e->ss.timebase_den = DEFAULT_FPS;
    e->ss.fps_num = DEFAULT_FPS;
    e->ss.fps_den = 1;
    return 0;
}

/* Does this NAL start a new access unit, given the current one has a
 * picture (H.264 7.4.1.2.3, HEVC 7.4.2.4.4)? Sets *vcl and *key. */
static bool starts_au(bool hevc, const uint8_t *h, size_t n, bool *vcl, bool *key)
{
    *vcl = *key = false;
    if (hevc) {
        if (n < 3)
            return false;
        unsigned t = (h[0] >> 1) & 0x3f;
        if (t < 32) {
            *vcl = true;
            *key = t >= 16 && t <= 23;
            return (h[2] & 0x80) != 0; /* first_slice_segment_in_pic_flag */
        }
        return (t >= 32 && t <= 35) || t == 39 || (t >= 41 && t <= 44) || (t >= 48 && t <= 55);
    }
    if (n < 2)
        return false;
    unsigned t = h[0] & 0x1f;
    if (t == 1 || t == 5) {
        *vcl = true;
        *key = t == 5;
        return (h[1] & 0x80) != 0; /* first_mb_in_slice == 0 */
    }
    return t == 6 || t == 7 || t == 8 || t == 9 || (t >= 14 && t <= 18);
}

static int read_annexb(struct vr_es *e, struct vr_au *au)
{
    bool hevc = e->ss.codec == VR_CODEC_HEVC;
    struct nal n;
    if (e->pos >= e->len || !next_nal(e, e->pos, &n))
        return 0;
    /* An access unit runs up to the start code of the next one, split where
     * libavformat's parsers split: H.264 before a 4-byte start code
     * (00 00 00 01), HEVC at its 00 00 01 (the zero byte stays behind). */
    size_t begin = e->pos, end = e->len;
    bool have_vcl = false, key = false;
    for (;;) {
        bool vcl, k;
        bool starts = starts_au(hevc, e->data + n.hdr, n.end - n.hdr, &vcl, &k);
        if (have_vcl && starts) {
            end = n.hdr - 3;
            if (!hevc && end > begin && e->data[end - 1] == 0)
                end--;
            break;
        }
        have_vcl |= vcl;
        key |= k;
        if (!next_nal(e, n.end, &n))
            break;
    }
    e->pos = end;
    if (end - begin > VR_MAX_FRAME_DATA) {
        snprintf(e->error, sizeof(e->error), "access unit of %zu bytes is over the limit", end - begin);
        return -EFBIG;
    }
    memset(au, 0, sizeof(*au));
    au->data = e->data + begin;
    au->len = (uint32_t)(end - begin);
    au->flags = key ? VR_FRAME_KEY : 0;
    au->pts = INT64_MIN;
    au->dts = e->base + e->index;
    au->duration = 1;
    e->index++;
    return 1;
}

/* ---- IVF ---------------------------------------------------------------- */

static int open_ivf(struct vr_es *e, char *err, size_t errlen)
{
    const uint8_t *p = e->data;
    if (e->len < IVF_HEADER || rd16(p + 6) < IVF_HEADER || rd16(p + 6) > e->len) {
        set_error(err, errlen, "truncated IVF header");
        return -EINVAL;
    }
    if (!memcmp(p + 8, "VP80", 4))
        e->ss.codec = VR_CODEC_VP8;
    else if (!memcmp(p + 8, "VP90", 4))
        e->ss.codec = VR_CODEC_VP9;
    else if (!memcmp(p + 8, "AV01", 4))
        e->ss.codec = VR_CODEC_AV1;
    else {
        set_error(err, errlen, "IVF with codec '%.4s', not VP8, VP9 or AV1", (const char *)p + 8);
        return -ENOTSUP;
    }
    e->ss.width = rd16(p + 12);
    e->ss.height = rd16(p + 14);
    /* The header's rate is the time base's reciprocal: den/num. */
    uint32_t rate = rd32(p + 16), scale = rd32(p + 20);
    if (!e->ss.width || !e->ss.height || !rate || !scale) {
        set_error(err, errlen, "IVF header without size or time base");
        return -EINVAL;
    }
    e->ss.timebase_num = scale;
    e->ss.timebase_den = rate;
    e->ss.fps_num = rate;
    e->ss.fps_den = scale;
    e->first = rd16(p + 6);
    return 0;
}

static bool ivf_key(enum vr_codec c, const uint8_t *p, size_t n)
{
    if (n == 0)
        return false;
    if (c == VR_CODEC_VP8)
        return (p[0] & 1) == 0;
    if (c == VR_CODEC_VP9) {
        struct bits b = { p, n, 0, false };
        if (get_bits(&b, 2) != 2)
            return false;
        unsigned profile = get_bits(&b, 1);
        profile |= get_bits(&b, 1) << 1;
        if (profile == 3)
            skip_bits(&b, 1);
        if (get_bits(&b, 1)) /* show_existing_frame */
            return false;
        return get_bits(&b, 1) == 0 && !b.err; /* frame_type KEY_FRAME */
    }
    /* AV1: a temporal unit that carries a sequence header starts a new
     * coded video sequence, i.e. a key frame. Walk its OBUs. */
    size_t i = 0;
    while (i < n) {
        unsigned type = (p[i] >> 3) & 0xf;
        bool ext = p[i] & 4, has_size = p[i] & 2;
        size_t h = 1 + (ext ? 1 : 0);
        if (type == 1)
            return true;
        if (!has_size)
            return false;
        uint64_t sz = 0;
        size_t k = i + h;
        for (unsigned s = 0; s < 8 && k < n; s++, k++) {
            sz |= (uint64_t)(p[k] & 0x7f) << (7 * s);
            if (!(p[k] & 0x80)) {
                k++;
                break;
            }
        }
        if (sz > n - (k < n ? k : n))
            return false;
        i = k + (size_t)sz;
    }
    return false;
}

static int read_ivf(struct vr_es *e, struct vr_au *au)
{
    if (e->pos >= e->len)
        return 0;
    if (e->len - e->pos < IVF_FRAME_HEADER) {
        snprintf(e->error, sizeof(e->error), "truncated IVF frame header at %zu", e->pos);
        return -EINVAL;
    }
    uint32_t size = rd32(e->data + e->pos);
    uint64_t pts = rd32(e->data + e->pos + 4) | (uint64_t)rd32(e->data + e->pos + 8) << 32;
    /* Bounded so that pts + the shift of later passes never overflows. */
    if (pts > MAX_TS || e->base > INT64_MAX / 2) {
        snprintf(e->error, sizeof(e->error), "IVF timestamp out of range at %zu", e->pos);
        return -EINVAL;
    }
    e->pos += IVF_FRAME_HEADER;
    if (size == 0 || size > VR_MAX_FRAME_DATA || size > e->len - e->pos) {
        snprintf(e->error, sizeof(e->error), "bad IVF frame size %u at %zu", size, e->pos);
        return -EINVAL;
    }
    memset(au, 0, sizeof(*au));
    au->data = e->data + e->pos;
    au->len = size;
    au->flags = ivf_key(e->ss.codec, au->data, size) ? VR_FRAME_KEY : 0;
    int64_t t = (int64_t)pts + e->base;
    au->pts = au->dts = t;
    au->duration = 0;
    if (t + 1 > e->last_end)
        e->last_end = t + 1;
    e->pos += size;
    e->index++;
    return 1;
}

/* ---- common ------------------------------------------------------------- */

bool vr_es_probe(const uint8_t *p, size_t n)
{
    if (n >= 4 && !memcmp(p, "DKIF", 4))
        return true;
    size_t sc;
    if (n >= 4 && p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 1)
        sc = 4;
    else if (n >= 3 && p[0] == 0 && p[1] == 0 && p[2] == 1)
        sc = 3;
    else
        return false;
    return is_hevc_header(p + sc, n - sc) || is_h264_header(p + sc, n - sc);
}

int vr_es_open(const char *path, struct vr_es **out, char *err, size_t errlen)
{
    if (!path || !out)
        return -EINVAL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int r = -errno;
        set_error(err, errlen, "%s: %s", path, strerror(errno));
        return r;
    }
    size_t cap = 1u << 20;
    uint8_t *buf = malloc(cap);
    int ret = 0;
    if (!buf) {
        ret = -ENOMEM;
        set_error(err, errlen, "out of memory");
        goto fail;
    }
    size_t len = 0, got;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            if (cap >= MAX_FILE) {
                ret = -EFBIG;
                set_error(err, errlen, "%s: larger than 1 GiB", path);
                goto fail;
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                ret = -ENOMEM;
                set_error(err, errlen, "out of memory");
                goto fail;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (ferror(f)) {
        ret = -EIO;
        set_error(err, errlen, "%s: read error", path);
        goto fail;
    }
    fclose(f);
    char why[160] = "";
    ret = vr_es_open_buffer(buf, len, out, why, sizeof(why));
    if (ret < 0)
        set_error(err, errlen, "%s: %s", path, why);
    return ret;
fail:
    fclose(f);
    free(buf);
    return ret;
}

int vr_es_open_buffer(uint8_t *data, size_t len, struct vr_es **out, char *err, size_t errlen)
{
    struct vr_es *e = calloc(1, sizeof(*e));
    if (!e || !out) {
        free(data);
        free(e);
        set_error(err, errlen, "out of memory");
        return out ? -ENOMEM : -EINVAL;
    }
    e->data = data;
    e->len = len;
    int ret;
    if (!data || !vr_es_probe(e->data, e->len)) {
        ret = -ENOTSUP;
        set_error(err, errlen, "not an Annex B H.264/HEVC or IVF file");
    } else {
        e->kind = !memcmp(e->data, "DKIF", 4) ? ES_IVF : ES_ANNEXB;
        ret = e->kind == ES_IVF ? open_ivf(e, err, errlen) : open_annexb(e, err, errlen);
    }
    if (ret < 0) {
        vr_es_close(e);
        return ret;
    }
    e->pos = e->first;
    e->last_end = INT64_MIN;
    *out = e;
    return 0;
}

void vr_es_close(struct vr_es *e)
{
    if (!e)
        return;
    free(e->data);
    free(e);
}

const struct vr_stream_start *vr_es_stream_start(const struct vr_es *e)
{
    return &e->ss;
}

const char *vr_es_container(const struct vr_es *e)
{
    return e->kind == ES_IVF ? "ivf" : e->ss.codec == VR_CODEC_HEVC ? "hevc" : "h264";
}

int vr_es_read(struct vr_es *e, struct vr_au *au)
{
    if (!e || !au)
        return -EINVAL;
    e->error[0] = '\0';
    return e->kind == ES_IVF ? read_ivf(e, au) : read_annexb(e, au);
}

int vr_es_rewind(struct vr_es *e)
{
    if (!e)
        return -EINVAL;
    if (e->kind == ES_IVF) {
        /* The next pass starts where this one ended. */
        if (e->last_end != INT64_MIN)
            e->base = e->last_end;
        e->last_end = INT64_MIN;
    } else {
        e->base += e->index;
    }
    e->index = 0;
    e->pos = e->first;
    return 0;
}

const char *vr_es_error(const struct vr_es *e)
{
    return e ? e->error : "";
}
