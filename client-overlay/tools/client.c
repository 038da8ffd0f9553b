/*
 * videoredir-client: a headless SPICE client that receives videoredir
 * streams over the port channel, decodes them and writes framemd5, composited
 * snapshots and statistics.
 */
#define G_LOG_DOMAIN "videoredir-client"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <libavutil/log.h>
#include <spice-client.h>

#include <videoredir/client.h>
#include <videoredir/client-audio.h>
#include <videoredir/client-report.h>
#include <videoredir/record.h>
#include <videoredir/transport-spice.h>
#ifdef VR_HAVE_SDL
#include <videoredir/sdl.h>
#endif

struct app {
    gint slow_us, slow_from, slow_frames; /* --slow-* (tests) */
    gint max_streams;                     /* --max-streams, 0: the library's default */
    gint decode_threads;                  /* --decode-threads */
    gboolean decode_inline;               /* --decode-inline */
    GMainLoop *loop;
    SpiceSession *session;
    SpiceChannel *display; /* first display channel, ref held */
    VrSpicePort *port;
    struct vr_client *client;
    struct vr_framemd5 *md5;
    char *framemd5_dir; /* --framemd5-dir: one file per stream id */
    struct vr_framemd5_set *md5_set;
    char *snapshot_at_path; /* --snapshot-at-file */
    char *geometry_dir;     /* --snapshot-geometry: a picture after each placement change */
    guint geometry_timer;
    guint geometry_n;
    char *record_path;
    struct vr_record_writer *rec; /* --record: the session, both directions */
    char *latency_path;
    FILE *latency; /* --latency-log: one line per decoded frame */
    char *present_path;
    FILE *present_log; /* --present-log: one line per presented frame */
    char *codecs;      /* --codecs */
    VrSpiceAudio *audio;  /* the headless speaker on the playback channel */
    gboolean no_audio;    /* --no-audio */
    gint audio_latency;   /* --audio-latency MS */
    char *av_path;
    FILE *av_log;         /* --av-log: audio buffers heard, frames shown */
    guint wake_id;     /* timer for the next queued frame's due time */
#ifdef VR_HAVE_SDL
    gboolean sdl;                 /* --sdl */
    char *sdl_size;               /* --sdl-size WxH */
    char *present_name;           /* --present gl|sw|auto */
    struct vr_presenter *window;  /* the SDL presenter */
    guint sdl_idle, sdl_timer;
    bool desktop_dirty;           /* the SPICE desktop changed since the window got it */
#endif
    int exit_code;
    int stop_signal;   /* SIGINT or SIGTERM that ended the loop, or 0 */
    guint sig_ids[2];  /* the GLib sources of SIGINT and SIGTERM */
    guint usr1_id;     /* SIGUSR1: a snapshot now */
    uint64_t frames;   /* decoded frames handed to us (all streams) */
    bool finishing;
    bool port_seen; /* a guest opened the port at least once */

    /* options */
    char *uri, *port_name, *framemd5_path, *snapshot_path, *hwdec_name;
    gboolean stats, exit_at_eos, verbose;
    double snapshot_at, timeout;

    uint64_t start_us, first_frame_us, finish_us;
    bool snapshot_at_done, snapshot_written, snapshot_pending, desktop_drawn;
    pixman_image_t *videos; /* captured video layer for the snapshot */
    struct vr_stats_report *report;
};

static void client_log(void *user, enum vr_client_log level, const char *msg)
{
    switch (level) {
    case VR_CLOG_ERROR: g_critical("%s", msg); break;
    case VR_CLOG_WARNING: g_warning("%s", msg); break;
    case VR_CLOG_INFO: g_message("%s", msg); break;
    default: g_debug("%s", msg); break;
    }
}

/* FFmpeg's own messages (hardware probing, bitstream complaints) are details:
 * they go to the debug log, shown with -v or G_MESSAGES_DEBUG=all. */
static void av_log_to_glib(void *avcl, int level, const char *fmt, va_list vl)
{
    static _Thread_local int print_prefix = 1; /* FFmpeg logs from the decoder threads too */
    char line[512];
    if (level > av_log_get_level())
        return;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = 0;
    if (len)
        g_debug("libav: %s", line);
}

static void quit(struct app *a, int code)
{
    if (code && !a->exit_code)
        a->exit_code = code;
    g_main_loop_quit(a->loop);
}

static gboolean on_wakeup(gpointer user);
static void find_placement(struct app *a, int x, int y, int w, int h);

/* SIGINT or SIGTERM (dispatched by the main loop, not in the handler): leave
 * the loop; the files are finished after it. Both sources go at once, which
 * gives the signals their default action back: a second one while finishing
 * ends the program at once. */
