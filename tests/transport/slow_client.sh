#!/usr/bin/env bash
# A client that decodes more slowly than real time, over the real stack
# (videoredir-host + videoredir-capture --pace realtime + videoredir-client):
# the guest's window in time must keep what is in flight to about one second
# of video at any bitrate, and latency must come back once the client keeps
# up again (PROTOCOL.md 6.5).
#
# The client decodes 25 frames at full speed (the ping/pong clock offset is
# then measured on an idle channel), then sleeps SLOW_US after each of the
# next SLOW_FRAMES frames (2.5x slower than the 25 fps clip), then runs at full
# speed again. From its --latency-log (pts, send -> decoded latency, decode
# time per frame):
# - video in flight when a frame was sent = its latency / the client's time
#   per frame in the slow phase x the frame duration: at most MAX_INFLIGHT_MS;
# - from 2 s after the last slow frame on, every frame's latency is at most
#   MAX_LAT_MS (200; 500 in the sanitized build).
# Clips of 1 Mbit/s and 40 Mbit/s are generated here with FFmpeg.
# Usage: slow_client.sh   (VR_BIN: the build's bin folder)
set -euo pipefail
command -v ffmpeg >/dev/null || { echo "SKIP: no ffmpeg"; exit 77; }
. "$(dirname "$0")/../e2e/lib.sh"

SLOW_US=100000 SLOW_FROM=25 SLOW_FRAMES=80
FRAME_US=40000 MAX_INFLIGHT_MS=1300 MAX_LAT_MS=200
# Under ASan the decoder of the 40 Mbit/s clip (200 KB a frame) runs near
# real time itself, and on a busy machine frames keep up to 340 ms of latency
# long after the slow phase (measured in CI's ASan run). The goal (200 ms) is
# the plain build's; the sanitized run checks the same behaviour with room
# for its own slowness.
if [ "${VR_SANITIZED:-0}" = 1 ]; then MAX_LAT_MS=500; fi

# 14 s at 25 fps without B-frames (decode order = pts order), 640x360.
gen() {
  local name=$1 rate=$2 vf=$3
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=640x360:rate=25$vf" -t 14 \
    -c:v libx264 -preset ultrafast -bf 0 -g 50 -b:v "$rate" -minrate "$rate" -maxrate "$rate" \
    -bufsize 2M -x264-params nal-hrd=cbr "$VR_TMP/$name.mp4" || vr_fail "ffmpeg could not make $name"
}

one() {
  local name=$1
  vr_start_host
  "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --latency-log "$VR_TMP/$name.lat" \
    --slow-us "$SLOW_US" --slow-from "$SLOW_FROM" --slow-frames "$SLOW_FRAMES" \
    --exit-at-eos --timeout 50 --stats 2>"$VR_TMP/client-$name.log" &
  local client=$!
  VR_PIDS+=("$client")
  "$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime --window 0,0,640,360 \
    --connect-timeout 30 "$VR_TMP/$name.mp4" >"$VR_TMP/capture-$name.log" 2>&1 ||
    vr_fail "$name: capture failed"
  wait "$client" || vr_fail "$name: client failed"
  # Gone before the next host starts on the same socket path.
  kill "$HOST_PID" 2>/dev/null || true
  wait "$HOST_PID" 2>/dev/null || true
  cat "$VR_TMP/capture-$name.log"
  # Columns: stream pts latency_us received_at_us, one line per frame in
  # decode order (no B-frames: one frame per access unit). The client sleeps
  # after decoding access units SLOW_FROM+1 .. SLOW_FROM+SLOW_FRAMES, so lines
  # SLOW_FROM+2 .. SLOW_FROM+SLOW_FRAMES+1 came late: the slow frames are known
  # by their index, not guessed from gaps (the main loop of a loaded ASan
  # client hands frames on unevenly, which a gap test miscounted). Time per
  # frame in the slow phase: its span over its frames.
  awk -v slow="$SLOW_US" -v fdur="$FRAME_US" -v maxin="$MAX_INFLIGHT_MS" -v maxlat="$MAX_LAT_MS" \
      -v want="$SLOW_FRAMES" -v from="$SLOW_FROM" -v name="$name" '
    { n++; lat[n] = $3; t[n] = $4 }
    END {
      first = from + 2; last = from + want + 1
      if (n < last + 10) { printf "FAIL %s: %d frames, the slow phase alone is %d\n", name, n, last; exit 1 }
      ns = 0
      for (i = first; i <= last; i++) { slowi[i] = 1; ns++ }
      tend = t[last]
      per = (t[last] - t[first - 1]) / ns
      if (per < 0.9 * slow) { printf "FAIL %s: the slow phase took %.1f ms per frame, not %d\n", name, per / 1000, slow / 1000; exit 1 }
      worst = 0; known = 0
      for (i = 1; i <= n; i++)
        if (slowi[i] && lat[i] > 0) { known++; v = lat[i] / per * fdur; if (v > worst) worst = v }
      if (known < ns / 2) { printf "FAIL %s: latency known for %d of %d slow frames\n", name, known, ns; exit 1 }
      after = 0; late = 0; maxafter = 0
      for (i = 1; i <= n; i++)
        if (t[i] >= tend + 2000000) { after++; if (lat[i] > maxafter) maxafter = lat[i]; if (lat[i] > maxlat * 1000) late++ }
      printf "%s: %d frames, %d slow (%.1f ms each): in flight at most %.0f ms of video; " \
             "from 2 s after the slow phase: %d frames, latency at most %.1f ms\n",
             name, n, ns, per / 1000, worst / 1000, after, maxafter / 1000
      if (worst > maxin * 1000) { printf "FAIL %s: %.0f ms of video in flight (limit %d)\n", name, worst / 1000, maxin; exit 1 }
      if (after < 10) { printf "FAIL %s: only %d frames after the slow phase\n", name, after; exit 1 }
      if (late) { printf "FAIL %s: %d frames later than %d ms 2 s after the slow phase\n", name, late, maxlat; exit 1 }
    }' "$VR_TMP/$name.lat" || vr_fail "$name: see above"
}

gen low 1M ""
gen high 40M ",noise=alls=60:allf=t"
one low
one high
echo "PASS"
