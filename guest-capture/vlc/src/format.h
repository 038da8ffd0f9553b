/*
 * What the VLC module sends, derived from what VLC hands its decoder: the
 * stream description from an es_format_t, and the frame flags of an access
 * unit found in its bitstream. No VLC calls: plain functions over the
 * format's fields and the bytes, so they are tested without VLC running.
 */
#ifndef VR_VLC_FORMAT_H
#define VR_VLC_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include <videoredir/protocol.h>

/* What the module needs of VLC's es_format_t, copied out by the caller. */
struct vr_vlc_format {
    uint32_t fourcc;                     /* VLC's i_codec */
    uint32_t width, height;              /* video.i_width / i_height */
    uint32_t visible_width, visible_height;
    uint32_t frame_rate, frame_rate_base;
    int primaries, transfer, space;      /* VLC's enums (vlc_es.h) */
    int full_range;
    const uint8_t *extra;                /* p_extra, borrowed */
    size_t extra_len;
};

/*
 * Fills *st from *f: codec (VR_CODEC_NONE and -ENOTSUP for a codec the wire
 * does not carry), size (the visible size when VLC knows it, else the coded
 * size), frame rate, H.273 colour, extradata (borrowed from f) and
 * VR_STREAM_ANNEXB for H.264/HEVC whose extradata is empty or in start-code
 * form (VLC's packetizers hand Annex B with SPS/PPS in-band; its MP4 and
 * Matroska demuxers hand avcC/hvcC and length-prefixed NAL units). Time base
 * 1/1000000: VLC's timestamps are microseconds.
 * Returns 0, -ENOTSUP (codec), -EINVAL (size unknown yet: VLC opens a
 * decoder with 0x0 before its packetizer saw the first SPS, and opens it
 * again when it did) or -E2BIG (extradata over the limit).
 */
int vr_vlc_stream_start(const struct vr_vlc_format *f, struct vr_stream_start *st);

/*
 * Frame flags of one access unit of a stream described by st, found in the
 * bitstream (VLC's MP4 demuxer marks no keyframes): VR_FRAME_KEY for a
 * random access point (H.264 IDR or recovery point SEI, HEVC IRAP, VP8/VP9
 * key frame, AV1 key frame), VR_FRAME_DROPPABLE for H.264 with
 * nal_ref_idc 0 only. vlc_key: VLC marked the block BLOCK_FLAG_TYPE_I; used
 * only when the bitstream cannot be read. Reads at most len bytes.
 */
uint32_t vr_vlc_frame_flags(const struct vr_stream_start *st, const uint8_t *data, size_t len, int vlc_key);

#endif
