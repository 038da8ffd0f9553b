/*
 * SDL2 presenter: a window that shows an area of the guest desktop (a
 * monitor) scaled to the window, the desktop picture under the videos, and
 * each video from a YUV streaming texture (IYUV or NV12; other formats are
 * converted with libswscale) with one SDL_RenderCopy per visible rectangle.
 * Behind the vr_presenter interface of client.h; needs no GTK. SDL is used
 * from one thread: the one that created the presenter.
 */
#ifndef VIDEOREDIR_SDL_H
#define VIDEOREDIR_SDL_H

#include <videoredir/client.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vr_sdl_config {
    const char *title;       /* NULL: "videoredir" */
    uint32_t width, height;  /* initial window size; 0: the desktop area's */
    struct vr_rect desktop;  /* desktop area shown; w or h 0: 1280x800 at 0,0 */
    bool keep_aspect;        /* letterbox instead of stretching */
    int x, y;                /* window position; -1: let the window system choose */
};

/* Opens the window (SDL video is initialised here). Returns 0 and *out (free
 * with vr_presenter_destroy), -ENODEV if SDL cannot open a window (the
 * reason through vr_sdl_error), -EINVAL or -ENOMEM. */
int vr_sdl_create(const struct vr_sdl_config *cfg, struct vr_presenter **out);

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
