/*
 * videoredir client: the receiving end of a session, without I/O.
 *
 * A vr_client owns a vr_conn. Whoever owns the channel (the SpicePortChannel
 * adapter, a replay file, a test) moves bytes into vr_conn_feed() and drains
 * the conn's output. The client answers the guest (hello, accept/reject,
 * feedback, pong, keyframe requests), decodes every accepted stream with
 * libavcodec and hands out decoded frames. Everything from the guest is
 * treated as hostile: validated, capped, never trusted to be consistent.
 *
 * Also here: the framemd5 writer and the headless compositor.
 *
 * Threads: a vr_client, and everything here, is used from one thread, the
 * client's (the one that feeds its conn); nothing is thread-safe. With
 * vr_client_config.decode_thread each stream's decoder runs on a thread of
 * its own, inside the library: FRAMEs are only queued for it, so a decoder
 * slower than real time never keeps the client from answering the guest
 * (PONG, FEEDBACK, keyframe requests) while it works through a backlog.
 * Decoded frames come back to the client's thread: the callbacks.wakeup is
 * the only thing called on a decoder's thread, and the application answers
 * it by calling vr_client_dispatch() on the client's thread. Every other
 * callback runs on the client's thread, inside a call into the library.
 */
#ifndef VIDEOREDIR_CLIENT_H
#define VIDEOREDIR_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/codec_id.h>
#include <libavutil/frame.h>
#include <pixman.h>

#include <videoredir/protocol.h>
#include <videoredir/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Decoder back ends.                                                      */

/* Which back end to use: AUTO walks the table (hardware first, software last). */
enum vr_hwdec { VR_HWDEC_AUTO = 0, VR_HWDEC_NONE, VR_HWDEC_VAAPI, VR_HWDEC_VDPAU, VR_HWDEC_CUDA };

/* Parses "auto", "none", "vaapi", "vdpau", "cuda". Returns 0 or -EINVAL. */
int vr_hwdec_from_name(const char *name, enum vr_hwdec *out);

struct vr_decoder;

/* Log sink shared by the client's modules; msg is valid only during the call. */
enum vr_client_log { VR_CLOG_ERROR = 0, VR_CLOG_WARNING, VR_CLOG_INFO, VR_CLOG_DEBUG };
typedef void (*vr_client_log_fn)(void *user, enum vr_client_log level, const char *msg);

/*
 * Opens a decoder for the stream described by start (extradata is copied).
 * Back ends that cannot open say why through log, once each, and the next is
 * tried. Returns 0 and *out, -ENOTSUP if no back end decodes the codec,
 * -ENOMEM, or -EINVAL.
 */
int vr_decoder_open(const struct vr_stream_start *start, enum vr_hwdec hwdec,
                    vr_client_log_fn log, void *log_user, struct vr_decoder **out);
/* As vr_decoder_open, with threads decoding threads for a software decoder
 * (0: libavcodec picks by CPU count; vr_decoder_open uses 1, libavcodec's
 * default). Hardware back ends ignore it. */
int vr_decoder_open_threads(const struct vr_stream_start *start, enum vr_hwdec hwdec, int threads,
                            vr_client_log_fn log, void *log_user, struct vr_decoder **out);
void vr_decoder_close(struct vr_decoder *d);

/* Sends one access unit (data is copied). Returns 0 or a negative errno /
 * AVERROR for a decode error (the caller counts it and asks for a keyframe). */
int vr_decoder_send(struct vr_decoder *d, const struct vr_frame *f);
/* The access unit f as a refcounted packet (its data copied once, padded as
 * libavcodec wants): *out, freed by the caller (av_packet_free). Any thread.
 * Returns 0 or a negative AVERROR. */
struct AVPacket;
int vr_decoder_packet(const struct vr_frame *f, struct AVPacket **out);
/* Sends a packet of vr_decoder_packet (the decoder takes a reference: no
 * copy). Returns as vr_decoder_send. */
int vr_decoder_send_packet(struct vr_decoder *d, const struct AVPacket *pkt);
/* Signals end of stream: the remaining frames come out of _receive. */
int vr_decoder_drain(struct vr_decoder *d);
/* Next decoded frame (owned by the decoder, valid until the next call): a
 * software frame, or with vr_decoder_set_keep_hw (or the test hook
 * VIDEOREDIR_TEST_HWFRAMES) a hardware frame as decoded, which CPU readers
 * go through vr_frame_cpu for. Returns 0, -EAGAIN when it needs input,
 * AVERROR_EOF after a drain, or another negative value on error. */
int vr_decoder_receive(struct vr_decoder *d, const AVFrame **out);
/*
 * keep: hand out a hardware decoder's frames as they are (e.g. VA-API
 * surfaces a GL presenter imports with no copy) instead of downloading each
 * one; extra_frames surfaces are added to the decoder's pool for the frames
 * held beyond it (jitter buffer, presenters). Call before the first packet.
 * Default: off (every frame downloaded in the decoder). No effect on a
 * software decoder. Test hook, for tests only: the environment variable
 * VIDEOREDIR_TEST_HWFRAMES=vulkan at open makes every decoder upload its
 * software frames into a Vulkan frames context and hand those out, whatever
 * keep says (logged as a warning at open).
 */
