#!/usr/bin/env bash
# Placement found in the picture, in the GTK overlay as a person sees it:
# videoredir-viewer, or stock remote-viewer with the GTK module, under Xvfb.
# The host stand-in's desktop shows a player's marked placeholder (scaled to
# 800x450 at 260,180) with a window over its lower right part; the guest
# sends the clip marked with that code and a wrong window (20,20 320x180).
# The overlay must draw the video where the marker is seen, not at the
# guest's window and not over the window on top.
mode=${1:?viewer or remote-viewer}
. "$(dirname "$0")/../e2e/lib.sh"
for t in Xvfb import convert; do command -v $t >/dev/null || vr_fail "$t is needed"; done
if [ "$mode" = remote-viewer ]; then
  command -v remote-viewer >/dev/null || vr_fail "remote-viewer (virt-viewer) is needed"
  if [ "${VR_SANITIZED:-0}" = 1 ]; then
    echo "SKIP: remote-viewer with the GTK module is not run in the sanitizer build"
    exit 77
  fi
fi
desk=0x305070
want=$(printf '%06X' "$desk")
ffmpeg -nostdin -v error -f lavfi -i "color=c=$desk:s=1280x800,format=rgb24" -frames:v 1 "$VR_TMP/desk.png"
vr_start_xvfb 1280x800x24
vr_start_host --desktop "$VR_TMP/desk.png" --marker 7@260,180,800x450 --cover 700,500,300x200 \
  --image-compression auto_glz --jpeg-wan-compression never
uri="spice://127.0.0.1:$HOST_PORT"
if [ "$mode" = viewer ]; then
  G_MESSAGES_DEBUG=all "$VR_BIN/videoredir-viewer" --size 1280x800 "$uri" >"$VR_TMP/viewer.log" 2>&1 &
else
  G_MESSAGES_DEBUG=all GTK_MODULES="$VR_LIB/libvideoredir-gtk-module.so" remote-viewer "$uri" >"$VR_TMP/viewer.log" 2>&1 &
fi
viewer=$!
VR_PIDS+=("$viewer")
"$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime --loop -1 --window 20,20,320,180 \
  --marker 7 --connect-timeout 30 "$VR_SAMPLES/h264-bframes.mp4" >"$VR_TMP/capture.log" 2>&1 &
VR_PIDS+=("$!")
vr_wait_for "$VR_TMP/viewer.log" "placement from the picture 260,180 800x450" "$viewer" 30 ||
  vr_fail "the overlay did not find the marker at 260,180 800x450"
sleep 1.5 # a few frames drawn at the new place
import -window root "$VR_TMP/shot.png"
[ -n "${VR_SHOTS:-}" ] && cp "$VR_TMP/shot.png" "$VR_SHOTS/marker-$mode.png"
px() { convert "$VR_TMP/shot.png" -format "%[hex:p{$1,$2}]" info: | cut -c1-6; }
# Where the guest desktop starts on screen (remote-viewer has a tool bar).
oy=
for y in $(seq 0 120); do [ "$(px 10 "$y")" = "$want" ] && { oy=$y; break; }; done
[ -n "$oy" ] || vr_fail "the desktop is not on the screen"
ox=
for x in $(seq 0 40); do [ "$(px "$x" $((oy + 10)))" = "$want" ] && { ox=$x; break; }; done
[ -n "$ox" ] || vr_fail "the desktop's left edge is not on the screen"
echo "$mode: guest desktop at +$ox+$oy on the screen"
rgb() { convert "$VR_TMP/shot.png" -format "%[fx:int(255*p{$1,$2}.r)] %[fx:int(255*p{$1,$2}.g)] %[fx:int(255*p{$1,$2}.b)]" info:; }
spread() { set -- $(rgb "$1" "$2"); local mx=$1 mn=$1 v; for v in "$2" "$3"; do ((v > mx)) && mx=$v; ((v < mn)) && mn=$v; done; echo $((mx - mn)); }
n=0
# The clip's colour bars are saturated; the marker is grey, the window on
# top light grey, the desktop a dull blue.
for p in "1055 185" "265 625" "1055 625" "500 400" "695 600" "990 495"; do
  set -- $p
  [ "$(spread $((ox + $1)) $((oy + $2)))" -gt 120 ] ||
    vr_fail "guest ($1,$2) should show video, shows $(rgb $((ox + $1)) $((oy + $2)))"
  n=$((n + 1))
done
for p in "1065 300" "600 175" "255 400" "600 635" "705 505" "850 600" "990 505"; do
  set -- $p
  [ "$(spread $((ox + $1)) $((oy + $2)))" -le 120 ] ||
    vr_fail "guest ($1,$2) should not show video, shows $(rgb $((ox + $1)) $((oy + $2)))"
  n=$((n + 1))
done
# Nothing at the guest's (wrong) window: the desktop's own colour there.
for p in "30 30" "200 100" "250 190"; do
  set -- $p
  [ "$(px $((ox + $1)) $((oy + $2)))" = "$want" ] || vr_fail "guest ($1,$2) should show the desktop"
  n=$((n + 1))
done
echo "$mode: $n pixels checked: video where the marker is seen, not under the window on top nor at the guest's window"
