/*
 * vr_sender: the text forms (rects, regions, timed changes) with hostile
 * strings, and whole offline runs of a sample clip through a real vr_guest
 * and the in-memory client: every frame sent, passes counted, a stop fd that
 * is readable from the start stops the stream at once.
 * Usage: test_capture_sender CLIP (a 75-frame sample)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <videoredir/capture.h>

#include "../check.h"

static void test_parse(void)
{
    struct vr_rect r;
    CHECK(vr_rect_parse("10,-20,640,360", &r) == 0 && r.x == 10 && r.y == -20 && r.w == 640 &&
              r.h == 360, "rect");
    static const char *const bad_rects[] = { "", "1,2,3", "1,2,3,4,", "1,2,0,4", "1,2,3,-4",
                                             "a,b,c,d", "1,2,3,4x", "99999999999999999999,0,1,1",
                                             "1,2,999999,4" };
    for (size_t i = 0; i < sizeof(bad_rects) / sizeof(bad_rects[0]); i++)
        CHECK(vr_rect_parse(bad_rects[i], &r) == -EINVAL, "rect '%s' accepted", bad_rects[i]);
    CHECK(vr_rect_parse(NULL, &r) == -EINVAL, "NULL rect");

    static struct vr_region reg;
    CHECK(vr_region_parse("", &reg) == 0 && reg.n_rects == 0, "empty region");
    CHECK(vr_region_parse("0,0,10,10;20,0,5,5", &reg) == 0 && reg.n_rects == 2 &&
              reg.rects[1].x == 20 && reg.rects[1].w == 5, "two rects");
    CHECK(vr_region_parse("0,0,10,10;", &reg) == 0 && reg.n_rects == 1, "trailing ;");
    CHECK(vr_region_parse("0,0,10,10;;", &reg) == -EINVAL, "empty rect between ;");
    CHECK(vr_region_parse("0,0,10,10,", &reg) == -EINVAL, "trailing ,");
    /* One rectangle more than the protocol carries. */
    size_t cap = (size_t)(VR_MAX_RECTS + 1) * 12 + 1;
    char *many = malloc(cap);
    if (many) {
        size_t n = 0;
        for (unsigned i = 0; i <= VR_MAX_RECTS; i++)
            n += (size_t)snprintf(many + n, cap - n, "%s0,0,1,1", i ? ";" : "");
        CHECK(vr_region_parse(many, &reg) == -EINVAL, "%u rects accepted", VR_MAX_RECTS + 1);
        free(many);
    }

    struct vr_change ch;
    struct vr_region *owned = NULL;
    CHECK(vr_change_parse(VR_CHANGE_GEOMETRY, "1.5:1,2,3,4", &ch, &owned) == 0 &&
              ch.at_us == 1500000 && ch.rect.w == 3 && !owned, "geometry change");
    CHECK(vr_change_parse(VR_CHANGE_REGION, "2:0,0,8,8;8,8,8,8", &ch, &owned) == 0 && owned &&
              ch.region == owned && owned->n_rects == 2 && ch.at_us == 2000000, "region change");
    free(owned);
    owned = NULL;
    CHECK(vr_change_parse(VR_CHANGE_REGION, "0:all", &ch, &owned) == 0 && !owned && !ch.region,
          "region all");
    CHECK(vr_change_parse(VR_CHANGE_FLUSH, "0.04", &ch, &owned) == 0 && ch.at_us == 40000, "flush");
    static const char *const bad_changes[] = { "", "-1", "nan", "1e9", "1:", "x", "1:2" };
    for (size_t i = 0; i < sizeof(bad_changes) / sizeof(bad_changes[0]); i++) {
        CHECK(vr_change_parse(VR_CHANGE_FLUSH, bad_changes[i], &ch, &owned) == -EINVAL && !owned,
              "flush '%s' accepted", bad_changes[i]);
        CHECK(vr_change_parse(VR_CHANGE_GEOMETRY, bad_changes[i], &ch, &owned) == -EINVAL && !owned,
              "geometry '%s' accepted", bad_changes[i]);
    }
    CHECK(vr_change_parse(VR_CHANGE_REGION, "1:0,0,0,0", &ch, &owned) == -EINVAL && !owned,
          "bad region change accepted");
}

