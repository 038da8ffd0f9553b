#!/usr/bin/env bash
# The client side: decode + composite rate of the client's pipeline against
# FFmpeg's decode-only rate of the same clip (both software, one thread, CPU
# time, side by side), peak memory, and compositing cost per 1080p frame
# against the number of visible rectangles, the same with N decoding threads
# (wall clock), and the latency guest send -> presented over the host
# stand-in. Prints Markdown.
# Usage: bench/client_bench.sh BUILD_DIR   (VR_BENCH_THREADS=N, default 2)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin="${1:-$top/build}/bin"
passes=${VR_BENCH_PASSES:-40}
threads=${VR_BENCH_THREADS:-2}
. "$top/bench/benchlib.sh"
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
echo
echo "The same with $threads decoding threads on both sides (\`bench-client --fps CLIP $passes $threads\`,"
echo "\`ffmpeg -threads $threads\`), frames per wall-clock second (the machine's other load counts):"
echo
echo "| clip | client decode + composite fps, $threads threads | ffmpeg decode-only fps, $threads threads | ratio |"
echo "|---|---|---|---|"
for c in ${VR_BENCH_CLIPS:-h264-bframes.mp4 vp9.webm av1.mkv}; do
  clip="$top/samples/$c"
  "$bin/bench-client" --fps "$clip" "$passes" "$threads" >"$tmp/ours.out"
  /usr/bin/time -f '%e' -o "$tmp/ff.time" ffmpeg -nostdin -v error -threads "$threads" \
    -stream_loop $((passes - 1)) -i "$clip" -map 0:v:0 -f null -
  frames=$(awk '{print $2}' "$tmp/ours.out")
  ours=$(awk '{print $10}' "$tmp/ours.out")
  ff=$(tail -n 1 "$tmp/ff.time" | awk -v f="$frames" '{printf "%.1f", f / $1}')
  ratio=$(awk -v a="$ours" -v b="$ff" 'BEGIN{printf "%.3f", a / b}')
  echo "| <a id=\"client-threads-$c\"></a>$c | $ours | $ff | $ratio |"
done
echo
echo "Compositing one frame scaled to 1920x1080 onto a 1920x1080 desktop, clipped to a grid of"
echo "visible rectangles (\`bench-client --composite\`, 40 runs each, CPU time). \`vr_composite_frame\`"
echo "scales and copies in one call; the headless presenter (what \`vr_presenter_sync\` runs when a"
echo "new frame is shown) scales the frame once into its cache and copies the visible boxes:"
echo
echo "| visible rectangles | µs per frame (vr_composite_frame) | relative to 1 rectangle | µs per frame (headless presenter) |"
echo "|---|---|---|---|"
"$bin/bench-client" --composite "$top/samples/h264-bframes.mp4" >"$tmp/comp.out"
base=$(awk 'NR==1{print $4}' "$tmp/comp.out")
awk -v b="$base" '{printf "| <a id=\"composite-%s\"></a>%s | %s | %.2f | %s |\n", $2, $2, $4, $4 / b, $6}' "$tmp/comp.out"

# ---- latency over the host stand-in ---------------------------------------
# videoredir-host (real spice-server) + videoredir-capture at real-time pace +
# videoredir-client --present-log: guest send -> presented per frame, the
# guest clock mapped through the PING/PONG offset (same machine, so the
# offset is ~0 and the round trip tiny).
lat_clip=${VR_BENCH_LATENCY_CLIP:-vp9.webm}
loops=${VR_BENCH_LATENCY_LOOPS:-3}
port=$((20000 + RANDOM % 30000))
sock="$tmp/guest.sock"
"$bin/videoredir-host" --spice-port "$port" --guest-socket "$sock" >"$tmp/host.out" 2>"$tmp/host.log" &
pids+=("$!")
for i in $(seq 200); do grep -q ready "$tmp/host.out" 2>/dev/null && break; sleep 0.05; done
grep -q ready "$tmp/host.out" || { echo "host did not start" >&2; exit 1; }
"$bin/videoredir-client" --uri "spice://127.0.0.1:$port" --present-log "$tmp/present.txt" \
  --latency-log "$tmp/decoded.txt" --exit-at-eos --timeout 120 2>"$tmp/client.log" &
client=$!
pids+=("$client")
"$bin/videoredir-capture" --device "$sock" --pace realtime --loop "$loops" --connect-timeout 30 \
  "$top/samples/$lat_clip" >"$tmp/capture.log" 2>&1
wait "$client" || true
pct() { awk '$3 > 0 {print $3}' "$1" | sort -n | awk -v q="$2" '{v[NR]=$1} END {i=int(NR*q); if(i<1)i=1; printf "%.1f", v[i]/1000}'; }
n=$(awk '$3 > 0' "$tmp/present.txt" | wc -l)
echo
echo "Latency from the guest's send to the frame being presented, over the host stand-in"
echo "(\`videoredir-client --present-log\`; $lat_clip played $((loops + 1)) times at its real-time pace,"
echo "$n frames; frames before the first PONG have no clock offset and are left out). The stream"
echo "has no CLOCK messages (videoredir-capture does not send them), so each frame is presented as"
echo "soon as it is decoded: send -> presented = transport + decode, including the decoder's"
echo "reordering delay:"
echo
echo "| latency | p50 ms | p99 ms |"
echo "|---|---|---|"
echo "| <a id=\"latency-presented\"></a>guest send -> presented | $(pct "$tmp/present.txt" 0.5) | $(pct "$tmp/present.txt" 0.99) |"
echo "| guest send -> decoded (\`--latency-log\`) | $(pct "$tmp/decoded.txt" 0.5) | $(pct "$tmp/decoded.txt" 0.99) |"
