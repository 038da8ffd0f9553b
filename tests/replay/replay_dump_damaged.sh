#!/usr/bin/env bash
# videoredir-replay --dump-stream on a damaged recording and on bad
# requests. truncated / payload: vp9.vrr cut inside record 100 (a FRAME) or
# with a flipped bit in its payload: exit 4 naming the damage, and the dump
# (finished, not cut) decodes in ffmpeg to exactly ffmpeg's first frames of
# vp9.webm, one per whole FRAME record before the damage. options:
# --dump-stream-id picks the stream (1 gives the default's bytes; a stream
# the recording lacks, an unwritable file: exit 1 with a message; a bad id:
# exit 2). hostile: valid CRCs, but a time base of 4294967295/1 and absurd
# timestamps (INT64_MAX, unknown, going back, huge durations): every frame is
# still dumped, and decodes to vp9.webm's frames.
# Usage: replay_dump_damaged.sh truncated|payload|options|hostile   (env: VR_BIN, VR_SAMPLES)
set -euo pipefail
mode=${1:?mode}
: "${VR_BIN:?}" "${VR_SAMPLES:?}"
here=$(cd "$(dirname "$0")" && pwd)
src=$VR_SAMPLES/recordings/vp9.vrr
replay=$VR_BIN/videoredir-replay
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vr-dump-damaged.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$here/lib.sh"

if [ "$mode" = options ]; then
  "$replay" -q --dump-stream "$tmp/default.mkv" "$src" || fail "default dump failed"
  "$replay" -q --dump-stream "$tmp/one.mkv" --dump-stream-id 1 "$src" || fail "--dump-stream-id 1 failed"
  cmp -s "$tmp/default.mkv" "$tmp/one.mkv" || fail "--dump-stream-id 1 differs from the default (the first stream)"
  set +e
  "$replay" -q --dump-stream "$tmp/seven.mkv" --dump-stream-id 7 "$src" 2>"$tmp/seven.log"; rc7=$?
  "$replay" -q --dump-stream "$tmp/no/such/dir/x.mkv" "$src" 2>"$tmp/dir.log"; rcd=$?
  "$replay" -q --dump-stream "$tmp/zero.mkv" --dump-stream-id 0 "$src" 2>"$tmp/zero.log"; rc0=$?
  "$replay" -q --dump-stream-id 1 "$src" 2>"$tmp/alone.log"; rca=$?
  set -e
  cat "$tmp"/*.log
  [ $rc7 = 1 ] && grep -q "no stream 7 started" "$tmp/seven.log" || fail "absent stream: exit $rc7"
  [ -e "$tmp/seven.mkv" ] && fail "a file was made for an absent stream"
  [ $rcd = 1 ] && grep -q "cannot write the stream dump" "$tmp/dir.log" || fail "unwritable file: exit $rcd"
  [ $rc0 = 2 ] || fail "--dump-stream-id 0: exit $rc0, want 2"
  [ $rca = 2 ] || fail "--dump-stream-id without --dump-stream: exit $rca, want 2"
  echo "options: --dump-stream-id and errors as documented"
  exit 0
fi

if [ "$mode" = hostile ]; then
  python3 - "$src" "$tmp/hostile.vrr" <<'PY'
import struct, sys, zlib
src, dst = sys.argv[1], sys.argv[2]
data = bytearray(open(src, "rb").read())
off, i = 32, 0
vals = [(2**63 - 1, 2**63 - 1, 2**62), (-2**63, -2**63, 0), (-2**62, 5, 1), (2**62, -2**62, 2**63 - 1),
        (0, 0, 0), (-2**63, 7, 3)]
while off < len(data):
    kind, d, _, length, t = struct.unpack_from("<BBHIQ", data, off)
    p = off + 20
    if kind == 1 and d == 1:
        typ = struct.unpack_from("<H", data, p + 6)[0]
        if typ == 0x0010:                      # STREAM_START: time base 4294967295/1
            struct.pack_into("<II", data, p + 16 + 12, 0xffffffff, 1)
        elif typ == 0x0011 and i % 3 != 2:     # FRAME: two in three get hostile times
            struct.pack_into("<qqq", data, p + 16 + 8, *vals[i % len(vals)])
        if typ == 0x0011:
            i += 1
        struct.pack_into("<I", data, p + length, zlib.crc32(bytes(data[p:p + length])))
    off = p + length + 4
open(dst, "wb").write(data)
PY
  python3 "$here/vrrec.py" check "$tmp/hostile.vrr" >/dev/null || fail "vrrec.py rejects the hostile recording"
  "$replay" --dump-stream "$tmp/out.mkv" "$tmp/hostile.vrr" 2>"$tmp/dump.log" \
    || { cat "$tmp/dump.log" >&2; fail "the dump failed"; }
  cat "$tmp/dump.log"
  ffmpeg -nostdin -v error -i "$tmp/out.mkv" -map 0:v:0 -fps_mode passthrough -f framemd5 - >"$tmp/dump.md5" \
    || fail "ffmpeg cannot read the dump"
  ffmpeg -nostdin -v error -i "$VR_SAMPLES/vp9.webm" -map 0:v:0 -f framemd5 - >"$tmp/ref.md5"
  col "$tmp/dump.md5" >"$tmp/got.col"
  col "$tmp/ref.md5" >"$tmp/want.col"
  cmp -s "$tmp/got.col" "$tmp/want.col" \
    || fail "the dump decodes to $(wc -l <"$tmp/got.col") frames, want vp9.webm's $(wc -l <"$tmp/want.col")"
  echo "hostile: $(wc -l <"$tmp/got.col") frames with hostile times dumped, equal to ffmpeg's"
  exit 0
fi

off=$(replay_damage "$src" "$tmp/bad.vrr" "$mode")

set +e
"$replay" --dump-stream "$tmp/out.mkv" "$tmp/bad.vrr" 2>"$tmp/dump.log"
rc=$?
set -e
cat "$tmp/dump.log"
[ $rc = 4 ] || fail "exit $rc, want 4 (damaged)"
grep -q "damaged recording: record 100 at offset $off: " "$tmp/dump.log" \
  || fail "the message does not name record 100 at offset $off"
ffmpeg -nostdin -v error -i "$tmp/out.mkv" -map 0:v:0 -fps_mode passthrough -f framemd5 - >"$tmp/dump.md5" \
  || fail "ffmpeg cannot read the dump"
replay_check_prefix "$tmp/dump.md5" "$src" "$VR_SAMPLES/vp9.webm" "the dump decodes to"
echo "$mode: dumped up to record 100 at offset $off, exit 4: $frames frames equal to ffmpeg's"
