/*
 * Writes the seed corpora of the security fuzz targets from real data:
 *   OUT/corpus-bitstream/  the first access units of each sample clip in the
 *                          fuzz_bitstream layout (codec, flags, u16 length + AU)
 *   OUT/corpus-region/     GEOMETRY and REGION messages as a guest sends them
 *                          (the capture's window and regions of the e2e tests)
 * Usage: gen_security_corpus SAMPLES_DIR OUT_DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/log.h>

#include <videoredir/protocol.h>

#include "../client/clip.h"

static int write_file(const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        perror(path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int bitstream_seed(const char *samples, const char *clipname, const char *out, int n_aus)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", samples, clipname);
    struct clip c;
    if (clip_open(&c, path) < 0) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    static uint8_t buf[1 << 20];
    size_t len = 2;
    buf[0] = (uint8_t)(c.start.codec - 1);
    buf[1] = (c.start.flags & VR_STREAM_ANNEXB) ? 1 : 0;
    struct vr_frame f;
    for (int i = 0; i < n_aus && clip_read(&c, &f) == 1; i++) {
        size_t n = f.data_len > 0xffff ? 0xffff : f.data_len;
        if (len + 2 + n > sizeof(buf))
            break;
        buf[len] = (uint8_t)n;
        buf[len + 1] = (uint8_t)(n >> 8);
        memcpy(buf + len + 2, f.data, n);
        len += 2 + n;
    }
    clip_close(&c);
    char name[256];
    snprintf(name, sizeof(name), "%s-%d.bin", clipname, n_aus);
    return write_file(out, name, buf, len);
}

static size_t put_msg(uint8_t *dst, size_t cap, const struct vr_msg *m)
{
    long n = vr_msg_encode(m, dst, cap);
    return n > 0 ? (size_t)n : 0;
}

static int region_seeds(const char *out)
{
    static struct vr_msg m;
    static uint8_t buf[16384];
    static const struct {
        struct vr_rect window, content;
        uint32_t n;
        struct vr_rect rects[4];
    } seeds[] = {
        /* e2e: the whole window visible. */
        { { 100, 80, 640, 360 }, { 100, 80, 640, 360 }, 0, { { 0 } } },
        /* e2e-placement: partly covered (two rectangles). */
        { { 100, 80, 640, 360 }, { 100, 80, 640, 360 }, 2,
          { { 100, 80, 640, 200 }, { 100, 280, 300, 160 } } },
        /* letterboxed content, overlapping rectangles, one outside. */
        { { 0, 0, 200, 150 }, { 0, 20, 200, 110 }, 4,
          { { 0, 0, 50, 50 }, { 25, 25, 100, 100 }, { 150, 100, 60, 60 }, { -500, -500, 10, 10 } } },
        /* hidden. */
        { { 10, 10, 100, 100 }, { 10, 10, 100, 100 }, 0, { { 0 } } },
        /* negative coordinates (a window on a monitor left of the primary). */
        { { -300, 40, 400, 225 }, { -300, 40, 400, 225 }, 1, { { -100, 40, 200, 225 } } },
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        size_t len = 0;
        memset(&m, 0, sizeof(m));
        m.type = VR_MSG_GEOMETRY;
        m.stream_id = 1;
        m.u.geometry.window = seeds[i].window;
        m.u.geometry.content = seeds[i].content;
        len += put_msg(buf + len, sizeof(buf) - len, &m);
        if (seeds[i].n || i == 3) {
            memset(&m, 0, sizeof(m));
            m.type = VR_MSG_REGION;
            m.stream_id = 1;
            m.u.region.n_rects = seeds[i].n;
            memcpy(m.u.region.rects, seeds[i].rects, sizeof(seeds[i].rects));
            len += put_msg(buf + len, sizeof(buf) - len, &m);
        }
        char name[64];
        snprintf(name, sizeof(name), "region-%zu.bin", i);
        if (write_file(out, name, buf, len) < 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gen_security_corpus SAMPLES_DIR OUT_DIR\n");
        return 2;
    }
    av_log_set_level(AV_LOG_QUIET);
    char bdir[4096], rdir[4096];
    snprintf(bdir, sizeof(bdir), "%s/corpus-bitstream", argv[2]);
    snprintf(rdir, sizeof(rdir), "%s/corpus-region", argv[2]);
    mkdir(bdir, 0755);
    mkdir(rdir, 0755);
    static const char *clips[] = { "h264-annexb.h264", "hevc-annexb.hevc", "vp8.webm", "vp9.webm",
                                   "av1.ivf" };
    int ret = 0;
    for (size_t i = 0; i < sizeof(clips) / sizeof(clips[0]); i++) {
        ret |= bitstream_seed(argv[1], clips[i], bdir, 1);
        ret |= bitstream_seed(argv[1], clips[i], bdir, 4);
    }
    ret |= region_seeds(rdir);
    return ret ? 1 : 0;
}
