/* Fuzz target: the elementary-stream demuxer (Annex B H.264/HEVC, IVF) of the
 * Windows build over arbitrary bytes: open, read everything, rewind, read a
 * few more. Must not crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "es.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    struct vr_es *e = NULL;
    char err[160];
    if (vr_es_open_buffer(copy, size, &e, err, sizeof(err)) < 0)
        return 0;
    struct vr_au au;
    int n = 0;
    while (vr_es_read(e, &au) == 1 && n < 100000) {
        if (au.len == 0 || !au.data)
            abort();
        n++;
    }
    vr_es_rewind(e);
    for (int i = 0; i < 3 && vr_es_read(e, &au) == 1; i++)
        ;
    vr_es_close(e);
    return 0;
}
