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
for t in gst-launch-1.0 gst-inspect-1.0; do
  command -v $t >/dev/null || vr_vm_skip "$t is not installed"
done
plugin=$(find "$VR_BUILD" -name libgstvideoredir.so -print -quit)
[ -n "$plugin" ] || vr_vm_skip "no libgstvideoredir.so in $VR_BUILD"
[ "${VR_SANITIZED:-0}" = 1 ] && vr_vm_skip "videoredirsink is not run in the VM in the sanitizer build"
vr_vm_xdesktop_setup
# 8 s: the guest moves the player's window and raises the other one while
# it plays (the client is there from the start: no frame is lost).
clip=$VR_TMP/clip.mp4
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=640x360:rate=25:duration=8" -pix_fmt yuv420p \
  -c:v libx264 -preset ultrafast -g 25 -bf 2 -x264-params threads=1 "$clip"
{
  vr_vm_xdesktop_guest "$(dirname "$plugin")" coreelements isomp4 typefindfunctions videoparsersbad
  cat <<GUEST
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
} >"$VR_TMP/guest.sh"
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
# The video on the visible part of the player's window: FFmpeg's last frame.
ffmpeg -nostdin -v error -sseof -0.5 -i "$clip" -update 1 -pix_fmt rgb24 "$VR_TMP/last.png"
vr_vm_xdesktop_check "$snap" "$VR_TMP/last.png"
echo "vm-xdesktop: the guest's Xorg on QXL is the client's desktop; framemd5 bit-exact; the video exactly" \
  "on the player's window, under the guest's covering window"
