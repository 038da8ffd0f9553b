#!/usr/bin/env bash
# A player's session, recorded on the client: GStreamer playbin plays a clip
# into videoredirsink (CLOCK: frames due at their time, 100 ms lead), the
# host stand-in carries it, videoredir-client --record records it. The
# replay of that recording (client clock, PING/PONG offset from the
# recording) must decode FFmpeg's frames, show each frame when the
# recording's CLOCK says it is due (check_schedule.py, computed from the
# recording, not by the client), and do the same on every run.
# Usage: replay_gst.sh CLIP   (env: VR_BIN, VR_GST_PLUGIN, VR_GST_PLAY)
set -euo pipefail
clip=${1:?clip}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../e2e/lib.sh"
: "${VR_GST_PLUGIN:?}" "${VR_GST_PLAY:?}"
export VR_GST_PLUGIN GST_REGISTRY_FORK=no GST_REGISTRY="$VR_TMP/registry.bin"
unset DISPLAY
[ -f "$clip" ] || vr_fail "no clip $clip"

vr_start_host
opened=$(vr_port_channels)
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --record "$VR_TMP/client.vrr" \
  --framemd5 "$VR_TMP/live.md5" --exit-at-eos --timeout 120 2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
vr_wait_port_channel "$opened" "$client"
"$VR_GST_PLAY" --timeout 120 "playbin uri=file://$(realpath "$clip") audio-sink=fakesink \
video-sink=\"videoredirsink device=$HOST_SOCK\"" >"$VR_TMP/play.log" 2>&1 || vr_fail "pipeline failed"
wait "$client" || vr_fail "client failed"
vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
vr_compare_md5 "$VR_TMP/live.md5" "$VR_TMP/ref.md5"

python3 "$here/vrrec.py" check "$VR_TMP/client.vrr"
for run in 1 2; do
  "$VR_BIN/videoredir-replay" --framemd5 "$VR_TMP/replay$run.md5" --present-log "$VR_TMP/present$run.log" \
    "$VR_TMP/client.vrr" 2>"$VR_TMP/replay$run.log" || vr_fail "replay $run failed"
done
cat "$VR_TMP/replay1.log"
vr_compare_md5 "$VR_TMP/replay1.md5" "$VR_TMP/ref.md5"
cmp -s "$VR_TMP/present1.log" "$VR_TMP/present2.log" || vr_fail "two replays presented differently"
echo "two replays: the same $(wc -l <"$VR_TMP/present1.log") frames presented at the same times"
python3 "$here/check_schedule.py" "$VR_TMP/client.vrr" "$VR_TMP/present1.log" || vr_fail "schedule"
