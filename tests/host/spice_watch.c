/*
 * vr-spice-watch: a spice-glib client that waits until the SPICE desktop
 * (the display channel's primary surface) shows what a test expects.
 *
 * Usage: vr-spice-watch [--timeout S] [--size WxH] [--ppm FILE] URI CHECK...
 *   CHECK  X,Y=RRGGBB   pixel X,Y is that colour
 *          X,Y!RRGGBB   pixel X,Y is not that colour
 * Checks are evaluated on every display update until all hold (exit 0) or
 * the timeout passes (exit 1, each failing check printed with what the
 * pixel shows). --ppm writes the surface at that moment. Exit 2: bad usage.
 */
#include <errno.h>
#include <spice-client.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct check {
    int x, y;
    uint32_t rgb;
    bool equal;
};

static SpiceChannel *display;
static struct check *checks;
static int n_checks, want_w, want_h;

static void channel_new(SpiceSession *s, SpiceChannel *ch, gpointer user)
{
    if (SPICE_IS_DISPLAY_CHANNEL(ch) && !display) {
        display = ch;
        spice_channel_connect(ch);
    }
}

static bool primary(SpiceDisplayPrimary *p)
{
    return display && spice_display_channel_get_primary(display, 0, p) && p->data &&
           p->format == SPICE_SURFACE_FMT_32_xRGB;
}

static uint32_t pixel(const SpiceDisplayPrimary *p, int x, int y)
{
    uint32_t v;
    memcpy(&v, p->data + (size_t)y * p->stride + (size_t)x * 4, 4);
    return v & 0xffffff;
}

/* All checks hold; with report, print those that do not. */
static bool holds(bool report)
{
    SpiceDisplayPrimary p;
    if (!primary(&p)) {
        if (report)
            fprintf(stderr, "vr-spice-watch: no primary surface\n");
        return false;
    }
    bool ok = true;
    if (want_w && ((int)p.width != want_w || (int)p.height != want_h)) {
        if (report)
            fprintf(stderr, "vr-spice-watch: surface %dx%d, want %dx%d\n", p.width, p.height,
                    want_w, want_h);
        ok = false;
    }
    for (int i = 0; i < n_checks; i++) {
        const struct check *c = &checks[i];
        if (c->x >= (int)p.width || c->y >= (int)p.height) {
            if (report)
                fprintf(stderr, "vr-spice-watch: %d,%d is outside %dx%d\n", c->x, c->y, p.width,
                        p.height);
            ok = false;
            continue;
        }
        uint32_t v = pixel(&p, c->x, c->y);
        if ((v == c->rgb) != c->equal) {
            if (report)
                fprintf(stderr, "vr-spice-watch: %d,%d shows %06X, want %s%06X\n", c->x, c->y, v,
                        c->equal ? "" : "anything but ", c->rgb);
            ok = false;
        }
    }
    return ok;
}

static int write_ppm(const char *path)
{
    SpiceDisplayPrimary p;
    if (!primary(&p))
        return -ENODATA;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -errno;
    fprintf(f, "P6\n%d %d\n255\n", p.width, p.height);
    for (int y = 0; y < (int)p.height; y++)
        for (int x = 0; x < (int)p.width; x++) {
            uint32_t v = pixel(&p, x, y);
            uint8_t rgb[3] = { (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
            fwrite(rgb, 1, 3, f);
        }
    return fclose(f) == 0 ? 0 : -EIO;
}

static bool parse_check(const char *s, struct check *c)
{
    char op, tail;
    unsigned rgb;
    if (sscanf(s, "%d,%d%c%6x%c", &c->x, &c->y, &op, &rgb, &tail) != 4 || c->x < 0 || c->y < 0 ||
        (op != '=' && op != '!'))
        return false;
    c->rgb = rgb;
    c->equal = op == '=';
    return true;
}

int main(int argc, char **argv)
{
    double timeout = 20;
    const char *ppm = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout = atof(argv[++i]);
        else if (!strcmp(argv[i], "--ppm") && i + 1 < argc)
            ppm = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc &&
                 sscanf(argv[i + 1], "%dx%d", &want_w, &want_h) == 2)
            i++;
        else
            goto usage;
    }
    if (i >= argc || timeout <= 0)
        goto usage;
    const char *uri = argv[i++];
    n_checks = argc - i;
    checks = g_new0(struct check, n_checks > 0 ? n_checks : 1);
    for (int k = 0; k < n_checks; k++)
        if (!parse_check(argv[i + k], &checks[k])) {
            fprintf(stderr, "vr-spice-watch: bad check '%s' (X,Y=RRGGBB or X,Y!RRGGBB)\n", argv[i + k]);
            g_free(checks);
            return 2;
        }

    SpiceSession *s = spice_session_new();
    g_object_set(s, "uri", uri, NULL);
    g_signal_connect(s, "channel-new", G_CALLBACK(channel_new), NULL);
    if (!spice_session_connect(s)) {
        fprintf(stderr, "vr-spice-watch: cannot connect to %s\n", uri);
        return 1;
    }
    gint64 end = g_get_monotonic_time() + (gint64)(timeout * 1e6);
    bool ok;
    while (!(ok = holds(false)) && g_get_monotonic_time() < end)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(2000);
    if (!ok)
        holds(true);
    if (ppm && write_ppm(ppm) < 0)
        fprintf(stderr, "vr-spice-watch: cannot write %s\n", ppm);
    spice_session_disconnect(s);
    g_object_unref(s);
    /* Let the channels' coroutines see the disconnect and free what they
     * hold (LeakSanitizer would report their buffers otherwise). */
    for (int k = 0; k < 100; k++) {
        while (g_main_context_iteration(NULL, FALSE)) {
        }
        g_usleep(1000);
    }
    g_free(checks);
    return ok ? 0 : 1;
usage:
    fprintf(stderr, "usage: vr-spice-watch [--timeout S] [--size WxH] [--ppm FILE] URI "
                    "[X,Y=RRGGBB | X,Y!RRGGBB]...\n");
    return 2;
}
