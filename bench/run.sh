#!/usr/bin/env bash
# Runs the transport benchmarks over the real stack and prints Markdown:
#  1. port throughput: raw bytes vs videoredir frames through spice-server,
#     alternating rounds in one run, median ratio;
#  2. wire bytes of every sample clip against its elementary stream size.
# Usage: bench/run.sh [BUILD_DIR]   (default build/; build it first)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export VR_BIN="${1:-$top/build}/bin"
. "$top/tests/e2e/lib.sh"

echo "## Port throughput (spice-server port channel, loopback)"
echo
vr_start_host
echo '```'
"$VR_BIN/bench-port-throughput" --uri "spice://127.0.0.1:$HOST_PORT" --guest-socket "$HOST_SOCK" \
  --mib "${VR_BENCH_MIB:-64}" --rounds "${VR_BENCH_ROUNDS:-5}"
echo '```'
echo
echo "## Wire bytes against elementary stream bytes"
echo
echo "| clip | frames | elementary stream bytes | wire bytes | overhead |"
echo "|---|---|---|---|---|"
for clip in "$top"/samples/*.mp4 "$top"/samples/*.mkv "$top"/samples/*.webm "$top"/samples/*.ts \
            "$top"/samples/*.h264 "$top"/samples/*.hevc "$top"/samples/*.ivf; do
  [ -f "$clip" ] || continue
  "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --exit-at-eos --timeout 60 \
    2>"$VR_TMP/client.log" &
  c=$!
  line=$("$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace none "$clip" 2>&1 | tail -n 1)
  wait "$c"
  # "N frames, W bytes sent, E elementary stream bytes, overhead P%, ..."
  frames=$(sed -E 's/.*: ([0-9]+) frames.*/\1/' <<<"$line")
  wire=$(sed -E 's/.* ([0-9]+) bytes sent.*/\1/' <<<"$line")
  es=$(sed -E 's/.* ([0-9]+) elementary stream bytes.*/\1/' <<<"$line")
  ovh=$(sed -E 's/.*overhead ([0-9.]+%).*/\1/' <<<"$line")
  echo "| $(basename "$clip") | $frames | $es | $wire | $ovh |"
done
