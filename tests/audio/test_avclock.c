/*
 * The picture on the sound's clock, without SPICE: vr_av_clock's estimate
 * (the largest heard - received over its window, only after enough
 * buffers, reset) and vr_client_set_audio_delay against a scripted guest on
 * a fake clock: every frame with CLOCK becomes due exactly the delay later,
 * off restores the guest's time, absurd delays are refused.
 * Usage: test_avclock CLIP (H.264; real decoding)
 */
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include <videoredir/client.h>

#include "../check.h"
#include "../conn_pump.h"
#include "../client/clip.h"

#define AHEAD_US 3000000 /* the guest's clock is this far ahead of ours */

static struct vr_client *client;
static struct vr_conn *guest;
static uint64_t now = 5000000;
static struct clip src;

static uint64_t clock_fn(void *user)
{
    (void)user;
    return now;
}

static void guest_msg(void *user, const struct vr_msg *msg)
{
    (void)user;
    if (msg->type == VR_MSG_PING) { /* answered at once: round trip 0 */
        struct vr_msg pong = { .type = VR_MSG_PONG };
        pong.u.pong = (struct vr_pong){ .id = msg->u.ping.id, .ping_time_us = msg->u.ping.time_us,
                                        .time_us = now + AHEAD_US };
        vr_conn_send(guest, &pong);
    }
}

static void pump(void)
{
    vr_test_pump(vr_client_conn(client), guest);
}

static void send(uint16_t type, uint32_t id, const void *body, size_t len)
{
    CHECK(vr_test_send_msg(guest, vr_client_conn(client), type, id, body, len) == 0, "send %s",
          vr_msg_type_name(type));
}

static void test_estimator(void)
{
    struct vr_av_clock k;
    vr_av_clock_reset(&k);
    int64_t d = -1;
    uint64_t t = 1000000;
    /* Buffers every 10 ms heard 50 ms after they left; each arrives 0..9 ms
     * late, one of ten on time: the estimate is the on-time one's 50 ms. */
    bool ready = false;
    for (uint32_t i = 0; i < 30; i++, t += 10000) {
        uint64_t late = (i % 10) * 1000u;
        bool r = vr_av_clock_buffer(&k, t + late, t + 50000, &d);
        if (i + 1 < VR_AV_CLOCK_MIN)
            CHECK(!r, "ready after %u buffers", i + 1);
        ready = r;
    }
    CHECK(ready && d == 50000, "estimate %lld, want 50000", (long long)d);
    /* The speaker fell behind by 20 ms for good: followed at once (a larger
     * value wins)... */
    for (uint32_t i = 0; i < 5; i++, t += 10000)
        vr_av_clock_buffer(&k, t, t + 70000, &d);
    CHECK(d == 70000, "a longer path is taken at once: %lld", (long long)d);
    /* ...and a shorter path once the longer one left the window. */
    for (uint32_t i = 0; i < VR_AV_CLOCK_WINDOW; i++, t += 10000)
        vr_av_clock_buffer(&k, t, t + 30000, &d);
    CHECK(d == 30000, "a shorter path after the window: %lld", (long long)d);
    vr_av_clock_reset(&k);
    CHECK(!vr_av_clock_buffer(&k, t, t + 1000, &d) && d == 1000, "reset: one buffer, not ready");
}

static void test_delay(const char *path)
{
    struct vr_client_config cfg = { .hwdec = VR_HWDEC_NONE };
    struct vr_client_callbacks cb = { .clock = clock_fn };
    CHECK(vr_client_create(&cfg, &cb, NULL, &client) == 0, "client");
    struct vr_conn_callbacks gcb = { .on_message = guest_msg };
    CHECK(vr_conn_create(NULL, &gcb, NULL, &guest) == 0, "guest conn");
    vr_client_channel_open(client);
    pump();
    struct vr_hello h = { .version_min = 1, .version_max = 1, .role = VR_ROLE_GUEST,
                          .flags = VR_HELLO_REPLY };
    strcpy(h.software, "avclock-guest");
    send(VR_MSG_HELLO, 0, &h, sizeof(h));
    vr_client_tick(client);
    pump();
    CHECK(clip_open(&src, path) == 0, "open %s", path);
    send(VR_MSG_STREAM_START, 1, &src.start, sizeof(src.start));
    /* pts 0 due 100 ms from now on the guest's clock; a few frames ahead. */
    struct vr_clock k = { .pts = 0, .time_us = now + AHEAD_US + 100000, .rate_q16 = 65536 };
    send(VR_MSG_CLOCK, 1, &k, sizeof(k));
    struct vr_frame f;
    for (int i = 0; i < 8 && clip_read(&src, &f) == 1; i++) {
        f.send_time_us = now + AHEAD_US;
        send(VR_MSG_FRAME, 1, &f, sizeof(f));
    }
    int64_t got = 0;
    CHECK(!vr_client_audio_delay(client, &got) && got == 0, "off by default");
    uint64_t base = vr_client_next_wakeup(client);
    CHECK(base != UINT64_MAX && base > now, "a frame waits: wake-up %llu", (unsigned long long)base);

    vr_client_set_audio_delay(client, true, 65000);
    CHECK(vr_client_audio_delay(client, &got) && got == 65000, "delay on: %lld", (long long)got);
    CHECK(vr_client_next_wakeup(client) == base + 65000, "due 65 ms later: %llu vs %llu",
          (unsigned long long)vr_client_next_wakeup(client), (unsigned long long)base + 65000);
    /* Not shown at the guest's time any more, shown at the sound's. */
    CHECK(vr_client_present(client, base) == 0, "nothing at the guest's time");
    CHECK(vr_client_present(client, base + 65000) != 0, "shown when the sound is heard");

    uint64_t next = vr_client_next_wakeup(client);
    vr_client_set_audio_delay(client, true, -20000); /* a client clock ahead: earlier is fine */
    CHECK(vr_client_next_wakeup(client) == next - 85000, "a negative delay: %llu vs %llu",
          (unsigned long long)vr_client_next_wakeup(client), (unsigned long long)next - 85000);
    vr_client_set_audio_delay(client, true, 20000000);
    CHECK(!vr_client_audio_delay(client, &got) && got == 0, "20 s is no audio path: off");
    CHECK(vr_client_next_wakeup(client) == next - 65000, "off: the guest's time again");
    vr_client_set_audio_delay(client, false, 1000);
    CHECK(!vr_client_audio_delay(client, NULL), "off");
    clip_close(&src);
    vr_client_destroy(client);
    vr_conn_destroy(guest);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    av_log_set_level(AV_LOG_QUIET);
    test_estimator();
    test_delay(argv[1]);
    return CHECK_DONE();
}
