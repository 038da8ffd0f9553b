#!/usr/bin/env bash
# The presenters of the GTK overlay put the same picture in the same place:
# MODE (viewer: videoredir-viewer; remote-viewer: stock remote-viewer with the
# GTK module) runs with VIDEOREDIR_PRESENT=cairo (GTK's drawing), =xshm
# (MIT-SHM pictures on a child window) and =gl (Mesa's llvmpipe) on the real
# stack
# (Xvfb, videoredir-host, videoredir-capture). Each time the guest plays a
# still picture (every frame the same, so screenshots taken at any moment
# compare) as 8-bit H.264 (yuv420p) and as 10-bit HEVC (yuv420p10) in a
# window at 300,200 640x360 with a 200x100 hole (another window on top).
# Checked per screenshot: the video inside the visible region, the desktop in
# the hole and around, to the pixel at every edge; and between presenters:
# gl against cairo, the window's area must match (luma: at most 0.5 % of its
# pixels further apart than 8 %, PSNR >= 38 dB; colour PSNR >= 30 dB: the
# chroma is upsampled differently) and the rest of the screen to the bit;
# xshm against cairo, the whole screen to the bit (the same libswscale
# picture; the 10-bit one within 2 %: it varies by a level or two between
# runs with either presenter). Screenshots are kept in $VR_SHOTS when set. The GL and xshm
# windows must not take the pointer: the X window under it over the video is
# as deep as with cairo.
mode=${1:?viewer or remote-viewer}
. "$(dirname "$0")/../e2e/lib.sh"
for t in Xvfb import convert compare xdotool python3; do command -v $t >/dev/null || vr_fail "$t is needed"; done
if [ "$mode" = remote-viewer ]; then
  command -v remote-viewer >/dev/null || vr_fail "remote-viewer (virt-viewer) is needed"
  if [ "${VR_SANITIZED:-0}" = 1 ]; then
    # An ASan-built module cannot load into an uninstrumented program.
    echo "SKIP: remote-viewer with the GTK module is not run in the sanitizer build"
    exit 77
  fi
