/*
 * videoredir-replay: feeds a session recording (protocol/RECORDING.md)
 * through the client pipeline (vr_client: decoder back ends, scheduler,
 * presenters) without a network. vr_replay drives the client on the
 * recording's clock; this program parses options, wires the outputs
 * (framemd5, --verify, snapshots, present log, SDL window) and the stop
 * signals, and prints the summary; --dump-stream also hands the messages to
 * the stream dump (dump.c), alone without a client.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/log.h>

#include <videoredir/client.h>
#include <videoredir/client-report.h>
#include <videoredir/record.h>
#ifdef VR_HAVE_SDL
#include <videoredir/sdl.h>
#endif

#include "dump.h"

enum exit_code {
    EXIT_OK = 0,
    EXIT_ERROR = 1,    /* cannot open, not a recording, output error */
    EXIT_USAGE = 2,
    EXIT_MISMATCH = 3, /* --verify: a frame differs */
    EXIT_DAMAGED = 4,  /* the recording is truncated or corrupt: replayed up to there */
    EXIT_SIGNAL = 128, /* + the signal: 130 SIGINT, 143 SIGTERM */
};

#define MAX_SNAPSHOTS 32
#define MAX_EXPECTED 1000000u
/* Checker of the stand-in desktop (the SPICE display is not recorded). */
#define DESK_SQUARE 32
#define DESK_DARK 0x305070u
#define DESK_LIGHT 0x406080u

struct snapshot {
    const char *path;
    double at;    /* seconds since the recording's origin; < 0: at the end */
    bool done;
};

struct app {
    /* options */
    const char *file, *framemd5_path, *verify_path, *hwdec_name, *present_path, *dump_path;
    bool has_dump_id;
    uint32_t dump_id;
    bool pace, sdl, verbose, quiet;
    uint32_t desk_w, desk_h;
    struct snapshot snaps[MAX_SNAPSHOTS];
    uint32_t n_snaps, n_snap_times;

    struct vr_record_reader *rd;
    const struct vr_record_info *info;
    struct vr_replay *rp;
    struct vr_client *client; /* NULL: --dump-stream alone, nothing decoded */
    struct vr_dump *dump;
    struct vr_framemd5 *md5;
    FILE *present_log;   /* --present-log */
    struct vr_presenter *headless;
    pixman_image_t *desktop;
#ifdef VR_HAVE_SDL
    struct vr_presenter *window;
#endif

    struct vr_framemd5_entry *exp; /* --verify */
    uint64_t n_exp, n_got;
    int result;          /* EXIT_MISMATCH once a frame differed */

    uint64_t frames, events;
};

static struct app app;

/* The stop signal (SIGINT or SIGTERM) once one came, else 0. The replay
 * never blocks on a descriptor, only sleeps (--pace) in slices that the
 * signal cuts short, so the loops look at this flag: no pipe needed. */
static volatile sig_atomic_t stop_signal;
static struct sigaction sig_default; /* SIG_DFL, made before any signal */

/* Only async-signal-safe calls here. The first stop signal gives both their
 * default action back: a second one while finishing ends the program. */
static void on_signal(int sig)
{
    if (stop_signal)
        return;
    stop_signal = sig;
    sigaction(SIGINT, &sig_default, NULL);
    sigaction(SIGTERM, &sig_default, NULL);
}

