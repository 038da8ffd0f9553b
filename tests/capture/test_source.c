/*
 * Demuxer source against FFmpeg's own tools, the truth for one clip:
 *  - ffprobe -show_packets: packet count, pts, dts, duration, size, key flag;
 *  - ffmpeg -c copy -f framemd5: the md5 of every packet and of the extradata;
 *  - ffprobe -show_streams: codec, size, time base, frame rate.
 * Usage: test_capture_source CLIP | --errors
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>
#include <libavutil/md5.h>

#include <videoredir/capture.h>

#include "../check.h"

struct pkt {
    int64_t pts, dts, duration;
    long size;
    bool key;
    char md5[33];
};

struct pkts {
    struct pkt *v;
    size_t n, cap;
};

static struct pkt *pkts_add(struct pkts *p)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct pkt *v = realloc(p->v, cap * sizeof(*v));
        if (!v) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        p->v = v;
        p->cap = cap;
    }
    struct pkt *k = &p->v[p->n++];
    memset(k, 0, sizeof(*k));
    return k;
}

static FILE *run(const char *fmt, const char *clip)
{
    if (strchr(clip, '\'')) {
        fprintf(stderr, "clip path with a quote is not supported: %s\n", clip);
        exit(2);
    }
    char cmd[4096];
    /* fmt is always one of this file's literals with a single %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(cmd, sizeof(cmd), fmt, clip);
#pragma GCC diagnostic pop
    FILE *f = popen(cmd, "r");
    if (!f) {
        fprintf(stderr, "cannot run: %s\n", cmd);
        exit(2);
    }
    return f;
}

static int64_t ts_field(const char *s)
{
    if (!strcmp(s, "N/A") || !*s)
        return INT64_MIN;
    return strtoll(s, NULL, 10);
}

/* ffprobe -show_packets, compact "pts|dts|duration|size|flags|...". */
static void probe_packets(const char *clip, struct pkts *out)
{
    FILE *f = run(VR_FFPROBE " -v error -select_streams v:0 -show_entries "
                             "packet=pts,dts,duration,size,flags -of compact=p=0:nk=1 '%s'",
                  clip);
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        char *field[5] = { 0 };
        char *save = NULL, *p = line;
        int n = 0;
        /* strtok would merge empty fields; split by hand. */
        while (n < 5) {
            field[n++] = p;
            char *bar = strchr(p, '|');
            if (!bar)
                break;
            *bar = '\0';
            p = bar + 1;
        }
        (void)save;
        if (n < 5) {
            fprintf(stderr, "odd ffprobe line: %s\n", line);
            vr_failures++;
            continue;
        }
        struct pkt *k = pkts_add(out);
        k->pts = ts_field(field[0]);
        k->dts = ts_field(field[1]);
        int64_t d = ts_field(field[2]);
        k->duration = d == INT64_MIN ? 0 : d;
        k->size = strtol(field[3], NULL, 10);
        k->key = field[4][0] == 'K';
    }
    CHECK(pclose(f) == 0, "ffprobe failed on %s", clip);
}

/* ffmpeg -c copy -f framemd5: packet md5s and the extradata md5. */
static void framemd5(const char *clip, struct pkts *out, long *extra_size, char extra_md5[33])
{
    FILE *f = run(VR_FFMPEG " -nostdin -v error -i '%s' -map 0:v:0 -c copy -f framemd5 -", clip);
    char line[1024];
    *extra_size = -1;
    extra_md5[0] = '\0';
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        long sz;
        char md5[33];
        if (!strncmp(line, "#extradata", 10)) {
            if (sscanf(line, "#extradata %*d, %ld, %32s", &sz, md5) == 2) {
                *extra_size = sz;
                memcpy(extra_md5, md5, 33);
            }
            continue;
        }
        if (line[0] == '#' || !line[0])
            continue;
        /* stream, dts, pts, duration, size, md5[, side data] */
        if (sscanf(line, "%*d, %*d, %*d, %*d, %ld, %32[0-9a-f]", &sz, md5) != 2) {
            fprintf(stderr, "odd framemd5 line: %s\n", line);
            vr_failures++;
            continue;
        }
        struct pkt *k = pkts_add(out);
        k->size = sz;
        memcpy(k->md5, md5, 33);
    }
    CHECK(pclose(f) == 0, "ffmpeg framemd5 failed on %s", clip);
}

/* ffprobe -show_streams of the first video stream, key=value lines. */
static void probe_stream(const char *clip, char *codec, size_t codec_len, int *w, int *h, int *tb_num,
                         int *tb_den)
{
    FILE *f = run(VR_FFPROBE " -v error -select_streams v:0 -show_entries "
                             "stream=codec_name,width,height,time_base -of default=nw=1 '%s'",
                  clip);
    char line[512];
    *w = *h = *tb_num = *tb_den = -1;
    codec[0] = '\0';
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!strncmp(line, "codec_name=", 11))
            snprintf(codec, codec_len, "%.63s", line + 11);
        else if (!strncmp(line, "width=", 6))
            *w = atoi(line + 6);
        else if (!strncmp(line, "height=", 7))
            *h = atoi(line + 7);
        else if (!strncmp(line, "time_base=", 10))
            sscanf(line + 10, "%d/%d", tb_num, tb_den);
    }
    CHECK(pclose(f) == 0, "ffprobe -show_streams failed on %s", clip);
}

