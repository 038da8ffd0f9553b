/*
 * videoredir-capture: sends a media file's video, undecoded, to the SPICE
 * client over the videoredir port. A thin loop around vr_source (the
 * demuxer), vr_guest (the session state machine) and the channel adapter
 * (vr_fd_*: poll() on Linux, overlapped I/O on Windows, where this file
 * builds videoredir-capture.exe).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#define REOPEN_US 500000u
#define DRAIN_TIMEOUT_US 3000000u
#define STOP_DRAIN_US 1000000u

enum exit_code {
    EXIT_OK = 0,
    EXIT_INPUT = 1,    /* usage, file missing or unsupported */
    EXIT_DEVICE = 2,   /* device cannot be opened or failed */
    EXIT_REJECTED = 3, /* client rejected, no answer, or no common version */
    EXIT_NO_CLIENT = 4,
    EXIT_INTERRUPTED = 130,
};

enum pace { PACE_REALTIME, PACE_NONE };

/* A change at a time of the stream (--geometry-at, --region-at, --flush-at,
 * --restart-at): applied before the first frame at or after at_us of play
 * time (microseconds since the first frame, counting on over restarts). */
enum change_kind { CHANGE_GEOMETRY, CHANGE_REGION, CHANGE_FLUSH, CHANGE_RESTART };
#define MAX_CHANGES 64

struct change {
    enum change_kind kind;
    uint64_t at_us;
    struct vr_rect rect;       /* GEOMETRY: the new window (and content) */
    struct vr_region *region;  /* REGION: owned; NULL = all visible again */
    bool done;
};

struct options {
    const char *device;
    const char *file;
    enum pace pace;
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
    struct change changes[MAX_CHANGES];
    uint32_t n_changes;
};

struct app {
    struct options o;
    struct vr_source *src;
    struct vr_guest *guest;
    int fd;
    uint64_t next_open_us;
    uint64_t wait_since_us; /* since when we have been without a client */
    bool waiting;           /* no established session right now */

    struct vr_au au;
    bool have_au, eof;
    long loops_done;
    uint64_t au_index;

    bool pace_set;          /* pace_start/pace_t0 valid */
    uint64_t pace_start_us;
    double pace_t0_us;

    bool stop_sent;
    uint64_t stop_us;
    uint64_t start_us;

    struct vr_record_writer *rec; /* --record */
    struct vr_geometry geom;      /* as announced now (kept over restarts) */
    const struct vr_region *cur_region; /* NULL: all visible */
    bool have_t_first, discont;
    double t_first_us;            /* time of the first frame sent */
};

static volatile sig_atomic_t interrupted;

/* --record without --device: nobody is waiting for the frames, so time is
 * virtual: it jumps to when the next thing is due instead of sleeping. The
 * recording then has the timing of a real-time session, made at once, and
 * is the same bytes on every run. */
static bool virtual_clock;
static uint64_t vclock_us = 1000000;

static uint64_t now_us(void)
{
    return virtual_clock ? vclock_us : vr_time_us();
}

static uint64_t clock_cb(void *user)
{
    (void)user;
    return now_us();
}

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

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
            "  -v, --verbose            log protocol details\n"
            "  -h, --help               this text\n"
            "      --version            print the version\n"
            "\n"
            "Exit status: 0 done, 1 bad input file or usage, 2 device error, 3 client rejected\n"
            "the stream (or did not answer), 4 no client within the timeout, 130 interrupted.\n");
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
static bool parse_rect_at(const char *s, struct vr_rect *r, const char **end)
{
    long v[4];
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        char *e;
        errno = 0;
        v[i] = strtol(p, &e, 10);
        if (errno || e == p)
            return false;
        p = e;
        if (i < 3) {
            if (*p != ',')
                return false;
            p++;
        }
    }
    if (v[0] < -VR_MAX_COORD || v[0] > VR_MAX_COORD || v[1] < -VR_MAX_COORD || v[1] > VR_MAX_COORD ||
        v[2] <= 0 || v[2] > (long)VR_MAX_DIMENSION || v[3] <= 0 || v[3] > (long)VR_MAX_DIMENSION)
        return false;
    r->x = (int32_t)v[0];
    r->y = (int32_t)v[1];
    r->w = (uint32_t)v[2];
    r->h = (uint32_t)v[3];
    *end = p;
    return true;
}

