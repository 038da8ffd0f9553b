#!/usr/bin/env bash
# videoredir-host --x-display over the real stack: Xvfb with real X clients
# (ImageMagick display windows of flat known colours, moved, raised,
# unmapped and closed with xdotool), the host showing that screen as its QXL
# desktop, and a spice-glib client (vr-spice-watch) that waits until its
# copy of the desktop shows each expected pixel. No window manager: the root
# background is black.
# Needs VR_BIN and VR_SPICE_WATCH.
. "$(dirname "$0")/../e2e/lib.sh"
: "${VR_SPICE_WATCH:?}"
for t in display xdotool; do
  command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done

# Clear refusals: a display that is not there, and options that contradict it.
st=0; "$VR_BIN/videoredir-host" --x-display :4711 --guest-socket "$VR_TMP/no.sock" \
  >/dev/null 2>"$VR_TMP/bad.err" || st=$?
[ "$st" = 1 ] && grep -q "cannot open the X display :4711" "$VR_TMP/bad.err" ||
  vr_fail "--x-display :4711 (no server): exit $st, $(cat "$VR_TMP/bad.err")"
st=0; "$VR_BIN/videoredir-host" --x-display :4711 --size 640x480 >/dev/null 2>"$VR_TMP/bad.err" || st=$?
[ "$st" = 2 ] && grep -q "no --size or --desktop" "$VR_TMP/bad.err" ||
  vr_fail "--x-display with --size: exit $st, $(cat "$VR_TMP/bad.err")"

