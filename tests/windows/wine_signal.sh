#!/usr/bin/env bash
# Ctrl+C mid-stream to videoredir-capture.exe under Wine (SIGINT to the Wine
# process: Wine raises the console's CTRL_C_EVENT, the C runtime calls the
# program's SIGINT handler on a thread of its own; the sender sees the stop
# flag within its 50 ms wait). Over the real stack (TCP -> videoredir-host ->
# videoredir-client):
#   - it exits 130 (as on Linux), saying it stopped the stream;
#   - its summary and its --record file hold every frame sent, and that
#     recording replays (videoredir-replay) to FFmpeg's first frames;
#   - the client sees the stream end (user) and decoded what the replay did.
# With "twice": a second Ctrl+C while it waits for an unanswering client's
# feedback ends it at once (the handler put the default action back), with
# no summary.
# Usage: wine_signal.sh CLIP [once|twice]
clip=$1
mode=${2:-once}
. "$(dirname "$0")/lib.sh"
[ -n "$VR_WINE" ] || vr_win_skip "no wine64 (Debian wine64)"
[ -f "$VR_WIN_BUILD/bin/videoredir-capture.exe" ] || vr_win_skip "no cross build in $VR_WIN_BUILD"
. "$VR_SOURCE_DIR/tests/e2e/lib.sh"
[ -f "$clip" ] || vr_fail "no clip $clip"
FRAMES=20

frames_in() { local n; n=$(grep -vc '^#' "$1" 2>/dev/null || true); echo "${n:-0}"; }

# FILE's frames must be FFmpeg's first N (the clip played 4 times); prints N.
check_prefix() {
  local n
  vr_md5_column "$1" >"$VR_TMP/got.col"
  n=$(wc -l <"$VR_TMP/got.col")
  [ "$n" -gt 0 ] || vr_fail "$2: no frames"
  head -n "$n" "$VR_TMP/ref.col" | cmp -s - "$VR_TMP/got.col" || vr_fail "$2: its $n frames are not FFmpeg's first $n"
  echo "$n"
}

# Waits for PID (a child: not in a subshell) to end, at most 20 s (then it
# is killed and the test fails); its status in rc.
wait_exit() {
  local pid=$1 dog done_pid=
  sleep 20 &
  dog=$!
  rc=0
  wait -n -p done_pid "$pid" "$dog" || rc=$?
  if [ "$done_pid" != "$pid" ]; then
    kill -KILL "$pid" 2>/dev/null || true
    vr_fail "pid $pid still ran 20 s after the signal"
  fi
  kill "$dog" 2>/dev/null || true
  wait "$dog" 2>/dev/null || true
}

ffmpeg -nostdin -v error -i "$clip" -map 0:v:0 -f framemd5 - >"$VR_TMP/clip.md5"
vr_md5_column "$VR_TMP/clip.md5" >"$VR_TMP/one.col"
cat "$VR_TMP/one.col" "$VR_TMP/one.col" "$VR_TMP/one.col" "$VR_TMP/one.col" >"$VR_TMP/ref.col"

vr_start_host --guest-tcp 127.0.0.1:0
tcp=$(sed -n 's/.* guest-tcp=\([0-9.]*:[0-9]*\).*/\1/p' "$VR_TMP/host.out")
[ -n "$tcp" ] || vr_fail "host printed no guest-tcp address"
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --framemd5 "$VR_TMP/client.md5" \
  --stats --timeout 120 2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
# The exe itself is this child (Wine's loader becomes it): the signal goes to it.
(cd "$VR_WIN_BUILD/bin" && exec "$VR_WINE" ./videoredir-capture.exe --device "tcp:$tcp" \
   --pace realtime --loop 3 --window 100,80,640,360 --connect-timeout 90 \
   --record "$(vr_winpath "$VR_TMP")/capture.vrr" "$(vr_winpath "$clip")") \
  >"$VR_TMP/capture.out" 2>"$VR_TMP/capture.log" &
capture=$!
VR_PIDS+=("$capture")
for ((i = 0; i < 1800; i++)); do
  [ "$(frames_in "$VR_TMP/client.md5")" -ge "$FRAMES" ] && break
  vr_running "$capture" || vr_fail "videoredir-capture.exe ended early"
  sleep 0.05