void vr_decoder_set_keep_hw(struct vr_decoder *d, bool keep, unsigned extra_frames);
/* Drops everything buffered (seek). */
void vr_decoder_flush(struct vr_decoder *d);
/* "h264 (software)" etc.; static for the decoder's life. */
const char *vr_decoder_name(const struct vr_decoder *d);
bool vr_decoder_is_hw(const struct vr_decoder *d);

/* libavcodec's id of a protocol codec (enum vr_codec), AV_CODEC_ID_NONE for
 * an unknown one. Any thread. */
enum AVCodecID vr_codec_av_id(uint16_t codec);

/* Codec list for the hello: every codec with a usable back end. Returns the
 * count written to caps (at most max). */
uint32_t vr_decoder_caps(enum vr_hwdec hwdec, vr_client_log_fn log, void *log_user,
                         struct vr_codec_cap *caps, uint32_t max);

/*
 * Hardware frames (AVFrame.hw_frames_ctx set) reach the consumers only when
 * asked for (vr_decoder_set_keep_hw, vr_client_config.keep_hw). Every CPU
 * reader takes the frame through vr_frame_cpu: a software frame is itself;
 * a hardware frame of a decoder is downloaded once, at the first call, into
 * a copy kept with the frame (shared by its clones, freed with the last);
 * one from elsewhere is downloaded into *scratch (allocated as needed, freed
 * by the caller with av_frame_free; may be NULL then -EINVAL). *out is
 * valid while f is. The download keeps the device's layout (NV12 / P010 for
 * VA-API; the frames' software format for the Vulkan test frames), as the
 * decoder's own download did. Returns 0 or a negative errno. The client's
 * thread (the cache is not locked).
 */
int vr_frame_cpu(const AVFrame *f, AVFrame **scratch, const AVFrame **out);
/* Whether f is a hardware frame (NULL: false). Any thread. */
bool vr_frame_is_hw(const AVFrame *f);

/* Process-wide counters of the hardware frame paths: downloads done by
 * vr_frame_cpu, and frames a presenter imported with no copy (it calls
 * vr_hwframe_note_import). Any thread. */
struct vr_hwframe_stats {
    uint64_t downloads;
    uint64_t imports;
};
void vr_hwframe_get_stats(struct vr_hwframe_stats *st);
void vr_hwframe_note_import(void);

/* ---------------------------------------------------------------------- */
/* Client session.                                                         */

struct vr_client;

enum vr_client_event {
    VR_CLIENT_EV_SESSION,      /* guest's hello received */
    VR_CLIENT_EV_STREAM_START, /* stream accepted (decoder open) */
    VR_CLIENT_EV_GEOMETRY,     /* geometry or visible region changed */
    VR_CLIENT_EV_STREAM_END,   /* stream stopped and drained (or dropped); after EOS
                                * only once its last queued frame was presented */
    VR_CLIENT_EV_PRESENT,      /* the stream's shown frame (vr_client_stream_frame)
                                * changed: redraw its area */
};

struct vr_client_callbacks {
    vr_client_log_fn log; /* may be NULL */
    /* A stream event. May be NULL. */
    void (*event)(void *user, enum vr_client_event ev, uint32_t stream_id);
    /* Every decoded frame of stream_id, in decode order, when it is decoded
     * (before scheduling: framemd5 sees all of them, also those dropped as
     * late later). Valid only during the call. May be NULL. */
    void (*frame)(void *user, uint32_t stream_id, const AVFrame *frame);
    /* Output was queued on the conn: the adapter should write it. May be NULL. */
    void (*output)(void *user);
    /* Monotonic clock in microseconds; NULL: vr_time_us. */
    uint64_t (*clock)(void *user);
    /* With decode_thread: a decoder's thread has output waiting (called
     * once until vr_client_dispatch took it all). Called on that decoder's
     * thread: it must only arrange for vr_client_dispatch to run soon on the
     * client's thread (e.g. g_idle_add, g_main_context_wakeup) and return.
     * May be NULL: then vr_client_present and vr_client_tick collect the
     * output (up to a tick late). */
    void (*wakeup)(void *user);
};

