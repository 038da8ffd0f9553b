/*
 * videoredir client: the SPICE playback channel as the clock of the picture.
 *
 * Watches a SpiceSession for its playback channel, follows every audio
 * buffer spice-glib hands out and keeps the vr_client's audio delay
 * (vr_client_set_audio_delay) at what the audio path from the guest's sound
 * card to the speaker takes, so frames are shown when the sound of the same
 * instant is heard (PROTOCOL.md section 6.6.1). Runs on the session's main
 * context; not thread-safe.
 */
#ifndef VIDEOREDIR_CLIENT_AUDIO_H
#define VIDEOREDIR_CLIENT_AUDIO_H

#include <spice-client.h>

#include <videoredir/client.h>

G_BEGIN_DECLS

typedef struct _VrSpiceAudio VrSpiceAudio;

/* One audio buffer as played: received at recv_us, its first sample heard at
 * heard_us (the client's clock, vr_client_now_us), pcm S16 interleaved
 * (borrowed for the call). */
typedef void (*vr_spiceaudio_played_fn)(void *user, uint64_t recv_us, uint64_t heard_us,
                                        const int16_t *pcm, uint32_t frames, uint32_t channels,
                                        uint32_t rate);

struct vr_spiceaudio_config {
    /*
     * TRUE: this is the session's audio back end, a speaker with no sound
     * device (headless): it connects the playback channel, plays each buffer
     * after the ones queued, speaker_latency_ms after it arrives at
     * the earliest, knows exactly when each is heard and reports that delay
     * to spice-glib (spice_playback_channel_set_delay). The session must
     * have no other audio back end (no spice_audio_get()).
     * FALSE: another back end (spice-gtk's) plays and the application
     * connects the channel; a buffer is taken to be heard output_delay_ms
     * after it arrives (that back end does not say when it plays).
     */
    gboolean speaker;
    guint speaker_latency_ms;
    guint output_delay_ms;
    vr_spiceaudio_played_fn played; /* may be NULL */
    void *user;
};

/* Starts watching session (playback channels that exist already are found
 * too). client is borrowed and must outlive the VrSpiceAudio. cfg is copied. */
VrSpiceAudio *vr_spiceaudio_new(SpiceSession *session, struct vr_client *client,
                                const struct vr_spiceaudio_config *cfg);
/* Buffers followed so far, and whether the playback channel plays now. */
guint64 vr_spiceaudio_buffers(const VrSpiceAudio *a);
gboolean vr_spiceaudio_playing(const VrSpiceAudio *a);
/* Disconnects from the session and frees; the client's audio delay stays.
 * NULL is a no-op. */
void vr_spiceaudio_free(VrSpiceAudio *a);

G_END_DECLS

#endif
