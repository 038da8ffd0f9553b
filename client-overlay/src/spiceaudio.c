/*
 * The SPICE playback channel as the picture's clock (client-audio.h).
 *
 * spice-glib 0.42 shows no mm-time in its public API (the packets' time and
 * the session's mm-time are private); what an application sees is each
 * buffer as it arrives ("playback-data") and its own back end's delay. The
 * delay from the guest's sound card to the speaker is therefore estimated as
 * heard - received per buffer (vr_av_clock: the largest over a window, the
 * buffer least delayed on its way) plus the network's one-way delay (half
 * the port channel's PING/PONG round trip, the same path from the same
 * spice-server).
 */
#include <string.h>

#include "videoredir/client-audio.h"

struct _VrSpiceAudio {
    SpiceSession *session;
    struct vr_client *client;
    struct vr_spiceaudio_config cfg;
    gulong new_id, gone_id;
    SpicePlaybackChannel *channel; /* ref held */
    gulong sig[4];
    gint rate, channels;
    gboolean playing;
    uint64_t speaker_end_us; /* when what the speaker holds has been heard */
    uint64_t last_heard_us;  /* when the last buffer's first sample is heard */
    struct vr_av_clock clock;
    guint64 buffers;
};

static void on_start(SpicePlaybackChannel *ch, gint format, gint channels, gint rate, gpointer user)
{
    (void)ch;
    VrSpiceAudio *a = user;
    if (format != SPICE_AUDIO_FMT_S16 || channels < 1 || channels > 8 || rate < 8000 ||
        rate > 192000) {
        g_warning("audio: playback format %d, %d channels, %d Hz not followed", format, channels,
                  rate);
        a->playing = FALSE;
        return;
    }
    a->rate = rate;
    a->channels = channels;
    a->playing = TRUE;
    a->speaker_end_us = 0;
    vr_av_clock_reset(&a->clock);
    g_debug("audio: playback starts, %d channels at %d Hz", channels, rate);
}

static void on_stop(SpicePlaybackChannel *ch, gpointer user)
{
    (void)ch;
    VrSpiceAudio *a = user;
    a->playing = FALSE;
    g_debug("audio: playback stops");
}

static void on_data(SpicePlaybackChannel *ch, gpointer data, gint size, gpointer user)
{
    (void)ch;
    VrSpiceAudio *a = user;
    if (!a->playing || size <= 0)
        return;
    uint64_t now = vr_client_now_us(a->client);
    uint32_t frames = (uint32_t)size / (2u * (uint32_t)a->channels);
    uint64_t heard;
    if (a->cfg.speaker) {
        uint64_t earliest = now + (uint64_t)a->cfg.speaker_latency_ms * 1000u;
        heard = a->speaker_end_us > earliest ? a->speaker_end_us : earliest;
        a->speaker_end_us = heard + (uint64_t)frames * 1000000u / (uint64_t)a->rate;
    } else
        heard = now + (uint64_t)a->cfg.output_delay_ms * 1000u;
    a->buffers++;
    a->last_heard_us = heard;
    if (a->cfg.played)
        a->cfg.played(a->cfg.user, now, heard, data, frames, (uint32_t)a->channels,
                      (uint32_t)a->rate);
    int64_t delay;
    if (vr_av_clock_buffer(&a->clock, now, heard, &delay)) {
        uint32_t rtt = 0;
        vr_client_clock_offset(a->client, NULL, &rtt);
        vr_client_set_audio_delay(a->client, true, delay + rtt / 2);
    }
}

/* As an audio back end does: tell spice-glib the output delay, so the
 * session's multimedia time (SPICE's own video streams) is what is heard. */
static void on_get_delay(SpicePlaybackChannel *ch, gpointer user)
{
    VrSpiceAudio *a = user;
    uint64_t now = vr_client_now_us(a->client);
    if (a->cfg.speaker && a->playing && a->last_heard_us > now)
        spice_playback_channel_set_delay(ch, (guint32)((a->last_heard_us - now) / 1000u));
}

static void watch_channel(VrSpiceAudio *a, SpiceChannel *channel)
{
    if (!SPICE_IS_PLAYBACK_CHANNEL(channel) || a->channel)
        return;
    a->channel = g_object_ref(SPICE_PLAYBACK_CHANNEL(channel));
    a->sig[0] = g_signal_connect(channel, "playback-start", G_CALLBACK(on_start), a);
    a->sig[1] = g_signal_connect(channel, "playback-data", G_CALLBACK(on_data), a);
    a->sig[2] = g_signal_connect(channel, "playback-stop", G_CALLBACK(on_stop), a);
    a->sig[3] = g_signal_connect(channel, "playback-get-delay", G_CALLBACK(on_get_delay), a);
    if (a->cfg.speaker)
        spice_channel_connect(channel);
    g_debug("audio: following the playback channel");
}

static void unwatch_channel(VrSpiceAudio *a)
{
    if (!a->channel)
        return;
    for (int i = 0; i < 4; i++)
        g_signal_handler_disconnect(a->channel, a->sig[i]);
    g_clear_object(&a->channel);
    a->playing = FALSE;
}

static void on_channel_new(SpiceSession *s, SpiceChannel *channel, gpointer user)
{
    (void)s;
    watch_channel(user, channel);
}

static void on_channel_destroy(SpiceSession *s, SpiceChannel *channel, gpointer user)
{
    (void)s;
    VrSpiceAudio *a = user;
    if ((gpointer)channel == (gpointer)a->channel)
        unwatch_channel(a);
}

VrSpiceAudio *vr_spiceaudio_new(SpiceSession *session, struct vr_client *client,
                                const struct vr_spiceaudio_config *cfg)
{
    g_return_val_if_fail(SPICE_IS_SESSION(session) && client && cfg, NULL);
    VrSpiceAudio *a = g_new0(VrSpiceAudio, 1);
    a->session = g_object_ref(session);
    a->client = client;
    a->cfg = *cfg;
    vr_av_clock_reset(&a->clock);
    a->new_id = g_signal_connect(session, "channel-new", G_CALLBACK(on_channel_new), a);
    a->gone_id = g_signal_connect(session, "channel-destroy", G_CALLBACK(on_channel_destroy), a);
    GList *list = spice_session_get_channels(session);
    for (GList *l = list; l; l = l->next)
        watch_channel(a, l->data);
    g_list_free(list);
    return a;
}

guint64 vr_spiceaudio_buffers(const VrSpiceAudio *a)
{
    return a ? a->buffers : 0;
}

gboolean vr_spiceaudio_playing(const VrSpiceAudio *a)
{
    return a && a->playing;
}

void vr_spiceaudio_free(VrSpiceAudio *a)
{
    if (!a)
        return;
    unwatch_channel(a);
    g_signal_handler_disconnect(a->session, a->new_id);
    g_signal_handler_disconnect(a->session, a->gone_id);
    g_object_unref(a->session);
    g_free(a);
}
