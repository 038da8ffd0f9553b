#!/usr/bin/env bash
# Never silent: a client decoding slower than real time at 1080p60 keeps
# answering the guest. Over the real stack (videoredir-host, videoredir-capture
# --pace realtime with its default 5 s keepalive, videoredir-client), the
# client's decoder sleeps SLOW_US after each of SLOW_FRAMES frames from frame
# SLOW_FROM on (about 6x slower than the 60 fps clip for 1.5 s of video, then
# full speed). The guest holds about a second of video in flight, which such
# a decoder takes 6 s to work through: the client must go on answering PINGs
# and sending FEEDBACK meanwhile (its decoder runs on a thread of its own), so
# that the capture never takes it for gone (with --decode-inline, the old
# way, it did) and every frame arrives: the client's framemd5 equals FFmpeg's.
# Usage: slow_1080p60.sh [CLIENT OPTIONS...]   (VR_BIN: the build's bin folder)
set -euo pipefail
command -v ffmpeg >/dev/null || { echo "SKIP: no ffmpeg"; exit 77; }
. "$(dirname "$0")/../e2e/lib.sh"

SLOW_US=90000 SLOW_FROM=20 SLOW_FRAMES=90

# 3 s of 1920x1080 at 60 fps with B-frames, 10 Mbit/s.
ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=60" -t 3 \
  -c:v libx264 -preset ultrafast -bf 2 -g 60 -b:v 10M -maxrate 10M -bufsize 10M -pix_fmt yuv420p \
  "$VR_TMP/clip.mp4" || vr_fail "ffmpeg could not make the clip"
vr_ffmpeg_framemd5 "$VR_TMP/clip.mp4" "$VR_TMP/want.md5"

vr_start_host
n=$(vr_port_channels)
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --framemd5 "$VR_TMP/got.md5" \
  --slow-us "$SLOW_US" --slow-from "$SLOW_FROM" --slow-frames "$SLOW_FRAMES" --exit-at-eos \
  --timeout 60 --stats -v "$@" \
  2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
vr_wait_port_channel "$n" "$client"
start=$(date +%s.%N)
"$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime --window 0,0,1920,1080 \
  --connect-timeout 30 -v "$VR_TMP/clip.mp4" >"$VR_TMP/capture.log" 2>&1 ||
  vr_fail "capture failed"
end=$(date +%s.%N)
wait "$client" || vr_fail "client failed"
awk -v s="$start" -v e="$end" 'BEGIN { printf "capture ran %.1f s for 3 s of video\n", e - s }'
grep "stats:" "$VR_TMP/client.log" | tail -n 3
if grep -q "treating it as gone" "$VR_TMP/capture.log"; then
  vr_fail "the capture took the slow client for gone"
fi
if grep -q "guest restarted" "$VR_TMP/client.log"; then
  vr_fail "the capture gave the client up and started again"
fi
vr_compare_md5 "$VR_TMP/got.md5" "$VR_TMP/want.md5"
echo PASS
