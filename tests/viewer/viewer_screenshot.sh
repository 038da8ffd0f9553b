#!/usr/bin/env bash
# The overlay as a person sees it, on a real X server (Xvfb), a real SPICE
# server (videoredir-host) and a real guest side (videoredir-capture):
#   viewer         videoredir-viewer at 1:1, then its window resized live to
#                  half size (the overlay must rescale with spice-gtk's desktop), then
#                  the guest's window moved mid-stream (new geometry and region)
#   remote-viewer  stock remote-viewer with GTK_MODULES=libvideoredir-gtk-module.so
# A second argument "gl" runs the same with VIDEOREDIR_PRESENT=gl (the GL
# presenter: shaders on Mesa's llvmpipe in a shaped child window) and then a
# 10-bit HEVC clip too; "cairo" runs it with the presenter that draws in
# GTK's own drawing (VIDEOREDIR_PRESENT=cairo); "noshm" with the default
# presenter on an X server without MIT-SHM (it must fall back to cairo and
# say why); without it the presenter is
# the default one ("auto": xshm under llvmpipe, software pictures on a child
# window). The log must name the presenter that draws.
# Pixels of `import -window root` are checked: inside the visible region the
# video (never the desktop's colour), in the covered part and around the
# window the desktop. Screenshots are kept in $VR_SHOTS when set.
mode=${1:?viewer or remote-viewer}
present=${2:-auto}
. "$(dirname "$0")/../e2e/lib.sh"
case $present in
  gl)
    export VIDEOREDIR_PRESENT=gl LIBGL_ALWAYS_SOFTWARE=1 kind=gl
    # Mesa's llvmpipe under ASan: the fast unwinder (see tests/client/sdl_screenshot.sh).
    [ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=1"
    ;;
  cairo) export VIDEOREDIR_PRESENT=cairo kind=cairo ;;
  noshm) unset VIDEOREDIR_PRESENT; kind=cairo xvfb_args="-extension MIT-SHM" ;;
  auto) unset VIDEOREDIR_PRESENT; kind="(gl|xshm)" ;;
  *) vr_fail "presenter $present: gl, cairo, noshm or auto" ;;
esac
tag=$mode$([ "$present" = auto ] || echo "-$present")
for t in Xvfb import convert xdotool; do command -v $t >/dev/null || vr_fail "$t is needed"; done
desk=0x305070
want=$(printf '%06X' "$desk")
ffmpeg -nostdin -v error -f lavfi -i "color=c=$desk:s=1280x800,format=rgb24" -frames:v 1 "$VR_TMP/desk.png"

# Xvfb on a free display number.
exec 8>"$VR_TMP/displayfd"
# shellcheck disable=SC2086 # (no arguments, or the one extension to turn off)
Xvfb -displayfd 8 -screen 0 1280x800x24 -nolisten tcp ${xvfb_args:-} >"$VR_TMP/xvfb.log" 2>&1 &
VR_PIDS+=("$!")
for _ in $(seq 100); do [ -s "$VR_TMP/displayfd" ] && break; sleep 0.05; done
export DISPLAY=":$(head -n 1 "$VR_TMP/displayfd")"
[ "$DISPLAY" != ":" ] || vr_fail "Xvfb did not start"

vr_start_host --desktop "$VR_TMP/desk.png"
uri="spice://127.0.0.1:$HOST_PORT"
case $mode in
  viewer)
    "$VR_BIN/videoredir-viewer" --size 1280x800 "$uri" >"$VR_TMP/viewer.log" 2>&1 &
    ;;
  remote-viewer)
    command -v remote-viewer >/dev/null || vr_fail "remote-viewer (virt-viewer) is needed"
    if [ "${VR_SANITIZED:-0}" = 1 ]; then
      # An ASan-built module cannot load into an uninstrumented program
      # (the runtime must come first); the viewer test covers the same code.
      echo "SKIP: remote-viewer with the GTK module is not run in the sanitizer build"
      exit 77
    fi
    GTK_MODULES="$VR_LIB/libvideoredir-gtk-module.so" remote-viewer "$uri" >"$VR_TMP/viewer.log" 2>&1 &
    ;;
