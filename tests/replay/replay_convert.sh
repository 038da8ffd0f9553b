#!/usr/bin/env bash
# 1. samples/recordings/make-recordings.sh, run again with this build's
#    videoredir-capture, writes exactly the committed recordings (the
#    capture's virtual clock makes them reproducible), so the corpus is what
#    the tools make and nobody edited it by hand.
# 2. A plain clip becomes a replay test in one command: capture --record
#    without a client, then replay --verify against ffmpeg's decode.
# 3. --pace replays in real time (the 3 s clip takes about 3 s).
# Env: VR_BIN, VR_SAMPLES.
set -euo pipefail
: "${VR_BIN:?}" "${VR_SAMPLES:?}"
recs=$VR_SAMPLES/recordings
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vr-convert.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cp "$recs/resize.h264" "$tmp/" # the generated clip is kept, not remade (x264 builds differ)
"$recs/make-recordings.sh" "$VR_BIN" "$tmp" >/dev/null
for f in "$recs"/*.vrr "$recs"/*.framemd5; do
  cmp -s "$f" "$tmp/$(basename "$f")" || fail "$(basename "$f") made again differs from the committed one"
done
echo "make-recordings.sh: $(ls "$recs"/*.vrr | wc -l) recordings and their framemd5 made again, byte for byte"

"$VR_BIN/videoredir-capture" --record "$tmp/ts.vrr" "$VR_SAMPLES/h264.ts" >/dev/null 2>&1 \
  || fail "capture --record without a client failed"
ffmpeg -nostdin -v error -i "$VR_SAMPLES/h264.ts" -map 0:v:0 -f framemd5 "$tmp/ts.md5"
"$VR_BIN/videoredir-replay" --verify "$tmp/ts.md5" "$tmp/ts.vrr" || fail "h264.ts: --verify failed"

start=$(date +%s%N)
"$VR_BIN/videoredir-replay" -q --pace "$recs/vp9.vrr"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -ge 2700 ] && [ $ms -le 6000 ] || fail "--pace replayed 2.96 s of recording in $ms ms"
echo "--pace: 2.96 s of recording in $ms ms"
