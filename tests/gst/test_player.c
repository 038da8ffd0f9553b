/*
 * vr_player (videoredir/player.h) on its own, with no client: the port path
 * (device, then $VIDEOREDIR_DEVICE, then /dev/virtio-ports/<name>), the
 * `show` callback (local while the port cannot open, again after every new
 * stream, none after the end), pushes, a bounded finish with nobody to
 * drain to, argument checks. The client side is covered end to end by the
 * GStreamer elements' tests.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <videoredir/player.h>

#include "../check.h"

struct seen {
    pthread_mutex_t lock;
    int n_local, n_client, n_none, last;
};

static void on_show(void *user, enum vr_player_show where, const char *why)
{
    struct seen *s = user;
    (void)why;
    pthread_mutex_lock(&s->lock);
    if (where == VR_PLAYER_SHOW_LOCAL)
        s->n_local++;
    else if (where == VR_PLAYER_SHOW_CLIENT)
        s->n_client++;
    else
        s->n_none++;
    s->last = (int)where;
    pthread_mutex_unlock(&s->lock);
}

/* Waits (bounded) until the callback was called n_local times. */
static int wait_local(struct seen *s, int n)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&s->lock);
        int got = s->n_local;
        pthread_mutex_unlock(&s->lock);
        if (got >= n)
            return got;
        usleep(10000);
    }
    return -1;
}

static void test_paths(void)
{
    struct vr_player *p = NULL;
    unsetenv(VR_PLAYER_DEVICE_ENV);
    CHECK(vr_player_create(NULL, NULL, NULL, &p) == 0, "create with defaults");
    CHECK(p && !strcmp(vr_player_device_path(p), "/dev/virtio-ports/" VR_PLAYER_DEFAULT_PORT), "default path %s",
          p ? vr_player_device_path(p) : "-");
    vr_player_destroy(p);

    struct vr_player_config cfg = { .port_name = "org.example.port" };
    CHECK(vr_player_create(&cfg, NULL, NULL, &p) == 0, "create with a port name");
    CHECK(p && !strcmp(vr_player_device_path(p), "/dev/virtio-ports/org.example.port"), "named path %s",
          p ? vr_player_device_path(p) : "-");
    vr_player_destroy(p);

    setenv(VR_PLAYER_DEVICE_ENV, "/nonexistent/from-env", 1);
    CHECK(vr_player_create(&cfg, NULL, NULL, &p) == 0, "create with the environment");
    CHECK(p && !strcmp(vr_player_device_path(p), "/nonexistent/from-env"), "env path %s",
          p ? vr_player_device_path(p) : "-");
    vr_player_destroy(p);

    cfg.device = "/nonexistent/from-config";
    CHECK(vr_player_create(&cfg, NULL, NULL, &p) == 0, "create with a device");
    CHECK(p && !strcmp(vr_player_device_path(p), "/nonexistent/from-config"), "device path %s",
          p ? vr_player_device_path(p) : "-");
    vr_player_destroy(p);
    unsetenv(VR_PLAYER_DEVICE_ENV);

    vr_player_destroy(NULL);
    CHECK(vr_player_create(NULL, NULL, NULL, NULL) == -EINVAL, "NULL out");
}

static void test_no_client(void)
{
    struct seen s = { .lock = PTHREAD_MUTEX_INITIALIZER };
    struct vr_player_config cfg = { .device = "/nonexistent/videoredir-port", .reopen_interval_us = 20000 };
    struct vr_player_callbacks cb = { .show = on_show };
    struct vr_player *p = NULL;
    CHECK(vr_player_create(&cfg, &cb, &s, &p) == 0, "create");
    if (!p)
        return;
    struct vr_au au = { .data = (const uint8_t *)"\x00\x00\x00\x01\x65", .len = 5, .flags = VR_FRAME_KEY, .pts = 0,
                        .dts = 0, .duration = 40000 };
    CHECK(vr_player_push(p, &au, 0) == -EINVAL, "push before a stream");
    CHECK(vr_player_get_show(p) == VR_PLAYER_SHOW_NONE, "shown before a stream");

    struct vr_stream_start st = { .codec = VR_CODEC_H264, .width = 320, .height = 240, .timebase_num = 1,
                                  .timebase_den = 1000000, .flags = VR_STREAM_ANNEXB };
    struct vr_geometry geom = { 0, { 0, 0, 320, 240 }, { 0, 0, 320, 240 } };
    CHECK(vr_player_set_stream(p, &st, &geom, NULL) == 0, "set stream");
    CHECK(wait_local(&s, 1) == 1, "no port: not shown locally once");
    for (int i = 0; i < 30; i++) {
        au.pts = au.dts = i * 40000;
        au.flags = i % 10 ? 0 : VR_FRAME_KEY;
        CHECK(vr_player_push(p, &au, 0) == 0, "push %d", i);
    }
    CHECK(vr_player_set_clock(p, 0, vr_time_us(), 65536) == 0, "set clock");
    CHECK(vr_player_set_geometry(p, &geom) == 0, "geometry");
    CHECK(vr_player_set_region(p, NULL) == 0, "region");
    CHECK(vr_player_flush(p) == 0, "flush");
    /* New caps: the front end hears "local" again (to restart its decoder). */
    CHECK(vr_player_set_stream(p, &st, &geom, NULL) == 0, "set stream again");
    CHECK(wait_local(&s, 2) == 2, "not told again after new caps");
    uint64_t t0 = vr_time_us();
    CHECK(vr_player_finish(p, VR_REASON_EOS) == 0, "finish");
    CHECK(vr_time_us() - t0 < 1000000, "finish with no client took %llu us",
          (unsigned long long)(vr_time_us() - t0));
    CHECK(vr_player_finish(p, VR_REASON_EOS) == -ENOENT, "finish twice");
    struct vr_player_stats ps;
    vr_player_get_stats(p, &ps);
    CHECK(ps.frames_in == 30 && !ps.port_open && ps.guest.frames_sent == 0, "stats: in %llu sent %llu open %d",
          (unsigned long long)ps.frames_in, (unsigned long long)ps.guest.frames_sent, ps.port_open);
    for (int i = 0; i < 200 && vr_player_get_show(p) != VR_PLAYER_SHOW_NONE; i++)
        usleep(10000);
    CHECK(vr_player_get_show(p) == VR_PLAYER_SHOW_NONE, "shown after the end: %s",
          vr_player_show_name(vr_player_get_show(p)));
    vr_player_destroy(p);
    CHECK(s.n_client == 0, "told the client shows it");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_player paths|noclient\n");
        return 2;
    }
    if (!strcmp(argv[1], "paths"))
        test_paths();
    else if (!strcmp(argv[1], "noclient"))
        test_no_client();
    else
        return 2;
    return CHECK_DONE();
}
