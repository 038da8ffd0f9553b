#!/usr/bin/env bash
# The benchmark suite: builds, runs every benchmark on this machine in one go,
# and writes BENCHMARKS.md (tables with ratios, each row saying how it was
# measured) and bench/plots/*.png. Every number in the report comes from this
# run. About 10 minutes on the 2-core project machine.
#
# Usage: bench/suite.sh [BUILD_DIR]     (default: build/, built here if needed)
# Env:   VR_BENCH_QUICK=1  shorter runs (a smoke test of the suite, not for the report)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$top/build}")
VR_DEPS=deps-test.txt "$top/scripts/bootstrap.sh" "$build" -DVR_WERROR=ON >/dev/null
bin="$build/bin"
work=$(mktemp -d "${TMPDIR:-/tmp}/vr-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
plots="$top/bench/plots"
mkdir -p "$plots"
report="$top/BENCHMARKS.md"
quick=${VR_BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
  export VR_BENCH_LOOPS=0 VR_BENCH_MIB=16 VR_BENCH_ROUNDS=2 VR_BENCH_CLIPS=h264-bframes.mp4
fi
started=$(date +%s)
log() { echo "bench: $*" >&2; }

# ---- runs ------------------------------------------------------------------
log "videoredir against SPICE's own video streaming (bench/spice_compare.sh)"
"$top/bench/spice_compare.sh" "$bin" "$work/spice" >/dev/null
log "transport and wire overhead (bench/run.sh)"
"$top/bench/run.sh" "$build" >"$work/transport.md"

# Optional parts, each owned by its own script: included when present.
extra=()
for part in client_bench.sh marker_bench.sh guest_cpu.sh first_frame.sh replay_bench.sh vm_bench.sh; do
  if [ -x "$top/bench/$part" ]; then
    log "bench/$part"
    if VR_BENCH_OUT="$work" "$top/bench/$part" "$build" >"$work/$part.md" 2>"$work/$part.log"; then
      extra+=("$part")
    else
      log "bench/$part failed (see below); its section says so"
      { echo "bench/$part failed in this run:"; echo '```'; tail -n 20 "$work/$part.log"; echo '```'; } \
        >"$work/$part.md"
      extra+=("$part")
    fi
  fi
done

# ---- plots -----------------------------------------------------------------
raw="$work/spice/spice_compare.raw"
first_clip=$(awk 'NR==1{print $1}' "$raw")
stem=${first_clip%%.*}
if command -v gnuplot >/dev/null; then
  gnuplot <<EOF
set terminal pngcairo size 900,420 font "DejaVu Sans,10"
set output "$plots/bandwidth.png"
set title "Bytes to the SPICE client over time: $first_clip, real spice-server, 100 ms buckets"
set xlabel "seconds since the relay started"
set ylabel "Mbit/s"
set key top right
set grid
plot "$work/spice/series-$stem-spice-filter.txt" using 1:((\$2+\$3)*8/0.1/1e6) with steps lw 2 title "SPICE streaming-video=filter", \
     "$work/spice/series-$stem-spice-all.txt" using 1:((\$2+\$3)*8/0.1/1e6) with steps lw 2 title "SPICE streaming-video=all", \
     "$work/spice/series-$stem-videoredir.txt" using 1:((\$2+\$3)*8/0.1/1e6) with steps lw 2 title "videoredir (port + display)"
EOF
  if [ -s "$work/latency-vm-rt.txt" ] && [ -s "$work/latency-host-rt.txt" ]; then
    for p in host vm; do
      awk '$3 > 0 {print $3 / 1000}' "$work/latency-$p-rt.txt" | sort -n |
        awk '{v[NR] = $1} END {for (i = 1; i <= NR; i++) print v[i], i / NR}' >"$work/cdf-$p.txt"
    done
    gnuplot <<EOF
set terminal pngcairo size 900,420 font "DejaVu Sans,10"
set output "$plots/latency.png"
set title "videoredir latency per frame, guest send -> decoded on the client (VP9 sample at 25 fps)"
set xlabel "ms (log scale)"
set ylabel "fraction of frames"
set logscale x
set key bottom right
set grid
plot "$work/cdf-host.txt" using 1:2 with lines lw 2 title "host stand-in (unix socket -> libspice-server)", \\
     "$work/cdf-vm.txt" using 1:2 with lines lw 2 title "QEMU VM (virtio-serial -> spiceport, TCG)"
EOF
  fi
else
  log "gnuplot missing: no plots (scripts/deps.txt lists gnuplot-nox)"
fi

# ---- report ----------------------------------------------------------------
# ratio A B: A/B with 2 decimals ("–" when B is 0)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0) print "–"; else printf "%.3f", a / b }'; }
field() { awk -v c="$1" -v m="$2" -v f="$3" '$1==c && $2==m {print $f}' "$raw"; }

pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }
{
  echo "# Benchmarks"
  echo
  echo "Written by \`bench/suite.sh\` on $(date -u +%Y-%m-%d) in $(( $(date +%s) - started )) s; every number below"
  echo "comes from that run. Regenerate with:"
  echo
  echo '```'
  echo "./scripts/bootstrap.sh build && bench/suite.sh build"
  echo '```'
  echo
  echo "Machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)),"
  echo "$(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, no GPU, $(. /etc/os-release; echo "$PRETTY_NAME"),"
  echo "kernel $(uname -r); spice-server $(pkgver libspice-server1), spice-gtk $(pkgver libspice-client-glib-2.0-8),"
  echo "FFmpeg $(pkgver libavcodec59). The machine is shared and noisy: read ratios measured side by side,"
  echo "not single absolute numbers."
  echo
  echo "## Summary"
  echo
  echo "| what | videoredir | baseline | ratio (videoredir / baseline) | how |"
  echo "|---|---|---|---|---|"
  for c in $(awk '{print $1}' "$raw" | sort -u); do
    v=$(field "$c" videoredir 5); a=$(field "$c" spice-all 5); f=$(field "$c" spice-filter 5)
    echo "| <a id=\"bw-$c\"></a>bytes to the client, $c | $v | $a (SPICE streaming-video=all) | $(ratio "$v" "$a") | [bandwidth](#bandwidth) |"
    echo "| bytes to the client, $c | $v | $f (SPICE streaming-video=filter) | $(ratio "$v" "$f") | [bandwidth](#bandwidth) |"
    vh=$(awk -v x="$(field "$c" videoredir 7)" -v y="$(field "$c" videoredir 8)" 'BEGIN{printf "%.2f", x + y}')
    ah=$(field "$c" spice-all 7)
    echo "| <a id=\"cpu-$c\"></a>guest + host CPU s, $c | $vh (capture + host relay) | $ah (local decode + spice-server re-encode) | $(ratio "$vh" "$ah") | [CPU](#cpu) |"
    # The guest alone: the capture against decoding the clip locally (FFmpeg,
    # one thread), both as CPU seconds per second of video.
    ffps=$(sed -n "s/.*id=\"client-$c\"><\/a>[^|]*| [0-9.]* | \([0-9.]*\) |.*/\1/p" "$work/client_bench.sh.md" 2>/dev/null || true)
    if [ -n "$ffps" ]; then
      secs=$(awk -v l="${VR_BENCH_LOOPS:-3}" 'BEGIN{print (l + 1) * 3}')
      gc=$(awk -v x="$(field "$c" videoredir 8)" -v s="$secs" 'BEGIN{printf "%.4f", x / s}')
      ld=$(awk -v f="$ffps" 'BEGIN{printf "%.4f", 25 / f}')
      echo "| <a id=\"guest-cpu-$c\"></a>guest CPU s per s of video, $c | $gc (videoredir-capture) | $ld (local software decode, ffmpeg) | $(ratio "$gc" "$ld") | [CPU](#cpu), [client](#the-client-decode--composite-against-ffmpeg-decode-only) |"
    fi
  done
  # Rows from the other parts, when they ran. cell PART ID N: the Nth cell
  # (1-based, the anchored cell being 1) of the row anchored ID in PART's output.
  cell() { sed -n "s/.*id=\"$2\"><\/a>//p" "$work/$1.md" 2>/dev/null | head -n 1 | awk -F'|' -v n="$3" '{gsub(/^ +| +$/, "", $n); print $n}'; }
  read -r spice_clip spice_detect < <(awk '$2 == "spice-all" && $10 ~ /ms$/ {sub(/ms$/, "", $10); print $1, $10; exit}' "$raw") || true
  sa=$(cell guest_cpu.sh guest-cpu-sink 4)
  sb=$(sed -n 's/^| B: local decode |.*| \([0-9.]*\) |$/\1/p' "$work/guest_cpu.sh.md" 2>/dev/null | head -n 1)
  if [ -n "$sa" ] && [ -n "$sb" ]; then
    echo "| <a id=\"guest-cpu-gst\"></a>guest CPU ms per frame, 1080p H.264 in GStreamer | $sa (videoredirsink) | $sb (avdec_h264, no display) | $(ratio "$sa" "$sb") | [guest CPU](#guest-cpu-per-frame-videoredirsink-against-local-decoding) |"
  fi
  fs=$(cell first_frame.sh first-start 2)
  if [ -n "$fs" ] && [ -n "$spice_detect" ]; then
    echo "| <a id=\"first-frame\"></a>ms from stream start to the video on the screen | $fs (vp9.webm: accepted -> first frame shown) | $spice_detect (SPICE streaming-video=all, $spice_clip: first drawn frame -> STREAM_CREATE) | $(ratio "$fs" "$spice_detect") | [first frame](#time-to-the-first-frame-shown), [bandwidth](#bandwidth) |"
    rk=$(cell first_frame.sh first-reconnect-sink 2)
    [ -z "$rk" ] || echo "| <a id=\"first-frame-reconnect\"></a>ms from a client's (re)start to the video on the screen | $rk (videoredirsink GOP cache, SPICE connection included) | $spice_detect (SPICE stream detection alone) | $(ratio "$rk" "$spice_detect") | [first frame](#time-to-the-first-frame-shown) |"
  fi
  for m in full-unchanged:"placeholder redrawn unchanged" full-moved:"the video moved 3 px (find, decode, fit, match)"; do
    ms=$(cell marker_bench.sh "marker-${m%%:*}" 3)
    mc=$(cell marker_bench.sh "marker-${m%%:*}" 4)
    [ -n "$ms" ] && [ -n "$mc" ] || continue
    echo "| <a id=\"sum-marker-${m%%:*}\"></a>ms per 1080p display invalidate, the client's marker scan, ${m#*:} | $ms (vr_marker_detector_scan) | $mc (memcpy of the same area) | $(ratio "$ms" "$mc") | [marker scan](#placement-found-in-the-picture-marker-scan-per-invalidate) |"
  done
  read -r traw tvr tratio < <(sed -n 's/^median raw \([0-9.]*\) MB\/s, videoredir \([0-9.]*\) MB\/s.*ratio videoredir\/raw \([0-9.]*\).*/\1 \2 \3/p' "$work/transport.md") || true
  if [ -n "${tratio:-}" ]; then
    echo "| <a id=\"transport-goodput\"></a>MB/s through spice-server's port channel, loopback | $tvr (videoredir frames, flow control, payload goodput) | $traw (raw bytes on the port) | $tratio (median of the rounds' ratios) | [transport](#transport) |"
  fi
  for c in h264-bframes.mp4 vp9.webm av1.mkv; do
    ro=$(cell replay_bench.sh "replay-$c" 3)
    rf=$(cell replay_bench.sh "replay-$c" 4)
    [ -n "$ro" ] && [ -n "$rf" ] || continue
    echo "| <a id=\"sum-replay-$c\"></a>replay frames per CPU s, $c | $ro (videoredir-replay: read, decode, composite) | $rf (ffmpeg decode-only) | $(ratio "$ro" "$rf") | [replay](#replay-throughput-videoredir-replay-against-ffmpeg-decode-only) |"
  done
  echo
  echo "## Bandwidth"
  echo
  echo "Each clip is played $(( ${VR_BENCH_LOOPS:-3} + 1 )) times at 25 fps (75 frames each). SPICE path: \`videoredir-host --play\`"
  echo "decodes the clip and draws every frame with QXL_DRAW_COPY at 320,200, as a guest player that"
  echo "decodes locally would; spice-server (\`--streaming-video filter\`, its own default, or \`all\`)"
  echo "detects the region and re-encodes it with its default encoder (MJPEG). videoredir path:"
  echo "\`videoredir-capture --pace realtime\` sends the compressed frames over the port channel and"
  echo "\`videoredir-client\` decodes them. Both clients are real spice-glib clients; \`bench-spice-tap\`"
  echo "sits between client and server and counts every byte per SPICE channel (display, port) and"
  echo "times the display channel's STREAM_CREATE. The desktop's first paint is in both paths."
  echo
  cat "$work/spice/spice_compare.md"
  echo
  echo "![bandwidth over time]($(realpath --relative-to="$top" "$plots")/bandwidth.png)"
  echo
  echo "## CPU"
  echo
  echo "CPU seconds (user + system, \`/usr/bin/time\`) of each process over the whole run above. In the"
  echo "SPICE path the host stand-in does what a guest player and QEMU's spice-server do: decode the"
  echo "clip (the guest's local decode) and re-encode the region (spice-server); with videoredir the"
  echo "guest only reads and sends the compressed frames (capture CPU) and the host only relays the port."
  echo "The client column is the spice-glib client: MJPEG decoding in the SPICE path, the original"
  echo "codec's software decoding with videoredir."
  echo
  echo "## Latency"
  echo
  echo "Time to a video stream, the last column of the bandwidth table: for SPICE, from the first frame"
  echo "the host drew to the display channel's STREAM_CREATE (spice-server waits for about 20 frames of"
  echo "a changing region, and with \`filter\` may never decide the region is video; until then the frames"
  echo "go as lossless images, the burst at the start of the plot); for videoredir, from STREAM_START to"
  echo "the first FRAME passing the tap (the client's ACCEPT round trip included). The time until the"
  echo "video is on the client's screen, and after a client reconnects, is measured on the client in"
  echo "[Time to the first frame shown](#time-to-the-first-frame-shown); the latency of every frame"
  echo "(guest send -> presented, p50/p99) in [the client](#the-client-decode--composite-against-ffmpeg-decode-only)"
  echo "section and, for the real VM, in [the VM path](#the-real-vm-path-against-the-host-stand-in)."
  echo
  cat "$top/bench/latency-figures.md"
  echo
  echo "## Transport"
  echo
  sed 's/^## /### /' "$work/transport.md"
  for part in "${extra[@]}"; do
    echo
    sed 's/^# /## /' "$work/$part.md"
    if [ "$part" = vm_bench.sh ] && [ -f "$plots/latency.png" ]; then
      echo
      echo "![latency distribution]($(realpath --relative-to="$top" "$plots")/latency.png)"
    fi
  done
  # Measured separately (they take long): included as last written, with their own date.
  for part in REALSIZE.md LATENCY.md realsize-notes.md; do
    if [ -f "$top/bench/$part" ]; then
      echo
      sed 's/^# /## /; s|(plots/|(bench/plots/|g' "$top/bench/$part"
    fi
  done
} >"$report"
log "wrote $report and $plots/ in $(( $(date +%s) - started )) s"