static void md5_hex(const uint8_t *data, size_t len, char out[33])
{
    uint8_t d[16];
    av_md5_sum(d, data, len);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static void test_clip(const char *clip)
{
    struct pkts probe = { 0 }, fmd5 = { 0 }, ours = { 0 };
    long extra_size;
    char extra_md5[33];
    probe_packets(clip, &probe);
    framemd5(clip, &fmd5, &extra_size, extra_md5);

    char err[512];
    struct vr_source *s = NULL;
    int ret = vr_source_open(clip, &s, err, sizeof(err));
    CHECK(ret == 0, "open %s: %d %s", clip, ret, err);
    if (ret < 0)
        return;

    /* Stream description. */
    const struct vr_stream_start *st = vr_source_stream_start(s);
    char codec[64];
    int w, h, tbn, tbd;
    probe_stream(clip, codec, sizeof(codec), &w, &h, &tbn, &tbd);
    CHECK(!strcmp(vr_codec_name(st->codec), codec), "codec %s, ffprobe says %s",
          vr_codec_name(st->codec), codec);
    CHECK((int)st->width == w && (int)st->height == h, "size %ux%u, ffprobe %dx%d", st->width,
          st->height, w, h);
    CHECK((int)st->timebase_num == tbn && (int)st->timebase_den == tbd, "time base %u/%u, ffprobe %d/%d",
          st->timebase_num, st->timebase_den, tbn, tbd);
    CHECK(st->fps_num == 25 && st->fps_den == 1, "frame rate %u/%u, want 25/1", st->fps_num, st->fps_den);
    if (extra_size >= 0) {
        char m[33];
        md5_hex(st->extradata, st->extradata_len, m);
        CHECK((long)st->extradata_len == extra_size && !strcmp(m, extra_md5),
              "extradata %u bytes md5 %s, ffmpeg %ld bytes md5 %s", st->extradata_len, m, extra_size,
              extra_md5);
    } else {
        CHECK(st->extradata_len == 0, "extradata of %u bytes where ffmpeg has none", st->extradata_len);
    }
    bool want_annexb = ends_with(clip, ".ts") || ends_with(clip, ".h264") || ends_with(clip, ".hevc");
    CHECK(!!(st->flags & VR_STREAM_ANNEXB) == want_annexb, "ANNEXB flag %d, want %d",
          !!(st->flags & VR_STREAM_ANNEXB), want_annexb);

    /* Access units. */
    struct vr_au au;
    int64_t first_dts = INT64_MIN, last_dts = INT64_MIN;
    char first_md5[33] = "";
    while ((ret = vr_source_read(s, &au)) == 1) {
        struct pkt *k = pkts_add(&ours);
        k->pts = au.pts;
        k->dts = au.dts;
        k->duration = au.duration;
        k->size = au.len;
        k->key = au.flags & VR_FRAME_KEY;
        md5_hex(au.data, au.len, k->md5);
        if (ours.n == 1) {
            first_dts = au.dts;
            memcpy(first_md5, k->md5, 33);
        }
        last_dts = au.dts;
    }
    CHECK(ret == 0, "read ended with %d (%s)", ret, vr_source_error(s));

    CHECK(ours.n == probe.n, "%zu access units, ffprobe counts %zu packets", ours.n, probe.n);
    CHECK(ours.n == fmd5.n, "%zu access units, framemd5 has %zu packets", ours.n, fmd5.n);
    CHECK(ours.n > 0, "no access units");
    CHECK(ours.n && ours.v[0].key, "first access unit is not a keyframe");
    size_t n = ours.n < probe.n ? ours.n : probe.n, bad = 0;
    for (size_t i = 0; i < n; i++) {
        const struct pkt *a = &ours.v[i], *b = &probe.v[i];
        if (a->pts != b->pts || a->dts != b->dts || a->duration != b->duration || a->size != b->size ||
            a->key != b->key) {
            if (bad++ < 5)
                fprintf(stderr,
                        "packet %zu: ours pts %" PRId64 " dts %" PRId64 " dur %" PRId64 " size %ld key %d; "
                        "ffprobe pts %" PRId64 " dts %" PRId64 " dur %" PRId64 " size %ld key %d\n",
                        i, a->pts, a->dts, a->duration, a->size, a->key, b->pts, b->dts, b->duration,
                        b->size, b->key);
        }
    }
    CHECK(bad == 0, "%zu packets differ from ffprobe", bad);
    n = ours.n < fmd5.n ? ours.n : fmd5.n;
    bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (ours.v[i].size != fmd5.v[i].size || strcmp(ours.v[i].md5, fmd5.v[i].md5)) {
            if (bad++ < 5)
                fprintf(stderr, "packet %zu: ours %ld bytes md5 %s; framemd5 %ld bytes md5 %s\n", i,
                        ours.v[i].size, ours.v[i].md5, fmd5.v[i].size, fmd5.v[i].md5);
        }
    }
    CHECK(bad == 0, "%zu packet md5s differ from ffmpeg's framemd5", bad);

    /* Rewind for looping: same data again, timestamps continue after the
     * first pass instead of jumping back. */
    ret = vr_source_rewind(s);
    CHECK(ret == 0, "rewind: %d %s", ret, vr_source_error(s));
    if (ret == 0) {
        ret = vr_source_read(s, &au);
        CHECK(ret == 1, "read after rewind: %d", ret);
        if (ret == 1) {
            char m[33];
            md5_hex(au.data, au.len, m);
            CHECK(!strcmp(m, first_md5), "first access unit after rewind differs");
            CHECK(au.flags & VR_FRAME_KEY, "first access unit after rewind is not key");
            if (first_dts != INT64_MIN)
                CHECK(au.dts > last_dts, "dts after rewind %" PRId64 " not after %" PRId64, au.dts,
                      last_dts);
        }
    }
    printf("%s: %s %ux%u, %zu access units equal to ffprobe/framemd5, extradata %u bytes%s\n", clip,
           vr_codec_name(st->codec), st->width, st->height, ours.n, st->extradata_len,
           (st->flags & VR_STREAM_ANNEXB) ? ", Annex B" : "");
    vr_source_close(s);
    free(probe.v);
    free(fmd5.v);
    free(ours.v);
}

