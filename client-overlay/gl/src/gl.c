/*
 * GL renderer: planes as textures, YUV -> RGB in a fragment shader, one
 * scissored draw per visible rectangle.
 *
 * Three programs share one vertex shader that makes a quad from gl_VertexID
 * (no vertex buffer): "planar" (three one-channel textures: yuv4xxp, gbrp),
 * "semi" (a one-channel and a two-channel texture: nv12, p010) and "packed"
 * (one RGBA texture: bgra, rgb0, the desktop picture). Each computes
 *   rgb = M * (sample * mul - off)
 * where mul and off bring the samples to Y' in [0, 1] and Cb/Cr in
 * [-0.5, 0.5] (bit depth, MSB or LSB alignment, limited or full range) and M
 * is the matrix's YCbCr -> R'G'B' (or a permutation for RGB formats), all
 * computed here per picture.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <epoxy/gl.h>
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "gl_internal.h"

enum layout { LAYOUT_PLANAR = 0, LAYOUT_SEMI, LAYOUT_PACKED, N_LAYOUTS };

struct program {
    GLuint prog;
    GLint u_pos, u_tex, u_m, u_mul, u_off;
};

static const char *vertex_src =
    "uniform vec4 u_pos;\n"
    "uniform vec4 u_tex;\n"
    "out vec2 v_tc;\n"
    "void main() {\n"
    "    vec2 c = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));\n"
    "    gl_Position = vec4(mix(u_pos.xy, u_pos.zw, c), 0.0, 1.0);\n"
    "    v_tc = mix(u_tex.xy, u_tex.zw, c);\n"
    "}\n";

static const char *fetch_src[N_LAYOUTS] = {
    "vec3(texture(u_t0, v_tc).r, texture(u_t1, v_tc).r, texture(u_t2, v_tc).r)",
    "vec3(texture(u_t0, v_tc).r, texture(u_t1, v_tc).rg)",
    "texture(u_t0, v_tc).rgb",
};

static const char *fragment_head =
    "uniform sampler2D u_t0;\n"
    "uniform sampler2D u_t1;\n"
    "uniform sampler2D u_t2;\n"
    "uniform mat3 u_m;\n"
    "uniform vec3 u_mul;\n"
    "uniform vec3 u_off;\n"
    "in vec2 v_tc;\n"
    "out vec4 o_color;\n"
    "void main() {\n"
    "    vec3 s = ";

static const char *fragment_tail =
    ";\n"
    "    o_color = vec4(clamp(u_m * (s * u_mul - u_off), 0.0, 1.0), 1.0);\n"
    "}\n";

struct vr_gl {
    vr_client_log_fn log;
    void *log_user;
    bool gles, norm16, software;
    GLint max_tex;
    GLuint vao;
    struct program prog[N_LAYOUTS];
    struct vr_gl_picture pic[VR_GL_MAX_FRAMES];
    struct vr_gl_picture bg;
    int bg_w, bg_h;
    struct SwsContext *sws; /* formats without a shader: to yuv444p */
    AVFrame *conv;
    enum AVPixelFormat converted_logged;
    struct vr_gl_dmabuf *dmabuf; /* NULL: VA-API frames are downloaded */
    AVFrame *download;
    bool download_logged, import_logged;
    char desc[320];
};

