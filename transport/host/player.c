/* The guest-decoding baseline: paints a clip's frames onto the QXL display
 * at their frame rate, as a player decoding in the guest would. spice-server
 * then sees a region changing every frame and (streaming-video=filter/all)
 * detects it as video and re-encodes it: the path videoredir replaces. */
#include <videoredir/transport.h>

#include "host.h"

struct vr_host_player {
    struct vr_host_display *display;
    struct vr_host_clip *clip;
    int32_t x, y;
    uint32_t loops, loop;
    uint64_t interval_us, next_us;
    guint timer;
    vr_host_player_done_fn done;
    void *user;
    struct vr_host_player_stats st;
};

static gboolean tick(gpointer data);

static void arm(struct vr_host_player *p, uint64_t due_us)
{
    uint64_t now = vr_time_us();
    guint ms = due_us > now ? (guint)((due_us - now + 999) / 1000) : 0;
    p->timer = g_timeout_add(ms, tick, p);
}

static void finish(struct vr_host_player *p)
{
    p->timer = 0;
    if (p->done)
        p->done(p->user, &p->st);
}

static gboolean tick(gpointer data)
{
    struct vr_host_player *p = data;
    if (!p->st.start_us && !vr_host_display_has_client(p->display)) {
        p->timer = g_timeout_add(20, tick, p); /* nobody watches yet */
        return G_SOURCE_REMOVE;
    }
    GError *err = NULL;
    const uint8_t *px = NULL;
    int ret = vr_host_clip_next(p->clip, &px, &err);
    if (ret > 0 && (p->loops == 0 || ++p->loop < p->loops) && vr_host_clip_rewind(p->clip) == 0)
        ret = vr_host_clip_next(p->clip, &px, &err);
    if (ret != 0) {
        if (ret < 0) {
            g_warning("play: %s", err->message);
            g_error_free(err);
        }
        finish(p);
        return G_SOURCE_REMOVE;
    }
    uint64_t now = vr_time_us();
    if (vr_host_display_paint(p->display, p->x, p->y, vr_host_clip_width(p->clip),
                              vr_host_clip_height(p->clip), px,
                              (size_t)vr_host_clip_width(p->clip) * 4) < 0)
        p->st.dropped++;
    else
        p->st.frames++;
    if (!p->st.start_us) {
        p->st.start_us = now;
        p->next_us = now;
    }
    p->st.end_us = now;
    /* A fixed schedule: late ticks do not push the following frames back. */
    p->next_us += p->interval_us;
    arm(p, p->next_us);
    return G_SOURCE_REMOVE;
}

int vr_host_player_start(struct vr_host_display *d, const char *path, int32_t x, int32_t y,
                         uint32_t w, uint32_t h, uint32_t loops, vr_host_player_done_fn done,
                         void *user, struct vr_host_player **out, GError **error)
{
    struct vr_host_player *p = g_new0(struct vr_host_player, 1);
    if (vr_host_clip_open(path, w, h, &p->clip, error) < 0) {
        g_free(p);
        return -EIO;
    }
    p->display = d;
    p->x = x;
    p->y = y;
    p->loops = loops;
    p->done = done;
    p->user = user;
    p->interval_us = (uint64_t)(1e6 / vr_host_clip_fps(p->clip));
    p->timer = g_timeout_add(0, tick, p);
    *out = p;
    return 0;
}

void vr_host_player_stop(struct vr_host_player *p)
{
    if (!p)
        return;
    if (p->timer)
        g_source_remove(p->timer);
    vr_host_clip_close(p->clip);
    g_free(p);
}