struct vr_client_config {
    enum vr_hwdec hwdec;
    uint32_t max_width, max_height; /* 0: 8192 */
    uint32_t max_streams;           /* 0: 4, at most VR_MAX_STREAMS */
    /* Pixel budget: the announced width x height of all active streams
     * together; a start that would exceed it is rejected (too-large).
     * Bounds the decoders' memory (SECURITY.md). 0: 8192 x 8192. */
    uint64_t max_total_pixels;
    const char *software;           /* in hello; NULL: "videoredir-client <version>" */
    /* Codecs offered in the hello and accepted: bit (1 << enum vr_codec).
     * 0: every codec a back end decodes. A start of another codec is
     * rejected (unsupported). */
    uint32_t codec_mask;
    /* Jitter buffer of a stream with CLOCK: decoded frames waiting for their
     * due time, at most this many / this many bytes (the oldest is dropped,
     * counted, when full). 0: 32 frames, 256 MiB. */
    uint32_t jitter_frames;
    uint64_t jitter_bytes;
    struct vr_conn_config conn;     /* zeros: defaults */
    /* For tests: after each frame fed to a decoder, sleep slow_us (a client
     * that decodes more slowly than real time), from the slow_from-th frame
     * of the session on (0: the first), for slow_frames frames (0: all the
     * rest). slow_us 0: off. */
    uint32_t slow_us, slow_from, slow_frames;
    /* Software decoding threads per stream: 0 or 1 one thread (the
     * default: no frame-threading delay), N > 1 libavcodec's frame/slice
     * threads (up to 16). More throughput on a busy multi-core client at
     * the price of N - 1 frames of decoder delay. */
    uint32_t decode_threads;
    /* Decode each stream on a thread of its own (see the top of this file):
     * at most VR_DECODE_QUEUE_MAX_UNITS (256) access units or 64 MiB wait
     * for a stream's decoder, and what waits is not acknowledged in
     * FEEDBACK, so a guest that honours the flow-control window holds them
     * to its window; beyond those limits FRAMEs are dropped (a keyframe is
     * asked for). false: decoded in the client's thread while the FRAME is
     * handled (deterministic: replay, fuzzers, unit tests). */
    bool decode_thread;
    /* Hand hardware decoders' frames to the callbacks and presenters as
     * they are (vr_decoder_set_keep_hw, with room in the surface pool for
     * the jitter buffer): for a presenter that imports them (GL with
     * DMA-BUF). false: downloaded in the decoder, every consumer gets
     * software frames. */
    bool keep_hw;
};

struct vr_client_stream_stats {
    uint32_t stream_id;
    uint64_t serial; /* 1, 2, ... per stream accepted by this client: tells a
                      * new stream from an old one with the same id */
    uint16_t codec;
    uint32_t width, height;
    uint32_t timebase_num, timebase_den; /* unit of the frames' pts */
    bool active, ended, hw;
    uint32_t stop_reason; /* enum vr_reason of the STREAM_STOP, once ended */
    char decoder[64];
    uint64_t frames_received, frames_decoded, frames_dropped, frames_lost;
    uint64_t decode_errors, bytes_received;
    uint32_t latency_us; /* last frame: guest send -> presented, via the clock offset */
    uint64_t send_us;    /* last frame presented: its send time, on the guest's clock */
    uint64_t frames_presented; /* frames that became the shown frame */
    uint64_t frames_late;      /* of frames_dropped: superseded before shown, or the
                                * jitter buffer overflowed */
    uint64_t frames_flushed;   /* queued frames a FLUSH discarded (not dropped) */
    uint32_t queue_depth;      /* decoded frames waiting for their due time */
    uint32_t decode_queue;     /* access units waiting for the decoder's thread */
    uint64_t decode_overflows; /* FRAMEs dropped: the decoder's queue was full */
    bool has_clock;            /* the guest sent CLOCK: frames wait for their time */
    uint32_t rate_q16;         /* last CLOCK's rate (0 paused) */
    uint64_t geometry_seq;     /* changes with every GEOMETRY / REGION */
    bool has_geometry;
    struct vr_geometry geometry;
    bool has_region; /* false: the whole content rectangle is visible */
    uint32_t n_rects;
    uint64_t frames_hw; /* of frames_decoded: hardware frames handed out */
};

/* st's decoder with the path its frames take, for statistics and logs:
 * "h264 (vaapi, zero-copy to GL)", "h264 (vaapi, downloaded)" (in the
 * decoder), "(..., downloaded on demand)" (hardware frames read by the CPU:
 * counted process-wide, vr_hwframe_get_stats), "h264 (software)". */
void vr_client_decoder_label(const struct vr_client_stream_stats *st, char *buf, size_t cap);

int vr_client_create(const struct vr_client_config *cfg, const struct vr_client_callbacks *cb,
                     void *user, struct vr_client **out);
/* Frees c, its conn and decoders. NULL is a no-op. */
void vr_client_destroy(struct vr_client *c);

/* The owned connection: feed it the channel's bytes, drain its output. */
struct vr_conn *vr_client_conn(struct vr_client *c);

/* The channel opened (send hello) or closed (drop all streams). */
void vr_client_channel_open(struct vr_client *c);
void vr_client_channel_closed(struct vr_client *c);

/* Runs timers (hello resend, ping, feedback, 5 s guest silence) and
 * presents what is due (vr_client_present). Call every ~50 ms. */
void vr_client_tick(struct vr_client *c);

