/*
 * Reassembler: a byte buffer that turns arbitrary chunks into whole messages.
 *
 * Popping never moves memory; consumed bytes are only reclaimed when a push
 * needs room (lazy compaction), so the cost per byte stays constant whatever
 * the chunking.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "videoredir/transport.h"
#include "frame.h"

#define MIN_ALLOC (64u * 1024u)

static const uint8_t magic[4] = { 'V', 'R', 'D', 'R' };

/* First offset >= 1 where the bytes present could begin a magic. */
static size_t next_magic(const uint8_t *p, size_t n)
{
    size_t i = 1;
    while (i < n) {
        const uint8_t *v = memchr(p + i, magic[0], n - i);
        if (!v)
            return n;
        i = (size_t)(v - p);
        size_t k = n - i < sizeof(magic) ? n - i : sizeof(magic);
        if (memcmp(p + i, magic, k) == 0)
            return i;
        i++;
    }
    return n;
}

int vr_frame_scan(const uint8_t *p, size_t n, size_t max, size_t *aux)
{
    if (n == 0) {
        *aux = VR_HEADER_SIZE;
        return 0;
    }
    if (n < VR_HEADER_SIZE) {
        size_t k = n < sizeof(magic) ? n : sizeof(magic);
        if (memcmp(p, magic, k) != 0) {
            *aux = next_magic(p, n);
            return -EBADMSG;
        }
        *aux = VR_HEADER_SIZE;
        return 0;
    }
    struct vr_header h;
    int ret = vr_header_decode(p, n, &h);
    /* A message the buffer can never hold is as bad as an oversized one. */
    if (ret == 0 && (uint64_t)h.length > (uint64_t)max - VR_HEADER_SIZE)
        ret = -EMSGSIZE;
    if (ret < 0) {
        *aux = next_magic(p, n);
        return ret;
    }
    size_t total = (size_t)VR_HEADER_SIZE + h.length;
    *aux = total;
    return n >= total ? 1 : 0;
}

int vr_reassembler_init(struct vr_reassembler *r, size_t max)
{
    if (!r)
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    if (max == 0)
        max = (size_t)VR_HEADER_SIZE + VR_MAX_PAYLOAD;
    if (max < VR_HEADER_SIZE)
        return -EINVAL;
    r->max = max;
    return 0;
}

void vr_reassembler_finish(struct vr_reassembler *r)
{
    if (!r)
        return;
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = r->start = 0;
}

void vr_reassembler_reset(struct vr_reassembler *r)
{
    /* Keeps the allocation: a message popped just before may still be in use. */
    if (r)
        r->len = r->start = 0;
}

static int reserve(struct vr_reassembler *r, size_t add)
{
    size_t held = r->len - r->start;
    if (r->cap - r->len >= add)
        return 0;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, held);
        r->len = held;
        r->start = 0;
        if (r->cap - r->len >= add)
            return 0;
    }
    size_t need = held + add; /* <= max, checked by the caller */
    size_t ncap = r->cap > r->max / 2 ? r->max : r->cap * 2;
    if (ncap < MIN_ALLOC)
        ncap = MIN_ALLOC;
    if (ncap < need)
        ncap = need;
    if (ncap > r->max)
        ncap = r->max;
    uint8_t *nb = realloc(r->buf, ncap);
    if (!nb)
        return -ENOMEM;
    r->buf = nb;
    r->cap = ncap;
    return 0;
}

int vr_reassembler_push(struct vr_reassembler *r, const uint8_t *data, size_t len)
{
    if (!r || (!data && len))
        return -EINVAL;
    size_t held = r->len - r->start;
    if (len > r->max - held)
        return -ENOBUFS;
    if (len == 0)
        return 0;
    if (held == 0)
        r->len = r->start = 0;
    int ret = reserve(r, len);
    if (ret < 0)
        return ret;
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return 0;
}

int vr_reassembler_pop(struct vr_reassembler *r, const uint8_t **msg, size_t *len)
{
    if (!r || !msg || !len)
        return -EINVAL;
    size_t held = r->len - r->start;
    if (held == 0)
        return 0;
    size_t aux;
    int ret = vr_frame_scan(r->buf + r->start, held, r->max, &aux);
    if (ret < 0) {
        r->start += aux;
        r->resync_bytes += aux;
        return ret;
    }
    if (ret == 0)
        return 0;
    *msg = r->buf + r->start;
    *len = aux;
    r->start += aux;
    return 1;
}