static bool parse_rect(const char *s, struct vr_rect *r)
{
    const char *end;
    return parse_rect_at(s, r, &end) && *end == '\0';
}

static bool parse_region(const char *s, struct vr_region *reg)
{
    reg->n_rects = 0;
    const char *p = s;
    while (*p) {
        if (reg->n_rects >= VR_MAX_RECTS)
            return false;
        const char *end;
        if (!parse_rect_at(p, &reg->rects[reg->n_rects], &end))
            return false;
        reg->n_rects++;
        if (*end == ';')
            end++;
        else if (*end)
            return false;
        p = end;
    }
    return true;
}

/* "T" or "T:REST": T seconds (>= 0) of play time; *rest after the colon. */
static bool parse_time(const char *s, uint64_t *at_us, const char **rest, bool want_rest)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0) || v > 86400.0)
        return false;
    if (want_rest ? *end != ':' : *end != '\0')
        return false;
    *at_us = (uint64_t)(v * 1e6 + 0.5);
    *rest = want_rest ? end + 1 : end;
    return true;
}

static int parse_change(int opt, const char *arg, struct options *o)
{
    static const char *const names[] = { "--geometry-at", "--region-at", "--flush-at", "--restart-at" };
    enum change_kind kind = opt == 'G' ? CHANGE_GEOMETRY : opt == 'E' ? CHANGE_REGION
                          : opt == 'F' ? CHANGE_FLUSH : CHANGE_RESTART;
    if (o->n_changes >= MAX_CHANGES) {
        fprintf(stderr, "videoredir-capture: at most %d timed changes\n", MAX_CHANGES);
        return -1;
    }
    struct change *ch = &o->changes[o->n_changes];
    memset(ch, 0, sizeof(*ch));
    ch->kind = kind;
    const char *rest;
    bool ok = parse_time(arg, &ch->at_us, &rest, kind == CHANGE_GEOMETRY || kind == CHANGE_REGION);
    if (ok && kind == CHANGE_GEOMETRY)
        ok = parse_rect(rest, &ch->rect);
    if (ok && kind == CHANGE_REGION && strcmp(rest, "all") != 0) {
        ch->region = calloc(1, sizeof(*ch->region));
        ok = ch->region && parse_region(rest, ch->region);
        if (!ok) {
            free(ch->region);
            ch->region = NULL;
        }
    }
    if (!ok) {
        fprintf(stderr, "videoredir-capture: %s wants %s, not '%s'\n", names[kind],
                kind == CHANGE_GEOMETRY ? "SECONDS:X,Y,W,H"
                : kind == CHANGE_REGION ? "SECONDS:X,Y,W,H;... (or SECONDS:all)" : "SECONDS", arg);
        return -1;
    }
    /* Kept in time order (stable: equal times apply as given). */
    uint32_t i = o->n_changes++;
    while (i > 0 && o->changes[i - 1].at_us > o->changes[i].at_us) {
        struct change t = o->changes[i - 1];
        o->changes[i - 1] = o->changes[i];
        o->changes[i] = t;
        i--;
    }
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
    uint64_t now = now_us();
    switch (ev) {
    case VR_GUEST_EV_SESSION:
    case VR_GUEST_EV_PEER_RESTART:
        a->waiting = false;
        a->pace_set = false;
        break;
    case VR_GUEST_EV_ACCEPTED:
        a->pace_set = false; /* pacing starts at the first frame sent */
        break;
    case VR_GUEST_EV_PEER_GONE:
        a->waiting = true;
        a->wait_since_us = now;
        break;
    default:
        break;
    }
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
        { NULL, 0, NULL, 0 },
    };
    o->device = DEFAULT_DEVICE;
    o->pace = PACE_REALTIME;
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
        case 'G':
        case 'E':
        case 'F':
        case 'S':
            if (parse_change(c, optarg, o) < 0)
                return -1;
            break;
        case 'p':
            if (!strcmp(optarg, "realtime"))
                o->pace = PACE_REALTIME;
            else if (!strcmp(optarg, "none"))
                o->pace = PACE_NONE;
            else {
                fprintf(stderr, "videoredir-capture: --pace must be realtime or none, not '%s'\n", optarg);
                return -1;
            }
            break;
        case 'w':
            if (!parse_rect(optarg, &o->window)) {
                fprintf(stderr, "videoredir-capture: --window wants X,Y,W,H (W,H > 0), not '%s'\n", optarg);
                return -1;
            }
            o->have_window = true;
            break;
        case 'c':
            if (!parse_rect(optarg, &o->content)) {
                fprintf(stderr, "videoredir-capture: --content wants X,Y,W,H (W,H > 0), not '%s'\n", optarg);
                return -1;
            }
            o->have_content = true;
            break;
        case 'r':
            if (!parse_region(optarg, o->region)) {
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

/* Opening errors that waiting will not fix. */
static bool permanent_open_error(int err)
{
    return err == -ENOENT || err == -ENOTDIR || err == -EACCES || err == -EPERM || err == -EISDIR ||
           err == -ENOTSOCK || err == -EINVAL || err == -ENAMETOOLONG;
}

static void close_channel(struct app *a, const char *why)
{
    if (a->fd < 0)
        return;
    if (a->o.verbose || !a->waiting)
        fprintf(stderr, "videoredir-capture: %s: %s; reopening every %u ms\n", a->o.device, why,
                REOPEN_US / 1000);
    vr_fd_close(a->fd);
    a->fd = -1;
    vr_record_write_event(a->rec, VR_RECORD_EV_CLOSE);
    vr_guest_channel_closed(a->guest);
    a->next_open_us = now_us() + REOPEN_US;
    if (!a->waiting) {
        a->waiting = true;
        a->wait_since_us = now_us();
    }
}

static void try_open(struct app *a)
{
    int fd = vr_fd_open(a->o.device);
    if (fd < 0) {
        a->next_open_us = now_us() + REOPEN_US;
        if (a->o.verbose)
            fprintf(stderr, "videoredir-capture: %s: %s; retrying\n", a->o.device, vr_fd_strerror(fd));
        return;
    }
    a->fd = fd;
    if (a->o.verbose)
        fprintf(stderr, "videoredir-capture: %s opened\n", a->o.device);
    vr_record_write_event(a->rec, VR_RECORD_EV_OPEN); /* no-op without --record */
    vr_guest_channel_open(a->guest);
}

/* Timestamp of the pending access unit in microseconds, for pacing. */
static double au_time_us(const struct app *a)
{
    const struct vr_stream_start *st = vr_source_stream_start(a->src);
    int64_t ts = a->au.dts != INT64_MIN ? a->au.dts : a->au.pts;
    if (ts != INT64_MIN)
        return (double)ts * 1e6 * st->timebase_num / st->timebase_den;
    if (st->fps_num && st->fps_den)
        return (double)a->au_index * 1e6 * st->fps_den / st->fps_num;
    return (double)a->au_index * 40000.0; /* 25 fps when nothing says otherwise */
}

/* Applies the timed changes due at play time rel_us. Returns 0, 1 when the
 * file starts over (the pending access unit is dropped), -1 on error (*err). */
static int apply_changes(struct app *a, double rel_us, int *err)
{
    for (uint32_t i = 0; i < a->o.n_changes; i++) {
        struct change *ch = &a->o.changes[i];
        if (ch->done || (double)ch->at_us > rel_us)
            continue;
        ch->done = true;
        int r = 0, over = 0;
        const char *what = "";
        switch (ch->kind) {
        case CHANGE_GEOMETRY:
            what = "change the geometry";
            a->geom.window = a->geom.content = ch->rect;
            r = vr_guest_set_geometry(a->guest, &a->geom);
            break;
        case CHANGE_REGION:
            what = "change the region";
            a->cur_region = ch->region;
            r = vr_guest_set_region(a->guest, ch->region);
            break;
        case CHANGE_FLUSH:
            what = "flush";
            r = vr_guest_flush(a->guest);
            if (r == 0)
                r = vr_source_rewind(a->src);
            a->discont = true;
            over = 1;
            break;
        case CHANGE_RESTART:
            what = "restart the stream";
            r = vr_guest_stop(a->guest, VR_REASON_USER);
            if (r == 0)
                r = vr_source_rewind(a->src);
            if (r == 0)
                r = vr_guest_set_stream(a->guest, vr_source_stream_start(a->src), &a->geom,
                                        a->cur_region);
            over = 1;
            break;
        }
        if (r < 0) {
            fprintf(stderr, "videoredir-capture: cannot %s at %.3f s: %s\n", what, ch->at_us / 1e6,
                    strerror(-r));
            *err = r;
            return -1;
        }
        if (a->o.verbose)
            fprintf(stderr, "videoredir-capture: %s at %.3f s\n", what, ch->at_us / 1e6);
        if (over) {
            a->have_au = false;
            return 1;
        }
    }
    return 0;
}

/* Sends what may be sent now. Returns microseconds until pacing allows the
 * next frame (UINT64_MAX if not pacing-bound), or 0 on a fatal read error
 * (then *err is set). */
static uint64_t pump(struct app *a, int *err)
{
    for (int budget = 0; budget < 256; budget++) {
        if (!a->have_au) {
            if (a->eof)
                return UINT64_MAX;
            int r = vr_source_read(a->src, &a->au);
            if (r == 0) {
                if (a->o.loops < 0 || a->loops_done < a->o.loops) {
                    a->loops_done++;
                    r = vr_source_rewind(a->src);
                    if (r == 0)
                        continue;
                }
                if (r < 0) {
                    fprintf(stderr, "videoredir-capture: %s\n", vr_source_error(a->src));
                    *err = r;
                    return 0;
                }
                a->eof = true;
                return UINT64_MAX;
            }
            if (r < 0) {
                fprintf(stderr, "videoredir-capture: %s\n", vr_source_error(a->src));
                *err = r;
                return 0;
            }
            a->have_au = true;
        }
        double t = au_time_us(a);
        if (!a->have_t_first) {
            a->have_t_first = true;
            a->t_first_us = t;
        }
        int ch = apply_changes(a, t - a->t_first_us, err);
        if (ch < 0)
            return 0;
        if (ch > 0)
            continue;
        uint64_t now = now_us();
        if (a->o.pace == PACE_REALTIME && a->pace_set) {
            double due = (double)a->pace_start_us + (t - a->pace_t0_us);
            if (due > (double)now)
                return (uint64_t)(due - (double)now) + 1;
        }
        int r = vr_guest_send_frame(a->guest, &a->au, a->discont ? VR_FRAME_DISCONT : 0);
        if (r == -EAGAIN)
            return UINT64_MAX; /* window full or not streaming: input wakes us */
        if (r < 0) {
            fprintf(stderr, "videoredir-capture: cannot send frame: %s\n", strerror(-r));
            *err = r;
            return 0;
        }
        if (r == 1 && !a->pace_set) {
            a->pace_set = true;
            a->pace_start_us = now;
            a->pace_t0_us = t;
        }
        if (r == 1)
            a->discont = false;
        a->have_au = false;
        a->au_index++;
    }
    return 0; /* budget used up: come back at once */
}

static void print_summary(struct app *a)
{
    struct vr_guest_stats gs;
    struct vr_conn_stats cs;
    vr_guest_get_stats(a->guest, &gs);
    vr_conn_get_stats(vr_guest_conn(a->guest), &cs);
    double secs = (double)(now_us() - a->start_us) / 1e6;
    double overhead = gs.es_bytes ? 100.0 * ((double)cs.bytes_out - (double)gs.es_bytes) / (double)gs.es_bytes : 0;
    printf("videoredir-capture: %" PRIu64 " frames, %" PRIu64 " bytes sent, %" PRIu64
           " elementary stream bytes, overhead %.2f%%, %.2f s\n",
           gs.frames_sent, cs.bytes_out, gs.es_bytes, overhead, secs);
    fflush(stdout);
}

static int run(struct app *a)
{
    uint64_t connect_us = (uint64_t)(a->o.connect_timeout * 1e6);
    a->start_us = now_us();
    a->wait_since_us = a->start_us;
    a->waiting = true;

    int fd = vr_fd_open(a->o.device);
    if (fd < 0 && permanent_open_error(fd)) {
        fprintf(stderr, "videoredir-capture: cannot open device %s: %s\n", a->o.device, vr_fd_strerror(fd));
        return EXIT_DEVICE;
    }
    if (fd >= 0) {
        a->fd = fd;
        vr_record_write_event(a->rec, VR_RECORD_EV_OPEN);
        vr_guest_channel_open(a->guest);
    } else {
        fprintf(stderr, "videoredir-capture: %s: %s; retrying every %u ms\n", a->o.device, vr_fd_strerror(fd),
                REOPEN_US / 1000);
        a->next_open_us = now_us() + REOPEN_US;
    }

    for (;;) {
        uint64_t now = now_us();
        if (interrupted && !a->stop_sent) {
            vr_guest_stop(a->guest, VR_REASON_USER);
            a->stop_sent = true;
            a->stop_us = now;
        }
        if (a->fd < 0 && now >= a->next_open_us)
            try_open(a);

        enum vr_guest_state st = vr_guest_get_state(a->guest);
        if (st == VR_GUEST_FAILED) {
            fprintf(stderr, "videoredir-capture: %s\n", vr_guest_error(a->guest));
            return EXIT_REJECTED;
        }
        if (a->waiting && !a->stop_sent && now - a->wait_since_us >= connect_us) {
            fprintf(stderr, "videoredir-capture: no client answered on %s within %.0f s "
                            "(is a SPICE client with videoredir connected?)\n",
                    a->o.device, a->o.connect_timeout);
            return EXIT_NO_CLIENT;
        }

        uint64_t wait = UINT64_MAX;
        if (!a->stop_sent && st == VR_GUEST_STREAMING) {
            int err = 0;
            wait = pump(a, &err);
            if (err)
                return EXIT_INPUT;
            if (a->eof && !a->have_au) {
                vr_guest_stop(a->guest, VR_REASON_EOS);
                a->stop_sent = true;
                a->stop_us = now;
            }
        }

        if (a->fd >= 0 && !vr_guest_output_empty(a->guest)) {
            int r = vr_fd_flush(vr_guest_conn(a->guest), a->fd);
            if (r < 0 && r != -EAGAIN)
                close_channel(a, r == -EPIPE ? "closed by the host" : vr_fd_strerror(r));
        }

        if (a->stop_sent) {
            now = now_us();
            if (a->fd >= 0 && vr_guest_drained(a->guest))
                break;
            uint64_t limit = interrupted ? STOP_DRAIN_US : DRAIN_TIMEOUT_US;
            if (now - a->stop_us >= limit) {
                if (!vr_guest_output_empty(a->guest) || a->fd < 0)
                    fprintf(stderr, "videoredir-capture: warning: could not deliver everything before exiting\n");
                else if (a->o.verbose)
                    fprintf(stderr, "videoredir-capture: no final feedback from the client; exiting\n");
                break;
            }
            uint64_t left = limit - (now - a->stop_us);
            if (left < wait)
                wait = left;
        }

        /* How long vr_fd_wait may sleep. */
        now = now_us();
        uint64_t t = vr_guest_next_timeout(a->guest);
        if (t < wait)
            wait = t;
        if (a->fd < 0) {
            uint64_t r = a->next_open_us > now ? a->next_open_us - now : 0;
            if (r < wait)
                wait = r;
        }
        if (a->waiting && !a->stop_sent) {
            uint64_t end = a->wait_since_us + connect_us;
            uint64_t r = end > now ? end - now : 0;
            if (r < wait)
                wait = r;
        }
        int timeout_ms = wait == UINT64_MAX ? 1000 : (int)((wait + 999) / 1000);
        if (timeout_ms > 1000)
            timeout_ms = 1000;

        int n = vr_fd_wait(a->fd, a->fd >= 0 && !vr_guest_output_empty(a->guest), timeout_ms);
        if (n < 0) {
            fprintf(stderr, "videoredir-capture: waiting on %s: %s\n", a->o.device, vr_fd_strerror(n));
            return EXIT_DEVICE;
        }
        if (a->fd >= 0 && (n & VR_FD_READABLE)) {
            for (int i = 0; i < 64; i++) {
                int r = vr_fd_read(vr_guest_conn(a->guest), a->fd);
                if (r == -EAGAIN)
                    break;
                if (r < 0) {
                    close_channel(a, r == -EPIPE ? "closed by the host" : vr_fd_strerror(r));
                    break;
                }
            }
        }
        vr_guest_tick(a->guest);
    }
    print_summary(a);
    return interrupted ? EXIT_INTERRUPTED : EXIT_OK;
}

/* --record without --device: the session with a stand-in client, on the
 * virtual clock. */
static int run_offline(struct app *a)
{
    struct vr_record_peer *peer = NULL;
    int ret = vr_record_peer_create("videoredir-capture --record (no client)", &peer);
    if (ret < 0) {
        fprintf(stderr, "videoredir-capture: %s\n", strerror(-ret));
        return EXIT_DEVICE;
    }
    struct vr_conn *conn = vr_guest_conn(a->guest);
    a->start_us = now_us();
    a->waiting = false;
    vr_record_write_event(a->rec, VR_RECORD_EV_OPEN);
    vr_guest_channel_open(a->guest);
    int code = EXIT_OK;
    for (;;) {
        if (interrupted && !a->stop_sent) {
            vr_guest_stop(a->guest, VR_REASON_USER);
            a->stop_sent = true;
        }
        enum vr_guest_state st = vr_guest_get_state(a->guest);
        if (st == VR_GUEST_FAILED) {
            fprintf(stderr, "videoredir-capture: %s\n", vr_guest_error(a->guest));
            code = EXIT_REJECTED;
            break;
        }
        uint64_t wait = UINT64_MAX;
        if (!a->stop_sent && st == VR_GUEST_STREAMING) {
            int err = 0;
            wait = pump(a, &err);
            if (err) {
                code = EXIT_INPUT;
                break;
            }
            if (a->eof && !a->have_au) {
                vr_guest_stop(a->guest, VR_REASON_EOS);
                a->stop_sent = true;
            }
        }
        long moved = vr_record_peer_pump(peer, conn, now_us());
        vr_guest_tick(a->guest);
        moved += vr_record_peer_pump(peer, conn, now_us());
        if (moved < 0) {
            fprintf(stderr, "videoredir-capture: stand-in client: %s\n", strerror((int)-moved));
            code = EXIT_DEVICE;
            break;
        }
        if (a->stop_sent && vr_guest_drained(a->guest))
            break;
        if (moved > 0 || wait == 0)
            continue; /* something happened: look again before time moves */
        uint64_t t = vr_guest_next_timeout(a->guest);
        if (t < wait)
            wait = t;
        if (wait == UINT64_MAX) {
            fprintf(stderr, "videoredir-capture: the session stalled (state %s)\n",
                    vr_guest_state_name(st));
            code = EXIT_DEVICE;
            break;
        }
        vclock_us += wait;
    }
    vr_record_write_event(a->rec, VR_RECORD_EV_CLOSE);
    vr_record_peer_destroy(peer);
    if (code == EXIT_OK)
        print_summary(a);
    return interrupted && code == EXIT_OK ? EXIT_INTERRUPTED : code;
}

int main(int argc, char **argv)
{
    static struct app app; /* large (holds a region): keep it off the stack */
    struct app *a = &app;
    static struct vr_region region;
    a->o.region = &region;
    a->fd = -1;

    if (parse_options(argc, argv, &a->o) < 0)
        return EXIT_INPUT;

#ifdef VR_CAPTURE_LIBAV
    /* libav prints to stderr by default; keep it to errors unless asked. */
    av_log_set_level(a->o.verbose ? AV_LOG_INFO : AV_LOG_ERROR);
#endif
#ifdef _WIN32
    /* The C runtime maps Ctrl+C / Ctrl+Break to SIGINT; there is no SIGPIPE. */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
#else
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
#endif

    char err[512];
    int ret = vr_source_open(a->o.file, &a->src, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "videoredir-capture: %s\n", err);
        return EXIT_INPUT;
    }
    const struct vr_stream_start *ss = vr_source_stream_start(a->src);
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

    struct vr_guest_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.stream_id = a->o.stream_id;
    struct vr_guest_callbacks cb = { .log = on_log, .event = on_event, .clock = clock_cb };
    virtual_clock = a->o.record && !a->o.have_device;
    a->geom = geom;
    a->cur_region = a->o.have_region ? a->o.region : NULL;
    ret = vr_guest_create(&cfg, &cb, a, &a->guest);
    if (ret == 0)
        ret = vr_guest_set_stream(a->guest, ss, &geom, a->o.have_region ? a->o.region : NULL);
    if (ret < 0) {
        fprintf(stderr, "videoredir-capture: cannot set up the stream: %s\n", strerror(-ret));
        vr_guest_destroy(a->guest);
        vr_source_close(a->src);
        return EXIT_INPUT;
    }

    if (a->o.record) {
        ret = vr_record_writer_open(a->o.record, VR_RECORD_SIDE_GUEST, clock_cb, NULL, &a->rec);
        if (ret < 0) {
            fprintf(stderr, "videoredir-capture: cannot create %s: %s\n", a->o.record, strerror(-ret));
            vr_guest_destroy(a->guest);
            vr_source_close(a->src);
            return EXIT_DEVICE;
        }
        vr_conn_set_tap(vr_guest_conn(a->guest), vr_record_tap, a->rec);
    }
    int code = virtual_clock ? run_offline(a) : run(a);
    vr_fd_close(a->fd);
    if (a->rec) {
        vr_conn_set_tap(vr_guest_conn(a->guest), NULL, NULL);
        uint64_t n = vr_record_writer_count(a->rec);
        ret = vr_record_writer_close(a->rec);
        if (ret < 0) {
            fprintf(stderr, "videoredir-capture: cannot write %s: %s\n", a->o.record, strerror(-ret));
            if (code == EXIT_OK)
                code = EXIT_DEVICE;
        } else if (a->o.verbose) {
            fprintf(stderr, "videoredir-capture: %" PRIu64 " records written to %s\n", n, a->o.record);
        }
    }
    for (uint32_t i = 0; i < a->o.n_changes; i++)
        free(a->o.changes[i].region);
    vr_guest_destroy(a->guest);
    vr_source_close(a->src);
    return code;
}
