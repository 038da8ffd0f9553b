#!/usr/bin/env bash
# Placement and clipping over the real stack: the host stand-in serves a
# plain desktop picture; the guest announces its window at 300,200 640x360
# with a visible region that leaves a 200x100 hole (another window on top).
# The client's composited snapshot must show the video inside the visible
# region, and the SPICE desktop (from the real display channel) in the hole
# and outside the window.
. "$(dirname "$0")/lib.sh"
command -v convert >/dev/null || vr_fail "ImageMagick convert is needed"
desk=0x305070
ffmpeg -nostdin -v error -f lavfi -i "color=c=$desk:s=1280x800,format=rgb24" -frames:v 1 "$VR_TMP/desk.png"
vr_start_host --desktop "$VR_TMP/desk.png"
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --snapshot "$VR_TMP/snap.png" \
  --exit-at-eos --timeout 60 2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
# Visible: the window minus 500..700 x 300..400.
region="300,200,640,100;300,300,200,100;700,300,240,100;300,400,640,160"
"$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace none --window 300,200,640,360 \
  --region "$region" --connect-timeout 30 "${VR_SAMPLES:?}/h264-bframes.mp4" \
  >"$VR_TMP/capture.log" 2>&1 || vr_fail "capture failed"
wait "$client" || vr_fail "client failed"

px() { convert "$VR_TMP/snap.png" -format "%[hex:p{$1,$2}]" info: | cut -c1-6; }
want=$(printf '%06X' "$desk")
is_desk() { [ "$(px "$1" "$2")" = "$want" ]; }
n=0
for p in "10 10" "299 300" "941 300" "600 199" "600 561" "600 350" "510 310" "690 390"; do
  set -- $p
  is_desk "$1" "$2" || vr_fail "($1,$2) should show the desktop $want, shows $(px "$1" "$2")"
  n=$((n + 1))
done
for p in "305 205" "935 205" "305 555" "935 555" "400 350" "800 350" "600 250" "600 450"; do
  set -- $p
  is_desk "$1" "$2" && vr_fail "($1,$2) should show video, shows the desktop"
  n=$((n + 1))
done
echo "placement: $n pixels checked: video inside the visible region, desktop in the hole and outside"
