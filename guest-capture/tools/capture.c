/*
 * videoredir-capture: sends a media file's video, undecoded, to the SPICE
 * client over the videoredir port. Options, signals and the summary around
 * the guest library: vr_source (the demuxer), vr_guest (the session state
 * machine) and vr_sender (pacing, passes, timed changes, the device loop).
 * Also builds videoredir-capture.exe for Windows (guest-capture/win32): the
 * demuxer is then Media Foundation's or the elementary-stream one, not
 * libavformat (VR_CAPTURE_LIBAV), and the channel win32port.c's.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#endif

#ifdef VR_CAPTURE_LIBAV
#include <libavutil/log.h>
#endif

#include <videoredir/capture.h>
#include <videoredir/protocol.h>
#include <videoredir/record.h>
#include <videoredir/transport.h>

#ifndef VR_VERSION_STRING
#define VR_VERSION_STRING "0.1"
#endif

#define DEFAULT_DEVICE VR_DEFAULT_DEVICE
#ifdef VR_CAPTURE_LIBAV
#define FORMATS "MP4, Matroska/WebM, MPEG-TS, raw H.264/HEVC,\nIVF"
#define DEVICE_HELP "port device or host stand-in socket"
#else
/* Windows: Media Foundation's sources, and the elementary-stream demuxer. */
#define FORMATS "what Media Foundation demuxes, e.g. MP4;\nraw H.264/HEVC, IVF"
#define DEVICE_HELP "port device, or tcp:HOST:PORT of the host stand-in"
#endif

enum exit_code {
    EXIT_OK = 0,
    EXIT_INPUT = 1,    /* usage, file missing or unsupported */
    EXIT_DEVICE = 2,   /* device cannot be opened or failed */
    EXIT_REJECTED = 3, /* client rejected, no answer, or no common version */
    EXIT_NO_CLIENT = 4,
    EXIT_SIGNAL = 128, /* + the signal: 130 SIGINT, 143 SIGTERM */
};

struct options {
    const char *device;
    const char *file;
    enum vr_sender_pace pace;
    bool have_window, have_content;
    struct vr_rect window, content;
    bool have_region;
    struct vr_region *region;
    uint32_t monitor;
    long loops; /* extra passes; -1 forever */
    uint32_t stream_id;
    double connect_timeout;
    bool verbose;
    bool have_device;
    const char *record;        /* --record FILE */
    uint32_t marker;           /* --marker CODE: placement from the picture */
    struct vr_change changes[VR_SENDER_MAX_CHANGES];
    struct vr_region *change_regions[VR_SENDER_MAX_CHANGES]; /* owned */
    uint32_t n_changes;
};

struct app {
    struct options o;
    struct vr_source *src;
    struct vr_guest *guest;
    struct vr_sender *sender;
    struct vr_record_writer *rec; /* --record */
    /* --record without --device: nobody is waiting for the frames, so time
     * is virtual: it jumps to when the next thing is due instead of
     * sleeping. The recording then has the timing of a real-time session,
     * made at once, and is the same bytes on every run. */
    bool virtual_clock;
};

/* The stop signal (SIGINT or SIGTERM) once one came, else 0.
 * Linux: the handler also writes a byte into sig_pipe, which the sender
 * polls with the device: it wakes at once whenever the signal lands (a flag
 * alone could be set just before poll sleeps).
 * Windows: no pipe to poll with the port's overlapped I/O; the sender gets
 * this flag as its stop_flag and looks at it at least every 50 ms. */
static volatile sig_atomic_t interrupted;
static int sig_pipe[2] = { -1, -1 };
#ifndef _WIN32
static struct sigaction sig_default; /* SIG_DFL, made before any signal */
#endif

/* The clock of the guest and the recording: the sender's (virtual or not). */
static uint64_t clock_cb(void *user)
{
    const struct app *a = user;
    if (a->sender)
        return vr_sender_now(a->sender);
    return a->virtual_clock ? 1000000u : vr_time_us(); /* before the sender: its start */
}

#ifdef _WIN32
/* The C runtime calls this for Ctrl+C (SIGINT) on the console's control
 * thread (a plain thread: any call is fine), or for raise(SIGTERM). The
 * first gives both signals their default action back, so a second Ctrl+C
 * while finishing ends the program at once. Microsoft's runtime resets the
 * one signal itself before the call, Wine's msvcrt does not: done here. */
static void on_signal(int sig)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (!interrupted)
        interrupted = sig;
}