void vr_gl_log(struct vr_gl *g, enum vr_client_log level, const char *fmt, ...)
{
    if (!g->log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    g->log(g->log_user, level, msg);
}

static void set_why(char *why, size_t len, const char *fmt, ...)
{
    if (!why || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

static GLuint compile(GLenum type, const char *const *src, int n, char *why, size_t whylen)
{
    GLuint s = glCreateShader(type);
    glShaderSource(s, n, src, NULL);
    glCompileShader(s);
    GLint ok = 0;
    glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
    if (!ok) {
        char info[256] = "";
        glGetShaderInfoLog(s, sizeof(info), NULL, info);
        set_why(why, whylen, "shader does not compile: %s", info);
        glDeleteShader(s);
        return 0;
    }
    return s;
}

static int make_program(struct vr_gl *g, enum layout l, char *why, size_t whylen)
{
    const char *header = g->gles ? "#version 300 es\nprecision highp float;\n"
                                 : "#version 150\n";
    const char *vsrc[2] = { header, vertex_src };
    const char *fsrc[4] = { header, fragment_head, fetch_src[l], fragment_tail };
    GLuint vs = compile(GL_VERTEX_SHADER, vsrc, 2, why, whylen);
    GLuint fs = vs ? compile(GL_FRAGMENT_SHADER, fsrc, 4, why, whylen) : 0;
    if (!fs) {
        if (vs)
            glDeleteShader(vs);
        return -ENOTSUP;
    }
    GLuint p = glCreateProgram();
    glAttachShader(p, vs);
    glAttachShader(p, fs);
    if (!g->gles)
        glBindFragDataLocation(p, 0, "o_color");
    glLinkProgram(p);
    glDeleteShader(vs);
    glDeleteShader(fs);
    GLint ok = 0;
    glGetProgramiv(p, GL_LINK_STATUS, &ok);
    if (!ok) {
        char info[256] = "";
        glGetProgramInfoLog(p, sizeof(info), NULL, info);
        set_why(why, whylen, "shaders do not link: %s", info);
        glDeleteProgram(p);
        return -ENOTSUP;
    }
    struct program *pr = &g->prog[l];
    pr->prog = p;
    pr->u_pos = glGetUniformLocation(p, "u_pos");
    pr->u_tex = glGetUniformLocation(p, "u_tex");
    pr->u_m = glGetUniformLocation(p, "u_m");
    pr->u_mul = glGetUniformLocation(p, "u_mul");
    pr->u_off = glGetUniformLocation(p, "u_off");
    glUseProgram(p);
    static const char *const samplers[3] = { "u_t0", "u_t1", "u_t2" };
    for (int i = 0; i < 3; i++) {
        GLint u = glGetUniformLocation(p, samplers[i]);
        if (u >= 0)
            glUniform1i(u, i);
    }
    glUseProgram(0);
    return 0;
}

/*
 * Whether a GLX or EGL context is current on this thread, asked without GL
 * (epoxy aborts on a GL call with none). Whoever made a context loaded the
 * library that knows: look it up among those already loaded.
 */
static bool context_current(void)
{
    /* epoxy (GTK's and ours) opens these privately: ask the loaded ones. */
    static const char *const libs[][2] = {
        { "libGLX.so.0", "glXGetCurrentContext" }, { "libGL.so.1", "glXGetCurrentContext" },
        { "libEGL.so.1", "eglGetCurrentContext" }, { NULL, "glXGetCurrentContext" },
        { NULL, "eglGetCurrentContext" },
    };
    for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
        void *h = libs[i][0] ? dlopen(libs[i][0], RTLD_LAZY | RTLD_NOLOAD) : RTLD_DEFAULT;
        if (!h)
            continue; /* not loaded: no context of it */
        void *(*current)(void) = NULL;
        *(void **)&current = dlsym(h, libs[i][1]);
        bool yes = current && current();
        if (libs[i][0])
            dlclose(h);
        if (yes)
            return true;
    }
    return false;
}

int vr_gl_create(vr_client_log_fn log, void *log_user, char *why, size_t whylen, struct vr_gl **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    /* epoxy answers from the current context; without one, nothing works. */
    const char *version = NULL;
    if (!context_current() || epoxy_gl_version() == 0 ||
        !(version = (const char *)glGetString(GL_VERSION))) {
        set_why(why, whylen, "no current GL context");
        return -ENODEV;
    }
    struct vr_gl *g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->log = log;
    g->log_user = log_user;
    g->gles = !epoxy_is_desktop_gl();
    int ver = epoxy_gl_version();
    int ret = -ENOTSUP;
    if (g->gles ? ver < 30 : ver < 32) {
        set_why(why, whylen, "%s %d.%d is too old (needs OpenGL 3.2 or OpenGL ES 3.0)",
                g->gles ? "OpenGL ES" : "OpenGL", ver / 10, ver % 10);
        goto fail;
    }
    g->norm16 = !g->gles || epoxy_has_gl_extension("GL_EXT_texture_norm16");
    glGetIntegerv(GL_MAX_TEXTURE_SIZE, &g->max_tex);
    const char *renderer = (const char *)glGetString(GL_RENDERER);
    if (!renderer)
        renderer = "unknown renderer";
    g->software = strstr(renderer, "llvmpipe") || strstr(renderer, "softpipe") ||
                  strstr(renderer, "swrast") || strstr(renderer, "SWR");
    for (int l = 0; l < N_LAYOUTS; l++)
        if ((ret = make_program(g, (enum layout)l, why, whylen)) < 0)
            goto fail;
    glGenVertexArrays(1, &g->vao);
    char dmabuf_why[160] = "";
    ret = vr_gl_dmabuf_create(g, dmabuf_why, sizeof(dmabuf_why), &g->dmabuf);
    if (ret < 0)
        vr_gl_log(g, VR_CLOG_INFO, "gl: VA-API frames will be copied, not imported: %s",
                  dmabuf_why);
    snprintf(g->desc, sizeof(g->desc), "%s%s on %s, %s", g->gles ? "" : "OpenGL ", version, renderer,
             g->dmabuf ? "VA-API import" : "uploads");
    if (glGetError() != GL_NO_ERROR) {
        set_why(why, whylen, "GL error while setting up");
        ret = -ENOTSUP;
        goto fail;
    }
    *out = g;
    return 0;
fail:
    vr_gl_destroy(g);
    return ret;
}

static void picture_release(struct vr_gl *g, struct vr_gl_picture *p)
{
    vr_gl_dmabuf_release(g->dmabuf, p);
    p->valid = false;
}

void vr_gl_destroy(struct vr_gl *g)
{
    if (!g)
        return;
    for (uint32_t i = 0; i < VR_GL_MAX_FRAMES; i++) {
        picture_release(g, &g->pic[i]);
        glDeleteTextures(3, g->pic[i].tex);
    }
    glDeleteTextures(3, g->bg.tex);
    for (int l = 0; l < N_LAYOUTS; l++)
        if (g->prog[l].prog)
            glDeleteProgram(g->prog[l].prog);
    if (g->vao)
        glDeleteVertexArrays(1, &g->vao);
    vr_gl_dmabuf_destroy(g->dmabuf);
    sws_freeContext(g->sws);
    av_frame_free(&g->conv);
    av_frame_free(&g->download);
    free(g);
}

const char *vr_gl_describe(const struct vr_gl *g)
{
    return g ? g->desc : "";
}

bool vr_gl_is_software(const struct vr_gl *g)
{
    return g && g->software;
}

bool vr_gl_can_import(const struct vr_gl *g)
{
    return g && g->dmabuf;
}

/* ---- colour -------------------------------------------------------------- */

/* Column-major YCbCr -> R'G'B' for (Kr, Kb). */
static void yuv_matrix(enum AVColorSpace cs, float m[9])
{
    double kr = 0.299, kb = 0.114;
    if (cs == AVCOL_SPC_BT709)
        kr = 0.2126, kb = 0.0722;
    else if (cs == AVCOL_SPC_BT2020_NCL)
        kr = 0.2627, kb = 0.0593;
    double kg = 1.0 - kr - kb;
    /* columns: Y, Cb, Cr */
    m[0] = 1, m[1] = 1, m[2] = 1;
    m[3] = 0, m[4] = (float)(-2.0 * kb * (1.0 - kb) / kg), m[5] = (float)(2.0 * (1.0 - kb));
    m[6] = (float)(2.0 * (1.0 - kr)), m[7] = (float)(-2.0 * kr * (1.0 - kr) / kg), m[8] = 0;
}

/*
 * mul/off for samples of depth bits stored in containers of cbits bits,
 * shifted up by shift (P010: 10 bits << 6 in 16), sampled by GL as
 * value / (2^cbits - 1).
 */
static void yuv_scale(int depth, int shift, int cbits, bool full, float mul[3], float off[3])
{
    double cmax = (double)((1u << cbits) - 1);
    double code = cmax / (double)(1u << shift); /* sample -> code */
    double q = (double)(1u << (depth - 8));      /* 8-bit levels -> depth */
    if (full) {
        double n = (double)((1u << depth) - 1);
        mul[0] = mul[1] = mul[2] = (float)(code / n);
        off[0] = 0;
        off[1] = off[2] = (float)((double)(1u << (depth - 1)) / n);
    } else {
        mul[0] = (float)(code / (219.0 * q));
        mul[1] = mul[2] = (float)(code / (224.0 * q));
        off[0] = (float)(16.0 / 219.0);
        off[1] = off[2] = (float)(128.0 / 224.0);
    }
}

void vr_gl_picture_set_yuv(struct vr_gl_picture *p, const AVFrame *f, int depth, int shift)
{
    p->layout = LAYOUT_SEMI;
    yuv_matrix(vr_frame_matrix(f), p->m);
    yuv_scale(depth, shift, depth > 8 ? 16 : 8, vr_frame_full_range(f), p->mul, p->off);
}

/* ---- upload --------------------------------------------------------------- */

static int check_gl(struct vr_gl *g, const char *what)
{
    GLenum e = glGetError();
    if (e == GL_NO_ERROR)
        return 0;
    vr_gl_log(g, VR_CLOG_WARNING, "gl: %s: GL error 0x%x", what, (unsigned)e);
    while (glGetError() != GL_NO_ERROR) {
    }
    return -EIO;
}

/* Texture unit i of p gets w x h of data (channels 1, 2 or 4; bytes 1 or 2
 * per channel), rows linesize bytes apart. */
static int upload_plane(struct vr_gl *g, struct vr_gl_picture *p, int i, int w, int h,
                        int channels, int bytes, const uint8_t *data, int linesize)
{
    int texel = channels * bytes;
    if (w <= 0 || h <= 0 || linesize <= 0 || linesize % texel)
        return -ENOTSUP;
    if (w > g->max_tex || h > g->max_tex)
        return -E2BIG;
    static const GLenum fmt8[5] = { 0, GL_R8, GL_RG8, 0, GL_RGBA8 };
    static const GLenum fmt16[5] = { 0, GL_R16, GL_RG16, 0, GL_RGBA16 };
    static const GLenum pix[5] = { 0, GL_RED, GL_RG, 0, GL_RGBA };
    GLenum ifmt = bytes == 2 ? fmt16[channels] : fmt8[channels];
    GLenum type = bytes == 2 ? GL_UNSIGNED_SHORT : GL_UNSIGNED_BYTE;
    if (!p->tex[i])
        glGenTextures(1, &p->tex[i]);
    glBindTexture(GL_TEXTURE_2D, p->tex[i]);
    glPixelStorei(GL_UNPACK_ROW_LENGTH, linesize / texel);
    glPixelStorei(GL_UNPACK_ALIGNMENT, (linesize % 8 == 0 && ((uintptr_t)data % 8) == 0) ? 8 : 1);
    if (p->tw[i] != w || p->th[i] != h || p->tfmt[i] != ifmt) {
        glTexImage2D(GL_TEXTURE_2D, 0, (GLint)ifmt, w, h, 0, pix[channels], type, data);
        glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
        glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
        glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
        glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
        p->tw[i] = w;
        p->th[i] = h;
        p->tfmt[i] = ifmt;
    } else {
        glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, w, h, pix[channels], type, data);
    }
    glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
    return check_gl(g, "texture upload");
}

/* The identity, or the permutation bringing samples (s0, s1, s2) to R, G, B. */
static void permutation(float m[9], int r, int gr, int b)
{
    memset(m, 0, 9 * sizeof(float));
    m[r * 3 + 0] = 1; /* column r feeds R */
    m[gr * 3 + 1] = 1;
    m[b * 3 + 2] = 1;
}

/* How a software format is drawn, or false to convert it first. */
static bool shader_format(const struct vr_gl *g, const AVPixFmtDescriptor *d, enum layout *l)
{
    if (!d || (d->flags & (AV_PIX_FMT_FLAG_BE | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL |
                           AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_FLOAT)) ||
        d->nb_components < 3)
        return false;
    int depth = d->comp[0].depth, step = d->comp[0].step;
    if (depth < 8 || depth > 16 || d->comp[1].depth != depth || d->comp[2].depth != depth)
        return false;
    if (step == 2 && !g->norm16 && (d->flags & AV_PIX_FMT_FLAG_PLANAR))
        return false;
    if (d->flags & AV_PIX_FMT_FLAG_PLANAR) {
        int p0 = d->comp[0].plane, p1 = d->comp[1].plane, p2 = d->comp[2].plane;
        if (p0 == 0 && p1 == 1 && p2 == 2 && step == (depth > 8 ? 2 : 1) &&
            d->comp[1].step == step && d->comp[2].step == step) {
            *l = LAYOUT_PLANAR;
            return true;
        }
        if (p0 == 0 && p1 == 1 && p2 == 1 && !(d->flags & AV_PIX_FMT_FLAG_RGB) &&
            d->comp[1].step == 2 * step && step == (depth > 8 ? 2 : 1)) {
            *l = LAYOUT_SEMI;
            return true;
        }
        return false;
    }
    /* Packed: 8-bit four-byte RGB only (bgra, rgba, bgr0, rgb0...). */
    if ((d->flags & AV_PIX_FMT_FLAG_RGB) && depth == 8 && step == 4 && d->comp[0].plane == 0 &&
        d->comp[0].offset < 3 && d->comp[1].offset < 3 && d->comp[2].offset < 3) {
        *l = LAYOUT_PACKED;
        return true;
    }
    return false;
}

/* A software frame into p (textures of p's texture set). */
static int upload_sw(struct vr_gl *g, struct vr_gl_picture *p, const AVFrame *f)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    enum layout l;
    if (!shader_format(g, d, &l)) {
        /* No shader for it: 4:4:4 at 8 bits keeps the chroma (logged once). */
        if (g->converted_logged != f->format) {
            g->converted_logged = f->format;
            vr_gl_log(g, VR_CLOG_INFO, "gl: %s has no shader, converted to yuv444p on the CPU",
                      d ? d->name : "unknown format");
        }
        int r = vr_frame_convert(&g->sws, &g->conv, f, AV_PIX_FMT_YUV444P);
        if (r < 0)
            return r;
        f = g->conv;
        d = av_pix_fmt_desc_get(f->format);
        l = LAYOUT_PLANAR;
    }
    int depth = d->comp[0].depth, bytes = depth > 8 ? 2 : 1;
    int cw = AV_CEIL_RSHIFT(f->width, d->log2_chroma_w);
    int ch = AV_CEIL_RSHIFT(f->height, d->log2_chroma_h);
    int ret = 0;
    picture_release(g, p);
    p->layout = (int)l;
    if (l == LAYOUT_PACKED) {
        ret = upload_plane(g, p, 0, f->width, f->height, 4, 1, f->data[0], f->linesize[0]);
        /* The texture's r, g, b are the bytes at offsets 0, 1, 2. */
        int at[3] = { 0, 0, 0 };
        for (int c = 0; c < 3; c++)
            if (d->comp[c].offset < 3)
                at[d->comp[c].offset] = c; /* byte offset -> R(0), G(1), B(2) */
        float m[9] = { 0 };
        for (int o = 0; o < 3; o++)
            m[o * 3 + at[o]] = 1; /* column o (byte o) feeds component at[o] */
        memcpy(p->m, m, sizeof(m));
        p->mul[0] = p->mul[1] = p->mul[2] = 1;
        p->off[0] = p->off[1] = p->off[2] = 0;
    } else {
        int sh = d->comp[0].shift;
        ret = upload_plane(g, p, 0, f->width, f->height, 1, bytes, f->data[0], f->linesize[0]);
        if (ret == 0 && l == LAYOUT_PLANAR) {
            ret = upload_plane(g, p, 1, cw, ch, 1, bytes, f->data[1], f->linesize[1]);
            if (ret == 0)
                ret = upload_plane(g, p, 2, cw, ch, 1, bytes, f->data[2], f->linesize[2]);
        } else if (ret == 0) {
            ret = upload_plane(g, p, 1, cw, ch, 2, bytes, f->data[1], f->linesize[1]);
        }
        if (d->flags & AV_PIX_FMT_FLAG_RGB) { /* gbrp: planes G, B, R */
            permutation(p->m, 2, 0, 1);
            yuv_scale(depth, sh, bytes * 8, true, p->mul, p->off);
            p->off[0] = p->off[1] = p->off[2] = 0;
        } else {
            yuv_matrix(vr_frame_matrix(f), p->m);
            yuv_scale(depth, sh, bytes * 8, vr_frame_full_range(f), p->mul, p->off);
            if (l == LAYOUT_SEMI && d->comp[2].offset < d->comp[1].offset) {
                /* nv21: Cr first in the texture: swap the chroma columns. */
                for (int r = 0; r < 3; r++) {
                    float t = p->m[3 + r];
                    p->m[3 + r] = p->m[6 + r];
                    p->m[6 + r] = t;
                }
            }
        }
    }
    if (ret < 0)
        return ret;
    p->w = f->width;
    p->h = f->height;
    p->valid = true;
    return 0;
}

