/*
 * videoredir for VLC 3: a "video decoder" module with a score above
 * avcodec's (and dav1d's) for H.264, HEVC, VP8, VP9 and AV1. It decodes
 * nothing: it sends each access unit VLC hands it, undecoded, through the
 * shared guest player session (videoredir/player.h) to the SPICE client,
 * and outputs placeholder pictures with the blocks' timestamps, so VLC's
 * video output paces them and shows the placeholder where the video is.
 *
 * Never a black hole. At open, when no client takes the stream (no port,
 * no client answering, codec refused) the module declines and VLC loads its
 * next decoder (avcodec). When the client goes away mid-stream, Decode
 * returns VLCDEC_RELOAD at the next keyframe (placeholders until then,
 * at most HANDOVER_MAX_US): VLC unloads this module and loads the next
 * decoder for that block; a variable on the decoder object makes the
 * reloaded Open decline at once, so VLC's own decoder plays the rest.
 *
 * Threads. Open runs on the input thread (or the decoder thread when VLC
 * reloads), Decode/Flush/Close on the decoder thread; the player's `show`
 * callback on the player's I/O thread, under sys->lock.
 *
 * Geometry: the module does not know VLC's window; it sends the video's
 * size at 0,0 (the marker pattern in the placeholder will give the client
 * the real place).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vlc_common.h>
#include <vlc_codec.h>
#include <vlc_input.h>
#include <vlc_plugin.h>
#include <vlc_rand.h>

#include <videoredir/marker.h>
#include <videoredir/player.h>

#include "format.h"
#include "placeholder.h"

#define CFG_PREFIX "videoredir-"
/* Set on the decoder object when the client went away: the reloaded Open
 * declines so VLC's own decoder takes over. */
#define VAR_FALLBACK "videoredir-fell-back"
/* Pictures held back to output them in presentation order (B-frames). */
#define REORDER_MAX 16
#define CLOCK_EVERY_US 1000000
#define CLOCK_SLACK_US 2000
/* After the client went away: how long to wait for a keyframe to hand over
 * to VLC's own decoder at. */
#define HANDOVER_MAX_US 2000000
/* At open: the port is opened at once; not open after this long means it
 * cannot be opened or it closed again (EOF). */
#define PORT_OPEN_US 250000

/* format.c maps VLC's colour enums by value. */
_Static_assert(COLOR_PRIMARIES_FCC1953 == 6 && TRANSFER_FUNC_HLG == 8 && COLOR_SPACE_BT2020 == 3,
               "VLC's colour enums changed: update format.c");

struct decoder_sys_t {
    struct vr_player *player;
    struct vr_stream_start start;
    uint32_t marker_code;   /* of the announced stream, in start.flags too */
    struct vr_vlc_placeholder placeholder; /* decoder thread */
    uint8_t *extradata;

    vlc_mutex_t lock; /* show, why, the clock fields */
    vlc_cond_t cond;
    enum vr_player_show show;
    char why[128];

    bool format_set;
    bool discont;     /* after a flush: the next keyframe carries DISCONT */
    bool drained;     /* the stream was finished at a drain */
    mtime_t gone_at;  /* when the client was seen gone, 0 = it is there */
    /* Presentation order: the pts of the pictures not output yet. */
    mtime_t pending[REORDER_MAX];
    unsigned n_pending, reorder_depth;
    mtime_t last_out;
    /* Last CLOCK: pts -> system date offset, rate and when. */
    mtime_t clock_offset, clock_sent_at;
    int clock_rate;
    bool paused;
    mtime_t paused_pts;
    vlc_object_t *input; /* whose "state" we follow, or NULL */
    uint64_t blocks, pictures;
};

/* ---------------------------------------------------------------------- */
/* Player callbacks (any thread).                                           */

static void player_log(void *user, enum vr_log_level level, const char *msg)
{
    decoder_t *dec = user;
    switch (level) {
    case VR_LOG_ERROR: msg_Err(dec, "%s", msg); break;
    case VR_LOG_WARNING: msg_Warn(dec, "%s", msg); break;
    case VR_LOG_INFO: msg_Info(dec, "%s", msg); break;
    default: msg_Dbg(dec, "%s", msg); break;
    }
}

