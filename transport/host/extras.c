/* --marker, --cover, --marker-move: what a player shows of a placeholder frame
 * with the placement marker (protocol/PROTOCOL.md section 10), a window over
 * it, and the player window moved while it plays. Drawn like a guest's
 * drawing once a client watches, so spice-server compresses it as such (the
 * desktop a client finds on connecting is always sent lossless). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host.h"

#define COVER_COLOUR 0xefebe4u
#define SRC_W 1280 /* the placeholder frame the player scales */
#define SRC_H 720

struct box {
    int x, y;
    unsigned w, h;
};

struct vr_host_extras {
    struct vr_host_display *display;
    uint32_t *desk; /* the desktop without extras */
    uint32_t *pic;  /* scratch: the desktop with them */
    unsigned w, h;
    unsigned code;
    bool has_marker, has_cover, has_move;
    struct box marker, cover, moved;
    double move_after_s;
    guint timer;
};

static bool parse_box(const char *s, struct box *b)
{
    char tail;
    return sscanf(s, "%d,%d,%ux%u%c", &b->x, &b->y, &b->w, &b->h, &tail) == 4 && b->w >= 2 &&
           b->h >= 2 && b->w <= 8192 && b->h <= 8192;
}

static bool inside(const struct box *b, unsigned w, unsigned h)
{
    return b->x >= 0 && b->y >= 0 && (uint64_t)b->x + b->w <= w && (uint64_t)b->y + b->h <= h;
}

int vr_host_extras_new(const uint32_t *desk, unsigned w, unsigned h, const char *marker,
                       const char *cover, const char *move, struct vr_host_extras **out,
                       GError **error)
{
    *out = NULL;
    if (!marker && !cover && !move)
        return 0;
    struct vr_host_extras *e = g_new0(struct vr_host_extras, 1);
    e->w = w;
    e->h = h;
    char tail;
    int at = 0;
    if (marker && (sscanf(marker, "%u@%n", &e->code, &at) != 1 || at == 0 ||
                   !parse_box(marker + at, &e->marker) || !inside(&e->marker, w, h) ||
                   e->code < 1 || e->code > 63)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "bad --marker %s (CODE@X,Y,WxH: code 1..63, a rectangle inside the desktop)",
                    marker);
        goto fail;
    }
    e->has_marker = marker != NULL;
    if (cover && !parse_box(cover, &e->cover)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "bad --cover %s (X,Y,WxH)", cover);
        goto fail;
    }
    e->has_cover = cover != NULL;
    if (move && (!marker || sscanf(move, "%lf@%n", &e->move_after_s, &at) != 1 || at == 0 ||
                 !(e->move_after_s >= 0 && e->move_after_s < 3600) ||
                 !parse_box(move + at, &e->moved) || !inside(&e->moved, w, h))) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "bad --marker-move %s (SECONDS@X,Y,WxH inside the desktop, with --marker)", move);
        goto fail;
    }
    e->has_move = move != NULL;
    (void)tail;
    e->desk = g_memdup2(desk, (gsize)w * h * 4);
    e->pic = g_memdup2(desk, (gsize)w * h * 4);
    *out = e;
    return 0;
fail:
    g_free(e);
    return -EINVAL;
}

/* The desktop with the marker at m (if any) and the cover over it. */
static int compose(struct vr_host_extras *e, const struct box *m)
{
    memcpy(e->pic, e->desk, (size_t)e->w * e->h * 4);
    if (m) {
        int ret = vr_host_desktop_paint_marker(e->pic, e->w, e->h, e->code, SRC_W, SRC_H, m->x,
                                               m->y, m->w, m->h);
        if (ret < 0)
            return ret;
    }
    if (e->has_cover)
        vr_host_desktop_fill(e->pic, e->w, e->h, e->cover.x, e->cover.y, (int)e->cover.w,
                             (int)e->cover.h, COVER_COLOUR);
    return 0;
}

static void grow(int *x1, int *y1, int *x2, int *y2, const struct box *b, unsigned w, unsigned h)
{
    int bx1 = MAX(b->x, 0), by1 = MAX(b->y, 0);
    int bx2 = MIN(b->x + (int)b->w, (int)w), by2 = MIN(b->y + (int)b->h, (int)h);
    if (bx1 >= bx2 || by1 >= by2)
        return;
    if (*x2 <= *x1) {
        *x1 = bx1, *y1 = by1, *x2 = bx2, *y2 = by2;
        return;
    }
    *x1 = MIN(*x1, bx1), *y1 = MIN(*y1, by1), *x2 = MAX(*x2, bx2), *y2 = MAX(*y2, by2);
}

/* One QXL_DRAW_COPY of the composed picture over the union of the boxes. */
static int paint(struct vr_host_extras *e, const struct box *a, const struct box *b)
{
    int x1 = 0, y1 = 0, x2 = 0, y2 = 0;
    if (a)
        grow(&x1, &y1, &x2, &y2, a, e->w, e->h);
    if (b)
        grow(&x1, &y1, &x2, &y2, b, e->w, e->h);
    if (e->has_cover)
        grow(&x1, &y1, &x2, &y2, &e->cover, e->w, e->h);
    if (x2 <= x1)
        return 0;
    return vr_host_display_paint(e->display, x1, y1, (uint32_t)(x2 - x1), (uint32_t)(y2 - y1),
                                 (const uint8_t *)(e->pic + (size_t)y1 * e->w + (size_t)x1),
                                 (size_t)e->w * 4);
}

static gboolean on_move(gpointer data)
{
    struct vr_host_extras *e = data;
    if (compose(e, &e->moved) < 0 || paint(e, &e->marker, &e->moved) < 0) {
        e->timer = g_timeout_add(20, on_move, e); /* queue full: again soon */
        return G_SOURCE_REMOVE;
    }
    g_message("marker moved to %d,%d %ux%u", e->moved.x, e->moved.y, e->moved.w, e->moved.h);
    e->timer = 0;
    return G_SOURCE_REMOVE;
}

static gboolean on_poll(gpointer data)
{
    struct vr_host_extras *e = data;
    if (!vr_host_display_has_client(e->display))
        return G_SOURCE_CONTINUE;
    if (compose(e, e->has_marker ? &e->marker : NULL) < 0 ||
        paint(e, e->has_marker ? &e->marker : NULL, NULL) < 0)
        return G_SOURCE_CONTINUE; /* queue full: next time */
    g_message("marker and cover painted");
    e->timer = e->has_move ? g_timeout_add((guint)(e->move_after_s * 1000), on_move, e) : 0;
    return G_SOURCE_REMOVE;
}

void vr_host_extras_start(struct vr_host_extras *e, struct vr_host_display *d)
{
    if (!e)
        return;
    e->display = d;
    e->timer = g_timeout_add(20, on_poll, e);
}

void vr_host_extras_free(struct vr_host_extras *e)
{
    if (!e)
        return;
    if (e->timer)
        g_source_remove(e->timer);
    g_free(e->desk);
    g_free(e->pic);
    g_free(e);
}
