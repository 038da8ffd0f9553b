#!/usr/bin/env bash
# The SDL2 presenter over the real stack, under Xvfb, each way it draws:
# "auto" (no argument; with only Mesa's llvmpipe it must choose the software
# presenter: libswscale + pixman into the window surface), "renderer" (SDL's
# software renderer) or "gl" (shaders on llvmpipe); the log and --stats must
# name the one drawing. videoredir-host serves a one-colour desktop, the guest plays a
# clip in a window at 300,200 640x360 with a 200x100 hole (another window on
# top). videoredir-client --sdl shows the 1280x800 desktop in a 640x400
# window (half size). The screenshot must show the video inside the visible
# region, the desktop in the hole and around the window, at half scale.
# With VIDEOREDIR_TEST_HWFRAMES=vulkan in the environment the frames are
# Vulkan surfaces the presenter downloads (the same pixels must show).
. "$(dirname "$0")/../e2e/lib.sh"
command -v Xvfb >/dev/null || vr_fail "Xvfb is needed"
command -v import >/dev/null || vr_fail "ImageMagick import is needed"
desk=0x305070
ffmpeg -nostdin -v error -f lavfi -i "color=c=$desk:s=1280x800,format=rgb24" -frames:v 1 "$VR_TMP/desk.png"

present=${1:-auto}
vr_start_xvfb 800x600x24
export SDL_VIDEODRIVER=x11 SDL_RENDER_DRIVER=software LIBGL_ALWAYS_SOFTWARE=1
# Under ASan the suite asks for the slow unwinder on malloc; SDL's GL probe
# loads Mesa's llvmpipe, whose JIT registers EH frames with libgcc while
# holding its lock, and the slow unwinder re-enters that lock from malloc: a
# deadlock in libgcc, not in our code. This process uses the fast unwinder.
[ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=1"

vr_start_host --desktop "$VR_TMP/desk.png"
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --sdl --sdl-size 640x400 \
  --present "$present" --stats --timeout 90 2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
vr_wait_for "$VR_TMP/client.log" "sdl: window open" "$client" 30 || vr_fail "no SDL window"
grep -m1 "presenter" "$VR_TMP/client.log"
case $present in
  gl) kind=gl ;;
  renderer) kind=renderer ;;
  *) kind=software ;;
esac
grep -q "window open, presenter $kind (" "$VR_TMP/client.log" || vr_fail "the $kind presenter is not the one drawing"
region="300,200,640,100;300,300,200,100;700,300,240,100;300,400,640,160"
"$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime --loop -1 \
  --window 300,200,640,360 --region "$region" --connect-timeout 30 \
  "${VR_SAMPLES:?}/h264-bframes.mp4" >"$VR_TMP/capture.log" 2>&1 &
VR_PIDS+=("$!")
# A second of video shown (stats print presented counts every second).
vr_wait_for "$VR_TMP/client.log" "presented [1-9][0-9]" "$client" 60 || vr_fail "no frames presented"
if [ -n "${VIDEOREDIR_TEST_HWFRAMES:-}" ]; then
  # Hardware frames (the test hook, e2e-hwframes): the presenter downloads
  # what it draws, and the statistics say so.
  grep -q "frames stay software" "$VR_TMP/client.log" &&
    { echo "SKIP: $(grep -m1 'frames stay software' "$VR_TMP/client.log")"; exit 77; }
  vr_wait_for "$VR_TMP/client.log" "downloaded on demand.*| hw frames [1-9][0-9]* downloads [1-9]" "$client" 30 ||
    vr_fail "no hardware frames downloaded by the presenter"
fi
sleep 0.3 # the desktop picture and the next frame drawn
import -window root "$VR_TMP/shot.png" || vr_fail "screenshot failed"
[ -n "${VR_SHOT:-}" ] && cp "$VR_TMP/shot.png" "$VR_SHOT"

px() { convert "$VR_TMP/shot.png" -format "%[hex:p{$1,$2}]" info: | cut -c1-6; }
want=$(printf '%06X' "$desk")
n=0
# Desktop: window corner, hole (250..350 x 150..200 at half scale), around the video.
for p in "10 10" "300 175" "260 155" "340 195" "500 300" "149 150" "471 150" "300 99" "300 281"; do
  set -- $p
  [ "$(px "$1" "$2")" = "$want" ] || vr_fail "($1,$2) should show the desktop $want, shows $(px "$1" "$2")"
  n=$((n + 1))
done
# Video: the visible region's corners and middles (150..470 x 100..280 at half scale).
for p in "152 102" "468 102" "152 278" "468 278" "200 175" "420 175" "300 120" "300 250"; do
  set -- $p
  [ "$(px "$1" "$2")" = "$want" ] && vr_fail "($1,$2) should show video, shows the desktop"
  n=$((n + 1))
done
grep -m1 'stats:' "$VR_TMP/client.log" | tail -n 1
grep -q "| presenter $kind |" "$VR_TMP/client.log" ||
  vr_fail "--stats does not name the presenter"
echo "sdl ($present): $n pixels checked: video inside the visible region at half scale, desktop in the hole and around"