static void install_signals(void)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
}
#else
/* Only async-signal-safe calls here. The first stop signal gives both their
 * default action back: a second one while finishing ends the program. */
static void on_signal(int sig)
{
    int saved = errno;
    if (!interrupted) {
        interrupted = sig;
        sigaction(SIGINT, &sig_default, NULL);
        sigaction(SIGTERM, &sig_default, NULL);
        if (sig_pipe[1] >= 0) {
            char c = 1;
            if (write(sig_pipe[1], &c, 1) < 0) {
                /* full or closed: the byte already there says it */
            }
        }
    }
    errno = saved;
}

static void install_signals(void)
{
    if (pipe(sig_pipe) == 0) {
        for (int i = 0; i < 2; i++) {
            fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
            fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
        }
    } else {
        sig_pipe[0] = sig_pipe[1] = -1; /* then a signal only ends the program */
    }
    memset(&sig_default, 0, sizeof(sig_default));
    sig_default.sa_handler = SIG_DFL;
    sigemptyset(&sig_default.sa_mask);
    if (sig_pipe[0] < 0)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT); /* one handler at a time */
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: videoredir-capture [OPTIONS] FILE\n"
            "Sends the first video stream of FILE (" FORMATS "; codecs H.264, HEVC, VP8, VP9, AV1),\n"
            "undecoded, to the SPICE client through the videoredir port, with the window\n"
            "geometry where the client should draw it.\n"
            "\n"
            "Options:\n"
            "  -d, --device PATH        " DEVICE_HELP "\n"
            "                           (default " DEFAULT_DEVICE ")\n"
            "  -p, --pace MODE          realtime (default): send each frame when its time has come;\n"
            "                           none: as fast as flow control allows\n"
            "  -w, --window X,Y,W,H     window rectangle in guest desktop coordinates\n"
            "                           (default 100,100,<video width>,<video height>)\n"
            "  -c, --content X,Y,W,H    where the video is drawn (default: the window)\n"
            "  -r, --region LIST        visible region \"X,Y,W,H;X,Y,W,H;...\" (\"\" = hidden;\n"
            "                           default: the whole content rectangle)\n"
            "  -m, --monitor N          guest monitor index (default 0)\n"
            "  -l, --loop N             play the file N more times (-1: forever)\n"
            "  -s, --stream-id N        stream id (default 1)\n"
            "  -t, --connect-timeout S  seconds to wait for a client (default 30)\n"
            "      --record FILE        record the session (protocol/RECORDING.md); without\n"
            "                           --device no client is needed: a stand-in accepts the\n"
            "                           stream and time is virtual (made at once, real-time\n"
            "                           timestamps with --pace realtime)\n"
            "      --geometry-at T:X,Y,W,H  at T seconds of play time, move/resize the window\n"
            "                           (content = window); may be repeated\n"
            "      --region-at T:LIST   at T seconds, send visible region LIST (as --region;\n"
            "                           \"all\" = whole content visible again); may be repeated\n"
            "      --flush-at T         at T seconds, seek: FLUSH, then the file again from its\n"
            "                           start (keyframe with DISCONT)\n"
            "      --restart-at T       at T seconds, stop the stream (user) and start it again\n"
            "                           from the file's start\n"
            "      --marker CODE        the player shows a placeholder with the placement marker\n"
            "                           of CODE (1..63, PROTOCOL.md section 10): the client\n"
            "                           takes the video's place and visible region from the\n"
            "                           picture; --window etc. are used until it is found\n"
            "  -v, --verbose            log protocol details\n"
            "  -h, --help               this text\n"
            "      --version            print the version\n"
            "\n"
            "Exit status: 0 done, 1 bad input file or usage, 2 device error, 3 client rejected\n"
            "the stream (or did not answer), 4 no client within the timeout, 130 stopped by\n"
            "SIGINT (Ctrl-C), 143 by SIGTERM. On a stop signal the stream is stopped, what was\n"
            "queued is delivered (up to 1 s), the --record file and the summary hold every\n"
            "frame sent; a second signal exits at once.\n");
}

static bool parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
        return false;
    *out = (uint32_t)v;
    return true;
}

/* "X,Y,W,H" -> rect; w,h must be > 0. end receives where parsing stopped. */

