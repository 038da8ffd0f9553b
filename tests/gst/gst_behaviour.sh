#!/usr/bin/env bash
# What a user does with a player, on the real stack (videoredir-host,
# videoredirsink in a playbin driven by vr-gst-play --at, the headless
# videoredir-client), each checked against FFmpeg's own decode:
#   seek   at 2 s, a flushing key-unit seek to 5 s: the client's frames are
#          FFmpeg's from the start up to some point, then exactly FFmpeg's
#          from the keyframe at 5 s to the end (what was queued dropped, the
#          new position shown from its keyframe: within one GOP)
#   pause  paused at 1.5 s for 2 s, then resumed: the client's stats say
#          "paused", nothing is decoded while paused, its snapshot taken in
#          the pause shows the frame at the pause position (the last frame
#          stays), and after the resume every frame of the clip is decoded
#          once, bit-exact
#   rate   rate 2.0 from 0.5 s, then 0.5 from 3 s (flushing seeks): frames
#          bit-exact from the keyframe of each seek, and the stream plays
#          for the time the rates say (wall clock)
#   step   paused at 1.5 s, then stepped (GStreamer step events, a player's
#          "next frame") 1, 1 and 3 frames, then resumed: after the pause and
#          after each step, the client shows exactly FFmpeg's frame at the
#          position the player reports (its present log, the frame's pts
#          looked up in its framemd5); after the resume every frame of the
#          clip is decoded once, bit-exact (the stepped-over ones too)
#   close  the player is killed (SIGKILL) mid-stream while it plays through
#          videoredir-guestd: the client ends the stream at once (the daemon
#          stops it when the player's socket closes); how fast is printed
# Usage: gst_behaviour.sh MODE [sink|dec]
#   sink (default): playbin video-sink=videoredirsink
#   dec: videoredirdec, which playbin plugs by itself as the decoder (the
#        port from VIDEOREDIR_DEVICE), its placeholders into a fakesink that
#        keeps time (seek, pause, rate and step)
# Needs VR_BIN, VR_GST_PLUGIN, VR_GST_PLAY.
mode=$1
elem=${2:-sink}
. "$(dirname "$0")/../e2e/lib.sh"
: "${VR_GST_PLUGIN:?}" "${VR_GST_PLAY:?}"
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
export VR_GST_PLUGIN GST_REGISTRY_FORK=no GST_REGISTRY="$VR_TMP/registry.bin"
unset DISPLAY

# 8 s of testsrc2, 640x360, 25 fps, a keyframe every second exactly.
clip=$VR_TMP/clip.mp4
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=640x360:rate=25:duration=8" -pix_fmt yuv420p \
  -c:v libx264 -preset ultrafast -g 25 -keyint_min 25 -sc_threshold 0 -bf 2 -x264-params threads=1 "$clip"
vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
vr_start_host

start_client() { # ARGS...: a headless client, returns once its port channel is open
  local opened
  opened=$(vr_port_channels)
  "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --stats --timeout 120 \
    --framemd5 "$VR_TMP/client.md5" "$@" 2>"$VR_TMP/client.log" &
  CLIENT=$!
  VR_PIDS+=("$CLIENT")
  vr_wait_port_channel "$opened" "$CLIENT"
}
play() { # DEVICE ACTIONS...: the player, log in play.log
  local dev=$1
  shift
  if [ "$elem" = dec ]; then
    VIDEOREDIR_DEVICE=$dev "$VR_GST_PLAY" --timeout 120 "$@" "playbin uri=file://$clip audio-sink=fakesink \
      video-sink=\"fakesink sync=true\"" >"$VR_TMP/play.log" 2>&1
  else
    "$VR_GST_PLAY" --timeout 120 "$@" "playbin uri=file://$clip audio-sink=fakesink \
      video-sink=\"videoredirsink device=$dev\"" >"$VR_TMP/play.log" 2>&1
  fi
}
# runs GOT REF: the client's frames as runs of consecutive frames of REF,
# "first:last" (0-based frame indices) separated by spaces; "?" for a frame
# that is none of REF's.
runs() {
  python3 - "$1" "$2" <<'PY'
import sys
def col(p):
    return [l.rsplit(',', 1)[1].strip() for l in open(p) if l.strip() and not l.startswith('#')]
g, r = col(sys.argv[1]), col(sys.argv[2])
out, i, prev = [], 0, -1
while i < len(g):
    # Continue the run where it is, else the first place REF has this frame.
    if 0 <= prev + 1 < len(r) and r[prev + 1] == g[i]:
        j = prev + 1
    elif g[i] in r:
        j = r.index(g[i])
    else:
        out.append('?'); break
    start = j
    while i < len(g) and j < len(r) and r[j] == g[i]:
        i += 1; j += 1
    out.append(f'{start}:{j - 1}')
    prev = j - 1
print(' '.join(out))
PY
}

