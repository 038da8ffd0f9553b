/* libFuzzer target: the recording reader over arbitrary bytes, the way
 * videoredir-replay uses it (records, then each message payload through the
 * protocol decoder). The reader must never crash, read out of bounds or
 * hand out a record it did not check; damage ends the read with an error
 * that names a place. Seeds: tests/replay/corpus (gen_corpus.sh). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/record.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vr_record_reader *r;
    if (vr_record_reader_open_memory(data, size, &r) < 0) {
        if (!vr_record_reader_error(NULL)[0])
            abort(); /* a refusal always says why */
        return 0;
    }
    static struct vr_msg msg;
    struct vr_record rec;
    uint64_t last = 0, n = 0;
    int ret;
    while ((ret = vr_record_read(r, &rec)) == 1) {
        if (rec.time_us < last || rec.index != n++ || rec.offset >= size ||
            rec.len > size - rec.offset || rec.len > VR_RECORD_MAX_DATA)
            abort();
        last = rec.time_us;
        if (rec.kind == VR_RECORD_MSG)
            vr_msg_decode(rec.data, rec.len, &msg);
    }
    if (ret < 0 && (vr_record_read(r, &rec) != ret || !vr_record_reader_error(r)[0]))
        abort(); /* sticky, and explained */
    if (ret == 0 && vr_record_reader_offset(r) != size)
        abort(); /* a clean end is the end of the data */
    vr_record_reader_close(r);
    return 0;
}
