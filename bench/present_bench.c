/*
 * bench-present: what presenting a frame costs next to decoding it, for each
 * way of presenting, side by side in one run.
 *
 *   bench-present CLIP [WxH [STAGE...]]
 *
 * Decodes every frame of CLIP with the client's decoder (vr_decoder,
 * software, one thread) and shows each decoded frame, scaled into a WxH
 * output (default 1920x1080: the whole output is the video), through:
 *   headless    the headless presenter (libswscale to BGRA at the output
 *               size, pixman copy into the canvas), in memory only;
 *   sdl-sw      the SDL2 window's software presenter: the same drawing into
 *               the window surface, the damage sent to the X server;
 *   sdl-renderer the SDL2 window with SDL's renderer (YUV streaming texture,
 *               RenderCopy, RenderPresent; SDL_RENDER_DRIVER picks which);
 *   sdl-gl      the SDL2 window with the GL presenter (planes uploaded as
 *               textures, shader, scissor, SwapWindow);
 *   gl-offscreen the GL renderer alone into a framebuffer object, glFinish:
 *               the shader's cost without putting the picture on the screen.
 * STAGEs (default all) pick which presenters run: one at a time keeps a
 * software rasteriser's threads, still busy with one presenter's frame, out
 * of the next one's time.
 * Prints per stage "stage NAME cpu_ms C wall_ms W frames N" (per frame; CPU
 * time of the whole process, the rasteriser's threads included, so a
 * software GL's work is counted). Needs a display for the SDL stages (Xvfb).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <SDL.h>
#include <epoxy/gl.h>

#include <videoredir/capture.h>
#include <videoredir/client.h>
#include <videoredir/gl.h>
#include <videoredir/sdl.h>

enum { ST_DECODE, ST_SW, ST_SDL_SW, ST_SDL_REN, ST_SDL_GL, ST_GL_OFF, N_ST };
static const char *const names[N_ST] = { "decode", "headless", "sdl-sw", "sdl-renderer", "sdl-gl",
                                         "gl-offscreen" };

struct stage {
    double cpu, wall;
    uint64_t frames;
    bool on;
};

struct bench {
    struct stage st[N_ST];
    uint32_t w, h;
    struct vr_presenter *headless, *sdl_sw, *sdl_ren, *sdl_gl;
    SDL_Window *offwin;
    SDL_GLContext offctx;
    struct vr_gl *offgl;
    GLuint fbo, rbo;
};

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A presenter showing f as a new frame of a stream covering the output:
 * what vr_presenter_sync does for a new shown frame. */
static int present(struct vr_presenter *p, const AVFrame *f, uint32_t w, uint32_t h)
{
    struct vr_presenter_slot *sl = &p->slots[0];
    if (!sl->live) {
        sl->live = sl->has_geometry = true;
        sl->content = (struct vr_rect){ 0, 0, w, h };
        pixman_region32_reset(&sl->visible, &(pixman_box32_t){ 0, 0, (int32_t)w, (int32_t)h });
        struct vr_viewport vp = { { 0, 0, w, h }, { 0, 0, w, h } };
        vr_presenter_set_viewport(p, &vp);
    }
    av_frame_free(&sl->frame);
    if (!(sl->frame = av_frame_clone(f)))
        return -ENOMEM;
    if (p->ops->frame_shown)
        p->ops->frame_shown(p, 0);
    pixman_region32_union(&p->damage, &p->damage, &sl->visible);
    int ret = p->ops->redraw(p);
    pixman_region32_clear(&p->damage);
    p->damage_output = false;
    return ret;
}

static int offscreen(struct bench *b, const AVFrame *f)
{
    SDL_GL_MakeCurrent(b->offwin, b->offctx);
    glBindFramebuffer(GL_FRAMEBUFFER, b->fbo);
    int ret = vr_gl_upload(b->offgl, 0, f);
    struct vr_rect dst = { 0, 0, b->w, b->h };
    if (ret == 0)
        ret = vr_gl_draw(b->offgl, 0, &dst, NULL, b->w, b->h, NULL);
    glFinish();
    return ret;
}

