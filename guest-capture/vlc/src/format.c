/*
 * VLC es_format_t → wire stream description; keyframes found in the
 * bitstream. See format.h.
 */
#include <errno.h>
#include <string.h>

#include "format.h"

#define FOURCC(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

/* VLC's values (vlc_fourcc.h, vlc_es.h); module.c checks they match. */
#define FCC_H264 FOURCC('h', '2', '6', '4')
#define FCC_HEVC FOURCC('h', 'e', 'v', 'c')
#define FCC_VP8 FOURCC('V', 'P', '8', '0')
#define FCC_VP9 FOURCC('V', 'P', '9', '0')
#define FCC_AV1 FOURCC('a', 'v', '0', '1')

/* H.273 code points for VLC's colour enums, indexed by the enum value. */
static const uint8_t primaries_h273[] = { 2, 6, 5, 1, 9, 11, 4 };
static const uint8_t transfer_h273[] = { 2, 8, 13, 5, 4, 1, 16, 7, 18 };
static const uint8_t matrix_h273[] = { 2, 6, 1, 9 };

static uint8_t h273(const uint8_t *table, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? table[v] : 2; /* 2: unspecified */
}

static int is_start_code_form(const uint8_t *p, size_t len)
{
    return len >= 3 && p[0] == 0 && p[1] == 0 && (p[2] == 1 || (len >= 4 && p[2] == 0 && p[3] == 1));
}

int vr_vlc_stream_start(const struct vr_vlc_format *f, struct vr_stream_start *st)
{
    memset(st, 0, sizeof(*st));
    switch (f->fourcc) {
    case FCC_H264: st->codec = VR_CODEC_H264; break;
    case FCC_HEVC: st->codec = VR_CODEC_HEVC; break;
    case FCC_VP8: st->codec = VR_CODEC_VP8; break;
    case FCC_VP9: st->codec = VR_CODEC_VP9; break;
    case FCC_AV1: st->codec = VR_CODEC_AV1; break;
    default: return -ENOTSUP;
    }
    uint32_t w = f->visible_width ? f->visible_width : f->width;
    uint32_t h = f->visible_height ? f->visible_height : f->height;
    if (w == 0 || h == 0 || w > VR_MAX_DIMENSION || h > VR_MAX_DIMENSION)
        return -EINVAL;
    st->width = w;
    st->height = h;
    st->timebase_num = 1;
    st->timebase_den = 1000000;
    if (f->frame_rate && f->frame_rate_base) {
        st->fps_num = f->frame_rate;
        st->fps_den = f->frame_rate_base;
    }
    st->color.primaries = h273(primaries_h273, sizeof(primaries_h273), f->primaries);
    st->color.transfer = h273(transfer_h273, sizeof(transfer_h273), f->transfer);
    st->color.matrix = h273(matrix_h273, sizeof(matrix_h273), f->space);
    st->color.full_range = f->full_range ? 1 : 0;
    if (f->extra_len > VR_MAX_EXTRADATA)
        return -E2BIG;
    if (f->extra_len > 0 && f->extra) {
        st->extradata = f->extra;
        st->extradata_len = (uint32_t)f->extra_len;
    }
    if ((st->codec == VR_CODEC_H264 || st->codec == VR_CODEC_HEVC) &&
        (st->extradata_len == 0 || is_start_code_form(st->extradata, st->extradata_len)))
        st->flags |= VR_STREAM_ANNEXB;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* NAL units (H.264, HEVC).                                                 */

/* Size of the NAL length prefix from avcC/hvcC, 0 for Annex B. */
static unsigned nal_length_size(const struct vr_stream_start *st)
{
    if (st->flags & VR_STREAM_ANNEXB)
        return 0;
    if (st->codec == VR_CODEC_H264 && st->extradata_len >= 5)
        return (st->extradata[4] & 3u) + 1;
    if (st->codec == VR_CODEC_HEVC && st->extradata_len >= 22)
        return (st->extradata[21] & 3u) + 1;
    return 4;
}

/* Calls fn on each NAL unit's payload (header included); stops when fn
 * returns nonzero and returns that value. */
typedef int (*nal_fn)(const uint8_t *nal, size_t len, void *user);

static int for_each_nal(const uint8_t *p, size_t len, unsigned lsize, nal_fn fn, void *user)
{
    size_t i = 0;
    if (lsize == 0) {
        /* Annex B: find start codes. */
        size_t start = SIZE_MAX;
        while (i + 3 <= len) {
            if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) {
                if (start != SIZE_MAX) {
                    size_t end = i;
                    while (end > start && p[end - 1] == 0)
                        end--;
                    int r = fn(p + start, end - start, user);
                    if (r)
                        return r;
                }
                i += 3;
                start = i;
            } else {
                i++;
            }
        }
        if (start != SIZE_MAX && start < len)
            return fn(p + start, len - start, user);
        return 0;
    }
    while (i + lsize <= len) {
        size_t n = 0;
        for (unsigned k = 0; k < lsize; k++)
            n = n << 8 | p[i + k];
        i += lsize;
        if (n > len - i)
            n = len - i; /* truncated: look at what is there */
        if (n > 0) {
            int r = fn(p + i, n, user);
            if (r)
                return r;
        }
        i += n;
    }
    return 0;
}

