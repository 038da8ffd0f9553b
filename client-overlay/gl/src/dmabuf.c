/*
 * VA-API surfaces into GL without a copy: the decoder's surface is exported
 * as DMA-BUF file descriptors (vaExportSurfaceHandle, one layer per plane),
 * each layer becomes an EGL image (EGL_EXT_image_dma_buf_import, with the
 * format modifier where EGL_EXT_image_dma_buf_import_modifiers is there) and
 * is bound to a texture with glEGLImageTargetTexture2DOES; the shader reads
 * them as the semi-planar layout (NV12: R8 + GR88, P010: R16 + GR1616). The
 * frame stays referenced while its textures show it, so the decoder does not
 * reuse the surface under them. Probed at run time; each reason for not
 * importing is told once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gl_internal.h"

#ifdef VR_GL_VAAPI
#include <epoxy/egl.h>
#include <libavutil/hwcontext.h>
#include <libavutil/hwcontext_vaapi.h>
#include <libavutil/pixdesc.h>
#include <va/va.h>
#include <va/va_drmcommon.h>

struct vr_gl_dmabuf {
    EGLDisplay dpy;
    bool modifiers;
};

int vr_gl_dmabuf_create(struct vr_gl *g, char *why, size_t whylen, struct vr_gl_dmabuf **out)
{
    (void)g;
    *out = NULL;
    const char *reason = NULL;
    EGLDisplay dpy = EGL_NO_DISPLAY;
    /* A GLX context (SDL and GTK on X11 by default) has no EGL display. */
    if (!epoxy_has_egl() || eglGetCurrentContext() == EGL_NO_CONTEXT ||
        (dpy = eglGetCurrentDisplay()) == EGL_NO_DISPLAY)
        reason = "the GL context is not an EGL context";
    else if (!epoxy_has_egl_extension(dpy, "EGL_EXT_image_dma_buf_import"))
        reason = "EGL has no EGL_EXT_image_dma_buf_import";
    else if (!epoxy_has_egl_extension(dpy, "EGL_KHR_image_base"))
        reason = "EGL has no EGL_KHR_image_base";
    else if (!epoxy_has_gl_extension("GL_OES_EGL_image"))
        reason = "GL has no GL_OES_EGL_image";
    if (reason) {
        if (why && whylen)
            snprintf(why, whylen, "%s", reason);
        return -ENOTSUP;
    }
    struct vr_gl_dmabuf *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->dpy = dpy;
    d->modifiers = epoxy_has_egl_extension(dpy, "EGL_EXT_image_dma_buf_import_modifiers");
    *out = d;
    return 0;
}

void vr_gl_dmabuf_destroy(struct vr_gl_dmabuf *d)
{
    free(d);
}

void vr_gl_dmabuf_release(struct vr_gl_dmabuf *d, struct vr_gl_picture *p)
{
    (void)d;
    if (!p->hw && !p->images[0] && !p->images[1])
        return;
    /* The textures' storage was the surface's: they go with it. */
    for (int i = 0; i < 2; i++) {
        if (p->tex[i])
            glDeleteTextures(1, &p->tex[i]);
        p->tex[i] = 0;
        p->tw[i] = p->th[i] = 0;
        if (p->images[i])
            eglDestroyImageKHR(p->dpy, p->images[i]);
        p->images[i] = NULL;
    }
    av_frame_free(&p->hw);
}

