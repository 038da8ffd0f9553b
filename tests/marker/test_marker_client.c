/*
 * Placement from the picture in the client session: a stream started with
 * VR_STREAM_MARKED takes its rectangle and visible region from the display
 * (vr_client_display_invalidate) once its marker is found, and the guest's
 * GEOMETRY until then; an unmarked stream keeps GEOMETRY; another code on the
 * display is not taken. argv[1]: an H.264 clip (for a valid stream start).
 */
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include <videoredir/client.h>
#include <videoredir/marker.h>

#include "../check.h"
#include "../conn_pump.h"
#include "../client/clip.h"

#define DW 1024
#define DH 768

static struct vr_client *client;
static struct vr_conn *guest;
static struct vr_hello client_hello;
static int n_geometry_events;
static uint64_t fake_now = 1000000;
static struct vr_msg m;
static uint8_t display[DW * DH * 4];

static uint64_t clock_fn(void *user) { return fake_now; }

static void guest_msg(void *user, const struct vr_msg *msg)
{
    if (msg->type == VR_MSG_HELLO)
        client_hello = msg->u.hello;
}

static void on_event(void *user, enum vr_client_event ev, uint32_t id)
{
    if (ev == VR_CLIENT_EV_GEOMETRY)
        n_geometry_events++;
}

static void pump(void)
{
    vr_test_pump(vr_client_conn(client), guest);
}

static void send_msg(uint16_t type, uint32_t id)
{
    m.type = type;
    m.stream_id = id;
    CHECK(vr_conn_send(guest, &m) == 0, "guest send %s", vr_msg_type_name(type));
    pump();
}

static void geometry(uint32_t id, int32_t x, int32_t y, uint32_t w, uint32_t h)
{
    memset(&m, 0, sizeof(m));
    m.u.geometry.window = m.u.geometry.content = (struct vr_rect){x, y, w, h};
    send_msg(VR_MSG_GEOMETRY, id);
}

static int slot_of(uint32_t id)
{
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_client_stream_stats st;
        if (vr_client_stream_stats(client, i, &st) == 0 && st.stream_id == id)
            return (int)i;
    }
    return -1;
}

static struct vr_rect content_of(uint32_t id)
{
    struct vr_client_stream_stats st;
    int slot = slot_of(id);
    if (slot < 0 || vr_client_stream_stats(client, (uint32_t)slot, &st) < 0 || !st.has_geometry)
        return (struct vr_rect){0, 0, 0, 0};
    return st.geometry.content;
}

static bool rect_is(struct vr_rect r, int32_t x, int32_t y, uint32_t w, uint32_t h)
{
    return r.x == x && r.y == y && r.w == w && r.h == h;
}

static void paint_marker(uint32_t code, int x, int y, int w, int h)
{
    CHECK(vr_marker_draw_rgbx(code, (uint32_t)w, (uint32_t)h, display + ((size_t)y * DW + x) * 4,
                              DW * 4) == 0,
          "draw");
}

static void paint_fill(int x, int y, int w, int h, uint8_t v)
{
    for (int j = y; j < y + h; j++)
        for (int i = x; i < x + w; i++)
            memset(display + ((size_t)j * DW + i) * 4, v, 3), display[((size_t)j * DW + i) * 4 + 3] = 255;
}

