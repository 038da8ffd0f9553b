#!/usr/bin/env bash
# Latency at 1080p60 over the host stand-in: a generated H.264 clip
# (bench/realsize.sh's h264-1080p60: 1920x1080, 60 fps, 5 s, 12 Mbit/s, x264
# veryfast with B-frames) sent by videoredir-capture --pace realtime through
# videoredir-host (real spice-server) to videoredir-client, rounds alternating
# where the client decodes (VR_LAT_MODES, default "thread inline": on a thread
# of its own, or --decode-inline in the main loop) and its decoding threads
# (--decode-threads, VR_LAT_THREADS, default "1 2"). Per round:
# guest send -> presented and presented beyond due, p50/p99
# (bench/latency_stats.py), the --stats figure, the client's CPU and the load
# average. About 10 s per round. Writes bench/LATENCY.md (and prints it).
# Usage: bench/latency.sh [BUILD_DIR] [ROUNDS]   (ROUNDS per thread count, default 3)
# Env:   VR_LAT_MODES ("thread inline"), VR_LAT_THREADS ("1 2"),
#        VR_LAT_CLIP (default: the generated clip; "no-bframes": the same
#        without B-frames), VR_LAT_OUT (default bench/LATENCY.md)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$top/build}")
rounds=${2:-3}
export VR_BIN=$build/bin
if [ "${VR_LAT_CLIP:-}" = no-bframes ]; then
  # The same clip without B-frames (decode order = display order): what is
  # left of send -> presented when the stream itself needs no reordering.
  VR_LAT_CLIP=$build/bench-clips/h264-1080p60-nob.mp4
  mkdir -p "$build/bench-clips"
  [ -s "$VR_LAT_CLIP" ] || ffmpeg -nostdin -v error -y -f lavfi \
    -i "testsrc2=size=1920x1080:rate=60,noise=alls=12:allf=t" -t 5 -c:v libx264 -preset veryfast \
    -pix_fmt yuv420p -bf 0 -b:v 12000k -maxrate 12000k -bufsize 24000k -g 120 "$VR_LAT_CLIP"
fi
if [ -z "${VR_LAT_CLIP:-}" ]; then
  VR_RS_CLIPS=h264-1080p60 "$top/bench/realsize.sh" "$build" --clips-only
  VR_LAT_CLIP=$build/bench-clips/h264-1080p60.mp4
fi
clip=$VR_LAT_CLIP
. "$top/tests/e2e/lib.sh"
ffprobe -v error -select_streams v:0 -show_entries packet=pts,dts -of csv=p=0 "$clip" >"$VR_TMP/packets.csv"
tb=$(ffprobe -v error -select_streams v:0 -show_entries stream=time_base -of csv=p=0 "$clip")
kv() { sed -n "s/.*\<$2=\([^ ]*\).*/\1/p" <<<"$1"; }
# Run-queue wait of PID's threads (ms, /proc/PID/task/*/schedstat field 2:
# time runnable but not running), sampled every 50 ms until PID exits: how
# long the client waited for a CPU.
runq_watch() {
  local pid=$1 out=$2 f
  declare -A last=()
  while [ -d "/proc/$pid/task" ]; do
    for f in /proc/"$pid"/task/*/schedstat; do
      read -r _ w _ 2>/dev/null <"$f" && last[$f]=$w || true
    done
    local sum=0 k
    for k in "${!last[@]}"; do sum=$((sum + last[$k])); done
    echo "$sum" >"$out"
    sleep 0.05
  done
}

out=${VR_LAT_OUT:-$top/bench/LATENCY.md}
{
echo "# Latency at 1080p60"
echo
echo "Made by \`bench/latency.sh ${1:-build} $rounds\` on $(date -u +%Y-%m-%d) ($(nproc) cores, shared; the"
echo "load column is the 1-minute load average after each round). Clip: $(basename "$clip"), sent by"
echo "\`videoredir-capture --pace realtime\` through \`videoredir-host\` to \`videoredir-client"
echo "--present-log\`; figures from \`bench/latency_stats.py\` (see [At real sizes](#at-real-sizes) for"
echo "what each column measures). The client's CPU is user + system of the whole process."
echo
echo "| round | decoding | decode threads | send -> presented p50 / p99 ms | beyond due p50 / p99 ms | --stats p50 / p99 ms | client CPU s | waited for a CPU ms | presented (late) | load |"
echo "|---|---|---|---|---|---|---|---|---|---|"
vr_start_host
for ((r = 1; r <= rounds; r++)); do
  for mode in ${VR_LAT_MODES:-thread inline}; do
  for t in ${VR_LAT_THREADS:-1 2}; do
    extra=()
    [ "$mode" = inline ] && extra=(--decode-inline)
    n=$(vr_port_channels)
    /usr/bin/time -f '%U %S' -o "$VR_TMP/client.time" "$VR_BIN/videoredir-client" \
      --uri "spice://127.0.0.1:$HOST_PORT" --present-log "$VR_TMP/present.txt" --decode-threads "$t" \
      "${extra[@]}" --exit-at-eos --timeout 120 2>"$VR_TMP/client.log" &
    c=$!
    VR_PIDS+=("$c")
    vr_wait_port_channel "$n" "$c"
    echo 0 >"$VR_TMP/runq"
    runq_watch "$(pgrep -P "$c" -x videoredir-clie || echo "$c")" "$VR_TMP/runq" &
    w=$!
    "$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime --connect-timeout 60 "$clip" \
      >"$VR_TMP/capture.log" 2>&1 || vr_fail "capture failed"
    wait "$c" || vr_fail "client failed"
    wait "$w" || true
    runq=$(awk '{printf "%.0f", $1 / 1e6}' "$VR_TMP/runq")
    lat=$(python3 "$top/bench/latency_stats.py" "$VR_TMP/present.txt" "$VR_TMP/packets.csv" "${tb%/*}" "${tb#*/}")
    cpu=$(tail -n 1 "$VR_TMP/client.time" | awk '{printf "%.2f", $1 + $2}')
    pres=$(sed -n 's/.* \([0-9]*\) presented (\([0-9]*\) late).*/\1 (\2)/p' "$VR_TMP/client.log" | tail -n 1)
    echo "| $r | $mode | $t | $(kv "$lat" sent_p50) / $(kv "$lat" sent_p99) | $(kv "$lat" late_p50) / $(kv "$lat" late_p99) | $(kv "$lat" stats_p50) / $(kv "$lat" stats_p99) | $cpu | $runq | $pres | $(cut -d' ' -f1 /proc/loadavg) |"
  done
  done
done
echo
echo "The clip's own reordering (pts - dts of each frame, the floor of send -> presented whatever"
echo "the client does): p50 $(kv "$lat" floor_p50) / p99 $(kv "$lat" floor_p99) ms."
} >"$out"
cat "$out"
