#!/usr/bin/env bash
# The client's placement from the picture: what the marker scan
# (vr_marker_detector_scan, PROTOCOL.md section 10) costs per display
# invalidate, against a memcpy of the same area, from bench-marker
# (bench/marker_bench.c). Prints Markdown; the rows the summary of
# BENCHMARKS.md quotes carry anchors (marker-full-unchanged,
# marker-full-moved).
# Usage: bench/marker_bench.sh BUILD_DIR   (VR_BENCH_MARKER_ROUNDS=N, default 200)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin="${1:-$top/build}/bin"
rounds=${VR_BENCH_MARKER_ROUNDS:-200}
[ "${VR_BENCH_QUICK:-0}" = 1 ] && rounds=20
[ -x "$bin/bench-marker" ] || { echo "no $bin/bench-marker (client-overlay not built)" >&2; exit 1; }
out=$("$bin/bench-marker" "$rounds")
grep -q 'marker found at 320,180 1280x720: exact' <<<"$out" || { echo "$out" >&2; echo "bench-marker: the detector did not find the marker exactly" >&2; exit 1; }
echo "# Placement found in the picture: marker scan per invalidate"
echo
echo "Command: \`build/bin/bench-marker $rounds\` (bench/marker_bench.c; \`bench/marker_bench.sh build\` in"
echo "\`bench/suite.sh\`). A 1920x1080 BGRx display (a noisy gradient wallpaper) holds a marked 1280x720"
echo "video at 320,180; each case scans the invalidated area with \`vr_marker_detector_scan\`"
echo "(client-overlay/src/marker.c, PROTOCOL.md section 10) and copies the same area with \`memcpy\`"
echo "in the same loop for scale; medians of $rounds scans, in the thread's CPU time (the machine is shared:"
echo "wall clock would count the time other processes had the core), build type of the build"
echo "folder (RelWithDebInfo, \`-O2\`, by default). Streams that are not marked cost nothing: without"
echo "a marked stream the client does not read the display. Load average when it ran:"
echo "$(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
echo
# Anchors on the rows the summary quotes.
sed -e 's/^| full screen, unchanged |/| <a id="marker-full-unchanged"><\/a>full screen, unchanged |/' \
  -e 's/^| full screen, video moved/| <a id="marker-full-moved"><\/a>full screen, video moved/' <<<"$out" | grep '^|'
echo
echo "$(grep '^marker found' <<<"$out"); detector counters over the run: $(grep '^scans' <<<"$out")."
echo "A playing placeholder (redrawn unchanged every frame) costs about two to three memcpys of"
echo "its area; finding a video that moved or appeared (decode a cell, fit the lattice, match every"
echo "pixel) is the expensive case and happens when windows move, not per frame."
