#!/usr/bin/env bash
# The guest's own X desktop on its QXL device, a player inside it,
# redirected: Xorg (Debian's xserver-xorg-core, modesetting driver on the
# qxl KMS device, run from the host's root over 9p) is the guest's desktop,
# so what QEMU's spice-server sends the client is that X server's screen.
# In it: an ImageMagick display window of one flat colour and the
# videoredirsink's own window (gst-launch-1.0 in the guest, the X11 tracker
# following the window), moved with xdotool and partly covered by the other.
# On the host, videoredir-client decodes (framemd5 bit-exact with FFmpeg)
# and its snapshot must show the video exactly on the player's window, the
# guest's covering window over it and the guest's desktop around it.
here=$(dirname "$0")
. "$here/../e2e/lib.sh"
. "$here/vmlib.sh"
: "${VR_SAMPLES:?}" "${VR_BUILD:?}"
for t in gst-launch-1.0 gst-inspect-1.0 xdotool display convert compare; do
  command -v $t >/dev/null || vr_vm_skip "$t is not installed"
done
[ -x /usr/lib/xorg/Xorg ] || [ -x /usr/bin/Xorg ] || vr_vm_skip "Xorg is not installed (xserver-xorg-core, scripts/deps-test.txt)"
[ -f /usr/lib/xorg/modules/drivers/modesetting_drv.so ] || vr_vm_skip "Xorg's modesetting driver is not installed"
plugin=$(find "$VR_BUILD" -name libgstvideoredir.so -print -quit)
[ -n "$plugin" ] || vr_vm_skip "no libgstvideoredir.so in $VR_BUILD"
[ "${VR_SANITIZED:-0}" = 1 ] && vr_vm_skip "videoredirsink is not run in the VM in the sanitizer build"
# 8 s: the guest moves the player's window and raises the other one while
# it plays (the client is there from the start: no frame is lost).
clip=$VR_TMP/clip.mp4
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=640x360:rate=25:duration=8" -pix_fmt yuv420p \
  -c:v libx264 -preset ultrafast -g 25 -bf 2 -x264-params threads=1 "$clip"
sysdir=$(pkg-config --variable=pluginsdir gstreamer-1.0 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/gstreamer-1.0)
# The qxl KMS driver (and what it needs) on top of the usual modules.
VR_VM_MODULES="$VR_VM_MODULES qxl"
cover_rgb=c08020
ffmpeg -nostdin -v error -f lavfi -i "color=c=0x$cover_rgb:s=240x160,format=rgb24" -frames:v 1 "$VR_TMP/cover.png"
cat >"$VR_TMP/xorg.conf" <<'CONF'
Section "ServerFlags"
    Option "AutoAddDevices" "false"
    Option "AutoEnableDevices" "false"
    Option "DontVTSwitch" "true"
EndSection
Section "Device"
    Identifier "qxl"
    Driver "modesetting"
    Option "kmsdev" "/dev/dri/card0"
    Option "AccelMethod" "none"
EndSection
Section "Screen"
    Identifier "screen"
    Device "qxl"
    DefaultDepth 24
    SubSection "Display"
        Modes "1024x768"
    EndSubSection