case $mode in
  seek)
    start_client --exit-at-eos
    play "$HOST_SOCK" --at 2.0:seek=5.0 || vr_fail "player failed: $(tail -n 3 "$VR_TMP/play.log")"
    wait "$CLIENT" || vr_fail "client failed"
    grep '^action' "$VR_TMP/play.log"
    r=$(runs "$VR_TMP/client.md5" "$VR_TMP/ref.md5")
    # From the start to somewhere before 5 s, then from the keyframe at 5 s to the end.
    [[ $r =~ ^0:([0-9]+)\ 125:199$ ]] || vr_fail "the client's frames are not FFmpeg's from 0, then from the keyframe at 5 s: runs $r"
    k=${BASH_REMATCH[1]}
    [ "$k" -ge 25 ] && [ "$k" -lt 125 ] || vr_fail "frames 0..$k before the seek"
    echo "seek: frames 0..$k before the seek, then frames 125..199 (the keyframe at 5 s to the end), all FFmpeg's"
    ;;
  pause)
    start_client --exit-at-eos --snapshot-at-file "$VR_TMP/paused.png" --snapshot-at 2.5
    play "$HOST_SOCK" --at 1.5:pause --at 3.5:play || vr_fail "player failed: $(tail -n 3 "$VR_TMP/play.log")"
    wait "$CLIENT" || vr_fail "client failed"
    grep '^action' "$VR_TMP/play.log"
    vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
    # Stats lines while paused: at least one, and no frame decoded between two.
    mapfile -t dec < <(grep '^stats: stream .* paused' "$VR_TMP/client.log" | sed 's/.*decoded \([0-9]*\).*/\1/')
    [ "${#dec[@]}" -ge 1 ] || vr_fail "the client never reported the stream paused"
    [ "${dec[0]}" = "${dec[-1]}" ] || vr_fail "frames decoded while paused: ${dec[*]}"
    grep -q '^stats: stream .* clocked' "$VR_TMP/client.log" || vr_fail "never clocked"
    # Nothing sent while paused: the sink's frames-sent between the two actions
    # (the first line after the pause may still count what was in flight).
    sent=$(awk '/^action: .* pause/ {on = 1; next} /^action: .* play/ {on = 0}
      on && /^stats:/ {match($0, /frames-sent=\(guint64\)[0-9]+/); v = substr($0, RSTART + 20, RLENGTH - 20);
      if (n++ > 0) print v}' "$VR_TMP/play.log" | sort -u | wc -l)
    [ "$sent" -le 1 ] || vr_fail "frames were sent while paused"
    # The snapshot in the pause shows the frame at the pause position.
    pos=$(sed -n 's/^action: [0-9.]* pause position=\([0-9.]*\).*/\1/p' "$VR_TMP/play.log")
    idx=$(python3 -c "print(round($pos * 25))")
    # (No X display: the sink announces its video at 0,0.)
    convert "$VR_TMP/paused.png" -crop 640x360+0+0 +repage "$VR_TMP/got.png" 2>/dev/null ||
      vr_fail "no snapshot taken in the pause"
    best=none
    for ((f = idx - 3; f <= idx + 3; f++)); do
      [ "$f" -ge 0 ] || continue
      ffmpeg -nostdin -v error -i "$clip" -vf "select=eq(n\,$f)" -frames:v 1 -pix_fmt rgb24 -y "$VR_TMP/f.png"
      bad=$(compare -metric AE -fuzz 4% "$VR_TMP/got.png" "$VR_TMP/f.png" null: 2>&1 || true)
      [ "${bad%% *}" = 0 ] && { best=$f; break; }
    done
    [ "$best" != none ] || vr_fail "the snapshot in the pause does not show a frame near the pause position $pos (frame $idx)"
    echo "pause: paused at ${pos} s (frame $idx), ${#dec[@]} stats lines paused with ${dec[0]} frames decoded throughout;" \
      "the picture in the pause is frame $best; all 200 frames bit-exact after the resume"
    ;;
  rate)
    start_client --exit-at-eos
    t0=$(date +%s.%N)
    play "$HOST_SOCK" --at 0.5:rate=2.0 --at 3.0:rate=0.5 || vr_fail "player failed: $(tail -n 3 "$VR_TMP/play.log")"
    t1=$(date +%s.%N)
    wait "$CLIENT" || vr_fail "client failed"
    grep '^action' "$VR_TMP/play.log"
    # Position at the second change: 0.5 s at 1x + 2.5 s at 2x = about 5.5 s.
    p2=$(sed -n 's/^action: [0-9.]* rate=0.5 position=\([0-9.]*\).*/\1/p' "$VR_TMP/play.log")
    python3 -c "import sys; sys.exit(0 if 4.5 <= $p2 <= 6.5 else 1)" ||
      vr_fail "at 2x the position after 3 s is $p2 s, want about 5.5"
    # Then 8 - ~5 s at 0.5x: at least 5 s more of wall clock.
    wall=$(echo "$t1 - $t0" | bc -l)
    python3 -c "import sys; sys.exit(0 if $wall >= 3.0 + 2 * (8 - $p2) * 0.9 else 1)" ||
      vr_fail "played too fast at 0.5x: $wall s in all"
    grep -q '^stats: stream .* clocked' "$VR_TMP/client.log" || vr_fail "never clocked"
    # Each rate change is a flushing key-unit seek: runs of FFmpeg's frames,
    # each after the first from a keyframe (every 25th frame), the last to the end.
    r=$(runs "$VR_TMP/client.md5" "$VR_TMP/ref.md5")
    n=0
    for run in $r; do
      [[ $run =~ ^([0-9]+):([0-9]+)$ ]] || vr_fail "a frame that is none of FFmpeg's: runs $r"
      [ "$n" = 0 ] || [ $((BASH_REMATCH[1] % 25)) = 0 ] || vr_fail "a run after a seek starts off a keyframe: runs $r"
      last=${BASH_REMATCH[2]}
      n=$((n + 1))
    done
    [ "$last" = 199 ] && [ "$n" -le 3 ] || vr_fail "runs $r: want at most 3, the last to frame 199"
    echo "rate: 2x then 0.5x, position $p2 s at the switch, $wall s in all; the client's frames are FFmpeg's runs $r"
    ;;
  step)
    start_client --exit-at-eos --present-log "$VR_TMP/present.log"
    play "$HOST_SOCK" --at 1.5:pause --at 2.3:step=1 --at 3.1:step=1 --at 3.9:step=3 --at 4.7:play ||
      vr_fail "player failed: $(tail -n 3 "$VR_TMP/play.log")"
    wait "$CLIENT" || vr_fail "client failed"
    grep '^action\|^step-done' "$VR_TMP/play.log"
    # Every frame once, bit-exact: the steps skipped none for the client.
    vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
    # What the client showed last before each next action is FFmpeg's frame at
    # the position the player reported then (the frame whose time it is in).
    python3 - "$VR_TMP/play.log" "$VR_TMP/present.log" "$VR_TMP/client.md5" "$VR_TMP/ref.md5" <<'PY' ||
