#!/usr/bin/env bash
# The headline end-to-end test on a real X desktop: Xvfb stands for the
# guest's screen, videoredir-host --x-display shows that screen as its QXL
# desktop (as QEMU shows a guest's), and a real player runs in it: playbin
# with videoredirsink display=:N, whose own window the X11 tracker follows.
# The player's window is moved (xdotool) and another real X window (an
# ImageMagick display of one flat colour) is raised partly over it.
# The client (videoredir-client) decodes the video (framemd5 bit-exact with
# FFmpeg) and composites it over the SPICE desktop: its snapshot must show
# the decoded picture exactly on the player's window, the covering window's
# own pixels (from the X server, through SPICE) where it covers the video,
# and the X desktop elsewhere.
# Usage: gst_xdesktop.sh [client | remote-viewer]
#   client         videoredir-client: framemd5 and its composited snapshot
#   remote-viewer  a stock remote-viewer with the GTK module on a second Xvfb,
#                  its screen (import -window root) checked while it plays
# Needs VR_BIN, VR_GST_PLUGIN (libgstvideoredir.so), VR_GST_PLAY (vr-gst-play);
# remote-viewer also VR_LIB (libvideoredir-gtk-module.so).
mode=${1:-client}
. "$(dirname "$0")/../e2e/lib.sh"
: "${VR_GST_PLUGIN:?}" "${VR_GST_PLAY:?}"
for t in display xdotool convert compare; do
  command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
export VR_GST_PLUGIN GST_REGISTRY_FORK=no GST_REGISTRY="$VR_TMP/registry.bin"
if [ "$mode" = remote-viewer ]; then
  command -v remote-viewer >/dev/null || { echo "SKIP: remote-viewer is not installed"; exit 77; }
  # An ASan-built module cannot load into an uninstrumented program.
  [ "${VR_SANITIZED:-0}" = 1 ] && { echo "SKIP: remote-viewer with the GTK module is not run in the sanitizer build"; exit 77; }
  : "${VR_LIB:?}"
fi

# 6 s of testsrc2 (many colours, a moving part), 640x360, a keyframe a second
# (12 s for remote-viewer: its screen is looked at while it plays).
clip=$VR_TMP/clip.mp4
secs=6
[ "$mode" = remote-viewer ] && secs=12
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=640x360:rate=25:duration=$secs" -pix_fmt yuv420p \
  -c:v libx264 -preset ultrafast -g 25 -bf 2 -x264-params threads=1 "$clip"

vr_start_xvfb 800x600x24
vr_start_host --x-display "$DISPLAY"

# The covering window: flat orange 240x160 at 500,300.
cover_rgb=c08020
ffmpeg -nostdin -v error -f lavfi -i "color=c=0x$cover_rgb:s=240x160,format=rgb24" -frames:v 1 "$VR_TMP/cover.png"
display -title vr-cover -geometry +500+300 -borderwidth 0 "$VR_TMP/cover.png" >"$VR_TMP/cover.log" 2>&1 &
VR_PIDS+=("$!")
cover=$(timeout 30 xdotool search --sync --onlyvisible --name '^vr-cover$' | head -n 1 || true)
[ -n "$cover" ] || vr_fail "the covering window did not appear"

opened=$(vr_port_channels)
guest_display=$DISPLAY
if [ "$mode" = remote-viewer ]; then
  # The client's own screen: another Xvfb, remote-viewer on it.
  vr_start_xvfb 1280x800x24
  viewer_display=$DISPLAY
  export DISPLAY=$guest_display
  DISPLAY=$viewer_display GTK_MODULES="$VR_LIB/libvideoredir-gtk-module.so" \
    remote-viewer "spice://127.0.0.1:$HOST_PORT" >"$VR_TMP/client.log" 2>&1 &
else
  "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --framemd5 "$VR_TMP/client.md5" \
    --snapshot "$VR_TMP/client.png" --exit-at-eos --stats --timeout 120 2>"$VR_TMP/client.log" &
fi
client=$!
VR_PIDS+=("$client")
vr_wait_port_channel "$opened" "$client"

"$VR_GST_PLAY" --timeout 120 "playbin uri=file://$clip audio-sink=fakesink \
  video-sink=\"videoredirsink device=$HOST_SOCK display=$DISPLAY\"" >"$VR_TMP/play.log" 2>&1 &
