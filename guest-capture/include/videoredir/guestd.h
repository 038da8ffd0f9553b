/*
 * videoredir guest daemon core: one port, the streams of many players.
 *
 * A virtio port has one opener. vr_guestd owns it and multiplexes over it
 * the streams of every player of the desktop session, which reach it over a
 * local socket and speak the same protocol to it as to a port
 * (protocol/PROTOCOL.md, section 6.7): toward the SPICE client the daemon is
 * the guest (one session, HELLO, PING, liveness), toward each player it is
 * the client (it answers the player's HELLO with the client's capabilities,
 * its PINGs with PONGs). Stream messages are forwarded with their stream id
 * renumbered into one id space on the port; ACCEPT, REJECT, FEEDBACK and
 * KEYFRAME_REQUEST go back to the player that owns the stream, FEEDBACK with
 * bytes_received translated into that player's own byte count, so every
 * player keeps its own flow-control window (1 s / 2 MiB) per stream.
 *
 * Like vr_guest it does no I/O: the program (tools/guestd.c, videoredir-guestd) moves the bytes
 * of the port and of each player socket, checks who connects (SO_PEERCRED)
 * and calls vr_guestd_tick() when vr_guestd_next_timeout() says so. Time
 * comes from an injectable clock. Everything a player sends is untrusted: a
 * malformed message is dropped, a bad header or a role other than guest
 * closes that player; caps bound players, streams (per player, per user,
 * total) and the bytes held for each side.
 *
 * Not thread-safe: use one vr_guestd from one thread. It never prints or
 * aborts; it logs through the callback.
 */
#ifndef VIDEOREDIR_GUESTD_H
#define VIDEOREDIR_GUESTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <videoredir/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where players find the daemon when nothing else is configured: the
 * environment variable (a path; "" or "none" turns the daemon lookup off),
 * else $XDG_RUNTIME_DIR/VR_GUESTD_SOCKET_NAME, else VR_GUESTD_SYSTEM_SOCKET. */
#define VR_GUESTD_SOCKET_ENV "VIDEOREDIR_GUESTD_SOCKET"
#define VR_GUESTD_SOCKET_NAME "videoredir/guestd.sock"
#define VR_GUESTD_SYSTEM_SOCKET "/run/videoredir/guestd.sock"

/* Defaults of struct vr_guestd_config (0 picks them). */
#define VR_GUESTD_DEFAULT_MAX_PLAYERS 32u
#define VR_GUESTD_DEFAULT_MAX_PLAYERS_PER_USER 16u
#define VR_GUESTD_DEFAULT_STREAMS_PER_PLAYER 4u
#define VR_GUESTD_DEFAULT_STREAMS_PER_USER VR_MAX_STREAMS
#define VR_GUESTD_DEFAULT_PORT_BACKLOG (1u << 20)    /* stop reading players above */
#define VR_GUESTD_DEFAULT_PLAYER_OUT (256u << 10)    /* a player not reading is closed above */
#define VR_GUESTD_MAX_PLAYERS 256u

struct vr_guestd;

enum vr_guestd_log_level { VR_GUESTD_LOG_ERROR = 0, VR_GUESTD_LOG_WARNING, VR_GUESTD_LOG_INFO,
                           VR_GUESTD_LOG_DEBUG };

struct vr_guestd_config {
    uint32_t max_players;           /* connections at once; 0 = 32, at most 256 */
    uint32_t max_players_per_user;  /* 0 = 16 */
    uint32_t max_streams;           /* live streams in total; 0 = VR_MAX_STREAMS;
                                     * never more than the client's hello allows */
    uint32_t max_streams_per_player;/* 0 = 4 */
    uint32_t max_streams_per_user;  /* 0 = VR_MAX_STREAMS */
    size_t port_backlog;            /* port output above which players are not read; 0 = 1 MiB */
    size_t player_out_max;          /* output held for one player; 0 = 256 KiB */
    const char *software;           /* in the port hello; NULL = "videoredir-guestd <version>" */
    /* Timers, µs; 0 = the protocol's defaults (hello 1 s, ping 1 s, peer 5 s). */
    uint64_t hello_interval_us, ping_interval_us, peer_timeout_us;
};

struct vr_guestd_callbacks {
    /* Log line without newline, valid only during the call. May be NULL. */
    void (*log)(void *user, enum vr_guestd_log_level level, const char *msg);
    /* Monotonic clock in µs; NULL: vr_time_us. */
    uint64_t (*clock)(void *user);
};