int vr_gl_upload(struct vr_gl *g, uint32_t slot, const AVFrame *frame)
{
    if (!g || slot >= VR_GL_MAX_FRAMES || !frame || frame->width <= 0 || frame->height <= 0)
        return -EINVAL;
    struct vr_gl_picture *p = &g->pic[slot];
    const char *why = NULL;
    if (frame->format == AV_PIX_FMT_VAAPI) {
        if (g->dmabuf) {
            int ret = vr_gl_dmabuf_import(g, g->dmabuf, p, frame);
            if (ret == 0) {
                vr_hwframe_note_import();
                if (!g->import_logged) {
                    g->import_logged = true;
                    vr_gl_log(g, VR_CLOG_INFO, "gl: VA-API frames imported as DMA-BUF "
                              "(zero-copy to GL)");
                }
                return 0;
            }
            vr_gl_log(g, VR_CLOG_WARNING, "gl: VA-API import failed (%s): copying frames",
                      strerror(-ret));
            vr_gl_dmabuf_destroy(g->dmabuf);
            g->dmabuf = NULL;
            why = "the import failed";
        } else {
            why = "no DMA-BUF import here";
        }
    } else if (vr_frame_is_hw(frame)) {
        why = "only VA-API frames are imported";
    }
    if (why) {
        /* Downloaded (once per frame, shared with the other readers) and
         * uploaded: a copy through the CPU. */
        const AVFrame *sw;
        int ret = vr_frame_cpu(frame, &g->download, &sw);
        if (ret < 0)
            return ret;
        if (!g->download_logged) {
            g->download_logged = true;
            vr_gl_log(g, VR_CLOG_INFO, "gl: %s frames downloaded and uploaded (%s)",
                      av_get_pix_fmt_name(frame->format), why);
        }
        frame = sw;
    }
    return upload_sw(g, p, frame);
}

