#!/usr/bin/env bash
# Presenting against decoding at 1080p (issue 15, item 1): each presenter's
# CPU per frame next to the decoder's, in the same process and run
# (bench-present), and the whole client over the host stand-in with each
# presenter against FFmpeg's decode-only, all under Xvfb with Mesa's software
# GL (there is no GPU here). Prints Markdown.
# Usage: bench/present_bench.sh BUILD_DIR
# Env: VR_BENCH_PRESENT_SECONDS (clip length, default 5), VR_BENCH_PRESENT_RUNS
# (end-to-end runs per presenter, the median is kept, default 1).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin="$(realpath -m "${1:-$top/build}")/bin"
secs=${VR_BENCH_PRESENT_SECONDS:-5}
runs=${VR_BENCH_PRESENT_RUNS:-1}
. "$top/bench/benchlib.sh"
for t in Xvfb ffmpeg; do command -v "$t" >/dev/null || { echo "present_bench: $t is needed" >&2; exit 1; }; done

# 1080p60 H.264 at 12 Mbit/s, as in the issue.
clip="$tmp/clip1080p60.mp4"
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=s=1920x1080:r=60,format=yuv420p" -t "$secs" \
  -c:v libx264 -preset veryfast -b:v 12M -maxrate 12M -bufsize 24M -g 120 "$clip"
frames=$((secs * 60))

: >"$tmp/displayfd"
Xvfb -displayfd 9 -screen 0 1920x1080x24 -nolisten tcp 9>"$tmp/displayfd" >"$tmp/xvfb.log" 2>&1 &
pids+=("$!")
for i in $(seq 200); do grep -q '^[0-9]' "$tmp/displayfd" 2>/dev/null && break; sleep 0.05; done
grep -q '^[0-9]' "$tmp/displayfd" || { echo "present_bench: Xvfb did not start" >&2; exit 1; }
export DISPLAY=":$(head -n 1 "$tmp/displayfd")" SDL_VIDEODRIVER=x11 LIBGL_ALWAYS_SOFTWARE=1

# ---- per frame, one presenter per run --------------------------------------
"$bin/bench-present" "$clip" 1920x1080 gl-offscreen >"$tmp/info.out" 2>/dev/null
renderer=$(sed -n 's/^renderer //p' "$tmp/info.out")
echo "# Presenting against decoding, 1080p"
echo
echo "Command: \`bench/present_bench.sh build\`. A ${secs} s 1920x1080 60 fps H.264 clip (testsrc2,"
echo "libx264 veryfast, 12 Mbit/s, $frames frames) is decoded by the client's decoder (vr_decoder,"
echo "software, one thread) and every frame is shown at 1920x1080 by one presenter per run"
echo "(\`bench-present CLIP 1920x1080 STAGE\`): CPU time of the whole process per frame, the"
echo "rasteriser's threads included. GL here is **$renderer**: Mesa's software rasteriser, so"
echo "the \"GPU\" work (texture sampling, the shader, every pixel written) runs on the CPU of"
echo "this process. Under Xvfb; the X server's own CPU for taking the pictures is not counted."
echo
echo "| presenter | how it draws | present ms/frame | decode ms/frame (same run) | present / decode |"
echo "|---|---|---|---|---|"
desc_headless="libswscale to BGRA + pixman, in memory (the snapshots' presenter; the GTK overlay scales the same way, then cairo paints)"
desc_sdl_sw="\`--sdl --present sw\`: the same into the X11 shared-memory window surface, damage only"
desc_sdl_renderer="\`--sdl --present renderer\`: SDL's renderer (opengl on llvmpipe), YUV texture"
desc_sdl_gl="\`--sdl --present gl\`: planes as textures, YUV->RGB shader, scissor, swap"
desc_gl_offscreen="the GL renderer alone into a framebuffer object + glFinish (no window)"
for st in headless sdl-sw sdl-renderer sdl-gl gl-offscreen; do
  "$bin/bench-present" "$clip" 1920x1080 "$st" >"$tmp/$st.out" 2>"$tmp/$st.err" || true
  p=$(awk -v s="$st" '$1 == "stage" && $2 == s {print $4}' "$tmp/$st.out")
  d=$(awk '$1 == "stage" && $2 == "decode" {print $4}' "$tmp/$st.out")
  var="desc_${st//-/_}"
  if [ -z "$p" ] || [ -z "$d" ]; then
    echo "| $st | ${!var} | failed: $(tail -n 1 "$tmp/$st.err") | | |"
    continue
  fi
  ratio=$(awk -v a="$p" -v b="$d" 'BEGIN{printf "%.0f %%", 100 * a / b}')
  echo "| <a id=\"present-$st\"></a>$st | ${!var} | $(printf '%.2f' "$p") | $(printf '%.2f' "$d") | $ratio |"
done

# ---- the whole client over the host stand-in --------------------------------
# CPU seconds of the client process for the whole clip at its real-time pace
# (decode + present + transport), against ffmpeg -threads 1 decode-only.
port=$((20000 + RANDOM % 30000))
sock="$tmp/guest.sock"
"$bin/videoredir-host" --spice-port "$port" --guest-socket "$sock" --size 1920x1080 \
  >"$tmp/host.out" 2>"$tmp/host.log" &
