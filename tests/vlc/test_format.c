/*
 * The VLC module's format mapping and keyframe detection (format.c), on
 * what VLC really hands a decoder (bytes seen from VLC 3.0 with the samples:
 * avcC and length-prefixed NAL units from MP4, Annex B from its packetizers,
 * hvcC from Matroska, VP8/VP9/AV1 frames), and on hostile bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "format.h"

#define FOURCC(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

static const uint8_t avcc[] = { 0x01, 0x64, 0x00, 0x1e, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x1e,
                                0x01, 0x00, 0x02, 0x68, 0xeb };
static const uint8_t annexb_sps[] = { 0x00, 0x00, 0x00, 0x01, 0x67, 0x64, 0x00, 0x1e,
                                      0x00, 0x00, 0x00, 0x01, 0x68, 0xeb };

static struct vr_vlc_format h264_fmt(const uint8_t *extra, size_t len)
{
    struct vr_vlc_format f = { .fourcc = FOURCC('h', '2', '6', '4'), .width = 640, .height = 368,
                               .visible_width = 640, .visible_height = 360, .frame_rate = 25,
                               .frame_rate_base = 1, .primaries = 3, .transfer = 5, .space = 2,
                               .extra = extra, .extra_len = len };
    return f;
}

static void test_stream_start(void)
{
    struct vr_stream_start st;
    struct vr_vlc_format f = h264_fmt(avcc, sizeof(avcc));
    CHECK(vr_vlc_stream_start(&f, &st) == 0, "avcC");
    CHECK(st.codec == VR_CODEC_H264 && !(st.flags & VR_STREAM_ANNEXB), "h264 avcC: codec %u flags %u", st.codec,
          st.flags);
    CHECK(st.width == 640 && st.height == 360, "visible size: %ux%u", st.width, st.height);
    CHECK(st.timebase_num == 1 && st.timebase_den == 1000000, "microseconds");
    CHECK(st.fps_num == 25 && st.fps_den == 1, "fps %u/%u", st.fps_num, st.fps_den);
    CHECK(st.color.primaries == 1 && st.color.transfer == 1 && st.color.matrix == 1, "BT.709: %u %u %u",
          st.color.primaries, st.color.transfer, st.color.matrix);
    CHECK(st.extradata == avcc && st.extradata_len == sizeof(avcc), "extradata as given");

    f = h264_fmt(annexb_sps, sizeof(annexb_sps));
    CHECK(vr_vlc_stream_start(&f, &st) == 0 && (st.flags & VR_STREAM_ANNEXB), "packetizer: Annex B");
    f = h264_fmt(NULL, 0);
    CHECK(vr_vlc_stream_start(&f, &st) == 0 && (st.flags & VR_STREAM_ANNEXB) && st.extradata_len == 0,
          "no extradata: Annex B, in-band");
    f.visible_width = f.visible_height = 0;
    CHECK(vr_vlc_stream_start(&f, &st) == 0 && st.width == 640 && st.height == 368, "coded size if no visible");
    f.width = f.height = 0;
    CHECK(vr_vlc_stream_start(&f, &st) == -EINVAL, "size unknown (VLC's first open of a TS)");
    f = h264_fmt(NULL, 0);
    f.width = f.visible_width = 20000;
    CHECK(vr_vlc_stream_start(&f, &st) == -EINVAL, "too wide");
    f = h264_fmt(NULL, 0);
    f.primaries = 99;
    f.transfer = -1;
    CHECK(vr_vlc_stream_start(&f, &st) == 0 && st.color.primaries == 2 && st.color.transfer == 2,
          "unknown colour: unspecified");
    f.extra_len = VR_MAX_EXTRADATA + 1;
    f.extra = annexb_sps;
    CHECK(vr_vlc_stream_start(&f, &st) == -E2BIG, "extradata too large");

    static const struct { uint32_t fourcc; uint16_t codec; } map[] = {
        { FOURCC('h', 'e', 'v', 'c'), VR_CODEC_HEVC }, { FOURCC('V', 'P', '8', '0'), VR_CODEC_VP8 },
        { FOURCC('V', 'P', '9', '0'), VR_CODEC_VP9 },  { FOURCC('a', 'v', '0', '1'), VR_CODEC_AV1 },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        f = h264_fmt(NULL, 0);
        f.fourcc = map[i].fourcc;
        CHECK(vr_vlc_stream_start(&f, &st) == 0 && st.codec == map[i].codec, "codec %zu", i);
        CHECK(st.codec == VR_CODEC_HEVC ? (st.flags & VR_STREAM_ANNEXB) != 0 : st.flags == 0, "flags %zu", i);
    }
    f = h264_fmt(NULL, 0);
    f.fourcc = FOURCC('m', 'p', 'g', 'v');
    CHECK(vr_vlc_stream_start(&f, &st) == -ENOTSUP, "MPEG-2 is not carried");
}

static uint32_t flags_of(const struct vr_vlc_format *f, const uint8_t *data, size_t len, int vlc_key)
{
    struct vr_stream_start st;
    if (vr_vlc_stream_start(f, &st) != 0)
        return 0xffffffffu;
    return vr_vlc_frame_flags(&st, data, len, vlc_key);
}

static void test_h264(void)
{
    struct vr_vlc_format avc = h264_fmt(avcc, sizeof(avcc)), annexb = h264_fmt(annexb_sps, sizeof(annexb_sps));
    /* MP4 (length-prefixed): user-data SEI then IDR, as VLC hands the sample's first frame. */
    static const uint8_t mp4_idr[] = { 0, 0, 0, 3, 0x06, 0x05, 0x01, 0, 0, 0, 4, 0x65, 0x88, 0x84, 0x00 };
    static const uint8_t mp4_p[] = { 0, 0, 0, 4, 0x41, 0x9a, 0x22, 0x6c };
    static const uint8_t mp4_b[] = { 0, 0, 0, 4, 0x01, 0x9e, 0x41, 0x79 };
    CHECK(flags_of(&avc, mp4_idr, sizeof(mp4_idr), 0) == VR_FRAME_KEY, "IDR in MP4 (VLC marks none)");
    CHECK(flags_of(&avc, mp4_p, sizeof(mp4_p), 0) == 0, "P");
    CHECK(flags_of(&avc, mp4_b, sizeof(mp4_b), 0) == VR_FRAME_DROPPABLE, "non-reference B: droppable");
    /* Packetizer output (Annex B, AUD, SPS/PPS in-band). */
    static const uint8_t ts_idr[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x64, 0, 0, 1, 0x68, 0xeb,
                                      0, 0, 1, 0x65, 0x88, 0x80 };
    static const uint8_t ts_p[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x41, 0x9a, 0x22 };
    static const uint8_t recovery[] = { 0, 0, 1, 0x06, 0x06, 0x01, 0xc4, 0x80, 0, 0, 1, 0x21, 0x9a };
    CHECK(flags_of(&annexb, ts_idr, sizeof(ts_idr), 0) == VR_FRAME_KEY, "IDR, Annex B");
    CHECK(flags_of(&annexb, ts_p, sizeof(ts_p), 1) == 0, "P, Annex B (VLC's I flag is not a keyframe)");
    CHECK(flags_of(&annexb, recovery, sizeof(recovery), 0) == VR_FRAME_KEY, "recovery point SEI");
    /* Nothing readable: VLC's flag decides. */
    static const uint8_t junk[] = { 0xff, 0xff };
    CHECK(flags_of(&annexb, junk, sizeof(junk), 1) == VR_FRAME_KEY, "junk, VLC says I");
    CHECK(flags_of(&annexb, junk, sizeof(junk), 0) == 0, "junk");
    /* Length prefix larger than the block: no overread (ASan). */
    static const uint8_t trunc[] = { 0, 0, 0x10, 0, 0x65, 0x88 };
    CHECK(flags_of(&avc, trunc, sizeof(trunc), 0) == VR_FRAME_KEY, "truncated IDR");
}

