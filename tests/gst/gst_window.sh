#!/usr/bin/env bash
# The player's window going full screen, minimised and restored, on a real X
# desktop (Xvfb shown by videoredir-host --x-display; no window manager, so
# full screen is what a WM does for it: the window moved to 0,0 and given the
# screen's size, and minimised is the window unmapped). The X11 tracker of
# videoredirsink follows; the client writes a picture after each placement
# change (--snapshot-geometry), and each is checked by pixels:
#   placed     video on the window at 100,80 (640x360), desktop around
#   fullscreen video over the whole 800x600 screen (the sink fills its window)
#   minimised  no video anywhere: the desktop only
#   restored   video on the window again, at its old place
# Needs VR_BIN, VR_GST_PLUGIN (libgstvideoredir.so), VR_GST_PLAY (vr-gst-play).
. "$(dirname "$0")/../e2e/lib.sh"
: "${VR_GST_PLUGIN:?}" "${VR_GST_PLAY:?}"
for t in xdotool convert; do
  command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
export VR_GST_PLUGIN GST_REGISTRY_FORK=no GST_REGISTRY="$VR_TMP/registry.bin"

clip=$VR_TMP/clip.mp4
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=640x360:rate=25:duration=30" -pix_fmt yuv420p \
  -c:v libx264 -preset ultrafast -g 25 -bf 2 -x264-params threads=1 "$clip"
vr_start_xvfb 800x600x24
vr_start_host --x-display "$DISPLAY"
opened=$(vr_port_channels)
mkdir -p "$VR_TMP/geo"
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --snapshot-geometry "$VR_TMP/geo" \
  --timeout 120 2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
vr_wait_port_channel "$opened" "$client"
"$VR_GST_PLAY" --timeout 120 "playbin uri=file://$clip audio-sink=fakesink \
  video-sink=\"videoredirsink device=$HOST_SOCK display=$DISPLAY\"" >"$VR_TMP/play.log" 2>&1 &
player=$!
VR_PIDS+=("$player")
win=$(timeout 30 xdotool search --sync --onlyvisible --name '^videoredir$' | head -n 1 || true)
[ -n "$win" ] || vr_fail "the player's window did not appear: $(tail -n 3 "$VR_TMP/play.log")"
for ((i = 0; i < 600; i++)); do
  grep -q 'first frame shown' "$VR_TMP/client.log" && break
  sleep 0.05
done
grep -q 'first frame shown' "$VR_TMP/client.log" || vr_fail "no frame shown"

# settle NAME: waits for a new geometry picture, then until none came for
# 1.5 s; copies the latest to NAME.png.
seen=0
settle() {
  local i n last=-1 quiet=0
  for ((i = 0; i < 400; i++)); do
    n=$(find "$VR_TMP/geo" -name 'geometry-*.png' | wc -l)
    if [ "$n" -gt "$seen" ] && [ "$n" = "$last" ]; then
      quiet=$((quiet + 1))
      [ "$quiet" -ge 15 ] && break
    else
      quiet=0
    fi
    last=$n
    sleep 0.1
    vr_running "$player" || vr_fail "the player ended during the test"
  done
  [ "$n" -gt "$seen" ] || vr_fail "$1: no new picture from the client"
  seen=$n
  cp "$VR_TMP/geo/geometry-$n.png" "$VR_TMP/$1.png"
}
colours() { convert "$VR_TMP/$1.png" -crop "$2" +repage -format %k info:; }
px() { convert "$VR_TMP/$1.png" -format "%[hex:p{$2,$3}]" info: | cut -c1-6; }
video() { [ "$(colours "$1" "$2")" -gt 50 ] || vr_fail "$1: no video in $2 ($(colours "$1" "$2") colours)"; }
novideo() { [ "$(colours "$1" "$2")" -le 4 ] || vr_fail "$1: video in $2 ($(colours "$1" "$2") colours)"; }

xdotool windowmove "$win" 100 80
settle placed
video placed 600x320+120+100
for p in "99 200" "400 79" "741 200" "400 441"; do
  set -- $p
  [ "$(px placed "$1" "$2")" = 000000 ] || vr_fail "placed: ($1,$2) should be desktop, is $(px placed "$1" "$2")"
done

xdotool windowmove "$win" 0 0 windowsize "$win" 800 600
settle fullscreen
video fullscreen 780x430+10+85
video fullscreen 200x100+0+0
video fullscreen 200x100+600+420

xdotool windowunmap "$win"
settle minimised
novideo minimised 800x600+0+0

xdotool windowmap "$win"
xdotool windowmove "$win" 100 80 windowsize "$win" 640 360
settle restored
video restored 600x320+120+100
for p in "99 200" "400 79" "741 200" "400 441"; do
  set -- $p
  [ "$(px restored "$1" "$2")" = 000000 ] || vr_fail "restored: ($1,$2) should be desktop, is $(px restored "$1" "$2")"
done
[ -n "${VR_SHOT:-}" ] && cp "$VR_TMP"/{placed,fullscreen,minimised,restored}.png "$VR_SHOT"/
echo "window: placed, full screen (video over the screen), minimised (no video), restored (video back at 100,80)"
