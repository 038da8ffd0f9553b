#!/usr/bin/env bash
# Placement found in the picture, over the real stack. The host stand-in's
# desktop shows what a player shows of a placeholder frame with the marker
# (a 1280x720 frame, limited-range I420, scaled bilinearly to 800x450 at
# 260,180) and a window over its lower right part. The guest sends the clip
# marked "placement from the picture" with a wrong window (100,100 320x180).
# The client must find the video where the marker is (exact without loss,
# within 2 px with JPEG) and draw it there, not over the window on top.
# $1: lossless (image-compression auto_glz: quic for this photo-like picture),
# lz (lossless LZ) or lossy (quic + jpeg-wan always);
# stale: the guest marks its stream with another code (9) than the picture on
# the display (7, a leftover of an earlier stream): the client must not take
# it, and places the video by the guest's GEOMETRY; moved: the player window
# moves and shrinks to 400,120 640x360 1.5 s into the clip: the client follows
# (incrementally, from the invalidated area) and draws the video there.
. "$(dirname "$0")/lib.sh"
command -v convert >/dev/null || vr_fail "ImageMagick convert is needed"
mode=${1:-lossless}
case $mode in
  lossless) comp=(--image-compression auto_glz --jpeg-wan-compression never); tol=0; in=1 ;;
  lz) comp=(--image-compression lz --jpeg-wan-compression never); tol=0; in=1 ;;
  lossy) comp=(--image-compression quic --jpeg-wan-compression always); tol=2; in=8 ;;
  stale) comp=(--image-compression auto_glz); tol=0; in=1 ;;
  moved) comp=(--image-compression auto_glz --marker-move 1.5@400,120,640x360); tol=0; in=1 ;;
  *) vr_fail "mode: lossless or lossy" ;;
esac
# A photo-like desktop (noisy gradient): spice-server takes JPEG only for
# pictures it finds photographic.
ffmpeg -nostdin -v error -f lavfi \
  -i "color=s=1280x800:c=0x405060,format=rgb24,geq=r='50+40*X/W+random(1)*24':g='60+30*Y/H+random(2)*24':b='90+20*X/W+random(3)*24'" \
  -frames:v 1 -update 1 "$VR_TMP/desk.png"
vr_start_host --desktop "$VR_TMP/desk.png" --marker 7@260,180,800x450 --cover 700,500,300x200 "${comp[@]}"
G_MESSAGES_DEBUG=all "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" \
  --snapshot "$VR_TMP/snap.png" --framemd5 "$VR_TMP/client.md5" --exit-at-eos --timeout 60 2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
# Real-time pacing: the stream must still be on when the display arrives.
"$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime --window 100,100,320,180 \
  --marker "$([ "$mode" = stale ] && echo 9 || echo 7)" --connect-timeout 30 "${VR_SAMPLES:?}/h264-bframes.mp4" \
  >"$VR_TMP/capture.log" 2>&1 || vr_fail "capture failed"
wait "$client" || vr_fail "client failed"
vr_ffmpeg_framemd5 "$VR_SAMPLES/h264-bframes.mp4" "$VR_TMP/ref.md5"
vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"

px_rgb() { convert "$VR_TMP/snap.png" -format "%[fx:int(255*p{$1,$2}.r)] %[fx:int(255*p{$1,$2}.g)] %[fx:int(255*p{$1,$2}.b)]" info:; }
if [ "$mode" = stale ]; then
  ! grep -q 'placement from the picture' "$VR_TMP/client.log" || vr_fail "the client took a marker of another code"
  grep -q 'placement from the picture: ' "$VR_TMP/client.log" && vr_fail "placement error"
  # the video at the guest's window, the marker left alone
  set -- $(px_rgb 400 260); [ $(( ($1 > $3 ? $1 - $3 : $3 - $1) + ($2 > $3 ? $2 - $3 : $3 - $2) )) -gt 100 ] ||
    vr_fail "(400,260) should show video at the guest's window, shows $*"
  set -- $(px_rgb 600 400); mx=$1 mn=$1
  for v in "$2" "$3"; do ((v > mx)) && mx=$v; ((v < mn)) && mn=$v; done
  [ $((mx - mn)) -le 8 ] || vr_fail "(600,400) should show the grey marker, shows $*"
  echo "stale: a marker of another code is not taken; the video is at the guest's window"
  exit 0
fi
line=$(grep -o 'placement from the picture [-0-9]*,[-0-9]* [0-9]*x[0-9]*' "$VR_TMP/client.log" | tail -n 1) ||
  vr_fail "the client did not find the marker"