static void player_show(void *user, enum vr_player_show where, const char *why)
{
    decoder_t *dec = user;
    decoder_sys_t *sys = dec->p_sys;
    vlc_mutex_lock(&sys->lock);
    sys->show = where;
    strncpy(sys->why, why, sizeof(sys->why) - 1);
    sys->why[sizeof(sys->why) - 1] = '\0';
    vlc_cond_signal(&sys->cond);
    vlc_mutex_unlock(&sys->lock);
    msg_Dbg(dec, "video shown by: %s (%s)", vr_player_show_name(where), why);
}

/* ---------------------------------------------------------------------- */
/* Placeholder pictures.                                                     */

/*
 * Marks the stream about to be announced (PROTOCOL.md 10.2): a new marker
 * code, never the previous one, in start.flags and in every placeholder
 * from now on. The geometry sent with it (the video's size at 0,0: VLC's
 * decoder does not know where the video output shows it) only serves until
 * the client finds the marker in the picture (the picture wins, 10.4), or
 * for a client without the MARKER feature.
 */
static void mark_stream(decoder_sys_t *sys)
{
    uint64_t in_use = sys->marker_code ? (uint64_t)1 << sys->marker_code : 0;
    uint64_t rnd = ((uint64_t)(uint32_t)vlc_mrand48() << 32) | (uint32_t)vlc_mrand48();
    sys->marker_code = vr_marker_code_pick(rnd, in_use);
    sys->start.flags = (uint16_t)((sys->start.flags & ~VR_STREAM_MARKER_MASK) | VR_STREAM_MARKED |
                                  (sys->marker_code << VR_STREAM_MARKER_SHIFT));
}

static int set_output_format(decoder_t *dec)
{
    decoder_sys_t *sys = dec->p_sys;
    if (sys->format_set)
        return 0;
    video_format_t *v = &dec->fmt_out.video;
    const video_format_t *in = &dec->fmt_in.video;
    dec->fmt_out.i_cat = VIDEO_ES;
    dec->fmt_out.i_codec = VR_VLC_PLACEHOLDER_CHROMA;
    video_format_Init(v, VR_VLC_PLACEHOLDER_CHROMA);
    v->i_width = in->i_width ? in->i_width : sys->start.width;
    v->i_height = in->i_height ? in->i_height : sys->start.height;
    v->i_visible_width = sys->start.width;
    v->i_visible_height = sys->start.height;
    v->i_x_offset = in->i_visible_width ? in->i_x_offset : 0;
    v->i_y_offset = in->i_visible_height ? in->i_y_offset : 0;
    v->i_sar_num = in->i_sar_num ? in->i_sar_num : 1;
    v->i_sar_den = in->i_sar_den ? in->i_sar_den : 1;
    v->i_frame_rate = in->i_frame_rate;
    v->i_frame_rate_base = in->i_frame_rate_base;
    v->orientation = in->orientation;
    v->primaries = in->primaries;
    v->transfer = in->transfer;
    v->space = in->space;
    v->b_color_range_full = in->b_color_range_full;
    if (decoder_UpdateVideoFormat(dec) != 0)
        return -1;
    sys->format_set = true;
    return 0;
}

static void output_picture(decoder_t *dec, mtime_t date)
{
    decoder_sys_t *sys = dec->p_sys;
    if (set_output_format(dec) != 0)
        return; /* no video output (e.g. preparsing): nothing to show */
    picture_t *pic = decoder_NewPicture(dec);
    if (!pic)
        return;
    vr_vlc_placeholder_draw(&sys->placeholder, pic, sys->marker_code);
    pic->date = date;
    pic->b_progressive = true;
    sys->pictures++;
    decoder_QueueVideo(dec, pic);
}

/* Holds pts back until reorder_depth later ones arrived, then outputs the
 * earliest: VLC gets pictures in presentation order, as from a decoder. */