struct vr_guestd_stats {
    bool port_open, session_up;       /* port opened; client's hello received */
    uint32_t players, players_up;     /* connected; in a session with the daemon */
    uint32_t streams_live;            /* started and not stopped, rejected or gone */
    uint64_t sessions;                /* port sessions established */
    uint64_t players_total;           /* connections accepted */
    uint64_t players_refused;         /* over a cap (vr_guestd_player_add) */
    uint64_t players_closed_bad;      /* closed for a bad header, role or a full output */
    uint64_t streams_total;           /* streams forwarded to the client */
    uint64_t streams_refused;         /* REJECT(too-many) by the daemon itself */
    uint64_t msgs_up, msgs_down;      /* forwarded player->client, client->player */
    uint64_t bytes_up;                /* bytes forwarded to the port */
    uint64_t msgs_dropped;            /* malformed, unknown, or for no live stream */
    uint32_t rtt_us;                  /* last port ping round trip, 0 unknown */
};

/* Creates a daemon core with the port closed and no player. cfg and cb may
 * be NULL (defaults); both are copied. Returns 0 and *out, -EINVAL, -ENOMEM. */
int vr_guestd_create(const struct vr_guestd_config *cfg, const struct vr_guestd_callbacks *cb,
                     void *user, struct vr_guestd **out);
/* Frees d and every player's state. NULL is a no-op. */
void vr_guestd_destroy(struct vr_guestd *d);

/* The port became usable (opened): HELLO now and every hello interval. */
void vr_guestd_port_open(struct vr_guestd *d);
/* The port went away (EOF, error): the session ends, and every player is
 * marked to be closed (vr_guestd_player_doomed) so it plays locally at once. */
void vr_guestd_port_closed(struct vr_guestd *d);
/* Bytes read from the port. Returns 0 or -ENOMEM. A bad header is skipped. */
int vr_guestd_port_feed(struct vr_guestd *d, const uint8_t *data, size_t len);
/* Output for the port: the next contiguous chunk (0: none), valid until the
 * next call on d; consume marks n bytes of it written. */
size_t vr_guestd_port_out_peek(struct vr_guestd *d, const uint8_t **data);
void vr_guestd_port_out_consume(struct vr_guestd *d, size_t n);
size_t vr_guestd_port_out_queued(const struct vr_guestd *d);

/*
 * A player connected, as user uid (checked by the caller). Returns 0 and
 * *id (never 0), -EMFILE over max_players, -EUSERS over the per-user cap,
 * -ENOMEM. When a session is up the daemon greets it at once.
 */
int vr_guestd_player_add(struct vr_guestd *d, uint32_t uid, uint32_t *id);
/* The player's socket closed (or the caller closes it): its live streams are
 * stopped on the client (STREAM_STOP user). Unknown ids are ignored. */
void vr_guestd_player_remove(struct vr_guestd *d, uint32_t id);
/* Bytes read from a player. Returns 0, or a negative errno (-EPROTO bad
 * header or role, -ENOBUFS output not read, -ENOENT no such player): the
 * caller closes the connection and calls vr_guestd_player_remove. */
int vr_guestd_player_feed(struct vr_guestd *d, uint32_t id, const uint8_t *data, size_t len);
/* False while the port's output is above the backlog: then the caller does
 * not read players (their own windows and socket buffers hold them back). */
bool vr_guestd_players_readable(const struct vr_guestd *d);
/* The player must be closed now (the session with the client ended, or it
 * misbehaved); the caller closes it and calls vr_guestd_player_remove. */
bool vr_guestd_player_doomed(const struct vr_guestd *d, uint32_t id);
/* Output for a player, as for the port. */
size_t vr_guestd_player_out_peek(struct vr_guestd *d, uint32_t id, const uint8_t **data);
void vr_guestd_player_out_consume(struct vr_guestd *d, uint32_t id, size_t n);

/* Runs the timers (hello resend, ping, client liveness). */
void vr_guestd_tick(struct vr_guestd *d);
/* µs until vr_guestd_tick has something to do; UINT64_MAX when nothing. */
uint64_t vr_guestd_next_timeout(const struct vr_guestd *d);

void vr_guestd_get_stats(const struct vr_guestd *d, struct vr_guestd_stats *st);

/*
 * The socket path a player tries first: $VIDEOREDIR_GUESTD_SOCKET when set
 * (NULL when it is "" or "none": no daemon), else
 * $XDG_RUNTIME_DIR/videoredir/guestd.sock, else /run/videoredir/guestd.sock.
 * Written to buf (cap bytes). Returns buf, or NULL when off or too long.
 */
const char *vr_guestd_socket_path(char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
