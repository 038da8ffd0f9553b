/*
 * vr-marker-frame: writes one I420 picture carrying the placement marker
 * (videoredir/marker.h) to stdout, as a guest element draws it into its
 * placeholder frames; tests take its md5 to recognise placeholders in what
 * a player displayed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/marker.h>

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    uint32_t code, w, h, full = 0;
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: vr-marker-frame CODE WIDTH HEIGHT [FULL_RANGE]\n"
               "Writes one I420 picture (Y, then U, then V, chroma (w+1)/2 x (h+1)/2) with the\n"
               "placement marker of CODE (1..63) to stdout; luma in limited range unless\n"
               "FULL_RANGE is 1.\n");
        return 0;
    }
    if ((argc != 4 && argc != 5) || parse_u32(argv[1], VR_MARKER_CODE_MAX, &code) ||
        parse_u32(argv[2], 16384, &w) || parse_u32(argv[3], 16384, &h) ||
        (argc == 5 && parse_u32(argv[4], 1, &full))) {
        fprintf(stderr, "usage: vr-marker-frame CODE WIDTH HEIGHT [FULL_RANGE] (--help)\n");
        return 2;
    }
    size_t cw = (w + 1) / 2, ch = (h + 1) / 2, ysz = (size_t)w * h, csz = cw * ch;
    uint8_t *buf = malloc(ysz + 2 * csz);
    if (!buf) {
        fprintf(stderr, "vr-marker-frame: out of memory\n");
        return 1;
    }
    int r = vr_marker_draw_i420(code, w, h, (int)full, buf, w, buf + ysz, cw, buf + ysz + csz, cw);
    if (r < 0) {
        fprintf(stderr, "vr-marker-frame: cannot draw code %u at %ux%u: %s\n", code, w, h, strerror(-r));
        free(buf);
        return 1;
    }
    int ok = fwrite(buf, 1, ysz + 2 * csz, stdout) == ysz + 2 * csz && fflush(stdout) == 0;
    free(buf);
    if (!ok) {
        fprintf(stderr, "vr-marker-frame: write failed\n");
        return 1;
    }
    return 0;
}
