/*
 * videoredir-host: the host stand-in. A SPICE server (libspice-server) on
 * loopback with a QXL desktop and a videoredir port whose guest end is a
 * unix socket, so the whole chain runs without a VM.
 */
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/transport.h>

#include "host.h"

struct stop {
    GMainLoop *loop;
    guint ids[2]; /* the GLib sources of SIGINT and SIGTERM */
};

/* SIGINT or SIGTERM, dispatched by the loop: leave it for the cleanup (the
 * guest and clients are told, the socket file goes). Both sources are
 * removed at once, which gives the signals their default action back: a
 * second one while shutting down ends the program at once. */
static gboolean on_signal(gpointer user)
{
    struct stop *stop = user;
    for (int i = 0; i < 2; i++) {
        if (stop->ids[i])
            g_source_remove(stop->ids[i]);
        stop->ids[i] = 0;
    }
    g_message("stop signal: shutting down (a second signal exits at once)");
    g_main_loop_quit(stop->loop);
    return G_SOURCE_REMOVE;
}

static void on_play_done(void *user, const struct vr_host_player_stats *st)
{
    printf("videoredir-host: play done frames=%u dropped=%u start_us=%" G_GUINT64_FORMAT
           " end_us=%" G_GUINT64_FORMAT "\n", st->frames, st->dropped, st->start_us, st->end_us);
    fflush(stdout);
}

#ifdef VR_HOST_XDESKTOP
static void on_x_lost(void *loop)
{
    g_main_loop_quit(loop);
}
#endif

static int parse_streaming(const char *s)
{
    if (!s || strcmp(s, "off") == 0)
        return SPICE_STREAM_VIDEO_OFF;
    if (strcmp(s, "all") == 0)
        return SPICE_STREAM_VIDEO_ALL;
    if (strcmp(s, "filter") == 0)
        return SPICE_STREAM_VIDEO_FILTER;
    return -1;
}

static int parse_image_compression(const char *s)
{
    static const struct { const char *name; int mode; } modes[] = {
        { "off", SPICE_IMAGE_COMPRESSION_OFF }, { "auto_glz", SPICE_IMAGE_COMPRESSION_AUTO_GLZ },
        { "auto_lz", SPICE_IMAGE_COMPRESSION_AUTO_LZ }, { "quic", SPICE_IMAGE_COMPRESSION_QUIC },
        { "glz", SPICE_IMAGE_COMPRESSION_GLZ }, { "lz", SPICE_IMAGE_COMPRESSION_LZ },
        { "lz4", SPICE_IMAGE_COMPRESSION_LZ4 },
    };
    if (!s)
        return SPICE_IMAGE_COMPRESSION_AUTO_GLZ;
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++)
        if (!strcmp(s, modes[i].name))
            return modes[i].mode;
    return -1;
}

static int parse_wan(const char *s)
{
    if (!s || !strcmp(s, "auto"))
        return SPICE_WAN_COMPRESSION_AUTO;
    if (!strcmp(s, "never"))
        return SPICE_WAN_COMPRESSION_NEVER;
    if (!strcmp(s, "always"))
        return SPICE_WAN_COMPRESSION_ALWAYS;
    return -1;
}