/* Takes what the decoders' threads produced (decode_thread): each frame
 * goes to callbacks.frame and the scheduler (VR_CLIENT_EV_PRESENT if shown
 * at once), errors ask for a keyframe, a drained stream may end. Returns a
 * mask of the slots whose shown frame changed, like vr_client_present (which
 * calls it first). Cheap when nothing waits. The client's thread; the
 * answer to callbacks.wakeup. */
uint32_t vr_client_dispatch(struct vr_client *c);

bool vr_client_established(const struct vr_client *c);
/* Streams ever seen that ended with STREAM_STOP (any reason), those that
 * ended with reason EOS (drained: every frame sent was decoded), and streams
 * active now. Streams dropped because the guest went away count in none. */
uint32_t vr_client_streams_ended(const struct vr_client *c);
uint32_t vr_client_streams_eos(const struct vr_client *c);
/* Streams not ended yet: playing, or stopped at their end (EOS) with frames
 * still waiting for their time to be shown. */
uint32_t vr_client_streams_active(const struct vr_client *c);

/* Stats for the stream in slot i (0..VR_MAX_STREAMS-1). Returns 0, or
 * -ENOENT for an empty slot. */
int vr_client_stream_stats(const struct vr_client *c, uint32_t i, struct vr_client_stream_stats *st);

/* The shown frame of the stream in slot i (the last one presented), or NULL.
 * Valid until the next call into c. */
const AVFrame *vr_client_stream_frame(const struct vr_client *c, uint32_t i);

/* Changes vr_client_config.keep_hw for the streams started after the call
 * (a front end that learns late whether its presenter imports hardware
 * frames). The client's thread. */
void vr_client_set_keep_hw(struct vr_client *c, bool keep);

/* Visible region of the stream in slot i, in desktop coordinates, written to
 * out (an initialised region). Empty if hidden or no geometry yet. */
int vr_client_stream_region(const struct vr_client *c, uint32_t i, pixman_region32_t *out);

/*
 * Scheduler. A stream without CLOCK shows each frame as soon as it is
 * decoded. With CLOCK, decoded frames wait in the stream's jitter buffer
 * until their due time (guest clock mapped to ours with the PING/PONG
 * offset); when several are due only the newest is shown, the others are
 * dropped as late (stats and FEEDBACK.dropped). Paused (rate 0): the CLOCK's
 * pts is the position the guest's player shows (a pause, a frame step), so
 * the newest frame up to it is shown and later ones are held; the first
 * frame after a FLUSH shows anyway (the picture of a paused seek). FLUSH
 * discards the queue; after EOS the queued frames are still shown on time,
 * then the stream ends. vr_client_tick() also presents, so a presenter that
 * only ticks every 50 ms works; a smooth one sleeps until
 * vr_client_next_wakeup() and calls vr_client_present().
 */

/* Our clock (the callbacks' clock) in microseconds. */
uint64_t vr_client_now_us(const struct vr_client *c);

/* Our clock time at which the next queued frame is due (a presenter wakes
 * then), or UINT64_MAX if nothing is queued or everything is paused. */
uint64_t vr_client_next_wakeup(const struct vr_client *c);

/* Presents every frame due at now (our clock): emits VR_CLIENT_EV_PRESENT for
 * each stream whose shown frame changed and returns a bit mask of their slots
 * (bit i: slot i). */
uint32_t vr_client_present(struct vr_client *c, uint64_t now);

/* The frame of slot i that is due now, without presenting it: NULL if none.
 * Valid until the next call into c. */
const AVFrame *vr_client_frame_due(const struct vr_client *c, uint32_t i, uint64_t now);

/* Clock offset guest - client from PING/PONG. Returns false if unknown yet. */
bool vr_client_clock_offset(const struct vr_client *c, int64_t *offset_us, uint32_t *rtt_us);

/*
 * Picture on the sound's clock (PROTOCOL.md section 6.6.1). on: every frame
 * with CLOCK is due delay_us later than its guest time mapped to ours, the
 * audio path's delay from the guest's sound card to our speaker, so it is
 * shown when the sound of the same instant is heard. off (the default): due
 * at the mapped guest time, as without audio. A delay beyond +-10 s turns it
 * off. Same thread as the rest.
 */
void vr_client_set_audio_delay(struct vr_client *c, bool on, int64_t delay_us);
/* The delay set, and whether it is on. */
bool vr_client_audio_delay(const struct vr_client *c, int64_t *delay_us);

/*
 * The audio path's delay from what the client sees of the playback channel.
 * Each audio buffer is received at recv_us and its first sample heard at
 * heard_us (our clock; the audio back end's queue and device delay). The
 * estimate is the largest heard - received over the last
 * VR_AV_CLOCK_WINDOW buffers: buffers that left the host late or crossed the
 * network slowly only make it smaller. The caller adds the network's one-way
 * delay. Plain struct; init with vr_av_clock_reset (also after the playback
 * stopped). vr_av_clock_buffer stores the estimate in *delay_us and returns
 * whether VR_AV_CLOCK_MIN buffers were seen.
 */
