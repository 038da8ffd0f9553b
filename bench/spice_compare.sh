#!/usr/bin/env bash
# videoredir against SPICE's own video streaming, on the real spice-server
# and a real spice-glib client, the same clips, in one run.
#
# SPICE path: videoredir-host --play decodes the clip and draws every frame
# with QXL_DRAW_COPY, as a guest player decoding locally would; spice-server
# (streaming-video=filter, its own default, or all) detects the changing
# region and re-encodes it (MJPEG, its default encoder) for the client.
# videoredir path: videoredir-capture sends the clip's compressed frames over
# the port; videoredir-client decodes them.
# Between client and server bench-spice-tap counts the bytes of every SPICE
# channel and times the display channel's STREAM_CREATE.
#
# Usage: bench/spice_compare.sh BIN_DIR OUT_DIR
# Writes OUT_DIR/spice_compare.md (Markdown rows) and OUT_DIR/series-*.txt.
# Env: VR_BENCH_CLIPS  names in samples/ or paths (default: three 640x360 clips);
#      VR_BENCH_LOOPS  extra plays of each clip (default 3).
# A clip larger than 640x360 is played at 0,0 on a desktop of its own size
# (at least 1280x800), e.g. the real-size clips of bench/realsize.sh:
#   VR_BENCH_LOOPS=0 VR_BENCH_CLIPS="build/bench-clips/h264-1080p30.mp4" \
#     bench/spice_compare.sh build/bin out
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export VR_BIN=$1
out=$2
mkdir -p "$out"
. "$top/tests/e2e/lib.sh"
loops=${VR_BENCH_LOOPS:-3} # plays = loops + 1
clips=${VR_BENCH_CLIPS:-"h264-bframes.mp4 vp9.webm av1.mkv"}

# user + system seconds from /usr/bin/time (its last line; a signal adds one before)
cpu() { tail -n 1 "$1" | awk '{printf "%.2f", $1 + $2}'; }

# tap_field FILE CHANNEL FIELD
tap_field() { grep "^channel=$2 " "$1" | tr ' ' '\n' | sed -n "s/^$3=//p"; }

start_tap() {
  local try
  for try in 1 2 3 4 5 6; do
    TAP_PORT=$((20000 + RANDOM % 30000))
    "$VR_BIN/bench-spice-tap" --listen "$TAP_PORT" --connect "$HOST_PORT" --series "$1" \
      >"$VR_TMP/tap.out" 2>"$VR_TMP/tap.log" &
    TAP_PID=$!
    vr_wait_for "$VR_TMP/tap.out" ready "$TAP_PID" 10 && return 0
    wait "$TAP_PID" 2>/dev/null || true
  done
  vr_fail "bench-spice-tap did not start"
}