EndSection
CONF
cat >"$VR_TMP/guest.sh" <<GUEST
set -e
mkdir -p /tmp/gst /tmp/.X11-unix
for p in coreelements isomp4 typefindfunctions videoparsersbad; do ln -s '$sysdir'/libgst\$p.so /tmp/gst/; done
export GST_PLUGIN_SYSTEM_PATH_1_0=/tmp/gst GST_PLUGIN_PATH_1_0='$(dirname "$plugin")'
export GST_REGISTRY_1_0=/tmp/gst-registry.bin
i=0; while [ ! -e /dev/dri/card0 ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
[ -e /dev/dri/card0 ] || { echo 'VR-GUEST: no /dev/dri/card0 (qxl KMS)'; exit 1; }
Xorg :0 -config '$VR_TMP/xorg.conf' -nolisten tcp -noreset -keeptty -novtswitch \
  -logfile /tmp/Xorg.log >/tmp/xorg.out 2>&1 &
i=0; while [ ! -S /tmp/.X11-unix/X0 ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
[ -S /tmp/.X11-unix/X0 ] || { echo 'VR-GUEST: Xorg did not start'; tail -n 30 /tmp/Xorg.log; cat /tmp/xorg.out; exit 1; }
export DISPLAY=:0
# The socket comes before the server takes clients: wait until one gets in.
i=0; while ! geo=\$(xdotool getdisplaygeometry 2>/dev/null) && [ \$i -lt 300 ]; do sleep 0.2; i=\$((i + 1)); done
[ -n "\$geo" ] || { echo 'VR-GUEST: Xorg takes no clients'; tail -n 30 /tmp/Xorg.log; exit 1; }
echo "VR-GUEST: Xorg up, screen \$geo"
display -title vr-cover -geometry +500+300 -borderwidth 0 '$VR_TMP/cover.png' >/tmp/cover.log 2>&1 &
cover=\$(xdotool search --sync --onlyvisible --name '^vr-cover\$' | head -n 1)
gst-launch-1.0 -e filesrc location='$clip' ! qtdemux ! h264parse ! \
  videoredirsink device=/dev/virtio-ports/$VR_VM_PORT_NAME display=:0 fallback=false >/tmp/gst.log 2>&1 &
player=\$!
win=\$(xdotool search --sync --onlyvisible --name '^videoredir\$' | head -n 1)
xdotool windowmove "\$win" 100 80
xdotool windowraise "\$cover"
echo "VR-GUEST: windows placed: \$(xdotool getwindowgeometry "\$win" | tr '\n' ' ')"
wait \$player || { echo 'VR-GUEST: gst-launch failed'; tail -n 5 /tmp/gst.log; exit 1; }
echo 'VR-GUEST: played'
GUEST
VR_VM_OVERLAY=1 vr_vm_start "$VR_TMP/guest.sh"
snap=$VR_TMP/client.png
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$VM_SPICE_PORT" --port-name "$VR_VM_PORT_NAME" \
  --framemd5 "$VR_TMP/client.md5" --snapshot "$snap" --exit-at-eos --timeout 180 \
  2>"$VR_TMP/client.log" || { tail -n 30 "$VM_CONSOLE" >&2; vr_fail "the client failed"; }
vr_vm_wait_exit 120
grep "VR-GUEST" "$VM_CONSOLE"
grep -q "VR-GUEST: windows placed: .*Position: 100,80.*Geometry: 640x360" "$VM_CONSOLE" ||
  vr_fail "the guest did not place its windows"
vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
[ -n "${VR_SHOT:-}" ] && cp "$snap" "$VR_SHOT"

w=$(identify -format %w "$snap")
h=$(identify -format %h "$snap")
echo "the client's desktop (the guest's QXL screen): ${w}x$h"
[ "${w}x$h" = 1024x768 ] || vr_fail "the client's desktop is ${w}x$h, not the guest X server's 1024x768"
px() { convert "$snap" -format "%[hex:p{$1,$2}]" info: | cut -c1-6; }
n=0
expect() { # expect X Y RRGGBB WHAT
  local got
  got=$(px "$1" "$2")
  [ "$got" = "${3^^}" ] || vr_fail "($1,$2) shows $got, want $3 ($4)"
  n=$((n + 1))
}
for p in "501 301" "600 380" "739 439" "520 430" "620 459"; do
  set -- $p
  expect "$1" "$2" "$cover_rgb" "the guest's covering window"
done
for p in "99 200" "400 79" "741 200" "400 441" "10 10" "1000 700" "300 600"; do
  set -- $p
  expect "$1" "$2" 000000 "the guest's desktop"
done
# The video on the visible part of the player's window: FFmpeg's last frame.
ffmpeg -nostdin -v error -sseof -0.5 -i "$clip" -update 1 -pix_fmt rgb24 "$VR_TMP/last.png"
convert "$VR_TMP/last.png" -crop 400x360+0+0 +repage "$VR_TMP/want-a.png"
convert "$snap" -crop 400x360+100+80 +repage "$VR_TMP/got-a.png"
convert "$VR_TMP/last.png" -crop 240x220+400+0 +repage "$VR_TMP/want-b.png"
convert "$snap" -crop 240x220+500+80 +repage "$VR_TMP/got-b.png"
for part in a b; do
  bad=$(compare -metric AE -fuzz 4% "$VR_TMP/got-$part.png" "$VR_TMP/want-$part.png" null: 2>&1 || true)
  echo "video part $part: $bad pixels differ by more than 4%"
  [ "${bad%% *}" = 0 ] || vr_fail "the video is not FFmpeg's last frame at 100,80 (part $part: $bad pixels differ)"
done
echo "vm-xdesktop: the guest's Xorg on QXL is the client's desktop; framemd5 bit-exact; $n pixels of" \
  "the guest's windows and desktop; the video exactly on the player's window"
