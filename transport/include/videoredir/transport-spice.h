/*
 * videoredir transport over spice-gtk's SpicePortChannel (client side).
 *
 * Watches a SpiceSession for a port channel with the configured name, feeds
 * everything from `port-data` into a vr_conn and writes the conn's queued
 * output with spice_port_channel_write_async (one write in flight at a time).
 * Runs on the GLib main context of the session; not thread-safe.
 */
#ifndef VIDEOREDIR_TRANSPORT_SPICE_H
#define VIDEOREDIR_TRANSPORT_SPICE_H

#include <spice-client.h>

#include <videoredir/transport.h>

G_BEGIN_DECLS

typedef struct _VrSpicePort VrSpicePort;

struct vr_spiceport_callbacks {
    /* The port was opened (TRUE) or closed (FALSE) on the guest side, or the
     * channel went away (FALSE). The conn has been reset on each change. */
    void (*opened)(void *user, gboolean opened);
    /* A write failed; the port is treated as closed. May be NULL. */
    void (*error)(void *user, const GError *error);
};

/*
 * Starts watching session for a port named port_name (NULL: the default).
 * conn is borrowed and must outlive the VrSpicePort. cb is copied.
 * Port channels that already exist in the session are found too.
 */
VrSpicePort *vr_spiceport_new(SpiceSession *session, const char *port_name,
                              struct vr_conn *conn,
                              const struct vr_spiceport_callbacks *cb, void *user);

/* Starts writing whatever the conn has queued; call after vr_conn_send. */
void vr_spiceport_flush(VrSpicePort *port);

/* TRUE while output is on its way out: a write not yet sent by spice-gtk,
 * or one asked for during the feeding. A program that leaves after its last
 * message waits for FALSE (and for vr_conn_out_queued to be 0). */
gboolean vr_spiceport_writing(const VrSpicePort *port);

/* TRUE while a matching port channel exists and the guest has it open. */
gboolean vr_spiceport_is_open(const VrSpicePort *port);

/* Disconnects from the session and frees. NULL is a no-op. */
void vr_spiceport_free(VrSpicePort *port);

/* What a channel event says went wrong, for the user: the channel's GError
 * when it has one, else a sentence for the event; NULL for an event that is
 * not an error (opened, closed, switching). Owned by the channel or static. */
const char *vr_spice_channel_error(SpiceChannel *channel, SpiceChannelEvent event);

G_END_DECLS

#endif
