#!/usr/bin/env bash
# The GTK overlay's presenters at 1080p (issue 15, item 1): what drawing a
# 1080p frame costs in videoredir-viewer with each presenter (cairo: GTK's
# drawing; xshm: MIT-SHM pictures on a child window; gl), under Xvfb with
# Mesa's llvmpipe (no GPU here). Prints Markdown.
#
# One viewer per run, 1920x1080, showing the 1920x1080 guest desktop 1:1; the
# guest (videoredir-capture --pace realtime) plays a 1080p30 H.264 clip in a
# window over the whole desktop. Runs: the video hidden (empty visible region:
# received and decoded, never drawn: the baseline), then VIDEOREDIR_PRESENT=cairo,
# =xshm and =gl with the whole video visible and with a window over its middle (a
# 960x540 hole: 4 visible rectangles). CPU of the viewer process (all its
# threads, llvmpipe's included) and of the X server, from the stream's start
# to its end, read in /proc; per frame = (run - hidden) / frames decoded.
# Usage: bench/gtk_present.sh BUILD_DIR
# Env: VR_BENCH_GTK_SECONDS (clip length, default 10), VR_BENCH_GTK_RUNS (runs
# per case, the median is kept, default 1).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin="$(realpath -m "${1:-$top/build}")/bin"
secs=${VR_BENCH_GTK_SECONDS:-10}
runs=${VR_BENCH_GTK_RUNS:-1}
. "$top/bench/benchlib.sh"
die() { echo "gtk_present: $*" >&2; exit 1; }
for t in Xvfb ffmpeg; do command -v "$t" >/dev/null || die "$t is needed"; done
[ -x "$bin/videoredir-viewer" ] || die "no $bin/videoredir-viewer"

clip="$tmp/clip1080p30.mp4"
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=s=1920x1080:r=30,format=yuv420p" -t "$secs" \
  -c:v libx264 -preset veryfast -b:v 8M -maxrate 8M -bufsize 16M -g 60 "$clip"

: >"$tmp/displayfd"
Xvfb -displayfd 9 -screen 0 1920x1080x24 -nolisten tcp 9>"$tmp/displayfd" >"$tmp/xvfb.log" 2>&1 &
xvfb=$!
pids+=("$xvfb")
for _ in $(seq 200); do grep -q '^[0-9]' "$tmp/displayfd" 2>/dev/null && break; sleep 0.05; done
grep -q '^[0-9]' "$tmp/displayfd" || die "Xvfb did not start"
export DISPLAY=":$(head -n 1 "$tmp/displayfd")" LIBGL_ALWAYS_SOFTWARE=1

port=$((20000 + RANDOM % 30000))
sock="$tmp/guest.sock"
"$bin/videoredir-host" --spice-port "$port" --guest-socket "$sock" --size 1920x1080 \
  >"$tmp/host.out" 2>"$tmp/host.log" &
