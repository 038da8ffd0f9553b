/*
 * Writes the fuzz seed corpus: one file per sample message (msg_util.h),
 * encoded. With --check, compares the files in DIR with what it would write,
 * so that ctest notices a corpus that went stale after a format change.
 *
 *   gen_corpus DIR           (re)write DIR/NN-name.bin
 *   gen_corpus --check DIR   exit 1 if a file is missing or differs
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg_util.h"
#include "videoredir/protocol.h"

static int check_file(const char *path, const uint8_t *buf, long n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "gen_corpus: %s: missing\n", path);
        return -1;
    }
    uint8_t old[8192];
    size_t got = fread(old, 1, sizeof(old), f);
    fclose(f);
    if (got != (size_t)n || memcmp(old, buf, (size_t)n) != 0) {
        fprintf(stderr, "gen_corpus: %s: differs from the encoder's output\n", path);
        return -1;
    }
    return 0;
}

static int write_file(const char *path, const uint8_t *buf, long n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int check = argc == 3 && strcmp(argv[1], "--check") == 0;
    if (argc != 2 + check || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: %s [--check] DIR\n"
                        "Writes (or checks) the protocol fuzz seed corpus in DIR.\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1 + check];
    int failed = 0;
    for (int i = 0; i < VR_SAMPLE_COUNT; i++) {
        struct vr_msg m;
        const char *stem = vr_sample_msg(i, &m);
        uint8_t buf[8192];
        long n = vr_msg_encode(&m, buf, sizeof(buf));
        if (n < 0) {
            fprintf(stderr, "gen_corpus: sample %s does not encode: %ld\n", stem, n);
            return 1;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%02d-%s.bin", dir, i, stem);
        if ((check ? check_file(path, buf, n) : write_file(path, buf, n)) < 0)
            failed = 1;
    }
    if (!failed)
        printf("%s %d corpus files in %s\n", check ? "checked" : "wrote", VR_SAMPLE_COUNT, dir);
    return failed;
}
