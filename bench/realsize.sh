#!/usr/bin/env bash
# Benchmarks at real sizes: generated clips at 1080p30, 1080p60, 2160p30 and 2160p60
# (H.264, HEVC 10-bit, VP9, AV1) at realistic bitrates, measured for
#   - client cost per frame: bench-client --fps (the client's decoder +
#     compositing, CPU time) against ffmpeg -f null decode-only, same threads;
#   - guest cost: CPU of videoredir-capture per second of video, sending over
#     the host stand-in (real spice-server) to videoredir-client;
#   - latency guest send -> presented p50/p99 in that run (--present-log),
#     with the load average it ran under;
#   - wire bytes against the clip's elementary stream;
#   - compositing cost against visible rectangles (1, 16, 64, 256) at 1080p.
# Writes bench/REALSIZE.md (Markdown, every number from this run, with the
# commands) and bench/plots/realsize-*.png (gnuplot), and prints the Markdown.
#
# Clips are generated once with ffmpeg (testsrc2 with temporal noise, so the
# encoder spends its bitrate as on camera footage; fast presets) and cached in
# BUILD_DIR/bench-clips; the first run spends about 10 minutes encoding on the
# 2-core machine, later runs about 5 to 8 minutes measuring.
#
# Usage: bench/realsize.sh [BUILD_DIR] [--clips-only]
# Env:   VR_RS_CLIPS    clip names to run (default: all, see the table below)
#        VR_RS_THREADS  decoding threads on both sides (default 2)
#        VR_RS_PASSES   decode passes per clip for the cost (default 2)
#        VR_RS_OUT      the Markdown file written (default bench/REALSIZE.md)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$top/build}")
clips_only=0
[ "${2:-}" = --clips-only ] && clips_only=1
bin=$build/bin
cache=$build/bench-clips
plots=$top/bench/plots
threads=${VR_RS_THREADS:-2}
passes=${VR_RS_PASSES:-2}
mkdir -p "$cache" "$plots"
log() { echo "realsize: $*" >&2; }

# name codec size fps seconds bitrate(kbit/s)
matrix="
h264-1080p30 h264 1920x1080 30 4 8000
h264-1080p60 h264 1920x1080 60 5 12000
h264-2160p30 h264 3840x2160 30 2 40000
h264-2160p60 h264 3840x2160 60 2 60000
hevc10-1080p30 hevc10 1920x1080 30 3 8000
hevc10-2160p30 hevc10 3840x2160 30 2 30000
hevc10-2160p60 hevc10 3840x2160 60 2 45000
vp9-1080p30 vp9 1920x1080 30 3 8000
vp9-2160p30 vp9 3840x2160 30 2 30000
av1-1080p30 av1 1920x1080 30 3 6000
av1-2160p30 av1 3840x2160 30 2 20000
"
encoders=$(ffmpeg -hide_banner -encoders 2>/dev/null || true)
has_encoder() { grep -q " $1 " <<<"$encoders"; }

