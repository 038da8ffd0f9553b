#!/usr/bin/env bash
# End to end over the real stack: videoredir-host (libspice-server) +
# videoredir-capture (guest side, unix socket) + videoredir-client (spice-glib).
# The client's framemd5 must equal FFmpeg's decode of the clip, frame for frame.
# Usage: e2e_clip.sh CLIP [realtime|none [CLIENT_OPTION...]]
clip=$1
pace=${2:-none}
client_opts=("${@:3}")
. "$(dirname "$0")/lib.sh"
[ -f "$clip" ] || vr_fail "no clip $clip"

vr_start_host
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --framemd5 "$VR_TMP/client.md5" \
  --snapshot "$VR_TMP/snap.png" --exit-at-eos --timeout 90 --stats ${client_opts[@]+"${client_opts[@]}"} \
  2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
"$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace "$pace" --window 100,80,640,360 \
  --connect-timeout 60 "$clip" >"$VR_TMP/capture.log" 2>&1 || vr_fail "capture failed"
wait "$client" || vr_fail "client failed"
cat "$VR_TMP/capture.log"
grep -E 'stats' "$VR_TMP/client.log" | tail -n 2 || true
vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
[ -s "$VR_TMP/snap.png" ] || vr_fail "no snapshot written"