int main(int argc, char **argv)
{
    int port = 5930, status = 1;
    char *port_name = NULL, *sock = NULL, *size = NULL, *desktop = NULL, *addr = NULL;
    char *x_display = NULL;
    char *guest_tcp = NULL, tcp_bound[128] = "";
    char *play = NULL, *play_at = NULL, *play_size = NULL, *streaming = NULL, *video_codecs = NULL;
    int play_loops = 1;
    char *marker = NULL, *cover = NULL, *marker_move = NULL, *image_comp = NULL, *jpeg_wan = NULL;
    struct vr_host_extras *extras = NULL;
    struct vr_host_player *player = NULL;
    char *audio_fifo = NULL, *audio_comp = NULL;
    int audio_latency = 40;
    struct vr_host_audio *audio = NULL;
    GOptionEntry entries[] = {
        { "spice-port", 'p', 0, G_OPTION_ARG_INT, &port, "SPICE TCP port (default 5930)", "N" },
        { "addr", 0, 0, G_OPTION_ARG_STRING, &addr, "address to listen on (default 127.0.0.1)", "ADDR" },
        { "port-name", 0, 0, G_OPTION_ARG_STRING, &port_name,
          "name of the port channel (default " VR_DEFAULT_PORT_NAME ")", "NAME" },
        { "guest-socket", 's', 0, G_OPTION_ARG_FILENAME, &sock,
          "unix socket the guest side connects to (default /tmp/videoredir-guest.sock)", "PATH" },
        { "guest-tcp", 0, 0, G_OPTION_ARG_STRING, &guest_tcp,
          "also accept the guest end on TCP HOST:PORT (port 0: any; for a Windows guest side under "
          "Wine: videoredir-capture.exe --device tcp:HOST:PORT); the ready line adds guest-tcp=HOST:PORT",
          "HOST:PORT" },
        { "size", 0, 0, G_OPTION_ARG_STRING, &size, "desktop size (default 1280x800)", "WxH" },
        { "desktop", 0, 0, G_OPTION_ARG_FILENAME, &desktop,
          "desktop picture (any image FFmpeg reads; default: built in)", "IMAGE" },
        { "x-display", 0, 0, G_OPTION_ARG_STRING, &x_display,
          "show the screen of this X server (e.g. Xvfb :5) as the desktop, following its "
          "damage; the desktop size is the X screen's (not with --size or --desktop)", "DISPLAY" },
        { "play", 0, 0, G_OPTION_ARG_FILENAME, &play,
          "decode CLIP and paint its frames onto the desktop at its frame rate, as a guest "
          "player decoding locally would (starts when a client connects)", "CLIP" },
        { "play-at", 0, 0, G_OPTION_ARG_STRING, &play_at, "where --play paints (default 320,200)", "X,Y" },
        { "play-size", 0, 0, G_OPTION_ARG_STRING, &play_size, "size --play paints (default: the clip's)", "WxH" },
        { "play-loops", 0, 0, G_OPTION_ARG_INT, &play_loops, "times to play the clip (default 1, 0 = forever)", "N" },
        { "streaming-video", 0, 0, G_OPTION_ARG_STRING, &streaming,
          "spice-server's own video detection and re-encoding: off, filter or all (default off, as in QEMU without streaming-video=)", "MODE" },
        { "video-codecs", 0, 0, G_OPTION_ARG_STRING, &video_codecs,
          "spice-server's encoders for streaming, e.g. spice:mjpeg;gstreamer:h264 (default: the server's)", "LIST" },
        { "marker", 0, 0, G_OPTION_ARG_STRING, &marker,
          "paint on the desktop a player's placeholder frame with the placement marker of CODE "
          "(a 1280x720 frame scaled bilinearly into the rectangle)", "CODE@X,Y,WxH" },
        { "cover", 0, 0, G_OPTION_ARG_STRING, &cover,
          "paint a flat window (light grey) over the desktop, after --marker", "X,Y,WxH" },
        { "marker-move", 0, 0, G_OPTION_ARG_STRING, &marker_move,
          "SECONDS after --marker is painted, move it (the player window moved and resized)",
          "SECONDS@X,Y,WxH" },
        { "image-compression", 0, 0, G_OPTION_ARG_STRING, &image_comp,
          "spice-server's image compression: off, auto_glz, auto_lz, quic, glz, lz, lz4 "
          "(default: the server's, auto_glz)", "MODE" },
        { "audio-fifo", 0, 0, G_OPTION_ARG_FILENAME, &audio_fifo,
          "a sound card: a SPICE playback channel playing what the guest side writes into the "
          "FIFO PATH (made if missing, and then removed on exit) as 48 kHz S16LE stereo", "PATH" },
        { "audio-latency", 0, 0, G_OPTION_ARG_INT, &audio_latency,
          "the sound card's output latency: it plays sound MS after it arrives (10-500, default 40)", "MS" },
        { "audio-compression", 0, 0, G_OPTION_ARG_STRING, &audio_comp,
          "on (Opus when the client takes it, QEMU's default) or off (raw PCM)", "on|off" },
        { "jpeg-wan-compression", 0, 0, G_OPTION_ARG_STRING, &jpeg_wan,
          "spice-server's lossy JPEG for photo-like images: auto, never, always (default: the "
          "server's, auto)", "MODE" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    /* stdout carries only the ready line: debug output goes to stderr too. */
    g_log_writer_default_set_use_stderr(TRUE);
    GOptionContext *ctx = g_option_context_new("- stand-in for QEMU: SPICE server with a videoredir port");
    g_option_context_set_summary(ctx,
        "Serves a desktop picture over SPICE (QXL) and a port channel whose guest end is a\n"
        "unix socket: videoredir-capture --device PATH talks to it as to /dev/virtio-ports/NAME.\n"
        "Prints 'videoredir-host: ready spice-port=N guest-socket=PATH' once listening.\n"
        "Logs with GLib (G_MESSAGES_DEBUG=videoredir-host for debug output).");
    g_option_context_set_description(ctx,
        "SIGINT (Ctrl-C) and SIGTERM stop it cleanly: the guest socket and the SPICE\n"
        "clients are closed, the socket file is removed, and the exit status is 0; a\n"
        "second signal while shutting down exits at once. Exit status 1 when it cannot\n"
        "start, 2 for bad options.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    uint32_t *pixels = NULL;
    GMainLoop *loop = NULL;
    SpiceServer *server = NULL;
    struct vr_host_display *display = NULL;
    struct vr_host_port *vport = NULL;
    unsigned w = 1280, h = 800;
    struct stop stop = { NULL, { 0, 0 } };
    char tail;
    struct vr_host_xdesktop *xdesk = NULL;
    bool x_lost = false;

    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "videoredir-host: %s (see --help)\n", err->message);
        status = 2;
        goto out;
    }
    if (argc > 1) {
        fprintf(stderr, "videoredir-host: unexpected argument '%s' (see --help)\n", argv[1]);
        status = 2;
        goto out;
    }
    if (size && (sscanf(size, "%ux%u%c", &w, &h, &tail) != 2 || w < 64 || h < 64 || w > 8192 ||
                 h > 8192)) {
        fprintf(stderr, "videoredir-host: bad --size %s (WxH, 64..8192)\n", size);
        status = 2;
        goto out;
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "videoredir-host: bad --spice-port %d\n", port);
        status = 2;
        goto out;
    }
    if (port_name && !*port_name) {
        fprintf(stderr, "videoredir-host: empty --port-name\n");
        status = 2;
        goto out;
    }
    if (!sock)
        sock = g_strdup("/tmp/videoredir-guest.sock");
    int px = 320, py = 200;
    unsigned pw = 0, ph = 0;
    if (play_at && sscanf(play_at, "%d,%d%c", &px, &py, &tail) != 2) {
        fprintf(stderr, "videoredir-host: bad --play-at %s (X,Y)\n", play_at);
        status = 2;
        goto out;
    }
    if (play_size && (sscanf(play_size, "%ux%u%c", &pw, &ph, &tail) != 2 || pw < 2 || ph < 2 ||
                      pw > 8192 || ph > 8192)) {
        fprintf(stderr, "videoredir-host: bad --play-size %s (WxH)\n", play_size);
        status = 2;
        goto out;
    }
    if (play_loops < 0) {
        fprintf(stderr, "videoredir-host: bad --play-loops %d\n", play_loops);
        status = 2;
        goto out;
    }
    int stream_mode = parse_streaming(streaming);
    if (stream_mode < 0) {
        fprintf(stderr, "videoredir-host: bad --streaming-video %s (off, filter or all)\n", streaming);
        status = 2;
        goto out;
    }

    if (x_display) {
#ifdef VR_HOST_XDESKTOP
        if (size || desktop) {
            fprintf(stderr, "videoredir-host: --x-display takes the X screen's size and picture: "
                            "no --size or --desktop with it\n");
            status = 2;
            goto out;
        }
        if (vr_host_xdesktop_open(x_display, &xdesk, &err) < 0) {
            fprintf(stderr, "videoredir-host: %s\n", err->message);
            goto out;
        }
        vr_host_xdesktop_size(xdesk, &w, &h);
        pixels = vr_host_xdesktop_grab(xdesk, &err);
#else
        fprintf(stderr, "videoredir-host: --x-display: built without X support (needs libx11, "
                        "libxdamage, libxfixes, libxext at configure time)\n");
        status = 2;
        goto out;
#endif
    } else {
        pixels = desktop ? vr_host_desktop_load(desktop, w, h, &err) : vr_host_desktop_builtin(w, h);
    }
    if (!pixels) {
        fprintf(stderr, "videoredir-host: %s\n", err->message);
        goto out;
    }
    if (vr_host_extras_new(pixels, w, h, marker, cover, marker_move, &extras, &err) < 0) {
        fprintf(stderr, "videoredir-host: %s\n", err->message);
        status = 2;
        goto out;
    }
    if (audio_latency < 10 || audio_latency > 500) {
        fprintf(stderr, "videoredir-host: bad --audio-latency %d (10-500 ms)\n", audio_latency);
        status = 2;
        goto out;
    }
    if (audio_comp && strcmp(audio_comp, "on") && strcmp(audio_comp, "off")) {
        fprintf(stderr, "videoredir-host: bad --audio-compression %s (on, off)\n", audio_comp);
        status = 2;
        goto out;
    }
    int image_mode = parse_image_compression(image_comp), jpeg_mode = parse_wan(jpeg_wan);
    if (image_mode < 0 || jpeg_mode < 0) {
        fprintf(stderr, "videoredir-host: bad --%s %s (see --help)\n",
                image_mode < 0 ? "image-compression" : "jpeg-wan-compression",
                image_mode < 0 ? image_comp : jpeg_wan);
        status = 2;
        goto out;
    }

    /* spice-server writes to client sockets with plain write(): a client
     * that vanishes with data in flight would kill us with SIGPIPE instead of
     * the EPIPE that spice-server handles (QEMU ignores it for the same reason). */
    signal(SIGPIPE, SIG_IGN);
    loop = g_main_loop_new(NULL, FALSE);
    /* From here on a signal ends the program through the cleanup below
     * (dispatched once the loop runs), so the socket file never stays. */
    stop.loop = loop;
    stop.ids[0] = g_unix_signal_add(SIGINT, on_signal, &stop);
    stop.ids[1] = g_unix_signal_add(SIGTERM, on_signal, &stop);
    server = spice_server_new();
    spice_server_set_addr(server, addr ? addr : "127.0.0.1", 0);
    spice_server_set_port(server, port);
    spice_server_set_noauth(server);
    spice_server_set_streaming_video(server, stream_mode);
    if (image_comp)
        spice_server_set_image_compression(server, (SpiceImageCompression)image_mode);
    if (jpeg_wan)
        spice_server_set_jpeg_compression(server, (spice_wan_compression_t)jpeg_mode);
    if (video_codecs && spice_server_set_video_codecs(server, video_codecs) != 0) {
        fprintf(stderr, "videoredir-host: spice-server takes none of --video-codecs %s\n", video_codecs);
        status = 2;
        goto out;
    }
    if (spice_server_init(server, &vr_host_core) != 0) {
        fprintf(stderr, "videoredir-host: cannot start the SPICE server on %s:%d (in use?)\n",
                addr ? addr : "127.0.0.1", port);
        goto out;
    }
    if (vr_host_display_start(server, w, h, pixels, &display) < 0) {
        fprintf(stderr, "videoredir-host: cannot add the QXL display\n");
        goto out;
    }
    g_clear_pointer(&pixels, g_free); /* the display keeps its own copy */
#ifdef VR_HOST_XDESKTOP
    if (xdesk)
        vr_host_xdesktop_start(xdesk, display, on_x_lost, loop);
#endif
    int ret = vr_host_port_start(server, port_name ? port_name : VR_DEFAULT_PORT_NAME, sock, &vport);
    if (ret < 0) {
        fprintf(stderr, "videoredir-host: cannot listen on %s: %s\n", sock, g_strerror(-ret));
        goto out;
    }
    if (guest_tcp && (ret = vr_host_port_listen_tcp(vport, guest_tcp, tcp_bound, sizeof(tcp_bound))) < 0) {
        fprintf(stderr, "videoredir-host: cannot listen on TCP %s: %s\n", guest_tcp, g_strerror(-ret));
        status = 2;
        goto out;
    }
    if (audio_fifo) {
        spice_server_set_playback_compression(server, !audio_comp || !strcmp(audio_comp, "on"));
        if (vr_host_audio_start(server, audio_fifo, (uint32_t)audio_latency, &audio, &err) < 0) {
            fprintf(stderr, "videoredir-host: --audio-fifo: %s\n", err->message);
            goto out;
        }
    }
    vr_host_extras_start(extras, display);
    if (play) {
        if (vr_host_player_start(display, play, px, py, pw, ph, (uint32_t)play_loops, on_play_done,
                                 NULL, &player, &err) < 0) {
            fprintf(stderr, "videoredir-host: %s\n", err->message);
            goto out;
        }
    }
    spice_server_vm_start(server);
    printf("videoredir-host: ready spice-port=%d guest-socket=%s%s%s\n", port, sock,
           guest_tcp ? " guest-tcp=" : "", tcp_bound);
    fflush(stdout);
    g_main_loop_run(loop);
#ifdef VR_HOST_XDESKTOP
    if (xdesk) {
        struct vr_host_xdesktop_stats st;
        vr_host_xdesktop_stats(xdesk, &st);
        x_lost = st.lost;
        g_message("X desktop: %" G_GUINT64_FORMAT " damage events, %" G_GUINT64_FORMAT
                  " updates, %" G_GUINT64_FORMAT " rectangles, %.1f Mpixel; %.2f ms per update "
                  "(longest %.2f ms), %" G_GUINT64_FORMAT " cut short by a full queue",
                  st.damage_events, st.updates, st.rects, (double)st.pixels / 1e6,
                  st.updates ? (double)st.busy_us / 1e3 / (double)st.updates : 0.0,
                  (double)st.max_us / 1e3, st.queue_full);
    }
#endif
    if (audio) {
        struct vr_host_audio_stats ast;
        vr_host_audio_stats(audio, &ast);
        g_message("sound card: %" G_GUINT64_FORMAT " bytes in, %" G_GUINT64_FORMAT
                  " periods to the client, %" G_GUINT64_FORMAT " with no client, %" G_GUINT64_FORMAT
                  " starts, %" G_GUINT64_FORMAT " underruns; periods %.2f ms late on average, "
                  "%.2f ms at most; %" G_GUINT64_FORMAT " realigns skipping %.1f ms",
                  ast.bytes_in, ast.periods_sent, ast.periods_dropped, ast.starts, ast.underruns,
                  ast.periods_sent + ast.periods_dropped
                      ? (double)ast.late_us_sum / 1e3 / (double)(ast.periods_sent + ast.periods_dropped)
                      : 0.0,
                  (double)ast.late_us_max / 1e3, ast.realigns, (double)ast.realigned_us / 1e3);
    }
    g_message("shutting down");
    spice_server_vm_stop(server);
    status = x_lost ? 1 : 0;

out:
    for (int i = 0; i < 2; i++)
        if (stop.ids[i])
            g_source_remove(stop.ids[i]);
    vr_host_extras_free(extras);
    vr_host_player_stop(player);
    vr_host_audio_stop(audio);
    vr_host_port_stop(vport);
    vr_host_display_stop(display);
#ifdef VR_HOST_XDESKTOP
    vr_host_xdesktop_close(xdesk); /* after the display: its draws point at nothing of ours */
#endif
    if (server)
        spice_server_destroy(server);
    if (loop)
        g_main_loop_unref(loop);
    g_free(pixels);
    g_clear_error(&err);
    g_option_context_free(ctx);
    g_free(port_name);
    g_free(sock);
    g_free(guest_tcp);
    g_free(size);
    g_free(desktop);
    g_free(x_display);
    g_free(addr);
    g_free(play);
    g_free(play_at);
    g_free(play_size);
    g_free(streaming);
    g_free(video_codecs);
    g_free(marker);
    g_free(cover);
    g_free(marker_move);
    g_free(image_comp);
    g_free(jpeg_wan);
    g_free(audio_fifo);
    g_free(audio_comp);
    return status;
}
