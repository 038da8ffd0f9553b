#!/usr/bin/env bash
# The demo: installs what is missing, builds, then plays a sample clip through
# the whole chain on this machine:
#   videoredir-capture (guest side) -> videoredir-host (libspice-server, the
#   host stand-in) -> SPICE port channel -> videoredir-client (spice-glib,
#   libavcodec), printing statistics while it plays and leaving a snapshot of
#   the video composited onto the SPICE desktop at its window rectangle.
#
# Usage: scripts/demo.sh [--clip FILE] [--window X,Y,W,H] [--out DIR] [--pace realtime|none]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
clip="$top/samples/h264-bframes.mp4"
window=320,200,640,360
out="$top/out"
pace=realtime
while [ $# -gt 0 ]; do
  case $1 in
    --clip) clip=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --pace) pace=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -f "$clip" ] || { echo "demo: no clip $clip" >&2; exit 1; }

"$top/scripts/bootstrap.sh" "$top/build"
export VR_BIN="$top/build/bin"
. "$top/tests/e2e/lib.sh"
mkdir -p "$out"

vr_start_host
echo "demo: host stand-in on spice://127.0.0.1:$HOST_PORT (connect remote-viewer there to watch the desktop)"
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --stats --exit-at-eos --timeout 120 \
  --snapshot "$out/demo-snapshot.png" --framemd5 "$out/demo.framemd5" &
client=$!
VR_PIDS+=("$client")
"$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace "$pace" --window "$window" "$clip"
wait "$client"
echo "demo: decoded frames: $(grep -vc '^#' "$out/demo.framemd5") (framemd5 in $out/demo.framemd5)"
echo "demo: snapshot of the desktop with the video at $window: $out/demo-snapshot.png"