player=$!
VR_PIDS+=("$player")
# The sink's own window (640x360 at 0,0, titled videoredir): move it to
# 100,80 and put the covering window back on top, early in the clip.
win=$(timeout 30 xdotool search --sync --onlyvisible --name '^videoredir$' | head -n 1 || true)
[ -n "$win" ] || vr_fail "the player's window did not appear: $(tail -n 3 "$VR_TMP/play.log")"
xdotool windowmove "$win" 100 80
xdotool windowraise "$cover"
# The X server agrees on where the window is (the sink destroys it at the end).
geo=$(xdotool getwindowgeometry "$win" | tr -d '\n')
case $geo in *"Position: 100,80"*"Geometry: 640x360"*) ;; *) vr_fail "player window: $geo" ;; esac
if [ "$mode" = remote-viewer ]; then
  # While it plays: find the covering window on remote-viewer's screen (its
  # flat colour's bounding box gives where the guest desktop is drawn), then
  # the video must fill the visible part of the player's window and nothing
  # but the desktop be around it. Looked at until it holds (at most 30 s).
  shot=$VR_TMP/viewer.png
  ok=0
  for ((i = 0; i < 60; i++)); do
    DISPLAY=$viewer_display import -window root "$shot" 2>/dev/null || { sleep 0.5; continue; }
    box=$(convert "$shot" -fill black +opaque "#$cover_rgb" -fill white -opaque "#$cover_rgb" \
      -format "%@" info: 2>/dev/null || true)
    # WxH+X+Y of the cover colour: 240x160 at guest 500,300.
    if [[ $box =~ ^240x160\+([0-9]+)\+([0-9]+)$ ]]; then
      ox=$((BASH_REMATCH[1] - 500)) oy=$((BASH_REMATCH[2] - 300))
      colours=$(convert "$shot" -crop "400x360+$((ox + 100))+$((oy + 80))" +repage -format %k info:)
      colours_b=$(convert "$shot" -crop "240x220+$((ox + 500))+$((oy + 80))" +repage -format %k info:)
      left=$(convert "$shot" -format "%[hex:p{$((ox + 97)),$((oy + 200))}]" info: | cut -c1-6)
      above=$(convert "$shot" -format "%[hex:p{$((ox + 400)),$((oy + 77))}]" info: | cut -c1-6)
      below=$(convert "$shot" -format "%[hex:p{$((ox + 300)),$((oy + 443))}]" info: | cut -c1-6)
      if [ "$colours" -gt 100 ] && [ "$colours_b" -gt 50 ] && [ "$left$above$below" = 000000000000000000 ]; then
        ok=1
        break
      fi
    fi
    vr_running "$player" || break
    sleep 0.5
  done
  [ -n "${VR_SHOT:-}" ] && cp "$shot" "$VR_SHOT"
  [ "$ok" = 1 ] || vr_fail "remote-viewer's screen: cover at ${box:-nowhere}, ${colours:-?}/${colours_b:-?} colours in the video's visible parts, desktop around: ${left:-?} ${above:-?} ${below:-?}"
  echo "remote-viewer: the guest desktop at +$ox+$oy on its screen; the covering window 240x160 exactly at" \
    "its place; $colours and $colours_b colours (video) in the visible parts of the player window; desktop around"
  wait "$player" || vr_fail "the player failed: $(tail -n 3 "$VR_TMP/play.log")"
  grep -q 'switches-to-client=(guint64)[1-9]' "$VR_TMP/play.log" || vr_fail "the client never took the video"
  exit 0
fi
wait "$player" || vr_fail "the player failed: $(tail -n 3 "$VR_TMP/play.log")"
wait "$client" || vr_fail "the client failed"
grep '^stats:' "$VR_TMP/play.log" | tail -n 1
grep -q 'switches-to-client=(guint64)[1-9]' "$VR_TMP/play.log" || vr_fail "the client never took the video"

vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"

# The snapshot (taken when the stream ended: its last frame).
snap=$VR_TMP/client.png
[ -n "${VR_SHOT:-}" ] && cp "$snap" "$VR_SHOT"
px() { convert "$snap" -format "%[hex:p{$1,$2}]" info: | cut -c1-6; }
n=0
expect() { # expect X Y RRGGBB
  local got
  got=$(px "$1" "$2")
  [ "$got" = "${3^^}" ] || vr_fail "($1,$2) shows $got, want $3 ($4)"
  n=$((n + 1))
}
# The covering window's own pixels over the video, and below the player.
for p in "501 301" "600 380" "739 439" "520 430" "620 459"; do
  set -- $p
  expect "$1" "$2" "$cover_rgb" "covering window"
done
# The X desktop (black root) around the player.
for p in "99 200" "400 79" "741 200" "400 441" "10 10" "790 590" "300 500"; do
  set -- $p
  expect "$1" "$2" 000000 "desktop"
done
# Video exactly on the visible part of the player window: the client's
# picture there equals FFmpeg's last frame (converted to RGB by FFmpeg:
# colour conversion may differ by a rounding step, hence the small fuzz).
ffmpeg -nostdin -v error -sseof -0.5 -i "$clip" -update 1 -pix_fmt rgb24 "$VR_TMP/last.png"
convert "$VR_TMP/last.png" -crop 400x360+0+0 +repage "$VR_TMP/want-a.png"
convert "$snap" -crop 400x360+100+80 +repage "$VR_TMP/got-a.png"
convert "$VR_TMP/last.png" -crop 240x220+400+0 +repage "$VR_TMP/want-b.png"
convert "$snap" -crop 240x220+500+80 +repage "$VR_TMP/got-b.png"
for part in a b; do
  bad=$(compare -metric AE -fuzz 4% "$VR_TMP/got-$part.png" "$VR_TMP/want-$part.png" null: 2>&1 || true)
  rmse=$(compare -metric RMSE "$VR_TMP/got-$part.png" "$VR_TMP/want-$part.png" null: 2>&1 || true)
  echo "video part $part: $bad pixels differ by more than 4%, RMSE $rmse"
  [ "${bad%% *}" = 0 ] || vr_fail "the video in the client's picture is not FFmpeg's last frame at 100,80 (part $part: $bad pixels differ)"
done
# One pixel off in either direction would not match: check the shifted
# picture does differ (testsrc2 has sharp edges).
convert "$snap" -crop 400x360+101+80 +repage "$VR_TMP/shifted.png"
shifted=$(compare -metric AE -fuzz 4% "$VR_TMP/shifted.png" "$VR_TMP/want-a.png" null: 2>&1 || true)
[ "${shifted%% *}" != 0 ] || vr_fail "a shifted crop matches too: the comparison proves nothing"
echo "xdesktop: framemd5 bit-exact; $n pixels of the covering window and the desktop; the video" \
  "at the player window's place (shifted by 1 px: $shifted pixels differ)"