static int invalidate(int32_t x, int32_t y, uint32_t w, uint32_t h)
{
    struct vr_rect a = {x, y, w, h};
    return vr_client_display_invalidate(client, display, DW, DH, DW * 4, &a);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    av_log_set_level(AV_LOG_QUIET);
    struct vr_client_config cfg = {.hwdec = VR_HWDEC_NONE};
    struct vr_client_callbacks cb = {.event = on_event, .clock = clock_fn};
    CHECK(vr_client_create(&cfg, &cb, NULL, &client) == 0, "client");
    struct vr_conn_callbacks gcb = {.on_message = guest_msg};
    CHECK(vr_conn_create(NULL, &gcb, NULL, &guest) == 0, "guest conn");
    struct clip src;
    if (clip_open(&src, argv[1]) < 0) {
        CHECK(0, "open %s", argv[1]);
        return 1;
    }
    paint_fill(0, 0, DW, DH, 0x30);

    vr_client_channel_open(client);
    pump();
    CHECK(client_hello.features & VR_FEATURE_MARKER, "client announces MARKER");
    memset(&m, 0, sizeof(m));
    m.u.hello = (struct vr_hello){.version_min = 1, .version_max = 1, .role = VR_ROLE_GUEST,
                                  .features = VR_FEATURE_REGION | VR_FEATURE_FEEDBACK,
                                  .max_streams = 4};
    send_msg(VR_MSG_HELLO, 0);
    CHECK(vr_client_established(client), "session");

    /* Nothing marked yet: invalidates cost nothing and change nothing. */
    CHECK(invalidate(0, 0, DW, DH) == 0, "invalidate without marked streams");

    /* Stream 1 marked with code 11, guessed at 100,100 320x180. */
    memset(&m, 0, sizeof(m));
    m.u.start = src.start;
    m.u.start.flags |= VR_STREAM_MARKED | (11u << VR_STREAM_MARKER_SHIFT);
    send_msg(VR_MSG_STREAM_START, 1);
    geometry(1, 100, 100, 320, 180);
    /* Stream 2 unmarked. */
    memset(&m, 0, sizeof(m));
    m.u.start = src.start;
    send_msg(VR_MSG_STREAM_START, 2);
    geometry(2, 600, 500, 200, 100);
    CHECK(vr_client_streams_active(client) == 2, "two streams");
    CHECK(rect_is(content_of(1), 100, 100, 320, 180), "marked stream: guest geometry until found");

    /* The display already shows the marker of code 11 (and one of code 12):
     * a small invalidate elsewhere is enough, the new code is looked for
     * everywhere. */
    paint_marker(11, 200, 150, 480, 270);
    paint_marker(12, 700, 400, 256, 144);
    int events = n_geometry_events;
    CHECK(invalidate(0, 0, 8, 8) == 0, "invalidate");
    CHECK(n_geometry_events == events + 1, "one GEOMETRY event (%d)", n_geometry_events - events);
    CHECK(rect_is(content_of(1), 200, 150, 480, 270), "marked stream placed from the picture: %d,%d %ux%u",
          content_of(1).x, content_of(1).y, content_of(1).w, content_of(1).h);
    CHECK(rect_is(content_of(2), 600, 500, 200, 100), "unmarked stream keeps its GEOMETRY");
    pixman_region32_t r;
    pixman_region32_init(&r);
    vr_client_stream_region(client, (uint32_t)slot_of(1), &r);
    pixman_box32_t *e = pixman_region32_extents(&r);
    CHECK(pixman_region32_n_rects(&r) == 1 && e->x1 == 200 && e->y1 == 150 && e->x2 == 680 &&
              e->y2 == 420,
          "whole video visible");

    /* A menu opens over it: only its area is invalidated. */
    paint_fill(300, 200, 100, 60, 0xf4);
    events = n_geometry_events;
    CHECK(invalidate(300, 200, 100, 60) == 0, "invalidate the menu");
    CHECK(n_geometry_events == events + 1, "GEOMETRY event for the menu");
    vr_client_stream_region(client, (uint32_t)slot_of(1), &r);
    pixman_region32_t want;
    pixman_region32_init_rect(&want, 200, 150, 480, 270);
    pixman_region32_t menu;
    pixman_region32_init_rect(&menu, 300, 200, 100, 60);
    pixman_region32_subtract(&want, &want, &menu);
    CHECK(pixman_region32_equal(&r, &want), "visible = video - menu");
    struct vr_client_stream_stats st;
    vr_client_stream_stats(client, (uint32_t)slot_of(1), &st);
    CHECK(st.has_region && st.n_rects == (uint32_t)pixman_region32_n_rects(&want), "stats: %u rects",
          st.n_rects);

    /* The guest's GEOMETRY no longer moves a placed stream. */
    geometry(1, 10, 10, 64, 36);
    CHECK(rect_is(content_of(1), 200, 150, 480, 270), "the picture wins over GEOMETRY");

    /* The same placeholder redrawn: no event. */
    events = n_geometry_events;
    CHECK(invalidate(200, 150, 480, 270) == 0 && n_geometry_events == events, "redraw: no event");

    /* Hostile arguments. */
    struct vr_rect a = {0, 0, 10, 10};
    CHECK(vr_client_display_invalidate(client, NULL, DW, DH, DW * 4, &a) == -EINVAL, "NULL pixels");
    CHECK(vr_client_display_invalidate(client, display, DW, DH, 16, &a) == -EINVAL, "stride");
    CHECK(vr_client_display_invalidate(NULL, display, DW, DH, DW * 4, &a) == -EINVAL, "NULL client");

    pixman_region32_fini(&r);
    pixman_region32_fini(&want);
    pixman_region32_fini(&menu);
    clip_close(&src);
    vr_client_destroy(client);
    vr_conn_destroy(guest);
    return CHECK_DONE();
}