esac
viewer=$!
VR_PIDS+=("$viewer")

# Streams the clip in a loop with the window at X,Y 640x360 and a 200x100
# hole 200,100 into it (another window on top of the video).
holed() { local x=$1 y=$2; echo "$x,$y,640,100;$x,$((y + 100)),200,100;$((x + 400)),$((y + 100)),240,100;$x,$((y + 200)),640,160"; }
capture() { # X Y [more capture options]
  local x=$1 y=$2
  shift 2
  "$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime --loop -1 \
    --window "$x,$y,640,360" --region "$(holed "$x" "$y")" "$@" "${CLIP:-$VR_SAMPLES/h264-bframes.mp4}" \
    >"$VR_TMP/capture.log" 2>&1 &
  CAPTURE=$!
  VR_PIDS+=("$CAPTURE")
  vr_wait_for "$VR_TMP/viewer.log" "stream [0-9]*: ${CODEC:-h264}" "$viewer" 30 || vr_fail "the viewer got no stream"
  sleep 1.5 # a few frames drawn
}
shot() { import -window root "$VR_TMP/$1.png"; [ -n "${VR_SHOTS:-}" ] && cp "$VR_TMP/$1.png" "$VR_SHOTS/$tag-$1.png"; true; }
px() { convert "$VR_TMP/$1.png" -format "%[hex:p{$2,$3}]" info: | cut -c1-6; }
n=0
# check SHOT OX OY S X Y desk|video: guest point X,Y mapped with offset and scale
check() {
  local shot=$1 ox=$2 oy=$3 s=$4 gx=$5 gy=$6 what=$7 x y p
  x=$(awk -v o="$ox" -v s="$s" -v g="$gx" 'BEGIN{printf "%d", o + g * s}')
  y=$(awk -v o="$oy" -v s="$s" -v g="$gy" 'BEGIN{printf "%d", o + g * s}')
  p=$(px "$shot" "$x" "$y")
  if [ "$what" = desk ]; then
    [ "$p" = "$want" ] || vr_fail "$shot: guest ($gx,$gy) at ($x,$y) should show the desktop $want, shows $p"
  else
    [ "$p" != "$want" ] || vr_fail "$shot: guest ($gx,$gy) at ($x,$y) should show video, shows the desktop"
  fi
  n=$((n + 1))
}
# The window at WX,WY: 8 video points inside the visible region, 8 desktop
# points in the hole and around the window.
check_window() {
  local shot=$1 ox=$2 oy=$3 s=$4 wx=$5 wy=$6 p
  for p in "10 10" "$((wx - 2)) $((wy + 100))" "$((wx + 642)) $((wy + 100))" "$((wx + 300)) $((wy - 2))" \
           "$((wx + 300)) $((wy + 362))" "$((wx + 300)) $((wy + 150))" "$((wx + 210)) $((wy + 110))" \
           "$((wx + 390)) $((wy + 190))"; do
    check "$shot" "$ox" "$oy" "$s" $p desk
  done
  for p in "$((wx + 5)) $((wy + 5))" "$((wx + 635)) $((wy + 5))" "$((wx + 5)) $((wy + 355))" \
           "$((wx + 635)) $((wy + 355))" "$((wx + 100)) $((wy + 150))" "$((wx + 500)) $((wy + 150))" \
           "$((wx + 300)) $((wy + 50))" "$((wx + 300)) $((wy + 250))"; do
    check "$shot" "$ox" "$oy" "$s" $p video
  done
}
# Where the guest desktop starts on screen: the first row that shows the
# desktop colour at x=10 (remote-viewer has a tool bar above it).
desk_top() {
  local y
  for y in $(seq 0 120); do [ "$(px "$1" 10 "$y")" = "$want" ] && { echo "$y"; return; }; done
  vr_fail "$1: the desktop is not on the screen"
}