# Stops a program started under /usr/bin/time (signal the program, not time).
stop() { pkill -TERM -P "$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# However the script ends (vr_fail included), the programs started under
# /usr/bin/time go too: lib.sh's cleanup would signal time, not them.
sc_cleanup() {
  local p
  for p in ${HOST_PID:-} ${TAP_PID:-} ${SC_CLIENT:-}; do stop "$p"; done
  vr_cleanup
}
trap sc_cleanup EXIT

# One run. Prints a Markdown row.
run() {
  local clip=$1 mode=$2 name series frames secs
  name=$(basename "$clip")
  series="$out/series-${name%%.*}-$mode.txt"
  # The clip's size, frame count and rate (ffprobe), and where it is shown.
  local w h nframes rate at window size
  read -r w h nframes rate < <(ffprobe -v error -select_streams v:0 -count_packets \
    -show_entries stream=width,height,nb_read_packets,avg_frame_rate -of csv=p=0 "$clip" |
    awk -F, '{print $1, $2, $4, $3}')
  at=320,200 window="320,200,640,360" size=1280x800
  if [ "$w" -gt 640 ] || [ "$h" -gt 360 ]; then
    at=0,0 window="0,0,$w,$h"
    size="$(( w > 1280 ? w : 1280 ))x$(( h > 800 ? h : 800 ))"
  fi
  local host_args=(--size "$size")
  case $mode in
    spice-*) host_args+=(--play "$clip" --play-at "$at" --play-loops $((loops + 1))
                         --streaming-video "${mode#spice-}") ;;
  esac
  # The host is timed as a whole: in the SPICE path it stands for the guest's
  # local decode plus spice-server's re-encode (both happen in one process here).
  HOST_SOCK="$VR_TMP/guest.sock"
  local try
  for try in 1 2 3 4 5 6; do
    HOST_PORT=$((20000 + RANDOM % 30000))
    /usr/bin/time -f '%U %S' -o "$VR_TMP/host.time" \
      "$VR_BIN/videoredir-host" --spice-port "$HOST_PORT" --guest-socket "$HOST_SOCK" \
      "${host_args[@]}" >"$VR_TMP/host.out" 2>"$VR_TMP/host.log" &
    HOST_PID=$!
    vr_wait_for "$VR_TMP/host.out" ready "$HOST_PID" 15 && break
    wait "$HOST_PID" 2>/dev/null || true
  done
  start_tap "$series"
  /usr/bin/time -f '%U %S' -o "$VR_TMP/client.time" \
    "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$TAP_PORT" --exit-at-eos --timeout 120 \
    >"$VR_TMP/client.out" 2>"$VR_TMP/client.log" &
  local client=$!
  SC_CLIENT=$client
  local capture_cpu=0.00
  case $mode in
    spice-*)
      vr_wait_for "$VR_TMP/host.out" "play done" "$HOST_PID" 120 || vr_fail "host did not finish playing"
      echo "$name $mode: host $(grep -o 'play done frames=[0-9]* dropped=[0-9]*' "$VR_TMP/host.out")" >&2
      sleep 1 # the last frames on their way through the encoder
      stop "$client"
      ;;
    videoredir)
      /usr/bin/time -f '%U %S' -o "$VR_TMP/capture.time" \
        "$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime --loop "$loops" \
        --window "$window" "$clip" >"$VR_TMP/capture.out" 2>&1 || vr_fail "capture failed"
      wait "$client" || true
      capture_cpu=$(cpu "$VR_TMP/capture.time")
      ;;
  esac
  stop "$TAP_PID"
  stop "$HOST_PID"
  local disp port total first_stream start_us detect="–"
  disp=$(( $(tap_field "$VR_TMP/tap.out" display s2c_bytes || echo 0) + 0 ))
  port=$(( $(tap_field "$VR_TMP/tap.out" port s2c_bytes || echo 0) + 0 ))
  total=$((disp + port))
  frames=$(( (loops + 1) * nframes ))
  secs=$(awk -v f=$frames -v r="$rate" 'BEGIN{split(r, q, "/"); printf "%.2f", f * (q[2] ? q[2] : 1) / q[1]}')
  if [ "${mode#spice-}" != "$mode" ]; then
    # From the host's first drawn frame to the display channel's STREAM_CREATE.
    first_stream=$(tap_field "$VR_TMP/tap.out" display first_stream_us)
    start_us=$(sed -n 's/.*start_us=\([0-9]*\).*/\1/p' "$VR_TMP/host.out")
    if [ "${first_stream:-0}" -gt 0 ] && [ -n "$start_us" ]; then
      detect=$(awk -v a="$first_stream" -v b="$start_us" 'BEGIN{printf "%.0f ms", (a - b) / 1000}')
    else
      detect="no stream"
    fi
  else
    # From STREAM_START to the first FRAME, both seen by the tap on their way to
    # the client (includes the client's ACCEPT round trip).
    local vs vf
    vs=$(tap_field "$VR_TMP/tap.out" port first_vr_start_us)
    vf=$(tap_field "$VR_TMP/tap.out" port first_vr_frame_us)
    if [ "${vs:-0}" -gt 0 ] && [ "${vf:-0}" -gt 0 ]; then
      detect=$(awk -v a="$vf" -v b="$vs" 'BEGIN{printf "%.1f ms", (a - b) / 1000}')
    fi
  fi
  local mbit
  mbit=$(awk -v b=$total -v s="$secs" 'BEGIN{printf "%.2f", b * 8 / s / 1e6}')
  echo "$name $mode $disp $port $total $mbit $(cpu "$VR_TMP/host.time") $capture_cpu $(cpu "$VR_TMP/client.time") ${detect// /}" \
    >>"$out/spice_compare.raw"
  printf '| %s | %s | %d | %d | %d | %s | %s | %s | %s | %s |\n' "$name" "$mode" "$disp" "$port" "$total" "$mbit" \
    "$(cpu "$VR_TMP/host.time")" "$capture_cpu" "$(cpu "$VR_TMP/client.time")" "$detect"
}

: >"$out/spice_compare.raw"
{
  echo "| clip | path | display channel bytes | port channel bytes | total bytes to the client | Mbit/s | host CPU s | guest capture CPU s | client CPU s | video stream on the wire after |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for c in $clips; do
    for mode in spice-filter spice-all videoredir; do
      case $c in */*) run "$(realpath "$c")" "$mode" ;; *) run "$top/samples/$c" "$mode" ;; esac
    done
  done
} >"$out/spice_compare.md"
cat "$out/spice_compare.md"
