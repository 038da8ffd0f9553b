/*
 * Fuzz target: what videoredir-guestd parses from its local socket. A
 * session with a scripted client is up; the input is split into two
 * players' byte streams (first byte: where each chunk ends) and fed to the
 * daemon core, the client accepting every stream and acknowledging
 * everything. Nothing may crash, leak or loop; a player the core gives up
 * on is removed and a new one connects, as the program does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/guestd.h>
#include <videoredir/transport.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t now = 1;
static uint64_t clock_fn(void *user)
{
    (void)user;
    return now;
}

static void send_msg(struct vr_guestd *d, const struct vr_msg *m)
{
    static uint8_t buf[8192];
    long n = vr_msg_encode(m, buf, sizeof(buf));
    if (n > 0)
        vr_guestd_port_feed(d, buf, (size_t)n);
}

/* The client's side: accept every STREAM_START, ack every FRAME. */
static uint64_t client_rx;
static void drain_port(struct vr_guestd *d, struct vr_reassembler *r)
{
    const uint8_t *p;
    size_t n;
    while ((n = vr_guestd_port_out_peek(d, &p)) > 0) {
        vr_reassembler_push(r, p, n);
        vr_guestd_port_out_consume(d, n);
        const uint8_t *msg;
        size_t len;
        int ret;
        while ((ret = vr_reassembler_pop(r, &msg, &len)) != 0) {
            if (ret < 0)
                continue;
            client_rx += len;
            struct vr_header h;
            if (vr_header_decode(msg, len, &h) < 0)
                continue;
            static struct vr_msg m;
            memset(&m, 0, sizeof(m));
            m.stream_id = h.stream_id;
            if (h.type == VR_MSG_STREAM_START) {
                m.type = VR_MSG_ACCEPT;
                send_msg(d, &m);
            } else if (h.type == VR_MSG_FRAME) {
                m.type = VR_MSG_FEEDBACK;
                m.u.feedback.bytes_received = client_rx;
                send_msg(d, &m);
                m.type = VR_MSG_KEYFRAME_REQUEST;
                m.u.keyframe_request.reason = VR_REASON_SEQ_GAP;
                send_msg(d, &m);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vr_guestd_callbacks cb = { .clock = clock_fn };
    struct vr_guestd_config cfg = { .max_players = 4, .max_streams_per_player = 2 };
    struct vr_guestd *d;
    if (vr_guestd_create(&cfg, &cb, NULL, &d) < 0)
        return 0;
    struct vr_reassembler r;
    vr_reassembler_init(&r, 0);
    client_rx = 0;
    vr_guestd_port_open(d);
    static struct vr_msg hello;
    memset(&hello, 0, sizeof(hello));
    hello.type = VR_MSG_HELLO;
    hello.u.hello.version_min = hello.u.hello.version_max = 1;
    hello.u.hello.role = VR_ROLE_CLIENT;
    hello.u.hello.max_streams = 4;
    hello.u.hello.features = VR_FEATURE_FEEDBACK;
    send_msg(d, &hello);
    drain_port(d, &r);

    uint32_t ids[2] = { 0, 0 };
    size_t pos = 0;
    int turn = 0;
    while (pos < size) {
        size_t chunk = 1 + data[pos++] % 64u * 16u;
        if (chunk > size - pos)
            chunk = size - pos;
        uint32_t *id = &ids[turn];
        if (!*id && vr_guestd_player_add(d, 1000, id) < 0)
            break;
        if (vr_guestd_player_feed(d, *id, data + pos, chunk) < 0 || vr_guestd_player_doomed(d, *id)) {
            vr_guestd_player_remove(d, *id);
            *id = 0;
        }
        pos += chunk;
        drain_port(d, &r);
        for (int i = 0; i < 2; i++) {
            const uint8_t *p;
            size_t n;
            while (ids[i] && (n = vr_guestd_player_out_peek(d, ids[i], &p)) > 0)
                vr_guestd_player_out_consume(d, ids[i], n);
        }
        now += 20000;
        vr_guestd_tick(d);
        turn ^= 1;
    }
    vr_guestd_player_remove(d, ids[0]);
    drain_port(d, &r);
    vr_reassembler_finish(&r);
    vr_guestd_destroy(d);
    return 0;
}