done
[ "$(frames_in "$VR_TMP/client.md5")" -ge "$FRAMES" ] || vr_fail "the client decoded no $FRAMES frames in 90 s"

if [ "$mode" = twice ]; then
  # A client that does not answer: finishing waits for the stop's feedback
  # (up to 1 s); the second Ctrl+C must not wait for it.
  kill -STOP "$client"
  # A frame sent after that is never acknowledged: wait for one (its record).
  size0=$(stat -c %s "$VR_TMP/capture.vrr")
  for ((i = 0; i < 400; i++)); do
    [ "$(stat -c %s "$VR_TMP/capture.vrr")" -gt $((size0 + 1000)) ] && break
    sleep 0.05
  done
  [ "$(stat -c %s "$VR_TMP/capture.vrr")" -gt $((size0 + 1000)) ] || vr_fail "the capture sent nothing more"
  kill -INT "$capture"
  vr_wait_for "$VR_TMP/capture.log" "stopping the stream" "$capture" 20 \
    || vr_fail "videoredir-capture.exe did not see the first Ctrl+C"
  t0=$(date +%s%N)
  kill -INT "$capture"
  wait_exit "$capture"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  kill -CONT "$client"
  cat "$VR_TMP/capture.out" "$VR_TMP/capture.log"
  # The default action ends it: no summary, and the status is not the
  # program's (Wine's default console handler exits 0; Windows gives
  # STATUS_CONTROL_C_EXIT).
  grep -q "frames, " "$VR_TMP/capture.out" && vr_fail "it finished normally after the second Ctrl+C (exit $rc)"
  [ "$rc" != 130 ] || vr_fail "exit status 130 after the second Ctrl+C: it finished normally"
  [ "$ms" -lt 900 ] || vr_fail "it took $ms ms to end after the second Ctrl+C (the drain waits 1 s)"
  echo "PASS: a second Ctrl+C ended videoredir-capture.exe at once (status $rc, $ms ms after it)"
  exit 0
fi

t0=$(date +%s%N)
kill -INT "$capture"
wait_exit "$capture"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cat "$VR_TMP/capture.out"
[ "$rc" = 130 ] || vr_fail "videoredir-capture.exe exit status $rc after Ctrl+C, want 130"
grep -q "stopping the stream" "$VR_TMP/capture.log" || vr_fail "it did not say it stopped the stream"
grep -q "stopped by SIGINT" "$VR_TMP/capture.log" || vr_fail "it did not say what stopped it"
sent=$(sed -n 's/^videoredir-capture: \([0-9]*\) frames, .*/\1/p' "$VR_TMP/capture.out")
[ -n "$sent" ] || vr_fail "no summary"
recorded=$(python3 "$VR_SOURCE_DIR/tests/replay/vrrec.py" list "$VR_TMP/capture.vrr" | grep -c ' MSG guest->client FRAME stream' || true)
[ "$recorded" = "$sent" ] || vr_fail "the recording has $recorded frames, the summary says $sent were sent"
"$VR_BIN/videoredir-replay" --framemd5 "$VR_TMP/replay.md5" "$VR_TMP/capture.vrr" 2>"$VR_TMP/replay.log" \
  || vr_fail "videoredir-replay of the recording failed"
r=$(check_prefix "$VR_TMP/replay.md5" "the replay of the recording")
vr_wait_for "$VR_TMP/client.log" "ended: user" "$client" 20 || vr_fail "the client did not see the stream end"
kill -TERM "$client"
wait_exit "$client"
[ "$rc" = 143 ] || vr_fail "videoredir-client exit status $rc, want 143"
n=$(check_prefix "$VR_TMP/client.md5" "the client's framemd5")
# Every frame sent reached the client; a stop by the user ends the stream at
# once, so the client's decoder thread may have decoded fewer than the
# replay (inline) of the same frames.
received=$(sed -n 's/.*stream 1 ended (user): \([0-9]*\) frames received.*/\1/p' "$VR_TMP/client.log")
[ "$received" = "$sent" ] || vr_fail "the client received ${received:-no} frames, the capture sent $sent"
[ "$n" -le "$r" ] || vr_fail "the client decoded $n frames, the recording replays to only $r"
echo "PASS: Ctrl+C stopped videoredir-capture.exe (exit 130, $ms ms after the signal) after $sent frames sent, all in its recording and received; the replay decoded $r, the client $n"
