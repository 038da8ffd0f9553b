/*
 * Internal to vr_capture: a demuxer for elementary-stream files in plain C,
 * no libavformat: Annex B H.264 and HEVC (split into access units by their
 * NAL headers, coded size from the SPS) and IVF (VP8, VP9, AV1). Used where
 * libavformat is not there (the Windows build) and Media Foundation has no
 * source for such files. Same contract as vr_source (capture.h): the access
 * units and stream description it returns are borrowed from the object.
 */
#ifndef VR_CAPTURE_ES_H
#define VR_CAPTURE_ES_H

#include <stddef.h>
#include <stdint.h>

#include <videoredir/capture.h>

struct vr_es;

/* Whether the n first bytes of a file look like something vr_es reads
 * (IVF signature, or an Annex B start code and an H.264/HEVC NAL header). */
bool vr_es_probe(const uint8_t *p, size_t n);

/* Reads the whole file (at most 1 GiB) and parses its header / first
 * parameter sets. Returns 0 and *out, or a negative errno with a reason in
 * err (-ENOENT, -EIO, -EFBIG, -ENOTSUP not an elementary stream it knows,
 * -EINVAL no usable parameter set). */
int vr_es_open(const char *path, struct vr_es **out, char *err, size_t errlen);
/* The same over a file already in memory: takes ownership of data
 * (malloc'd; freed on failure too). For the fuzzer and tests. */
int vr_es_open_buffer(uint8_t *data, size_t len, struct vr_es **out, char *err, size_t errlen);
void vr_es_close(struct vr_es *e);
const struct vr_stream_start *vr_es_stream_start(const struct vr_es *e);
/* "h264", "hevc" or "ivf". */
const char *vr_es_container(const struct vr_es *e);
/* Next access unit: 1 with *au (borrowed until the next call), 0 at the end,
 * negative errno for a damaged file (reason from vr_es_error). Timestamps:
 * dts = access unit index at the nominal rate (IVF: the file's pts), pts
 * unknown for Annex B (the decoder reorders). */
int vr_es_read(struct vr_es *e, struct vr_au *au);
/* Back to the first access unit; timestamps continue after the last one. */
int vr_es_rewind(struct vr_es *e);
const char *vr_es_error(const struct vr_es *e);

#endif