#define VR_AV_CLOCK_WINDOW 200u /* 2 s of 10 ms buffers */
#define VR_AV_CLOCK_MIN 10u
struct vr_av_clock {
    int64_t d[VR_AV_CLOCK_WINDOW];
    uint32_t n, head;
    int64_t delay_us;
};
void vr_av_clock_reset(struct vr_av_clock *k);
bool vr_av_clock_buffer(struct vr_av_clock *k, uint64_t recv_us, uint64_t heard_us,
                        int64_t *delay_us);

/* Protocol errors seen (malformed, unknown, hostile). */
uint64_t vr_client_protocol_errors(const struct vr_client *c);

/*
 * The guest display changed in area (its coordinates): for streams started
 * with VR_STREAM_MARKED, looks for their placement marker there (the whole
 * surface when a marked stream is new) and, where found, takes the video's
 * rectangle and visible region from the picture instead of GEOMETRY/REGION
 * (vr_client_stream_stats, vr_client_stream_region; VR_CLIENT_EV_GEOMETRY
 * when they change). pixels: the display's primary surface, B G R x bytes,
 * width x height, stride bytes per row, borrowed for the call. Costs nothing
 * while no stream is marked. Returns 0 or a negative errno.
 */
int vr_client_display_invalidate(struct vr_client *c, const uint8_t *pixels, uint32_t width,
                                 uint32_t height, size_t stride, const struct vr_rect *area);

/* ---------------------------------------------------------------------- */
/* Viewport: guest desktop coordinates -> widget device pixels.            */

/*
 * The guest area src (desktop coordinates: a monitor's rectangle, or the
 * zoomed part of it) is shown scaled into dst (widget device pixels). Every
 * edge maps through one rounding function, so rectangles that touch in the
 * guest still touch after scaling: no seams, no overlaps.
 */
struct vr_viewport {
    struct vr_rect src;
    struct vr_rect dst;
};

/*
 * Sets vp to show src in a widget_w x widget_h widget: stretched to the whole
 * widget, or with keep_aspect the largest rectangle of src's aspect ratio,
 * centred (letterbox or pillarbox). An empty src or widget gives an empty dst.
 */
void vr_viewport_fit(struct vr_viewport *vp, const struct vr_rect *src, uint32_t widget_w,
                     uint32_t widget_h, bool keep_aspect);

/*
 * Maps the desktop rectangle in to widget pixels in out, NOT clipped to dst
 * (the content rectangle a frame is scaled into may reach past the widget).
 * out may be empty when in is thinner than a pixel after scaling. Returns 0,
 * -EINVAL (NULL, or an empty vp->src), or -ERANGE if out does not fit a vr_rect.
 */
int vr_viewport_map_rect(const struct vr_viewport *vp, const struct vr_rect *in, struct vr_rect *out);

/*
 * Maps the desktop region in to widget pixels in out (an initialised region;
 * in and out may be the same), clipped to vp->dst. Returns 0, -EINVAL or
 * -ENOMEM (out is then empty).
 */
int vr_viewport_map_region(const struct vr_viewport *vp, const pixman_region32_t *in,
                           pixman_region32_t *out);

/* ---------------------------------------------------------------------- */
/* Presenters: one interface, back ends behind it (headless here, SDL2 in   */
/* client-overlay/sdl, GTK in client-overlay/gtk).                         */

/* What a presenter shows of one stream slot, kept by vr_presenter_sync. */
struct vr_presenter_slot {
    bool live;                 /* a stream is in the slot */
    uint64_t serial;           /* the client's serial of that stream */
    uint64_t presented;        /* its frames_presented when last synced */
    uint64_t geometry_seq;     /* its geometry_seq when last synced */
    AVFrame *frame;            /* shown frame (a reference), or NULL */
    bool has_geometry;
    struct vr_rect content;    /* desktop coordinates */
    pixman_region32_t visible; /* desktop coordinates, inside content; empty: hidden */
};

struct vr_presenter;

/*
 * A presenter back end. The base (vr_presenter_sync) keeps the scene (slots)
 * and the damage; the notifications are told after the scene changed and
 * may be NULL. redraw repaints p->damage (desktop coordinates, mapped to the
 * output with p->viewport); the base clears the damage afterwards.
 */
struct vr_presenter_ops {
    const char *name;
    void (*frame_shown)(struct vr_presenter *p, uint32_t slot);
    void (*geometry_changed)(struct vr_presenter *p, uint32_t slot);
    void (*stream_gone)(struct vr_presenter *p, uint32_t slot);
    /* Returns 0 or a negative errno. */
    int (*redraw)(struct vr_presenter *p);
    /* Frees the back end's own state (the base is freed by the caller). */
    void (*destroy)(struct vr_presenter *p);
};

