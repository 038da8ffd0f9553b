#!/usr/bin/env bash
# The baseline the benchmarks compare against, checked on the real stack:
# videoredir-host --play draws a clip frame by frame (QXL_DRAW_COPY) like a
# guest player decoding locally; with --streaming-video all spice-server must
# detect the region and stream it (STREAM_CREATE, then STREAM_DATA per
# frame), with off it must send the frames as drawings. bench-spice-tap
# between client and server sees the real display channel messages.
. "$(dirname "$0")/lib.sh"
clip=${VR_SAMPLES:?}/h264-bframes.mp4

# run MODE: starts host (with --play) + tap + client, waits for the end of
# the clip, leaves the tap's summary in $VR_TMP/tap-MODE.out.
run() {
  local mode=$1 tap_port try tap client
  vr_start_host --play "$clip" --play-at 100,100 --streaming-video "$mode"
  for try in 1 2 3 4 5 6; do
    tap_port=$((20000 + RANDOM % 30000))
    "$VR_BIN/bench-spice-tap" --listen "$tap_port" --connect "$HOST_PORT" >"$VR_TMP/tap-$mode.out" &
    tap=$!
    vr_wait_for "$VR_TMP/tap-$mode.out" ready "$tap" 10 && break
    wait "$tap" || true
  done
  "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$tap_port" --timeout 60 2>"$VR_TMP/client.log" &
  client=$!
  VR_PIDS+=("$tap" "$client")
  vr_wait_for "$VR_TMP/host.out" "play done" "$HOST_PID" 60 || vr_fail "$mode: the host did not play the clip"
  grep -q "play done frames=75 dropped=0" "$VR_TMP/host.out" ||
    vr_fail "$mode: $(grep 'play done' "$VR_TMP/host.out")"
  sleep 1 # let the last frames through the encoder
  kill "$client" "$HOST_PID"
  wait "$client" "$HOST_PID" || true
  kill -TERM "$tap"
  wait "$tap" || vr_fail "$mode: tap failed"
}
field() { grep "^channel=display " "$VR_TMP/tap-$1.out" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

run all
creates=$(field all stream_creates)
data=$(field all stream_data)
[ "${creates:-0}" -ge 1 ] || vr_fail "streaming-video=all: spice-server never created a stream"
[ "${data:-0}" -ge 40 ] || vr_fail "streaming-video=all: only ${data:-0} stream frames of 75"
echo "streaming-video=all: $creates stream(s), $data stream frames, $(field all s2c_bytes) display bytes"

run off
[ "$(field off stream_creates)" = 0 ] || vr_fail "streaming-video=off: a stream was created"
draws=$(field off draw_copies)
# spice-server removes a queued drawing that a newer opaque one covers
# before it went out, so a slow client (ASan, a loaded machine) sees a few
# fewer than 75; a stream would have made them stream frames instead.
[ "${draws:-0}" -ge 60 ] || vr_fail "streaming-video=off: ${draws:-0} drawings for 75 frames"
echo "streaming-video=off: $draws drawings, $(field off s2c_bytes) display bytes"
