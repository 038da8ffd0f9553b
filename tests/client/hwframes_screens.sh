#!/usr/bin/env bash
# The screen drawn from hardware frames equals the one drawn from software
# frames. A still clip (lossless H.264, every frame the same picture) plays in
# a window with a hole, first decoded as usual, then with the test hook
# VIDEOREDIR_TEST_HWFRAMES=vulkan (each frame a Vulkan surface on lavapipe,
# downloaded by the presenter that draws it); the two screenshots must be
# equal pixel for pixel.
# Usage: hwframes_screens.sh sdl-sw|sdl-gl|viewer
#   sdl-sw  videoredir-client --sdl --present sw (libswscale + pixman)
#   sdl-gl  videoredir-client --sdl --present gl (shaders on llvmpipe)
#   viewer  videoredir-viewer (the GTK overlay's software presenter, xshm here)
# Exits 77 when no Vulkan device can be made here.
mode=${1:?sdl-sw, sdl-gl or viewer}
. "$(dirname "$0")/../e2e/lib.sh"
unset VIDEOREDIR_TEST_HWFRAMES # the first run decodes as usual
for t in Xvfb import compare convert; do command -v $t >/dev/null || vr_fail "$t is needed"; done
if ! ffmpeg -nostdin -v error -init_hw_device vulkan=vk -filter_hw_device vk -f lavfi \
    -i testsrc2=s=64x64:d=0.04 -vf format=yuv420p,hwupload,hwdownload,format=yuv420p \
    -f null - 2>"$VR_TMP/vk.log"; then
  echo "SKIP: no Vulkan device for FFmpeg (install mesa-vulkan-drivers): $(tail -n 2 "$VR_TMP/vk.log")"
  exit 77
fi
desk=0x305070
ffmpeg -nostdin -v error -f lavfi -i "color=c=$desk:s=1280x800,format=rgb24" -frames:v 1 "$VR_TMP/desk.png"
ffmpeg -nostdin -v error -f lavfi -i testsrc2=s=640x360 -frames:v 1 "$VR_TMP/still.png"
ffmpeg -nostdin -v error -loop 1 -i "$VR_TMP/still.png" -t 2 -r 25 -pix_fmt yuv420p \
  -c:v libx264 -qp 0 "$VR_TMP/still.mp4"
case $mode in
  sdl-sw | sdl-gl) vr_start_xvfb 800x600x24; probe="170 140" ;;
  viewer) vr_start_xvfb 1280x800x24; probe="340 280" ;;
  *) vr_fail "mode $mode: sdl-sw, sdl-gl or viewer" ;;
esac
export SDL_VIDEODRIVER=x11 LIBGL_ALWAYS_SOFTWARE=1
# Mesa's llvmpipe under ASan: the fast unwinder (see sdl_screenshot.sh).
[ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=1"
vr_start_host --desktop "$VR_TMP/desk.png"
want=$(printf '%06X' "$desk")
px() { convert "$1" -format "%[hex:p{$2,$3}]" info: | cut -c1-6; }

# play NAME: the program of $mode and a looping capture; sets PROG and CAP.
play() {
  local name=$1 opened
  opened=$(vr_port_channels)
  case $mode in
    sdl-*)
      "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --sdl --sdl-size 640x400 \
        --present "${mode#sdl-}" --stats --timeout 90 >"$VR_TMP/$name.log" 2>&1 &
      ;;
    viewer)
      "$VR_BIN/videoredir-viewer" --size 1280x800 "spice://127.0.0.1:$HOST_PORT" >"$VR_TMP/$name.log" 2>&1 &
      ;;
  esac
  PROG=$!
  VR_PIDS+=("$PROG")
  vr_wait_port_channel "$opened" "$PROG"
  "$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime --loop -1 \
    --window 300,200,640,360 --region "300,200,640,100;300,300,200,100;700,300,240,100;300,400,640,160" \
    --connect-timeout 30 "$VR_TMP/still.mp4" >"$VR_TMP/capture-$name.log" 2>&1 &
  CAP=$!
  VR_PIDS+=("$CAP")
}
stop() { kill "$PROG" "$CAP" 2>/dev/null || true; wait "$PROG" "$CAP" 2>/dev/null || true; }

# A screenshot once the video shows and two in a row are equal (the picture
# has settled), or, with REF, once it equals REF; 20 s at most.
settle() {
  local name=$1 ref=${2:-} i diff=none
  for ((i = 0; i < 80; i++)); do
    import -window root "$VR_TMP/$name.new.png"
    # shellcheck disable=SC2086
    if [ "$(px "$VR_TMP/$name.new.png" $probe)" != "$want" ]; then
      if [ -n "$ref" ]; then
        diff=$(compare -metric AE "$VR_TMP/$name.new.png" "$ref" null: 2>&1 || true)
      elif [ -f "$VR_TMP/$name.png" ]; then
        diff=$(compare -metric AE "$VR_TMP/$name.new.png" "$VR_TMP/$name.png" null: 2>&1 || true)
      fi
      [ "$diff" = 0 ] && { mv "$VR_TMP/$name.new.png" "$VR_TMP/$name.png"; return 0; }
    fi
    mv "$VR_TMP/$name.new.png" "$VR_TMP/$name.png"
    kill -0 "$PROG" 2>/dev/null || vr_fail "$name: the program died"
    sleep 0.25
  done
  [ -n "${VR_SHOTS:-}" ] && cp "$VR_TMP"/*.png "$VR_SHOTS/" || true
  vr_fail "$name: ${ref:+not equal to the software screen: }last difference $diff pixels"
}

play software
settle software
stop
VIDEOREDIR_TEST_HWFRAMES=vulkan play vulkan
log=$VR_TMP/vulkan.log
vr_wait_for "$log" "TEST HOOK\|frames stay software" "$PROG" 30 || vr_fail "no stream decoded"
grep -q "frames stay software" "$log" && { echo "SKIP: $(grep -m1 'frames stay software' "$log")"; exit 77; }
settle vulkan "$VR_TMP/software.png"
case $mode in
  sdl-*) vr_wait_for "$log" "downloaded on demand.*| hw frames [1-9][0-9]* downloads [1-9]" "$PROG" 30 ;;
  viewer) vr_wait_for "$log" "drawn in software ([a-z]*), decoder .*vulkan test frames, downloaded on demand" "$PROG" 30 ;;
esac || vr_fail "the presenter did not say it drew downloaded hardware frames"
stop
echo "$mode: the screen from Vulkan frames equals the software one (probe at $probe shows video)"
