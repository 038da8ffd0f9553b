/*
 * What a front end reports about its streams (see client-report.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include <videoredir/client-report.h>

/* Largest black canvas made when there is no desktop. */
#define MAX_CANVAS 8192
/* Latencies kept per stream between two statistics lines. */
#define MAX_LATENCIES 1024

bool vr_client_find_stream(const struct vr_client *c, uint32_t stream_id, uint32_t *slot,
                           struct vr_client_stream_stats *st)
{
    struct vr_client_stream_stats tmp;
    if (!st)
        st = &tmp;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++)
        if (vr_client_stream_stats(c, i, st) == 0 && st->stream_id == stream_id && !st->ended) {
            if (slot)
                *slot = i;
            return true;
        }
    return false;
}

/* --- Statistics lines ---------------------------------------------------- */

struct vr_stats_report {
    uint64_t last_us;
    struct {
        uint64_t serial; /* 0: slot not seen yet */
        uint64_t frames, bytes;
        bool final_printed;
        uint32_t lat[MAX_LATENCIES]; /* send -> presented since the last line, us */
        uint32_t n_lat;
    } stat[VR_MAX_STREAMS];
    struct {
        uint64_t serial;   /* the stream this slot's start time is of */
        uint64_t start_us; /* when it was accepted */
        bool shown;        /* its first frame was presented */
    } first[VR_MAX_STREAMS];
};

int vr_stats_report_new(uint64_t now_us, struct vr_stats_report **out)
{
    struct vr_stats_report *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->last_us = now_us;
    *out = r;
    return 0;
}

void vr_stats_report_free(struct vr_stats_report *r)
{
    free(r);
}

void vr_stats_report_stream_started(struct vr_stats_report *r, const struct vr_client *c,
                                    uint32_t stream_id, uint64_t now_us)
{
    uint32_t i;
    struct vr_client_stream_stats st;
    if (!vr_client_find_stream(c, stream_id, &i, &st))
        return;
    r->first[i].serial = st.serial;
    r->first[i].start_us = now_us;
    r->first[i].shown = false;
}

int64_t vr_stats_report_presented(struct vr_stats_report *r, const struct vr_client *c,
                                  uint32_t stream_id, uint64_t now_us)
{
    uint32_t i;
    struct vr_client_stream_stats st;
    if (!vr_client_find_stream(c, stream_id, &i, &st))
        return -1;
    if (st.latency_us && r->stat[i].serial == st.serial && r->stat[i].n_lat < MAX_LATENCIES)
        r->stat[i].lat[r->stat[i].n_lat++] = st.latency_us;
    if (r->first[i].serial != st.serial || r->first[i].shown)
        return -1;
    r->first[i].shown = true;
    return now_us > r->first[i].start_us ? (int64_t)(now_us - r->first[i].start_us) : 0;
}

uint64_t vr_stats_report_age(const struct vr_stats_report *r, uint64_t now_us)
{
    return now_us > r->last_us ? now_us - r->last_us : 0;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

void vr_stats_report_print(struct vr_stats_report *r, const struct vr_client *c, uint64_t now_us,
                           const char *presenter, FILE *out)
{
    double secs = (double)vr_stats_report_age(r, now_us) / 1e6;
    if (secs <= 0)
        secs = 1e-3;
    r->last_us = now_us;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_client_stream_stats st;
        if (vr_client_stream_stats(c, i, &st) < 0)
            continue;
        if (r->stat[i].serial != st.serial) { /* the slot holds a new stream */
            memset(&r->stat[i], 0, sizeof(r->stat[i]));
            r->stat[i].serial = st.serial;
        }
        if (!st.active && (!st.ended || r->stat[i].final_printed))
            continue;
        r->stat[i].final_printed = st.ended;
        double fps = (double)(st.frames_decoded - r->stat[i].frames) / secs;
        double mbit = (double)(st.bytes_received - r->stat[i].bytes) * 8 / secs / 1e6;
        r->stat[i].frames = st.frames_decoded;
        r->stat[i].bytes = st.bytes_received;
        char latency[96] = "unknown"; /* until a pong gave the clock offset */
        uint32_t n = r->stat[i].n_lat;
        if (n) {
            qsort(r->stat[i].lat, n, sizeof(uint32_t), cmp_u32);
            snprintf(latency, sizeof(latency), "p50 %.1f ms p99 %.1f ms (%" PRIu32 " frames)",
                     r->stat[i].lat[n / 2] / 1000.0, r->stat[i].lat[(n * 99) / 100] / 1000.0, n);
            r->stat[i].n_lat = 0;
        } else if (st.latency_us) {
            snprintf(latency, sizeof(latency), "%.1f ms", st.latency_us / 1000.0);
        }
        bool named = presenter && presenter[0];
        char decoder[128];
        vr_client_decoder_label(&st, decoder, sizeof(decoder));
        char hwinfo[96] = "";
        if (st.frames_hw) {
            struct vr_hwframe_stats hs;
            vr_hwframe_get_stats(&hs);
            snprintf(hwinfo, sizeof(hwinfo), " | hw frames %" PRIu64 " downloads %" PRIu64
                     " imports %" PRIu64, st.frames_hw, hs.downloads, hs.imports);
        }
        fprintf(out,
                "stats: stream %" PRIu32 " %s %" PRIu32 "x%" PRIu32 " decoder %s | %.1f fps %.2f Mbit/s"
                " | decoded %" PRIu64 " dropped %" PRIu64 " lost %" PRIu64 " | presented %" PRIu64
                " late %" PRIu64 " queued %" PRIu32 "%s%s%s%s | latency %s%s%s\n",
                st.stream_id, vr_codec_name(st.codec), st.width, st.height, decoder, fps, mbit,
                st.frames_decoded, st.frames_dropped, st.frames_lost, st.frames_presented,
                st.frames_late, st.queue_depth, st.has_clock ? (st.rate_q16 ? " clocked" : " paused") : "",
                hwinfo, named ? " | presenter " : "", named ? presenter : "", latency,
                st.ended ? " | ended: " : "", st.ended ? vr_reason_name(st.stop_reason) : "");
    }
}