struct vr_presenter {
    const struct vr_presenter_ops *ops;
    struct vr_viewport viewport;       /* desktop -> output pixels */
    struct vr_presenter_slot slots[VR_MAX_STREAMS];
    pixman_region32_t damage;          /* desktop coordinates, to repaint */
    bool damage_output;                /* repaint the whole output, bars too */
    uint64_t redraws;                  /* redraw calls */
    uint64_t pixels_drawn;             /* output pixels of video drawn, by back ends */
};

/* Initialises the base of a back end's presenter (an identity viewport of
 * 0x0 until vr_presenter_set_viewport). */
void vr_presenter_init(struct vr_presenter *p, const struct vr_presenter_ops *ops);
/* Calls ops->destroy and frees the base's storage (not p itself). */
void vr_presenter_fini(struct vr_presenter *p);

/* Output resized or zoomed: everything is damaged (damage_output). */
void vr_presenter_set_viewport(struct vr_presenter *p, const struct vr_viewport *vp);

/* Marks the whole output (vp.src) damaged, e.g. after the desktop changed. */
void vr_presenter_damage_all(struct vr_presenter *p);

/*
 * Brings p up to date with c: streams gone, geometry and region changes, new
 * shown frames, each damaging the area concerned; then, if anything is
 * damaged, ops->redraw. A hidden stream (empty region) keeps its newest frame
 * but damages nothing. Returns 0 or redraw's error.
 */
int vr_presenter_sync(struct vr_presenter *p, const struct vr_client *c);

/*
 * The damaged part of slot's video in output pixels (an initialised region):
 * visible ∩ damage, mapped through the viewport and clipped to it. Empty when
 * there is nothing to draw. Returns 0 or a negative errno.
 */
int vr_presenter_slot_draw_region(const struct vr_presenter *p, uint32_t slot,
                                  pixman_region32_t *out);

/*
 * Headless presenter: composites into an x8r8g8b8 image of width x height
 * output pixels (background: an image of the desktop shown scaled like the
 * video, referenced; its transform and filter are set by the presenter;
 * NULL: black). Used by videoredir-client --snapshot, the
 * tests and the benchmarks. Free with vr_presenter_destroy.
 */
int vr_headless_create(uint32_t width, uint32_t height, pixman_image_t *background,
                       struct vr_presenter **out);
/* As vr_headless_create, drawing into canvas (x8r8g8b8 or a8r8g8b8, up to
 * 16384 pixels a side, referenced: e.g. a window's pixels, which must stay
 * valid while the presenter lives). Returns 0, -EINVAL or -ENOMEM. */
int vr_headless_create_for(pixman_image_t *canvas, pixman_image_t *background,
                           struct vr_presenter **out);
/* Replaces the headless presenter's desktop picture (referenced; NULL:
 * black); everything is redrawn at the next sync. Returns 0 or -EINVAL. */
int vr_headless_set_background(struct vr_presenter *p, pixman_image_t *background);
/* The headless presenter's image (owned by it). */
pixman_image_t *vr_headless_image(struct vr_presenter *p);
/* Frees a presenter made by a *_create function (fini + free). NULL ok. */
void vr_presenter_destroy(struct vr_presenter *p);
/* A w x h x8r8g8b8 checkerboard of square-pixel squares, dark first (a
 * stand-in desktop where none was recorded). NULL if out of memory or a size
 * is 0 or over 16384. Caller unrefs. */
pixman_image_t *vr_checker_desktop(uint32_t w, uint32_t h, uint32_t square, uint32_t dark, uint32_t light);

/* ---------------------------------------------------------------------- */
/* framemd5 writer (FFmpeg's own muxer, rawvideo packets as ffmpeg packs them). */

struct vr_framemd5;
/* path "-" is stdout. Returns 0 or a negative errno/AVERROR. */
int vr_framemd5_open(const char *path, struct vr_framemd5 **out);
/* Writes one line for frame (stream index 0); the header is written with the
 * first frame. time_base is the frame's pts unit. The line is in the file
 * when this returns (flushed per frame). */
int vr_framemd5_write(struct vr_framemd5 *w, const AVFrame *frame, int tb_num, int tb_den);
/* Writes the trailer and closes. Returns 0 or a negative value. NULL ok. */
int vr_framemd5_close(struct vr_framemd5 *w);

/* One frame of an FFmpeg framemd5 list: its md5 and its pts as written. */
struct vr_framemd5_entry {
    char md5[33];
    char pts[24];
};
/* Loads the frames of a framemd5 file (e.g. `ffmpeg -f framemd5`; comment
 * lines skipped): *out (caller frees with free()) and *count >= 1. At most
 * max frames. Returns 0, or a negative errno with a reason in err (errlen
 * bytes, may be NULL): the open error, -EINVAL for a bad line, -E2BIG for
 * more than max, -ENODATA for none, -ENOMEM. */
int vr_framemd5_load(const char *path, uint64_t max, struct vr_framemd5_entry **out, uint64_t *count,
                     char *err, size_t errlen);