# gen NAME CODEC SIZE FPS SECONDS KBPS: BUILD_DIR/bench-clips/NAME.EXT (cached)
gen() {
  local name=$1 codec=$2 size=$3 fps=$4 secs=$5 kbps=$6 ext=mp4 enc
  local src="testsrc2=size=$size:rate=$fps,noise=alls=12:allf=t"
  local rate=(-b:v "${kbps}k" -maxrate "${kbps}k" -bufsize "$((kbps * 2))k" -g $((fps * 2)))
  case $codec in
    h264) enc=(-c:v libx264 -preset veryfast -pix_fmt yuv420p "${rate[@]}"); has_encoder libx264 || return 1 ;;
    hevc10) enc=(-c:v libx265 -preset ultrafast -pix_fmt yuv420p10le -profile:v main10 -tag:v hvc1
                 -x265-params log-level=error "${rate[@]}"); has_encoder libx265 || return 1 ;;
    vp9) ext=webm; enc=(-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -row-mt 1 -pix_fmt yuv420p "${rate[@]}")
         has_encoder libvpx-vp9 || return 1 ;;
    av1) ext=mkv
         if has_encoder libsvtav1; then
           enc=(-c:v libsvtav1 -preset 12 -pix_fmt yuv420p -b:v "${kbps}k" -g $((fps * 2)))
         elif has_encoder libaom-av1; then
           enc=(-c:v libaom-av1 -cpu-used 8 -usage realtime -pix_fmt yuv420p "${rate[@]}")
         else return 1; fi ;;
    *) return 1 ;;
  esac
  CLIP=$cache/$name.$ext
  [ -s "$CLIP" ] && return 0
  log "encoding $name ($codec $size ${fps} fps ${secs} s ${kbps} kbit/s)"
  SVT_LOG=1 ffmpeg -nostdin -v error -y -f lavfi -i "$src" -t "$secs" "${enc[@]}" "$CLIP.tmp.$ext"
  mv "$CLIP.tmp.$ext" "$CLIP"
}

# All clips of the matrix that VR_RS_CLIPS selects: lines "name codec size fps secs kbps path".
sel=()
while read -r name codec size fps secs kbps; do
  [ -n "$name" ] || continue
  if [ -n "${VR_RS_CLIPS:-}" ] && ! grep -qw -- "$name" <<<"$VR_RS_CLIPS"; then continue; fi
  if gen "$name" "$codec" "$size" "$fps" "$secs" "$kbps"; then
    sel+=("$name $codec $size $fps $secs $kbps $CLIP")
  else
    log "no encoder for $codec here: $name left out"
  fi
done <<<"$matrix"
[ "$clips_only" = 1 ] && exit 0
[ -x "$bin/bench-client" ] && [ -x "$bin/videoredir-client" ] || {
  echo "realsize: build the tree first (no bench-client or videoredir-client in $bin)" >&2; exit 1; }

. "$top/bench/benchlib.sh"
work=$tmp
started=$(date +%s)
load() { cut -d' ' -f1 /proc/loadavg; }
cpu_of() { tail -n 1 "$1" | awk '{printf "%.3f", $1 + $2}'; } # /usr/bin/time -f '%U %S'

# One run over the host stand-in: videoredir-capture --pace realtime ->
# videoredir-host (spice-server) -> videoredir-client. Sets CAP_CPU (s),
# WIRE (bytes sent), ES (elementary stream bytes), LAT (latency_stats.py line),
# LOAD (1-minute load average at the end), PRESENTED, LATE.
stand_in() {
  local clip=$1 port i c
  rm -f "$work/host.out" "$work/guest.sock"
  port=$((20000 + RANDOM % 30000))
  "$bin/videoredir-host" --spice-port "$port" --guest-socket "$work/guest.sock" \
    >"$work/host.out" 2>"$work/host.log" &
  local host=$!
  pids+=("$host")
  for ((i = 0; i < 300; i++)); do grep -q ready "$work/host.out" 2>/dev/null && break; sleep 0.05; done
  grep -q ready "$work/host.out" || { log "host did not start"; return 1; }
  "$bin/videoredir-client" --uri "spice://127.0.0.1:$port" --present-log "$work/present.txt" \
    --decode-threads "$threads" --exit-at-eos --timeout 180 2>"$work/client.log" &
  c=$!
  pids+=("$c")
  for ((i = 0; i < 1200; i++)); do
    grep -q "SPICE client opened the port channel" "$work/host.log" 2>/dev/null && break
    sleep 0.05
  done
  /usr/bin/time -f '%U %S' -o "$work/cap.time" "$bin/videoredir-capture" --device "$work/guest.sock" \
    --pace realtime --connect-timeout 60 "$clip" >"$work/capture.log" 2>&1 || log "capture failed: $(tail -n 2 "$work/capture.log")"
  wait "$c" || log "client exited $?: $(tail -n 2 "$work/client.log")"
  LOAD=$(load)
  kill "$host" 2>/dev/null || true
  wait "$host" 2>/dev/null || true
  CAP_CPU=$(cpu_of "$work/cap.time")
  WIRE=$(sed -n 's/.* frames, \([0-9]*\) bytes sent, \([0-9]*\) elementary.*/\1/p' "$work/capture.log")
  ES=$(sed -n 's/.* bytes sent, \([0-9]*\) elementary.*/\1/p' "$work/capture.log")
  PRESENTED=$(sed -n 's/.* \([0-9]*\) presented (\([0-9]*\) late).*/\1/p' "$work/client.log" | tail -n 1)
  LATE=$(sed -n 's/.* presented (\([0-9]*\) late).*/\1/p' "$work/client.log" | tail -n 1)
  ffprobe -v error -select_streams v:0 -show_entries packet=pts,dts -of csv=p=0 "$clip" >"$work/packets.csv"
  local tb
  tb=$(ffprobe -v error -select_streams v:0 -show_entries stream=time_base -of csv=p=0 "$clip")
  LAT=$(python3 "$top/bench/latency_stats.py" "$work/present.txt" "$work/packets.csv" "${tb%/*}" "${tb#*/}")
}
# kv LINE KEY: the value of KEY= in LINE, NaN when absent (a failed run).
kv() { local v; v=$(sed -n "s/.*\<$2=\([^ ]*\).*/\1/p" <<<"$1"); echo "${v:-NaN}"; }