static int parse_change(int opt, const char *arg, struct options *o)
{
    static const char *const names[] = { "--geometry-at", "--region-at", "--flush-at", "--restart-at" };
    enum vr_change_kind kind = opt == 'G' ? VR_CHANGE_GEOMETRY : opt == 'E' ? VR_CHANGE_REGION
                             : opt == 'F' ? VR_CHANGE_FLUSH : VR_CHANGE_RESTART;
    if (o->n_changes >= VR_SENDER_MAX_CHANGES) {
        fprintf(stderr, "videoredir-capture: at most %d timed changes\n", VR_SENDER_MAX_CHANGES);
        return -1;
    }
    uint32_t i = o->n_changes;
    if (vr_change_parse(kind, arg, &o->changes[i], &o->change_regions[i]) < 0) {
        fprintf(stderr, "videoredir-capture: %s wants %s, not '%s'\n", names[kind],
                kind == VR_CHANGE_GEOMETRY ? "SECONDS:X,Y,W,H"
                : kind == VR_CHANGE_REGION ? "SECONDS:X,Y,W,H;... (or SECONDS:all)" : "SECONDS", arg);
        return -1;
    }
    o->n_changes++;
    return 0;
}

static void on_log(void *user, enum vr_log_level level, const char *msg)
{
    const struct app *a = user;
    static const char *const names[] = { "error", "warning", "info", "debug" };
    if (level == VR_LOG_DEBUG && !a->o.verbose)
        return;
    fprintf(stderr, "videoredir-capture: %s: %s\n", names[level], msg);
}

static void on_event(void *user, enum vr_guest_event ev, const char *detail)
{
    struct app *a = user;
    vr_sender_guest_event(a->sender, ev);
    (void)detail;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        { "device", required_argument, NULL, 'd' },
        { "pace", required_argument, NULL, 'p' },
        { "window", required_argument, NULL, 'w' },
        { "content", required_argument, NULL, 'c' },
        { "region", required_argument, NULL, 'r' },
        { "monitor", required_argument, NULL, 'm' },
        { "loop", required_argument, NULL, 'l' },
        { "stream-id", required_argument, NULL, 's' },
        { "connect-timeout", required_argument, NULL, 't' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "record", required_argument, NULL, 'R' },
        { "geometry-at", required_argument, NULL, 'G' },
        { "region-at", required_argument, NULL, 'E' },
        { "flush-at", required_argument, NULL, 'F' },
        { "restart-at", required_argument, NULL, 'S' },
        { "marker", required_argument, NULL, 'M' },
        { NULL, 0, NULL, 0 },
    };
    o->device = DEFAULT_DEVICE;
    o->pace = VR_SENDER_PACE_REALTIME;
    o->connect_timeout = 30;
    o->stream_id = 1;
    int c;
    while ((c = getopt_long(argc, argv, "d:p:w:c:r:m:l:s:t:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->device = optarg;
            o->have_device = true;
            break;
        case 'R':
            o->record = optarg;
            break;
        case 'M':
            if (!parse_u32(optarg, &o->marker) || o->marker < 1 || o->marker > 63) {
                fprintf(stderr, "videoredir-capture: --marker wants a code 1..63, not '%s'\n", optarg);
                return -1;
            }
            break;
        case 'G':
        case 'E':
        case 'F':
        case 'S':
            if (parse_change(c, optarg, o) < 0)
                return -1;
            break;
        case 'p':
            if (!strcmp(optarg, "realtime"))
                o->pace = VR_SENDER_PACE_REALTIME;
            else if (!strcmp(optarg, "none"))
                o->pace = VR_SENDER_PACE_NONE;
            else {
                fprintf(stderr, "videoredir-capture: --pace must be realtime or none, not '%s'\n", optarg);
                return -1;
            }
            break;
        case 'w':
            if (vr_rect_parse(optarg, &o->window) < 0) {
                fprintf(stderr, "videoredir-capture: --window wants X,Y,W,H (W,H > 0), not '%s'\n", optarg);
                return -1;
            }
            o->have_window = true;
            break;
        case 'c':
            if (vr_rect_parse(optarg, &o->content) < 0) {
                fprintf(stderr, "videoredir-capture: --content wants X,Y,W,H (W,H > 0), not '%s'\n", optarg);
                return -1;
            }
            o->have_content = true;
            break;
        case 'r':
            if (vr_region_parse(optarg, o->region) < 0) {
                fprintf(stderr,
                        "videoredir-capture: --region wants \"X,Y,W,H;...\" (at most %u rectangles), not '%s'\n",
                        VR_MAX_RECTS, optarg);
                return -1;
            }
            o->have_region = true;
            break;
        case 'm':
            if (!parse_u32(optarg, &o->monitor)) {
                fprintf(stderr, "videoredir-capture: bad --monitor '%s'\n", optarg);
                return -1;
            }
            break;
        case 'l': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < -1) {
                fprintf(stderr, "videoredir-capture: --loop wants a count >= 0 or -1, not '%s'\n", optarg);
                return -1;
            }
            o->loops = v;
            break;
        }
        case 's':
            if (!parse_u32(optarg, &o->stream_id) || o->stream_id == 0 || o->stream_id > VR_MAX_STREAM_ID) {
                fprintf(stderr, "videoredir-capture: --stream-id must be 1..%u\n", VR_MAX_STREAM_ID);
                return -1;
            }
            break;
        case 't': {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(v > 0) || v > 86400.0) {
                fprintf(stderr, "videoredir-capture: --connect-timeout wants seconds > 0, not '%s'\n", optarg);
                return -1;
            }
            o->connect_timeout = v;
            break;
        }
        case 'v':
            o->verbose = true;
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_OK);
        case 'V':
            printf("videoredir-capture %s\n", VR_VERSION_STRING);
            exit(EXIT_OK);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "videoredir-capture: %s\n", optind >= argc ? "no FILE given" : "only one FILE, please");
        usage(stderr);
        return -1;
    }
    o->file = argv[optind];
    return 0;
}