import math, re, sys
play, present, got, ref = sys.argv[1:]
def md5s(p):
    rows = [l.split(',') for l in open(p) if l.strip() and not l.startswith('#')]
    return rows
g = md5s(got)
r = [row[-1].strip() for row in md5s(ref)]
tb = [l for l in open(got) if l.startswith('#tb')][0].split(':')[1].strip().split('/')
tb = int(tb[0]) / int(tb[1])
# The client's framemd5 pts (its time base) to the frame's index in FFmpeg's decode.
index = {}
for row in g:
    index[round(int(row[2]) * tb * 1e6)] = r.index(row[-1].strip())
shown = [(int(t), int(pts)) for _, pts, _, t, _ in (l.split() for l in open(present))]
ev = []
for l in open(play):
    m = re.match(r'^(action|step-done): [0-9.]+ (\S+) position=([-0-9.]+) mono=([0-9]+)', l)
    if m:
        ev.append((m.group(1), m.group(2), float(m.group(3)), int(m.group(4))))
acts = [e for e in ev if e[0] == 'action']
# Paused position: what the first step saw before it; then each step's own.
checks = [('pause', acts[1][2], acts[0][3], acts[1][3])]
steps = [e for e in ev if e[0] == 'step-done']
if len(steps) != 3:
    sys.exit(f'{len(steps)} steps done, want 3')