pids+=("$!")
for i in $(seq 200); do grep -q ready "$tmp/host.out" 2>/dev/null && break; sleep 0.05; done
grep -q ready "$tmp/host.out" || { echo "present_bench: host did not start" >&2; exit 1; }

client_run() { # MODE -> "cpu_seconds presented decoded"
  local mode=$1 args=() c
  case $mode in
    none) ;;
    *) args=(--sdl --sdl-size 1920x1080 --present "$mode") ;;
  esac
  /usr/bin/time -f '%U %S' -o "$tmp/client.time" "$bin/videoredir-client" --uri "spice://127.0.0.1:$port" \
    "${args[@]}" --stats --exit-at-eos --timeout 120 2>"$tmp/client-$mode.log" &
  c=$!
  # The capture waits for the client's hello before it sends (--connect-timeout).
  "$bin/videoredir-capture" --device "$sock" --pace realtime --window 0,0,1920,1080 \
    --connect-timeout 30 "$clip" >"$tmp/capture.log" 2>&1 || true
  wait "$c" || true
  local cpu last
  cpu=$(tail -n 1 "$tmp/client.time" | awk '{printf "%.2f", $1 + $2}')
  # "stream 1 ended (eos): 300 frames received, 300 decoded, 0 dropped, 0 lost, 300 presented"
  last=$(grep -m1 'ended (' "$tmp/client-$mode.log" || true)
  echo "$cpu $(sed -n 's/.*lost, \([0-9]*\) presented.*/\1/p' <<<"$last") $(sed -n 's/.* \([0-9]*\) decoded.*/\1/p' <<<"$last")"
}
/usr/bin/time -f '%U %S' -o "$tmp/ff.time" ffmpeg -nostdin -v error -threads 1 -i "$clip" -map 0:v:0 -f null -
ff=$(tail -n 1 "$tmp/ff.time" | awk '{printf "%.2f", $1 + $2}')
echo
echo "The whole client (\`videoredir-client\`, one decoding thread) receiving the same clip from"
echo "\`videoredir-capture --pace realtime --window 0,0,1920,1080\` over \`videoredir-host --size"
echo "1920x1080\`, with \`--sdl --sdl-size 1920x1080 --present MODE\` or no output at all: CPU seconds"
echo "of the client process for the clip (decode + present + SPICE), against \`ffmpeg -threads 1"
echo "-i CLIP -f null -\` ($ff s). Ratio = FFmpeg's CPU / the client's (the issue's measure: 1.0 is"
echo "FFmpeg's cost, the goal is at least 0.95):"
echo
echo "| client | CPU s | presented / decoded | FFmpeg decode-only / client |"
echo "|---|---|---|---|"
for mode in none sw gl renderer; do
  vals=()
  for r in $(seq "$runs"); do vals+=("$(client_run "$mode")"); done
  best=$(printf '%s\n' "${vals[@]}" | sort -n | awk -v n="${#vals[@]}" 'NR == int((n + 1) / 2)')
  read -r cpu pres dec <<<"$best"
  label="--sdl --present $mode"
  [ "$mode" = none ] && label="no output (headless)"
  [ -n "$cpu" ] && ratio=$(awk -v a="$ff" -v b="$cpu" 'BEGIN{printf "%.2f", a / b}') || ratio="failed"
  echo "| <a id=\"present-client-$mode\"></a>$label | $cpu | ${pres:-?} / ${dec:-?} | $ratio |"
done
# The GTK overlay: videoredir-viewer with PRESENTER, CPU read from /proc when
# the capture ends (the viewer does not exit by itself).
viewer_run() {
  local v ut st
  VIDEOREDIR_PRESENT=$1 "$bin/videoredir-viewer" --size 1920x1080 "spice://127.0.0.1:$port" \
    >"$tmp/viewer.log" 2>&1 &
  v=$!
  pids+=("$v")
  "$bin/videoredir-capture" --device "$sock" --pace realtime --window 0,0,1920,1080 \
    --connect-timeout 30 "$clip" >"$tmp/capture.log" 2>&1 || true
  sleep 0.5
  read -r ut st < <(awk '{print $14, $15}' "/proc/$v/stat")
  kill "$v" 2>/dev/null || true
  wait "$v" 2>/dev/null || true
  awk -v u="$ut" -v s="$st" -v t="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (u + s) / t}'
}
desc_viewer_xshm="libswscale once per frame into MIT-SHM pictures on a child window, the default here"
desc_viewer_cairo="libswscale once per frame, then cairo in GTK's drawing"
if [ -x "$bin/videoredir-viewer" ]; then
  for p in xshm cairo; do
    vals=()
    for r in $(seq "$runs"); do vals+=("$(viewer_run "$p")"); done
    cpu=$(printf '%s\n' "${vals[@]}" | sort -n | awk -v n="${#vals[@]}" 'NR == int((n + 1) / 2)')
    ratio=$(awk -v a="$ff" -v b="$cpu" 'BEGIN{printf "%.2f", a / b}')
    var="desc_viewer_$p"
    echo "| <a id=\"present-viewer-$p\"></a>videoredir-viewer --size 1920x1080 --present $p (GTK overlay: ${!var}) | $cpu | (not counted) | $ratio |"
  done
fi
echo
echo "\`--present auto\` (the default) takes sw here: the GL context is llvmpipe, a software rasteriser"
echo "(tests/client/sdl_screenshot.sh checks that choice); on a GPU it takes gl."
