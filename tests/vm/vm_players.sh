#!/usr/bin/env bash
# A stock player in the VM that picks its own decoder and sink: gst-play-1.0
# CLIP on the guest's own X desktop (Xorg on QXL, vmlib.sh's
# vr_vm_xdesktop_*), with nothing set: playbin plugs videoredirdec by rank,
# the element opens the default port /dev/virtio-ports/NAME (no
# VIDEOREDIR_DEVICE), sends the video to the client and gives the player
# marked placeholder frames, which ximagesink (autovideosink's choice) shows
# in its window. The guest moves that window to 100,80 and raises a
# covering window over part of it. On the host, videoredir-client decodes
# (framemd5 bit-exact with FFmpeg), finds the marker in the guest's screen
# as QEMU's spice-server sends it, and must place the video on the window's
# rectangle (100,80 640x360, what the guest's X server reports); its
# snapshot mid-clip must show the video there, under the covering window.
here=$(dirname "$0")
. "$here/../e2e/lib.sh"
. "$here/vmlib.sh"
: "${VR_BUILD:?}"
command -v gst-play-1.0 >/dev/null || vr_vm_skip "gst-play-1.0 is not installed"
plugin=$(find "$VR_BUILD" -name libgstvideoredir.so -print -quit)
[ -n "$plugin" ] || vr_vm_skip "no libgstvideoredir.so in $VR_BUILD"
# The uninstrumented gst-play-1.0 cannot load an ASan-built plugin without
# the runtime preloaded; tests/players runs the element under ASan.
[ "${VR_SANITIZED:-0}" = 1 ] && vr_vm_skip "videoredirdec is not run in the VM in the sanitizer build"
vr_vm_xdesktop_setup
# 12 s of SMPTE bars: every frame the same picture, so the snapshot taken
# mid-clip (6 s after the first frame, once the guest has placed its
# windows) can be compared with FFmpeg's frame.
clip=$VR_TMP/clip.mp4
ffmpeg -nostdin -v error -f lavfi -i "smptebars=size=640x360:rate=25:duration=12" -pix_fmt yuv420p \
  -c:v libx264 -preset ultrafast -g 25 -bf 2 -x264-params threads=1 "$clip"
ffmpeg -nostdin -v error -i "$clip" -frames:v 1 -pix_fmt rgb24 "$VR_TMP/frame.png"
# What playbin and autovideosink need, and libav for the element's local
# decoding (the fallback; not used here). pbtypes exists from GStreamer 1.20.
plugins="coreelements typefindfunctions playback isomp4 videoparsersbad autodetect ximagesink libav"
for p in videoconvertscale videoconvert videoscale pbtypes; do
  [ -f "$VR_VM_GST_SYSDIR/libgst$p.so" ] && plugins="$plugins $p"
done
{
  vr_vm_xdesktop_guest "$(dirname "$plugin")" $plugins
  cat <<GUEST
# The element sends the video to a client that takes it and decodes in the
# guest otherwise: the player starts once the SPICE client has the port
# open (virtio-console's host_connected, in debugfs), so the client gets
# every frame from the first.
$(vr_vm_guest_wait_client)
GST_DEBUG=videoredirdec:4 GST_DEBUG_NO_COLOR=1 gst-play-1.0 --no-interactive '$clip' >/tmp/play.log 2>&1 &
player=\$!
win=\$(xdotool search --sync --onlyvisible --name '^gst-play-1.0\$' | head -n 1)
xdotool windowmove "\$win" 100 80
xdotool windowraise "\$cover"
echo "VR-GUEST: windows placed: \$(xdotool getwindowgeometry "\$win" | tr '\n' ' ')"
wait \$player || { echo 'VR-GUEST: gst-play-1.0 failed'; tail -n 20 /tmp/play.log; exit 1; }
grep 'videoredirdec.*> port \|client accepted the stream' /tmp/play.log | sed 's/.*> /VR-GUEST: videoredirdec: /'
echo 'VR-GUEST: played'
GUEST
} >"$VR_TMP/guest.sh"
VR_VM_OVERLAY=1 vr_vm_start "$VR_TMP/guest.sh"
G_MESSAGES_DEBUG=all "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$VM_SPICE_PORT" --port-name "$VR_VM_PORT_NAME" \
  --framemd5 "$VR_TMP/client.md5" --snapshot "$VR_TMP/end.png" --snapshot-at 6 --exit-at-eos --timeout 240 \
  2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
# The mid-clip snapshot (the one at the end overwrites it, when gst-play-1.0
# may already have closed its window).
for ((i = 0; i < 4800; i++)); do
  [ -s "$VR_TMP/end.png" ] && identify "$VR_TMP/end.png" >/dev/null 2>&1 && break
  vr_running "$client" || break
  sleep 0.05
done
cp "$VR_TMP/end.png" "$VR_TMP/client.png" 2>/dev/null || { tail -n 30 "$VM_CONSOLE" >&2; vr_fail "no snapshot mid-clip"; }
wait "$client" || { tail -n 30 "$VM_CONSOLE" >&2; vr_fail "the client failed"; }
vr_vm_wait_exit 120
grep "VR-GUEST" "$VM_CONSOLE"
grep -q "VR-GUEST: windows placed: .*Position: 100,80.*Geometry: 640x360" "$VM_CONSOLE" ||
  vr_fail "the guest did not place its windows"
grep -q "VR-GUEST: videoredirdec: port /dev/virtio-ports/$VR_VM_PORT_NAME" "$VM_CONSOLE" ||
  vr_fail "videoredirdec did not open the default port"
grep -q "VR-GUEST: videoredirdec: client accepted the stream" "$VM_CONSOLE" ||
  vr_fail "gst-play-1.0 did not plug videoredirdec, or the client did not take its stream"
vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
line=$(grep -o 'placement from the picture [-0-9]*,[-0-9]* [0-9]*x[0-9]*' "$VR_TMP/client.log" | tail -n 1) ||
  vr_fail "the client did not find the marker"
echo "client: $line; the player's window: 100,80 640x360"
[ "$line" = "placement from the picture 100,80 640x360" ] || vr_fail "the client placed the video elsewhere"
[ -n "${VR_SHOT:-}" ] && cp "$VR_TMP/client.png" "$VR_SHOT"
vr_vm_xdesktop_check "$VR_TMP/client.png" "$VR_TMP/frame.png"
echo "vm-players: gst-play-1.0 in the VM plugged videoredirdec by itself; framemd5 bit-exact; placed by the" \
  "marker on the player's window, under the guest's covering window"