/* md5 of frame as the framemd5 muxer computes it (the frame packed as
 * FFmpeg's rawvideo encoder packs it), in lower-case hex. Returns 0 or a
 * negative errno/AVERROR. */
int vr_frame_md5(const AVFrame *frame, char out[33]);

/* ---------------------------------------------------------------------- */
/* Replay: a client driven by a session recording (protocol/RECORDING.md). */
/*
 * Feeds the guest->client messages of a recording to a vr_client on the
 * recording's clock: time jumps from one record (or client tick, due frame,
 * mark) to the next, so a replay is deterministic and needs no network;
 * with pace it waits for each in real time. The client's output is
 * discarded, except that its PINGs are answered with the clock offset the
 * recording shows. Borrows the reader and the client (both outlive it); the
 * client must be created with a clock callback returning vr_replay_now().
 * One thread.
 */

struct vr_record_reader;
struct vr_replay;

#define VR_REPLAY_MAX_MARKS 1024

struct vr_replay_config {
    bool pace; /* real time (recording gaps over 10 s are cut to 10 s) */
    /* Called at recording time marks[i] (seconds since the origin; < 0: never),
     * before records stamped at that time are fed: e.g. a snapshot. */
    const double *marks; /* copied */
    uint32_t n_marks;
    void (*mark)(void *user, uint32_t index);
    /* Every guest -> client message, in order, before the client gets it
     * (valid during the call). May be NULL. */
    void (*message)(void *user, const uint8_t *data, size_t len);
    /* While pacing, about every 15 ms (e.g. a window's events); false ends
     * the replay. May be NULL. */
    bool (*idle)(void *user);
    /* Asked between steps (and when a pacing sleep is cut short, e.g. by a
     * signal): true ends the replay where it is. May be NULL. */
    bool (*stop)(void *user);
    vr_client_log_fn log; /* may be NULL */
    void *user;
};

struct vr_replay_stats {
    uint64_t records;   /* records read */
    uint64_t fed;       /* guest -> client messages given to the client */
    uint64_t fed_bytes;
};

/* client may be NULL: then only message() sees the records (nothing is
 * decoded, time is not paced). Returns 0 and *out, -EINVAL, -ENOMEM. */
int vr_replay_create(struct vr_record_reader *rd, struct vr_client *client,
                     const struct vr_replay_config *cfg, struct vr_replay **out);
/* NULL is a no-op. */
void vr_replay_destroy(struct vr_replay *r);
/* Replays to the end (then due frames are still shown, up to 10 s of
 * recording time), or until vr_replay_quit, stop() or idle() ends it.
 * Returns 0, or the reader's negative error for a damaged recording (what
 * came before the damage was replayed; vr_record_reader_error says why). */
int vr_replay_run(struct vr_replay *r);
/* Ends vr_replay_run after the current step; from any of the callbacks
 * (the client's too). */
void vr_replay_quit(struct vr_replay *r);
/* The client's clock now (microseconds, the recording's time base). */
uint64_t vr_replay_now(const struct vr_replay *r);
/* Seconds of recording replayed so far. */
double vr_replay_seconds(const struct vr_replay *r);
void vr_replay_get_stats(const struct vr_replay *r, struct vr_replay_stats *st);

/* ---------------------------------------------------------------------- */
/* Headless compositor.                                                    */

/*
 * Composites frame (any software pixel format swscale reads) scaled into
 * dst_rect of canvas (x8r8g8b8 or a8r8g8b8, opaque result), clipped to clip
 * (desktop coordinates; NULL: no clip) and to the canvas: one copy per
 * visible rectangle. Returns 0 (also when nothing is visible), -EINVAL,
 * -E2BIG if dst_rect is over 8192x8192 pixels, -ENOTSUP, -ENOMEM.
 */
int vr_composite_frame(pixman_image_t *canvas, const AVFrame *frame, const struct vr_rect *dst_rect,
                       pixman_region32_t *clip);

/*
 * The YUV -> RGB conversion of a frame, the same for every presenter (the
 * compositor above, the headless presenter, the GL shader): the matrix
 * (AVCOL_SPC_BT470BG for BT.601, AVCOL_SPC_BT709 or AVCOL_SPC_BT2020_NCL)
 * from the frame's colorspace or, unspecified, by size (BT.709 from 1280
 * wide or 720 high up, BT.601 below, as players guess); and whether its
 * samples are full range (JPEG, also the yuvj formats). Any thread.
 */
enum AVColorSpace vr_frame_matrix(const AVFrame *frame);
bool vr_frame_full_range(const AVFrame *frame);

/* Sets sws (made for frame's pixel format, to RGB) to convert with
 * vr_frame_matrix and vr_frame_full_range into full-range RGB. Returns 0 or
 * a negative errno. */
struct SwsContext;
int vr_sws_set_colorspace(struct SwsContext *sws, const AVFrame *frame);