read -r x y w h < <(echo "$line" | sed 's/.* \([-0-9]*\),\([-0-9]*\) \([0-9]*\)x\([0-9]*\)/\1 \2 \3 \4/')
if [ "$mode" = moved ]; then
  grep -q 'marker moved' "$VR_TMP/host.log" || vr_fail "the host did not move the marker"
  echo "moved: found $x,$y ${w}x$h last (true 400,120 640x360)"
  [ "$x,$y,$w,$h" = 400,120,640,360 ] || vr_fail "the client did not follow the move"
  grep -q 'placement from the picture 260,180 800x450' "$VR_TMP/client.log" ||
    vr_fail "the first place was not found"
  is_vid() { set -- $(px_rgb "$1" "$2"); local mx=$1 mn=$1 v; for v in "$2" "$3"; do ((v > mx)) && mx=$v; ((v < mn)) && mn=$v; done; [ $((mx - mn)) -gt 120 ]; }
  for p in "401 121" "1038 121" "401 478" "1038 478" "700 300"; do
    set -- $p; is_vid "$1" "$2" || vr_fail "($1,$2) should show video at the new place, shows $(px_rgb "$1" "$2")"
  done
  for p in "399 300" "1041 300" "700 119" "700 481" "300 600" "1050 250"; do
    set -- $p; is_vid "$1" "$2" && vr_fail "($1,$2) should not show video, shows $(px_rgb "$1" "$2")"
  done
  echo "moved: 11 pixels checked: the video followed the player window"
  exit 0
fi
echo "$mode: found $x,$y ${w}x$h (true 260,180 800x450)"
d() { local v=$(($1 - $2)); echo $((v < 0 ? -v : v)); }
for e in "$(d "$x" 260)" "$(d "$y" 180)" "$(d $((x + w)) 1060)" "$(d $((y + h)) 630)"; do
  [ "$e" -le "$tol" ] || vr_fail "rectangle $x,$y ${w}x$h is off by $e px (allowed $tol)"
done

# Video pixels are the clip's colour bars (saturated); the marker is grey,
# the window on top light grey, the desktop a dull blue.
rgb() { convert "$VR_TMP/snap.png" -format "%[fx:int(255*p{$1,$2}.r)] %[fx:int(255*p{$1,$2}.g)] %[fx:int(255*p{$1,$2}.b)]" info:; }
spread() { set -- $(rgb "$1" "$2"); local mx=$1 mn=$1; for v in "$2" "$3"; do ((v > mx)) && mx=$v; ((v < mn)) && mn=$v; done; echo $((mx - mn)); }
is_video() { [ "$(spread "$1" "$2")" -gt 120 ]; }
n=0
# corners of the video, just inside (top left is the clip's dark time code)
for p in "$((1059 - in)) $((180 + in))" "$((260 + in)) $((629 - in))" "$((1059 - in)) $((629 - in))" \
         "500 400" "$((699 - in)) 600" "990 $((499 - in))"; do
  set -- $p
  is_video "$1" "$2" || vr_fail "($1,$2) should show video, shows $(rgb "$1" "$2")"
  n=$((n + 1))
done
# just outside, and the window on top
for p in "$((1060 + in)) 300" "600 $((179 - in))" "$((259 - in)) 400" "600 $((630 + in))" \
         "$((701 + in)) $((501 + in))" "850 600" "990 $((500 + in))" "150 150"; do
  set -- $p
  is_video "$1" "$2" && vr_fail "($1,$2) should not show video, shows $(rgb "$1" "$2")"
  n=$((n + 1))
done
echo "$mode: $n pixels checked: video where the marker is seen, not under the window on top"
# Did the desktop really travel lossless / as JPEG? Compare a patch of it.
convert "$VR_TMP/desk.png" -crop 200x50+300+640 +repage "$VR_TMP/a.png"
convert "$VR_TMP/snap.png" -crop 200x50+300+640 +repage "$VR_TMP/b.png"
diff=$(compare -metric AE -fuzz 1% "$VR_TMP/a.png" "$VR_TMP/b.png" null: 2>&1 || true)
echo "$mode: $diff of 10000 desktop pixels differ from the picture by more than 1%"
if [ "$mode" != lossy ]; then [ "$diff" = 0 ] || vr_fail "lossless desktop differs"
else [ "${diff%%.*}" -gt 100 ] || vr_fail "the desktop did not go through JPEG"; fi
