/*
 * Internal to videoredir-capture.exe: the Media Foundation source reader as
 * a demuxer (compressed samples out, no decoder inserted). Same contract as
 * vr_source (capture.h); timestamps in 100 ns units (time base 1/10000000).
 */
#ifndef VR_CAPTURE_WIN32_MF_H
#define VR_CAPTURE_WIN32_MF_H

#include <stddef.h>

#include <videoredir/capture.h>

struct vr_mf;

/* Opens path with MFCreateSourceReaderFromURL and picks the first video
 * stream. Fails with -ENOTSUP and a reason naming the format when Media
 * Foundation offers only decoded pictures for it (Wine's winegstreamer does
 * so), -ENOENT/-EIO when it cannot open the file at all. */
int vr_mf_open(const char *path, struct vr_mf **out, char *err, size_t errlen);
void vr_mf_close(struct vr_mf *m);
const struct vr_stream_start *vr_mf_stream_start(const struct vr_mf *m);
int vr_mf_read(struct vr_mf *m, struct vr_au *au);
int vr_mf_rewind(struct vr_mf *m);
const char *vr_mf_error(const struct vr_mf *m);

#endif
