#!/usr/bin/env bash
# A stop signal mid-stream loses nothing. Over the real stack (videoredir-host
# + videoredir-capture + videoredir-client; videoredir-replay on a recording),
# PROGRAM gets SIG (TERM or INT) once FRAMES frames were decoded, and then:
#   - it exits with its documented status (128 + signal; the host: 0);
#   - the client's framemd5 holds every frame its last --stats line says it
#     decoded, and they are FFmpeg's first ones of the clip;
#   - the recordings (--record of client and capture) replay, to the frames
#     the client decoded and the capture sent;
#   - the snapshot is a valid PNG, the statistics / summary lines are there.
# With PROGRAM host the client loses its connection and the capture its
# device: they end with an error (1, 4), and their files hold everything too.
# With PROGRAM capture-twice: a second signal while the capture finishes
# (its client is stopped, so it waits for the drain) ends it at once.
# Usage: signals.sh client|capture|host|replay|capture-twice TERM|INT
prog=$1
sig=$2
. "$(dirname "$0")/lib.sh"
: "${VR_SAMPLES:?VR_SAMPLES must point at samples/}"
clip=$VR_SAMPLES/h264-bframes.mp4
FRAMES=20
case $sig in INT) signo=2 ;; TERM) signo=15 ;; *) vr_fail "signal INT or TERM, not $sig" ;; esac
want_rc=$((128 + signo))
command -v ffmpeg >/dev/null || { echo "SKIP: no ffmpeg"; exit 77; }

# Frames in a framemd5 file so far (the writer flushes each line).
frames_in() { local n; n=$(grep -vc '^#' "$1" 2>/dev/null || true); echo "${n:-0}"; }

# Waits until FILE holds N lines that are not comments, while PID runs.
wait_lines() {
  local file=$1 n=$2 pid=$3 i
  for ((i = 0; i < 1200; i++)); do
    [ "$(frames_in "$file")" -ge "$n" ] && return 0
    vr_running "$pid" || vr_fail "pid $pid ended before $file had $n frames"
    sleep 0.05
  done
  vr_fail "$file has $(frames_in "$file") frames after 60 s, want $n"
}

# Waits for PID (a child) and checks its exit status; 20 s at most.
expect_exit() {
  local pid=$1 want=$2 what=$3 i rc gone=0
  # (Asked once per turn: bash may reap the zombie between two questions.)
  for ((i = 0; i < 400; i++)); do vr_running "$pid" || { gone=1; break; }; sleep 0.05; done
  [ "$gone" = 1 ] || vr_fail "$what still runs 20 s after the signal"
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" = "$want" ] || vr_fail "$what exit status $rc, want $want"
  echo "$what: exit status $rc, $(( ($(date +%s%N) - ${signalled_ns:-$(date +%s%N)}) / 1000000 )) ms after the signal"
}

# Sends SIG to PID and notes when.
signal_now() { signalled_ns=$(date +%s%N); kill -"$1" "$2"; }

# FFmpeg's frames of the clip, played 4 times (capture --loop 3).
ffmpeg -nostdin -v error -i "$clip" -map 0:v:0 -f framemd5 - >"$VR_TMP/clip.md5"
vr_md5_column "$VR_TMP/clip.md5" >"$VR_TMP/one.col"
cat "$VR_TMP/one.col" "$VR_TMP/one.col" "$VR_TMP/one.col" "$VR_TMP/one.col" >"$VR_TMP/ref.col"

# FILE's frames must be FFmpeg's first N; N (the count) is printed.
check_prefix() {
  local file=$1 what=$2 n
  vr_md5_column "$file" >"$VR_TMP/got.col"
  n=$(wc -l <"$VR_TMP/got.col")
  [ "$n" -gt 0 ] || vr_fail "$what: no frames"
  head -n "$n" "$VR_TMP/ref.col" | cmp -s - "$VR_TMP/got.col" \
    || vr_fail "$what: its $n frames are not FFmpeg's first $n: $(diff <(head -n "$n" "$VR_TMP/ref.col") "$VR_TMP/got.col" | head -n 3 || true)"
  echo "$n"
}

