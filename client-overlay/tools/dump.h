/*
 * Stream dump for videoredir-replay --dump-stream: the access units of one
 * stream of a recording, undecoded, muxed with libavformat into a file
 * ffmpeg reads (Matroska unless the name's extension says otherwise), so
 * that FFmpeg's own decode of a recording can be compared with ours.
 *
 * Fed one guest -> client protocol message at a time (untrusted: messages
 * that do not decode are skipped and counted). Each STREAM_START of the
 * stream begins a new file: the first run is PATH, the n-th PATH-n (before
 * the extension: out.mkv, out-2.mkv, ...), so that a restart with other
 * parameters still gives files ffmpeg decodes. Timestamps are kept, except
 * that a jump backwards (FLUSH, DISCONT, or a hostile recording) is shifted
 * forward to stay monotonic, as every muxer requires. Not thread-safe.
 */
#ifndef VIDEOREDIR_TOOLS_DUMP_H
#define VIDEOREDIR_TOOLS_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many files (runs of the stream) per dump; later runs are skipped. */
#define VR_DUMP_MAX_SEGMENTS 100u

struct vr_dump;

struct vr_dump_config {
    const char *path;     /* output file; borrowed, must outlive the dump */
    bool has_stream_id;   /* false: the first stream started in the recording */
    uint32_t stream_id;
    /* Warnings and notes (the message is valid only during the call); NULL: none. */
    void (*log)(void *user, const char *msg);
    void *user;
};

struct vr_dump_stats {
    bool found;           /* a STREAM_START of the stream was seen */
    uint32_t stream_id;   /* the stream dumped (valid if found) */
    uint32_t segments;    /* files written */
    uint64_t packets;     /* access units written, all files */
    uint64_t skipped;     /* messages of the stream not written (undecodable, outside a run, ...) */
};

/* Creates a dump; nothing is written before the stream's STREAM_START.
 * Returns 0 and *out, -EINVAL (no path) or -ENOMEM. */
int vr_dump_create(const struct vr_dump_config *cfg, struct vr_dump **out);

/*
 * Feeds one guest -> client protocol message of len bytes (header
 * included; borrowed, only during the call). Returns 0, or a negative
 * AVERROR/errno when an output file cannot be written; that error is
 * sticky and nothing more is written.
 */
int vr_dump_feed(struct vr_dump *d, const uint8_t *msg, size_t len);

/* What has been written so far. */
void vr_dump_get_stats(const struct vr_dump *d, struct vr_dump_stats *st);

/* Finishes the open file (trailer) and frees d. Returns 0 or the first
 * output error (also one from vr_dump_feed). NULL is a no-op returning 0. */
int vr_dump_close(struct vr_dump *d);

#endif
