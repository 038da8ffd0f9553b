/*
 * Cost of placement found in the picture: vr_marker_detector_scan per
 * invalidate of a 1920x1080 display, next to a memcpy of the same area.
 * Cases: the whole screen with a marked 1280x720 video on it, the whole
 * screen without any marker, and 256x256 invalidates inside and outside the
 * video. Prints one line per case: median ms (thread CPU time) per scan and
 * per memcpy.
 * Usage: bench-marker [ROUNDS]   (default 50)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <videoredir/client.h>
#include <videoredir/marker.h>

#define W 1920
#define H 1080

/* The thread's CPU time, not the wall clock: on a shared machine a scan
 * preempted half way would otherwise count the other processes' time. */
static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return v[n / 2];
}

/* A desktop: colour gradient with noise, like a photo wallpaper. */
static void desktop(uint8_t *px)
{
    uint32_t r = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            r = r * 1103515245u + 12345u;
            uint8_t *p = px + ((size_t)y * W + x) * 4;
            p[0] = (uint8_t)(60 + x * 100 / W + (r >> 28));
            p[1] = (uint8_t)(40 + y * 120 / H + ((r >> 24) & 15));
            p[2] = (uint8_t)(90 + ((r >> 20) & 15));
            p[3] = 255;
        }
}

/* Scans area of px (alternating with px2 when not NULL: the picture changed
 * between invalidates) rounds times. */
static void run(const char *name, struct vr_marker_detector *d, const uint8_t *px,
                const uint8_t *px2, const struct vr_rect *area, int rounds)
{
    double *scan = calloc((size_t)rounds, sizeof(double)), *copy = calloc((size_t)rounds, sizeof(double));
    uint8_t *dst = malloc((size_t)W * H * 4);
    for (int i = 0; i < rounds; i++) {
        const uint8_t *pic = px2 && (i & 1) ? px2 : px;
        double t0 = now_ms();
        vr_marker_detector_scan(d, pic, W, H, (size_t)W * 4, area, NULL);
        double t1 = now_ms();
        for (uint32_t y = 0; y < area->h; y++)
            memcpy(dst + ((size_t)(area->y + (int32_t)y) * W + (size_t)area->x) * 4,
                   px + ((size_t)(area->y + (int32_t)y) * W + (size_t)area->x) * 4, (size_t)area->w * 4);
        double t2 = now_ms();
        scan[i] = t1 - t0;
        copy[i] = t2 - t1;
    }
    double s = median(scan, rounds), c = median(copy, rounds);
    printf("| %s | %ux%u | %.3f | %.3f | %.1f |\n", name, area->w, area->h, s, c, c > 0 ? s / c : 0);
    free(scan);
    free(copy);
    free(dst);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 50;
    if (rounds < 1)
        rounds = 1;
    uint8_t *bare = malloc((size_t)W * H * 4), *marked = malloc((size_t)W * H * 4);
    uint8_t *moved = malloc((size_t)W * H * 4), *covered = malloc((size_t)W * H * 4);
    uint8_t *resized = malloc((size_t)W * H * 4);
    desktop(bare);
    memcpy(marked, bare, (size_t)W * H * 4);
    memcpy(moved, bare, (size_t)W * H * 4);
    /* a 1280x720 marked video, unscaled, at 320,180; the same 3 px to the
     * right; the same with a menu over it */
    int ret = vr_marker_draw_rgbx(5, 1280, 720, marked + ((size_t)180 * W + 320) * 4, (size_t)W * 4);
    ret |= vr_marker_draw_rgbx(5, 1280, 720, moved + ((size_t)180 * W + 323) * 4, (size_t)W * 4);
    /* the same 1 px larger each side (a window resized in steps): along a
     * row it looks like the video at 320,180 */
    memcpy(resized, bare, (size_t)W * H * 4);
    ret |= vr_marker_draw_rgbx(5, 1282, 722, resized + ((size_t)179 * W + 319) * 4, (size_t)W * 4);
    uint8_t *osd = malloc((size_t)W * H * 4);
    memcpy(osd, marked, (size_t)W * H * 4);
    for (int y = 840; y < 870; y++) /* a time code the player draws over the video */
        memset(osd + ((size_t)y * W + 360) * 4, 0xdd, 160 * 4);
    memcpy(covered, marked, (size_t)W * H * 4);
    for (int y = 300; y < 600; y++)
        memset(covered + ((size_t)y * W + 500) * 4, 0xee, 200 * 4);
    struct vr_marker_detector *d;
    if (ret < 0 || vr_marker_detector_create(&d) < 0) {
        fprintf(stderr, "bench-marker: setup failed\n");
        return 1;
    }
    vr_marker_detector_watch(d, 5, true);
    struct vr_rect full = {0, 0, W, H}, in = {600, 400, 256, 256}, out = {20, 20, 256, 256};
    printf("| case | area | scan ms (median of %d) | memcpy ms | scan/memcpy |\n|---|---|---|---|---|\n",
           rounds);
    struct vr_rect video = {320, 180, 1280, 720};
    run("full screen, video moved by 3 px every time (find + fit + match)", d, marked, moved, &full, rounds);
    run("full screen, a menu opens and closes over the video every time", d, marked, covered, &full, rounds);
    run("the video's area, a menu opens and closes every time", d, marked, covered, &video, rounds);
    run("the video's area, placeholder redrawn unchanged", d, marked, NULL, &video, rounds);
    run("the video's area, a 160x30 time code over it changes every time", d, marked, osd, &video, rounds);
    run("full screen, unchanged", d, marked, NULL, &full, rounds);
    run("the video's area, the video 2 px larger every other time (a kept fit gone stale)", d, marked,
        resized, &video, rounds);
    run("256x256 inside the video, menu opens/closes", d, marked, covered, &in, rounds);
    run("256x256 outside the video", d, marked, NULL, &out, rounds);
    vr_marker_detector_reset(d);
    run("full screen, no marker on it", d, bare, NULL, &full, rounds);
    struct vr_rect found;
    vr_marker_detector_scan(d, marked, W, H, (size_t)W * 4, &full, NULL);
    int ok = vr_marker_detector_get(d, 5, &found, NULL) == 0 && found.x == 320 && found.y == 180 &&
             found.w == 1280 && found.h == 720;
    printf("marker found at %d,%d %ux%u: %s\n", found.x, found.y, found.w, found.h, ok ? "exact" : "WRONG");
    struct vr_marker_stats st;
    vr_marker_detector_stats(d, &st);
    printf("scans %llu, candidates decoded %llu, fitted %llu, known %llu, rows unchanged %llu\n",
           (unsigned long long)st.scans, (unsigned long long)st.candidates,
           (unsigned long long)st.found, (unsigned long long)st.known,
           (unsigned long long)st.rows_unchanged);
    printf("kept fits checked %llu, found stale and fitted again %llu\n",
           (unsigned long long)st.validated, (unsigned long long)st.refits);
    vr_marker_detector_destroy(d);
    free(bare);
    free(marked);
    free(moved);
    free(covered);
    free(resized);
    free(osd);
    return ok ? 0 : 1;
}