check_png() {
  [ -s "$1" ] || vr_fail "no snapshot $1"
  [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || vr_fail "$1 is not a PNG"
  ffmpeg -nostdin -v error -i "$1" -f null - || vr_fail "$1 does not decode"
}

# The replay of a recording: its frames (FFmpeg's first ones) are printed.
replay_frames() {
  local rec=$1 what=$2 rc=0
  "$VR_BIN/videoredir-replay" --framemd5 "$VR_TMP/$what.replay.md5" "$rec" 2>"$VR_TMP/$what.replay.log" \
    || rc=$?
  [ "$rc" = 0 ] || vr_fail "videoredir-replay of the $what recording: exit $rc: $(tail -n 3 "$VR_TMP/$what.replay.log")"
  check_prefix "$VR_TMP/$what.replay.md5" "replay of the $what recording"
}

# The client's framemd5 against its last stats line: every decoded frame is
# in the file, and they are FFmpeg's. Prints the count.
check_client() {
  local decoded n
  grep -q '^stats: stream' "$VR_TMP/client.log" || vr_fail "the client printed no stats line"
  decoded=$(grep '^stats: stream' "$VR_TMP/client.log" | tail -n 1 | sed -n 's/.* decoded \([0-9]*\) .*/\1/p')
  [ -n "$decoded" ] || vr_fail "no decoded count in the last stats line"
  n=$(check_prefix "$VR_TMP/client.md5" "the client's framemd5")
  [ "$n" = "$decoded" ] || vr_fail "the client's framemd5 has $n frames, its stats say it decoded $decoded"
  check_png "$VR_TMP/snap.png"
  echo "$n"
}

if [ "$prog" = replay ]; then
  rec=$VR_SAMPLES/recordings/h264.vrr
  "$VR_BIN/videoredir-replay" --pace --framemd5 "$VR_TMP/client.md5" --snapshot "$VR_TMP/snap.png" \
    --present-log "$VR_TMP/present.log" "$rec" 2>"$VR_TMP/replay.log" &
  pid=$!
  VR_PIDS+=("$pid")
  wait_lines "$VR_TMP/present.log" "$FRAMES" "$pid"
  signal_now "$sig" "$pid"
  expect_exit "$pid" "$want_rc" videoredir-replay
  decoded=$(sed -n 's/.* \([0-9]*\) frames decoded.*/\1/p' "$VR_TMP/replay.log")
  [ -n "$decoded" ] || vr_fail "no summary line"
  n=$(check_prefix "$VR_TMP/client.md5" "the replay's framemd5")
  [ "$n" = "$decoded" ] || vr_fail "framemd5 has $n frames, the summary says $decoded were decoded"
  [ "$n" -ge "$FRAMES" ] || vr_fail "only $n frames"
  [ "$(wc -l <"$VR_TMP/present.log")" -ge "$FRAMES" ] || vr_fail "present log lost lines"
  check_png "$VR_TMP/snap.png"
  grep "frames decoded" "$VR_TMP/replay.log"
  echo "PASS: SIG$sig stopped videoredir-replay after $n frames; all in its outputs"
  exit 0
fi

# With the host gone the capture waits this long for it, then gives up (exit 4).
connect_timeout=60
[ "$prog" = host ] && connect_timeout=8
vr_start_host
n_ch=$(vr_port_channels)
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --framemd5 "$VR_TMP/client.md5" \
  --record "$VR_TMP/client.vrr" --snapshot "$VR_TMP/snap.png" --stats --timeout 120 \
  2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
vr_wait_port_channel "$n_ch" "$client"
"$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime --loop 3 --window 100,80,640,360 \
  --record "$VR_TMP/capture.vrr" --connect-timeout "$connect_timeout" "$clip" >"$VR_TMP/capture.out" 2>"$VR_TMP/capture.log" &
capture=$!
VR_PIDS+=("$capture")
wait_lines "$VR_TMP/client.md5" "$FRAMES" "$client"

# FRAME records (guest -> client) in a recording.
recorded_frames() { python3 "$(dirname "$0")/../replay/vrrec.py" list "$1" | grep -c ' MSG guest->client FRAME stream' || true; }

# The capture's summary: its frame count.
capture_sent() {
  local sent
  sent=$(sed -n 's/^videoredir-capture: \([0-9]*\) frames, .*/\1/p' "$VR_TMP/capture.out")
  [ -n "$sent" ] || vr_fail "the capture printed no summary"
  echo "$sent"
}

case $prog in
client)
  signal_now "$sig" "$client"
  expect_exit "$client" "$want_rc" videoredir-client
  grep -q "stopped by SIG$sig after" "$VR_TMP/client.log" || vr_fail "the client did not say it was stopped"
  n=$(check_client)
  [ "$n" -ge "$FRAMES" ] || vr_fail "only $n frames"
  r=$(replay_frames "$VR_TMP/client.vrr" client)
  [ "$r" -ge "$n" ] || vr_fail "the client's recording replays to $r frames, it had decoded $n"
  # The capture goes on without a client; stopped too, it reports what it sent.
  signal_now TERM "$capture"
  expect_exit "$capture" 143 videoredir-capture
  sent=$(capture_sent)
  [ "$sent" -ge "$n" ] || vr_fail "the capture sent $sent frames, the client decoded $n"
  echo "PASS: SIG$sig stopped videoredir-client after $n decoded frames; framemd5, stats, snapshot and its recording ($r frames) hold them"
  ;;
