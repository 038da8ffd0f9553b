/*
 * A QXL display for the host stand-in: one primary surface, painted with a
 * single QXL_DRAW_COPY of the desktop picture, as a guest driver would.
 *
 * spice-server's worker thread calls get_command/release_resource, so the
 * command queue is under a mutex. Guest "physical" addresses are our own
 * pointers: one memory slot covers the whole address space with offset 0.
 */
#include <errno.h>
#include <string.h>

#include "host.h"

#define MAX_QUEUE 16

/* A drawable and everything it points to, freed when the server releases it. */
struct paint {
    QXLDrawable drawable; /* first: its release_info identifies the paint */
    QXLImage image;
    uint32_t pixels[];
};

struct vr_host_display {
    QXLInstance qxl;
    SpiceServer *server;
    uint32_t width, height;
    uint8_t *surface; /* primary surface memory */
    GMutex lock;
    QXLCommandExt queue[MAX_QUEUE];
    unsigned head, count;
    uint64_t next_image_id;
    gint outstanding; /* paints queued or held by the server */
    gint client;      /* a display client is connected (set from the worker) */
};

static struct vr_host_display *from_qxl(QXLInstance *qin)
{
    return (struct vr_host_display *)((char *)qin - offsetof(struct vr_host_display, qxl));
}

static void attached_worker(QXLInstance *qin)
{
    g_debug("QXL worker attached");
}

static void set_compression_level(QXLInstance *qin, int level)
{
}

static void get_init_info(QXLInstance *qin, QXLDevInitInfo *info)
{
    memset(info, 0, sizeof(*info));
    info->num_memslots_groups = 1;
    info->num_memslots = 1;
    info->memslot_gen_bits = 1;
    info->memslot_id_bits = 1;
    info->qxl_ram_size = ~0u;
    info->internal_groupslot_id = 0;
    info->n_surfaces = 1;
}

static int get_command(QXLInstance *qin, QXLCommandExt *cmd)
{
    struct vr_host_display *d = from_qxl(qin);
    int got = 0;
    g_mutex_lock(&d->lock);
    if (d->count) {
        *cmd = d->queue[d->head];
        d->head = (d->head + 1) % MAX_QUEUE;
        d->count--;
        got = 1;
    }
    g_mutex_unlock(&d->lock);
    return got;
}

static int req_cmd_notification(QXLInstance *qin)
{
    struct vr_host_display *d = from_qxl(qin);
    g_mutex_lock(&d->lock);
    int empty = d->count == 0;
    g_mutex_unlock(&d->lock);
    return empty; /* 1: we will call spice_qxl_wakeup when there is more */
}

static void release_resource(QXLInstance *qin, QXLReleaseInfoExt info)
{
    /* The release id is the paint's address (set in paint()). */
    g_free((void *)(uintptr_t)info.info->id);
    g_atomic_int_add(&from_qxl(qin)->outstanding, -1);
}

static int get_cursor_command(QXLInstance *qin, QXLCommandExt *cmd)
{
    return 0;
}

static int req_cursor_notification(QXLInstance *qin)
{
    return 1;
}

static void notify_update(QXLInstance *qin, uint32_t update_id)
{
}

static int flush_resources(QXLInstance *qin)
{
    return 0;
}

static void async_complete(QXLInstance *qin, uint64_t cookie)
{
}

static void update_area_complete(QXLInstance *qin, uint32_t surface_id, QXLRect *rects,
                                 uint32_t n)
{
}

static void set_client_capabilities(QXLInstance *qin, uint8_t present,
                                    uint8_t caps[SPICE_CAPABILITIES_SIZE])
{
    g_debug("display client capabilities %s", present ? "received" : "cleared");
    g_atomic_int_set(&from_qxl(qin)->client, present ? 1 : 0);
}

static int client_monitors_config(QXLInstance *qin, VDAgentMonitorsConfig *mc)
{
    return 0; /* one fixed monitor */
}

static const QXLInterface qxl_iface = {
    .base = { .type = SPICE_INTERFACE_QXL, .description = "videoredir-host display",
              .major_version = SPICE_INTERFACE_QXL_MAJOR,
              .minor_version = SPICE_INTERFACE_QXL_MINOR },
    .attached_worker = attached_worker,
    .set_compression_level = set_compression_level,
    .get_init_info = get_init_info,
    .get_command = get_command,
    .req_cmd_notification = req_cmd_notification,
    .release_resource = release_resource,
    .get_cursor_command = get_cursor_command,
    .req_cursor_notification = req_cursor_notification,
    .notify_update = notify_update,
    .flush_resources = flush_resources,
    .async_complete = async_complete,
    .update_area_complete = update_area_complete,
    .set_client_capabilities = set_client_capabilities,
    .client_monitors_config = client_monitors_config,
};

static int push(struct vr_host_display *d, QXLCommandExt cmd)
{
    int ret = -EAGAIN;
    g_mutex_lock(&d->lock);
    if (d->count < MAX_QUEUE) {
        d->queue[(d->head + d->count) % MAX_QUEUE] = cmd;
        d->count++;
        ret = 0;
    }
    g_mutex_unlock(&d->lock);
    if (ret == 0)
        spice_qxl_wakeup(&d->qxl);
    return ret;
}

/* Queues a copy of a w x h picture (x8r8g8b8, stride bytes per row) to be
 * drawn at x,y, the way a guest driver draws: one QXL_DRAW_COPY. */