nxt = [a[3] for a in acts[2:]]
for i, st in enumerate(steps):
    checks.append((f'step {i + 1} ({st[1]})', st[2], st[3], nxt[i]))
out = []
for name, pos, t0, t1 in checks:
    want = math.floor(pos * 25 + 1e-6)
    before = [pts for t, pts in shown if t <= t1]
    if not before:
        sys.exit(f'{name}: nothing shown before {t1}')
    have = index.get(before[-1])
    if have != want:
        sys.exit(f'{name}: position {pos:.3f} s is frame {want}, the client shows frame {have} (pts {before[-1]})')
    out.append(f'{name} at {pos:.3f} s: frame {have}')
print('; '.join(out))
PY
      vr_fail "the client's picture is not the player's frame"
    echo "step: paused and stepped 1, 1, 3 frames, the client showed FFmpeg's frame at each position;" \
      "all 200 frames bit-exact after the resume"
    ;;
  close)
    "$VR_BIN/videoredir-guestd" --device "$HOST_SOCK" --socket "$VR_TMP/guestd.sock" -v 2>"$VR_TMP/guestd.log" &
    gd=$!
    VR_PIDS+=("$gd")
    vr_wait_for "$VR_TMP/guestd.log" "listening on" "$gd" 30 || vr_fail "videoredir-guestd did not start"
    start_client -v
    vr_wait_for "$VR_TMP/guestd.log" "session up" "$gd" 30 || vr_fail "no session"
    "$VR_GST_PLAY" --timeout 120 "playbin uri=file://$clip audio-sink=fakesink \
      video-sink=\"videoredirsink device=$VR_TMP/guestd.sock\"" >"$VR_TMP/play.log" 2>&1 &
    player=$!
    VR_PIDS+=("$player")
    # Playing (frames decoded), then killed.
    for ((i = 0; i < 600; i++)); do
      grep -q '^stats: stream .*decoded [1-9]' "$VR_TMP/client.log" && break
      sleep 0.05
    done
    grep -q '^stats: stream .*decoded [1-9]' "$VR_TMP/client.log" || vr_fail "the client decoded nothing"
    t0=$(date +%s%N)
    kill -KILL "$player"
    for ((i = 0; i < 2000; i++)); do
      grep -q 'stream [0-9]* ended (user)' "$VR_TMP/client.log" && break
      sleep 0.005
    done
    t1=$(date +%s%N)
    grep -q 'stream [0-9]* ended (user)' "$VR_TMP/client.log" ||
      vr_fail "the client did not end the stream after the player was killed: $(tail -n 5 "$VR_TMP/client.log")"
    ms=$(( (t1 - t0) / 1000000 ))
    [ "$ms" -lt 2000 ] || vr_fail "the video was removed only $ms ms after the player died"
    echo "close: player killed mid-stream, the client ended its stream $ms ms later (through videoredir-guestd)"
    ;;
  *) vr_fail "unknown mode $mode" ;;
esac
