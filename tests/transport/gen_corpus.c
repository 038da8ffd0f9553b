/*
 * Writes the seed corpus of fuzz_reassembler: valid message streams (and one
 * with garbage) behind the two mode bytes. Run: gen_transport_corpus DIR
 */
#include <errno.h>

#include "tutil.h"

static int write_file(const char *dir, const char *name, uint8_t mode, uint8_t cap,
                      const struct t_buf *b)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    uint8_t hdr[2] = { mode, cap };
    int ok = fwrite(hdr, 1, 2, f) == 2 && fwrite(b->p, 1, b->len, f) == b->len;
    ok = fclose(f) == 0 && ok;
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    t_pool_init(1);
    int ret = 0;
    for (int i = 0; i < 8; i++) {
        struct t_rng r;
        t_rng_seed(&r, (uint64_t)i + 100);
        struct t_buf b = { 0 };
        for (int k = 0; k < 6; k++) {
            struct vr_msg m;
            t_random_msg(&r, &m, 0);
            if (m.type == VR_MSG_FRAME && m.u.frame.data_len > 200)
                m.u.frame.data_len = 1 + m.u.frame.data_len % 200;
            if (m.type == VR_MSG_FRAME)
                m.u.frame.seq = (uint32_t)k;
            if (m.type == VR_MSG_REGION && m.u.region.n_rects > 4)
                m.u.region.n_rects = 4;
            t_buf_add_msg(&b, &m);
            if (i == 7)
                t_buf_add(&b, "VRD\x01garbage", 11);
        }
        char name[32];
        snprintf(name, sizeof(name), "stream-%d.bin", i);
        ret |= write_file(argv[1], name, (uint8_t)(i * 37 + (i & 3)), (uint8_t)i, &b);
        free(b.p);
    }
    return ret ? 1 : 0;
}
