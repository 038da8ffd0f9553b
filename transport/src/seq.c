/* Receive-side frame sequence tracking (serial-number arithmetic mod 2^32). */
#include <errno.h>

#include "videoredir/transport.h"

void vr_seq_rx_reset(struct vr_seq_rx *s)
{
    if (s) {
        s->started = false;
        s->expected = 0;
        s->lost = 0; /* per stream: a new stream starts its own count */
    }
}

long vr_seq_rx_check(struct vr_seq_rx *s, uint32_t seq)
{
    if (!s)
        return -EINVAL;
    if (!s->started) {
        s->started = true;
        s->expected = seq + 1u;
        return 0;
    }
    /* Distance modulo 2^32: the upper half of the circle is "behind", so
     * numbering wraps from 0xffffffff to 0 without a false gap. */
    uint32_t ahead = seq - s->expected;
    if (ahead >= 0x80000000u)
        return -EALREADY;
    s->expected = seq + 1u;
    s->lost += ahead;
    return (long)ahead;
}
