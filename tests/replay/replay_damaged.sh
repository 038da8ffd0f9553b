#!/usr/bin/env bash
# Damaged recordings replay up to the damage and say where it is: a cut in
# the middle of a frame record, a flipped byte in a frame's payload, a
# flipped byte in a record header. videoredir-replay must exit 4 and name
# the record and offset that vrrec.py (an independent reader of
# RECORDING.md) finds, and the frames it decoded must be exactly FFmpeg's
# first frames, one per whole FRAME record before the damage (VP9: the
# decoder holds no frames back).
# Usage: replay_damaged.sh truncated|payload|header   (env: VR_BIN, VR_SAMPLES)
set -euo pipefail
mode=${1:?mode}
: "${VR_BIN:?}" "${VR_SAMPLES:?}"
here=$(cd "$(dirname "$0")" && pwd)
src=$VR_SAMPLES/recordings/vp9.vrr
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vr-damaged.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$here/lib.sh"

# Record 100 is a FRAME (about frame 47); damage it in the chosen way.
off=$(replay_damage "$src" "$tmp/bad.vrr" "$mode")

set +e
python3 "$here/vrrec.py" check "$tmp/bad.vrr" >"$tmp/vrrec.out"
py=$?
"$VR_BIN/videoredir-replay" --framemd5 "$tmp/got.md5" "$tmp/bad.vrr" 2>"$tmp/replay.log"
rc=$?
set -e
cat "$tmp/replay.log"
cat "$tmp/vrrec.out"
[ $py = 4 ] || fail "vrrec.py did not find the damage"
[ $rc = 4 ] || fail "videoredir-replay exited $rc, want 4 (damaged)"
grep -q "damaged recording: record 100 at offset $off: " "$tmp/replay.log" \
  || fail "the message does not name record 100 at offset $off"
grep -q "record 100 at offset $off" "$tmp/vrrec.out" || fail "vrrec.py disagrees about the place"
case $mode in
  truncated) grep -q "truncated" "$tmp/replay.log" || fail "not called truncated" ;;
  payload) grep -q "payload CRC mismatch" "$tmp/replay.log" || fail "not called a payload CRC mismatch" ;;
  header) grep -q "header CRC mismatch" "$tmp/replay.log" || fail "not called a header CRC mismatch" ;;
esac

# Frames: one per whole FRAME record before record 100, equal to ffmpeg's.
replay_check_prefix "$tmp/got.md5" "$src" "$VR_SAMPLES/vp9.webm" "got"
echo "$mode: replayed up to record 100 at offset $off: $frames frames equal to ffmpeg's"
