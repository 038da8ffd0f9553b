/*
 * vr_source (capture.h) for Windows: a table of demuxers, the first whose
 * probe accepts the file opens it. Elementary streams (Annex B H.264/HEVC,
 * IVF) go to the plain-C demuxer of the portable core; everything else (MP4
 * and what else the system has a media source for) to Media Foundation's
 * source reader.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/capture.h>

#include "../src/es.h"
#include "mf.h"

struct demuxer {
    const char *name;
    bool (*probe)(const uint8_t *head, size_t n);
    int (*open)(const char *path, void **impl, char *err, size_t errlen);
    void (*close)(void *impl);
    const struct vr_stream_start *(*stream_start)(const void *impl);
    const char *(*container)(const void *impl);
    int (*read)(void *impl, struct vr_au *au);
    int (*rewind)(void *impl);
    const char *(*error)(const void *impl);
};

struct vr_source {
    const struct demuxer *d;
    void *impl;
};

/* Thin casts from the typed calls to the table's. */
static int es_open(const char *path, void **impl, char *err, size_t errlen)
{
    return vr_es_open(path, (struct vr_es **)impl, err, errlen);
}
static void es_close(void *i) { vr_es_close(i); }
static const struct vr_stream_start *es_ss(const void *i) { return vr_es_stream_start(i); }
static const char *es_container(const void *i) { return vr_es_container(i); }
static int es_read(void *i, struct vr_au *au) { return vr_es_read(i, au); }
static int es_rewind(void *i) { return vr_es_rewind(i); }
static const char *es_error(const void *i) { return vr_es_error(i); }

static bool mf_probe(const uint8_t *head, size_t n) { return true; }
static int mf_open(const char *path, void **impl, char *err, size_t errlen)
{
    return vr_mf_open(path, (struct vr_mf **)impl, err, errlen);
}
static void mf_close(void *i) { vr_mf_close(i); }
static const struct vr_stream_start *mf_ss(const void *i) { return vr_mf_stream_start(i); }
static const char *mf_container(const void *i) { return "media-foundation"; }
static int mf_read(void *i, struct vr_au *au) { return vr_mf_read(i, au); }
static int mf_rewind(void *i) { return vr_mf_rewind(i); }
static const char *mf_error(const void *i) { return vr_mf_error(i); }

static const struct demuxer demuxers[] = {
    { "elementary-stream", vr_es_probe, es_open, es_close, es_ss, es_container, es_read, es_rewind,
      es_error },
    { "media-foundation", mf_probe, mf_open, mf_close, mf_ss, mf_container, mf_read, mf_rewind,
      mf_error },
};

int vr_source_open(const char *path, struct vr_source **out, char *err, size_t errlen)
{
    if (!path || !out)
        return -EINVAL;
    uint8_t head[64];
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    n = fread(head, 1, sizeof(head), f);
    fclose(f);
    struct vr_source *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(demuxers) / sizeof(demuxers[0]); i++) {
        if (!demuxers[i].probe(head, n))
            continue;
        s->d = &demuxers[i];
        int ret = s->d->open(path, &s->impl, err, errlen);
        if (ret < 0) {
            free(s);
            return ret;
        }
        *out = s;
        return 0;
    }
    free(s);
    return -ENOTSUP;
}

void vr_source_close(struct vr_source *s)
{
    if (!s)
        return;
    s->d->close(s->impl);
    free(s);
}

const struct vr_stream_start *vr_source_stream_start(const struct vr_source *s)
{
    return s->d->stream_start(s->impl);
}

const char *vr_source_container(const struct vr_source *s)
{
    return s->d->container(s->impl);
}

int vr_source_stream_index(const struct vr_source *s)
{
    return 0;
}

int vr_source_read(struct vr_source *s, struct vr_au *au)
{
    return s ? s->d->read(s->impl, au) : -EINVAL;
}

int vr_source_rewind(struct vr_source *s)
{
    return s ? s->d->rewind(s->impl) : -EINVAL;
}

const char *vr_source_error(const struct vr_source *s)
{
    return s ? s->d->error(s->impl) : "";
}