pids+=("$!")
for _ in $(seq 200); do grep -q ready "$tmp/host.out" 2>/dev/null && break; sleep 0.05; done
grep -q ready "$tmp/host.out" || die "videoredir-host did not start"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_log() { # FILE PATTERN PID SECONDS
  local i
  for ((i = 0; i < $4 * 20; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
full="0,0,1920,1080"
holed="0,0,1920,270;0,270,480,540;1440,270,480,540;0,810,1920,270"
# run PRESENT REGION -> "viewer_s xvfb_s frames presenter"
run() {
  local present=$1 region=$2 v c0 x0 c1 x1 frames
  VIDEOREDIR_PRESENT=$present "$bin/videoredir-viewer" --size 1920x1080 "spice://127.0.0.1:$port" \
    >"$tmp/viewer.log" 2>&1 &
  v=$!
  pids+=("$v")
  wait_log "$tmp/viewer.log" "presenter " "$v" 60 || die "$present: no presenter chosen"
  c0=$(ticks "$v") x0=$(ticks "$xvfb")
  "$bin/videoredir-capture" --device "$sock" --pace realtime --window 0,0,1920,1080 --region "$region" \
    --connect-timeout 30 "$clip" >"$tmp/capture.log" 2>&1 || die "capture failed: $(tail -n 2 "$tmp/capture.log")"
  wait_log "$tmp/viewer.log" "stream 1 ended" "$v" 60 || die "$present: the stream did not end"
  c1=$(ticks "$v") x1=$(ticks "$xvfb")
  frames=$(sed -n 's/.*stream 1 ended.* \([0-9]*\) decoded.*/\1/p' "$tmp/viewer.log" | tail -n 1)
  local which
  which=$(sed -n 's/.*presenter \([a-z]*\) .*/\1/p' "$tmp/viewer.log" | head -n 1)
  kill "$v" 2>/dev/null || true
  wait "$v" 2>/dev/null || true
  cp "$tmp/viewer.log" "$tmp/last-$present.log"
  awk -v a="$c0" -v b="$c1" -v x="$x0" -v y="$x1" -v t="$(getconf CLK_TCK)" -v f="$frames" -v w="$which" \
    'BEGIN { printf "%.2f %.2f %d %s\n", (b - a) / t, (y - x) / t, f, w }'
}
median() { # runs of PRESENT REGION, the median by viewer CPU
  local vals=() r
  for r in $(seq "$runs"); do vals+=("$(run "$1" "$2")"); done
  printf '%s\n' "${vals[@]}" | sort -n | awk -v n="${#vals[@]}" 'NR == int((n + 1) / 2)'
}

read -r base_v base_x base_f _ <<<"$(median cairo "")"
rows=()
for present in cairo xshm gl; do
  for reg in full holed; do
    read -r v x f which <<<"$(median "$present" "${!reg}")"
    [ "$reg" = full ] && what="whole video (1 rectangle)" || what="960x540 hole in the middle (4 rectangles)"
    case $present in
      cairo) label="cairo (libswscale, then cairo in GTK's drawing)" ;;
      xshm) label="xshm (libswscale into MIT-SHM pictures on a shaped child window)" ;;
      gl) label="gl (shaped EGL child window)" ;;
    esac
    pv=$(awk -v a="$v" -v b="$base_v" -v f="$f" 'BEGIN { printf "%.2f", 1000 * (a - b) / f }')
    px=$(awk -v a="$x" -v b="$base_x" -v f="$f" 'BEGIN { printf "%.2f", 1000 * (a - b) / f }')
    rows+=("| <a id=\"gtk-present-$present-$reg\"></a>$label, chosen: $which | $what | $v | $x | $f | $pv | $px |")
  done
done
renderer=$(sed -n 's/.*presenter gl (\(.*\))$/\1/p' "$tmp/last-gl.log" | head -n 1)
echo "## The GTK overlay's presenters at 1080p: cairo, xshm and GL"
echo
echo "Command: \`bench/gtk_present.sh build\`. \`videoredir-viewer --size 1920x1080\` under Xvfb shows"
echo "the 1920x1080 desktop of \`videoredir-host\` 1:1; \`videoredir-capture --pace realtime\` plays a"
echo "${secs} s 1920x1080 30 fps H.264 clip (testsrc2, libx264 veryfast, 8 Mbit/s) in a window over the"
echo "whole desktop. CPU seconds from the stream's start to its end (/proc), of the viewer (every"
echo "thread: decoding, GTK, llvmpipe's) and of the X server; the baseline is the same run with"
echo "the video hidden (empty visible region: received and decoded, never drawn; $base_f frames,"
echo "viewer $base_v s, X server $base_x s). GL is **${renderer:-?}**: the \"GPU\" work is CPU"
echo "time of the viewer here. ms per frame = (run - hidden) / frames decoded."
echo
echo "| presenter | visible region | viewer CPU s | X server CPU s | frames | present ms/frame (viewer) | + X server ms/frame |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