static int run_stage(struct bench *b, int s, const AVFrame *f)
{
    if (!b->st[s].on)
        return 0;
    double c0 = cpu_seconds(), w0 = wall_seconds();
    int ret = 0;
    switch (s) {
    case ST_SW: ret = present(b->headless, f, b->w, b->h); break;
    case ST_SDL_SW: ret = present(b->sdl_sw, f, b->w, b->h); break;
    case ST_SDL_REN: ret = present(b->sdl_ren, f, b->w, b->h); break;
    case ST_SDL_GL: ret = present(b->sdl_gl, f, b->w, b->h); break;
    case ST_GL_OFF: ret = offscreen(b, f); break;
    default: break;
    }
    b->st[s].cpu += cpu_seconds() - c0;
    b->st[s].wall += wall_seconds() - w0;
    b->st[s].frames++;
    if (ret < 0) {
        fprintf(stderr, "bench-present: %s: %s\n", names[s], strerror(-ret));
        b->st[s].on = false;
    }
    return 0;
}

static void log_cb(void *user, enum vr_client_log level, const char *msg)
{
    fprintf(stderr, "bench-present: %s\n", msg);
}

static void setup(struct bench *b, const bool *want)
{
    /* Ours: the presenters' own references go when they are destroyed. */
    SDL_InitSubSystem(SDL_INIT_VIDEO);
    b->st[ST_DECODE].on = true;
    if (want[ST_SW])
        b->st[ST_SW].on = vr_headless_create(b->w, b->h, NULL, &b->headless) == 0;
    struct vr_sdl_config sc = { .title = "bench sdl-sw", .width = b->w, .height = b->h,
                                .desktop = { 0, 0, b->w, b->h }, .x = 0, .y = 0,
                                .present = VR_SDL_PRESENT_SW, .log = log_cb };
    if (want[ST_SDL_SW] && !(b->st[ST_SDL_SW].on = vr_sdl_create(&sc, &b->sdl_sw) == 0))
        fprintf(stderr, "bench-present: no sdl-sw: %s\n", vr_sdl_error());
    sc.title = "bench sdl-renderer";
    sc.present = VR_SDL_PRESENT_RENDERER;
    if (want[ST_SDL_REN] && !(b->st[ST_SDL_REN].on = vr_sdl_create(&sc, &b->sdl_ren) == 0))
        fprintf(stderr, "bench-present: no sdl-renderer: %s\n", vr_sdl_error());
    sc.title = "bench sdl-gl";
    sc.present = VR_SDL_PRESENT_GL;
    if (want[ST_SDL_GL] && !(b->st[ST_SDL_GL].on = vr_sdl_create(&sc, &b->sdl_gl) == 0))
        fprintf(stderr, "bench-present: no sdl-gl: %s\n", vr_sdl_error());
    /* Off screen: a hidden window's context and a framebuffer object. */
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK, SDL_GL_CONTEXT_PROFILE_CORE);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, 3);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, 3);
    char why[256] = "";
    if (!want[ST_GL_OFF])
        goto done;
    if ((b->offwin = SDL_CreateWindow("bench off", 0, 0, 64, 64, SDL_WINDOW_OPENGL | SDL_WINDOW_HIDDEN)) &&
        (b->offctx = SDL_GL_CreateContext(b->offwin)) &&
        vr_gl_create(NULL, NULL, why, sizeof(why), &b->offgl) == 0) {
        glGenFramebuffers(1, &b->fbo);
        glGenRenderbuffers(1, &b->rbo);
        glBindRenderbuffer(GL_RENDERBUFFER, b->rbo);
        glRenderbufferStorage(GL_RENDERBUFFER, GL_RGBA8, (GLsizei)b->w, (GLsizei)b->h);
        glBindFramebuffer(GL_FRAMEBUFFER, b->fbo);
        glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, b->rbo);
        b->st[ST_GL_OFF].on = glCheckFramebufferStatus(GL_FRAMEBUFFER) == GL_FRAMEBUFFER_COMPLETE;
        printf("renderer %s\n", vr_gl_describe(b->offgl));
    } else {
        fprintf(stderr, "bench-present: no gl-offscreen: %s %s\n", why, SDL_GetError());
    }
