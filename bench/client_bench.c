/*
 * bench-client: the client's decode + composite rate, and the compositing
 * cost against the number of visible rectangles.
 *
 *   bench-client --fps CLIP PASSES [THREADS]   decodes the clip PASSES times
 *       with the client's decoder (vr_decoder, software, THREADS decoding
 *       threads, default 1) and shows every frame with the headless
 *       presenter (the client's, as vr_presenter_sync drives it) at its size
 *       at 320,200 of a 1280x800 desktop: prints "frames N seconds S fps F"
 *       (CPU time of this process, so a busy machine does not count).
 *       A fifth argument "hidden" gives the stream an empty visible region
 *       (the video is hidden: nothing is read). The line ends with the hardware
 *       frame downloads (vr_frame_cpu) done when hidden or when there were
 *       any (the test hook VIDEOREDIR_TEST_HWFRAMES=vulkan: hardware frames,
 *       client-overlay/README.md).
 *   bench-client --composite CLIP    composites the clip's first frame scaled
 *       to 1920x1080 onto a 1920x1080 desktop, clipped to a region of 1, 16,
 *       64 and 256 rectangles (a grid, each cell shrunk by a gap): prints
 *       "rects R us_per_frame U presenter_us P" for each: U for
 *       vr_composite_frame alone, P for the headless presenter showing a new
 *       frame (scaled once, visible boxes copied).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/log.h>

#include <videoredir/capture.h>
#include <videoredir/client.h>

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

static int die(const char *what, int err)
{
    fprintf(stderr, "bench-client: %s: %s\n", what, strerror(err < 0 ? -err : err));
    return 1;
}

/* Decodes every AU of one pass; calls fn for every frame out. */
static int run_pass(struct vr_source *src, struct vr_decoder *dec,
                    int (*fn)(const AVFrame *f, void *user), void *user, uint64_t *frames)
{
    struct vr_au au;
    int ret;
    while ((ret = vr_source_read(src, &au)) == 1) {
        struct vr_frame fr = { .flags = au.flags, .pts = au.pts, .dts = au.dts,
                               .duration = au.duration, .data_len = au.len, .data = au.data };
        if ((ret = vr_decoder_send(dec, &fr)) < 0)
            return ret;
        const AVFrame *f;
        while (vr_decoder_receive(dec, &f) == 0) {
            (*frames)++;
            if (fn && (ret = fn(f, user)) < 0)
                return ret;
        }
    }
    return ret; /* 0 at the end of the file */
}

/* The headless presenter, as vr_presenter_sync drives it for each new
 * frame of a fully visible stream: the frame in its slot, the slot's visible
 * region damaged, redraw (the frame scaled and converted once, then copied
 * into the desktop). */
struct comp {
    struct vr_presenter *p;
};

static int composite(const AVFrame *f, void *user)
{
    struct comp *c = user;
    struct vr_presenter_slot *sl = &c->p->slots[0];
    av_frame_unref(sl->frame);
    int ret = av_frame_ref(sl->frame, f);
    if (ret < 0)
        return ret;
    c->p->ops->frame_shown(c->p, 0);
    pixman_region32_union(&c->p->damage, &c->p->damage, &sl->visible);
    ret = c->p->ops->redraw(c->p);
    pixman_region32_clear(&c->p->damage);
    c->p->damage_output = false;
    return ret;
}

static int bench_fps(const char *clip, int passes, int threads, bool hidden)
{
    char err[256];
    struct vr_source *src = NULL;
    int ret = vr_source_open(clip, &src, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "bench-client: %s\n", err);
        return 1;
    }
    const struct vr_stream_start *start = vr_source_stream_start(src);
    struct vr_decoder *dec = NULL;
    if ((ret = vr_decoder_open_threads(start, VR_HWDEC_NONE, threads, NULL, NULL, &dec)) < 0)
        return die("decoder", ret);
    struct comp c = { NULL };
    if ((ret = vr_headless_create(1280, 800, NULL, &c.p)) < 0)
        return die("presenter", ret);
    struct vr_presenter_slot *sl = &c.p->slots[0];
    sl->live = sl->has_geometry = true;
    sl->content = (struct vr_rect){ 320, 200, start->width, start->height };
    if (!(sl->frame = av_frame_alloc()))
        return die("frame", ENOMEM);
    if (!hidden) /* hidden: an empty visible region, nothing drawn */
        pixman_region32_union_rect(&sl->visible, &sl->visible, 320, 200, start->width, start->height);
    uint64_t frames = 0;
    double t0 = cpu_seconds(), w0 = wall_seconds();
    for (int p = 0; p < passes; p++) {
        if (p > 0) {
            /* A new decoder per pass: the same work as ffmpeg -stream_loop. */
            vr_decoder_close(dec);
            dec = NULL;
            if ((ret = vr_source_rewind(src)) < 0 ||
                (ret = vr_decoder_open_threads(start, VR_HWDEC_NONE, threads, NULL, NULL, &dec)) < 0)
                return die("rewind", ret);
        }
        if ((ret = run_pass(src, dec, composite, &c, &frames)) < 0)
            return die("decode", ret);
        vr_decoder_drain(dec);
        const AVFrame *f;
        while (vr_decoder_receive(dec, &f) == 0) {
            frames++;
            composite(f, &c);
        }
    }
    double secs = cpu_seconds() - t0;
    double wall = wall_seconds() - w0;
    struct vr_hwframe_stats hs;
    vr_hwframe_get_stats(&hs);
    printf("frames %" PRIu64 " seconds %.3f fps %.1f wall_seconds %.3f wall_fps %.1f", frames, secs,
           (double)frames / secs, wall, (double)frames / wall);
    if (hidden || hs.downloads)
        printf("%s downloads %" PRIu64, hidden ? " hidden" : "", hs.downloads);
    printf("\n");
    vr_decoder_close(dec);
    vr_source_close(src);
    vr_presenter_destroy(c.p);
    return 0;
}