int vr_gl_dmabuf_import(struct vr_gl *g, struct vr_gl_dmabuf *d, struct vr_gl_picture *p,
                        const AVFrame *f)
{
    if (!f->hw_frames_ctx)
        return -EINVAL;
    AVHWFramesContext *fc = (AVHWFramesContext *)f->hw_frames_ctx->data;
    AVVAAPIDeviceContext *va = fc->device_ctx->hwctx;
    const AVPixFmtDescriptor *sw = av_pix_fmt_desc_get(fc->sw_format);
    if (!sw || (fc->sw_format != AV_PIX_FMT_NV12 && fc->sw_format != AV_PIX_FMT_P010 &&
                fc->sw_format != AV_PIX_FMT_P016))
        return -ENOTSUP;
    VASurfaceID surface = (VASurfaceID)(uintptr_t)f->data[3];
    VADRMPRIMESurfaceDescriptor desc;
    memset(&desc, 0, sizeof(desc));
    if (vaSyncSurface(va->display, surface) != VA_STATUS_SUCCESS)
        return -EIO;
    if (vaExportSurfaceHandle(va->display, surface, VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2,
                              VA_EXPORT_SURFACE_READ_ONLY | VA_EXPORT_SURFACE_SEPARATE_LAYERS,
                              &desc) != VA_STATUS_SUCCESS)
        return -ENOTSUP;
    int ret = 0;
    vr_gl_dmabuf_release(d, p);
    p->valid = false;
    if (desc.num_layers != 2 || desc.num_objects < 1 || desc.num_objects > 4) {
        ret = -ENOTSUP;
        goto out;
    }
    p->dpy = d->dpy;
    for (uint32_t l = 0; l < 2 && ret == 0; l++) {
        const int shift = (int)l; /* chroma layer: half size for 4:2:0 */
        EGLint w = (EGLint)((f->width + shift) >> shift), h = (EGLint)((f->height + shift) >> shift);
        if (desc.layers[l].num_planes != 1 || desc.layers[l].object_index[0] >= desc.num_objects) {
            ret = -ENOTSUP;
            break;
        }
        uint32_t obj = desc.layers[l].object_index[0];
        EGLint attr[20];
        int n = 0;
        attr[n++] = EGL_WIDTH;
        attr[n++] = w;
        attr[n++] = EGL_HEIGHT;
        attr[n++] = h;
        attr[n++] = EGL_LINUX_DRM_FOURCC_EXT;
        attr[n++] = (EGLint)desc.layers[l].drm_format;
        attr[n++] = EGL_DMA_BUF_PLANE0_FD_EXT;
        attr[n++] = desc.objects[obj].fd;
        attr[n++] = EGL_DMA_BUF_PLANE0_OFFSET_EXT;
        attr[n++] = (EGLint)desc.layers[l].offset[0];
        attr[n++] = EGL_DMA_BUF_PLANE0_PITCH_EXT;
        attr[n++] = (EGLint)desc.layers[l].pitch[0];
        uint64_t mod = desc.objects[obj].drm_format_modifier;
        if (d->modifiers && mod != ((1ULL << 56) - 1)) { /* DRM_FORMAT_MOD_INVALID */
            attr[n++] = EGL_DMA_BUF_PLANE0_MODIFIER_LO_EXT;
            attr[n++] = (EGLint)(mod & 0xffffffffu);
            attr[n++] = EGL_DMA_BUF_PLANE0_MODIFIER_HI_EXT;
            attr[n++] = (EGLint)(mod >> 32);
        }
        attr[n++] = EGL_NONE;
        EGLImageKHR img = eglCreateImageKHR(d->dpy, EGL_NO_CONTEXT, EGL_LINUX_DMA_BUF_EXT, NULL, attr);
        if (img == EGL_NO_IMAGE_KHR) {
            vr_gl_log(g, VR_CLOG_DEBUG, "gl: eglCreateImageKHR: EGL error 0x%x", eglGetError());
            ret = -EIO;
            break;
        }
        p->images[l] = img;
        glGenTextures(1, &p->tex[l]);
        glBindTexture(GL_TEXTURE_2D, p->tex[l]);
        glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
        glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
        glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
        glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
        glEGLImageTargetTexture2DOES(GL_TEXTURE_2D, (GLeglImageOES)img);
        if (glGetError() != GL_NO_ERROR)
            ret = -EIO;
        p->tw[l] = w;
        p->th[l] = h;
        p->tfmt[l] = 0; /* not ours to respecify */
    }
out:
    /* EGL holds its own references to the buffers. */
    for (uint32_t i = 0; i < desc.num_objects && i < 4; i++)
        close(desc.objects[i].fd);
    if (ret == 0 && !(p->hw = av_frame_clone(f)))
        ret = -ENOMEM;
    if (ret < 0) {
        vr_gl_dmabuf_release(d, p);
        return ret;
    }
    vr_gl_picture_set_yuv(p, f, sw->comp[0].depth, sw->comp[0].shift);
    p->w = f->width;
    p->h = f->height;
    p->valid = true;
    return 0;
}

#else /* !VR_GL_VAAPI */

struct vr_gl_dmabuf {
    int unused;
};

int vr_gl_dmabuf_create(struct vr_gl *g, char *why, size_t whylen, struct vr_gl_dmabuf **out)
{
    (void)g;
    *out = NULL;
    if (why && whylen)
        snprintf(why, whylen, "built without VA-API (VR_VAAPI off or libva missing)");
    return -ENOTSUP;
}

void vr_gl_dmabuf_destroy(struct vr_gl_dmabuf *d)
{
    free(d);
}

void vr_gl_dmabuf_release(struct vr_gl_dmabuf *d, struct vr_gl_picture *p)
{
    (void)d;
    (void)p;
}

int vr_gl_dmabuf_import(struct vr_gl *g, struct vr_gl_dmabuf *d, struct vr_gl_picture *p,
                        const AVFrame *f)
{
    (void)g;
    (void)d;
    (void)p;
    (void)f;
    return -ENOTSUP;
}

#endif