capture)
  signal_now "$sig" "$capture"
  expect_exit "$capture" "$want_rc" videoredir-capture
  grep -q "stopping the stream" "$VR_TMP/capture.log" || vr_fail "the capture did not say it was stopped"
  sent=$(capture_sent)
  [ "$(recorded_frames "$VR_TMP/capture.vrr")" = "$sent" ] \
    || vr_fail "the capture's recording has $(recorded_frames "$VR_TMP/capture.vrr") frames, its summary says $sent were sent"
  r=$(replay_frames "$VR_TMP/capture.vrr" capture)
  # The capture delivered every frame before the stream's end (user): the
  # client received them all. A stop by the user removes the video at once:
  # neither the client nor the replay drains the decoder's reordering delay,
  # and the client's decoder thread drops what it had not decoded yet (the
  # replay decodes inline, so it decodes at least as many).
  vr_wait_for "$VR_TMP/client.log" "ended: user" "$client" 20 || vr_fail "the client did not see the stream end"
  signal_now TERM "$client"
  expect_exit "$client" 143 videoredir-client
  n=$(check_client)
  received=$(sed -n 's/.*stream 1 ended (user): \([0-9]*\) frames received.*/\1/p' "$VR_TMP/client.log")
  [ "$received" = "$sent" ] || vr_fail "the client received ${received:-no} frames, the capture sent $sent"
  [ "$n" -le "$r" ] || vr_fail "the client decoded $n frames, the capture's recording replays to only $r"
  [ "$r" -le "$sent" ] && [ "$r" -ge $((sent - 4)) ] || vr_fail "the replay decoded $r frames of $sent sent"
  [ "$n" -ge "$FRAMES" ] || vr_fail "the client decoded only $n frames"
  echo "PASS: SIG$sig stopped videoredir-capture after $sent frames sent, all in its recording and received; the replay decoded $r, the client $n"
  ;;
host)
  signal_now "$sig" "$HOST_PID"
  expect_exit "$HOST_PID" 0 videoredir-host
  [ ! -e "$HOST_SOCK" ] || vr_fail "the host left its socket file"
  # The client lost its connection: an error, but its files hold everything.
  expect_exit "$client" 1 videoredir-client
  grep -q "closed the connection" "$VR_TMP/client.log" || vr_fail "the client did not say the connection was lost"
  n=$(check_client)
  [ "$n" -ge "$FRAMES" ] || vr_fail "only $n frames"
  r=$(replay_frames "$VR_TMP/client.vrr" client)
  [ "$r" -ge "$n" ] || vr_fail "the client's recording replays to $r frames, it had decoded $n"
  # The capture lost its device and waits for it again; when no client came
  # back within its connect timeout it gives up, with its files finished.
  signalled_ns=$(date +%s%N)
  expect_exit "$capture" 4 videoredir-capture
  grep -q "no client answered" "$VR_TMP/capture.log" || vr_fail "the capture did not say why it gave up"
  sent=$(capture_sent)
  [ "$(recorded_frames "$VR_TMP/capture.vrr")" = "$sent" ] \
    || vr_fail "the capture's recording has $(recorded_frames "$VR_TMP/capture.vrr") frames, its summary says $sent were sent"
  replay_frames "$VR_TMP/capture.vrr" capture >/dev/null
  echo "PASS: SIG$sig stopped videoredir-host; the client (connection lost) kept its $n decoded frames, the capture (no client) its $sent sent"
  ;;
capture-twice)
  # A client that does not answer: the capture's finishing waits for the
  # stop's feedback (up to 1 s). The second signal must not wait for it.
  kill -STOP "$client"
  # A frame sent after that is never acknowledged: wait for one (its record).
  size0=$(stat -c %s "$VR_TMP/capture.vrr")
  for ((i = 0; i < 400; i++)); do
    [ "$(stat -c %s "$VR_TMP/capture.vrr")" -gt $((size0 + 1000)) ] && break
    sleep 0.05
  done
  [ "$(stat -c %s "$VR_TMP/capture.vrr")" -gt $((size0 + 1000)) ] || vr_fail "the capture sent nothing more"
  kill -"$sig" "$capture"
  vr_wait_for "$VR_TMP/capture.log" "stopping the stream" "$capture" 20 \
    || vr_fail "the capture did not see the first signal"
  signal_now "$sig" "$capture"
  expect_exit "$capture" "$want_rc" videoredir-capture
  kill -CONT "$client"
  if grep -q "frames, " "$VR_TMP/capture.out"; then
    vr_fail "the capture finished normally after the second signal (it should have exited at once)"
  fi
  echo "PASS: a second SIG$sig ended videoredir-capture at once"
  ;;
*) vr_fail "unknown program $prog" ;;
esac