void vr_gl_forget(struct vr_gl *g, uint32_t slot)
{
    if (g && slot < VR_GL_MAX_FRAMES)
        picture_release(g, &g->pic[slot]);
}

/* ---- draw ---------------------------------------------------------------- */

static void draw_picture(struct vr_gl *g, const struct vr_gl_picture *p, const float tex[4],
                         const struct vr_rect *dst, const pixman_region32_t *clip, uint32_t fb_w,
                         uint32_t fb_h, uint64_t *pixels)
{
    const struct program *pr = &g->prog[p->layout];
    float pos[4] = {
        2.0f * (float)dst->x / (float)fb_w - 1.0f,
        1.0f - 2.0f * (float)dst->y / (float)fb_h,
        2.0f * (float)((int64_t)dst->x + dst->w) / (float)fb_w - 1.0f,
        1.0f - 2.0f * (float)((int64_t)dst->y + dst->h) / (float)fb_h,
    };
    glUseProgram(pr->prog);
    glUniform4fv(pr->u_pos, 1, pos);
    glUniform4fv(pr->u_tex, 1, tex);
    glUniformMatrix3fv(pr->u_m, 1, GL_FALSE, p->m);
    glUniform3fv(pr->u_mul, 1, p->mul);
    glUniform3fv(pr->u_off, 1, p->off);
    /* 1:1, luma texels land on pixel centres: nearest is the same picture
     * as linear, and a software rasteriser filters much faster. Chroma too
     * there (repeated, as libswscale's unscaled path does); a GPU keeps
     * interpolating it, where it costs nothing. */
    bool exact = dst->w == (uint32_t)p->w && dst->h == (uint32_t)p->h && tex[0] == 0 &&
                 tex[1] == 0 && tex[2] == 1 && tex[3] == 1;
    for (int i = 0; i < 3; i++) {
        glActiveTexture(GL_TEXTURE0 + (GLenum)i);
        glBindTexture(GL_TEXTURE_2D, p->tex[i]);
        GLint filter = exact && (i == 0 || g->software) ? GL_NEAREST : GL_LINEAR;
        if (p->tex[i]) {
            glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, filter);
            glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, filter);
        }
    }
    glBindVertexArray(g->vao);
    glDisable(GL_BLEND);
    glDisable(GL_DEPTH_TEST);
    glDisable(GL_STENCIL_TEST);
    glDisable(GL_CULL_FACE);
    glViewport(0, 0, (GLsizei)fb_w, (GLsizei)fb_h);
    glEnable(GL_SCISSOR_TEST);
    pixman_region32_t r;
    pixman_region32_init_rect(&r, dst->x, dst->y, dst->w, dst->h);
    if (clip)
        pixman_region32_intersect(&r, &r, (pixman_region32_t *)clip);
    pixman_region32_intersect_rect(&r, &r, 0, 0, fb_w, fb_h);
    int n = 0;
    const pixman_box32_t *b = pixman_region32_rectangles(&r, &n);
    for (int k = 0; k < n; k++) {
        glScissor(b[k].x1, (GLint)fb_h - b[k].y2, b[k].x2 - b[k].x1, b[k].y2 - b[k].y1);
        glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
        if (pixels)
            *pixels += (uint64_t)(b[k].x2 - b[k].x1) * (uint64_t)(b[k].y2 - b[k].y1);
    }
    pixman_region32_fini(&r);
    glDisable(GL_SCISSOR_TEST);
    glBindVertexArray(0);
    glActiveTexture(GL_TEXTURE0);
    glUseProgram(0);
}