static void test_hevc(void)
{
    static const uint8_t hvcc_hdr[23] = { 1, 1, 0x60, [21] = 0x0f };
    struct vr_vlc_format f = h264_fmt(hvcc_hdr, sizeof(hvcc_hdr));
    f.fourcc = FOURCC('h', 'e', 'v', 'c');
    /* As VLC hands hevc-bframes.mkv: 4-byte lengths; 0x28 = IDR_N_LP... (type 20), 0x02 = TRAIL_R (1). */
    static const uint8_t key[] = { 0, 0, 0, 3, 0x28, 0x01, 0xaf };
    static const uint8_t cra[] = { 0, 0, 0, 3, 0x2a, 0x01, 0xaf };
    static const uint8_t trail[] = { 0, 0, 0, 3, 0x02, 0x01, 0xd0 };
    CHECK(flags_of(&f, key, sizeof(key), 0) == VR_FRAME_KEY, "HEVC IDR");
    CHECK(flags_of(&f, cra, sizeof(cra), 0) == VR_FRAME_KEY, "HEVC CRA");
    CHECK(flags_of(&f, trail, sizeof(trail), 1) == 0, "HEVC trailing picture");
}

static void test_vpx_av1(void)
{
    struct vr_vlc_format f = h264_fmt(NULL, 0);
    f.fourcc = FOURCC('V', 'P', '8', '0');
    static const uint8_t vp8_key[] = { 0xb0, 0xcd, 0x00, 0x9d, 0x01, 0x2a };
    static const uint8_t vp8_inter[] = { 0x71, 0x2a, 0x00, 0x0f };
    CHECK(flags_of(&f, vp8_key, sizeof(vp8_key), 0) == VR_FRAME_KEY, "VP8 key");
    CHECK(flags_of(&f, vp8_inter, sizeof(vp8_inter), 1) == 0, "VP8 inter");

    f.fourcc = FOURCC('V', 'P', '9', '0');
    static const uint8_t vp9_key[] = { 0x82, 0x49, 0x83, 0x42, 0x00 };
    static const uint8_t vp9_inter[] = { 0x86, 0x00, 0x40, 0x92 };
    CHECK(flags_of(&f, vp9_key, sizeof(vp9_key), 0) == VR_FRAME_KEY, "VP9 key");
    CHECK(flags_of(&f, vp9_inter, sizeof(vp9_inter), 0) == 0, "VP9 inter");

    f.fourcc = FOURCC('a', 'v', '0', '1');
    /* Temporal delimiter, sequence header, frame (KEY_FRAME, shown). */
    static const uint8_t av1_key[] = { 0x12, 0x00, 0x0a, 0x02, 0x00, 0x00, 0x32, 0x02, 0x10, 0x00 };
    static const uint8_t av1_inter[] = { 0x12, 0x00, 0x32, 0x02, 0x29, 0x0c };
    static const uint8_t av1_show_existing[] = { 0x12, 0x00, 0x1a, 0x01, 0xc8 };
    static const uint8_t av1_still[] = { 0x0a, 0x01, 0x18, 0x32, 0x01, 0xff };
    static const uint8_t av1_bad_size[] = { 0x12, 0x00, 0x32, 0xff, 0xff, 0xff, 0x7f, 0x29 };
    CHECK(flags_of(&f, av1_key, sizeof(av1_key), 0) == VR_FRAME_KEY, "AV1 key");
    CHECK(flags_of(&f, av1_inter, sizeof(av1_inter), 1) == 0, "AV1 inter");
    CHECK(flags_of(&f, av1_show_existing, sizeof(av1_show_existing), 0) == 0, "AV1 show existing");
    CHECK(flags_of(&f, av1_still, sizeof(av1_still), 0) == VR_FRAME_KEY, "AV1 reduced still picture");
    CHECK(flags_of(&f, av1_bad_size, sizeof(av1_bad_size), 1) == VR_FRAME_KEY, "AV1 OBU over the end: VLC's flag");
}

