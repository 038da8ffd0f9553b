/*
 * Writes the seed corpus of fuzz_client: guest-to-client byte streams made
 * with the protocol library from a (tiny) clip.
 * Usage: gen_client_corpus CLIP OUTDIR
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/protocol.h>

#include "clip.h"

static uint8_t out[1 << 16];
static size_t out_len;
static struct vr_msg m;

static void put(void)
{
    long n = vr_msg_encode(&m, out + out_len, sizeof(out) - out_len);
    if (n < 0) {
        fprintf(stderr, "encode %s: %ld\n", vr_msg_type_name(m.type), n);
        exit(1);
    }
    out_len += (size_t)n;
}

static void msg(uint16_t type, uint32_t id)
{
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.stream_id = id;
}

static void save(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(out, 1, out_len, f) != out_len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    printf("%s: %zu bytes\n", path, out_len);
    out_len = 0;
}

/* start, geometry, region, frames of CLIP (frame number skip lost, a flush
 * before the third if asked), stop. */
static void session(const char *clip, uint32_t id, int skip, uint32_t stop_reason, bool flush)
{
    struct clip c;
    if (clip_open(&c, clip) < 0) {
        fprintf(stderr, "cannot open %s\n", clip);
        exit(1);
    }
    msg(VR_MSG_STREAM_START, id);
    m.u.start = c.start;
    put();
    msg(VR_MSG_GEOMETRY, id);
    m.u.geometry.window = (struct vr_rect){ 10, 20, 100, 80 };
    m.u.geometry.content = (struct vr_rect){ 10, 30, 100, 70 };
    put();
    msg(VR_MSG_REGION, id);
    m.u.region.n_rects = 2;
    m.u.region.rects[0] = (struct vr_rect){ 10, 30, 100, 20 };
    m.u.region.rects[1] = (struct vr_rect){ 60, 50, 50, 50 };
    put();
    struct vr_frame f;
    for (int i = 0; clip_read(&c, &f) == 1; i++) {
        if (i == skip)
            continue;
        if (flush && i == 2) {
            msg(VR_MSG_FLUSH, id);
            put();
        }
        msg(VR_MSG_FRAME, id);
        m.u.frame = f;
        m.u.frame.seq = (uint32_t)i; /* the skipped one leaves a gap */
        m.u.frame.send_time_us = 1000000 + (uint64_t)i * 40000;
        put();
    }
    msg(VR_MSG_STREAM_STOP, id);
    m.u.stop.reason = stop_reason;
    put();
    clip_close(&c);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CLIP OUTDIR\n", argv[0]);
        return 2;
    }
    session(argv[1], 1, -1, VR_REASON_EOS, false);
    save(argv[2], "01-clip-eos.bin");
    session(argv[1], 3, 1, VR_REASON_USER, false);
    save(argv[2], "02-clip-gap-user-stop.bin");
    session(argv[1], 5, -1, VR_REASON_EOS, true);
    save(argv[2], "03-clip-flush.bin");
    /* Ping, a second stream over the limit, and a restart hello. */
    msg(VR_MSG_PING, 0);
    m.u.ping = (struct vr_ping){ .id = 1, .time_us = 42 };
    put();
    session(argv[1], 7, -1, VR_REASON_EOS, false);
    msg(VR_MSG_HELLO, 0);
    m.u.hello = (struct vr_hello){ .version_min = 1, .version_max = 1, .role = VR_ROLE_GUEST };
    put();
    save(argv[2], "04-ping-restart.bin");
    return 0;
}