done:
    if (b->sdl_sw)
        printf("presenter sdl-sw %s\n", vr_sdl_presenter_name(b->sdl_sw));
    if (b->sdl_ren)
        printf("presenter sdl-renderer %s\n", vr_sdl_presenter_name(b->sdl_ren));
    if (b->sdl_gl)
        printf("presenter sdl-gl %s\n", vr_sdl_presenter_name(b->sdl_gl));
}

static void teardown(struct bench *b)
{
    vr_presenter_destroy(b->headless);
    vr_presenter_destroy(b->sdl_sw);
    vr_presenter_destroy(b->sdl_ren);
    vr_presenter_destroy(b->sdl_gl);
    if (b->offctx) {
        SDL_GL_MakeCurrent(b->offwin, b->offctx);
        vr_gl_destroy(b->offgl);
        glDeleteFramebuffers(1, &b->fbo);
        glDeleteRenderbuffers(1, &b->rbo);
        SDL_GL_DeleteContext(b->offctx);
    }
    if (b->offwin)
        SDL_DestroyWindow(b->offwin);
    SDL_Quit();
}

static int shown(struct bench *b, const AVFrame *f)
{
    /* Every presenter sees every frame, one after the other. */
    for (int s = ST_SW; s < N_ST; s++)
        run_stage(b, s, f);
    SDL_Event ev;
    while (SDL_PollEvent(&ev)) {
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: bench-present CLIP [WxH]\n");
        return argc < 2 ? 2 : 0;
    }
    struct bench b = { .w = 1920, .h = 1080 };
    if (argc > 2 && (sscanf(argv[2], "%ux%u", &b.w, &b.h) != 2 || !b.w || !b.h || b.w > 8192 ||
                     b.h > 8192)) {
        fprintf(stderr, "bench-present: bad size %s\n", argv[2]);
        return 2;
    }
    char err[256];
    struct vr_source *src = NULL;
    int ret = vr_source_open(argv[1], &src, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "bench-present: %s\n", err);
        return 1;
    }
    struct vr_decoder *dec = NULL;
    if ((ret = vr_decoder_open_threads(vr_source_stream_start(src), VR_HWDEC_NONE, 1, NULL, NULL,
                                       &dec)) < 0) {
        fprintf(stderr, "bench-present: decoder: %s\n", strerror(-ret));
        return 1;
    }
    bool want[N_ST] = { false };
    for (int i = 3; i < argc; i++) {
        int k = 1;
        while (k < N_ST && strcmp(argv[i], names[k]))
            k++;
        if (k == N_ST) {
            fprintf(stderr, "bench-present: unknown stage %s\n", argv[i]);
            return 2;
        }
        want[k] = true;
    }
    for (int k = 1; k < N_ST; k++)
        want[k] = want[k] || argc <= 3;
    setup(&b, want);
    struct vr_au au;
    bool eof = false;
    while (!eof) {
        double c0 = cpu_seconds(), w0 = wall_seconds();
        ret = vr_source_read(src, &au);
        if (ret == 1) {
            struct vr_frame fr = { .flags = au.flags, .pts = au.pts, .dts = au.dts,
                                   .duration = au.duration, .data_len = au.len, .data = au.data };
            vr_decoder_send(dec, &fr);
        } else {
            vr_decoder_drain(dec);
            eof = true;
        }
        for (;;) {
            const AVFrame *f;
            if (vr_decoder_receive(dec, &f) != 0)
                break;
            b.st[ST_DECODE].cpu += cpu_seconds() - c0;
            b.st[ST_DECODE].wall += wall_seconds() - w0;
            b.st[ST_DECODE].frames++;
            shown(&b, f);
            c0 = cpu_seconds();
            w0 = wall_seconds();
        }
        b.st[ST_DECODE].cpu += cpu_seconds() - c0;
        b.st[ST_DECODE].wall += wall_seconds() - w0;
    }
    for (int s = 0; s < N_ST; s++) {
        struct stage *st = &b.st[s];
        if (!st->frames)
            continue;
        printf("stage %s cpu_ms %.3f wall_ms %.3f frames %" PRIu64 "\n", names[s],
               st->cpu / (double)st->frames * 1e3, st->wall / (double)st->frames * 1e3, st->frames);
    }
    teardown(&b);
    vr_decoder_close(dec);
    vr_source_close(src);
    return 0;
}