/* Hostile bytes: every codec, random lengths and contents; ASan checks the reads. */
static void test_random(void)
{
    static const uint32_t fourccs[] = { FOURCC('h', '2', '6', '4'), FOURCC('h', 'e', 'v', 'c'),
                                        FOURCC('V', 'P', '8', '0'), FOURCC('V', 'P', '9', '0'),
                                        FOURCC('a', 'v', '0', '1') };
    srand(13);
    unsigned keys = 0;
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(rand() % 64);
        uint8_t *buf = malloc(len ? len : 1);
        for (size_t k = 0; k < len; k++)
            buf[k] = (uint8_t)(rand() % 4 == 0 ? 0 : rand());
        struct vr_vlc_format f = h264_fmt(i % 2 ? avcc : NULL, i % 2 ? sizeof(avcc) : 0);
        f.fourcc = fourccs[i % 5];
        uint32_t fl = flags_of(&f, buf, len, i % 3 == 0);
        keys += (fl & VR_FRAME_KEY) != 0;
        CHECK((fl & ~(uint32_t)(VR_FRAME_KEY | VR_FRAME_DROPPABLE)) == 0, "flags %x", fl);
        free(buf);
    }
    CHECK(keys > 0 && keys < 20000, "%u keys", keys);
}

int main(void)
{
    test_stream_start();
    test_h264();
    test_hevc();
    test_vpx_av1();
    test_random();
    return CHECK_DONE();
}
