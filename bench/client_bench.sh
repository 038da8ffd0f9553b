#!/usr/bin/env bash
# The client side: decode + composite rate of the client's pipeline against
# FFmpeg's decode-only rate of the same clip (both software, one thread, CPU
# time, side by side), peak memory, and compositing cost per 1080p frame
# against the number of visible rectangles. Prints Markdown.
# Usage: bench/client_bench.sh BUILD_DIR
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin="${1:-$top/build}/bin"
passes=${VR_BENCH_PASSES:-40}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# The client: decode + composite against FFmpeg decode-only"
echo
echo "Command: \`bench/client_bench.sh build\` (part of \`bench/suite.sh\`). Each clip $passes times:"
echo "\`bench-client --fps\` decodes with the client's decoder (vr_decoder, software, libavcodec's"
echo "default of one thread) and composites every frame into a 1280x800 desktop (libswscale +"
echo "pixman, as the headless presenter does); \`ffmpeg -threads 1 -stream_loop N -i CLIP -f null -\`"
echo "decodes only. Rates are frames per CPU second (user + system), peak memory is the maximum RSS."
echo
echo "| clip | client decode + composite fps | ffmpeg decode-only fps | ratio | client peak MB | ffmpeg peak MB |"
echo "|---|---|---|---|---|---|"
for c in ${VR_BENCH_CLIPS:-h264-bframes.mp4 vp9.webm av1.mkv}; do
  clip="$top/samples/$c"
  /usr/bin/time -f '%U %S %M' -o "$tmp/ours.time" "$bin/bench-client" --fps "$clip" "$passes" >"$tmp/ours.out"
  /usr/bin/time -f '%U %S %M' -o "$tmp/ff.time" ffmpeg -nostdin -v error -threads 1 \
    -stream_loop $((passes - 1)) -i "$clip" -map 0:v:0 -f null - 
  frames=$(awk '{print $2}' "$tmp/ours.out")
  ours=$(awk '{print $6}' "$tmp/ours.out")
  ff=$(tail -n 1 "$tmp/ff.time" | awk -v f="$frames" '{printf "%.1f", f / ($1 + $2)}')
  ratio=$(awk -v a="$ours" -v b="$ff" 'BEGIN{printf "%.3f", a / b}')
  om=$(tail -n 1 "$tmp/ours.time" | awk '{printf "%.0f", $3 / 1024}')
  fm=$(tail -n 1 "$tmp/ff.time" | awk '{printf "%.0f", $3 / 1024}')
  echo "| <a id=\"client-$c\"></a>$c | $ours | $ff | $ratio | $om | $fm |"
done
echo
echo "Compositing one frame scaled to 1920x1080 onto a 1920x1080 desktop, clipped to a grid of"
echo "visible rectangles (\`bench-client --composite\`, 40 runs each, CPU time):"
echo
echo "| visible rectangles | µs per frame | relative to 1 rectangle |"
echo "|---|---|---|"
"$bin/bench-client" --composite "$top/samples/h264-bframes.mp4" >"$tmp/comp.out"
base=$(awk 'NR==1{print $4}' "$tmp/comp.out")
awk -v b="$base" '{printf "| <a id=\"composite-%s\"></a>%s | %s | %.2f |\n", $2, $2, $4, $4 / b}' "$tmp/comp.out"