/* Scales and converts frame to w x h BGRA (full-range RGB, frame's colour
 * standard and range) into dst (stride bytes per row), bilinear, through
 * *sws (a cached context; the caller frees it with sws_freeContext). A frame
 * of more than 8 bits per sample in 4:2:0 (yuv420p10, p010, ...) is first
 * rounded to 8-bit yuv420p into *narrow (reused; the caller frees it with
 * av_frame_free), which takes libswscale's fast 8-bit path: the output has
 * 8 bits per channel anyway. A hardware frame is read through vr_frame_cpu
 * (downloaded once): call it only for what is drawn. Returns 0 or a
 * negative errno (-ENOTSUP: a format libswscale cannot read). */
int vr_frame_to_bgra(struct SwsContext **sws, AVFrame **narrow, const AVFrame *frame, uint32_t w,
                     uint32_t h, uint8_t *dst, int stride);

/* Converts frame to format at the same size into *conv (allocated or
 * reallocated as needed; the caller frees it with av_frame_free), through
 * *sws (a cached context, freed by the caller with sws_freeContext); conv
 * keeps frame's colour standard and range. Returns 0 or a negative errno. */
int vr_frame_convert(struct SwsContext **sws, AVFrame **conv, const AVFrame *frame, int format);

/* Writes an x8r8g8b8/a8r8g8b8 pixman image as PNG. Returns 0 or negative. */
int vr_write_png(pixman_image_t *image, const char *path);

/* ---------------------------------------------------------------------- */
/* Placement found in the picture (PROTOCOL.md, section 10).               */

/*
 * Finds the placement markers (videoredir/marker.h) of watched codes in the
 * client's copy of the guest display, one invalidated area at a time, and
 * keeps per code the video's rectangle on the display (the whole frame, also
 * when part of it is covered) and its visible region (where the marker is
 * seen). One thread; a detector is not shared.
 */
struct vr_marker_detector;

struct vr_marker_stats {
    uint64_t scans;          /* vr_marker_detector_scan calls that did work */
    uint64_t pixels_scanned; /* pixels read, all passes */
    uint64_t candidates;     /* candidate cells decoded */
    uint64_t found;          /* markers found and fitted (one per code per scan) */
    uint64_t known;          /* candidates that continued a known marker (no refit) */
    uint64_t rows_unchanged; /* rows over a marker skipped: same pixels as last matched */
    uint64_t collapsed;      /* visible regions collapsed to their bounding box */
    uint64_t validated;      /* kept fits checked against the picture (border edges) */
    uint64_t refits;         /* kept fits found stale there and fitted again */
};

/* Creates a detector watching no code. Returns 0, -EINVAL or -ENOMEM. */
int vr_marker_detector_create(struct vr_marker_detector **out);
/* Frees d. NULL is a no-op. */
void vr_marker_detector_destroy(struct vr_marker_detector *d);

/* Starts (watch) or stops looking for code (1..63); either way forgets what
 * was found for it. Only watched codes are ever reported. Returns 0 or -EINVAL. */
int vr_marker_detector_watch(struct vr_marker_detector *d, uint32_t code, bool watch);

/* Forgets every rectangle and region found (a new display surface). */
void vr_marker_detector_reset(struct vr_marker_detector *d);

/*
 * Scans area (display coordinates, clipped to the surface) of the display
 * surface pixels (width x height, B G R x bytes per pixel, stride bytes per
 * row; read only, borrowed for the call). Updates every watched code whose
 * marker is found in the area or whose known rectangle meets it: the
 * rectangle from the marker's lattice, the visible region with the area
 * replaced by what matches there (at most VR_MAX_RECTS rectangles, else its
 * bounding box). Sets bit c of *changed (may be NULL) for each code whose
 * rectangle or region changed. A rectangle kept from earlier scans is
 * checked against the picture whenever the area meets it (edges near its
 * four borders measured to a fraction of a pixel) and fitted again when it
 * no longer matches, so that the fit follows what is on the display now.
 * Work is bounded by the area plus a fixed number of rows and columns per
 * code found (plus, when a kept fit is stale, the rows of its rectangle
 * until a cell is read there). Returns 0, -EINVAL (bad
 * arguments, a surface over 16384 pixels wide or tall) or -ENOMEM.
 */
int vr_marker_detector_scan(struct vr_marker_detector *d, const uint8_t *pixels, uint32_t width,
                            uint32_t height, size_t stride, const struct vr_rect *area,
                            uint64_t *changed);

/* What is known of code: its rectangle and a copy of its visible region into
 * visible (an initialised region); either may be NULL. Returns 0, -ENOENT
 * (not watched or not found yet) or -EINVAL. */
int vr_marker_detector_get(const struct vr_marker_detector *d, uint32_t code, struct vr_rect *rect,
                           pixman_region32_t *visible);

/* Counters since creation. */
void vr_marker_detector_stats(const struct vr_marker_detector *d, struct vr_marker_stats *st);

#ifdef __cplusplus
}
#endif

#endif
