/*
 * vr_replay: drives a vr_client from a session recording instead of a
 * network. The client's clock is the recording's: time jumps from one record
 * (or tick, due frame, mark) to the next, so a replay is deterministic; with
 * pace it waits for each in real time. The client's PINGs are answered with
 * the clock offset the recording shows, so clocked streams are scheduled as
 * they were in the session.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "videoredir/client.h"
#include "videoredir/record.h"

#define TICK_US 50000u
/* After the last record: due frames are still shown, for at most this long. */
#define DRAIN_US 10000000u
/* A guest heard from within this long answers the client's pings. */
#define GUEST_ALIVE_US 2000000u
/* Longest silence replayed as it was (timers, pace); longer ones are cut. */
#define MAX_GAP_US 10000000u
#define MAX_PENDING 16

struct vr_replay {
    struct vr_replay_config cfg;
    struct vr_record_reader *rd;
    const struct vr_record_info *info;
    struct vr_client *client;
    double *marks;
    bool *mark_done;

    uint64_t now; /* the client's clock: origin + recording time */
    uint64_t next_tick;
    uint64_t first_abs; /* time of the first record (pacing) */
    uint64_t wall_start;
    bool open, paced_started, quit;

    /* PONGs for the client's own pings, with the offset its clock had */
    bool have_offset;
    int64_t offset_us;
    uint64_t best_rtt;
    struct vr_ping pending[MAX_PENDING]; /* pings not answered yet (offset unknown) */
    uint32_t n_pending;
    bool offset_given;      /* a ping was answered this session */
    uint64_t last_guest_us; /* when the last guest -> client record was fed */
    struct vr_msg scratch;  /* a decoded PING (large: kept off the stack) */

    struct vr_replay_stats st;
};

#define rlog(r, level, ...) VR_LOGF((r)->cfg.log, (r)->cfg.user, level, __VA_ARGS__)