static void install_signals(void)
{
    memset(&sig_default, 0, sizeof(sig_default));
    sig_default.sa_handler = SIG_DFL;
    sigemptyset(&sig_default.sa_mask);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* vr_replay asks: a stop signal came. */
static bool stop_cb(void *user)
{
    (void)user;
    return stop_signal != 0;
}

static void logmsg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logmsg(const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "videoredir-replay: %s%s", level, *level ? ": " : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: videoredir-replay [OPTIONS] RECORDING\n"
            "Feeds the guest->client messages of a videoredir session recording through the\n"
            "client (decoders, scheduler, compositor) without a network. The client's clock is\n"
            "driven by the recording's timestamps; its own output is discarded.\n"
            "\n"
            "Options:\n"
            "      --framemd5 FILE      write decoded frames as FFmpeg framemd5 (- for stdout)\n"
            "      --verify FILE        compare every decoded frame with an expected framemd5\n"
            "                           list (e.g. from ffmpeg -f framemd5); exit 3 at the first\n"
            "                           difference, naming the frame\n"
            "      --snapshot PNG       write the composited desktop (videos placed and clipped)\n"
            "                           at the matching --snapshot-at time, or at the end; may\n"
            "                           be repeated (the n-th --snapshot-at goes with the n-th PNG)\n"
            "      --snapshot-at T      seconds since the start of the recording\n"
            "      --present-log FILE   write 'stream pts time_us' per presented frame: the frame\n"
            "                           the scheduler showed, at that recording time (us)\n"
            "      --dump-stream FILE   write the access units of one stream, undecoded, into FILE\n"
            "                           (Matroska, or the container its extension names:\n"
            "                           .h264, .hevc, .ivf, .obu, .webm) for ffmpeg to decode;\n"
            "                           each restart of the stream (a new STREAM_START) goes\n"
            "                           to FILE-2, FILE-3, ... (before the extension). Without\n"
            "                           --framemd5, --verify, --snapshot, --present-log or --sdl\n"
            "                           nothing is decoded\n"
            "      --dump-stream-id N   the stream to dump (default: the first one started)\n"
            "      --desktop-size WxH   size of the stand-in desktop (default 1280x720: a checker\n"
            "                           of 32-pixel squares, #305070 and #406080)\n"
            "      --pace               replay in real time (default: as fast as possible)\n"
#ifdef VR_HAVE_SDL
            "      --sdl                show the desktop and videos in an SDL2 window (paced)\n"
#endif
            "      --hwdec NAME         auto, none, vaapi, vdpau, cuda (default none: bit-exact\n"
            "                           software decode)\n"
            "  -q, --quiet              no summary\n"
            "  -v, --verbose            log the client's details\n"
            "  -h, --help               this text\n"
            "\n"
            "Exit status: 0 done (and every frame matched), 1 cannot read the recording or write\n"
            "an output, 2 bad usage, 3 --verify found a difference, 4 the recording is damaged\n"
            "(truncated or corrupt: replayed up to the damage, which is named), 130 stopped by\n"
            "SIGINT (Ctrl-C), 143 by SIGTERM: the outputs (framemd5, snapshots, present log,\n"
            "stream dump, summary) then hold everything replayed up to that moment; a second\n"
            "signal exits at once.\n");
}

/* ---------------------------------------------------------------------- */
/* Client callbacks.                                                        */

static void client_log(void *user, enum vr_client_log level, const char *msg)
{
    struct app *a = user;
    static const char *const names[] = { "error", "warning", "info", "debug" };
    if (level >= VR_CLOG_INFO && !a->verbose)
        return;
    logmsg(names[level], "%s", msg);
}

static void on_frame(void *user, uint32_t stream_id, const AVFrame *frame)
{
    struct app *a = user;
    struct vr_client_stream_stats st;
    int tb_num = 1, tb_den = 25;
    if (vr_client_find_stream(a->client, stream_id, NULL, &st)) {
        tb_num = (int)st.timebase_num;
        tb_den = (int)st.timebase_den;
    }
    uint64_t index = a->frames++;
    if (a->md5) {
        int ret = vr_framemd5_write(a->md5, frame, tb_num, tb_den);
        if (ret < 0) {
            logmsg("error", "cannot write framemd5: %s", av_err2str(ret));
            vr_framemd5_close(a->md5);
            a->md5 = NULL;
            a->result = EXIT_ERROR;
            vr_replay_quit(a->rp);
        }
    }
    if (!a->exp || a->result == EXIT_MISMATCH)
        return;
    char got[33];
    int ret = vr_frame_md5(frame, got);
    if (ret < 0) {
        logmsg("error", "cannot hash frame %" PRIu64 ": %s", index, av_err2str(ret));
        a->result = EXIT_ERROR;
        vr_replay_quit(a->rp);
        return;
    }
    int64_t pts = frame->pts == AV_NOPTS_VALUE ? frame->best_effort_timestamp : frame->pts;
    char pts_s[24];
    if (pts == AV_NOPTS_VALUE)
        snprintf(pts_s, sizeof(pts_s), "none");
    else
        snprintf(pts_s, sizeof(pts_s), "%" PRId64, (int64_t)pts);
    a->n_got++;
    if (index >= a->n_exp) {
        logmsg("", "MISMATCH: stream %" PRIu32 " frame %" PRIu64 " (pts %s): not expected (the list "
               "has %" PRIu64 " frames); got %s", stream_id, index, pts_s, a->n_exp, got);
    } else if (strcmp(a->exp[index].md5, got) != 0) {
        logmsg("", "MISMATCH: stream %" PRIu32 " frame %" PRIu64 " (pts %s, expected list pts %s): "
               "expected %s, got %s", stream_id, index, pts_s, a->exp[index].pts, a->exp[index].md5, got);
    } else {
        return;
    }
    a->result = EXIT_MISMATCH;
    vr_replay_quit(a->rp);
}

