#!/usr/bin/env bash
# Recordings with valid CRCs but hostile times and clock values: a jump of
# 2^62 us in the middle, an origin near the end of the u64 range, a
# client-side recording whose PONGs carry absurd times. The replay must end
# quickly (no ticking through the gap, no wrap-around), stay clean under
# UBSan, and decode FFmpeg's frames for what the session delivered (after
# the gap the client has dropped the silent guest's stream, as it would).
# Env: VR_BIN, VR_SAMPLES.
set -euo pipefail
: "${VR_BIN:?}" "${VR_SAMPLES:?}"
src=$VR_SAMPLES/recordings/vp9.vrr
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vr-hostile.XXXXXX")
trap '[ "${VR_KEEP_TMP:-0}" = 1 ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
col() { grep -v '^#' "$1" | awk -F',' '{gsub(/ /, "", $NF); print $NF}'; }

python3 - "$src" "$tmp" <<'PY'
import struct, sys, zlib
src, out = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
head, recs, off = bytearray(data[:32]), [], 32
while off < len(data):
    kind, d, _, length, t = struct.unpack_from("<BBHIQ", data, off)
    recs.append([kind, d, t, data[off + 20:off + 20 + length]])
    off += 20 + length + 4
def record(kind, d, t, payload):
    h = struct.pack("<BBHIQ", kind, d, 0, len(payload), t)
    return h + struct.pack("<I", zlib.crc32(h)) + payload + struct.pack("<I", zlib.crc32(payload))
def write(name, header, rs):
    header[28:32] = struct.pack("<I", zlib.crc32(bytes(header[:28])))
    open("%s/%s.vrr" % (out, name), "wb").write(bytes(header) + b"".join(record(*r) for r in rs))
# 1. Everything from record 60 on, 2^62 us later.
write("gap", bytearray(head), [r[:2] + [r[2] + (1 << 62 if i >= 60 else 0)] + r[3:] for i, r in enumerate(recs)])
# 2. Origin 1000 us before the end of u64: absolute times saturate.
h = bytearray(head)
h[16:24] = struct.pack("<Q", (1 << 64) - 1000)
write("origin", h, recs)
# 3. Client side, with PONGs from the guest that say absurd things.
h = bytearray(head)
h[12] = 2
pongs = []
for ping_t, pong_t in ((0, (1 << 64) - 1), ((1 << 64) - 1, 0), (1 << 63, 1)):
    p = struct.pack("<IIQQ", 1, 0, ping_t, pong_t)
    msg = struct.pack("<IHHII", 0x52445256, 1, 0x0003, 0, len(p)) + p
    pongs.append([1, 1, None, msg])
rs = []
for i, r in enumerate(recs):
    rs.append(r)
    if i in (10, 30, 50):
        q = pongs.pop(0)
        q[2] = r[2]
        rs.append(q)
write("pongs", h, rs)
PY

ffmpeg -nostdin -v error -i "$VR_SAMPLES/vp9.webm" -map 0:v:0 -f framemd5 "$tmp/ref.md5"
col "$tmp/ref.md5" >"$tmp/want.col"
for name in gap origin pongs; do
  start=$(date +%s%N)
  "$VR_BIN/videoredir-replay" --framemd5 "$tmp/$name.md5" --snapshot "$tmp/$name.png" --snapshot-at 1 \
    --present-log "$tmp/$name.present" "$tmp/$name.vrr" 2>"$tmp/$name.log" \
    || { cat "$tmp/$name.log" >&2; fail "$name: replay failed"; }
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ $ms -lt 20000 ] || fail "$name: took $ms ms"
  col "$tmp/$name.md5" >"$tmp/$name.col"
  n=$(wc -l <"$tmp/$name.col")
  if [ $name = gap ]; then
    [ "$n" -gt 10 ] && [ "$n" -lt 75 ] || fail "gap: $n frames (want those before the gap)"
    grep -q "nothing from the guest for 5 s" "$tmp/$name.log" || fail "gap: the client did not notice the silence"
  else
    [ "$n" = 75 ] || fail "$name: $n frames, want 75"
  fi
  head -n "$n" "$tmp/want.col" | cmp -s - "$tmp/$name.col" || fail "$name: frames differ from ffmpeg's"
  echo "$name: $n frames equal to ffmpeg's first $n, in $ms ms"
done
