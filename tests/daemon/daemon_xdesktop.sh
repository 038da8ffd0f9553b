#!/usr/bin/env bash
# Two real players at once through the guest daemon, on a real X desktop:
# Xvfb is the guest's screen (shown by videoredir-host --x-display as its
# QXL desktop), videoredir-guestd owns the stand-in's port, and two playbin
# pipelines with videoredirsink, no device set, find the daemon by
# themselves ($VIDEOREDIR_GUESTD_SOCKET). Each player's window is moved to
# its own place and another real X window is raised over part of each. The
# client decodes both (one framemd5 per stream, each bit-exact with FFmpeg)
# and its snapshot shows each video on its own window, each clipped by its
# own covering window, the desktop around.
# Needs VR_BIN, VR_GST_PLUGIN (libgstvideoredir.so), VR_GST_PLAY (vr-gst-play).
. "$(dirname "$0")/../e2e/lib.sh"
: "${VR_GST_PLUGIN:?}" "${VR_GST_PLAY:?}"
for t in display xdotool convert; do
  command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
export VR_GST_PLUGIN GST_REGISTRY_FORK=no GST_REGISTRY="$VR_TMP/registry.bin"

# Two different 10 s clips, 640x360, a keyframe a second: long enough that
# the second player (slow to start under ASan) begins before the first ends
# (the client exits once every stream has ended).
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=640x360:rate=25:duration=10" -pix_fmt yuv420p \
  -c:v libx264 -preset ultrafast -g 25 -bf 2 -x264-params threads=1 "$VR_TMP/a.mp4"
ffmpeg -nostdin -v error -f lavfi -i "testsrc=size=640x360:rate=25:duration=10" -pix_fmt yuv420p \
  -c:v libx264 -preset ultrafast -g 25 -bf 2 -x264-params threads=1 "$VR_TMP/b.mp4"

vr_start_xvfb 1280x800x24
vr_start_host --x-display "$DISPLAY"
"$VR_BIN/videoredir-guestd" --device "$HOST_SOCK" --socket "$VR_TMP/guestd.sock" -v 2>"$VR_TMP/guestd.log" &
guestd=$!
VR_PIDS+=("$guestd")
vr_wait_for "$VR_TMP/guestd.log" "listening on" "$guestd" 30 || vr_fail "videoredir-guestd did not start"

# Covering windows, flat colours: over the bottom-right corner of each player.
cover_a=c08020 cover_b=20a040
ffmpeg -nostdin -v error -f lavfi -i "color=c=0x$cover_a:s=200x120,format=rgb24" -frames:v 1 "$VR_TMP/ca.png"
ffmpeg -nostdin -v error -f lavfi -i "color=c=0x$cover_b:s=180x100,format=rgb24" -frames:v 1 "$VR_TMP/cb.png"
display -title vr-cover-a -geometry +500+300 -borderwidth 0 "$VR_TMP/ca.png" >"$VR_TMP/ca.log" 2>&1 &
VR_PIDS+=("$!")
display -title vr-cover-b -geometry +1080+680 -borderwidth 0 "$VR_TMP/cb.png" >"$VR_TMP/cb.log" 2>&1 &
VR_PIDS+=("$!")
wa_cover=$(timeout 30 xdotool search --sync --onlyvisible --name '^vr-cover-a$' | head -n 1 || true)
wb_cover=$(timeout 30 xdotool search --sync --onlyvisible --name '^vr-cover-b$' | head -n 1 || true)
[ -n "$wa_cover" ] && [ -n "$wb_cover" ] || vr_fail "the covering windows did not appear"

opened=$(vr_port_channels)
mkdir -p "$VR_TMP/md5"
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --framemd5-dir "$VR_TMP/md5" \
  --snapshot "$VR_TMP/client.png" --exit-at-eos --stats --timeout 120 2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
vr_wait_port_channel "$opened" "$client"
vr_wait_for "$VR_TMP/guestd.log" "session up" "$guestd" 30 || vr_fail "no session between daemon and client"

# play CLIP LOG: a player with no device: the sink finds the daemon.
play() {
  VIDEOREDIR_GUESTD_SOCKET="$VR_TMP/guestd.sock" VIDEOREDIR_DEVICE="$VR_TMP/no-port" \
    "$VR_GST_PLAY" --timeout 120 "playbin uri=file://$1 audio-sink=fakesink \
    video-sink=\"videoredirsink display=$DISPLAY\"" >"$2" 2>&1 &
}
# The sink's window (640x360 at 0,0, titled videoredir) of the player just
# started: the one not seen before.
new_window() {
  local w i
  for ((i = 0; i < 600; i++)); do
    for w in $(xdotool search --onlyvisible --name '^videoredir$' 2>/dev/null || true); do
      [ "$w" != "${1:-}" ] && { echo "$w"; return 0; }
    done
    sleep 0.05
  done
  return 1
}
play "$VR_TMP/a.mp4" "$VR_TMP/play-a.log"
pa=$!
VR_PIDS+=("$pa")
wa=$(new_window) || vr_fail "player a's window did not appear: $(tail -n 3 "$VR_TMP/play-a.log")"
xdotool windowmove "$wa" 20 20
play "$VR_TMP/b.mp4" "$VR_TMP/play-b.log"
pb=$!
VR_PIDS+=("$pb")
wb=$(new_window "$wa") || vr_fail "player b's window did not appear: $(tail -n 3 "$VR_TMP/play-b.log")"
xdotool windowmove "$wb" 620 420
xdotool windowraise "$wa_cover"
xdotool windowraise "$wb_cover"