/* sync: bring the picture up to date first (not at a stream's end: that
 * would take the ending stream's last frame away). */
static int write_snapshot(struct app *a, const char *path, bool sync)
{
    int ret = sync ? vr_presenter_sync(a->headless, a->client) : 0;
    if (ret == 0)
        ret = vr_write_png(vr_headless_image(a->headless), path);
    if (ret < 0) {
        logmsg("error", "cannot write snapshot %s: %s", path, av_err2str(ret));
        a->result = a->result ? a->result : EXIT_ERROR;
        return ret;
    }
    if (a->verbose)
        logmsg("info", "snapshot %s at %.3f s", path, vr_replay_seconds(a->rp));
    return 0;
}

static void sync_presenters(struct app *a)
{
    if (a->headless)
        vr_presenter_sync(a->headless, a->client);
#ifdef VR_HAVE_SDL
    if (a->window && vr_presenter_sync(a->window, a->client) < 0)
        logmsg("warning", "sdl: cannot draw: %s", vr_sdl_error());
#endif
}

static void log_present(struct app *a, uint32_t stream_id)
{
    uint32_t i;
    const AVFrame *f;
    if (!vr_client_find_stream(a->client, stream_id, &i, NULL) || !(f = vr_client_stream_frame(a->client, i)))
        return;
    fprintf(a->present_log, "%" PRIu32 " %" PRId64 " %" PRIu64 "\n", stream_id,
            f->pts == AV_NOPTS_VALUE ? INT64_MIN : (int64_t)f->pts,
            vr_replay_now(a->rp) - a->info->origin_us);
}

static void on_event(void *user, enum vr_client_event ev, uint32_t stream_id)
{
    struct app *a = user;
    a->events++;
    if (ev == VR_CLIENT_EV_PRESENT && a->present_log)
        log_present(a, stream_id);
    if (ev == VR_CLIENT_EV_STREAM_END) {
        /* The last picture of the stream, before it goes: the snapshots
         * without a time (written again at each stream's end). */
        for (uint32_t i = 0; i < a->n_snaps; i++)
            if (a->snaps[i].at < 0)
                write_snapshot(a, a->snaps[i].path, false);
    }
    sync_presenters(a);
}

/* The client's clock: the replay's (the origin until it exists). */
static uint64_t clock_cb(void *user)
{
    const struct app *a = user;
    return a->rp ? vr_replay_now(a->rp) : a->info->origin_us;
}

/* ---------------------------------------------------------------------- */
/* vr_replay's callbacks.                                                   */

/* --dump-stream: every guest -> client message, as the client gets it. */
static void message_cb(void *user, const uint8_t *data, size_t len)
{
    struct app *a = user;
    if (!a->dump)
        return;
    int ret = vr_dump_feed(a->dump, data, len);
    if (ret < 0) {
        logmsg("error", "cannot write the stream dump (%s): %s", a->dump_path, av_err2str(ret));
        a->result = EXIT_ERROR;
        vr_replay_quit(a->rp);
    }
}

