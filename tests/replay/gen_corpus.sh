#!/usr/bin/env bash
# Seeds for fuzz_record from the replay corpus: small whole recordings (the
# first records of some, cut at record boundaries), plus a truncated and a
# corrupted one. Usage: tests/replay/gen_corpus.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
recs=$here/../../samples/recordings
out=${1:-$here/corpus}
mkdir -p "$out"
python3 - "$recs" "$out" <<'PY'
import struct, sys, zlib
recs, out = sys.argv[1], sys.argv[2]
def bounds(data):
    off, res = 32, [32]
    while off < len(data):
        length, = struct.unpack_from("<I", data, off + 4)
        off += 20 + length + 4
        res.append(off)
    return res
def cut(name, n_records):
    data = open("%s/%s.vrr" % (recs, name), "rb").read()
    return data[:bounds(data)[n_records]]
seeds = {
    "01-vp9-start.vrr": cut("vp9", 7),         # open, hellos, start, geometry, accept, first frame
    "02-region-change.vrr": None,
    "03-flush.vrr": None,
    "04-header-only.vrr": cut("vp9", 0),
}
# A region change and a flush: the records around them.
for key, name, mtype in (("02-region-change.vrr", "region", 0x13), ("03-flush.vrr", "flush", 0x15)):
    data = open("%s/%s.vrr" % (recs, name), "rb").read()
    b = bounds(data)
    head = data[:32]
    body = b""
    for i in range(len(b) - 1):
        rec = data[b[i]:b[i + 1]]
        if rec[0] == 1 and len(rec) >= 28 and struct.unpack_from("<H", rec, 26)[0] == mtype:
            body = data[b[max(i - 1, 0)]:b[min(i + 3, len(b) - 1)]]
            break
    seeds[key] = head + body
seeds["05-truncated.vrr"] = cut("vp9", 7)[:-100]
bad = bytearray(cut("vp9", 7))
bad[-50] ^= 1
seeds["06-payload-crc.vrr"] = bytes(bad)
# Every record kind and event, and an unknown kind, by hand.
hdr = cut("vp9", 0)
def record(kind, direction, t, payload):
    h = struct.pack("<BBHIQ", kind, direction, 0, len(payload), t)
    return h + struct.pack("<I", zlib.crc32(h)) + payload + struct.pack("<I", zlib.crc32(payload))
seeds["07-events.vrr"] = hdr + record(2, 0, 0, struct.pack("<I", 1)) + record(9, 0, 5, b"later") + \
    record(2, 0, 10, struct.pack("<I", 2))
for k, v in seeds.items():
    open("%s/%s" % (out, k), "wb").write(v)
    print("%-24s %6d bytes" % (k, len(v)))
PY
