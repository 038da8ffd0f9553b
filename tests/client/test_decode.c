/*
 * Decoder bit-exactness without SPICE: every packet libavformat reads from
 * CLIP's video stream goes through the client's decoder and framemd5 writer;
 * the md5 column must equal `ffmpeg -i CLIP -map 0:v:0 -f framemd5 -`.
 * Usage: test_client_decode CLIP
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>

#include <videoredir/client.h>

#include "../check.h"
#include "clip.h"

static const AVFrame *got;
static struct vr_framemd5 *md5;
static int tb_num, tb_den, n_frames;

static void write_ready(struct vr_decoder *d)
{
    const AVFrame *f;
    while (vr_decoder_receive(d, &f) == 0) {
        got = f;
        CHECK(vr_framemd5_write(md5, f, tb_num, tb_den) == 0, "framemd5 write");
        n_frames++;
    }
}

/* md5 column of a framemd5 file, one per line, into buf. */
static int md5_column(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024];
    size_t len = 0;
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#')
            continue;
        char *last = strrchr(line, ',');
        if (!last)
            continue;
        last++;
        while (*last == ' ')
            last++;
        size_t l = strcspn(last, "\r\n");
        if (len + l + 2 > cap)
            break;
        memcpy(buf + len, last, l);
        len += l;
        buf[len++] = '\n';
        n++;
    }
    buf[len] = 0;
    fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CLIP\n", argv[0]);
        return 2;
    }
    av_log_set_level(AV_LOG_ERROR);
    const char *clip = argv[1];
    char ours[] = "/tmp/vr-test-decode-XXXXXX";
    char ref[] = "/tmp/vr-test-ref-XXXXXX";
    int fd1 = mkstemp(ours), fd2 = mkstemp(ref);
    CHECK(fd1 >= 0 && fd2 >= 0, "temp files");
    close(fd1);
    close(fd2);

    struct clip src;
    int ret = clip_open(&src, clip);
    CHECK(ret == 0, "open %s: %s", clip, av_err2str(ret));
    if (ret < 0)
        return 1;
    const struct vr_stream_start *st = &src.start;
    tb_num = (int)st->timebase_num;
    tb_den = (int)st->timebase_den;
    struct vr_decoder *dec = NULL;
    CHECK(vr_decoder_open(st, VR_HWDEC_NONE, NULL, NULL, &dec) == 0, "decoder");
    CHECK(vr_framemd5_open(ours, &md5) == 0, "framemd5 open");
    if (!dec || !md5)
        return 1;
    CHECK(strstr(vr_decoder_name(dec), "software") != NULL, "software back end: %s",
          vr_decoder_name(dec));

    /* A few packets first, then a flush (a seek back to the start): nothing
     * from before the flush may come out, and the decode after it must still
     * be bit-exact. */
    struct vr_frame f;
    for (int i = 0; i < 5 && clip_read(&src, &f) == 1; i++) {
        const AVFrame *skip;
        CHECK(vr_decoder_send(dec, &f) == 0, "send before the flush");
        while (vr_decoder_receive(dec, &skip) == 0)
            ;
    }
    vr_decoder_flush(dec);
    CHECK(clip_rewind(&src, clip) == 0, "rewind");
    int n_sent = 0;
    while ((ret = clip_read(&src, &f)) == 1) {
        n_sent++;
        CHECK(vr_decoder_send(dec, &f) == 0, "send frame %d", n_sent);
        write_ready(dec);
    }
    CHECK(ret == 0, "source read: %d", ret);
    CHECK(vr_decoder_drain(dec) == 0, "drain");
    write_ready(dec);
    CHECK(vr_framemd5_close(md5) == 0, "framemd5 close");
    vr_decoder_close(dec);
    clip_close(&src);

    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y -i '%s' -map 0:v:0 -f framemd5 '%s'",
             clip, ref);
    CHECK(system(cmd) == 0, "ffmpeg reference");
    static char a[1 << 20], b[1 << 20];
    int na = md5_column(ours, a, sizeof(a)), nb = md5_column(ref, b, sizeof(b));
    CHECK(nb > 0, "reference frames: %d", nb);
    CHECK(na == nb, "frame count %d, ffmpeg %d", na, nb);
    CHECK(strcmp(a, b) == 0, "md5 columns differ");
    printf("%s: %d packets, %d frames, ffmpeg %d, md5 columns %s\n", clip, n_sent, na, nb,
           strcmp(a, b) ? "differ" : "equal");
    unlink(ours);
    unlink(ref);
    return CHECK_DONE();
}
