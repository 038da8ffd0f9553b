/*
 * Hardware frames read on demand (vr_frame_cpu), with real hardware frames:
 * the decoder's test hook VIDEOREDIR_TEST_HWFRAMES=vulkan (FFmpeg's Vulkan
 * frames on Mesa's lavapipe). Each frame is downloaded once whoever reads it
 * (clones share the copy, which outlives the decoder), a frame nobody draws
 * (hidden) is never downloaded, a hardware frame without the cache goes
 * through the caller's scratch, and the md5 of the downloads equals FFmpeg's
 * software decode. An unknown hook type leaves software frames.
 * Exits 77 when no Vulkan device can be made here.
 * Usage: test_client_hwframe CLIP
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include <videoredir/client.h>

#include "../check.h"
#include "clip.h"

static uint64_t downloads(void)
{
    struct vr_hwframe_stats st;
    vr_hwframe_get_stats(&st);
    return st.downloads;
}

static void log_cb(void *user, enum vr_client_log level, const char *msg)
{
    (void)user;
    if (level <= VR_CLOG_WARNING)
        fprintf(stderr, "log: %s\n", msg);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CLIP\n", argv[0]);
        return 2;
    }
    av_log_set_level(AV_LOG_ERROR);
    const char *clip = argv[1];

    /* Software frames are themselves; bad arguments are refused. */
    AVFrame *sw = av_frame_alloc();
    const AVFrame *out = NULL;
    CHECK(vr_frame_cpu(sw, NULL, &out) == 0 && out == sw, "a software frame is itself");
    CHECK(vr_frame_cpu(NULL, NULL, &out) == -EINVAL, "NULL frame");
    CHECK(!vr_frame_is_hw(sw) && !vr_frame_is_hw(NULL), "software is not hardware");
    av_frame_free(&sw);

    struct clip src;
    int ret = clip_open(&src, clip);
    CHECK(ret == 0, "open %s: %s", clip, av_err2str(ret));
    if (ret < 0)
        return 1;

    /* An unknown type: said, and the frames stay software. */
    setenv("VIDEOREDIR_TEST_HWFRAMES", "no-such-device", 1);
    struct vr_decoder *dec = NULL;
    CHECK(vr_decoder_open(&src.start, VR_HWDEC_NONE, NULL, NULL, &dec) == 0, "decoder");
    CHECK(dec && !strstr(vr_decoder_name(dec), "test frames"), "unknown hook type ignored");
    vr_decoder_close(dec);

    setenv("VIDEOREDIR_TEST_HWFRAMES", "vulkan", 1);
    dec = NULL;
    CHECK(vr_decoder_open(&src.start, VR_HWDEC_NONE, log_cb, NULL, &dec) == 0, "decoder");
    if (!dec)
        return 1;
    if (!strstr(vr_decoder_name(dec), "vulkan test frames")) {
        printf("SKIP: no Vulkan frames here (decoder %s)\n", vr_decoder_name(dec));
        vr_decoder_close(dec);
        clip_close(&src);
        return 77;
    }

    char md5s[512][33];
    int n = 0, n_hw = 0;
    AVFrame *kept = NULL, *scratch = NULL;
    char kept_md5[33] = "";
    struct vr_frame f;
    pixman_image_t *canvas = pixman_image_create_bits(PIXMAN_x8r8g8b8, 64, 64, NULL, 0);
    pixman_region32_t hidden;
    pixman_region32_init(&hidden);
    bool drain = false;
    for (;;) {
        if (!drain) {
            ret = clip_read(&src, &f);
            CHECK(ret >= 0, "source read: %d", ret);
            if (ret == 1) {
                CHECK(vr_decoder_send(dec, &f) == 0, "send");
            } else {
                drain = true;
                CHECK(vr_decoder_drain(dec) == 0, "drain");
            }
        }
        const AVFrame *d;
        int got = 0;
        while (vr_decoder_receive(dec, &d) == 0 && n < 512) {
            got++;
            n_hw += vr_frame_is_hw(d);
            AVFrame *c = av_frame_clone(d); /* as the decode queue hands it on */
            CHECK(c != NULL, "clone");
            if (!c)
                break;
            /* Nobody draws it: a hidden composite reads nothing. */
            uint64_t before = downloads();
            struct vr_rect r = { 0, 0, 32, 32 };
            CHECK(vr_composite_frame(canvas, c, &r, &hidden) == 0, "hidden composite");
            CHECK(downloads() == before, "a hidden frame was downloaded");
            /* Read: once, shared by the clone and the decoder's frame. */
            const AVFrame *a = NULL, *b = NULL, *e = NULL;
            CHECK(vr_frame_cpu(c, NULL, &a) == 0 && a && a != c, "download");
            CHECK(vr_frame_cpu(c, NULL, &b) == 0 && b == a, "the second read reuses the copy");
            CHECK(vr_frame_cpu(d, NULL, &e) == 0 && e == a, "the decoder's frame shares it");
            CHECK(downloads() == before + 1, "downloaded %llu times",
                  (unsigned long long)(downloads() - before));
            CHECK(a && !vr_frame_is_hw(a) && a->width == c->width && a->height == c->height,
                  "the copy is a software frame of the same size");
            CHECK(vr_frame_md5(c, md5s[n]) == 0, "md5");
            CHECK(downloads() == before + 1, "md5 downloaded again");
            if (n == 3) {
                /* Without the cache: through the caller's scratch only. */
                AVFrame *bare = av_frame_clone(d);
                av_buffer_unref(&bare->opaque_ref);
                CHECK(vr_frame_cpu(bare, NULL, &a) == -EINVAL, "no cache, no scratch");
                CHECK(vr_frame_cpu(bare, &scratch, &a) == 0 && a == scratch, "scratch");
                CHECK(downloads() == before + 2, "scratch download counted");
                av_frame_free(&bare);
                kept = av_frame_clone(c); /* outlives the decoder */
                memcpy(kept_md5, md5s[n], sizeof(kept_md5));
            }
            av_frame_free(&c);
            n++;
        }
        if (drain && !got)
            break;
    }
    vr_decoder_close(dec);
    clip_close(&src);
    CHECK(n > 4 && n_hw == n, "%d frames, %d hardware", n, n_hw);
    if (kept) {
        char again[33];
        CHECK(vr_frame_md5(kept, again) == 0 && !strcmp(again, kept_md5),
              "a kept frame reads the same after its decoder closed");
    }
    av_frame_free(&kept);
    av_frame_free(&scratch);
    pixman_region32_fini(&hidden);
    pixman_image_unref(canvas);

    /* The downloads' md5s against FFmpeg's software decode. */
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -i '%s' -map 0:v:0 -f framemd5 -", clip);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL, "ffmpeg");
    int i = 0, same = 0;
    char line[1024];
    while (p && fgets(line, sizeof(line), p)) {
        char *last = strrchr(line, ',');
        if (line[0] == '#' || !last)
            continue;
        last += strspn(last + 1, " ") + 1;
        last[strcspn(last, "\r\n")] = 0;
        same += i < n && !strcmp(last, md5s[i]);
        i++;
    }
    CHECK(p && pclose(p) == 0, "ffmpeg exit");
    CHECK(i == n && same == n, "%d of %d frames equal to ffmpeg's %d", same, n, i);
    printf("%s: %d hardware frames, each downloaded once, md5 equal to ffmpeg's: %d\n", clip, n,
           same);
    return CHECK_DONE();
}
