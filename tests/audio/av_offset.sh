#!/usr/bin/env bash
# The A/V offset test (PROTOCOL.md section 6.6.1): a clip whose picture
# flashes white for one frame exactly when its sound clicks (every 0.48 s),
# played by playbin in the "guest" (vr-av-play): video through
# videoredirsink and the host stand-in's port, sound through the stand-in's
# sound card (--audio-fifo) and SPICE's playback channel. The headless
# client shows frames when their sound is heard and logs (--av-log) when
# each audio buffer is heard and each frame shown; av_offset.py pairs
# flashes with clicks. Asserts |offset| <= 20 ms at p95.
# Usage: av_offset.sh play|pause|seek|spice
#   play   the clip from start to end
#   pause  paused 1.5 s at 3.2 s: the pairs after the resume
#   seek   at 2.5 s a flushing seek to 7 s: the pairs after the seek
#   spice  SPICE's own video streaming measured the same way, for
#          BENCHMARKS.md (not in ctest): the player decodes and draws into
#          Xvfb (ximagesink), the stand-in shows that screen (--x-display)
#          with --streaming-video all, the client logs when the flash is
#          drawn on its SPICE desktop; prints the figures, asserts pairs only
# Needs VR_BIN, VR_GST_PLUGIN, VR_AV_PLAY, VR_AV_OFFSET_PY. For measurements
# (BENCHMARKS.md): VR_AV_BFRAMES=N encodes with N B-frames (default 0),
# VR_AV_LEAD=MS sets the sink's lead (default: its own, 100 ms).
mode=${1:?usage: av_offset.sh play|pause|seek}
. "$(dirname "$0")/../e2e/lib.sh"
: "${VR_GST_PLUGIN:?}" "${VR_AV_PLAY:?}" "${VR_AV_OFFSET_PY:?}"
export VR_GST_PLUGIN GST_REGISTRY_FORK=no GST_REGISTRY="$VR_TMP/registry.bin"
unset DISPLAY
for t in ffmpeg python3; do
  command -v "$t" >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
encoders=$(ffmpeg -hide_banner -encoders 2>/dev/null || true)
grep -q libx264 <<<"$encoders" || { echo "SKIP: ffmpeg has no libx264"; exit 77; }

LATENCY_MS=100 # the sound card's output latency (its buffer); the player's av-offset compensates it
secs=12
# One white frame every 12th frame (0.48 s at 25 fps: on a frame, and on a
# 10 ms audio block) and a 5 ms 1 kHz burst starting with
# it; PCM audio (no codec delay) in 10 ms blocks: raw PCM goes from the
# demuxer to the sound card unclipped, so a seek to a whole second must land
# on a block's start (a real audio sink clips to the segment itself), H.264 without B-frames (see BENCHMARKS.md:
# B-pyramid reordering needs a lead above the sink's default 100 ms).
burst="if(lt(mod(t\\,0.48)\\,0.005)\\,0.8*sin(2*PI*1000*t)\\,0)"
ffmpeg -nostdin -v error -y \
  -f lavfi -i "color=c=black:s=320x240:r=25:d=$secs,drawbox=c=white:t=fill:enable='eq(mod(n\\,12)\\,0)'" \
  -f lavfi -i "aevalsrc=exprs='$burst|$burst':s=48000:n=480:d=$secs" \
  -c:v libx264 -preset veryfast -bf "${VR_AV_BFRAMES:-0}" -g 25 -pix_fmt yuv420p -c:a pcm_s16le "$VR_TMP/av.mkv" ||
  vr_fail "cannot make the clip"

vsink="videoredirsink device=\$HOST_SOCK ${VR_AV_LEAD:+lead=$VR_AV_LEAD}"
host_args=()
if [ "$mode" = spice ]; then
  command -v Xvfb >/dev/null || { echo "SKIP: Xvfb is not installed"; exit 77; }
  vr_start_xvfb 800x600x24
  host_args=(--x-display "$DISPLAY" --streaming-video all)
  vsink="videoconvert ! ximagesink"
fi
vr_start_host --audio-fifo "$VR_TMP/card.fifo" --audio-latency "$LATENCY_MS" "${host_args[@]}"
vsink=${vsink//\$HOST_SOCK/$HOST_SOCK}
opened=$(vr_port_channels)
client_args=(--exit-at-eos)
[ "$mode" = spice ] && client_args=() # no videoredir stream: stopped after the player
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --av-log "$VR_TMP/av.log" \
  "${client_args[@]}" --timeout 90 2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
vr_wait_port_channel "$opened" "$client"

case $mode in
  play) controls=() ;;
  pause) controls=(--pause-at 3.2 --pause-for 1.5) ;;
  seek) controls=(--seek-at 2.5 --seek-to 7) ;;
  spice) controls=() ;;
  *) vr_fail "unknown mode $mode" ;;
esac
asink="audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=2,layout=interleaved"
asink="$asink ! filesink location=$VR_TMP/card.fifo sync=true buffer-mode=unbuffered"
"$VR_AV_PLAY" --timeout 90 --av-offset "${LATENCY_MS}000000" "${controls[@]}" \
  "file://$VR_TMP/av.mkv" "$vsink" "$asink" \
  >"$VR_TMP/player.out" 2>"$VR_TMP/player.log" || vr_fail "the player failed: $(tail -n 3 "$VR_TMP/player.log")"
if [ "$mode" = spice ]; then
  sleep 1 # the last streamed frames
  kill "$client"
  wait "$client" || true
else
  wait "$client" || vr_fail "the client failed"
fi
grep -q '^A ' "$VR_TMP/av.log" || vr_fail "the client heard no sound"
event() { sed -n "s/^$1 //p" "$VR_TMP/player.out" | head -n 1; }
start=$(event playing)
[ -n "$start" ] || vr_fail "the player never played"
# From half a second after the start: the first picture is the preroll,
# shown before any sound.
from=$((start + 500000))
min=18
case $mode in
  pause) from=$(event resumed); min=10 ;;
  seek) from=$(event seeked); min=6 ;;
esac
[ -n "$from" ] || vr_fail "the player did not $mode"
grep -E 'audio:|ended' "$VR_TMP/client.log" || true
if [ "$mode" = spice ]; then
  python3 "$VR_AV_OFFSET_PY" "$VR_TMP/av.log" --desktop --period 0.48 --from "$from" --min 3 --p95 1000 \
    --label "av-offset-spice-streaming: " || vr_fail "SPICE streaming: too few flash/click pairs"
  exit 0
fi
python3 "$VR_AV_OFFSET_PY" "$VR_TMP/av.log" --period 0.48 --from "$from" --min "$min" --p95 20 --label "av-offset-$mode: " ||
  vr_fail "A/V offset"
