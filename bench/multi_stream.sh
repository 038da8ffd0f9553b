#!/usr/bin/env bash
# Several 1080p30 videos at once through the guest daemon: N real players
# (playbin + videoredirsink, which sends CLOCK, so the client presents each
# frame at its due time and counts late ones) reach videoredir-guestd, which
# owns the host stand-in's port; one headless videoredir-client decodes and
# presents them all. For each N it prints, in one run:
#   - FFmpeg alone: N decodes of the clip at once (`ffmpeg -f null`, default
#     threads, as the client's decoder), wall time against the clip's length
#     ("real time" when they finish within it) and their CPU seconds;
#   - videoredir: frames the players sent and dropped (their last stats: the
#     sink drops when the client falls behind), frames presented, late and
#     dropped over all streams (the client's final --stats lines), the
#     client's CPU seconds and peak RSS.
# The clip (made here): 1920x1080 H.264, 30 fps, 8 Mbit/s, a keyframe a second.
# Usage: bench/multi_stream.sh [BUILD_DIR] [N...]   (default: 1 4)
#   VR_BENCH_SECS: clip length (default 10)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 4)
secs=${VR_BENCH_SECS:-10}
VR_BIN=$build/bin
export VR_BIN
. "$top/tests/e2e/lib.sh"
play=$VR_BIN/vr-gst-play
plugin=$build/gst/libgstvideoredir.so
[ -x "$play" ] && [ -f "$plugin" ] || vr_fail "needs vr-gst-play and the GStreamer plugin in $build"
export VR_GST_PLUGIN=$plugin GST_REGISTRY_FORK=no GST_REGISTRY=$VR_TMP/registry.bin
unset DISPLAY
log() { echo "multi_stream: $*" >&2; }

clip=$VR_TMP/1080p30.mp4
log "making a ${secs} s 1080p30 clip"
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$secs" -pix_fmt yuv420p \
  -c:v libx264 -preset veryfast -b:v 8M -maxrate 8M -bufsize 8M -g 30 -bf 2 "$clip"
frames=$(ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets -of csv=p=0 "$clip")
"$play" --timeout 60 "fakesrc num-buffers=1 ! fakesink" >/dev/null 2>&1 || vr_fail "GStreamer does not start"

echo "Clip: 1920x1080 H.264 30 fps 8 Mbit/s, $secs s ($frames frames); machine: $(nproc) cores," \
  "load average at start $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| streams | FFmpeg: N decodes at once, wall s (real time?) | FFmpeg CPU s | guest: sent / frames (dropped) | client: presented | late | dropped | client CPU s | client peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in "${counts[@]}"; do
  # FFmpeg alone, N at once.
  t0=$(date +%s.%N)
  pids=()
  for ((i = 0; i < n; i++)); do
    /usr/bin/time -f "%U %S" -o "$VR_TMP/ff$i.time" ffmpeg -nostdin -v error -i "$clip" -map 0:v:0 -f null - &
    pids+=("$!")
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(date +%s.%N)
  fwall=$(echo "$t1 - $t0" | bc -l)
  fcpu=0
  for ((i = 0; i < n; i++)); do
    read -r u s <"$VR_TMP/ff$i.time"
    fcpu=$(echo "$fcpu + $u + $s" | bc -l)
  done
  rt=no
  [ "$(echo "$fwall <= $secs" | bc -l)" = 1 ] && rt=yes

  # videoredir, N players through the daemon.
  vr_start_host
  rm -f "$VR_TMP/guestd.log"
  "$VR_BIN/videoredir-guestd" --device "$HOST_SOCK" --socket "$VR_TMP/guestd.sock" --max-streams 16 \
    --max-streams-per-player 1 2>"$VR_TMP/guestd.log" &
  gd=$!
  VR_PIDS+=("$gd")
  vr_wait_for "$VR_TMP/guestd.log" "listening on" "$gd" 30 || vr_fail "videoredir-guestd did not start"
  opened=$(vr_port_channels)
  /usr/bin/time -f "%M %U %S" -o "$VR_TMP/client.time" "$VR_BIN/videoredir-client" \
    --uri "spice://127.0.0.1:$HOST_PORT" --max-streams 16 --stats --exit-at-eos --timeout $((secs * 6 + 60)) \
    2>"$VR_TMP/client.log" &
  cl=$!
  VR_PIDS+=("$cl")
  vr_wait_port_channel "$opened" "$cl"
  vr_wait_for "$VR_TMP/guestd.log" "session up" "$gd" 30 || vr_fail "no session"
  pids=()
  for ((i = 0; i < n; i++)); do
    VIDEOREDIR_GUESTD_SOCKET="$VR_TMP/guestd.sock" VIDEOREDIR_DEVICE="$VR_TMP/no-port" \
      "$play" --timeout $((secs * 6 + 60)) "playbin uri=file://$clip audio-sink=fakesink \
      video-sink=\"videoredirsink fallback=false\"" >"$VR_TMP/play$i.log" 2>&1 &
    pids+=("$!")
  done
  for p in "${pids[@]}"; do wait "$p" || log "a player failed: $(tail -n 2 "$VR_TMP/play$i.log")"; done
  wait "$cl" || log "the client exited with $?"
  # Final stats line of each stream (the one with "ended").
  grep '^stats: stream .*ended' "$VR_TMP/client.log" >"$VR_TMP/final.txt" || true
  got=$(wc -l <"$VR_TMP/final.txt")
  pres=0 late=0 drop=0
  while read -r line; do
    p=$(sed -n 's/.*presented \([0-9]*\).*/\1/p' <<<"$line")
    l=$(sed -n 's/.* late \([0-9]*\).*/\1/p' <<<"$line")
    d=$(sed -n 's/.* dropped \([0-9]*\).*/\1/p' <<<"$line")
    pres=$((pres + p)) late=$((late + l)) drop=$((drop + d))
  done <"$VR_TMP/final.txt"
  # The players' side: frames sent, and dropped by the sink's backlog policy
  # (the client fell behind) or skipped (waiting for a keyframe).
  gsent=0 gdrop=0
  for ((i = 0; i < n; i++)); do
    last=$(grep '^stats:' "$VR_TMP/play$i.log" | tail -n 1 || true)
    v=$(sed -n 's/.*frames-sent=(guint64)\([0-9]*\).*/\1/p' <<<"$last")
    d=$(sed -n 's/.*frames-dropped=(guint64)\([0-9]*\).*/\1/p' <<<"$last")
    k=$(sed -n 's/.*frames-skipped=(guint64)\([0-9]*\).*/\1/p' <<<"$last")
    gsent=$((gsent + ${v:-0})) gdrop=$((gdrop + ${d:-0} + ${k:-0}))
  done
  read -r rss ut st <"$VR_TMP/client.time"
  cpu=$(echo "$ut + $st" | bc -l)
  printf '| %d | %.1f (%s) | %.1f | %d / %d (%d) | %d (%d streams ended) | %d | %d | %.1f | %.0f |\n' "$n" "$fwall" \
    "$rt" "$fcpu" "$gsent" $((n * frames)) "$gdrop" "$pres" "$got" "$late" "$drop" "$cpu" "$(echo "$rss / 1024" | bc -l)"
  kill "$gd" "$HOST_PID" 2>/dev/null || true
  wait "$gd" "$HOST_PID" 2>/dev/null || true
done