static void queue_picture(decoder_t *dec, mtime_t pts)
{
    decoder_sys_t *sys = dec->p_sys;
    if (pts <= VLC_TS_INVALID)
        pts = sys->last_out > VLC_TS_INVALID ? sys->last_out + 1 : VLC_TS_0;
    sys->pending[sys->n_pending++] = pts;
    while (sys->n_pending > sys->reorder_depth) {
        unsigned m = 0;
        for (unsigned i = 1; i < sys->n_pending; i++)
            if (sys->pending[i] < sys->pending[m])
                m = i;
        mtime_t t = sys->pending[m];
        sys->pending[m] = sys->pending[--sys->n_pending];
        if (t < sys->last_out)
            t = sys->last_out; /* never backwards: VLC would drop it */
        sys->last_out = t;
        output_picture(dec, t);
    }
}

static void drain_pictures(decoder_t *dec)
{
    decoder_sys_t *sys = dec->p_sys;
    unsigned depth = sys->reorder_depth;
    sys->reorder_depth = 0;
    if (sys->n_pending > 0) {
        /* queue_picture with depth 0 outputs everything pending, in order. */
        sys->n_pending--;
        queue_picture(dec, sys->pending[sys->n_pending]);
    }
    sys->reorder_depth = depth;
}

/* ---------------------------------------------------------------------- */
/* Decoding.                                                                 */

/* Ties the stream's timestamps to the guest clock: VLC's display date of
 * pts (mdate() and vr_time_us are both CLOCK_MONOTONIC microseconds). Sent
 * when the relation moves (start, seek, rate, after a pause) and every
 * second. Decoder thread. */
static void update_clock(decoder_t *dec, mtime_t pts)
{
    decoder_sys_t *sys = dec->p_sys;
    if (pts <= VLC_TS_INVALID)
        return;
    mtime_t when = decoder_GetDisplayDate(dec, pts);
    if (when <= VLC_TS_INVALID)
        return;
    int rate = decoder_GetDisplayRate(dec);
    if (rate <= 0)
        rate = INPUT_RATE_DEFAULT;
    mtime_t offset = when - pts, now = mdate();
    vlc_mutex_lock(&sys->lock);
    if (sys->paused || (sys->clock_sent_at > 0 && rate == sys->clock_rate &&
                        llabs(offset - sys->clock_offset) < CLOCK_SLACK_US && now - sys->clock_sent_at < CLOCK_EVERY_US)) {
        vlc_mutex_unlock(&sys->lock);
        return;
    }
    uint64_t q16 = (uint64_t)65536 * INPUT_RATE_DEFAULT / (unsigned)rate;
    if (q16 > UINT32_MAX)
        q16 = UINT32_MAX;
    if (vr_player_set_clock(sys->player, pts - VLC_TS_0, (uint64_t)when, (uint32_t)q16) == 0) {
        sys->clock_offset = offset;
        sys->clock_rate = rate;
        sys->clock_sent_at = now;
    }
    vlc_mutex_unlock(&sys->lock);
}

/* The input's "state" variable changed (input thread): VLC tells a decoder
 * nothing about pause, but the client, which holds up to a second of
 * frames, must stop presenting them with VLC. Paused: the picture due now
 * stays (rate 0). Playing again: it is due now at the normal rate; the next
 * block's display date refines it. */
static int StateChanged(vlc_object_t *obj, const char *var, vlc_value_t old, vlc_value_t cur, void *data)
{
    decoder_t *dec = data;
    decoder_sys_t *sys = dec->p_sys;
    (void)obj, (void)var, (void)old;
    vlc_mutex_lock(&sys->lock);
    mtime_t now = mdate();
    if (cur.i_int == PAUSE_S && !sys->paused && sys->clock_sent_at > 0) {
        sys->paused = true;
        sys->paused_pts = now - sys->clock_offset;
        vr_player_set_clock(sys->player, sys->paused_pts - VLC_TS_0, (uint64_t)now, 0);
        msg_Dbg(dec, "paused: the client holds the picture");
    } else if (cur.i_int == PLAYING_S && sys->paused) {
        sys->paused = false;
        uint64_t q16 = (uint64_t)65536 * INPUT_RATE_DEFAULT / (unsigned)sys->clock_rate;
        vr_player_set_clock(sys->player, sys->paused_pts - VLC_TS_0, (uint64_t)now,
                            (uint32_t)(q16 > UINT32_MAX ? UINT32_MAX : q16));
        sys->clock_sent_at = 0; /* the next block sends VLC's own mapping */
        msg_Dbg(dec, "playing again");
    }
    vlc_mutex_unlock(&sys->lock);
    return VLC_SUCCESS;
}