static gboolean on_stop_signal(gpointer user, int sig)
{
    struct app *a = user;
    for (int i = 0; i < 2; i++) {
        if (a->sig_ids[i])
            g_source_remove(a->sig_ids[i]);
        a->sig_ids[i] = 0;
    }
    a->stop_signal = sig;
    a->exit_code = 128 + sig;
    g_message("%s: finishing the output files (a second signal exits at once)",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
    g_main_loop_quit(a->loop);
    return G_SOURCE_REMOVE;
}

static gboolean on_sigint(gpointer user)
{
    return on_stop_signal(user, SIGINT);
}

static gboolean on_sigterm(gpointer user)
{
    return on_stop_signal(user, SIGTERM);
}

#ifdef VR_HAVE_SDL
static pixman_image_t *make_canvas(struct app *a);

/* Brings the window up to date: desktop picture (at most every 15 ms), the
 * videos' frames and places. */
static void sdl_sync(struct app *a)
{
    if (!a->window)
        return;
    if (a->desktop_dirty) {
        SpiceDisplayPrimary p;
        a->desktop_dirty = false;
        if (a->display && spice_display_channel_get_primary(a->display, 0, &p)) {
            struct vr_rect desk = { 0, 0, (uint32_t)p.width, (uint32_t)p.height };
            vr_sdl_set_desktop(a->window, &desk);
        }
        pixman_image_t *img = make_canvas(a);
        if (img) {
            vr_sdl_set_background(a->window, img);
            pixman_image_unref(img);
        }
    }
    int ret = vr_presenter_sync(a->window, a->client);
    if (ret < 0)
        g_warning("sdl: cannot draw: %s (%s)", strerror(-ret), vr_sdl_error());
}

static gboolean sdl_idle(gpointer user)
{
    struct app *a = user;
    a->sdl_idle = 0;
    sdl_sync(a);
    return G_SOURCE_REMOVE;
}

static gboolean sdl_timer(gpointer user)
{
    struct app *a = user;
    if (!vr_sdl_handle_events(a->window)) {
        g_message("sdl: window closed");
        a->sdl_timer = 0;
        quit(a, 0);
        return G_SOURCE_REMOVE;
    }
    sdl_sync(a);
    return G_SOURCE_CONTINUE;
}
#endif

static void on_frame(void *user, uint32_t stream_id, const AVFrame *frame)
{
    struct app *a = user;
    a->frames++;
    if (!a->first_frame_us)
        a->first_frame_us = vr_time_us();
    int tb_num = 1, tb_den = 25;
    uint32_t latency_us = 0;
    struct vr_client_stream_stats st;
    if (vr_client_find_stream(a->client, stream_id, NULL, &st)) {
        tb_num = (int)st.timebase_num;
        tb_den = (int)st.timebase_den;
        latency_us = st.latency_us;
    }
    if (!a->wake_id)
        a->wake_id = g_idle_add(on_wakeup, a); /* after this input: when is it due */
    if (a->latency)
        fprintf(a->latency, "%" PRIu32 " %" PRId64 " %" PRIu32 " %" PRIu64 "\n", stream_id,
                frame->pts == AV_NOPTS_VALUE ? INT64_MIN : frame->pts, latency_us, vr_time_us());
    int ret = a->md5_set ? vr_framemd5_set_write(a->md5_set, stream_id, frame, tb_num, tb_den) : 0;
    if (ret < 0) {
        g_printerr("videoredir-client: cannot write %s/stream-%" PRIu32 ".framemd5: %s\n",
                   a->framemd5_dir, stream_id, av_err2str(ret));
        quit(a, 1);
    }
    if (!a->md5)
        return;
    ret = vr_framemd5_write(a->md5, frame, tb_num, tb_den);
    if (ret < 0) {
        g_printerr("videoredir-client: cannot write framemd5: %s\n", av_err2str(ret));
        vr_framemd5_close(a->md5);
        a->md5 = NULL;
        quit(a, 1);
    }
}

static void on_output(void *user)
{
    struct app *a = user;
    if (a->port)
        vr_spiceport_flush(a->port);
}

/* The desktop from the display channel's primary surface. */
static bool desktop(struct app *a, SpiceDisplayPrimary *p)
{
    return a->display && spice_display_channel_get_primary(a->display, 0, p) && p->data &&
           (p->format == SPICE_SURFACE_FMT_32_xRGB || p->format == SPICE_SURFACE_FMT_32_ARGB);
}

/* The desktop as the display channel has it now, or black. */
static pixman_image_t *make_canvas(struct app *a)
{
    SpiceDisplayPrimary p;
    if (!desktop(a, &p))
        return vr_snapshot_canvas(a->client, NULL, 0, 0, 0);
    return vr_snapshot_canvas(a->client, p.data, (uint32_t)p.width, (uint32_t)p.height, (size_t)p.stride);
}

/* The videos as they are now, on a transparent layer the size of the canvas.
 * Kept so the picture can be finished once the desktop has arrived: the
 * guest may close the port (taking the streams with it) before that. */
static void capture_videos(struct app *a)
{
    pixman_image_t *canvas = make_canvas(a);
    if (a->videos)
        pixman_image_unref(a->videos);
    a->videos = canvas ? vr_snapshot_videos(a->client, (uint32_t)pixman_image_get_width(canvas),
                                            (uint32_t)pixman_image_get_height(canvas), client_log, a)
                       : NULL;
    if (canvas)
        pixman_image_unref(canvas);
    if (!a->videos)
        g_warning("snapshot: out of memory");
}

/* Desktop (as the display channel has it now) under the captured videos. */
static void write_snapshot(struct app *a, const char *path)
{
    if (!a->videos)
        capture_videos(a);
    pixman_image_t *canvas = make_canvas(a);
    if (!canvas || !a->videos) {
        g_warning("snapshot: out of memory");
        if (canvas)
            pixman_image_unref(canvas);
        return;
    }
    int ret = vr_snapshot_write(canvas, a->videos, path);
    if (ret < 0)
        g_warning("cannot write snapshot %s: %s", path, av_err2str(ret));
    else
        g_message("snapshot written to %s", path);
    pixman_image_unref(canvas);
    a->snapshot_written = true;
    a->snapshot_pending = false;
}

/* A picture of now into PATH that leaves the end-of-stream snapshot's state
 * (and the videos it captured) alone: --snapshot-at-file,
 * --snapshot-geometry, SIGUSR1. */
static void write_side_snapshot(struct app *a, const char *path)
{
    bool written = a->snapshot_written, pending = a->snapshot_pending;
    pixman_image_t *kept = a->videos;
    a->videos = NULL;
    capture_videos(a);
    write_snapshot(a, path);
    if (a->videos)
        pixman_image_unref(a->videos);
    a->videos = kept;
    a->snapshot_written = written;
    a->snapshot_pending = pending;
}

/* SIGUSR1: the picture as it is now, into --snapshot-at-file (else
 * --snapshot); the program goes on. */
static gboolean on_sigusr1(gpointer user)
{
    struct app *a = user;
    const char *path = a->snapshot_at_path ? a->snapshot_at_path : a->snapshot_path;
    if (path)
        write_side_snapshot(a, path);
    else
        g_message("SIGUSR1: no --snapshot or --snapshot-at-file to write to");
    return G_SOURCE_CONTINUE;
}

static void print_stats(struct app *a, uint64_t now)
{
    const char *presenter = NULL; /* with --sdl: gl or software */
#ifdef VR_HAVE_SDL
    if (a->window)
        presenter = vr_sdl_present_kind(a->window);
#endif
    vr_stats_report_print(a->report, a->client, now, presenter, stderr);
}

/* A frame became the shown one: its latency (guest send -> presented). */
static void on_present(struct app *a, uint32_t stream_id)
{
    uint64_t now = vr_time_us();
    int64_t first = vr_stats_report_presented(a->report, a->client, stream_id, now);
    if (first >= 0)
        g_message("stream %" PRIu32 ": first frame shown %.1f ms after its start, %.1f ms after "
                  "the client started",
                  stream_id, (double)first / 1e3, (double)(now - a->start_us) / 1e3);
    struct vr_client_stream_stats st;
    uint32_t i;
    const AVFrame *f;
    if (a->present_log && vr_client_find_stream(a->client, stream_id, &i, &st) &&
        (f = vr_client_stream_frame(a->client, i)))
        fprintf(a->present_log, "%" PRIu32 " %" PRId64 " %" PRIu32 " %" PRIu64 " %" PRIu64 "\n",
                stream_id, f->pts == AV_NOPTS_VALUE ? INT64_MIN : f->pts, st.latency_us, now,
                st.send_us);
    if (a->av_log)
        vr_av_log_frame(a->av_log, a->client, stream_id);
}

/* --av-log: one line per audio buffer as the headless speaker plays it. */
static void on_audio_played(void *user, uint64_t recv_us, uint64_t heard_us, const int16_t *pcm,
                            uint32_t frames, uint32_t channels, uint32_t rate)
{
    struct app *a = user;
    if (a->av_log)
        vr_av_log_audio(a->av_log, recv_us, heard_us, pcm, frames, channels, rate);
}

/* --snapshot-geometry: the picture once a placement change has settled
 * (0.5 s without another), so a window moved, resized, minimised or
 * restored leaves one picture each. */
static gboolean on_geometry_settled(gpointer user)
{
    struct app *a = user;
    a->geometry_timer = 0;
    char *path = g_strdup_printf("%s/geometry-%u.png", a->geometry_dir, ++a->geometry_n);
    write_side_snapshot(a, path);
    g_free(path);
    return G_SOURCE_REMOVE;
}

static void on_event(void *user, enum vr_client_event ev, uint32_t stream_id)
{
    struct app *a = user;
    if (ev == VR_CLIENT_EV_PRESENT)
        on_present(a, stream_id);
    if (ev == VR_CLIENT_EV_GEOMETRY && a->geometry_dir) {
        if (a->geometry_timer)
            g_source_remove(a->geometry_timer);
        a->geometry_timer = g_timeout_add(500, on_geometry_settled, a);
    }
    if (ev == VR_CLIENT_EV_STREAM_START) {
        vr_stats_report_stream_started(a->report, a->client, stream_id, vr_time_us());
        find_placement(a, 0, 0, 1, 1);
    }
#ifdef VR_HAVE_SDL
    if (a->window && !a->sdl_idle) /* draw after this input, not inside it */
        a->sdl_idle = g_idle_add(sdl_idle, a);
#endif
    if (ev != VR_CLIENT_EV_STREAM_END)
        return;
    if (a->stats)
        print_stats(a, vr_time_us()); /* the stream's last line, while it is still there */
    if (!a->snapshot_path)
        return;
    capture_videos(a);
    if (a->desktop_drawn || !a->display)
        write_snapshot(a, a->snapshot_path);
    else
        a->snapshot_pending = true;
}

/* Streams marked "placement from the picture": look for their marker in the
 * part of the display that changed (the library scans the whole display
 * itself when a marked stream is new). */
static void find_placement(struct app *a, int x, int y, int w, int h)
{
    SpiceDisplayPrimary p;
    if (w <= 0 || h <= 0 || !desktop(a, &p))
        return;
    struct vr_rect area = { x, y, (uint32_t)w, (uint32_t)h };
    g_debug("display changed: %d,%d %dx%d", x, y, w, h);
    int ret = vr_client_display_invalidate(a->client, p.data, (uint32_t)p.width, (uint32_t)p.height,
                                           (size_t)p.stride, &area);
    if (ret < 0)
        g_warning("placement from the picture: %s", strerror(-ret));
}

static void display_invalidate(SpiceChannel *ch, gint x, gint y, gint w, gint h, gpointer user)
{
    struct app *a = user;
    SpiceDisplayPrimary p;
    if (a->av_log && desktop(a, &p)) /* SPICE's own video streams, for comparison */
        vr_av_log_desktop(a->av_log, p.data, (uint32_t)p.width, (uint32_t)p.height, (size_t)p.stride,
                          x, y, w, h);
    a->desktop_drawn = true;
    find_placement(a, x, y, w, h);
#ifdef VR_HAVE_SDL
    a->desktop_dirty = true;
#endif
    if (a->snapshot_pending)
        write_snapshot(a, a->snapshot_path);
}

/* After the loop, however it ended (end of streams, timeout, connection
 * lost, a stop signal): everything decoded so far goes into the files. */
static void finish(struct app *a)
{
    /* The final statistics: a last line for each live stream. */
    if (a->stats)
        print_stats(a, vr_time_us());
    if (a->stop_signal)
        g_message("stopped by %s after %" PRIu64 " decoded frames",
                  a->stop_signal == SIGINT ? "SIGINT" : "SIGTERM", a->frames);
    /* Stopped mid-stream: the picture is the one shown last, even if
     * --snapshot-at wrote an earlier one. */
    if (a->snapshot_path && a->stop_signal && vr_client_streams_active(a->client) > 0) {
        capture_videos(a);
        a->snapshot_written = false;
    }
    if (a->snapshot_path && (!a->snapshot_written || a->snapshot_pending))
        write_snapshot(a, a->snapshot_path);
    if (a->videos)
        pixman_image_unref(a->videos);
    if (vr_framemd5_set_close(a->md5_set) < 0)
        a->exit_code = 1;
    a->md5_set = NULL;
    if (a->md5) {
        int ret = vr_framemd5_close(a->md5);
        a->md5 = NULL;
        if (ret < 0) {
            g_printerr("videoredir-client: cannot finish framemd5: %s\n", av_err2str(ret));
            a->exit_code = 1;
        }
    }
}

static void arm_wakeup(struct app *a);

static gboolean on_wakeup(gpointer user)
{
    struct app *a = user;
    a->wake_id = 0;
    vr_client_present(a->client, vr_client_now_us(a->client));
    arm_wakeup(a);
    return G_SOURCE_REMOVE;
}

/* Sleeps until the next queued frame is due (the 50 ms tick alone would
 * show frames up to 50 ms late). */
static void arm_wakeup(struct app *a)
{
    uint64_t at = vr_client_next_wakeup(a->client), now = vr_client_now_us(a->client);
    if (a->wake_id) {
        g_source_remove(a->wake_id);
        a->wake_id = 0;
    }
    if (at == UINT64_MAX)
        return;
    uint64_t us = at > now ? at - now : 0;
    a->wake_id = g_timeout_add((guint)((us + 999) / 1000), on_wakeup, a);
}

/* Output of a decoder's thread: taken on the main loop. */
static gboolean on_decoded_idle(gpointer user)
{
    struct app *a = user;
    vr_client_dispatch(a->client);
    arm_wakeup(a);
    return G_SOURCE_REMOVE;
}

/* On a decoder's thread (g_idle_add is thread-safe). */
static void on_decoded(void *user)
{
    g_idle_add_full(G_PRIORITY_DEFAULT, on_decoded_idle, user, NULL);
}

static gboolean on_tick(gpointer user)
{
    struct app *a = user;
    vr_client_tick(a->client);
    arm_wakeup(a);
    /* After the tick: a first frame it hands over sets first_frame_us, and a
     * "now" from before that made now - first_frame_us wrap round (the
     * --snapshot-at picture then came at once). */
    uint64_t now = vr_time_us();
    if (a->stats && vr_stats_report_age(a->report, now) >= 1000000)
        print_stats(a, now);
    if ((a->snapshot_path || a->snapshot_at_path) && a->snapshot_at > 0 && !a->snapshot_at_done &&
        a->first_frame_us && now >= a->first_frame_us &&
        now - a->first_frame_us >= (uint64_t)(a->snapshot_at * 1e6)) {
        a->snapshot_at_done = true;
        if (a->snapshot_at_path) { /* its own file: the end-of-stream snapshot does not replace it */
            write_side_snapshot(a, a->snapshot_at_path);
        } else {
            capture_videos(a);
            write_snapshot(a, a->snapshot_path);
        }
    }
    if (a->exit_at_eos && !a->finishing && vr_client_streams_ended(a->client) > 0 &&
        vr_client_streams_active(a->client) == 0) {
        a->finishing = true;
        a->finish_us = now;
        uint32_t ended = vr_client_streams_ended(a->client), eos = vr_client_streams_eos(a->client);
        if (eos == ended) {
            g_message("every stream ended at its end and was drained");
        } else {
            g_printerr("videoredir-client: %" PRIu32 " of %" PRIu32
                       " streams ended without reaching their end (see the log)\n",
                       ended - eos, ended);
            a->exit_code = 1;
        }
        if (a->stats)
            print_stats(a, now);
    }
    /* Let the last feedback reach the guest, and the desktop reach us, before
     * leaving. */
    if (a->finishing && ((vr_conn_out_queued(vr_client_conn(a->client)) == 0 &&
                          !vr_spiceport_writing(a->port) && !a->snapshot_pending) ||
                         now - a->finish_us > 3000000)) {
        quit(a, 0);
        return G_SOURCE_REMOVE;
    }
    if (a->timeout > 0 && now - a->start_us > (uint64_t)(a->timeout * 1e6)) {
        g_printerr("videoredir-client: timed out after %.0f s (%s)\n", a->timeout,
                   vr_client_established(a->client) ? "the session was up, streams had not ended"
                   : vr_spiceport_is_open(a->port)
                       ? "the port is open but no videoredir guest answered"
                   : a->port_seen ? "the guest closed the port"
                                  : "no guest opened a SPICE port by that name");
        quit(a, 1);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void port_opened(void *user, gboolean opened)
{
    struct app *a = user;
    g_message("videoredir port %s", opened ? "opened by the guest" : "closed");
    a->port_seen |= opened;
    vr_record_write_event(a->rec, opened ? VR_RECORD_EV_OPEN : VR_RECORD_EV_CLOSE);
    if (opened)
        vr_client_channel_open(a->client);
    else
        vr_client_channel_closed(a->client);
}

static void port_error(void *user, const GError *error)
{
    g_warning("port write failed: %s", error->message);
}

static void main_channel_event(SpiceChannel *channel, SpiceChannelEvent event, gpointer user)
{
    struct app *a = user;
    const char *error = vr_spice_channel_error(channel, event);
    if (error) {
        g_printerr("videoredir-client: cannot connect to %s: %s\n", a->uri, error);
        quit(a, 1);
    } else if (event == SPICE_CHANNEL_CLOSED && !a->finishing) {
        g_printerr("videoredir-client: the SPICE server closed the connection\n");
        quit(a, 1);
    }
}

static void channel_new(SpiceSession *session, SpiceChannel *channel, gpointer user)
{
    struct app *a = user;
    if (SPICE_IS_MAIN_CHANNEL(channel))
        g_signal_connect(channel, "channel-event", G_CALLBACK(main_channel_event), a);
    if (SPICE_IS_DISPLAY_CHANNEL(channel) && !a->display) {
        a->display = g_object_ref(channel);
        g_signal_connect(channel, "display-invalidate", G_CALLBACK(display_invalidate), a);
        spice_channel_connect(channel);
    }
}

int main(int argc, char **argv)
{
    struct app a = { .timeout = 0, .audio_latency = 40 };
    GOptionEntry entries[] = {
        { "uri", 'u', 0, G_OPTION_ARG_STRING, &a.uri, "SPICE server (required)", "spice://HOST:PORT" },
        { "port-name", 0, 0, G_OPTION_ARG_STRING, &a.port_name,
          "SPICE port name (default " VR_DEFAULT_PORT_NAME ")", "NAME" },
        { "latency-log", 0, 0, G_OPTION_ARG_FILENAME, &a.latency_path,
          "write 'stream pts latency_us time_us' per decoded frame (guest send -> decoded, "
          "through the ping/pong clock offset; 0 = offset not known yet)", "PATH" },
        { "present-log", 0, 0, G_OPTION_ARG_FILENAME, &a.present_path,
          "write 'stream pts latency_us time_us send_us' per presented frame (guest send -> "
          "presented at its due time; time_us: when, on this client's clock; send_us: the "
          "frame's send time on the guest's clock, the same clock when both run on one machine)",
          "PATH" },
        { "no-audio", 0, 0, G_OPTION_ARG_NONE, &a.no_audio,
          "do not follow the SPICE playback channel (frames are shown at the guest's time, "
          "not when their sound is heard)", NULL },
        { "audio-latency", 0, 0, G_OPTION_ARG_INT, &a.audio_latency,
          "the headless speaker plays each audio buffer at least MS after it arrives (default 40)",
          "MS" },
        { "av-log", 0, 0, G_OPTION_ARG_FILENAME, &a.av_path,
          "write 'A RECV_US HEARD_US FRAMES RATE ONSET PEAK' per audio buffer played and "
          "'V SHOWN_US STREAM PTS LUMA OFFSET_US AUDIO_DELAY_US' per frame shown (the client's "
          "monotonic clock; the guest clock's offset and the audio path's delay then), and "
          "'D SHOWN_US X Y W H LUMA' per desktop area of 64x64 or more drawn", "PATH" },
        { "codecs", 0, 0, G_OPTION_ARG_STRING, &a.codecs,
          "offer and accept only these codecs (comma separated: h264,hevc,vp8,vp9,av1)", "LIST" },
        { "framemd5", 0, 0, G_OPTION_ARG_FILENAME, &a.framemd5_path,
          "write decoded frames as FFmpeg framemd5 (- for stdout)", "PATH" },
        { "framemd5-dir", 0, 0, G_OPTION_ARG_FILENAME, &a.framemd5_dir,
          "write each stream's decoded frames as framemd5 into DIR/stream-ID.framemd5 (several "
          "streams at once; 16 at most)", "DIR" },
        { "record", 0, 0, G_OPTION_ARG_FILENAME, &a.record_path,
          "record the session to FILE for videoredir-replay (protocol/RECORDING.md)", "FILE" },
        { "snapshot", 0, 0, G_OPTION_ARG_FILENAME, &a.snapshot_path,
          "write a PNG of the desktop with the video composited when a stream ends (and at exit)", "PNG" },
        { "snapshot-at-file", 0, 0, G_OPTION_ARG_FILENAME, &a.snapshot_at_path,
          "write the --snapshot-at picture to this PNG instead (kept when --snapshot is "
          "written again at the end)", "PNG" },
        { "snapshot-geometry", 0, 0, G_OPTION_ARG_FILENAME, &a.geometry_dir,
          "write DIR/geometry-N.png each time a video's placement or visible region changed "
          "(0.5 s after the last change)", "DIR" },
        { "snapshot-at", 0, 0, G_OPTION_ARG_DOUBLE, &a.snapshot_at,
          "also write the snapshot SECONDS after the first frame", "SECONDS" },
        { "stats", 's', 0, G_OPTION_ARG_NONE, &a.stats,
          "print statistics every second (fps, bitrate, drops, latency, decoder)", NULL },
        { "exit-at-eos", 0, 0, G_OPTION_ARG_NONE, &a.exit_at_eos,
          "exit once every stream has ended (0 if each reached its end)", NULL },
        { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &a.timeout, "give up (exit 1) after SECONDS", "SECONDS" },
        { "max-streams", 0, 0, G_OPTION_ARG_INT, &a.max_streams,
          "accept at most N streams at once (default 4, at most 16; announced in the hello)", "N" },
        { "hwdec", 0, 0, G_OPTION_ARG_STRING, &a.hwdec_name,
          "decoder back end: auto, none, vaapi, vdpau, cuda (default auto)", "NAME" },
#ifdef VR_HAVE_SDL
        { "sdl", 0, 0, G_OPTION_ARG_NONE, &a.sdl,
          "show the desktop and the videos in an SDL2 window (q or Esc closes it)", NULL },
        { "present", 0, 0, G_OPTION_ARG_STRING, &a.present_name,
          "how --sdl draws: gl (OpenGL 3.2+/ES 3.0 shaders), sw (libswscale + pixman into the "
          "window), renderer (SDL's renderer), auto (gl on a GPU, else sw; default)",
          "gl|sw|renderer|auto" },
        { "sdl-size", 0, 0, G_OPTION_ARG_STRING, &a.sdl_size,
          "initial window size (default: the SPICE desktop's, 1280x800 until known)", "WxH" },
#endif
        { "decode-threads", 0, 0, G_OPTION_ARG_INT, &a.decode_threads,
          "software decoding threads per stream (default 1: no frame-threading delay; N > 1 "
          "adds N - 1 frames of delay for N times the throughput on N cores)", "N" },
        { "decode-inline", 0, 0, G_OPTION_ARG_NONE, &a.decode_inline,
          "decode in the main loop's thread, not on a thread per stream (the client then answers "
          "the guest only between frames)", NULL },
        { "slow-us", 0, 0, G_OPTION_ARG_INT, &a.slow_us, "for tests: sleep US after each frame decoded", "US" },
        { "slow-from", 0, 0, G_OPTION_ARG_INT, &a.slow_from, "for tests: --slow-us from the N-th frame on", "N" },
        { "slow-frames", 0, 0, G_OPTION_ARG_INT, &a.slow_frames, "for tests: --slow-us for N frames only", "N" },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &a.verbose, "log details (like G_MESSAGES_DEBUG=all)", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GError *err = NULL;
    GOptionContext *ctx = g_option_context_new("- receive, decode and show videoredir streams");
    g_option_context_set_summary(ctx,
        "Connects to a SPICE server, finds the videoredir port channel and decodes every\n"
        "video stream the guest sends over it.");
    g_option_context_set_description(ctx,
        "Exit status: 0 when all went well (with --exit-at-eos: every stream reached its end\n"
        "and was drained), 1 on connection failure, timeout, a stream ending early or an\n"
        "output error, 2 for bad options, 130 after SIGINT (Ctrl-C) and 143 after SIGTERM.\n"
        "On SIGINT or SIGTERM, and when the connection is lost, the framemd5, --record, the\n"
        "logs, the last --stats lines and the --snapshot hold everything up to that moment;\n"
        "a second signal while finishing exits at once. SIGUSR1 writes the picture as it is\n"
        "now to --snapshot-at-file (else --snapshot) and goes on. Logs go to stderr;\n"
        "G_MESSAGES_DEBUG=all or -v shows details.\n"
        "Hardware frames go to the presenter as decoded only with --sdl --present gl where\n"
        "VA-API surfaces are imported (zero-copy); --stats names the path. For tests only:\n"
        "VIDEOREDIR_TEST_HWFRAMES=vulkan hands out every frame as a Vulkan surface.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        g_printerr("videoredir-client: %s (see --help)\n", err->message);
        return 2;
    }
    g_option_context_free(ctx);
    if (!a.uri) {
        g_printerr("videoredir-client: --uri is required (see --help)\n");
        return 2;
    }
    enum vr_hwdec hwdec = VR_HWDEC_AUTO;
    if (a.hwdec_name && vr_hwdec_from_name(a.hwdec_name, &hwdec) < 0) {
        g_printerr("videoredir-client: unknown --hwdec %s\n", a.hwdec_name);
        return 2;
    }
#if GLIB_CHECK_VERSION(2, 68, 0)
    /* GLib sends debug and info to stdout, which may be carrying framemd5. */
    g_log_writer_default_set_use_stderr(TRUE);
#endif
    if (a.verbose) {
        g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
#if GLIB_CHECK_VERSION(2, 72, 0)
        g_log_set_debug_enabled(TRUE); /* the variable may have been read already */
#endif
    }
    av_log_set_level(a.verbose ? AV_LOG_INFO : AV_LOG_ERROR);
    av_log_set_callback(av_log_to_glib);
    /* Before any output file exists: from here on a stop signal finishes them
     * (dispatched once the loop runs). */
    a.sig_ids[0] = g_unix_signal_add(SIGINT, on_sigint, &a);
    a.sig_ids[1] = g_unix_signal_add(SIGTERM, on_sigterm, &a);
    a.usr1_id = g_unix_signal_add(SIGUSR1, on_sigusr1, &a);

    if (a.framemd5_path) {
        int ret = vr_framemd5_open(a.framemd5_path, &a.md5);
        if (ret < 0) {
            g_printerr("videoredir-client: cannot open %s: %s\n", a.framemd5_path, strerror(-ret));
            return 1;
        }
    }
    if (a.framemd5_dir) {
        int ret = g_mkdir_with_parents(a.framemd5_dir, 0755) < 0 ? -errno
                  : vr_framemd5_set_new(a.framemd5_dir, &a.md5_set);
        if (ret < 0) {
            g_printerr("videoredir-client: cannot use %s: %s\n", a.framemd5_dir, strerror(-ret));
            return 1;
        }
    }
    if (a.latency_path && !(a.latency = fopen(a.latency_path, "w"))) {
        g_printerr("videoredir-client: cannot open %s: %s\n", a.latency_path, g_strerror(errno));
        return 1;
    }
    if (a.decode_threads < 0 || a.decode_threads > 16) {
        g_printerr("videoredir-client: --decode-threads must be 0 to 16\n");
        return 2;
    }
    struct vr_client_config cfg = { .hwdec = hwdec, .slow_us = (uint32_t)MAX(a.slow_us, 0),
                                    .decode_threads = (uint32_t)a.decode_threads,
                                    .decode_thread = !a.decode_inline,
                                    .slow_from = (uint32_t)MAX(a.slow_from, 0),
                                    .slow_frames = (uint32_t)MAX(a.slow_frames, 0) };
    if (a.max_streams < 0 || a.max_streams > (gint)VR_MAX_STREAMS) {
        g_printerr("videoredir-client: --max-streams wants 1..%u\n", VR_MAX_STREAMS);
        return 2;
    }
    cfg.max_streams = (uint32_t)a.max_streams;
    if (a.codecs) {
        gchar **names = g_strsplit(a.codecs, ",", -1);
        for (gchar **n = names; *n; n++) {
            enum vr_codec codec = vr_codec_from_name(g_strstrip(*n));
            if (codec == VR_CODEC_NONE) {
                g_printerr("videoredir-client: unknown codec '%s' in --codecs\n", *n);
                g_strfreev(names);
                return 2;
            }
            cfg.codec_mask |= 1u << codec;
        }
        g_strfreev(names);
    }
    if (a.audio_latency < 0 || a.audio_latency > 2000) {
        g_printerr("videoredir-client: bad --audio-latency %d (0-2000 ms)\n", a.audio_latency);
        return 2;
    }
    if (a.av_path && !(a.av_log = fopen(a.av_path, "w"))) {
        g_printerr("videoredir-client: cannot open %s: %s\n", a.av_path, g_strerror(errno));
        return 1;
    }
    if (a.present_path && !(a.present_log = fopen(a.present_path, "w"))) {
        g_printerr("videoredir-client: cannot open %s: %s\n", a.present_path, g_strerror(errno));
        return 1;
    }
    struct vr_client_callbacks cb = { .log = client_log, .event = on_event, .frame = on_frame,
                                      .output = on_output, .wakeup = on_decoded };
    if (vr_client_create(&cfg, &cb, &a, &a.client) < 0) {
        g_printerr("videoredir-client: out of memory\n");
        return 1;
    }
    if (a.record_path) {
        int ret = vr_record_writer_open(a.record_path, VR_RECORD_SIDE_CLIENT, NULL, NULL, &a.rec);
        if (ret < 0) {
            g_printerr("videoredir-client: cannot create %s: %s\n", a.record_path, g_strerror(-ret));
            return 1;
        }
        vr_conn_set_tap(vr_client_conn(a.client), vr_record_tap, a.rec);
    }

#ifdef VR_HAVE_SDL
    if (a.sdl) {
        struct vr_sdl_config sc = { .title = "videoredir-client", .keep_aspect = true, .x = 0, .y = 0 };
        unsigned w = 0, h = 0;
        if (a.sdl_size && (sscanf(a.sdl_size, "%ux%u", &w, &h) != 2 || !w || !h)) {
            g_printerr("videoredir-client: bad --sdl-size %s (want WxH)\n", a.sdl_size);
            return 2;
        }
        sc.width = w;
        sc.height = h;
        if (a.present_name && vr_sdl_present_from_name(a.present_name, &sc.present) < 0) {
            g_printerr("videoredir-client: unknown --present %s (want gl, sw, renderer or auto)\n", a.present_name);
            return 2;
        }
        sc.log = client_log;
        sc.log_user = &a;
        int ret = vr_sdl_create(&sc, &a.window);
        if (ret < 0) {
            g_printerr("videoredir-client: cannot open an SDL window: %s\n", vr_sdl_error());
            return 1;
        }
        g_message("sdl: window open, presenter %s", vr_sdl_presenter_name(a.window));
        /* Hardware frames go to the presenter as they are only when it
         * imports them; for every other presenter the decoder downloads. */
        vr_client_set_keep_hw(a.client, vr_sdl_can_import(a.window));
        a.sdl_timer = g_timeout_add(15, sdl_timer, &a);
    }
#endif
    a.loop = g_main_loop_new(NULL, FALSE);
    a.session = spice_session_new();
    g_object_set(a.session, "uri", a.uri, NULL);
    g_signal_connect(a.session, "channel-new", G_CALLBACK(channel_new), &a);
    struct vr_spiceport_callbacks pcb = { .opened = port_opened, .error = port_error };
    a.port = vr_spiceport_new(a.session, a.port_name, vr_client_conn(a.client), &pcb, &a);
    if (!a.no_audio) {
        struct vr_spiceaudio_config acfg = { .speaker = TRUE,
                                             .speaker_latency_ms = (guint)a.audio_latency,
                                             .played = on_audio_played, .user = &a };
        a.audio = vr_spiceaudio_new(a.session, a.client, &acfg);
    } else
        g_object_set(a.session, "enable-audio", FALSE, NULL);
    if (!spice_session_connect(a.session)) {
        g_printerr("videoredir-client: cannot connect to %s\n", a.uri);
        return 1;
    }
    a.start_us = vr_time_us();
    if (vr_stats_report_new(a.start_us, &a.report) < 0) {
        g_printerr("videoredir-client: out of memory\n");
        return 1;
    }
    g_timeout_add(50, on_tick, &a);
    g_message("connecting to %s", a.uri);
    g_main_loop_run(a.loop);

    if (a.wake_id)
        g_source_remove(a.wake_id);
    if (a.geometry_timer)
        g_source_remove(a.geometry_timer);
    for (int i = 0; i < 2; i++)
        if (a.sig_ids[i])
            g_source_remove(a.sig_ids[i]);
    if (a.usr1_id)
        g_source_remove(a.usr1_id);
#ifdef VR_HAVE_SDL
    if (a.sdl_idle)
        g_source_remove(a.sdl_idle);
    if (a.sdl_timer)
        g_source_remove(a.sdl_timer);
    vr_presenter_destroy(a.window);
    g_free(a.sdl_size);
    g_free(a.present_name);
#endif
    finish(&a);
    vr_spiceport_free(a.port);
    if (a.audio) {
        int64_t delay = 0;
        bool on = vr_client_audio_delay(a.client, &delay);
        if (on)
            g_message("audio: %" G_GUINT64_FORMAT " buffers played, frames shown with the sound "
                      "(audio path %.1f ms)", vr_spiceaudio_buffers(a.audio), (double)delay / 1e3);
        else
            g_message("audio: %" G_GUINT64_FORMAT " buffers played", vr_spiceaudio_buffers(a.audio));
    }
    vr_spiceaudio_free(a.audio);
    spice_session_disconnect(a.session);
    if (a.display)
        g_object_unref(a.display);
    g_object_unref(a.session);
    if (a.rec) {
        vr_conn_set_tap(vr_client_conn(a.client), NULL, NULL);
        int ret = vr_record_writer_close(a.rec);
        if (ret < 0) {
            g_printerr("videoredir-client: cannot write %s: %s\n", a.record_path, g_strerror(-ret));
            a.exit_code = 1;
        }
    }
    g_free(a.record_path);
    vr_stats_report_free(a.report);
    vr_client_destroy(a.client);
    g_main_loop_unref(a.loop);
    g_free(a.uri);
    g_free(a.port_name);
    g_free(a.framemd5_path);
    g_free(a.framemd5_dir);
    g_free(a.snapshot_at_path);
    g_free(a.geometry_dir);
    if (a.latency && fclose(a.latency) != 0 && a.exit_code == 0) {
        g_printerr("videoredir-client: cannot write %s\n", a.latency_path);
        a.exit_code = 1;
    }
    g_free(a.latency_path);
    if (a.present_log && fclose(a.present_log) != 0 && a.exit_code == 0) {
        g_printerr("videoredir-client: cannot write %s\n", a.present_path);
        a.exit_code = 1;
    }
    g_free(a.present_path);
    if (a.av_log && fclose(a.av_log) != 0 && a.exit_code == 0) {
        g_printerr("videoredir-client: cannot write %s\n", a.av_path);
        a.exit_code = 1;
    }
    g_free(a.av_path);
    g_free(a.codecs);
    g_free(a.snapshot_path);
    g_free(a.hwdec_name);
    return a.exit_code;
}
