/*
 * Library-internal part of the hardware frame helpers (hwframe.c); the
 * public part is in videoredir/client.h (vr_frame_cpu ...).
 */
#ifndef VR_CLIENT_HWFRAME_H
#define VR_CLIENT_HWFRAME_H

#include <stddef.h>

#include <libavutil/frame.h>

/* Gives hardware frame f (owned by the caller) the shared download cache
 * vr_frame_cpu fills once per frame (in f->opaque_ref, kept by clones). A
 * software frame, or one whose opaque_ref is taken, is left alone. Returns
 * 0 or -ENOMEM. Any thread (the frame is not shared yet). */
int vr_hwframe_attach(AVFrame *f);

/* Test hook (VIDEOREDIR_TEST_HWFRAMES): uploads software frames into frames
 * of a hardware device (only "vulkan" is supported). One per decoder, used
 * on its thread. create returns 0, or -EINVAL / -ENODEV / -ENOMEM with the
 * reason in why. */
struct vr_hw_upload;
int vr_hw_upload_create(const char *type_name, struct vr_hw_upload **out, char *why, size_t cap);
/* NULL is a no-op. */
void vr_hw_upload_destroy(struct vr_hw_upload *u);
/* Uploads sw into hw (unreferenced first; a new surface, props copied).
 * Returns 0 or a negative AVERROR. */
int vr_hw_upload_frame(struct vr_hw_upload *u, const AVFrame *sw, AVFrame *hw);

#endif