static bool draw_args_ok(const struct vr_rect *dst, uint32_t fb_w, uint32_t fb_h)
{
    return dst && fb_w && fb_h && fb_w <= 16384 && fb_h <= 16384;
}

int vr_gl_draw(struct vr_gl *g, uint32_t slot, const struct vr_rect *dst,
               const pixman_region32_t *clip, uint32_t fb_w, uint32_t fb_h, uint64_t *pixels)
{
    if (!g || slot >= VR_GL_MAX_FRAMES || !draw_args_ok(dst, fb_w, fb_h))
        return -EINVAL;
    const struct vr_gl_picture *p = &g->pic[slot];
    if (!p->valid)
        return -ENOENT;
    if (!dst->w || !dst->h)
        return 0;
    static const float whole[4] = { 0, 0, 1, 1 };
    draw_picture(g, p, whole, dst, clip, fb_w, fb_h, pixels);
    return check_gl(g, "draw");
}

int vr_gl_set_background(struct vr_gl *g, pixman_image_t *image)
{
    if (!g)
        return -EINVAL;
    if (!image) {
        g->bg.valid = false;
        return 0;
    }
    int w = pixman_image_get_width(image), h = pixman_image_get_height(image);
    pixman_format_code_t fmt = pixman_image_get_format(image);
    if (w <= 0 || h <= 0 || (fmt != PIXMAN_x8r8g8b8 && fmt != PIXMAN_a8r8g8b8))
        return -EINVAL;
    /* Little-endian x8r8g8b8 is the bytes B, G, R, X. */
    int ret = upload_plane(g, &g->bg, 0, w, h, 4, 1, (const uint8_t *)pixman_image_get_data(image),
                           pixman_image_get_stride(image));
    if (ret < 0) {
        g->bg.valid = false;
        return ret;
    }
    g->bg.layout = LAYOUT_PACKED;
    permutation(g->bg.m, 2, 1, 0);
    g->bg.mul[0] = g->bg.mul[1] = g->bg.mul[2] = 1;
    g->bg.off[0] = g->bg.off[1] = g->bg.off[2] = 0;
    g->bg.w = w;
    g->bg.h = h;
    g->bg.valid = true;
    return 0;
}

int vr_gl_draw_background(struct vr_gl *g, const struct vr_rect *src, const struct vr_rect *dst,
                          uint32_t fb_w, uint32_t fb_h)
{
    if (!g || !src || !draw_args_ok(dst, fb_w, fb_h))
        return -EINVAL;
    if (!g->bg.valid)
        return -ENOENT;
    if (!src->w || !src->h || !dst->w || !dst->h)
        return 0;
    float tex[4] = { (float)src->x / (float)g->bg.w, (float)src->y / (float)g->bg.h,
                     (float)((int64_t)src->x + src->w) / (float)g->bg.w,
                     (float)((int64_t)src->y + src->h) / (float)g->bg.h };
    draw_picture(g, &g->bg, tex, dst, NULL, fb_w, fb_h, NULL);
    return check_gl(g, "draw background");
}
