#!/usr/bin/env bash
# Recording over the real stack: videoredir-host (libspice-server) between
# videoredir-capture --record and videoredir-client --record. Both ends'
# recordings replay to FFmpeg's decode of the clip, the client's with its
# real timing (client clock, PING/PONG offset from the recording); and both
# hold the same guest->client messages in the same order.
# Usage: replay_e2e.sh CLIP   (env: VR_BIN)
set -euo pipefail
clip=${1:?clip}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../e2e/lib.sh"
[ -f "$clip" ] || vr_fail "no clip $clip"

vr_start_host
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --record "$VR_TMP/client.vrr" \
  --framemd5 "$VR_TMP/live.md5" --exit-at-eos --timeout 90 2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
"$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime --window 100,80,640,360 \
  --record "$VR_TMP/guest.vrr" --connect-timeout 60 "$clip" >"$VR_TMP/capture.log" 2>&1 \
  || vr_fail "capture failed"
wait "$client" || vr_fail "client failed"
vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
vr_compare_md5 "$VR_TMP/live.md5" "$VR_TMP/ref.md5"

for side in client guest; do
  python3 "$here/vrrec.py" check "$VR_TMP/$side.vrr" || vr_fail "$side.vrr is not a clean recording"
  "$VR_BIN/videoredir-replay" --framemd5 "$VR_TMP/$side.md5" "$VR_TMP/$side.vrr" 2>"$VR_TMP/replay-$side.log" \
    || vr_fail "replay of the $side's recording failed"
  cat "$VR_TMP/replay-$side.log"
  vr_compare_md5 "$VR_TMP/$side.md5" "$VR_TMP/ref.md5"
done
# The guest->client messages of both recordings, in order. The guest may
# have sent a little before the client's port was open, and a PING after the
# client left at the end: the client's list must be one unbroken run of the
# guest's, from before the first frame to the stream's stop.
for side in client guest; do
  python3 "$here/vrrec.py" list "$VR_TMP/$side.vrr" | grep -E '^ *[0-9]+ +[0-9]+ +[0-9.]+ MSG guest->client' | cut -c 28- >"$VR_TMP/$side.msgs"
done
python3 - "$VR_TMP/guest.msgs" "$VR_TMP/client.msgs" <<'PY' || vr_fail "the client recorded other guest messages than the guest sent"
import sys
guest, client = (open(f).read().splitlines() for f in sys.argv[1:3])
n = len(client)
run = n > 0 and any(guest[i:i + n] == client for i in range(len(guest) - n + 1))
sys.exit(0 if run and any("STREAM_STOP" in m for m in client) else 1)
PY
n_client=$(wc -l <"$VR_TMP/client.msgs")
frames=$(grep -c ' FRAME ' "$VR_TMP/client.msgs")
echo "both recordings: $n_client guest->client messages alike, $frames frames; replays equal ffmpeg's"