static void dump_log(void *user, const char *msg)
{
    (void)user;
    logmsg("warning", "%s", msg);
}

/* A --snapshot-at time came. */
static void mark_cb(void *user, uint32_t i)
{
    struct app *a = user;
    a->snaps[i].done = true;
    write_snapshot(a, a->snaps[i].path, true);
}

/* While pacing: the window's events (closing it ends the replay). */
static bool idle_cb(void *user)
{
#ifdef VR_HAVE_SDL
    struct app *a = user;
    if (a->window && !vr_sdl_handle_events(a->window)) {
        logmsg("info", "sdl: window closed");
        return false;
    }
#else
    (void)user;
#endif
    return true;
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---------------------------------------------------------------------- */

static bool parse_size(const char *s, uint32_t *w, uint32_t *h)
{
    unsigned a, b;
    char tail;
    if (sscanf(s, "%ux%u%c", &a, &b, &tail) != 2 || a == 0 || b == 0 || a > 8192 || b > 8192)
        return false;
    *w = a;
    *h = b;
    return true;
}

static int parse_options(int argc, char **argv, struct app *a)
{
    enum { O_FRAMEMD5 = 256, O_PRESENT, O_VERIFY, O_SNAPSHOT, O_SNAPSHOT_AT, O_DESKTOP, O_PACE, O_SDL, O_HWDEC,
           O_DUMP, O_DUMP_ID };
    static const struct option longopts[] = {
        { "framemd5", required_argument, NULL, O_FRAMEMD5 },
        { "verify", required_argument, NULL, O_VERIFY },
        { "present-log", required_argument, NULL, O_PRESENT },
        { "snapshot", required_argument, NULL, O_SNAPSHOT },
        { "snapshot-at", required_argument, NULL, O_SNAPSHOT_AT },
        { "desktop-size", required_argument, NULL, O_DESKTOP },
        { "pace", no_argument, NULL, O_PACE },
        { "sdl", no_argument, NULL, O_SDL },
        { "hwdec", required_argument, NULL, O_HWDEC },
        { "dump-stream", required_argument, NULL, O_DUMP },
        { "dump-stream-id", required_argument, NULL, O_DUMP_ID },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    a->desk_w = 1280;
    a->desk_h = 720;
    for (uint32_t i = 0; i < MAX_SNAPSHOTS; i++)
        a->snaps[i].at = -1;
    int c;
    while ((c = getopt_long(argc, argv, "qvh", longopts, NULL)) != -1) {
        switch (c) {
        case O_FRAMEMD5: a->framemd5_path = optarg; break;
        case O_VERIFY: a->verify_path = optarg; break;
        case O_PRESENT: a->present_path = optarg; break;
        case O_SNAPSHOT:
            if (a->n_snaps == MAX_SNAPSHOTS) {
                logmsg("error", "at most %d snapshots", MAX_SNAPSHOTS);
                return -1;
            }
            a->snaps[a->n_snaps++].path = optarg;
            break;
        case O_SNAPSHOT_AT: {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(v >= 0) || v > 1e6) {
                logmsg("error", "--snapshot-at wants seconds >= 0, not '%s'", optarg);
                return -1;
            }
            if (a->n_snap_times == MAX_SNAPSHOTS) {
                logmsg("error", "at most %d snapshots", MAX_SNAPSHOTS);
                return -1;
            }
            a->snaps[a->n_snap_times++].at = v;
            break;
        }
        case O_DESKTOP:
            if (!parse_size(optarg, &a->desk_w, &a->desk_h)) {
                logmsg("error", "--desktop-size wants WxH (1..8192), not '%s'", optarg);
                return -1;
            }
            break;
        case O_PACE: a->pace = true; break;
        case O_SDL:
#ifdef VR_HAVE_SDL
            a->sdl = a->pace = true;
            break;
#else
            logmsg("error", "built without SDL2: no --sdl");
            return -1;
#endif
        case O_HWDEC: a->hwdec_name = optarg; break;
        case O_DUMP: a->dump_path = optarg; break;
        case O_DUMP_ID: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || v == 0 || v > VR_MAX_STREAM_ID) {
                logmsg("error", "--dump-stream-id wants a stream id 1..%u, not '%s'", VR_MAX_STREAM_ID,
                       optarg);
                return -1;
            }
            a->has_dump_id = true;
            a->dump_id = (uint32_t)v;
            break;
        }
        case 'q': a->quiet = true; break;
        case 'v': a->verbose = true; break;
        case 'h': usage(stdout); exit(EXIT_OK);
        default: usage(stderr); return -1;
        }
    }
    if (a->n_snap_times > a->n_snaps) {
        logmsg("error", "%u --snapshot-at for %u --snapshot", a->n_snap_times, a->n_snaps);
        return -1;
    }
    if (a->has_dump_id && !a->dump_path) {
        logmsg("error", "--dump-stream-id without --dump-stream");
        return -1;
    }
    if (optind != argc - 1) {
        logmsg("error", "%s (see --help)", optind >= argc ? "no RECORDING given" : "only one RECORDING");
        return -1;
    }
    a->file = argv[optind];
    return 0;
}

