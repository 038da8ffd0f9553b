/* The guest's sound card: a SPICE playback channel (SpicePlaybackInterface)
 * fed from a FIFO, as QEMU's `-audiodev spice` feeds it from an emulated
 * card. The guest side (a player's audio sink) writes 48 kHz S16LE stereo
 * into the FIFO; the card starts playing `latency` after the first sound
 * arrives and then plays one period (10 ms) after the other at the card's
 * rate, so whatever is written at t leaves the card at t + latency, however
 * the writer chunks it. Each period goes to spice-server at the moment the
 * card plays it, so the mm-time spice-server stamps on it (reds_get_mm_time()
 * in put_samples) is the time that sound leaves the guest. A writer that is
 * late empties the card: it stops (the SPICE playback stops) and starts again
 * `latency` after the next sound, as an ALSA device restarts after an
 * underrun. A full card stops reading the FIFO: the writer blocks, as a
 * guest's write into a full device buffer does.
 *
 * The writer's timeline. The writer writes each sample when it is due (a
 * sink that syncs on the clock), so what is buffered when a period plays is
 * `latency` worth (plus up to a chunk and a period): sound written at t
 * leaves at t + latency. A card that started late (it noticed the first
 * sound after a resume late, or the writer wrote it late and caught up:
 * both happen under load) holds more than that from then on, and a real
 * player's sink would realign its samples to its clock; here the card does
 * it: when even the least it held over half a second (each period's fill
 * less what the writer can have written since the period was due) is over
 * `latency` by more than REALIGN_SLACK_MS, it drops the excess (a skip, as
 * an audio sink's resync). At a start it checks at once. A writer that is
 * late only makes the card hold less: nothing is inserted (an underrun
 * stops it, as above). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>
#include <videoredir/transport.h>

#include "host.h"

#define RATE 48000u
#define FRAME_BYTES 4u               /* S16LE stereo */
#define PERIOD_FRAMES 480u           /* 10 ms: spice-server's frame at 48 kHz */
#define RING_BYTES (RATE * FRAME_BYTES) /* 1 s of sound */
#define REALIGN_PERIODS 50u          /* the window of the writer's timeline: 0.5 s */
#define REALIGN_SLACK_MS 10u         /* held beyond the latency before a realign */

struct vr_host_audio {
    SpicePlaybackInstance sin;
    char *path;
    struct vr_host_file_id made; /* the FIFO, when we made it (known) */
    int fd;
    guint watch, timer;
    uint8_t ring[RING_BYTES];
    size_t head, fill; /* bytes */
    uint32_t latency_ms;
    bool playing, armed; /* armed: sound came, playing starts at t0_us */
    uint64_t t0_us, periods; /* start of this run and periods played since */
    size_t least;            /* bytes: the least held this window (writer's timeline) */
    uint32_t window;         /* periods in it */
    struct vr_host_audio_stats st;
};

static const SpicePlaybackInterface playback_sif = {
    .base = { .type = SPICE_INTERFACE_PLAYBACK, .description = "videoredir-host sound card",
              .major_version = SPICE_INTERFACE_PLAYBACK_MAJOR,
              .minor_version = SPICE_INTERFACE_PLAYBACK_MINOR },
};

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data);
static gboolean on_period(gpointer data);
static void pull(struct vr_host_audio *a, int fd);

static void watch_input(struct vr_host_audio *a, bool on)
{
    if (on && !a->watch)
        a->watch = g_unix_fd_add(a->fd, G_IO_IN, on_readable, a);
    else if (!on && a->watch) {
        g_source_remove(a->watch);
        a->watch = 0;
    }
}

static void ring_take(struct vr_host_audio *a, uint8_t *dst, size_t n)
{
    size_t first = MIN(n, RING_BYTES - a->head);
    memcpy(dst, a->ring + a->head, first);
    memcpy(dst + first, a->ring, n - first);
    a->head = (a->head + n) % RING_BYTES;
    a->fill -= n;
}

static uint64_t due_us(const struct vr_host_audio *a)
{
    return a->t0_us + a->periods * (uint64_t)PERIOD_FRAMES * 1000000u / RATE;
}

/* What the card holds at the time it was due, as far as the writer's
 * timeline goes: the fill less what a writer on time can have written since
 * (the main loop may see the FIFO late, after more was written). */
