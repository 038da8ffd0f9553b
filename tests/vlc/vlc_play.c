/*
 * vr-vlc-play: plays one file with libvlc in this process, like
 * `vlc -I dummy --play-and-exit`, so that a module built with ASan/UBSan
 * runs under them (an uninstrumented vlc cannot load it: with the runtime
 * preloaded, VLC 3 deadlocks in its gettext set-up). Also runs as root,
 * which the vlc program refuses.
 *
 * Lines on stdin control playback: "pause" (toggles), "seek SECONDS".
 * Exit status: 0 at the end of the file, 1 on a playback error, 2 on bad
 * usage or when libvlc does not start.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vlc/vlc.h>

static void usage(FILE *f)
{
    fprintf(f, "Usage: vr-vlc-play [VLC OPTION...] FILE [:ITEM-OPTION...]\n"
               "Plays FILE with libvlc (options as for vlc, e.g. --vout yuv --no-audio -vv; item options as\n"
               "after a file on vlc's command line, e.g. \":sout=#transcode{...}:std{...}\") and exits at its end.\n"
               "stdin: \"pause\" toggles pause, \"seek SECONDS\" seeks.\n"
               "Exit status: 0 played to the end, 1 playback error, 2 usage or libvlc error.\n");
}

/* Runs the complete lines read so far from stdin. */
static void control(libvlc_media_player_t *mp, char *buf, size_t *len)
{
    char *nl;
    while ((nl = memchr(buf, '\n', *len)) != NULL) {
        *nl = '\0';
        double secs;
        if (!strcmp(buf, "pause"))
            libvlc_media_player_pause(mp);
        else if (sscanf(buf, "seek %lf", &secs) == 1 && secs >= 0)
            libvlc_media_player_set_time(mp, (libvlc_time_t)(secs * 1000));
        else if (*buf)
            fprintf(stderr, "vr-vlc-play: unknown command \"%s\"\n", buf);
        size_t used = (size_t)(nl - buf) + 1;
        memmove(buf, nl + 1, *len - used);
        *len -= used;
    }
    if (*len >= 255)
        *len = 0; /* an overlong line: drop it */
}

/* VLC unloads its plugins at exit; what they leaked would then be reported
 * without a module or function name, neither readable nor suppressible.
 * Keeping them loaded (this program's dlclose wins over libc's for VLC's
 * calls) keeps the names. */
int dlclose(void *handle);
int dlclose(void *handle)
{
    (void)handle;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* The file is the last argument before the trailing item options. */
    int file = argc - 1;
    while (file > 1 && argv[file][0] == ':')
        file--;
    if (argv[file][0] == ':' || (argv[file][0] == '-' && argv[file][1] != '\0')) {
        usage(stderr);
        return 2;
    }
    libvlc_instance_t *vlc = libvlc_new(file - 1, (const char *const *)argv + 1);
    if (!vlc) {
        fprintf(stderr, "vr-vlc-play: libvlc did not start (bad option?)\n");
        return 2;
    }
    libvlc_media_t *m = libvlc_media_new_path(vlc, argv[file]);
    for (int i = file + 1; m && i < argc; i++)
        libvlc_media_add_option(m, argv[i]);
    libvlc_media_player_t *mp = m ? libvlc_media_player_new_from_media(m) : NULL;
    if (m)
        libvlc_media_release(m);
    if (!mp || libvlc_media_player_play(mp) != 0) {
        fprintf(stderr, "vr-vlc-play: cannot play %s\n", argv[file]);
        if (mp)
            libvlc_media_player_release(mp);
        libvlc_release(vlc);
        return 2;
    }
    int in_open = fcntl(0, F_GETFL) >= 0;
    if (in_open)
        fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    char buf[256];
    size_t len = 0;
    libvlc_state_t st;
    for (;;) {
        st = libvlc_media_player_get_state(mp);
        if (st == libvlc_Ended || st == libvlc_Error)
            break;
        struct pollfd p = { .fd = 0, .events = POLLIN };
        if (in_open && poll(&p, 1, 20) > 0) {
            ssize_t r = read(0, buf + len, sizeof(buf) - 1 - len);
            if (r > 0) {
                len += (size_t)r;
                control(mp, buf, &len);
            } else if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                in_open = 0; /* stdin closed: play on */
            }
        } else if (!in_open) {
            usleep(20000);
        }
    }
    libvlc_media_player_stop(mp);
    libvlc_media_player_release(mp);
    libvlc_release(vlc);
    return st == libvlc_Ended ? 0 : 1;
}