/* --- One framemd5 file per stream -------------------------------------- */

struct vr_framemd5_set {
    char *dir;
    struct {
        uint32_t stream_id;
        struct vr_framemd5 *md5;
    } files[VR_MAX_STREAMS];
};

int vr_framemd5_set_new(const char *dir, struct vr_framemd5_set **out)
{
    struct vr_framemd5_set *s = calloc(1, sizeof(*s));
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

int vr_framemd5_set_write(struct vr_framemd5_set *s, uint32_t stream_id, const AVFrame *frame,
                          int tb_num, int tb_den)
{
    struct vr_framemd5 **w = NULL;
    for (size_t i = 0; i < VR_MAX_STREAMS && !w; i++)
        if (s->files[i].md5 && s->files[i].stream_id == stream_id)
            w = &s->files[i].md5;
    for (size_t i = 0; i < VR_MAX_STREAMS && !w; i++)
        if (!s->files[i].md5) {
            char path[4096];
            int n = snprintf(path, sizeof(path), "%s/stream-%" PRIu32 ".framemd5", s->dir, stream_id);
            if (n < 0 || (size_t)n >= sizeof(path))
                return -ENAMETOOLONG;
            int ret = vr_framemd5_open(path, &s->files[i].md5);
            if (ret < 0)
                return ret;
            s->files[i].stream_id = stream_id;
            w = &s->files[i].md5;
        }
    return w ? vr_framemd5_write(*w, frame, tb_num, tb_den) : 0;
}

int vr_framemd5_set_close(struct vr_framemd5_set *s)
{
    if (!s)
        return 0;
    int ret = 0;
    for (size_t i = 0; i < VR_MAX_STREAMS; i++)
        if (s->files[i].md5 && vr_framemd5_close(s->files[i].md5) < 0)
            ret = -EIO;
    free(s->dir);
    free(s);
    return ret;
}

/* --- Snapshots ----------------------------------------------------------- */

pixman_image_t *vr_snapshot_canvas(const struct vr_client *c, const uint8_t *pixels, uint32_t width,
                                   uint32_t height, size_t stride)
{
    if (pixels && width && height && width <= MAX_CANVAS && height <= MAX_CANVAS) {
        pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8, (int)width, (int)height, NULL, 0);
        if (!img)
            return NULL;
        uint8_t *dst = (uint8_t *)pixman_image_get_data(img);
        size_t dstride = (size_t)pixman_image_get_stride(img);
        for (uint32_t y = 0; y < height; y++)
            memcpy(dst + y * dstride, pixels + y * stride, (size_t)width * 4);
        return img;
    }
    /* No desktop: black up to the far corner of every video (within reason:
     * the geometry comes from the guest). */
    int64_t w = 64, h = 64;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_client_stream_stats st;
        if (vr_client_stream_stats(c, i, &st) < 0 || !st.has_geometry)
            continue;
        const struct vr_rect *r = &st.geometry.content;
        if ((int64_t)r->x + r->w > w)
            w = (int64_t)r->x + r->w;
        if ((int64_t)r->y + r->h > h)
            h = (int64_t)r->y + r->h;
    }
    w = w > MAX_CANVAS ? MAX_CANVAS : w;
    h = h > MAX_CANVAS ? MAX_CANVAS : h;
    return pixman_image_create_bits(PIXMAN_x8r8g8b8, (int)w, (int)h, NULL, 0);
}