static size_t held_at(const struct vr_host_audio *a, uint64_t due, uint64_t now)
{
    uint64_t since = now > due ? (now - due) * RATE / 1000000u * FRAME_BYTES : 0;
    return a->fill > since ? a->fill - (size_t)since : 0;
}

/* Holding `held` bytes (the least over the window): drops what is beyond
 * the latency, if that is more than the slack. A writer on time holds
 * between the latency and that plus its chunk (a chunk is written at its
 * first sample's time), which the card cannot tell from being late: it keeps
 * half the slack, so what stays is within half the slack either way for
 * chunks up to the slack. */
static void realign(struct vr_host_audio *a, size_t held)
{
    size_t want = (size_t)a->latency_ms * RATE / 1000u * FRAME_BYTES;
    size_t slack = (size_t)REALIGN_SLACK_MS * RATE / 1000u * FRAME_BYTES;
    if (held <= want + slack)
        return;
    size_t drop = MIN(held - want - slack / 2, a->fill) / FRAME_BYTES * FRAME_BYTES;
    a->head = (a->head + drop) % RING_BYTES;
    a->fill -= drop;
    a->st.realigns++;
    a->st.realigned_us += (uint64_t)drop / FRAME_BYTES * 1000000u / RATE;
    g_debug("sound card: %zu ms late on the writer's timeline: skipped", drop / FRAME_BYTES * 1000 / RATE);
}

static void arm_period(struct vr_host_audio *a)
{
    /* The next period's time; rounded up: a timer a little early would only
     * find nothing due. */
    uint64_t due = due_us(a);
    uint64_t now = vr_time_us();
    a->timer = g_timeout_add(due > now ? (guint)((due - now + 999) / 1000) : 0, on_period, a);
}

static gboolean start_playing(gpointer data)
{
    struct vr_host_audio *a = data;
    a->timer = 0;
    a->armed = false;
    a->playing = true;
    a->periods = 0;
    a->st.starts++;
    g_debug("sound card: playing from %" G_GUINT64_FORMAT " us (%zu ms buffered)", a->t0_us,
            a->fill / FRAME_BYTES * 1000 / RATE);
    /* Started late on the writer's timeline (see the top): at once. */
    pull(a, a->fd);
    realign(a, held_at(a, a->t0_us, vr_time_us()));
    a->window = 0;
    spice_server_playback_start(&a->sin);
    on_period(a); /* the first period now */
    return G_SOURCE_REMOVE;
}

static void stop_playing(struct vr_host_audio *a)
{
    a->playing = false;
    if (a->timer)
        g_source_remove(a->timer);
    a->timer = 0;
    spice_server_playback_stop(&a->sin);
    g_debug("sound card: stopped (underrun) after %" G_GUINT64_FORMAT " periods", a->periods);
}

/* Plays one period: to spice-server if a client listens (its frame size at
 * 48 kHz is our period), else it goes nowhere, as QEMU's sound does with no
 * client. A last partial period is padded with silence. */
static void play_period(struct vr_host_audio *a)
{
    size_t n = MIN(a->fill, (size_t)PERIOD_FRAMES * FRAME_BYTES);
    uint32_t *samples = NULL, num = 0;
    spice_server_playback_get_buffer(&a->sin, &samples, &num);
    if (samples && num == PERIOD_FRAMES) {
        ring_take(a, (uint8_t *)samples, n);
        memset((uint8_t *)samples + n, 0, (size_t)PERIOD_FRAMES * FRAME_BYTES - n);
        spice_server_playback_put_samples(&a->sin, samples);
        a->st.periods_sent++;
    } else {
        if (samples) /* another frame size: not ours to fill; give it back silent */
            spice_server_playback_put_samples(&a->sin, memset(samples, 0, (size_t)num * 4));
        uint8_t drop[PERIOD_FRAMES * FRAME_BYTES];
        ring_take(a, drop, n);
        a->st.periods_dropped++;
    }
    a->periods++;
}