static void summary(struct app *a, double secs)
{
    if (a->quiet)
        return;
    struct vr_replay_stats rs;
    vr_replay_get_stats(a->rp, &rs);
    if (a->dump) {
        struct vr_dump_stats ds;
        vr_dump_get_stats(a->dump, &ds);
        if (ds.found)
            fprintf(stderr, "videoredir-replay: dumped stream %" PRIu32 ": %" PRIu64 " access units in %"
                    PRIu32 " file%s (%s%s), %" PRIu64 " skipped\n", ds.stream_id, ds.packets, ds.segments,
                    ds.segments == 1 ? "" : "s", a->dump_path, ds.segments > 1 ? ", then -2, ..." : "",
                    ds.skipped);
    }
    if (!a->client) {
        fprintf(stderr, "videoredir-replay: %s: %" PRIu64 " records, %.3f s of recording in %.3f s\n",
                a->file, rs.records, vr_replay_seconds(a->rp), secs);
        return;
    }
    uint64_t presented = 0, dropped = 0, lost = 0, errors = 0;
    for (uint32_t i = 0; i < VR_MAX_STREAMS; i++) {
        struct vr_client_stream_stats st;
        if (vr_client_stream_stats(a->client, i, &st) < 0)
            continue;
        presented += st.frames_presented;
        dropped += st.frames_dropped;
        lost += st.frames_lost;
        errors += st.decode_errors;
    }
    fprintf(stderr,
            "videoredir-replay: %s: %" PRIu64 " records, %" PRIu64 " messages to the client, %"
            PRIu64 " frames decoded (%.1f fps); streams ended %" PRIu32 " (eos %" PRIu32
            "); last streams: presented %" PRIu64 " dropped %" PRIu64 " lost %" PRIu64
            " decode errors %" PRIu64 "; protocol errors %" PRIu64 "; %.3f s of recording in %.3f s\n",
            a->file, rs.records, rs.fed, a->frames, secs > 0 ? (double)a->frames / secs : 0.0,
            vr_client_streams_ended(a->client), vr_client_streams_eos(a->client), presented, dropped,
            lost, errors, vr_client_protocol_errors(a->client),
            vr_replay_seconds(a->rp), secs);
}