# ... and the first column at that row + 10 (window borders).
desk_left() {
  local x
  for x in $(seq 0 40); do [ "$(px "$1" "$x" "$(($2 + 10))")" = "$want" ] && { echo "$x"; return; }; done
  vr_fail "$1: the desktop's left edge is not on the screen"
}

capture 300 200
vr_wait_for "$VR_TMP/viewer.log" "presenter " "$viewer" 30 || vr_fail "no presenter chosen"
grep -E -m1 "presenter " "$VR_TMP/viewer.log"
grep -E -q "presenter $kind \(" "$VR_TMP/viewer.log" || vr_fail "the presenter drawing is not $kind"
if [ "$present" = noshm ]; then
  grep -q "xshm: the X server has no MIT-SHM" "$VR_TMP/viewer.log" || vr_fail "the fallback to cairo does not say why"
fi
shot one
oy=$(desk_top one)
ox=$(desk_left one "$oy")
echo "$mode: guest desktop at +$ox+$oy on the screen"
check_window one "$ox" "$oy" 1 300 200
if [ "$present" = gl ]; then
  # 10 bits: a Main 10 HEVC clip (yuv420p10, 16-bit textures) in the same place.
  ffmpeg -nostdin -v error -f lavfi -i testsrc2=s=640x360:r=25:d=2 -pix_fmt yuv420p10le \
    -c:v libx265 -x265-params log-level=error:keyint=25 -y "$VR_TMP/main10.mkv"
  kill "$CAPTURE"; wait "$CAPTURE" 2>/dev/null || true
  CLIP=$VR_TMP/main10.mkv CODEC=hevc capture 300 200
  shot ten-bit
  check_window ten-bit "$ox" "$oy" 1 300 200
fi
if [ "$mode" = viewer ]; then
  # The viewer's window resized live to half size (as a person drags its
  # corner; no window manager here, so the X request itself): spice-gtk
  # scales the desktop to 640x400 and the overlay follows, mid-stream.
  wid=$(xdotool search --sync --onlyvisible --pid "$viewer" | head -n 1)
  [ -n "$wid" ] || vr_fail "no window of the viewer found"
  xdotool windowsize "$wid" 640 400
  for _ in $(seq 50); do
    eval "$(xdotool getwindowgeometry --shell "$wid")"
    [ "$WIDTH" = 640 ] && break
    sleep 0.1
  done
  [ "$WIDTH" = 640 ] || vr_fail "the viewer's window is $WIDTH wide after the resize, want 640"
  sleep 1.5 # relayout and a few frames drawn
  shot half
  # The widget may be taller than 400: spice-gtk letterboxes, so does the overlay.
  oy=$(desk_top half)
  check "half" 0 "$oy" 0.5 600 100 desk
  check "half" 0 "$oy" 0.5 320 220 video
  check "half" 0 "$oy" 0.5 920 540 video
  check "half" 0 "$oy" 0.5 600 350 desk
  check "half" 0 "$oy" 0.5 500 450 video
  check "half" 0 "$oy" 0.5 1000 350 desk
  # The guest's window moves mid-stream (GEOMETRY and REGION 3 s into a new
  # stream): before, the overlay is at the old place; after, at the new one.
  kill "$CAPTURE" 2>/dev/null || true; wait "$CAPTURE" 2>/dev/null || true
  : >"$VR_TMP/viewer.log"
  capture 300 200 --geometry-at 3:500,300,640,360 --region-at "3:$(holed 500 300)"
  shot before-move
  check_window before-move 0 "$oy" 0.5 300 200
  sleep 3
  shot moved
  check_window moved 0 "$oy" 0.5 500 300
fi
echo "$tag: $n pixels checked (video inside the visible region, desktop in the hole and around)"