/* Times come from the recording (untrusted): never wrap. */
static uint64_t sat_add(uint64_t x, uint64_t y)
{
    return x > UINT64_MAX - y ? UINT64_MAX : x + y;
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool stopping(struct vr_replay *r)
{
    if (!r->quit && r->cfg.stop && r->cfg.stop(r->cfg.user))
        r->quit = true;
    return r->quit;
}

int vr_replay_create(struct vr_record_reader *rd, struct vr_client *client,
                     const struct vr_replay_config *cfg, struct vr_replay **out)
{
    if (!rd || !cfg || !out || (cfg->n_marks && !cfg->marks) || cfg->n_marks > VR_REPLAY_MAX_MARKS)
        return -EINVAL;
    struct vr_replay *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->cfg = *cfg;
    if (cfg->n_marks) {
        r->marks = calloc(cfg->n_marks, sizeof(*r->marks));
        r->mark_done = calloc(cfg->n_marks, sizeof(*r->mark_done));
        if (!r->marks || !r->mark_done) {
            vr_replay_destroy(r);
            return -ENOMEM;
        }
        memcpy(r->marks, cfg->marks, cfg->n_marks * sizeof(*r->marks));
    }
    r->cfg.marks = r->marks;
    r->rd = rd;
    r->info = vr_record_reader_info(rd);
    r->client = client;
    r->now = r->info->origin_us;
    *out = r;
    return 0;
}

void vr_replay_destroy(struct vr_replay *r)
{
    if (!r)
        return;
    free(r->marks);
    free(r->mark_done);
    free(r);
}

uint64_t vr_replay_now(const struct vr_replay *r)
{
    return r ? r->now : 0;
}

double vr_replay_seconds(const struct vr_replay *r)
{
    return r ? (double)(r->now - r->info->origin_us) / 1e6 : 0;
}

void vr_replay_quit(struct vr_replay *r)
{
    if (r)
        r->quit = true;
}

void vr_replay_get_stats(const struct vr_replay *r, struct vr_replay_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (r)
        *st = r->st;
}

/* pace: waits until recording time t is due on the wall clock. */
static void pace_to(struct vr_replay *r, uint64_t t)
{
    if (!r->cfg.pace)
        return;
    if (!r->paced_started) {
        r->paced_started = true;
        r->first_abs = t;
        r->wall_start = wall_us();
        return;
    }
    uint64_t rel = t > r->first_abs ? t - r->first_abs : 0;
    uint64_t elapsed = wall_us() - r->wall_start;
    if (rel > elapsed + MAX_GAP_US) {
        /* A long silence in the recording is cut short, not waited for. */
        r->first_abs += rel - (elapsed + MAX_GAP_US);
        rel = elapsed + MAX_GAP_US;
    }
    uint64_t due = r->wall_start + rel;
    for (;;) {
        uint64_t w = wall_us();
        if (w >= due || stopping(r))
            return;
        uint64_t left = due - w;
        if (left > 15000)
            left = 15000;
        if (r->cfg.idle && !r->cfg.idle(r->cfg.user)) {
            r->quit = true;
            return;
        }
        struct timespec ts = { 0, (long)left * 1000 };
        nanosleep(&ts, NULL); /* a signal cuts it short: stop() is asked next */
    }
}

/* The client's output is discarded, except that its PINGs are answered (as
 * the guest answered the recorded client's) with a PONG carrying the clock
 * offset the recording shows. Pings wait while the offset is not known yet;
 * the answer's time makes the client's estimate exactly the offset,
 * whatever the wait. */
static void drain_output(struct vr_replay *r)
{
    struct vr_conn *conn = vr_client_conn(r->client);
    const uint8_t *data;
    size_t n;
    struct vr_ping *pings = r->pending;
    while ((n = vr_conn_out_peek(conn, &data)) > 0) {
        size_t off = 0;
        while (off + VR_HEADER_SIZE <= n) {
            struct vr_header h;
            if (vr_header_decode(data + off, n - off, &h) < 0 || h.length > n - off - VR_HEADER_SIZE)
                break;
            size_t len = VR_HEADER_SIZE + h.length;
            if (h.type == VR_MSG_PING) {
                struct vr_msg *m = &r->scratch;
                if (vr_msg_decode(data + off, len, m) == 0) {
                    if (r->n_pending == MAX_PENDING) /* keep the newest */
                        memmove(pings, pings + 1, (MAX_PENDING - 1) * sizeof(*pings));
                    pings[r->n_pending < MAX_PENDING ? r->n_pending++ : MAX_PENDING - 1] = m->u.ping;
                }
            }
            off += len;
        }
        vr_conn_out_consume(conn, n);
    }
    /* A guest that has been silent for 2 s (it pings every second) would
     * not answer either: the client must see the silence it saw. */
    if (r->now - r->last_guest_us > GUEST_ALIVE_US)
        r->n_pending = 0;
    if (!r->have_offset)
        return;
    uint32_t n_pings = r->n_pending;
    r->n_pending = 0;
    for (uint32_t i = 0; i < n_pings; i++) {
        struct vr_msg m;
        memset(&m, 0, sizeof(m));
        m.type = VR_MSG_PONG;
        m.u.pong.id = pings[i].id;
        m.u.pong.ping_time_us = pings[i].time_us;
        /* The client takes offset = time_us - (ping_time + rtt / 2). */
        uint64_t half = r->now > pings[i].time_us ? (r->now - pings[i].time_us) / 2 : 0;
        m.u.pong.time_us = pings[i].time_us + half + (uint64_t)r->offset_us; /* mod 2^64 */
        uint8_t buf[64];
        long len = vr_msg_encode(&m, buf, sizeof(buf));
        if (len > 0)
            vr_conn_feed(conn, buf, (size_t)len);
        r->offset_given = true;
    }
    while ((n = vr_conn_out_peek(conn, &data)) > 0)
        vr_conn_out_consume(conn, n);
}

/* A recorded PONG from the guest (client-side recording): the offset of the
 * guest's clock to the recorder's, as the recorded client estimated it. */
static void learn_offset(struct vr_replay *r, const uint8_t *raw, size_t len, uint64_t arrival)
{
    struct vr_header h;
    if (vr_header_decode(raw, len, &h) < 0 || h.type != VR_MSG_PONG)
        return;
    struct vr_msg m;
    if (vr_msg_decode(raw, len, &m) < 0 || m.u.pong.ping_time_us > arrival)
        return;
    uint64_t rtt = arrival - m.u.pong.ping_time_us;
    if (r->have_offset && rtt > r->best_rtt)
        return;
    /* Unsigned (the values are the recording's, untrusted): mod 2^64. */
    r->offset_us = (int64_t)(m.u.pong.time_us - (m.u.pong.ping_time_us + rtt / 2));
    r->best_rtt = rtt;
    r->have_offset = true;
}

static void open_channel(struct vr_replay *r)
{
    if (r->open)
        vr_client_channel_closed(r->client);
    r->open = true;
    r->offset_given = false;
    r->next_tick = sat_add(r->now, TICK_US);
    vr_client_channel_open(r->client);
    drain_output(r);
}

/* Runs the timers (ticks, due frames, marks) up to recording time target:
 * each at its own time. ticks: run the client's ticks too (not after the
 * last record, where its 5 s silence timer would drop streams). */
static void advance_to(struct vr_replay *r, uint64_t target, bool ticks)
{
    uint32_t stuck = 0; /* presents at one instant that left a frame due */
    /* A gap longer than MAX_GAP_US (the recorder slept, or a hostile time):
     * the client's timers see MAX_GAP_US of it (its 5 s silence timeout
     * fires as it did in the session), then the ticks jump to the end of it,
     * so a time stamp cannot make the replay tick for ever. */
    if (ticks && target > r->now && target - r->now > MAX_GAP_US) {
        advance_to(r, sat_add(r->now, MAX_GAP_US), ticks);
        if (r->next_tick < target)
            r->next_tick = target;
    }
    while (!stopping(r)) {
        uint64_t t = UINT64_MAX;
        int what = 0; /* 1 tick, 2 present, 3 mark */
        if (ticks && r->open && r->next_tick < t) {
            t = r->next_tick;
            what = 1;
        }
        uint64_t wake = vr_client_next_wakeup(r->client);
        if (wake < t) {
            t = wake < r->now ? r->now : wake;
            what = 2;
        }
        int mark = -1;
        for (uint32_t i = 0; i < r->cfg.n_marks; i++) {
            if (r->mark_done[i] || r->marks[i] < 0)
                continue;
            uint64_t at = sat_add(r->info->origin_us, (uint64_t)(r->marks[i] * 1e6 + 0.5));
            /* Strictly before target: records stamped at the mark's time
             * are fed first. */
            if (at < target && at < t) {
                t = at < r->now ? r->now : at;
                what = 3;
                mark = (int)i;
            }
        }
        if (what == 0 || t > target)
            return;
        pace_to(r, t);
        if (stopping(r))
            return; /* not at t yet: what is due there is not done */
        r->now = t;
        if (what == 1) {
            vr_client_tick(r->client);
            r->next_tick = sat_add(r->next_tick, TICK_US);
            if (r->next_tick <= r->now) /* at UINT64_MAX: no tick is ever due again */
                r->next_tick = sat_add(r->now, TICK_US);
        } else if (what == 2) {
            vr_client_present(r->client, r->now);
            /* A frame still due after presenting: never loop on it. */
            if (vr_client_next_wakeup(r->client) <= r->now && ++stuck > 64) {
                rlog(r, VR_CLOG_WARNING, "the client keeps a frame due at %.6f s: moving on",
                     (double)(r->now - r->info->origin_us) / 1e6);
                return;
            }
        } else {
            r->mark_done[mark] = true;
            if (r->cfg.mark)
                r->cfg.mark(r->cfg.user, (uint32_t)mark);
        }
        drain_output(r);
    }
}

int vr_replay_run(struct vr_replay *r)
{
    struct vr_record rec;
    int ret = 0;
    r->now = r->info->origin_us;
    r->have_offset = r->info->side == VR_RECORD_SIDE_GUEST; /* our clock is the guest's */
    r->offset_us = 0;
    while (!stopping(r) && (ret = vr_record_read(r->rd, &rec)) == 1) {
        r->st.records++;
        uint64_t t = sat_add(r->info->origin_us, rec.time_us);
        if (r->cfg.message && rec.kind == VR_RECORD_MSG && rec.dir == VR_RECORD_TO_CLIENT)
            r->cfg.message(r->cfg.user, rec.data, rec.len);
        if (!r->client) { /* messages alone */
            r->now = t;
            continue;
        }
        advance_to(r, t, true);
        if (stopping(r))
            break;
        pace_to(r, t);
        if (stopping(r))
            break; /* this record's time had not come: not fed */
        r->now = t;
        if (rec.kind == VR_RECORD_EVENT) {
            if (rec.event == VR_RECORD_EV_OPEN)
                open_channel(r);
            else if (rec.event == VR_RECORD_EV_CLOSE && r->open) {
                r->open = false;
                vr_client_channel_closed(r->client);
            }
            continue;
        }
        if (rec.kind != VR_RECORD_MSG || rec.dir != VR_RECORD_TO_CLIENT)
            continue; /* the client's own output, or a kind from a later version */
        if (!r->open)
            open_channel(r); /* a recording without events */
        if (r->info->side == VR_RECORD_SIDE_CLIENT)
            learn_offset(r, rec.data, rec.len, t);
        r->st.fed++;
        r->st.fed_bytes += rec.len;
        r->last_guest_us = t;
        int e = vr_conn_feed(vr_client_conn(r->client), rec.data, rec.len);
        if (e < 0)
            rlog(r, VR_CLOG_WARNING, "record %" PRIu64 ": the client refused the bytes: %s", rec.index,
                 strerror(-e));
        /* The offset is known and the session up: let the client ping now
         * (its tick would, up to 50 ms later), so that it has the offset
         * from here on, as the recorded client had it. */
        if (r->have_offset && !r->offset_given && !r->n_pending && vr_client_established(r->client))
            vr_client_tick(r->client);
        drain_output(r);
    }
    /* Frames still queued are shown at their time; then the end. */
    if (!stopping(r) && r->client)
        advance_to(r, sat_add(r->now, DRAIN_US), false);
    if (ret < 0 && !r->quit)
        return ret;
    return 0;
}
