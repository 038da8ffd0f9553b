/*
 * videoredir session recordings (protocol/RECORDING.md): every message of a
 * session in both directions with its arrival time, in a versioned container
 * with a CRC-32 per record, so that a recording cut short still reads up to
 * the cut and a damaged one up to the damage.
 *
 *  - vr_record_writer: writes a recording; vr_record_tap() plugs it into a
 *    vr_conn (vr_conn_set_tap) so that any program using the transport can
 *    record its session.
 *  - vr_record_reader: a bounded reader for recordings, which are untrusted
 *    input: every length is capped, memory grows only with bytes actually
 *    read, the first damage is reported with its offset and record number.
 *  - vr_record_peer: an in-memory stand-in client that accepts every stream,
 *    so that a guest program can record a session without a client.
 *
 * libc plus the protocol and transport libraries only. Objects are not
 * thread-safe: use each from one thread at a time. Functions return 0 (or a
 * count) or a negative errno.
 */
#ifndef VIDEOREDIR_RECORD_H
#define VIDEOREDIR_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <videoredir/protocol.h>
#include <videoredir/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Container version written and read by this library. */
#define VR_RECORD_VERSION 1
/* File header and per-record framing sizes (RECORDING.md sections 2-3). */
#define VR_RECORD_FILE_HEADER_SIZE 32
#define VR_RECORD_HEADER_SIZE 20
#define VR_RECORD_TRAILER_SIZE 4
/* Largest record payload: one maximal protocol message. */
#define VR_RECORD_MAX_DATA (VR_HEADER_SIZE + VR_MAX_PAYLOAD)

/* Which end of the session wrote the recording. */
enum vr_record_side { VR_RECORD_SIDE_GUEST = 1, VR_RECORD_SIDE_CLIENT = 2 };

/* Direction of a message, independent of who recorded it. */
enum vr_record_dir { VR_RECORD_TO_CLIENT = 1, VR_RECORD_TO_GUEST = 2 };

/* Record kinds. Readers skip kinds they do not know (forward compatibility). */
enum vr_record_kind { VR_RECORD_MSG = 1, VR_RECORD_EVENT = 2 };

/* Payload (u32) of an EVENT record. */
enum vr_record_event {
    VR_RECORD_EV_OPEN = 1,  /* the recorder's channel opened */
    VR_RECORD_EV_CLOSE = 2, /* the recorder's channel closed */
};

/* What the file header says. */
struct vr_record_info {
    uint16_t version;   /* container version */
    uint8_t side;       /* enum vr_record_side */
    uint64_t origin_us; /* recorder's clock (vr_time_us scale) at time 0 */
};

/* One record as read. data is valid until the next call on the reader. */
struct vr_record {
    uint8_t kind;         /* enum vr_record_kind, or an unknown value */
    uint8_t dir;          /* enum vr_record_dir (MSG), 0 otherwise */
    uint64_t time_us;     /* since origin_us; never decreases */
    const uint8_t *data;  /* MSG: one raw protocol message as the tap saw it */
    uint32_t len;
    uint32_t event;       /* EVENT: enum vr_record_event */
    uint64_t index;       /* 0 for the first record */
    uint64_t offset;      /* file offset of the record's header */
};

/* CRC-32 (IEEE 802.3, the polynomial of zlib's crc32) of len bytes,
 * continuing from crc (0 to start). */
uint32_t vr_record_crc32(uint32_t crc, const uint8_t *data, size_t len);

/* ---------------------------------------------------------------------- */
/* Writer.                                                                  */

struct vr_record_writer;

/*
 * Creates (truncates) path and writes the file header. clock gives the
 * time of each record (vr_time_us scale); NULL: vr_time_us. The origin is
 * the clock's value now. Returns 0 and *out, -EINVAL, -ENOMEM or the errno
 * of the failed open/write.
 */
int vr_record_writer_open(const char *path, enum vr_record_side side,
                          uint64_t (*clock)(void *user), void *clock_user,
                          struct vr_record_writer **out);

/*
 * Appends one message record of direction dir, stamped with the clock now,
 * and hands it to the OS (so that a killed recorder loses at most the record
 * being written). len is 1..VR_RECORD_MAX_DATA. Returns 0, -EINVAL, -E2BIG,
 * or the sticky errno of an earlier failed write (nothing more is written
 * after one).
 */