static enum vr_player_show current_show(decoder_sys_t *sys)
{
    vlc_mutex_lock(&sys->lock);
    enum vr_player_show s = sys->show;
    vlc_mutex_unlock(&sys->lock);
    return s;
}

static int Decode(decoder_t *dec, block_t *block)
{
    decoder_sys_t *sys = dec->p_sys;
    if (!block) {
        /* Drain (end of the input, or before VLC reloads for a new format):
         * the client gets all of it and shows it before VLC ends. */
        drain_pictures(dec);
        if (!sys->drained) {
            vr_player_finish(sys->player, VR_REASON_EOS);
            sys->drained = true;
        }
        return VLCDEC_SUCCESS;
    }
    bool sendable = block->i_buffer > 0 && block->i_buffer <= VR_MAX_FRAME_DATA;
    uint32_t flags = sendable ? vr_vlc_frame_flags(&sys->start, block->p_buffer, block->i_buffer,
                                                   (block->i_flags & BLOCK_FLAG_TYPE_I) != 0)
                              : 0;
    if (sys->drained) {
        /* More after a drain: announce the stream again. */
        struct vr_geometry geom = { 0, { 0, 0, sys->start.width, sys->start.height },
                                    { 0, 0, sys->start.width, sys->start.height } };
        mark_stream(sys);
        if (vr_player_set_stream(sys->player, &sys->start, &geom, NULL) == 0)
            sys->drained = false;
        vlc_mutex_lock(&sys->lock);
        sys->clock_sent_at = 0;
        vlc_mutex_unlock(&sys->lock);
    } else if (current_show(sys) != VR_PLAYER_SHOW_CLIENT) {
        /* The client went away. VLC's next decoder gets this one block
         * only: hand over at a keyframe, so it starts with a clean picture,
         * unless none comes within HANDOVER_MAX_US (placeholders meanwhile). */
        mtime_t now = mdate();
        if (sys->gone_at == 0) {
            sys->gone_at = now;
            vlc_mutex_lock(&sys->lock);
            msg_Warn(dec, "the SPICE client no longer shows the video (%s): VLC decodes it from the next keyframe",
                     sys->why);
            vlc_mutex_unlock(&sys->lock);
        }
        if ((flags & VR_FRAME_KEY) || now - sys->gone_at >= HANDOVER_MAX_US) {
            drain_pictures(dec);
            msg_Info(dec, "handing the video over to VLC's own decoder (%s)",
                     (flags & VR_FRAME_KEY) ? "at a keyframe" : "no keyframe came");
            var_Create(dec, VAR_FALLBACK, VLC_VAR_BOOL);
            var_SetBool(dec, VAR_FALLBACK, true);
            return VLCDEC_RELOAD; /* the block goes to the next decoder, untouched */
        }
        sendable = false;
    } else {
        sys->gone_at = 0;
    }

    if (!sendable && sys->gone_at == 0) {
        msg_Warn(dec, "access unit of %zu bytes not sent", block->i_buffer);
    } else if (sendable) {
        sys->blocks++;
        update_clock(dec, block->i_pts);
        struct vr_au au = {
            .data = block->p_buffer,
            .len = (uint32_t)block->i_buffer,
            .flags = flags,
            .pts = block->i_pts > VLC_TS_INVALID ? block->i_pts - VLC_TS_0 : INT64_MIN,
            .dts = block->i_dts > VLC_TS_INVALID ? block->i_dts - VLC_TS_0 : INT64_MIN,
            .duration = block->i_length > 0 ? block->i_length : 0,
        };
        uint32_t extra = 0;
        if ((au.flags & VR_FRAME_KEY) && sys->discont) {
            extra = VR_FRAME_DISCONT;
            sys->discont = false;
        }
        int r = vr_player_push(sys->player, &au, extra);
        if (r < 0)
            msg_Warn(dec, "cannot send an access unit: %s", vlc_strerror_c(-r));
    }
    queue_picture(dec, block->i_pts > VLC_TS_INVALID ? block->i_pts : block->i_dts);
    block_Release(block);
    return VLCDEC_SUCCESS;
}

