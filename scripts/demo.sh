#!/usr/bin/env bash
# The demo: installs what is missing, builds, then plays a sample clip through
# the whole chain on this machine:
#   videoredir-capture (guest side) -> videoredir-host (libspice-server, the
#   host stand-in) -> SPICE port channel -> videoredir-client (spice-glib,
#   libavcodec), printing statistics while it plays and leaving a snapshot of
#   the video composited onto the SPICE desktop at its window rectangle.
#   On the stand-in's built-in desktop the top-left window is on top of the
#   video's window (the visible region sent leaves it out: the snapshot shows
#   that window over the video) and the bottom-right one under it.
#
# With --vm the guest side runs in a real QEMU VM instead (Debian's kernel,
# fetched once; the capture writes to the VM's /dev/virtio-ports device and
# QEMU's own spice-server carries it), as in tests/vm.
#
# With --x-desktop the guest is a real X desktop instead: Xvfb, shown by the
# stand-in as its SPICE desktop (videoredir-host --x-display), a real player
# in it (gst-launch-1.0 playbin with videoredirsink, which opens and tracks
# its own window, moved to 320,200) and another X window over part of it.
# The snapshot shows the video on the player's window under that window;
# demo-guest.png is the X server's own screen (the player's placeholder).
# --window, --region and --pace do not apply there: the player decides.
#
# Usage: scripts/demo.sh [--vm | --x-desktop] [--clip FILE] [--window X,Y,W,H]
#                        [--region "X,Y,W,H;..."] [--out DIR] [--pace realtime|none]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
clip="$top/samples/h264-bframes.mp4"
window=
region=
region_set=0
out="$top/out"
pace=realtime
vm=0
xdesk=0
while [ $# -gt 0 ]; do
  case $1 in
    --clip) clip=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --region) region=$2; region_set=1; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --pace) pace=$2; shift 2 ;;
    --vm) vm=1; shift ;;
    --x-desktop) xdesk=1; shift ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -f "$clip" ] || { echo "demo: no clip $clip" >&2; exit 1; }
[ "$vm$xdesk" != 11 ] || { echo "demo: --vm or --x-desktop, not both" >&2; exit 2; }
# The VM's screen is QXL in VGA text mode (720x400): keep the window on it.
if [ -z "$window" ]; then
  if [ "$vm" = 1 ]; then
    window=40,20,640,360
  else
    window=320,200,640,360
    # The built-in 1280x800 desktop's top-left window (80,80 426x266) is on
    # top: the video's visible part is its rectangle minus that window's.
    [ "$region_set" = 1 ] || region="506,200,454,146;320,346,640,214"
  fi
fi
region_arg=()
[ -z "$region" ] && [ "$region_set" = 0 ] || region_arg=(--region "$region")
clip=$(realpath "$clip")

deps=""
[ "$vm" = 1 ] && deps=deps-vm.txt
[ "$xdesk" = 1 ] && deps=deps-test.txt # Xvfb, xdotool, ImageMagick, GStreamer's tools
VR_DEPS="$deps" "$top/scripts/bootstrap.sh" "$top/build"
export VR_BIN="$top/build/bin"
. "$top/tests/e2e/lib.sh"
mkdir -p "$out"

if [ "$vm" = 1 ]; then
  . "$top/tests/vm/vmlib.sh"
  cat >"$VR_TMP/guest.sh" <<GUEST
'$VR_BIN/videoredir-capture' --device '/dev/virtio-ports/$VR_VM_PORT_NAME' --pace '$pace' \
  --window '$window' ${region_arg[*]:+--region '$region'} --connect-timeout 120 '$clip'
GUEST
  echo "demo: booting the VM (QEMU, TCG; console in $VR_TMP/console.log)"
  vr_vm_start "$VR_TMP/guest.sh"
  uri="spice://127.0.0.1:$VM_SPICE_PORT"
  echo "demo: QEMU's SPICE server on $uri (connect remote-viewer there to watch the VM's screen)"
elif [ "$xdesk" = 1 ]; then
  vr_start_xvfb 1280x800x24
  vr_start_host --x-display "$DISPLAY"
  uri="spice://127.0.0.1:$HOST_PORT"
  echo "demo: Xvfb $DISPLAY shown by the host stand-in on $uri (connect remote-viewer there to watch it)"
  # Another application's window, to go over part of the player's.
  ffmpeg -nostdin -v error -f lavfi -i "color=c=0xe8e4dc:s=400x240,format=rgb24" -frames:v 1 "$VR_TMP/other.png"
  display -title videoredir-demo-other -geometry +760+420 -borderwidth 0 "$VR_TMP/other.png" \
    >"$VR_TMP/other.log" 2>&1 &
  VR_PIDS+=("$!")
  other=$(timeout 30 xdotool search --sync --onlyvisible --name '^videoredir-demo-other$' | head -n 1)
else
  vr_start_host
  uri="spice://127.0.0.1:$HOST_PORT"
  echo "demo: host stand-in on $uri (connect remote-viewer there to watch the desktop)"
fi
"$VR_BIN/videoredir-client" --uri "$uri" --stats --exit-at-eos --timeout 120 \
  --snapshot "$out/demo-snapshot.png" --framemd5 "$out/demo.framemd5" &
client=$!
VR_PIDS+=("$client")
if [ "$vm" = 1 ]; then
  wait "$client"
  vr_vm_wait_exit 120
  grep '^videoredir-capture' "$VM_CONSOLE" | tail -n 1
elif [ "$xdesk" = 1 ]; then
  window="320,200 (the player's own window)"
  region="what the other window leaves (the X11 tracker's)"
  GST_PLUGIN_PATH="$top/build/gst" gst-launch-1.0 -q playbin "uri=file://$clip" audio-sink=fakesink \
    video-sink="videoredirsink device=$HOST_SOCK display=$DISPLAY" &
  player=$!
  VR_PIDS+=("$player")
  win=$(timeout 30 xdotool search --sync --onlyvisible --name '^videoredir$' | head -n 1)
  xdotool windowmove "$win" 320 200
  xdotool windowraise "$other"
  import -window root "$out/demo-guest.png" || true
  wait "$player"
  echo "demo: the guest's own screen (X server) during playback: $out/demo-guest.png"
else
  "$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace "$pace" --window "$window" \
    "${region_arg[@]}" "$clip"
fi
wait "$client" 2>/dev/null || true
echo "demo: decoded frames: $(grep -vc '^#' "$out/demo.framemd5") (framemd5 in $out/demo.framemd5)"
echo "demo: snapshot of the desktop with the video at $window${region:+, visible region $region}: $out/demo-snapshot.png"
