/*
 * Internal to vr_transport: framing helpers shared by the reassembler, the
 * connection and the fd adapter. Not installed, not part of the API.
 */
#ifndef VR_TRANSPORT_FRAME_H
#define VR_TRANSPORT_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct vr_conn;

/*
 * Looks at the n bytes at p, which should start with a message header.
 * Returns 1 when a whole message is there (*aux = its size), 0 when more
 * bytes are needed (*aux = size needed: the header, or the whole message once
 * the header is known), or a negative errno for a bad header (wrong magic,
 * header version, or a length over VR_MAX_PAYLOAD or over max) with *aux =
 * bytes to skip to the next place a magic could start (at least 1).
 * A partial header whose first bytes cannot be a magic is already bad.
 */
int vr_frame_scan(const uint8_t *p, size_t n, size_t max, size_t *aux);

/* Scratch buffer of the conn used by vr_fd_read (allocated on first use,
 * freed with the conn). Returns NULL on allocation failure. */
uint8_t *vr_conn_scratch(struct vr_conn *c, size_t *size);

#endif
