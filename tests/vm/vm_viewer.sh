#!/usr/bin/env bash
# A SPICE client with the overlay connected to a real QEMU VM (QXL, QEMU's
# spice-server), under Xvfb:
#   viewer         videoredir-viewer
#   remote-viewer  stock remote-viewer with GTK_MODULES=libvideoredir-gtk-module.so
# The guest's capture streams into the VM's /dev/virtio-ports device with its
# window at 40,20 640x360 on the VM's 720x400 text-mode screen, part of it
# covered; a screenshot must show the video exactly in the visible region and
# the VM's own (black) screen around it and in the covered part.
# Screenshot kept in $VR_SHOTS when set.
mode=${1:-viewer}
here=$(dirname "$0")
. "$here/../e2e/lib.sh"
. "$here/vmlib.sh"
for t in Xvfb import convert; do command -v $t >/dev/null || vr_fail "$t is needed"; done
if [ "$mode" = remote-viewer ]; then
  command -v remote-viewer >/dev/null || vr_fail "remote-viewer (virt-viewer) is needed"
  # An ASan-built module cannot load into an uninstrumented program (the
  # runtime must come first); vm-viewer covers the same overlay code there.
  [ "${VR_SANITIZED:-0}" = 1 ] &&
    vr_vm_skip "remote-viewer with the GTK module is not run in the sanitizer build"
fi
# Another guest window covers 240,120 200x100 of the video: the visible
# region has that hole, where the VM's own screen must show.
region="40,20,640,100;40,120,200,100;440,120,240,100;40,220,640,160"
cat >"$VR_TMP/guest.sh" <<GUEST
'$VR_BIN/videoredir-capture' --device '/dev/virtio-ports/$VR_VM_PORT_NAME' --pace realtime --loop -1 \
  --window 40,20,640,360 --region '$region' --connect-timeout 120 '${VR_SAMPLES:?}/h264-bframes.mp4'
GUEST
exec 8>"$VR_TMP/displayfd"
Xvfb -displayfd 8 -screen 0 1024x768x24 -nolisten tcp >"$VR_TMP/xvfb.log" 2>&1 &
VR_PIDS+=("$!")
for _ in $(seq 100); do [ -s "$VR_TMP/displayfd" ] && break; sleep 0.05; done
export DISPLAY=":$(head -n 1 "$VR_TMP/displayfd")"
[ "$DISPLAY" != ":" ] || vr_fail "Xvfb did not start"
vr_vm_start "$VR_TMP/guest.sh"
uri="spice://127.0.0.1:$VM_SPICE_PORT"
case $mode in
  viewer) "$VR_BIN/videoredir-viewer" --size 720x400 "$uri" >"$VR_TMP/viewer.log" 2>&1 & ;;
  remote-viewer)
    GTK_MODULES="${VR_LIB:?}/libvideoredir-gtk-module.so" remote-viewer "$uri" >"$VR_TMP/viewer.log" 2>&1 & ;;
  *) vr_fail "mode is viewer or remote-viewer, not $mode" ;;
esac
viewer=$!
VR_PIDS+=("$viewer")
vr_wait_for "$VR_TMP/viewer.log" "stream 1: h264" "$viewer" 90 || vr_fail "$mode got no stream from the VM"
sleep 2 # a few frames drawn
import -window root "$VR_TMP/vm.png"
[ -n "${VR_SHOTS:-}" ] && cp "$VR_TMP/vm.png" "$VR_SHOTS/vm-$mode.png"
px() { convert "$VR_TMP/vm.png" -format "%[hex:p{$1,$2}]" info: | cut -c1-6; }
# Colour class of a pixel (decoded video is close to, not exactly, the bars).
cls() {
  local h r g b
  h=$(px "$1" "$2"); r=$((16#${h:0:2})); g=$((16#${h:2:2})); b=$((16#${h:4:2}))
  if [ $r -lt 16 ] && [ $g -lt 16 ] && [ $b -lt 16 ]; then echo black
  elif [ $r -gt 200 ] && [ $g -lt 60 ] && [ $b -lt 60 ]; then echo red
  elif [ $r -lt 60 ] && [ $g -gt 200 ] && [ $b -gt 200 ]; then echo cyan
  else echo "other($h)"; fi
}
# Where the VM's screen is on ours (spice-gtk centres it in its widget, and
# remote-viewer has a menu and a tool bar above): the bounding box of the
# cyan pixels is the clip's right-hand bar, whose top right corner is the
# guest window's (guest 680,20).
bbox=$(convert "$VR_TMP/vm.png" -fuzz 20% -fill black +opaque cyan -fill white -opaque cyan \
  -format '%@' info:)
read -r bw bh bx by <<<"$(sed -E 's/^([0-9]+)x([0-9]+)\+([0-9]+)\+([0-9]+)$/\1 \2 \3 \4/' <<<"$bbox")"
[ "${bh:-0}" -gt 100 ] || vr_fail "no video on the screen (cyan pixels: $bbox)"
ox=$((bx + bw - 680))
oy=$((by - 20))
echo "$mode: the VM's screen at +$ox+$oy on ours"
[ "$ox" -ge 0 ] && [ "$oy" -ge 0 ] || vr_fail "the video is left of or above the VM's screen ($bbox)"
n=0
at() { cls $(($1 + ox)) $(($2 + oy)); }
for p in "700 390" "20 390" "700 10" "360 395" "20 200"; do # the VM's screen around the window
  set -- $p
  got=$(at "$1" "$2")
  [ "$got" = black ] || vr_fail "guest ($1,$2) should show the VM's black screen, shows $got"
  n=$((n + 1))
done
# The clip's colour bars: red along the left edge, cyan along the right; a
# moving diagonal band may cover one point of each column.
for col in "41 red" "678 cyan"; do
  set -- $col
  hits=0
  for y in 70 150 230 300 370; do [ "$(at "$1" "$y")" = "$2" ] && hits=$((hits + 1)); done
  [ "$hits" -ge 4 ] || vr_fail "guest x=$1 should show the video's $2 bar: $hits of 5 points do"
  n=$((n + 5))
done
# Just outside the window on every side, and in the hole of the visible
# region: the VM's screen again.
for p in "38 200" "682 200" "360 382" "600 18" "340 170" "245 125" "435 215"; do
  set -- $p
  got=$(at "$1" "$2")
  [ "$got" = black ] || vr_fail "guest ($1,$2), outside the window or in its hole, shows $got"
  n=$((n + 1))
done
echo "vm $mode: $n pixels checked: the video at the guest's 40,20 640x360 minus the covered 240,120 200x100, over the VM's QXL screen"