fi
# Mesa's llvmpipe under ASan: the fast unwinder (see tests/client/sdl_screenshot.sh).
[ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=1"
export LIBGL_ALWAYS_SOFTWARE=1
desk=0x305070
want=$(printf '%06X' "$desk")
ffmpeg -nostdin -v error -f lavfi -i "color=c=$desk:s=1280x800,format=rgb24" -frames:v 1 "$VR_TMP/desk.png"
# The still picture: testsrc2's first frame (colour bars, text, gradients),
# coded losslessly so that every decoded frame is the same.
ffmpeg -nostdin -v error -f lavfi -i testsrc2=s=640x360:r=25 -frames:v 1 "$VR_TMP/still.png"
ffmpeg -nostdin -v error -loop 1 -framerate 25 -i "$VR_TMP/still.png" -frames:v 50 -pix_fmt yuv420p \
  -c:v libx264 -qp 0 -g 25 -y "$VR_TMP/still8.mp4"
ffmpeg -nostdin -v error -loop 1 -framerate 25 -i "$VR_TMP/still.png" -frames:v 50 -pix_fmt yuv420p10le \
  -c:v libx265 -x265-params log-level=error:keyint=25:lossless=1 -y "$VR_TMP/still10.mkv"

vr_start_xvfb 1280x800x24
vr_start_host --desktop "$VR_TMP/desk.png"
uri="spice://127.0.0.1:$HOST_PORT"
region="300,200,640,100;300,300,200,100;700,300,240,100;300,400,640,160"

px() { convert "$1" -format "%[hex:p{$2,$3}]" info: | cut -c1-6; }
# Pixels differing by more than FUZZ between two images of one size.
differ() { compare -metric AE -fuzz "$3" "$1" "$2" null: 2>&1 || true; }

# Waits until the window's area shows video at its visible corners and is
# the same in two screenshots in a row (the picture drawn, nothing moving);
# leaves it in $VR_TMP/$1.png and its 640x360 area in $VR_TMP/$1-win.png.
settle() {
  local name=$1 i x y prev="$VR_TMP/settle-prev.png"
  for ((i = 0; i < 60; i++)); do
    import -window root "$VR_TMP/$name.png"
    if [ -z "${ox:-}" ]; then
      # Where the guest desktop starts (remote-viewer has a header bar and borders).
      for y in $(seq 0 120); do [ "$(px "$VR_TMP/$name.png" 10 "$y")" = "$want" ] && { oy=$y; break; }; done
      for x in $(seq 0 40); do [ "$(px "$VR_TMP/$name.png" "$x" "$((${oy:-0} + 10))")" = "$want" ] && { ox=$x; break; }; done
      [ -n "${oy:-}" ] && [ -n "${ox:-}" ] || { unset ox oy; sleep 0.2; continue; }
    fi
    convert "$VR_TMP/$name.png" -crop "640x360+$((ox + 300))+$((oy + 200))" +repage "$VR_TMP/$name-win.png"
    if [ "$(px "$VR_TMP/$name-win.png" 0 0)" != "$want" ] && [ "$(px "$VR_TMP/$name-win.png" 639 359)" != "$want" ] &&
       [ -f "$prev" ] && [ "$(differ "$prev" "$VR_TMP/$name-win.png" 0)" = 0 ]; then
      [ -n "${VR_SHOTS:-}" ] && cp "$VR_TMP/$name.png" "$VR_SHOTS/presenters-$mode-$name.png"
      return 0
    fi
    cp "$VR_TMP/$name-win.png" "$prev"
    sleep 0.2
  done
  vr_fail "$name: the video did not settle on the screen"
}

# How deep the X window under the pointer is (XQueryPointer from the root
# down: the server's own answer, input shapes included).
pointer_depth() {
  python3 - <<'EOF'
import ctypes
x = ctypes.CDLL("libX11.so.6")
W, I, U, P = ctypes.c_ulong, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p
x.XOpenDisplay.restype, x.XOpenDisplay.argtypes = P, [ctypes.c_char_p]
x.XDefaultRootWindow.restype, x.XDefaultRootWindow.argtypes = W, [P]
x.XQueryPointer.argtypes = [P, W] + [ctypes.POINTER(W)] * 2 + [ctypes.POINTER(I)] * 4 + [ctypes.POINTER(U)]
d = x.XOpenDisplay(None)
w, depth = x.XDefaultRootWindow(d), 0
while True:
    r, c, m = W(), W(), U()
    v = [I() for _ in range(4)]
    x.XQueryPointer(d, w, r, c, *v, m)
    if not c.value:
        break
    w, depth = c.value, depth + 1
print(depth)
EOF
}

n=0
# Placement to the pixel, in window coordinates (x 0..639, y 0..359; the
# hole is x 200..399, y 100..199): video just inside every edge of the
# visible region, the desktop just outside.
check_edges() {
  local img=$1 full=$2 p x y
  for p in "0 0" "639 0" "0 359" "639 359" "199 150" "400 150" "300 99" "300 200" "199 100" "400 199" \
           "100 100" "500 199" "320 20" "320 340"; do
    set -- $p
    [ "$(px "$img" "$1" "$2")" != "$want" ] || vr_fail "$img: ($1,$2) of the window should show video, shows the desktop"
    n=$((n + 1))
  done
  for p in "200 100" "399 100" "200 199" "399 199" "300 150"; do
    set -- $p
    [ "$(px "$img" "$1" "$2")" = "$want" ] || vr_fail "$img: ($1,$2) of the window is in the hole, shows $(px "$img" "$1" "$2")"
    n=$((n + 1))
  done
  for p in "-1 0" "-1 359" "640 0" "640 359" "0 -1" "639 -1" "0 360" "639 360"; do
    set -- $p
    x=$((ox + 300 + $1)) y=$((oy + 200 + $2))
    [ "$(px "$full" "$x" "$y")" = "$want" ] || vr_fail "$full: ($x,$y) just outside the window should show the desktop"
    n=$((n + 1))
  done
}

for present in cairo xshm gl; do
  log=$VR_TMP/viewer-$present.log
  case $mode in
    viewer)
      VIDEOREDIR_PRESENT=$present "$VR_BIN/videoredir-viewer" --size 1280x800 "$uri" >"$log" 2>&1 & ;;
    remote-viewer)
      VIDEOREDIR_PRESENT=$present GTK_MODULES="$VR_LIB/libvideoredir-gtk-module.so" remote-viewer "$uri" \
        >"$log" 2>&1 & ;;
  esac
  viewer=$!
  VR_PIDS+=("$viewer")
  kind=$present
  vr_wait_for "$log" "presenter " "$viewer" 60 || vr_fail "$present: no presenter chosen"
  grep -q "presenter $kind (" "$log" || vr_fail "$present: the $kind presenter is not the one drawing"
  grep -m1 "presenter " "$log"
  streams=0
  for clip in still8.mp4 still10.mkv; do
    "$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime --loop -1 --connect-timeout 30 \
      --window 300,200,640,360 --region "$region" "$VR_TMP/$clip" >"$VR_TMP/capture.log" 2>&1 &
    capture=$!
    VR_PIDS+=("$capture")
    streams=$((streams + 1))
    for ((i = 0; i < 600; i++)); do
      [ "$(grep -c "stream [0-9]*: " "$log" || true)" -ge "$streams" ] && break
      vr_running "$viewer" || vr_fail "$present: the viewer died"
      sleep 0.05
    done
    [ "$i" -lt 600 ] || vr_fail "$present: the viewer got no stream of $clip"
    settle "$present-${clip%%.*}"
    check_edges "$VR_TMP/$present-${clip%%.*}-win.png" "$VR_TMP/$present-${clip%%.*}.png"
    if [ "$clip" = still8.mp4 ]; then
      # The pointer over the video: the window it is in must be the same
      # with GL (whose window has an empty input shape) as without.
      xdotool mousemove "$((ox + 400))" "$((oy + 350))"
      declare "depth_$present=$(pointer_depth)"
    fi
    kill "$capture" 2>/dev/null || true
    wait "$capture" 2>/dev/null || true
  done
  kill "$viewer" 2>/dev/null || true
  wait "$viewer" 2>/dev/null || true
  unset ox oy
