/* Between the GL renderer (gl.c) and its VA-API import (dmabuf.c). */
#ifndef VR_GL_INTERNAL_H
#define VR_GL_INTERNAL_H

#include <epoxy/gl.h>

#include "videoredir/gl.h"

/* One picture: up to three textures and how the shader reads them. */
struct vr_gl_picture {
    bool valid;
    int layout;          /* enum layout of gl.c */
    int w, h;            /* picture size */
    GLuint tex[3];
    int tw[3], th[3];    /* texture sizes, 0: none yet */
    GLenum tfmt[3];      /* internal formats */
    float m[9];          /* column-major YCbCr (or sample) -> RGB */
    float mul[3], off[3];
    /* VA-API import: the frame (kept referenced while its surface is shown)
     * and its EGL images. */
    AVFrame *hw;
    void *images[2];
    void *dpy; /* EGLDisplay of the images */
};

struct vr_gl_dmabuf;

void vr_gl_log(struct vr_gl *g, enum vr_client_log level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Probes the current context for DMA-BUF import (EGL, the extensions, built
 * with VA-API). Returns 0 and *out, or a negative errno with why. */
int vr_gl_dmabuf_create(struct vr_gl *g, char *why, size_t whylen, struct vr_gl_dmabuf **out);
void vr_gl_dmabuf_destroy(struct vr_gl_dmabuf *d);
/* Imports the VA-API frame f into p (textures 0 and 1, layout semi-planar).
 * Returns 0 or a negative errno (p is then released). */
int vr_gl_dmabuf_import(struct vr_gl *g, struct vr_gl_dmabuf *d, struct vr_gl_picture *p,
                        const AVFrame *f);
/* Drops p's imported images and frame; its textures are deleted (their
 * storage was the surface's). d may be NULL. */
void vr_gl_dmabuf_release(struct vr_gl_dmabuf *d, struct vr_gl_picture *p);

/* The semi-planar scale and matrix for p after an import (gl.c). */
void vr_gl_picture_set_yuv(struct vr_gl_picture *p, const AVFrame *f, int depth, int shift);

#endif