struct h264_scan {
    int key, referenced, slices;
};

static int h264_nal(const uint8_t *nal, size_t len, void *user)
{
    struct h264_scan *s = user;
    unsigned type = nal[0] & 0x1fu, ref_idc = (nal[0] >> 5) & 3u;
    if (type == 5)
        s->key = 1;
    if (type == 6 && len >= 2) {
        /* First SEI message: payload type 6 is a recovery point. */
        size_t i = 1;
        unsigned pt = 0;
        while (i < len && nal[i] == 0xff) {
            pt += 255;
            i++;
        }
        if (i < len && pt + nal[i] == 6)
            s->key = 1;
    }
    if (type >= 1 && type <= 5) {
        s->slices++;
        if (ref_idc)
            s->referenced = 1;
    }
    return 0;
}

static int hevc_nal(const uint8_t *nal, size_t len, void *user)
{
    unsigned type = (nal[0] >> 1) & 0x3fu;
    (void)len;
    if (type >= 16 && type <= 23) { /* IRAP: BLA, IDR, CRA */
        *(int *)user = 1;
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* VP9 and AV1 headers.                                                     */

struct bits {
    const uint8_t *p;
    size_t len, pos; /* pos in bits */
};

static unsigned get_bit(struct bits *b)
{
    if (b->pos >= b->len * 8)
        return 0;
    unsigned v = (b->p[b->pos / 8] >> (7 - b->pos % 8)) & 1u;
    b->pos++;
    return v;
}

static int vp9_key(const uint8_t *p, size_t len)
{
    if (len < 1)
        return -1;
    struct bits b = { p, len, 0 };
    if (get_bit(&b) != 1 || get_bit(&b) != 0)
        return -1; /* frame_marker */
    unsigned low = get_bit(&b), high = get_bit(&b);
    if ((high << 1 | low) == 3)
        get_bit(&b); /* reserved_zero */
    if (get_bit(&b))
        return 0; /* show_existing_frame */
    return get_bit(&b) == 0; /* frame_type 0: KEY_FRAME */
}

static int leb128(const uint8_t *p, size_t len, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < 8; k++) {
        if (*i >= len)
            return -1;
        uint8_t c = p[(*i)++];
        v |= (uint64_t)(c & 0x7f) << (7 * k);
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int av1_key(const uint8_t *p, size_t len)
{
    size_t i = 0;
    int reduced_still = 0;
    while (i < len) {
        uint8_t h = p[i++];
        if (h & 0x80)
            return -1; /* forbidden bit */
        unsigned type = (h >> 3) & 0xfu;
        if (h & 0x04)
            i++; /* extension header */
        uint64_t size = len > i ? len - i : 0;
        if ((h & 0x02) && leb128(p, len, &i, &size) < 0)
            return -1;
        if (i > len || size > len - i)
            return -1;
        const uint8_t *obu = p + i;
        if (type == 1 && size >= 1) {
            reduced_still = (obu[0] >> 3) & 1; /* seq_profile(3) still_picture(1) reduced(1) */
        } else if ((type == 3 || type == 6) && size >= 1) {
            if (reduced_still)
                return 1;
            struct bits b = { obu, (size_t)size, 0 };
            if (get_bit(&b))
                return 0; /* show_existing_frame */
            return (get_bit(&b) << 1 | get_bit(&b)) == 0; /* frame_type KEY_FRAME */
        }
        i += (size_t)size;
    }
    return -1;
}

uint32_t vr_vlc_frame_flags(const struct vr_stream_start *st, const uint8_t *data, size_t len, int vlc_key)
{
    int key = -1;
    uint32_t flags = 0;
    if (!data || len == 0)
        return vlc_key ? VR_FRAME_KEY : 0;
    switch (st->codec) {
    case VR_CODEC_H264: {
        struct h264_scan s = { 0, 0, 0 };
        for_each_nal(data, len, nal_length_size(st), h264_nal, &s);
        if (s.slices > 0) {
            key = s.key;
            if (!s.referenced)
                flags |= VR_FRAME_DROPPABLE;
        }
        break;
    }
    case VR_CODEC_HEVC: {
        int k = 0;
        for_each_nal(data, len, nal_length_size(st), hevc_nal, &k);
        key = k;
        break;
    }
    case VR_CODEC_VP8:
        key = len >= 3 ? (data[0] & 1) == 0 : -1;
        break;
    case VR_CODEC_VP9:
        key = vp9_key(data, len);
        break;
    case VR_CODEC_AV1:
        key = av1_key(data, len);
        break;
    default:
        break;
    }
    if (key < 0)
        key = vlc_key != 0;
    return flags | (key ? VR_FRAME_KEY : 0);
}
