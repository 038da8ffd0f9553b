/*
 * The replay pieces of vr_client: vr_framemd5_load on hostile lists, and
 * vr_replay driving a real software-decoding vr_client through a corpus
 * recording: every frame's vr_frame_md5 equals the committed FFmpeg list,
 * marks fire once at their time, stop() and vr_replay_quit end it where it
 * is, a message hook sees every guest->client message.
 * Usage: test_replay_lib RECORDING.vrr RECORDING.framemd5 TMPDIR
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include <videoredir/client.h>
#include <videoredir/record.h>

#include "../check.h"

static const char *tmpdir;

/* Writes text into TMPDIR/name; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static void test_load(const char *good)
{
    struct vr_framemd5_entry *v = NULL;
    uint64_t n = 0;
    char err[256];
    CHECK(vr_framemd5_load(good, 1000000, &v, &n, err, sizeof(err)) == 0 && n == 75 && v,
          "good list: %s", err);
    free(v);
    v = NULL;
    CHECK(vr_framemd5_load(good, 10, &v, &n, err, sizeof(err)) == -E2BIG && !v && strstr(err, "more than"),
          "max not kept");
    CHECK(vr_framemd5_load("/nonexistent/x.md5", 10, &v, &n, err, sizeof(err)) == -ENOENT && !v,
          "missing file");
    static const struct {
        const char *text;
        int want;
    } bad[] = {
        { "", -ENODATA },
        { "#format: frame checksums\n# only comments\n", -ENODATA },
        { "0, 0, 0, 1, 2, zz\n", -EINVAL },
        { "0, 0, 0, 1, 2\n", -EINVAL },
        { "0, 0, 0, 1, 2, 3, 4\n", -EINVAL },
        { "0, 0, 0, 1, 2, 0123456789ABCDEF0123456789abcdef\n", -EINVAL }, /* upper case */
        { "0, 0, 0, 1, 2, 0123456789abcdef0123456789abcdef0\n", -EINVAL },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *p = write_file("bad.md5", bad[i].text);
        int r = vr_framemd5_load(p, 100, &v, &n, err, sizeof(err));
        CHECK(r == bad[i].want && !v && n == 0 && err[0], "bad list %zu: %d (%s)", i, r, err);
        free(v);
        v = NULL;
    }
    /* A line longer than the reader's buffer. */
    char *lng = malloc(5000);
    if (lng) {
        memset(lng, '1', 4998);
        lng[4998] = '\n';
        lng[4999] = 0;
        const char *p = write_file("long.md5", lng);
        CHECK(vr_framemd5_load(p, 100, &v, &n, NULL, 0) == -EINVAL && !v, "long line");
        free(lng);
    }
    const char *p = write_file("ok.md5", "  0, 0, 7, 1, 2,  0123456789abcdef0123456789abcdef \r\n\n");
    CHECK(vr_framemd5_load(p, 100, &v, &n, err, sizeof(err)) == 0 && n == 1 &&
              !strcmp(v[0].md5, "0123456789abcdef0123456789abcdef") && !strcmp(v[0].pts, "7"),
          "spaces trimmed: %s", err);
    free(v);
}

struct run {
    struct vr_replay *rp;
    const struct vr_framemd5_entry *want;
    uint64_t n_want, frames, equal, messages, marks, stop_after, quit_after;
    double mark_at;
};

static uint64_t clock_cb(void *user)
{
    struct run *r = user;
    return vr_replay_now(r->rp);
}

static void on_frame(void *user, uint32_t stream_id, const AVFrame *frame)
{
    struct run *r = user;
    (void)stream_id;
    char md5[33];
    if (vr_frame_md5(frame, md5) == 0 && r->frames < r->n_want && !strcmp(md5, r->want[r->frames].md5))
        r->equal++;
    r->frames++;
    if (r->quit_after && r->frames == r->quit_after)
        vr_replay_quit(r->rp);
}

