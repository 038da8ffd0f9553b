/* Tiny test helpers: count failures, keep going. */
#ifndef VR_TEST_CHECK_H
#define VR_TEST_CHECK_H
#include <stdio.h>

static int vr_checks, vr_failures;
#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        vr_checks++;                                                            \
        if (!(cond)) {                                                          \
            vr_failures++;                                                      \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)
#define CHECK_DONE()                                                            \
    (printf("%d passed, %d failed\n", vr_checks - vr_failures, vr_failures), vr_failures != 0)
#endif