vr_start_xvfb 800x600x24
xvfb_pid=${VR_PIDS[-1]}
vr_start_host --x-display "$DISPLAY"
[ -n "${VR_KEEP_TMP:-}" ] && echo "X display $DISPLAY, SPICE port $HOST_PORT"
uri=spice://127.0.0.1:$HOST_PORT
n=0
# watch STEP CHECK... : the client's desktop shows every CHECK (X,Y=RRGGBB or
# X,Y!RRGGBB) within 30 s; its picture is kept as STEP.ppm.
watch() {
  local step=$1
  shift
  "$VR_SPICE_WATCH" --timeout 30 --size 800x600 --ppm "$VR_TMP/$step.ppm" "$uri" "$@" \
    2>"$VR_TMP/watch-$step.log" || vr_fail "$step: $(cat "$VR_TMP/watch-$step.log")"
  n=$((n + $#))
  echo "$step: $# pixels as expected"
}
# window TITLE COLOUR WxH X Y : an ImageMagick display window of one colour; its id in WIN, its process in WPID.
window() {
  ffmpeg -nostdin -v error -f lavfi -i "color=c=0x$2:s=$3,format=rgb24" -frames:v 1 "$VR_TMP/$1.png"
  display -title "$1" -geometry "+$4+$5" -borderwidth 0 "$VR_TMP/$1.png" >"$VR_TMP/$1.log" 2>&1 &
  WPID=$!
  VR_PIDS+=("$WPID")
  WIN=$(timeout 30 xdotool search --sync --onlyvisible --name "^$1\$" | head -n 1 || true)
  [ -n "$WIN" ] || vr_fail "the window $1 did not appear"
}

# The empty screen: black, the size of the X screen.
watch empty 10,10=000000 400,300=000000 799,599=000000

# A red window appears where X put it.
window vr-red e02020 200x150 100 100
red=$WIN red_pid=$WPID
watch mapped 101,101=e02020 200,175=e02020 298,248=e02020 99,99=000000 301,251=000000 50,50=000000

# Moved: red at its new place, the old one black again.
xdotool windowmove "$red" 450 300
watch moved 451,301=e02020 648,448=e02020 150,150=000000 200,200=000000 449,299=000000

# A green window partly over it, then red raised above green, then green.
window vr-green 20c040 200x200 550 350
green=$WIN green_pid=$WPID
watch covered 460,310=e02020 600,400=20c040 700,500=20c040 740,540=20c040
xdotool windowraise "$red"
watch raised 600,400=e02020 640,440=e02020 700,500=20c040 460,310=e02020

# Resized (XResizeWindow on display's window): the new size shows on the
# desktop; what the window draws there is display's business, so only the
# area it gave up is checked: black again.
xdotool windowsize "$red" 100 80
watch resized 460,310=e02020 540,370=e02020 600,400=20c040 520,400=000000 600,320=000000 560,310=000000

# Unmapped: the desktop under it; mapped again: back.
xdotool windowunmap "$green"
watch unmapped 600,400=000000 700,500=000000 460,310=e02020
xdotool windowmap "$green"
watch remapped 700,500=20c040

# Closed: nothing left but the background.
kill "$red_pid" "$green_pid"
watch closed 460,310=000000 700,500=000000 100,100=000000

# Many small changes at once (a window dragged in 40 steps, as fast as
# xdotool goes): coalesced into at most 60 updates a second, ending at the
# last place.
window vr-blue 2040e0 120x90 10 10
blue=$WIN blue_pid=$WPID
watch blue 20,20=2040e0
start=$(date +%s%N)
for i in $(seq 1 40); do xdotool windowmove "$blue" $((10 + i * 15)) $((10 + i * 10)); done
watch dragged 615,415=2040e0 700,480=2040e0 20,20=000000 300,200=000000
secs=$(( ($(date +%s%N) - start) / 1000000 ))

kill "$HOST_PID"
wait "$HOST_PID" || vr_fail "the host did not exit cleanly"
stats=$(grep -o 'X desktop: .*' "$VR_TMP/host.log" || true)
[ -n "$stats" ] || vr_fail "no X desktop statistics from the host"
echo "$stats"
updates=$(echo "$stats" | sed -n 's/.* \([0-9]*\) updates.*/\1/p')
echo "xdesktop: $n pixels checked over mapping, moving, stacking, resizing, unmapping and closing;" \
  "drag of 40 moves shown in $secs ms; $updates updates in all"

# The rate bound: a window animated at 150 frames a second (GStreamer's
# ximagesink) for about 2 s gives at most 60 updates a second, and still
# about one per frame up to that (at least 10 a second, on a loaded machine too).
command -v gst-launch-1.0 >/dev/null || { echo "gst-launch-1.0 missing: rate bound not checked"; exit 0; }
kill "$blue_pid"
rm -f "$VR_TMP/host.out"
vr_start_host --x-display "$DISPLAY"
gst-launch-1.0 -q videotestsrc pattern=ball is-live=true num-buffers=300 \
  ! video/x-raw,width=320,height=240,framerate=150/1 ! ximagesink sync=true \
  >"$VR_TMP/anim.log" 2>&1 &
anim=$!
VR_PIDS+=("$anim")
start=$(date +%s%N)
wait "$anim" || vr_fail "the animation failed: $(tail -n 3 "$VR_TMP/anim.log")"
kill "$HOST_PID"
wait "$HOST_PID" || vr_fail "the host did not exit cleanly"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
stats=$(grep -o 'X desktop: .*' "$VR_TMP/host.log" | tail -n 1)
echo "$stats"
updates=$(echo "$stats" | sed -n 's/.* \([0-9]*\) updates.*/\1/p')
[ "$updates" -le $((ms * 60 / 1000 + 3)) ] || vr_fail "$updates updates in $ms ms: more than 60 a second"
[ "$updates" -ge $((ms * 10 / 1000)) ] || vr_fail "$updates updates in $ms ms: fewer than 10 a second"
echo "rate: 300 frames at 150/s drawn in $ms ms gave $updates updates ($((updates * 1000 / ms)) a second)"

# The X server going away ends the host with a message and exit status 1
# (not Xlib's exit from inside a call, no crash).
rm -f "$VR_TMP/host.out"
vr_start_host --x-display "$DISPLAY"
kill "$xvfb_pid"
st=0
wait "$HOST_PID" || st=$?
[ "$st" = 1 ] && grep -q "the X server $DISPLAY went away" "$VR_TMP/host.log" ||
  vr_fail "the X server went away: host exit $st, $(tail -n 3 "$VR_TMP/host.log")"
echo "X server gone: the host said so and exited with status 1"