static void on_message(void *user, const uint8_t *data, size_t len)
{
    struct run *r = user;
    (void)data;
    (void)len;
    r->messages++;
}

static void on_mark(void *user, uint32_t i)
{
    struct run *r = user;
    (void)i;
    r->marks++;
    r->mark_at = vr_replay_seconds(r->rp);
}

static bool on_stop(void *user)
{
    struct run *r = user;
    return r->stop_after && r->frames >= r->stop_after;
}

/* One replay of rec; 0 or the run's error. */
static int replay(const char *rec, struct run *r, bool with_client)
{
    struct vr_record_reader *rd = NULL;
    struct vr_client *client = NULL;
    int ret = vr_record_reader_open(rec, &rd);
    if (ret < 0)
        return ret;
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE, .software = "test_replay_lib" };
    struct vr_client_callbacks cb = { .frame = on_frame, .clock = clock_cb };
    if (with_client && (ret = vr_client_create(&cfg, &cb, r, &client)) < 0)
        goto out;
    double marks[2] = { 1.0, -1 };
    struct vr_replay_config rc = { .marks = marks, .n_marks = 2, .mark = on_mark, .message = on_message,
                                   .stop = on_stop, .user = r };
    if ((ret = vr_replay_create(rd, client, &rc, &r->rp)) < 0)
        goto out;
    ret = vr_replay_run(r->rp);
out:
    vr_replay_destroy(r->rp);
    r->rp = NULL;
    vr_client_destroy(client);
    vr_record_reader_close(rd);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_replay_lib RECORDING.vrr RECORDING.framemd5 TMPDIR\n");
        return 2;
    }
    av_log_set_level(AV_LOG_ERROR);
    tmpdir = argv[3];
    test_load(argv[2]);

    struct vr_framemd5_entry *want = NULL;
    uint64_t n_want = 0;
    if (vr_framemd5_load(argv[2], 1000000, &want, &n_want, NULL, 0) < 0)
        return 1;

    struct vr_replay *rp = NULL;
    CHECK(vr_replay_create(NULL, NULL, &(struct vr_replay_config){ 0 }, &rp) == -EINVAL && !rp,
          "NULL reader accepted");
    vr_replay_destroy(NULL);
    CHECK(vr_replay_now(NULL) == 0, "NULL replay");

    struct run all = { .want = want, .n_want = n_want };
    CHECK(replay(argv[1], &all, true) == 0, "whole replay");
    CHECK(all.frames == n_want && all.equal == n_want, "%" PRIu64 " frames, %" PRIu64 " equal, want %"
          PRIu64, all.frames, all.equal, n_want);
    CHECK(all.marks == 1 && all.mark_at > 0.999 && all.mark_at < 1.001, "mark: %" PRIu64 " at %.6f",
          all.marks, all.mark_at);
    CHECK(all.messages > n_want, "%" PRIu64 " messages", all.messages);

    struct run msgs = { .want = want, .n_want = n_want };
    CHECK(replay(argv[1], &msgs, false) == 0 && msgs.frames == 0 && msgs.messages == all.messages,
          "messages alone: %" PRIu64 " of %" PRIu64, msgs.messages, all.messages);

    struct run stopped = { .want = want, .n_want = n_want, .stop_after = 10 };
    CHECK(replay(argv[1], &stopped, true) == 0, "stopped replay");
    CHECK(stopped.frames >= 10 && stopped.frames < n_want && stopped.equal == stopped.frames,
          "stop after 10: %" PRIu64 " frames, %" PRIu64 " equal", stopped.frames, stopped.equal);

    struct run quit = { .want = want, .n_want = n_want, .quit_after = 5 };
    CHECK(replay(argv[1], &quit, true) == 0 && quit.frames >= 5 && quit.frames < n_want,
          "quit after 5: %" PRIu64 " frames", quit.frames);
    free(want);
    return CHECK_DONE();
}