done
for present in gl xshm; do
  ! grep -E "asked for but cannot run|cannot upload|cannot draw|could not be shown" "$VR_TMP/viewer-$present.log" ||
    vr_fail "the $present run logged errors"
done

echo "$mode: X window depth under the pointer over the video: cairo $depth_cairo, xshm $depth_xshm, gl $depth_gl"
[ "$depth_gl" = "$depth_cairo" ] || vr_fail "the GL window takes the pointer (clicks would not reach the SPICE display)"
[ "$depth_xshm" = "$depth_cairo" ] || vr_fail "the xshm window takes the pointer (clicks would not reach the SPICE display)"
for clip in still8 still10; do
  # xshm and cairo draw the same libswscale picture: the same screen. (The
  # 10-bit picture itself varies by a level or two in some runs, with either
  # presenter: within 2 % for it.)
  fuzz=0
  [ "$clip" = still10 ] && fuzz=2%
  same=$(differ "$VR_TMP/cairo-$clip.png" "$VR_TMP/xshm-$clip.png" "$fuzz")
  echo "$mode $clip: xshm vs cairo: $same pixels differ (fuzz $fuzz; $(differ "$VR_TMP/cairo-$clip.png" "$VR_TMP/xshm-$clip.png" 0) at all)"
  [ "$same" = 0 ] || vr_fail "$clip: xshm and cairo differ in $same pixels"
done
for clip in still8 still10; do
  # Luma as ImageMagick sees it (the chroma's upsampling differs: libswscale
  # interpolates 10-bit chroma vertically, llvmpipe samples it nearest), and
  # the colours as a whole.
  convert "$VR_TMP/cairo-$clip-win.png" -colorspace Gray "$VR_TMP/cairo-$clip-gray.png"
  convert "$VR_TMP/gl-$clip-win.png" -colorspace Gray "$VR_TMP/gl-$clip-gray.png"
  far=$(differ "$VR_TMP/cairo-$clip-gray.png" "$VR_TMP/gl-$clip-gray.png" 8%)
  psnr=$(compare -metric PSNR "$VR_TMP/cairo-$clip-gray.png" "$VR_TMP/gl-$clip-gray.png" null: 2>&1 || true)
  cpsnr=$(compare -metric PSNR "$VR_TMP/cairo-$clip-win.png" "$VR_TMP/gl-$clip-win.png" null: 2>&1 || true)
  echo "$mode $clip: gl vs cairo: luma $far of 230400 pixels further apart than 8 %, PSNR $psnr dB; colour PSNR $cpsnr dB"
  [ "$far" -le 1152 ] || vr_fail "$clip: gl and cairo differ in $far pixels"
  awk -v p="$psnr" -v c="$cpsnr" 'BEGIN { exit !((p == "inf" || p + 0 >= 38) && (c == "inf" || c + 0 >= 30)) }' ||
    vr_fail "$clip: PSNR luma $psnr dB < 38 or colour $cpsnr dB < 30"
  # The rest of the screen (desktop, window frame) is the same to the bit.
  all=$(differ "$VR_TMP/cairo-$clip.png" "$VR_TMP/gl-$clip.png" 0)
  win=$(differ "$VR_TMP/cairo-$clip-win.png" "$VR_TMP/gl-$clip-win.png" 0)
  [ "$all" = "$win" ] || vr_fail "$clip: the screens differ outside the video's window ($all vs $win pixels)"
done
echo "$mode: $n edge pixels checked; cairo, xshm and gl draw the same picture in the same place (8 and 10 bits)"