static void Flush(decoder_t *dec)
{
    decoder_sys_t *sys = dec->p_sys;
    vr_player_flush(sys->player);
    sys->n_pending = 0;
    sys->last_out = VLC_TS_INVALID;
    sys->discont = true;
    vlc_mutex_lock(&sys->lock);
    sys->clock_sent_at = 0;
    vlc_mutex_unlock(&sys->lock);
}

/* ---------------------------------------------------------------------- */
/* Open / close.                                                             */

static void destroy_sys(decoder_sys_t *sys)
{
    vr_player_destroy(sys->player);
    vlc_cond_destroy(&sys->cond);
    vlc_mutex_destroy(&sys->lock);
    free(sys->extradata);
    vr_vlc_placeholder_free(&sys->placeholder);
    free(sys);
}

/* The port path as the player resolves it: the option, $VIDEOREDIR_DEVICE,
 * else /dev/virtio-ports/<port name>. Caller frees. */
static char *port_path(decoder_t *dec)
{
    char *dev = var_InheritString(dec, CFG_PREFIX "device");
    if (dev && *dev)
        return dev;
    free(dev);
    const char *env = getenv(VR_PLAYER_DEVICE_ENV);
    if (env && *env)
        return strdup(env);
    char *name = var_InheritString(dec, CFG_PREFIX "port-name");
    char *path = NULL;
    if (asprintf(&path, "/dev/virtio-ports/%s", name && *name ? name : VR_PLAYER_DEFAULT_PORT) < 0)
        path = NULL;
    free(name);
    return path;
}

/* Waits until the client streams the video (true) or clearly will not:
 * the session failed (refused, no common version, no answer), the port is
 * not open (a virtio port reads EOF while no SPICE client has the port
 * channel open, and the player then retries only every 500 ms), no client
 * answered the hello within hello_ms, or wait_ms passed. */
static bool wait_for_client(decoder_t *dec, int64_t hello_ms, int64_t wait_ms)
{
    decoder_sys_t *sys = dec->p_sys;
    mtime_t start = mdate();
    bool taken = false, seen_open = false;
    vlc_mutex_lock(&sys->lock);
    for (;;) {
        if (sys->show == VR_PLAYER_SHOW_CLIENT) {
            taken = true;
            break;
        }
        mtime_t now = mdate();
        struct vr_player_stats st;
        vlc_mutex_unlock(&sys->lock);
        vr_player_get_stats(sys->player, &st);
        vlc_mutex_lock(&sys->lock);
        const char *why = NULL;
        seen_open |= st.port_open;
        if (st.state == VR_GUEST_FAILED)
            why = "the client did not take it";
        else if (!st.port_open && (seen_open || now - start >= PORT_OPEN_US))
            why = "the port is closed (in a VM: no SPICE client has the channel open)";
        else if ((st.state == VR_GUEST_CLOSED || st.state == VR_GUEST_HELLO) && now - start >= hello_ms * 1000)
            why = st.port_open ? "no client answered" : "the port did not open";
        else if (now - start >= wait_ms * 1000)
            why = "no answer in time";
        if (why) {
            snprintf(sys->why, sizeof(sys->why), "%s, %s", why, vr_guest_state_name(st.state));
            break;
        }
        vlc_cond_timedwait(&sys->cond, &sys->lock, now + 20000);
    }
    vlc_mutex_unlock(&sys->lock);
    return taken;
}

