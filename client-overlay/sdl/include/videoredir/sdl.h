/*
 * SDL2 presenter: a window that shows an area of the guest desktop (a
 * monitor) scaled to the window, the desktop picture under the videos, and
 * each video clipped to its visible region. Three ways to draw, chosen when
 * the window opens:
 *   gl        an OpenGL 3.2+ / ES 3.0 context and the GL renderer
 *             (videoredir/gl.h): planes uploaded as textures, converted by a
 *             shader, one scissored draw per visible rectangle;
 *   software  the headless presenter (libswscale scales and converts a new
 *             frame once, pixman copies the visible boxes) drawing straight
 *             into the window's surface, only the damaged rectangles sent to
 *             the window system;
 *   renderer  SDL's renderer: a YUV streaming texture (IYUV or NV12; other
 *             formats converted with libswscale), one SDL_RenderCopy per
 *             visible rectangle, the whole window presented.
 * auto takes gl when a context comes up on a GPU, software otherwise: a
 * software rasteriser (Mesa's llvmpipe) runs the shader on the CPU at several
 * times libswscale's cost (bench/RESULTS.md). The choice and its reason are
 * logged and in vr_sdl_presenter_name.
 * Behind the vr_presenter interface of client.h; needs no GTK. SDL is used
 * from one thread: the one that created the presenter.
 */
#ifndef VIDEOREDIR_SDL_H
#define VIDEOREDIR_SDL_H

#include <videoredir/client.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vr_sdl_present {
    VR_SDL_PRESENT_AUTO = 0,
    VR_SDL_PRESENT_GL,
    VR_SDL_PRESENT_SW,
    VR_SDL_PRESENT_RENDERER,
};

/* Parses "auto", "gl", "sw" (or "software"), "renderer". Returns 0 or -EINVAL. */
int vr_sdl_present_from_name(const char *name, enum vr_sdl_present *out);

struct vr_sdl_config {
    const char *title;       /* NULL: "videoredir" */
    uint32_t width, height;  /* initial window size; 0: the desktop area's */
    struct vr_rect desktop;  /* desktop area shown; w or h 0: 1280x800 at 0,0 */
    bool keep_aspect;        /* letterbox instead of stretching */
    int x, y;                /* window position; -1: let the window system choose */
    enum vr_sdl_present present; /* AUTO: gl on a GPU, else software */
    vr_client_log_fn log;    /* which presenter and why (may be NULL) */
    void *log_user;
};

/* Opens the window (SDL video is initialised here). Returns 0 and *out (free
 * with vr_presenter_destroy), -ENODEV if SDL cannot open a window, or GL was
 * asked for and does not come up (the reason through vr_sdl_error), -EINVAL
 * or -ENOMEM. */
int vr_sdl_create(const struct vr_sdl_config *cfg, struct vr_presenter **out);

/* Which way p draws: "gl (OpenGL 4.5 ... on llvmpipe ..., uploads)",
 * "software (window surface; gl: why not)" or "renderer (SDL renderer
 * opengl; gl: why not)". Valid while p lives. */
const char *vr_sdl_presenter_name(const struct vr_presenter *p);

/* Whether p draws with GL and imports hardware frames with no copy (then the
 * client should keep them: vr_client_set_keep_hw). */
bool vr_sdl_can_import(const struct vr_presenter *p);

/* The short name of the way p draws: "gl", "software" or "renderer". */
const char *vr_sdl_present_kind(const struct vr_presenter *p);

/* Why the last vr_sdl_* call failed (SDL's message); static storage. */
const char *vr_sdl_error(void);

/* Handles the window's pending events (resize refits the viewport, expose
 * redraws). Returns false once the user closed the window. */
bool vr_sdl_handle_events(struct vr_presenter *p);

/* Changes the desktop area shown (a monitor resized, another monitor). */
void vr_sdl_set_desktop(struct vr_presenter *p, const struct vr_rect *desktop);

/* The desktop picture under the videos, in desktop coordinates (0,0 is the
 * image's corner); copied. NULL: black. Returns 0 or a negative errno. */
int vr_sdl_set_background(struct vr_presenter *p, pixman_image_t *desktop);

#ifdef __cplusplus
}
#endif

#endif
