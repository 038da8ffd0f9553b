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

/*
 * Draws the placeholder into pic (VR_VLC_PLACEHOLDER_CHROMA, any size) for
 * the stream marked with marker_code (1..63): the placement marker
 * (videoredir/marker.h, PROTOCOL.md section 10) over the picture's visible
 * area, in its range, so that the client finds where VLC shows the video.
 * Another code (or a visible area the marker cannot take): a flat dark
 * grey-blue (RGB 0x202830, like videoredirsink's window). Called on VLC's
 * decoder thread; pic is the caller's.
 */
void vr_vlc_placeholder_draw(picture_t *pic, uint32_t marker_code);

#endif