wait "$pa" || vr_fail "player a failed: $(tail -n 3 "$VR_TMP/play-a.log")"
wait "$pb" || vr_fail "player b failed: $(tail -n 3 "$VR_TMP/play-b.log")"
wait "$client" || vr_fail "the client failed"
for p in a b; do
  grep -q 'switches-to-client=(guint64)[1-9]' "$VR_TMP/play-$p.log" || vr_fail "the client never took player $p's video"
done
# Both went through the daemon (no port to open otherwise: VIDEOREDIR_DEVICE
# names nothing), as two players with a stream each.
[ "$(grep -c 'stream 1 is [12] on the port' "$VR_TMP/guestd.log")" = 2 ] ||
  vr_fail "the daemon did not carry two streams: $(cat "$VR_TMP/guestd.log")"

# Each stream bit-exact, in its own file (stream 1: player a, 2: player b).
vr_ffmpeg_framemd5 "$VR_TMP/a.mp4" "$VR_TMP/ref-a.md5"
vr_ffmpeg_framemd5 "$VR_TMP/b.mp4" "$VR_TMP/ref-b.md5"
vr_compare_md5 "$VR_TMP/md5/stream-1.framemd5" "$VR_TMP/ref-a.md5"
vr_compare_md5 "$VR_TMP/md5/stream-2.framemd5" "$VR_TMP/ref-b.md5"

snap=$VR_TMP/client.png
[ -n "${VR_SHOT:-}" ] && cp "$snap" "$VR_SHOT"
px() { convert "$snap" -format "%[hex:p{$1,$2}]" info: | cut -c1-6; }
n=0
expect() { # expect X Y RRGGBB WHAT
  local got
  got=$(px "$1" "$2")
  [ "$got" = "${3^^}" ] || vr_fail "($1,$2) shows $got, want $3 ($4)"
  n=$((n + 1))
}
# Covering windows over each video, X desktop (black) around both.
for p in "501 301" "600 370" "659 379" "690 410"; do set -- $p; expect "$1" "$2" "$cover_a" "cover a"; done
for p in "1081 681" "1200 760" "1259 779"; do set -- $p; expect "$1" "$2" "$cover_b" "cover b"; done
for p in "19 100" "300 19" "661 100" "300 381" "619 600" "900 419" "1261 500" "900 781" "10 790" "1270 10"; do
  set -- $p; expect "$1" "$2" 000000 "desktop"
done
# Video in the visible parts of each window: many colours in each.
ca=$(convert "$snap" -crop 480x280+20+20 +repage -unique-colors -format %w info:)
cb=$(convert "$snap" -crop 460x260+620+420 +repage -unique-colors -format %w info:)
[ "$ca" -gt 50 ] && [ "$cb" -gt 50 ] || vr_fail "video missing in a visible part: $ca / $cb colours"
# Each window shows its own clip: testsrc's top-left is not testsrc2's.
ffmpeg -nostdin -v error -sseof -0.5 -i "$VR_TMP/a.mp4" -update 1 -pix_fmt rgb24 "$VR_TMP/last-a.png"
ffmpeg -nostdin -v error -sseof -0.5 -i "$VR_TMP/b.mp4" -update 1 -pix_fmt rgb24 "$VR_TMP/last-b.png"
for p in a b; do
  if [ $p = a ]; then at="+20+20"; else at="+620+420"; fi
  convert "$snap" -crop "200x100$at" +repage "$VR_TMP/got-$p.png"
  convert "$VR_TMP/last-$p.png" -crop 200x100+0+0 +repage "$VR_TMP/want-$p.png"
  bad=$(compare -metric AE -fuzz 4% "$VR_TMP/got-$p.png" "$VR_TMP/want-$p.png" null: 2>&1 || true)
  echo "player $p: $bad pixels of the window's top-left 200x100 differ from its clip's last frame"
  [ "${bad%% *}" = 0 ] || vr_fail "player $p's window does not show its own clip's last frame"
done
echo "daemon-xdesktop: two players through videoredir-guestd, both bit-exact; $n pixels of covers and" \
  "desktop; each video on its own window, clipped by its own cover ($ca / $cb colours)"
