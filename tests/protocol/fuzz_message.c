/*
 * Fuzz target for vr_msg_decode. Whatever decodes must re-encode, decode to
 * the same message, and re-encode to the same bytes (the encoding is
 * canonical). Any disagreement aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg_util.h"
#include "videoredir/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const uint8_t *data, size_t size)
{
    struct vr_msg *m1 = malloc(sizeof(*m1));
    struct vr_msg *m2 = malloc(sizeof(*m2));
    uint8_t *enc1 = NULL, *enc2 = NULL;
    if (!m1 || !m2)
        goto out;

    struct vr_header hdr;
    int hret = vr_header_decode(data, size, &hdr);
    int ret = vr_msg_decode(data, size, m1);
    /* The whole-message decoder never accepts what the header decoder refuses. */
    if (hret < 0 && ret == 0)
        abort();
    if (ret < 0)
        goto out;
    if (hdr.type != m1->type || hdr.stream_id != m1->stream_id)
        abort();

    long n = vr_msg_encoded_size(m1);
    if (n < (long)VR_HEADER_SIZE || (size_t)n > size)
        abort(); /* at most the input: only trailing payload bytes are dropped */
    enc1 = malloc((size_t)n);
    enc2 = malloc((size_t)n);
    if (!enc1 || !enc2)
        goto out;
    if (vr_msg_encode(m1, enc1, (size_t)n - 1) != -ENOSPC)
        abort();
    if (vr_msg_encode(m1, enc1, (size_t)n) != n)
        abort();
    if (vr_msg_decode(enc1, (size_t)n, m2) != 0 || !vr_msg_equal(m1, m2))
        abort();
    if (vr_msg_encode(m2, enc2, (size_t)n) != n || memcmp(enc1, enc2, (size_t)n) != 0)
        abort();
    /* Without trailing bytes the encoding is the input itself, header length aside. */
    if ((size_t)n == size && memcmp(enc1, data, size) != 0)
        abort();
out:
    free(enc1);
    free(enc2);
    free(m1);
    free(m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    roundtrip(data, size);

    /* Again with a header that is always well formed, so that mutations spend
     * their time in the payload parsers rather than on magic and length. */
    if (size >= VR_HEADER_SIZE && size - VR_HEADER_SIZE <= VR_MAX_PAYLOAD) {
        uint8_t *copy = malloc(size);
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        uint32_t len = (uint32_t)(size - VR_HEADER_SIZE);
        const uint8_t fixed[6] = { 'V', 'R', 'D', 'R', VR_PROTO_HEADER_VERSION, 0 };
        memcpy(copy, fixed, sizeof(fixed));
        for (int i = 0; i < 4; i++)
            copy[12 + i] = (uint8_t)(len >> (8 * i));
        roundtrip(copy, size);
        free(copy);
    }
    return 0;
}
