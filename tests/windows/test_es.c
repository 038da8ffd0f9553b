/*
 * The plain-C elementary-stream demuxer of the Windows build
 * (guest-capture/src/es.c), on Linux against FFmpeg's own view of each
 * sample: the same access units (count, size, key flag) as ffprobe's packets,
 * the same codec and picture size, the same bytes again after a rewind with
 * timestamps that go on, and clear errors for what it does not read.
 * Usage: test_es CLIP | --errors
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "es.h"
#include "../check.h"

#define MAX_AUS 4096

struct probe_au {
    long size;
    int key;
};

static size_t ffprobe(const char *clip, struct probe_au *out, size_t max)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "'%s' -v error -select_streams v:0 -show_entries packet=size,flags -of csv=p=0 '%s'",
             VR_FFPROBE, clip);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL, "cannot run %s", cmd);
    if (!f)
        return 0;
    char line[256];
    size_t n = 0;
    while (fgets(line, sizeof(line), f) && n < max) {
        char flags[16] = "";
        if (sscanf(line, "%ld,%15s", &out[n].size, flags) == 2) {
            out[n].key = flags[0] == 'K';
            n++;
        }
    }
    CHECK(pclose(f) == 0, "ffprobe failed on %s", clip);
    return n;
}

static void stream_info(const char *clip, char *codec, size_t clen, int *w, int *h)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "'%s' -v error -select_streams v:0 -show_entries stream=codec_name,width,height "
             "-of csv=p=0 '%s'", VR_FFPROBE, clip);
    FILE *f = popen(cmd, "r");
    *w = *h = 0;
    codec[0] = '\0';
    if (!f)
        return;
    char line[256];
    if (fgets(line, sizeof(line), f)) {
        char *c1 = strchr(line, ',');
        if (c1 && (size_t)(c1 - line) < clen) {
            memcpy(codec, line, (size_t)(c1 - line));
            codec[c1 - line] = '\0';
            sscanf(c1 + 1, "%d,%d", w, h);
        }
    }
    pclose(f);
}

static int check_clip(const char *clip)
{
    static struct probe_au want[MAX_AUS];
    size_t n_want = ffprobe(clip, want, MAX_AUS);
    CHECK(n_want > 0, "ffprobe found no packets in %s", clip);

    char err[256] = "";
    struct vr_es *e = NULL;
    int ret = vr_es_open(clip, &e, err, sizeof(err));
    CHECK(ret == 0, "open %s: %d %s", clip, ret, err);
    if (ret < 0)
        return 1;
    const struct vr_stream_start *ss = vr_es_stream_start(e);
    char codec[32];
    int w, h;
    stream_info(clip, codec, sizeof(codec), &w, &h);
    CHECK(!strcmp(vr_codec_name(ss->codec), codec), "codec %s, ffprobe %s", vr_codec_name(ss->codec), codec);
    CHECK((int)ss->width == w && (int)ss->height == h, "size %ux%u, ffprobe %dx%d", ss->width,
          ss->height, w, h);

    size_t n = 0, bad = 0;
    uint64_t bytes = 0;
    int64_t last_dts = INT64_MIN;
    struct vr_au au;
    while ((ret = vr_es_read(e, &au)) == 1) {
        if (n < n_want && (au.len != (uint32_t)want[n].size || !!(au.flags & VR_FRAME_KEY) != want[n].key)) {
            if (bad++ < 5)
                fprintf(stderr, "%s: access unit %zu: %u bytes key %d, ffprobe %ld bytes key %d\n", clip, n,
                        au.len, !!(au.flags & VR_FRAME_KEY), want[n].size, want[n].key);
        }
        bytes += au.len;
        last_dts = au.dts;
        n++;
    }
    CHECK(ret == 0, "read error %d: %s", ret, vr_es_error(e));
    CHECK(n == n_want, "%zu access units, ffprobe %zu packets", n, n_want);
    CHECK(bad == 0, "%zu access units differ from ffprobe's packets", bad);

    /* Looping: the same access units again, timestamps after the first pass. */
    CHECK(vr_es_rewind(e) == 0, "rewind");
    CHECK(vr_es_read(e, &au) == 1, "read after rewind");
    CHECK(au.len == (uint32_t)want[0].size && (au.flags & VR_FRAME_KEY), "first access unit again");
    CHECK(au.dts > last_dts, "dts %lld after rewind, last %lld", (long long)au.dts, (long long)last_dts);
    printf("%s: %s %s %ux%u, %zu access units (%llu bytes) equal to ffprobe's packets\n", clip,
           vr_es_container(e), vr_codec_name(ss->codec), ss->width, ss->height, n,
           (unsigned long long)bytes);
    vr_es_close(e);
    return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

static void check_errors(void)
{
    char err[256], path[512];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    struct vr_es *e = NULL;
    CHECK(vr_es_open("/nonexistent/clip.h264", &e, err, sizeof(err)) == -ENOENT, "missing file");
    snprintf(path, sizeof(path), "%s/vr-es-test.bin", tmp);
    write_file(path, "hello, not video", 16);
    CHECK(vr_es_open(path, &e, err, sizeof(err)) == -ENOTSUP && strstr(err, "not an Annex B"), "%s", err);
    /* A start code and an AUD but no SPS: no size to announce. */
    static const uint8_t no_sps[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x65, 0x88, 0x80 };
    write_file(path, no_sps, sizeof(no_sps));
    CHECK(vr_es_open(path, &e, err, sizeof(err)) == -EINVAL && strstr(err, "no sequence parameter set"),
          "%s", err);
    /* An SPS cut short. */
    static const uint8_t cut_sps[] = { 0, 0, 0, 1, 0x67, 0x64, 0x00 };
    write_file(path, cut_sps, sizeof(cut_sps));
    CHECK(vr_es_open(path, &e, err, sizeof(err)) == -EINVAL && strstr(err, "unusable"), "%s", err);
    /* IVF with another codec, and one whose frame claims more than is there. */
    uint8_t ivf[32 + 12 + 4] = "DKIF";
    ivf[6] = 32;
    memcpy(ivf + 8, "MJPG", 4);
    ivf[12] = 64, ivf[14] = 48, ivf[16] = 25, ivf[20] = 1;
    write_file(path, ivf, 32);
    CHECK(vr_es_open(path, &e, err, sizeof(err)) == -ENOTSUP && strstr(err, "MJPG"), "%s", err);
    memcpy(ivf + 8, "VP80", 4);
    ivf[32] = 0xff, ivf[33] = 0xff; /* 65535 bytes, 4 present */
    write_file(path, ivf, sizeof(ivf));
    CHECK(vr_es_open(path, &e, err, sizeof(err)) == 0, "IVF header: %s", err);
    struct vr_au au;
    CHECK(vr_es_read(e, &au) == -EINVAL && strstr(vr_es_error(e), "bad IVF frame size"), "%s", vr_es_error(e));
    vr_es_close(e);
    remove(path);
    printf("error cases checked\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_es CLIP | --errors\n");
        return 2;
    }
    if (!strcmp(argv[1], "--errors"))
        check_errors();
    else
        check_clip(argv[1]);
    return CHECK_DONE();
}