static int Open(vlc_object_t *obj)
{
    decoder_t *dec = (decoder_t *)obj;
    if (dec->fmt_in.i_cat != VIDEO_ES)
        return VLC_EGENERIC;
    const es_format_t *fmt = &dec->fmt_in;
    struct vr_vlc_format f = {
        .fourcc = fmt->i_codec,
        .width = fmt->video.i_width,
        .height = fmt->video.i_height,
        .visible_width = fmt->video.i_visible_width,
        .visible_height = fmt->video.i_visible_height,
        .frame_rate = fmt->video.i_frame_rate,
        .frame_rate_base = fmt->video.i_frame_rate_base,
        .primaries = (int)fmt->video.primaries,
        .transfer = (int)fmt->video.transfer,
        .space = (int)fmt->video.space,
        .full_range = fmt->video.b_color_range_full,
        .extra = fmt->p_extra,
        .extra_len = fmt->i_extra > 0 ? (size_t)fmt->i_extra : 0,
    };
    struct vr_stream_start start;
    int r = vr_vlc_stream_start(&f, &start);
    if (r == -ENOTSUP)
        return VLC_EGENERIC; /* not a codec the wire carries */
    if (!var_InheritBool(dec, CFG_PREFIX "enable")) {
        msg_Dbg(dec, "videoredir is turned off (--no-videoredir-enable)");
        return VLC_EGENERIC;
    }
    /* Only a decoder that plays an input: one opened for transcoding
     * (--sout '#transcode') or by another module must really decode. */
    vlc_object_t *input = dec->obj.parent;
    if (!input || (var_Type(input, "state") & VLC_VAR_CLASS) != VLC_VAR_INTEGER) {
        msg_Dbg(dec, "not a playback decoder (%s): VLC decodes", input ? input->obj.object_type : "no parent");
        return VLC_EGENERIC;
    }
    if (var_Type(dec, VAR_FALLBACK) != 0 && var_GetBool(dec, VAR_FALLBACK)) {
        msg_Dbg(dec, "the client went away: VLC's own decoder plays this stream");
        return VLC_EGENERIC;
    }
    if (r == -EINVAL) {
        msg_Dbg(dec, "video size not known yet: declining until VLC's packetizer found it");
        return VLC_EGENERIC;
    }
    if (r < 0) {
        msg_Warn(dec, "cannot describe the stream: %s: VLC decodes it", vlc_strerror_c(-r));
        return VLC_EGENERIC;
    }

    char *path = port_path(dec);
    if (!path)
        return VLC_ENOMEM;
    if (access(path, F_OK) != 0) {
        msg_Info(dec, "no videoredir port at %s: VLC decodes the video", path);
        free(path);
        return VLC_EGENERIC;
    }

    decoder_sys_t *sys = calloc(1, sizeof(*sys));
    if (!sys) {
        free(path);
        return VLC_ENOMEM;
    }
    vlc_mutex_init(&sys->lock);
    vlc_cond_init(&sys->cond);
    dec->p_sys = sys;
    if (start.extradata_len > 0) {
        sys->extradata = malloc(start.extradata_len);
        if (!sys->extradata) {
            free(path);
            destroy_sys(sys);
            return VLC_ENOMEM;
        }
        memcpy(sys->extradata, start.extradata, start.extradata_len);
        start.extradata = sys->extradata;
    }
    sys->start = start;
    sys->reorder_depth = (start.codec == VR_CODEC_H264 || start.codec == VR_CODEC_HEVC) ? 4 : 0;
    sys->last_out = VLC_TS_INVALID;
    sys->clock_rate = INPUT_RATE_DEFAULT;

    struct vr_player_config cfg = {
        .device = path,
        .software = "videoredir VLC module " VR_VERSION_STRING,
    };
    struct vr_player_callbacks cb = { .log = player_log, .show = player_show };
    r = vr_player_create(&cfg, &cb, dec, &sys->player);
    free(path);
    if (r < 0) {
        msg_Err(dec, "cannot start the videoredir session: %s", vlc_strerror_c(-r));
        destroy_sys(sys);
        return VLC_EGENERIC;
    }
    struct vr_geometry geom = { 0, { 0, 0, start.width, start.height }, { 0, 0, start.width, start.height } };
    mark_stream(sys);
    r = vr_player_set_stream(sys->player, &sys->start, &geom, NULL);
    if (r < 0 || !wait_for_client(dec, var_InheritInteger(dec, CFG_PREFIX "hello-wait"),
                                  var_InheritInteger(dec, CFG_PREFIX "wait"))) {
        if (r < 0)
            snprintf(sys->why, sizeof(sys->why), "%s", vlc_strerror_c(-r));
        msg_Info(dec, "no SPICE client takes the %s stream (%s): VLC decodes the video",
                 vr_codec_name(start.codec), sys->why);
        destroy_sys(sys);
        return VLC_EGENERIC;
    }
    msg_Info(dec, "%s %ux%u goes to the SPICE client through %s; VLC shows a placeholder with marker code %u",
             vr_codec_name(start.codec), start.width, start.height, vr_player_device_path(sys->player),
             (unsigned)sys->marker_code);
    sys->input = input;
    var_AddCallback(input, "state", StateChanged, dec);
    dec->pf_decode = Decode;
    dec->pf_flush = Flush;
    dec->fmt_out.i_cat = VIDEO_ES;
    dec->fmt_out.i_codec = VR_VLC_PLACEHOLDER_CHROMA;
    return VLC_SUCCESS;
}