: >"$work/cost.dat"
: >"$work/rows.md"
for line in "${sel[@]}"; do
  read -r name codec size fps secs kbps clip <<<"$line"
  w=${size%x*} h=${size#*x}
  mpix=$(awk -v w="$w" -v h="$h" 'BEGIN{printf "%.2f", w * h / 1e6}')
  log "$name: client cost (bench-client --fps, $passes passes, $threads threads) against ffmpeg -threads $threads"
  "$bin/bench-client" --fps "$clip" "$passes" "$threads" >"$work/ours.out"
  frames=$(awk '{print $2}' "$work/ours.out")
  ours=$(awk '{print $4}' "$work/ours.out")
  /usr/bin/time -f '%U %S' -o "$work/ff.time" ffmpeg -nostdin -v error -threads "$threads" \
    -stream_loop $((passes - 1)) -i "$clip" -map 0:v:0 -f null -
  ff=$(cpu_of "$work/ff.time")
  ours_ms=$(awk -v s="$ours" -v n="$frames" 'BEGIN{printf "%.2f", s * 1000 / n}')
  ff_ms=$(awk -v s="$ff" -v n="$frames" 'BEGIN{printf "%.2f", s * 1000 / n}')
  ratio=$(awk -v a="$ours" -v b="$ff" 'BEGIN{printf "%.3f", b / a}')
  log "$name: over the host stand-in at --pace realtime"
  stand_in "$clip"
  gms=$(awk -v c="$CAP_CPU" -v s="$secs" 'BEGIN{printf "%.1f", c * 1000 / s}')
  ovh=$(awk -v w="$WIRE" -v e="$ES" 'BEGIN{ if (e > 0) printf "%.2f%%", (w - e) * 100 / e; else print "?" }')
  mbit=$(awk -v e="$ES" -v s="$secs" 'BEGIN{printf "%.1f", e * 8 / s / 1e6}')
  echo "$name $mpix $fps $ours_ms $ff_ms $ratio $(kv "$LAT" sent_p50) $(kv "$LAT" sent_p99) $(kv "$LAT" late_p50) $(kv "$LAT" late_p99) $codec" >>"$work/cost.dat"
  echo "| <a id=\"rs-$name\"></a>$name | $mbit | $ours_ms | $ff_ms | $ratio | $gms | $WIRE / $ES ($ovh) | $(kv "$LAT" sent_p50) / $(kv "$LAT" sent_p99) | $(kv "$LAT" late_p50) / $(kv "$LAT" late_p99) | $(kv "$LAT" stats_p50) / $(kv "$LAT" stats_p99) | ${PRESENTED:-?} (${LATE:-?}) | $LOAD |" >>"$work/rows.md"
done

log "compositing against visible rectangles (bench-client --composite)"
comp_clip=$(printf '%s\n' "${sel[@]}" | awk '$3 == "1920x1080" && !f {print $7; f = 1}')
[ -n "$comp_clip" ] || comp_clip=$top/samples/h264-bframes.mp4
"$bin/bench-client" --composite "$comp_clip" >"$work/comp.out"
comp_4k=$(printf '%s\n' "${sel[@]}" | awk '$3 == "3840x2160" && !f {print $7; f = 1}')
[ -z "$comp_4k" ] || "$bin/bench-client" --composite "$comp_4k" >"$work/comp4k.out"

# ---- plots -------------------------------------------------------------------
if command -v gnuplot >/dev/null; then
  for c in h264 hevc10 vp9 av1; do awk -v c="$c" '$11 == c && $3 == 30' "$work/cost.dat" >"$work/cost-$c.dat"; done
  gnuplot 2>"$work/gnuplot.log" <<GP || log "gnuplot: $(grep -v '^ *$' "$work/gnuplot.log" | tail -n 2)"
set terminal pngcairo size 900,460 font "DejaVu Sans,10" noenhanced
set output "$plots/realsize-cost.png"
set title "Client CPU ms per frame against resolution (30 fps clips, $threads decoding threads)"
set xlabel "megapixels per frame"
set ylabel "CPU ms per frame"
set key top left reverse Left
set grid
set xrange [0:9]
set yrange [0:*]
plot for [c in "h264 hevc10 vp9 av1"] "$work/cost-".c.".dat" using 2:4 with linespoints lw 2 title c." videoredir client (decode + composite)", \
     for [c in "h264 hevc10 vp9 av1"] "$work/cost-".c.".dat" using 2:5 with linespoints dt 2 title c." ffmpeg decode-only"
set output "$plots/realsize-latency.png"
set title "Latency per clip over the host stand-in (--pace realtime), ms, log scale"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -30
set logscale y
set yrange [0.5:*]
unset xrange
set xlabel ""
set ylabel "ms"
set key top left
plot "$work/cost.dat" using 7:xtic(1) title "send -> presented p50", "" using 8 title "send -> presented p99", \
     "" using (\$9 > 0.5 ? \$9 : 0.5) title "beyond due p50", "" using (\$10 > 0.5 ? \$10 : 0.5) title "beyond due p99"
unset logscale y
set style data linespoints
set xtics norotate
set output "$plots/realsize-rects.png"
set title "Compositing a frame onto a 1920x1080 desktop against visible rectangles"
set xlabel "visible rectangles"
set ylabel "CPU µs per frame"
set logscale x 2
set yrange [0:*]
set key top left
set key outside below
plot "$work/comp.out" using 2:4 lw 2 title "vr_composite_frame, 1080p frame", \
     "$work/comp.out" using 2:6 lw 2 title "headless presenter, 1080p frame"$( [ -s "$work/comp4k.out" ] && echo ", \\
     \"$work/comp4k.out\" using 2:4 lw 2 dt 2 title \"vr_composite_frame, 2160p frame scaled\", \\
     \"$work/comp4k.out\" using 2:6 lw 2 dt 2 title \"headless presenter, 2160p frame scaled\"")
GP
fi
# The plotted data, for whoever wants other plots.
cp "$work/cost.dat" "$plots/realsize-cost.dat"
cp "$work/comp.out" "$plots/realsize-rects.dat"
[ ! -s "$work/comp4k.out" ] || cp "$work/comp4k.out" "$plots/realsize-rects-2160p.dat"

# ---- report ------------------------------------------------------------------
took=$(( $(date +%s) - started ))
out=${VR_RS_OUT:-$top/bench/REALSIZE.md}
{
  echo "# At real sizes"
  echo
  echo "Made by \`bench/realsize.sh\` on $(date -u +%Y-%m-%d) in $took s (clip encoding not counted:"
  echo "the clips are cached in \`BUILD/bench-clips\`); $(nproc) cores, shared with other work (the"
  echo "load column says how much). Clips: \`testsrc2\` with temporal noise (so the encoder spends its"
  echo "bitrate as on camera footage), x264 veryfast (B-frames), x265 ultrafast main10, libvpx-vp9"
  echo "realtime, SVT-AV1 preset 12; see the script for each one's size, rate, length and bitrate."
  echo
  echo "- **client ms/frame**: \`bench-client --fps CLIP $passes $threads\`: the client's decoder"
  echo "  (vr_decoder, software, $threads threads) and compositing into a 1280x800 desktop, CPU time"
  echo "  per frame; **ffmpeg**: \`ffmpeg -threads $threads -i CLIP -f null -\`, CPU time per frame."
  echo "  **ratio** = ffmpeg / client (1.0: the client costs what decoding costs)."
  echo "- **guest ms/s**: CPU of \`videoredir-capture --pace realtime\` per second of video (demux,"
  echo "  parse, send), over the host stand-in (real spice-server) to \`videoredir-client\`."
  echo "- **wire / ES bytes**: what the guest sent against the clip's elementary stream."
  echo "- **send -> presented**: \`videoredir-client --present-log\` (client with"
  echo "  \`--decode-threads $threads\`), guest send -> presented on the clock guest and client share"
  echo "  here. With B-frames it includes the decoder's reordering delay: a picture can only come out"
  echo "  once the later-sent frames it depends on arrived (two frame times with x264's defaults)."
  echo "- **--stats**: the same through the client's PING/PONG clock offset, as \`--stats\` shows it;"
  echo "  wrong by as much as a PONG waited behind video in the port's queue."
  echo "- **beyond due**: presented minus due, due(pts) = S + (pts - dts0), S the first frame's send"
  echo "  time: the time a player that sends at the clip's decode cadence and shows the first"
  echo "  picture as early as reordering allows would show the frame (\`bench/latency_stats.py\`)."
  echo "  This is the lateness of presentation (transport, decoding and scheduling)."
  echo
  echo "| clip | Mbit/s | client ms/frame | ffmpeg ms/frame | ratio | guest ms/s | wire / ES bytes | send -> presented p50 / p99 ms | beyond due p50 / p99 ms | --stats p50 / p99 ms | presented (late) | load |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  cat "$work/rows.md"
  echo
  echo "![client cost against resolution](plots/realsize-cost.png)"
  echo
  echo "![latency per clip](plots/realsize-latency.png)"
  echo
  echo "Compositing (\`bench-client --composite CLIP\`, 40 runs per case, CPU µs per frame): one"
  echo "frame scaled to 1920x1080 onto a 1920x1080 desktop, clipped to a grid of visible rectangles:"
  echo
  echo "| visible rectangles | vr_composite_frame µs, 1080p frame | headless presenter µs, 1080p frame |$( [ -s "$work/comp4k.out" ] && echo " vr_composite_frame µs, 2160p frame | headless presenter µs, 2160p frame |")"
  echo "|---|---|---|$( [ -s "$work/comp4k.out" ] && echo "---|---|")"
  if [ -s "$work/comp4k.out" ]; then
    paste -d' ' "$work/comp.out" "$work/comp4k.out" | awk '{printf "| %s | %s | %s | %s | %s |\n", $2, $4, $6, $10, $12}'
  else
    awk '{printf "| %s | %s | %s |\n", $2, $4, $6}' "$work/comp.out"
  fi
  echo
  echo "![compositing against visible rectangles](plots/realsize-rects.png)"
} >"$out"
cat "$out"
log "wrote $out and bench/plots/realsize-*.png in $took s"