struct run {
    struct vr_sender *sender;
};

static uint64_t clock_cb(void *user)
{
    struct run *r = user;
    return r->sender ? vr_sender_now(r->sender) : 1000000u;
}

static void on_event(void *user, enum vr_guest_event ev, const char *detail)
{
    struct run *r = user;
    (void)detail;
    vr_sender_guest_event(r->sender, ev);
}

/* One offline run of clip: the result and the frames sent. */
static enum vr_sender_result run_offline(const char *clip, long loops, int stop_fd,
                                         const struct vr_change *changes, uint32_t n_changes,
                                         uint64_t *sent)
{
    struct vr_source *src = NULL;
    struct vr_guest *guest = NULL;
    struct run r = { NULL };
    char err[256];
    enum vr_sender_result res = VR_SENDER_ERR_INPUT;
    *sent = 0;
    if (vr_source_open(clip, &src, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return res;
    }
    const struct vr_stream_start *ss = vr_source_stream_start(src);
    struct vr_geometry geom = { 0 };
    geom.window = geom.content = (struct vr_rect){ 0, 0, ss->width, ss->height };
    struct vr_guest_callbacks cb = { .event = on_event, .clock = clock_cb };
    if (vr_guest_create(NULL, &cb, &r, &guest) < 0 || vr_guest_set_stream(guest, ss, &geom, NULL) < 0)
        goto out;
    struct vr_sender_config cfg = { .pace = VR_SENDER_PACE_REALTIME, .loops = loops, .geometry = geom,
                                    .changes = changes, .n_changes = n_changes,
                                    .virtual_clock = true };
    if (vr_sender_create(src, guest, &cfg, &r.sender) < 0)
        goto out;
    res = vr_sender_run_offline(r.sender, stop_fd);
    struct vr_guest_stats gs;
    vr_guest_get_stats(guest, &gs);
    *sent = gs.frames_sent;
out:
    vr_sender_destroy(r.sender);
    vr_guest_destroy(guest);
    vr_source_close(src);
    return res;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_capture_sender CLIP\n");
        return 2;
    }
    const char *clip = argv[1];
    test_parse();

    struct vr_sender *s = NULL;
    struct vr_sender_config bad = { .n_changes = VR_SENDER_MAX_CHANGES + 1 };
    CHECK(vr_sender_create(NULL, NULL, &bad, &s) == -EINVAL && !s, "NULL source accepted");
    vr_sender_destroy(NULL);
    CHECK(vr_sender_now(NULL) == 0 && !vr_sender_at_end(NULL), "NULL sender");

    uint64_t sent;
    CHECK(run_offline(clip, 0, -1, NULL, 0, &sent) == VR_SENDER_DONE && sent == 75,
          "one pass: %llu frames", (unsigned long long)sent);
    CHECK(run_offline(clip, 1, -1, NULL, 0, &sent) == VR_SENDER_DONE && sent == 150,
          "two passes: %llu frames", (unsigned long long)sent);
    /* A seek at 1 s: the first 25 frames, then the whole file again. */
    struct vr_change flush = { .kind = VR_CHANGE_FLUSH, .at_us = 1000000 };
    CHECK(run_offline(clip, 0, -1, &flush, 1, &sent) == VR_SENDER_DONE && sent == 100,
          "flush at 1 s: %llu frames", (unsigned long long)sent);

    /* A stop fd readable from the start: stopped before any frame. */
    int p[2];
    if (pipe(p) == 0) {
        CHECK(write(p[1], "x", 1) == 1, "pipe write");
        CHECK(run_offline(clip, -1, p[0], NULL, 0, &sent) == VR_SENDER_STOPPED && sent < 75,
              "stop fd: %llu frames sent", (unsigned long long)sent);
        close(p[0]);
        close(p[1]);
    }
    return CHECK_DONE();
}
