#!/usr/bin/env bash
# Several videos at once through the guest daemon, over the real stack: the
# host stand-in, videoredir-guestd owning its port, N videoredir-capture
# players (a connection to the daemon each), each with its own window and a
# window over part of it (a hole in its visible region), and the headless
# client (real players on a real X desktop: daemon_xdesktop.sh). Checks: every stream's framemd5 equals
# FFmpeg's decode of its clip (one file per stream), and the client's
# composited snapshot shows each video inside its own visible region, the
# desktop in each hole and between the windows. Also prints the client's
# peak RSS (for SECURITY.md).
# Usage: daemon_e2e.sh capture [N]   (N videos, 2 by default, up to 9)
#        daemon_e2e.sh pipeline      one player with two videos: one GStreamer
#                                    pipeline with two videoredirsink elements
#                                    (without the daemon the second could not
#                                    open the port); framemd5 per stream only
#                                    (no X: both are announced at 0,0)
. "$(dirname "$0")/../e2e/lib.sh"
kind=${1:-capture}
n=${2:-2}
command -v convert >/dev/null || vr_fail "ImageMagick convert is needed"
case $kind in
  capture) ;;
  pipeline)
    n=2
    : "${VR_GST_PLUGIN:?}" "${VR_GST_PLAY:?}"
    export VR_GST_PLUGIN GST_REGISTRY_FORK=no GST_REGISTRY="$VR_TMP/registry.bin"
    unset DISPLAY
    ;;
  *) vr_fail "unknown kind $kind" ;;
esac
clips=("$VR_SAMPLES/h264-bframes.mp4" "$VR_SAMPLES/hevc-bframes.mkv" "$VR_SAMPLES/vp9.webm")

desk=0x305070
ffmpeg -nostdin -v error -f lavfi -i "color=c=$desk:s=1280x800,format=rgb24" -frames:v 1 "$VR_TMP/desk.png"
vr_start_host --desktop "$VR_TMP/desk.png"
"$VR_BIN/videoredir-guestd" --device "$HOST_SOCK" --socket "$VR_TMP/guestd.sock" --max-streams 16 \
  --max-streams-per-player 1 -v 2>"$VR_TMP/guestd.log" &
guestd=$!
VR_PIDS+=("$guestd")
vr_wait_for "$VR_TMP/guestd.log" "listening on" "$guestd" 30 || vr_fail "videoredir-guestd did not start"

mkdir -p "$VR_TMP/md5"
before=$(vr_port_channels)
/usr/bin/time -f "%M" -o "$VR_TMP/client.rss" "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" \
  --framemd5-dir "$VR_TMP/md5" --snapshot "$VR_TMP/snap.png" --snapshot-at 1.2 --exit-at-eos \
  --timeout 90 --max-streams 16 --stats 2>"$VR_TMP/client.log" >"$VR_TMP/client.out" &
client=$!
VR_PIDS+=("$client")
vr_wait_port_channel "$before" "$client"
vr_wait_for "$VR_TMP/guestd.log" "session up" "$guestd" 30 || vr_fail "no session between daemon and client"

# Video i: a 320x180 window in a 3x3 grid (the clip scaled into it), with the
# window over it covering its 100x60 bottom-right corner.
win() { local i=$1; echo "$((40 + (i % 3) * 400)),$((40 + (i / 3) * 250)),320,180"; }
region() {
  local i=$1 x=$((40 + (i % 3) * 400)) y=$((40 + (i / 3) * 250))
  echo "$x,$y,320,120;$x,$((y + 120)),220,60"
}
players=()
if [ "$kind" = pipeline ]; then
  sock=$VR_TMP/guestd.sock
  "$VR_GST_PLAY" --timeout 120 "filesrc location=${clips[0]} ! qtdemux ! h264parse ! videoredirsink device=$sock \
    filesrc location=${clips[1]} ! matroskademux ! h265parse ! videoredirsink device=$sock" \
    >"$VR_TMP/player0.log" 2>&1 &
  players+=("$!")
  VR_PIDS+=("$!")
  n_players=1