int vr_record_write_msg(struct vr_record_writer *w, enum vr_record_dir dir, const uint8_t *data,
                        size_t len);

/* Appends an EVENT record (enum vr_record_event). Returns as _write_msg. */
int vr_record_write_event(struct vr_record_writer *w, uint32_t event);

/*
 * A vr_conn_tap_fn: records what the conn sends and receives. user is the
 * writer; IN/OUT become TO_CLIENT/TO_GUEST by the writer's side. Errors are
 * sticky and come out of vr_record_writer_close. Use with
 * vr_conn_set_tap(conn, vr_record_tap, writer).
 */
void vr_record_tap(void *user, enum vr_direction dir, const uint8_t *raw, size_t len);

/* Records written so far. */
uint64_t vr_record_writer_count(const struct vr_record_writer *w);

/* Closes the file and frees w. Returns 0 or the first write/close error.
 * NULL is a no-op returning 0. */
int vr_record_writer_close(struct vr_record_writer *w);

/* ---------------------------------------------------------------------- */
/* Reader.                                                                  */

struct vr_record_reader;

/*
 * Opens a recording and checks its file header. Errors: -ENOENT etc. from
 * open, -ENODATA shorter than a file header, -EINVAL not a recording (bad
 * magic), -EPROTONOSUPPORT another container version, -EBADMSG header CRC or
 * reserved fields wrong. vr_record_reader_error() has the details even when
 * *out is not set (then from a static buffer: not thread-safe).
 */
int vr_record_reader_open(const char *path, struct vr_record_reader **out);

/* As _open, over len bytes in memory (borrowed: they must outlive the
 * reader; no copy is made). */
int vr_record_reader_open_memory(const uint8_t *data, size_t len, struct vr_record_reader **out);

/* The file header. */
const struct vr_record_info *vr_record_reader_info(const struct vr_record_reader *r);

/*
 * Reads the next record. Returns 1 and *rec, 0 at the clean end of the file
 * (after a whole record), or a negative errno for damage, after which every
 * call returns the same error:
 *   -ENODATA  the file ends inside a record (truncated);
 *   -E2BIG    a length above VR_RECORD_MAX_DATA;
 *   -EBADMSG  CRC mismatch, reserved field not zero, time going backwards,
 *             bad direction or event;
 *   -EIO / -ENOMEM.
 * Records of an unknown kind are returned (kind set, data as stored): the
 * caller skips them.
 */
int vr_record_read(struct vr_record_reader *r, struct vr_record *rec);

/* Offset of the next record (after an error: of the damaged one). */
uint64_t vr_record_reader_offset(const struct vr_record_reader *r);
/* Records read successfully so far. */
uint64_t vr_record_reader_count(const struct vr_record_reader *r);

/* The last error in words ("record 12 at offset 4096: CRC mismatch ..."), ""
 * if none. Valid until the next call on r. NULL r: the last open failure. */
const char *vr_record_reader_error(const struct vr_record_reader *r);

/* Frees r. NULL is a no-op. */
void vr_record_reader_close(struct vr_record_reader *r);

/* ---------------------------------------------------------------------- */
/* Stand-in client.                                                         */

struct vr_record_peer;

/* Creates a stand-in client: it answers the guest's HELLO (every codec, up
 * to VR_MAX_DIMENSION, features REGION and FEEDBACK), ACCEPTs every stream,
 * answers PINGs and acknowledges every frame with a FEEDBACK at once, so the
 * guest's flow-control window never fills. software is the name in its
 * hello (NULL: "videoredir record peer"). Returns 0 and *out or -ENOMEM. */
int vr_record_peer_create(const char *software, struct vr_record_peer **out);

/* Frees p. NULL is a no-op. */
void vr_record_peer_destroy(struct vr_record_peer *p);

/* Forgets the session (the guest's channel reopened). */
void vr_record_peer_reset(struct vr_record_peer *p);

/*
 * Moves bytes between the guest's conn and the peer until neither has
 * output left: the guest's queued output is consumed and fed to the peer,
 * the peer's answers fed to the guest (its callbacks run from here). now_us
 * stamps the peer's PONGs. Returns the bytes moved (0: nothing to do) or a
 * negative errno from vr_conn_feed.
 */
long vr_record_peer_pump(struct vr_record_peer *p, struct vr_conn *guest, uint64_t now_us);

#ifdef __cplusplus
}
#endif

#endif