static void print_summary(struct app *a)
{
    struct vr_guest_stats gs;
    struct vr_conn_stats cs;
    vr_guest_get_stats(a->guest, &gs);
    vr_conn_get_stats(vr_guest_conn(a->guest), &cs);
    double secs = (double)vr_sender_elapsed_us(a->sender) / 1e6;
    double overhead = gs.es_bytes ? 100.0 * ((double)cs.bytes_out - (double)gs.es_bytes) / (double)gs.es_bytes : 0;
    printf("videoredir-capture: %" PRIu64 " frames, %" PRIu64 " bytes sent, %" PRIu64
           " elementary stream bytes, overhead %.2f%%, %.2f s\n",
           gs.frames_sent, cs.bytes_out, gs.es_bytes, overhead, secs);
    fflush(stdout);
}

static int exit_code(enum vr_sender_result r)
{
    switch (r) {
    case VR_SENDER_DONE: return EXIT_OK;
    case VR_SENDER_STOPPED: return EXIT_SIGNAL + (interrupted ? interrupted : SIGTERM);
    case VR_SENDER_ERR_INPUT: return EXIT_INPUT;
    case VR_SENDER_ERR_DEVICE: return EXIT_DEVICE;
    case VR_SENDER_ERR_REJECTED: return EXIT_REJECTED;
    case VR_SENDER_ERR_NO_CLIENT: return EXIT_NO_CLIENT;
    }
    return EXIT_DEVICE;
}

static void free_options(struct options *o)
{
    for (uint32_t i = 0; i < o->n_changes; i++)
        free(o->change_regions[i]);
}