static int keep_first(const AVFrame *f, void *user)
{
    AVFrame **out = user;
    if (!*out)
        *out = av_frame_clone(f);
    return 0;
}

static int bench_composite(const char *clip)
{
    char err[256];
    struct vr_source *src = NULL;
    int ret = vr_source_open(clip, &src, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "bench-client: %s\n", err);
        return 1;
    }
    struct vr_decoder *dec = NULL;
    if ((ret = vr_decoder_open(vr_source_stream_start(src), VR_HWDEC_NONE, NULL, NULL, &dec)) < 0)
        return die("decoder", ret);
    AVFrame *first = NULL;
    uint64_t frames = 0;
    run_pass(src, dec, keep_first, &first, &frames);
    if (!first)
        return die("no frame", EINVAL);
    pixman_image_t *canvas = pixman_image_create_bits(PIXMAN_x8r8g8b8, 1920, 1080, NULL, 0);
    struct vr_rect dst = { 0, 0, 1920, 1080 };
    const int grids[] = { 1, 4, 8, 16 }; /* 1, 16, 64, 256 rectangles */
    for (size_t g = 0; g < sizeof(grids) / sizeof(grids[0]); g++) {
        int n = grids[g];
        pixman_region32_t region;
        pixman_region32_init(&region);
        int cw = 1920 / n, ch = 1080 / n, gap = n > 1 ? 8 : 0;
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                pixman_region32_union_rect(&region, &region, x * cw, y * ch,
                                           (unsigned)(cw - gap), (unsigned)(ch - gap));
        int rects = pixman_region32_n_rects(&region);
        int iters = 40;
        double t0 = cpu_seconds();
        for (int i = 0; i < iters; i++)
            if ((ret = vr_composite_frame(canvas, first, &dst, &region)) < 0)
                return die("composite", ret);
        double us = (cpu_seconds() - t0) / iters * 1e6;
        /* The headless presenter, as vr_presenter_sync drives it when a new
         * frame of a stream with this region is shown: frame_shown, damage
         * of the visible region, redraw. */
        struct vr_presenter *p = NULL;
        if ((ret = vr_headless_create(1920, 1080, NULL, &p)) < 0)
            return die("presenter", ret);
        struct vr_presenter_slot *sl = &p->slots[0];
        sl->live = sl->has_geometry = true;
        sl->content = dst;
        sl->frame = av_frame_clone(first);
        pixman_region32_copy(&sl->visible, &region);
        p->ops->redraw(p);
        p->damage_output = false; /* as vr_presenter_sync after a redraw */
        pixman_region32_clear(&p->damage);
        t0 = cpu_seconds();
        for (int i = 0; i < iters; i++) {
            p->ops->frame_shown(p, 0);
            pixman_region32_union(&p->damage, &p->damage, &sl->visible);
            if ((ret = p->ops->redraw(p)) < 0)
                return die("presenter redraw", ret);
            pixman_region32_clear(&p->damage);
        }
        double pus = (cpu_seconds() - t0) / iters * 1e6;
        vr_presenter_destroy(p);
        printf("rects %d us_per_frame %.0f presenter_us %.0f\n", rects, us, pus);
        pixman_region32_fini(&region);
    }
    av_frame_free(&first);
    pixman_image_unref(canvas);
    vr_decoder_close(dec);
    vr_source_close(src);
    return 0;
}

int main(int argc, char **argv)
{
    av_log_set_level(AV_LOG_ERROR);
    if ((argc >= 4 && argc <= 6) && strcmp(argv[1], "--fps") == 0 && atoi(argv[3]) > 0 &&
        (argc < 6 || !strcmp(argv[5], "hidden")))
        return bench_fps(argv[2], atoi(argv[3]), argc >= 5 ? atoi(argv[4]) : 1, argc == 6);
    if (argc == 3 && strcmp(argv[1], "--composite") == 0)
        return bench_composite(argv[2]);
    fprintf(stderr, "usage: bench-client --fps CLIP PASSES [THREADS] | --composite CLIP\n");
    return 2;
}
