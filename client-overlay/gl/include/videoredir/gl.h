/*
 * videoredir GL renderer: decoded frames drawn by the GPU.
 *
 * The planes of a decoded frame (yuv420p/422p/444p at 8 to 16 bits, nv12,
 * p010/p016, packed RGB) are uploaded as textures (GL_R8/GL_RG8, GL_R16/GL_RG16
 * for deeper samples, strides through GL_UNPACK_ROW_LENGTH, textures reused
 * while the size does not change) and converted to RGB in a fragment shader
 * with the frame's matrix (BT.601, BT.709, BT.2020) and range (limited or
 * full); no per-frame colour conversion on the CPU. A frame is drawn scaled
 * (GL_LINEAR) into its content rectangle, clipped to a pixman region with
 * one scissor rectangle per box. VA-API frames (AV_PIX_FMT_VAAPI) are imported
 * as DMA-BUF EGL images without a copy where the context is EGL and has the
 * extensions (vr_gl_describe says whether, and why not).
 *
 * Contexts: desktop OpenGL 3.2+ (core or compatibility) or OpenGL ES 3.0+,
 * through libepoxy (GLX or EGL). Every call needs the context the renderer
 * was created in to be current on the calling thread; one thread.
 */
#ifndef VIDEOREDIR_GL_H
#define VIDEOREDIR_GL_H

#include <stdbool.h>
#include <stdint.h>

#include <libavutil/frame.h>
#include <pixman.h>

#include <videoredir/client.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vr_gl;

/* Texture sets a renderer keeps: one per stream slot (and one spare). */
#define VR_GL_MAX_FRAMES (VR_MAX_STREAMS + 1)

/*
 * Creates a renderer in the current context (shaders compiled, a vertex
 * array made). log (may be NULL) hears why something is not used, e.g. the
 * DMA-BUF import. Returns 0 and *out, -ENODEV if no context is current,
 * -ENOTSUP if the context lacks what is needed (the reason in why, whylen
 * bytes, may be NULL), -ENOMEM.
 */
int vr_gl_create(vr_client_log_fn log, void *log_user, char *why, size_t whylen, struct vr_gl **out);

/* Frees the renderer's GL objects (its context must be current). NULL is a no-op. */
void vr_gl_destroy(struct vr_gl *g);

/* "OpenGL 4.5 (Core Profile) Mesa 22.3.6, llvmpipe (LLVM 15.0.6, 256 bits),
 * upload" or "..., dma-buf": what draws, for logs and statistics. Valid for
 * the renderer's life. */
const char *vr_gl_describe(const struct vr_gl *g);

/* true when the renderer is a software rasteriser (llvmpipe, softpipe,
 * swrast): the "GPU" work is CPU time of this process. */
bool vr_gl_is_software(const struct vr_gl *g);

/* true when hardware frames of the decoders (VA-API) are imported with no
 * copy (DMA-BUF through EGL, probed at vr_gl_create): a front end then asks
 * the client to keep them (vr_client_set_keep_hw). Other hardware frames
 * are downloaded by vr_gl_upload (vr_frame_cpu). The GL thread. */
bool vr_gl_can_import(const struct vr_gl *g);

/*
 * Makes frame the picture of texture set slot (< VR_GL_MAX_FRAMES): its
 * planes are uploaded and nothing of frame is kept; a VA-API frame imported
 * as DMA-BUF is referenced until the slot's next upload or vr_gl_forget (its
 * surface is what the textures show). A VA-API frame that cannot be imported
 * is downloaded and uploaded.
 * Pixel formats without a shader are converted to yuv444p first with
 * libswscale (logged once). Returns 0, -EINVAL, -ENOTSUP (a format swscale
 * cannot read either, a stride the upload cannot describe), -E2BIG (over the
 * context's texture size), -ENOMEM, -EIO (a GL error).
 */
int vr_gl_upload(struct vr_gl *g, uint32_t slot, const AVFrame *frame);

/* Forgets slot's picture (its textures are kept for the next upload). */
void vr_gl_forget(struct vr_gl *g, uint32_t slot);

/*
 * Draws slot's picture scaled into dst, clipped to clip (both in output
 * pixels, origin at the top left of the framebuffer, which is fb_w x fb_h:
 * the currently bound draw framebuffer). clip NULL: dst only. Returns 0
 * (also when there is nothing to draw), -ENOENT (no picture), -EINVAL.
 * Adds the pixels drawn to *pixels if not NULL.
 */
int vr_gl_draw(struct vr_gl *g, uint32_t slot, const struct vr_rect *dst,
               const pixman_region32_t *clip, uint32_t fb_w, uint32_t fb_h, uint64_t *pixels);

/*
 * The picture under the videos: an x8r8g8b8/a8r8g8b8 image (copied into a
 * texture; NULL drops it). Returns 0, -EINVAL, -E2BIG, -ENOMEM.
 */
int vr_gl_set_background(struct vr_gl *g, pixman_image_t *image);

/* Draws the part src (image pixels) of the background into dst (output
 * pixels, like vr_gl_draw). Returns 0, or -ENOENT without a background. */
int vr_gl_draw_background(struct vr_gl *g, const struct vr_rect *src, const struct vr_rect *dst,
                          uint32_t fb_w, uint32_t fb_h);

#ifdef __cplusplus
}
#endif

#endif