int main(int argc, char **argv)
{
    struct app *a = &app;
    if (parse_options(argc, argv, a) < 0)
        return EXIT_USAGE;
    av_log_set_level(a->verbose ? AV_LOG_INFO : AV_LOG_ERROR);
    install_signals();
    enum vr_hwdec hwdec = VR_HWDEC_NONE;
    if (a->hwdec_name && vr_hwdec_from_name(a->hwdec_name, &hwdec) < 0) {
        logmsg("error", "unknown --hwdec %s", a->hwdec_name);
        return EXIT_USAGE;
    }
    if (a->verify_path) {
        char err[512];
        if (vr_framemd5_load(a->verify_path, MAX_EXPECTED, &a->exp, &a->n_exp, err, sizeof(err)) < 0) {
            logmsg("error", "%s", err);
            return EXIT_ERROR;
        }
    }

    int ret = vr_record_reader_open(a->file, &a->rd);
    if (ret < 0) {
        logmsg("error", "%s: %s", a->file, vr_record_reader_error(NULL));
        free(a->exp);
        return EXIT_ERROR;
    }
    a->info = vr_record_reader_info(a->rd);
    int code = EXIT_ERROR;
    if (a->framemd5_path && (ret = vr_framemd5_open(a->framemd5_path, &a->md5)) < 0) {
        logmsg("error", "cannot open %s: %s", a->framemd5_path, strerror(-ret));
        goto out;
    }
    if (a->present_path && !(a->present_log = fopen(a->present_path, "w"))) {
        logmsg("error", "cannot open %s: %s", a->present_path, strerror(errno));
        goto out;
    }
    /* Line by line: whoever follows the file (tail -f, a test pacing its
     * screenshots with --sdl) sees each frame as it is shown. */
    if (a->present_log)
        setvbuf(a->present_log, NULL, _IOLBF, 0);
    if (a->dump_path) {
        struct vr_dump_config dc = { .path = a->dump_path, .has_stream_id = a->has_dump_id,
                                     .stream_id = a->dump_id, .log = dump_log, .user = a };
        if (vr_dump_create(&dc, &a->dump) < 0) {
            logmsg("error", "out of memory");
            goto out;
        }
    }
    /* Dumping alone needs no decoding. */
    bool decode = !a->dump_path || a->framemd5_path || a->verify_path || a->present_path ||
                  a->n_snaps || a->sdl;
    struct vr_client_config cfg = { .hwdec = hwdec, .software = "videoredir-replay" };
    struct vr_client_callbacks cb = { .log = client_log, .event = on_event, .frame = on_frame,
                                      .clock = clock_cb };
    if (decode && vr_client_create(&cfg, &cb, a, &a->client) < 0) {
        logmsg("error", "out of memory");
        goto out;
    }
    if (a->n_snaps || a->sdl) {
        a->desktop = vr_checker_desktop(a->desk_w, a->desk_h, DESK_SQUARE, DESK_DARK, DESK_LIGHT);
        if (!a->desktop) {
            logmsg("error", "out of memory");
            goto out;
        }
    }
    if (a->n_snaps) {
        if (vr_headless_create(a->desk_w, a->desk_h, a->desktop, &a->headless) < 0) {
            logmsg("error", "cannot make the compositor");
            goto out;
        }
        struct vr_viewport vp = { { 0, 0, a->desk_w, a->desk_h }, { 0, 0, a->desk_w, a->desk_h } };
        vr_presenter_set_viewport(a->headless, &vp);
    }
#ifdef VR_HAVE_SDL
    if (a->sdl) {
        /* SDL's renderer, as before the GL presenter: replays are compared
         * with screenshots of it (tests/replay). */
        struct vr_sdl_config sc = { .title = "videoredir-replay", .keep_aspect = true,
                                    .desktop = { 0, 0, a->desk_w, a->desk_h }, .x = -1, .y = -1,
                                    .present = VR_SDL_PRESENT_RENDERER };
        if (vr_sdl_create(&sc, &a->window) < 0) {
            logmsg("error", "cannot open an SDL window: %s", vr_sdl_error());
            goto out;
        }
        vr_sdl_set_background(a->window, a->desktop);
    }
#endif

    double marks[MAX_SNAPSHOTS];
    for (uint32_t i = 0; i < a->n_snaps; i++)
        marks[i] = a->snaps[i].at;
    struct vr_replay_config rc = { .pace = a->pace, .marks = marks, .n_marks = a->n_snaps,
                                   .mark = mark_cb, .message = message_cb, .idle = idle_cb,
                                   .stop = stop_cb, .log = client_log, .user = a };
    if (vr_replay_create(a->rd, a->client, &rc, &a->rp) < 0) {
        logmsg("error", "out of memory");
        goto out;
    }
    uint64_t w0 = wall_us();
    ret = vr_replay_run(a->rp);
    double secs = (double)(wall_us() - w0) / 1e6;
    int sig = stop_signal;
    if (sig)
        logmsg("info", "%s at %.3f s of the recording: finishing the outputs (a second signal "
               "exits at once)", sig == SIGINT ? "SIGINT" : "SIGTERM",
               vr_replay_seconds(a->rp));
    /* Pictures asked for beyond the end (or the stop): the last one. */
    for (uint32_t i = 0; i < a->n_snaps && a->result != EXIT_MISMATCH; i++) {
        if (a->snaps[i].done)
            continue;
        if (a->snaps[i].at >= 0)
            logmsg("warning", "snapshot at %.3f s is after the %s (%.3f s): it shows the last "
                   "picture", a->snaps[i].at, sig ? "stop" : "end of the recording",
                   vr_replay_seconds(a->rp));
        if (a->snaps[i].at >= 0 || vr_client_streams_active(a->client) > 0 ||
            !vr_client_streams_ended(a->client))
            write_snapshot(a, a->snaps[i].path, true);
    }
    code = a->result ? a->result : sig ? EXIT_SIGNAL + sig : EXIT_OK;
    if (ret < 0) {
        logmsg("error", "%s: damaged recording: %s; replayed the %" PRIu64 " records before it",
               a->file, vr_record_reader_error(a->rd), vr_record_reader_count(a->rd));
        if (code == EXIT_OK)
            code = EXIT_DAMAGED;
    }
    if (a->exp && sig && !a->result && !a->quiet) {
        logmsg("", "verify: the %" PRIu64 " frames decoded before the stop equal the first of %s",
               a->n_got, a->verify_path);
    } else if (a->exp && code == EXIT_OK && a->n_got < a->n_exp) {
        logmsg("", "MISMATCH: expected %" PRIu64 " frames, got %" PRIu64 "; first missing: frame %"
               PRIu64 " (expected list pts %s, md5 %s)", a->n_exp, a->n_got, a->n_got,
               a->exp[a->n_got].pts, a->exp[a->n_got].md5);
        code = EXIT_MISMATCH;
    } else if (a->exp && code == EXIT_OK && !a->quiet) {
        logmsg("", "verify: all %" PRIu64 " frames equal to %s", a->n_got, a->verify_path);
    }
    if (a->dump) {
        struct vr_dump_stats ds;
        vr_dump_get_stats(a->dump, &ds);
        if (!ds.found && a->result != EXIT_ERROR) {
            if (a->has_dump_id)
                logmsg("error", "--dump-stream: no stream %" PRIu32 " started in %s", a->dump_id, a->file);
            else
                logmsg("error", "--dump-stream: no stream started in %s", a->file);
            if (code == EXIT_OK)
                code = EXIT_ERROR;
        }
    }
    summary(a, secs);
out:
    /* The dump up to here (a damaged recording: up to the damage) is finished. */
    if (a->dump && (ret = vr_dump_close(a->dump)) < 0 && a->result != EXIT_ERROR) {
        logmsg("error", "cannot write the stream dump (%s): %s", a->dump_path, av_err2str(ret));
        if (code == EXIT_OK || code == EXIT_DAMAGED)
            code = EXIT_ERROR;
    }
    if (a->md5) {
        ret = vr_framemd5_close(a->md5);
        if (ret < 0 && code == EXIT_OK) {
            logmsg("error", "cannot finish %s: %s", a->framemd5_path, av_err2str(ret));
            code = EXIT_ERROR;
        }
    }
    if (a->present_log && fclose(a->present_log) != 0 && code == EXIT_OK) {
        logmsg("error", "cannot write %s", a->present_path);
        code = EXIT_ERROR;
    }
#ifdef VR_HAVE_SDL
    vr_presenter_destroy(a->window);
#endif
    vr_presenter_destroy(a->headless);
    if (a->desktop)
        pixman_image_unref(a->desktop);
    vr_replay_destroy(a->rp);
    vr_client_destroy(a->client);
    vr_record_reader_close(a->rd);
    free(a->exp);
    return code;
}
