/*
 * videoredir client: what a front end reports about its streams — the
 * statistics lines, one framemd5 file per stream, the composited snapshot
 * and the A/V log — shared by videoredir-client and any other front end
 * built on vr_client. Everything here reads the vr_client through its public
 * calls, on the thread that drives it; nothing is thread-safe.
 */
#ifndef VIDEOREDIR_CLIENT_REPORT_H
#define VIDEOREDIR_CLIENT_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <videoredir/client.h>

/* The slot and statistics of the stream with this id that is live (not
 * ended). Returns false when there is none. slot and st may be NULL. */
bool vr_client_find_stream(const struct vr_client *c, uint32_t stream_id, uint32_t *slot,
                           struct vr_client_stream_stats *st);

/* --- Statistics lines ---------------------------------------------------- */

/* Rates since the previous line, and send -> presented latency percentiles
 * of the frames presented in between. Owned by the caller. */
struct vr_stats_report;

/* now_us: vr_time_us() of the start (the first rates are measured from it). */
int vr_stats_report_new(uint64_t now_us, struct vr_stats_report **out);
void vr_stats_report_free(struct vr_stats_report *r);

/* A stream was accepted (VR_CLIENT_EV_STREAM_START) at now_us: its first
 * shown frame is timed from here. */
void vr_stats_report_stream_started(struct vr_stats_report *r, const struct vr_client *c,
                                    uint32_t stream_id, uint64_t now_us);

/* A frame of stream_id was presented (VR_CLIENT_EV_PRESENT) at now_us: its
 * latency is kept for the next line. Returns the time from the stream's
 * start to now when this is its first frame shown, else -1. */
int64_t vr_stats_report_presented(struct vr_stats_report *r, const struct vr_client *c,
                                  uint32_t stream_id, uint64_t now_us);

/* Microseconds since the last line. */
uint64_t vr_stats_report_age(const struct vr_stats_report *r, uint64_t now_us);

/* Writes one 'stats:' line per live stream, and a last one for each stream
 * that ended since the previous call. presenter: the drawing back end's name
 * for the line, or NULL. */
void vr_stats_report_print(struct vr_stats_report *r, const struct vr_client *c, uint64_t now_us,
                           const char *presenter, FILE *out);

/* --- One framemd5 file per stream -------------------------------------- */

struct vr_framemd5_set;

/* DIR/stream-ID.framemd5, each opened at its stream's first frame; at most
 * VR_MAX_STREAMS files (frames of further streams are not written). The
 * folder must exist. */
int vr_framemd5_set_new(const char *dir, struct vr_framemd5_set **out);

/* Appends frame to its stream's file. Negative errno (file cannot be made)
 * or AVERROR (write failed). */
int vr_framemd5_set_write(struct vr_framemd5_set *s, uint32_t stream_id, const AVFrame *frame,
                          int tb_num, int tb_den);

/* Finishes and closes every file, frees s. Negative when one could not be
 * written completely. */
int vr_framemd5_set_close(struct vr_framemd5_set *s);

/* --- Snapshots ----------------------------------------------------------- */

/* The canvas a snapshot is drawn on: a copy of the desktop (x8r8g8b8 pixels
 * of width x height, stride bytes per row) when pixels is not NULL, else a
 * black canvas reaching the far corner of every placed video (at most
 * 8192x8192). NULL when out of memory. */
pixman_image_t *vr_snapshot_canvas(const struct vr_client *c, const uint8_t *pixels, uint32_t width,
                                   uint32_t height, size_t stride);

/* The videos as they are now (each stream's current frame in its place,
 * clipped by its visible region) on a transparent a8r8g8b8 layer of
 * width x height. Warnings go to log. NULL when out of memory. */
pixman_image_t *vr_snapshot_videos(const struct vr_client *c, uint32_t width, uint32_t height,
                                   vr_client_log_fn log, void *log_user);

/* canvas with videos composited over it, written as PNG to path. canvas is
 * modified. 0 or a negative AVERROR. */
int vr_snapshot_write(pixman_image_t *canvas, pixman_image_t *videos, const char *path);

/* --- A/V log (--av-log) -------------------------------------------------- */

/* 'A RECV_US HEARD_US FRAMES RATE ONSET PEAK': an audio buffer as played,
 * ONSET the index of the first sample louder than a quarter of full scale
 * (-1: none), PEAK the loudest. */
void vr_av_log_audio(FILE *out, uint64_t recv_us, uint64_t heard_us, const int16_t *pcm,
                     uint32_t frames, uint32_t channels, uint32_t rate);

/* 'V SHOWN_US STREAM PTS LUMA OFFSET_US AUDIO_DELAY_US' for the frame of
 * stream_id now shown (LUMA: mean of the first plane, every 4th pixel). */
void vr_av_log_frame(FILE *out, const struct vr_client *c, uint32_t stream_id);

/* 'D SHOWN_US X Y W H LUMA' when an area of at least 64x64 of the desktop
 * (x8r8g8b8) was drawn: the mean green of every 4th pixel. */
void vr_av_log_desktop(FILE *out, const uint8_t *pixels, uint32_t width, uint32_t height,
                       size_t stride, int x, int y, int w, int h);

#endif