static gboolean on_period(gpointer data)
{
    struct vr_host_audio *a = data;
    a->timer = 0;
    uint64_t now = vr_time_us();
    /* What the writer wrote while our main loop was busy is in the card
     * already: a late loop is no underrun. */
    pull(a, a->fd);
    /* Catch up: every period whose time has come is played now (a late
     * timer does not slow the card down). */
    while (due_us(a) <= now) {
        if (a->fill < FRAME_BYTES) {
            stop_playing(a);
            a->st.underruns++;
            return G_SOURCE_REMOVE;
        }
        uint64_t due = due_us(a);
        size_t held = held_at(a, due, now);
        a->least = a->window == 0 ? held : MIN(a->least, held);
        if (++a->window >= REALIGN_PERIODS) {
            realign(a, a->least);
            a->window = 0;
        }
        a->st.late_us_sum += now - due;
        a->st.late_us_max = MAX(a->st.late_us_max, now - due);
        play_period(a);
        if (a->periods % 100 == 0)
            g_debug("sound card: %zu ms buffered", a->fill / FRAME_BYTES * 1000 / RATE);
    }
    if (a->fill < RING_BYTES)
        watch_input(a, true);
    arm_period(a);
    return G_SOURCE_REMOVE;
}

/* Takes what the FIFO holds into the card, as far as there is room. */
static void pull(struct vr_host_audio *a, int fd)
{
    while (a->fill < RING_BYTES) {
        size_t tail = (a->head + a->fill) % RING_BYTES;
        size_t room = MIN(RING_BYTES - a->fill, RING_BYTES - tail);
        ssize_t r = read(fd, a->ring + tail, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* EAGAIN: all read (the FIFO is ours too, so never EOF) */
        a->fill += (size_t)r;
        a->st.bytes_in += (uint64_t)r;
    }
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    struct vr_host_audio *a = data;
    pull(a, fd);
    if (!a->playing && !a->armed && a->fill) {
        /* The card's latency runs from the first sound on, not from a fill
         * level: a writer's chunk size does not change when sound leaves. */
        a->armed = true;
        a->t0_us = vr_time_us() + (uint64_t)a->latency_ms * 1000u;
        a->timer = g_timeout_add(a->latency_ms, start_playing, a);
    }
    if (a->fill >= RING_BYTES) { /* full: the writer waits for the card */
        a->watch = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

int vr_host_audio_start(SpiceServer *server, const char *fifo_path, uint32_t latency_ms,
                        struct vr_host_audio **out, GError **error)
{
    if (!server || !fifo_path || !out || latency_ms < 10 || latency_ms > 500) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "bad sound card settings");
        return -EINVAL;
    }
    struct stat sb;
    if (lstat(fifo_path, &sb) == 0 && !S_ISFIFO(sb.st_mode)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST, "%s exists and is not a FIFO",
                    fifo_path);
        return -EEXIST;
    }
    /* A FIFO the user made stays when we stop; one we made goes (if still
     * ours). */
    struct vr_host_file_id made = { 0 };
    if (lstat(fifo_path, &sb) != 0) {
        if (mkfifo(fifo_path, 0600) != 0) {
            int e = errno;
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "cannot make FIFO %s: %s",
                        fifo_path, g_strerror(e));
            return -e;
        }
        made = vr_host_file_id(fifo_path);
    }
    struct vr_host_audio *a = g_new0(struct vr_host_audio, 1);
    a->made = made;
    /* Read and write: the FIFO never reports end of file when a writer
     * leaves, and a writer opening it never waits for us. */
    a->fd = open(fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (a->fd < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "cannot open %s: %s",
                    fifo_path, g_strerror(e));
        vr_host_unlink_if_same(fifo_path, &made);
        g_free(a);
        return -e;
    }
    a->path = g_strdup(fifo_path);
    a->latency_ms = latency_ms;
    a->sin.base.sif = &playback_sif.base;
    if (spice_server_add_interface(server, &a->sin.base) != 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "spice-server refused the playback interface");
        vr_host_unlink_if_same(a->path, &a->made);
        close(a->fd);
        g_free(a->path);
        g_free(a);
        return -EIO;
    }
    spice_server_set_playback_rate(&a->sin, RATE);
    watch_input(a, true);
    *out = a;
    return 0;
}

void vr_host_audio_stats(const struct vr_host_audio *a, struct vr_host_audio_stats *st)
{
    *st = a->st;
}

void vr_host_audio_stop(struct vr_host_audio *a)
{
    if (!a)
        return;
    if (a->playing)
        stop_playing(a);
    if (a->timer)
        g_source_remove(a->timer);
    watch_input(a, false);
    spice_server_remove_interface(&a->sin.base);
    vr_host_unlink_if_same(a->path, &a->made);
    close(a->fd);
    g_free(a->path);
    g_free(a);
}