static void Close(vlc_object_t *obj)
{
    decoder_t *dec = (decoder_t *)obj;
    decoder_sys_t *sys = dec->p_sys;
    struct vr_player_stats st;
    vr_player_get_stats(sys->player, &st);
    msg_Dbg(dec, "closing: %" PRIu64 " access units in, %" PRIu64 " sent, %" PRIu64 " dropped, %" PRIu64
                 " placeholder pictures",
            sys->blocks, st.guest.frames_sent, st.guest.frames_dropped, sys->pictures);
    if (sys->input)
        var_DelCallback(sys->input, "state", StateChanged, dec);
    destroy_sys(sys);
}

/* ---------------------------------------------------------------------- */

#define DEVICE_TEXT "Port device"
#define DEVICE_LONGTEXT                                                                                         \
    "Path of the videoredir port: a virtio port device, or the unix socket of the videoredir-host stand-in. " \
    "Empty: $VIDEOREDIR_DEVICE, else /dev/virtio-ports/<port name>."
#define PORT_TEXT "Port name"
#define PORT_LONGTEXT "Name of the virtio port (the SPICE port channel) used when no device is given."
#define ENABLE_TEXT "Redirect video to the SPICE client"
#define ENABLE_LONGTEXT "Send compressed video, undecoded, to the SPICE client when one takes it."
#define WAIT_TEXT "Wait for the client (ms)"
#define WAIT_LONGTEXT "How long opening a video waits for the client to accept it before VLC decodes it itself."
#define HELLO_TEXT "Wait for a client's hello (ms)"
#define HELLO_LONGTEXT "How long opening a video waits for any client to answer on the port."

vlc_module_begin()
    set_shortname("videoredir")
    set_description("videoredir: compressed video to the SPICE client")
    set_category(CAT_INPUT)
    set_subcategory(SUBCAT_INPUT_VCODEC)
    /* Above avcodec (70), its hardware variant (10001) and dav1d (10000). */
    set_capability("video decoder", 10100)
    set_callbacks(Open, Close)
    add_shortcut("videoredir")
    add_bool(CFG_PREFIX "enable", true, ENABLE_TEXT, ENABLE_LONGTEXT, false)
    add_string(CFG_PREFIX "device", NULL, DEVICE_TEXT, DEVICE_LONGTEXT, false)
    add_string(CFG_PREFIX "port-name", VR_PLAYER_DEFAULT_PORT, PORT_TEXT, PORT_LONGTEXT, true)
    add_integer_with_range(CFG_PREFIX "wait", 3000, 0, 60000, WAIT_TEXT, WAIT_LONGTEXT, true)
    add_integer_with_range(CFG_PREFIX "hello-wait", 1500, 0, 60000, HELLO_TEXT, HELLO_LONGTEXT, true)
vlc_module_end()