else
  n_players=$n
fi
for ((i = 0; i < n && ${#players[@]} < n_players; i++)); do
  clip=${clips[$((i % ${#clips[@]}))]}
  "$VR_BIN/videoredir-capture" --device "$VR_TMP/guestd.sock" --pace realtime --window "$(win "$i")" \
    --region "$(region "$i")" --connect-timeout 30 "$clip" >"$VR_TMP/player$i.log" 2>&1 &
  players+=("$!")
  VR_PIDS+=("$!")
done
for ((i = 0; i < n_players; i++)); do
  wait "${players[$i]}" || vr_fail "player $i failed: $(tail -n 3 "$VR_TMP/player$i.log")"
done
wait "$client" || vr_fail "client failed"
[ "$(grep -c 'stream 1 is [0-9]* on the port' "$VR_TMP/guestd.log")" = "$n" ] ||
  vr_fail "the daemon did not carry $n streams: $(cat "$VR_TMP/guestd.log")"

# Every stream bit-exact, each in its own file.
files=("$VR_TMP"/md5/stream-*.framemd5)
[ "${#files[@]}" = "$n" ] || vr_fail "want $n framemd5 files, got ${#files[@]}: ${files[*]}"
for f in "${files[@]}"; do
  # Which clip: the one whose first frame matches.
  ok=0
  for clip in "${clips[@]}"; do
    ref="$VR_TMP/ref-$(basename "$clip").framemd5"
    [ -f "$ref" ] || vr_ffmpeg_framemd5 "$clip" "$ref"
    if [ "$(vr_md5_column "$f" | head -n 1 || true)" = "$(vr_md5_column "$ref" | head -n 1 || true)" ]; then
      vr_compare_md5 "$f" "$ref"
      ok=1
      break
    fi
  done
  [ "$ok" = 1 ] || vr_fail "$(basename "$f"): first frame is none of the clips'"
done

if [ "$kind" = pipeline ]; then
  # Both connections came from the one player process.
  pids=$(sed -n 's/.*player [0-9]*: pid \([0-9]*\),.*/\1/p' "$VR_TMP/guestd.log" | sort -u | wc -l)
  [ "$pids" = 1 ] || vr_fail "the two streams did not come from one process: $(cat "$VR_TMP/guestd.log")"
  echo "daemon: one player with two videos through videoredir-guestd, each bit-exact"
  exit 0
fi
# Each video clipped on its own: video inside, desktop in the hole and around.
px() { convert "$VR_TMP/snap.png" -format "%[hex:p{$1,$2}]" info: | cut -c1-6; }
want=$(printf '%06X' "$desk")
checked=0
for ((i = 0; i < n; i++)); do
  x=$((40 + (i % 3) * 400)) y=$((40 + (i / 3) * 250))
  for p in "$((x + 10)) $((y + 10))" "$((x + 300)) $((y + 20))" "$((x + 20)) $((y + 170))" "$((x + 160)) $((y + 90))"; do
    set -- $p
    [ "$(px "$1" "$2")" != "$want" ] || vr_fail "video $i: ($1,$2) should show video, shows the desktop"
    checked=$((checked + 1))
  done
  for p in "$((x + 230)) $((y + 130))" "$((x + 310)) $((y + 170))" "$((x - 5)) $((y + 90))" "$((x + 330)) $((y + 90))"; do
    set -- $p
    [ "$(px "$1" "$2")" = "$want" ] || vr_fail "video $i: ($1,$2) should show the desktop, shows $(px "$1" "$2")"
    checked=$((checked + 1))
  done
done

echo "daemon: $n videos through videoredir-guestd, each bit-exact; $checked pixels checked"
echo "client peak RSS with $n streams: $(cat "$VR_TMP/client.rss") KiB"