static int paint_rect(struct vr_host_display *d, int32_t x, int32_t y, uint32_t w, uint32_t h,
                      const uint8_t *pixels, size_t stride)
{
    size_t row = (size_t)w * 4;
    struct paint *p = g_malloc0(sizeof(*p) + row * h);
    for (uint32_t j = 0; j < h; j++)
        memcpy((uint8_t *)p->pixels + row * j, pixels + stride * j, row);

    QXLImage *img = &p->image;
    img->descriptor.id = ++d->next_image_id;
    img->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    img->descriptor.width = w;
    img->descriptor.height = h;
    img->bitmap.format = SPICE_BITMAP_FMT_32BIT;
    img->bitmap.flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN;
    img->bitmap.x = w;
    img->bitmap.y = h;
    img->bitmap.stride = (uint32_t)row;
    img->bitmap.data = (QXLPHYSICAL)(uintptr_t)p->pixels;

    QXLDrawable *dr = &p->drawable;
    dr->release_info.id = (uint64_t)(uintptr_t)p;
    dr->surface_id = 0;
    dr->effect = QXL_EFFECT_OPAQUE;
    dr->type = QXL_DRAW_COPY;
    dr->bbox = (QXLRect){ .left = x, .top = y, .right = x + (int32_t)w, .bottom = y + (int32_t)h };
    dr->clip.type = SPICE_CLIP_TYPE_NONE;
    for (int i = 0; i < 3; i++)
        dr->surfaces_dest[i] = -1;
    dr->u.copy.src_bitmap = (QXLPHYSICAL)(uintptr_t)img;
    dr->u.copy.src_area = (QXLRect){ .left = 0, .top = 0, .right = (int32_t)w, .bottom = (int32_t)h };
    dr->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    /* mm_time 0: spice-server stamps video frames with its own clock. */

    QXLCommandExt cmd = { .cmd = { .data = (QXLPHYSICAL)(uintptr_t)dr, .type = QXL_CMD_DRAW } };
    g_atomic_int_inc(&d->outstanding);
    if (push(d, cmd) < 0) {
        g_atomic_int_add(&d->outstanding, -1);
        g_free(p);
        return -EAGAIN;
    }
    return 0;
}

int vr_host_display_paint(struct vr_host_display *d, int32_t x, int32_t y, uint32_t w, uint32_t h,
                          const uint8_t *pixels, size_t stride)
{
    if (!d || !pixels || w == 0 || h == 0 || stride < (size_t)w * 4 || x < 0 || y < 0 ||
        (uint64_t)x + w > d->width || (uint64_t)y + h > d->height)
        return -EINVAL;
    return paint_rect(d, x, y, w, h, pixels, stride);
}

bool vr_host_display_has_client(struct vr_host_display *d)
{
    return d && g_atomic_int_get(&d->client);
}

int vr_host_display_start(SpiceServer *server, uint32_t width, uint32_t height,
                          const uint32_t *pixels, struct vr_host_display **out)
{
    if (!server || !pixels || !out || width == 0 || height == 0 || width > 16384 || height > 16384)
        return -EINVAL;
    struct vr_host_display *d = g_new0(struct vr_host_display, 1);
    g_mutex_init(&d->lock);
    d->server = server;
    d->width = width;
    d->height = height;
    d->surface = g_malloc0((size_t)width * height * 4);
    d->qxl.base.sif = &qxl_iface.base;
    d->qxl.id = 0;
    if (spice_server_add_interface(server, &d->qxl.base) != 0) {
        g_free(d->surface);
        g_free(d);
        return -EIO;
    }
    QXLDevMemSlot slot = { .slot_group_id = 0, .slot_id = 0, .generation = 0,
                           .virt_start = 0, .virt_end = ~(uintptr_t)0, .addr_delta = 0,
                           .qxl_ram_size = ~0u };
    spice_qxl_add_memslot(&d->qxl, &slot);
    QXLDevSurfaceCreate surf = {
        .width = width, .height = height, .stride = (int32_t)(width * 4),
        .format = SPICE_SURFACE_FMT_32_xRGB, .position = 0, .mouse_mode = 0, .flags = 0,
        .type = 0, .mem = (uint64_t)(uintptr_t)d->surface, .group_id = 0,
    };
    spice_qxl_create_primary_surface(&d->qxl, 0, &surf);
    if (paint_rect(d, 0, 0, width, height, (const uint8_t *)pixels, (size_t)width * 4) < 0)
        g_warning("QXL command queue full: desktop not painted");
    *out = d;
    return 0;
}

void vr_host_display_stop(struct vr_host_display *d)
{
    if (!d)
        return;
    spice_server_remove_interface(&d->qxl.base);
    /* Removing the interface destroys the worker, which releases what it
     * held. What it never fetched is still queued here: ours to free. */
    g_mutex_lock(&d->lock);
    for (; d->count; d->count--, d->head = (d->head + 1) % MAX_QUEUE) {
        QXLDrawable *dr = (QXLDrawable *)(uintptr_t)d->queue[d->head].cmd.data;
        g_free((void *)(uintptr_t)dr->release_info.id);
        g_atomic_int_add(&d->outstanding, -1);
    }
    g_mutex_unlock(&d->lock);
    /* Anything else would be a leak worth knowing about. */
    if (g_atomic_int_get(&d->outstanding) != 0)
        g_message("QXL: %d paints never released", g_atomic_int_get(&d->outstanding));
    g_free(d->surface);
    g_mutex_clear(&d->lock);
    g_free(d);
}