static void make_clip(const char *args, const char *path)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), VR_FFMPEG " -nostdin -v error -y %s '%s'", args, path);
    int rc = system(cmd);
    CHECK(rc == 0, "could not make %s", path);
}

static void test_errors(void)
{
    char err[512];
    struct vr_source *s = (struct vr_source *)1;
    int ret = vr_source_open("/nonexistent/clip.mp4", &s, err, sizeof(err));
    CHECK(ret == -ENOENT, "missing file: %d", ret);
    CHECK(s == NULL, "out not cleared");
    CHECK(strstr(err, "/nonexistent/clip.mp4") != NULL, "message names the file: %s", err);

    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[1024];

    /* A video codec videoredir does not carry. */
    snprintf(path, sizeof(path), "%s/vr-capture-test-mpeg4.avi", tmp);
    make_clip("-f lavfi -i testsrc2=size=64x64:rate=5:duration=0.4 -c:v mpeg4", path);
    ret = vr_source_open(path, &s, err, sizeof(err));
    CHECK(ret == -ENOTSUP, "mpeg4: %d", ret);
    CHECK(strstr(err, "mpeg4") != NULL, "message names the codec: %s", err);
    remove(path);

    /* No video at all. */
    snprintf(path, sizeof(path), "%s/vr-capture-test-audio.wav", tmp);
    make_clip("-f lavfi -i sine=duration=0.2", path);
    ret = vr_source_open(path, &s, err, sizeof(err));
    CHECK(ret == -ENOTSUP, "audio only: %d", ret);
    CHECK(strstr(err, "no video") != NULL, "message says no video: %s", err);
    remove(path);

    /* Not a media file. */
    snprintf(path, sizeof(path), "%s/vr-capture-test-garbage.bin", tmp);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        for (int i = 0; i < 4096; i++)
            fputc((i * 7919) & 0xff, f);
        fclose(f);
        ret = vr_source_open(path, &s, err, sizeof(err));
        CHECK(ret < 0, "garbage opened");
        CHECK(err[0] != '\0', "no message for garbage");
        remove(path);
    }

    /* A video clip with an audio stream in front: the video one is picked. */
    snprintf(path, sizeof(path), "%s/vr-capture-test-av.mkv", tmp);
    make_clip("-f lavfi -i sine=duration=0.4 -f lavfi -i testsrc2=size=64x64:rate=10:duration=0.4 "
              "-map 0:a -map 1:v -c:a pcm_s16le -c:v libx264 -threads 1",
              path);
    ret = vr_source_open(path, &s, err, sizeof(err));
    CHECK(ret == 0, "audio+video: %d %s", ret, err);
    if (ret == 0) {
        CHECK(vr_source_stream_index(s) == 1, "picked stream %d", vr_source_stream_index(s));
        struct vr_au au;
        int frames = 0;
        while ((ret = vr_source_read(s, &au)) == 1)
            frames++;
        CHECK(ret == 0 && frames == 4, "frames %d ret %d", frames, ret);
        vr_source_close(s);
    }
    remove(path);
    vr_source_close(NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CLIP | --errors\n", argv[0]);
        return 2;
    }
    av_log_set_level(AV_LOG_ERROR); /* decoders probed by find_stream_info chat at info level */
    if (!strcmp(argv[1], "--errors"))
        test_errors();
    else
        test_clip(argv[1]);
    if (vr_failures)
        fprintf(stderr, "%d check(s) failed\n", vr_failures);
    return vr_failures ? 1 : 0;
}