pixman_image_t *vr_snapshot_videos(const struct vr_client *c, uint32_t width, uint32_t height,
                                   vr_client_log_fn log, void *log_user)
{
    if (!width || !height || width > MAX_CANVAS || height > MAX_CANVAS)
        return NULL;
    pixman_image_t *videos = pixman_image_create_bits(PIXMAN_a8r8g8b8, (int)width, (int)height, NULL, 0);
    if (!videos)
        return NULL;
    pixman_region32_t region;
    pixman_region32_init(&region);
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_client_stream_stats st;
        const AVFrame *f = vr_client_stream_frame(c, i);
        if (!f || vr_client_stream_stats(c, i, &st) < 0 || !st.has_geometry)
            continue;
        vr_client_stream_region(c, i, &region);
        int ret = vr_composite_frame(videos, f, &st.geometry.content, &region);
        if (ret < 0 && log) {
            char msg[160];
            snprintf(msg, sizeof(msg), "snapshot: cannot composite stream %" PRIu32 ": %s",
                     st.stream_id, strerror(-ret));
            log(log_user, VR_CLOG_WARNING, msg);
        }
    }
    pixman_region32_fini(&region);
    return videos;
}

int vr_snapshot_write(pixman_image_t *canvas, pixman_image_t *videos, const char *path)
{
    if (videos)
        pixman_image_composite32(PIXMAN_OP_OVER, videos, NULL, canvas, 0, 0, 0, 0, 0, 0,
                                 pixman_image_get_width(videos), pixman_image_get_height(videos));
    return vr_write_png(canvas, path);
}

/* --- A/V log --------------------------------------------------------------- */

void vr_av_log_audio(FILE *out, uint64_t recv_us, uint64_t heard_us, const int16_t *pcm,
                     uint32_t frames, uint32_t channels, uint32_t rate)
{
    long onset = -1;
    int peak = 0;
    for (uint32_t i = 0; i < frames; i++)
        for (uint32_t ch = 0; ch < channels; ch++) {
            int v = abs((int)pcm[(size_t)i * channels + ch]);
            if (v > peak)
                peak = v;
            if (v > 8192 && onset < 0)
                onset = (long)i;
        }
    fprintf(out, "A %" PRIu64 " %" PRIu64 " %" PRIu32 " %" PRIu32 " %ld %d\n", recv_us, heard_us,
            frames, rate, onset, peak);
}

/* Mean of the first plane (luma of YUV frames), every 4th pixel of every 4th
 * row: tells a flash frame from a dark one. */
static unsigned mean_luma(const AVFrame *f)
{
    AVFrame *scratch = NULL;
    if (vr_frame_cpu(f, &scratch, &f) < 0 || !f->data[0] || f->width <= 0 || f->height <= 0) {
        av_frame_free(&scratch);
        return 0;
    }
    uint64_t sum = 0, n = 0;
    for (int y = 0; y < f->height; y += 4)
        for (int x = 0; x < f->width; x += 4, n++)
            sum += f->data[0][(ptrdiff_t)y * f->linesize[0] + x];
    av_frame_free(&scratch);
    return n ? (unsigned)(sum / n) : 0;
}

void vr_av_log_frame(FILE *out, const struct vr_client *c, uint32_t stream_id)
{
    uint32_t i;
    if (!vr_client_find_stream(c, stream_id, &i, NULL))
        return;
    const AVFrame *f = vr_client_stream_frame(c, i);
    if (!f)
        return;
    int64_t offset = 0, delay = 0;
    vr_client_clock_offset(c, &offset, NULL);
    if (!vr_client_audio_delay(c, &delay))
        delay = 0;
    fprintf(out, "V %" PRIu64 " %" PRIu32 " %" PRId64 " %u %" PRId64 " %" PRId64 "\n",
            vr_client_now_us(c), stream_id, f->pts == AV_NOPTS_VALUE ? INT64_MIN : f->pts,
            mean_luma(f), offset, delay);
}

void vr_av_log_desktop(FILE *out, const uint8_t *pixels, uint32_t width, uint32_t height,
                       size_t stride, int x, int y, int w, int h)
{
    if (!pixels || w < 64 || h < 64 || x < 0 || y < 0 || (int64_t)x + w > width ||
        (int64_t)y + h > height)
        return;
    uint64_t sum = 0, n = 0;
    for (int row = y; row < y + h; row += 4)
        for (int col = x; col < x + w; col += 4, n++)
            sum += pixels[(size_t)row * stride + (size_t)col * 4 + 1];
    fprintf(out, "D %" PRIu64 " %d %d %d %d %u\n", vr_time_us(), x, y, w, h,
            n ? (unsigned)(sum / n) : 0);
}
