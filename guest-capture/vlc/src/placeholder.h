/*
 * The picture the VLC module outputs in place of the decoded video while
 * the SPICE client shows it: VLC displays it where the video would be.
 */
#ifndef VR_VLC_PLACEHOLDER_H
#define VR_VLC_PLACEHOLDER_H

#include <stdint.h>

#include <vlc_common.h>
#include <vlc_picture.h>

/* The chroma of the pictures vr_vlc_placeholder_draw fills. */
#define VR_VLC_PLACEHOLDER_CHROMA VLC_CODEC_I420

/* The marker picture drawn once per stream and size, copied into each
 * placeholder (drawing it costs about 10 ms at 1080p, a copy far less).
 * Zero-initialise; vr_vlc_placeholder_free releases it. */
struct vr_vlc_placeholder {
    uint8_t *planes;  /* Y then U then V, tightly packed; NULL: none yet */
    uint32_t w, h, code;
    int full_range;
};

/*
 * Draws the placeholder into pic (VR_VLC_PLACEHOLDER_CHROMA, any size) for
 * the stream marked with marker_code (1..63): the placement marker
 * (videoredir/marker.h, PROTOCOL.md section 10) over the picture's visible
 * area, in its range, so that the client finds where VLC shows the video;
 * cache keeps it between calls. Another code (or a visible area the marker
 * cannot take, or no memory): a flat dark grey-blue (RGB 0x202830, like
 * videoredirsink's window). Called on VLC's decoder thread; pic and cache
 * are the caller's.
 */
void vr_vlc_placeholder_draw(struct vr_vlc_placeholder *cache, picture_t *pic, uint32_t marker_code);

/* Frees the cached picture (cache itself is the caller's). */
void vr_vlc_placeholder_free(struct vr_vlc_placeholder *cache);

#endif