int main(int argc, char **argv)
{
    static struct app app; /* large (holds the changes): keep it off the stack */
    struct app *a = &app;
    static struct vr_region region;
    a->o.region = &region;

    if (parse_options(argc, argv, &a->o) < 0) {
        free_options(&a->o);
        return EXIT_INPUT;
    }

#ifdef VR_CAPTURE_LIBAV
    /* libav prints to stderr by default; keep it to errors unless asked. */
    av_log_set_level(a->o.verbose ? AV_LOG_INFO : AV_LOG_ERROR);
#endif
#ifndef _WIN32
    signal(SIGPIPE, SIG_IGN); /* Windows has none */
#endif
    install_signals();

    char err[512];
    int ret = vr_source_open(a->o.file, &a->src, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "videoredir-capture: %s\n", err);
        free_options(&a->o);
        return EXIT_INPUT;
    }
    /* --marker: the player shows a marked placeholder (PROTOCOL.md 10) */
    uint16_t marked = a->o.marker ? (uint16_t)(VR_STREAM_MARKED | (a->o.marker << VR_STREAM_MARKER_SHIFT)) : 0;
    struct vr_stream_start start = *vr_source_stream_start(a->src);
    start.flags |= marked;
    const struct vr_stream_start *ss = &start;
    if (a->o.verbose)
        fprintf(stderr, "videoredir-capture: %s: %s, %s %ux%u, time base %u/%u, %u/%u fps, %u bytes extradata%s\n",
                a->o.file, vr_source_container(a->src), vr_codec_name(ss->codec), ss->width, ss->height,
                ss->timebase_num, ss->timebase_den, ss->fps_num, ss->fps_den, ss->extradata_len,
                (ss->flags & VR_STREAM_ANNEXB) ? ", Annex B" : "");

    struct vr_geometry geom;
    memset(&geom, 0, sizeof(geom));
    geom.monitor = a->o.monitor;
    if (a->o.have_window)
        geom.window = a->o.window;
    else
        geom.window = (struct vr_rect){ 100, 100, ss->width, ss->height };
    geom.content = a->o.have_content ? a->o.content : geom.window;
    const struct vr_region *reg = a->o.have_region ? a->o.region : NULL;

    struct vr_guest_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.stream_id = a->o.stream_id;
    struct vr_guest_callbacks cb = { .log = on_log, .event = on_event, .clock = clock_cb };
    a->virtual_clock = a->o.record && !a->o.have_device;
    int code = EXIT_INPUT;
    ret = vr_guest_create(&cfg, &cb, a, &a->guest);
    if (ret == 0)
        ret = vr_guest_set_stream(a->guest, ss, &geom, reg);
    if (ret < 0) {
        fprintf(stderr, "videoredir-capture: cannot set up the stream: %s\n", strerror(-ret));
        goto out;
    }
    if (a->o.record) {
        ret = vr_record_writer_open(a->o.record, VR_RECORD_SIDE_GUEST, clock_cb, a, &a->rec);
        if (ret < 0) {
            fprintf(stderr, "videoredir-capture: cannot create %s: %s\n", a->o.record, strerror(-ret));
            code = EXIT_DEVICE;
            goto out;
        }
        vr_conn_set_tap(vr_guest_conn(a->guest), vr_record_tap, a->rec);
    }
    struct vr_sender_config sc = { .pace = a->o.pace, .loops = a->o.loops, .geometry = geom,
                                   .region = reg, .changes = a->o.changes,
                                   .n_changes = a->o.n_changes, .stream_flags = marked,
                                   .virtual_clock = a->virtual_clock,
                                   .record = a->rec, .log = on_log, .user = a };
#ifdef _WIN32
    sc.stop_flag = &interrupted; /* sig_pipe stays -1 there */
#endif
    ret = vr_sender_create(a->src, a->guest, &sc, &a->sender);
    if (ret < 0) {
        fprintf(stderr, "videoredir-capture: cannot set up the stream: %s\n", strerror(-ret));
        goto out;
    }

    enum vr_sender_result r = a->virtual_clock ? vr_sender_run_offline(a->sender, sig_pipe[0])
                              : vr_sender_run_device(a->sender, a->o.device, a->o.connect_timeout,
                                                     sig_pipe[0]);
    code = exit_code(r);
    if (r == VR_SENDER_STOPPED)
        fprintf(stderr, "videoredir-capture: stopped by %s\n", interrupted == SIGINT ? "SIGINT" : "SIGTERM");
    /* The summary whenever something was sent (also when the device or the
     * client failed mid-stream), and always at a normal or signalled end. */
    struct vr_guest_stats gs;
    vr_guest_get_stats(a->guest, &gs);
    if (code == EXIT_OK || code > EXIT_SIGNAL || gs.frames_sent > 0)
        print_summary(a);
    vr_sender_destroy(a->sender); /* closes the device */
    a->sender = NULL;
    if (a->rec) {
        vr_conn_set_tap(vr_guest_conn(a->guest), NULL, NULL);
        uint64_t n = vr_record_writer_count(a->rec);
        ret = vr_record_writer_close(a->rec);
        a->rec = NULL;
        if (ret < 0) {
            fprintf(stderr, "videoredir-capture: cannot write %s: %s\n", a->o.record, strerror(-ret));
            if (code == EXIT_OK)
                code = EXIT_DEVICE;
        } else if (a->o.verbose) {
            fprintf(stderr, "videoredir-capture: %" PRIu64 " records written to %s\n", n, a->o.record);
        }
    }
out:
    if (a->rec) {
        vr_conn_set_tap(vr_guest_conn(a->guest), NULL, NULL);
        vr_record_writer_close(a->rec);
    }
    vr_sender_destroy(a->sender);
    free_options(&a->o);
    vr_guest_destroy(a->guest);
    vr_source_close(a->src);
    return code;
}
