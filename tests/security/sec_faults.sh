#!/usr/bin/env bash
# Fault injection over the real stack (videoredir-host + videoredir-client +
# videoredir-capture). After each fault: no crash, no hang, bounded memory,
# playback resumes from a keyframe with consecutive frames equal to FFmpeg's,
# and nothing is lost silently.
# Usage: sec_faults.sh CLIP FAULT   (CLIP: keyframe every 25 frames, 75 frames)
#   stall           SIGSTOP the client until the guest's window is full, SIGCONT
#   kill-client     SIGKILL the client mid-stream, start another one
#   restart-host    SIGTERM the host stand-in mid-stream, start it again
#   restart-capture SIGKILL the guest capture mid-stream, start it again
#   close-in-flight the port closes (client killed) while a guest write is blocked half-way
clip=$1
fault=$2
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/seclib.sh"
[ -f "$clip" ] || vr_fail "no clip $clip"
KEYS="0 25 50 75 100 125 150 175 200 225"
vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref1.md5"
# The clip played N times: the reference for --loop.
sec_ref_times() {
  local n=$1 i
  grep '^#' "$VR_TMP/ref1.md5" >"$VR_TMP/ref.md5"
  for ((i = 0; i < n; i++)); do grep -v '^#' "$VR_TMP/ref1.md5" >>"$VR_TMP/ref.md5"; done
}

start_capture() { # name, options...
  local name=$1
  shift
  "$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --window 100,80,640,360 --connect-timeout 60 \
    "$@" "$clip" >"$VR_TMP/$name.log" 2>&1 &
  CAPTURE_PID=$!
  VR_PIDS+=("$CAPTURE_PID")
}

case "$fault" in
stall)
  # 50 plays (about 8.5 MB) as fast as flow control allows; the client stops
  # reading for 2.5 s (the guest gives up on a client after 5 s of silence).
  sec_ref_times 50
  vr_start_host
  sec_watch host "$HOST_PID"
  sec_start_client client --framemd5 "$VR_TMP/client.md5" --exit-at-eos --timeout 150
  client=$CLIENT_PID
  start_capture capture --pace none --loop 49
  cap=$CAPTURE_PID
  vr_wait_for "$VR_TMP/client.log" 'decoded [1-9]' "$client" 60 || vr_fail "no frames before the stall"
  sec_watch capture "$cap"
  kill -STOP "$client"
  # Stopped for 2.5 s: the guest's window (2 MiB) and spice-server's queue
  # (1 MiB) fill; nothing may grow without bound meanwhile.
  sleep 2.5
  kill -CONT "$client"
  sec_rss capture
  wait "$cap" || vr_fail "capture exit status $?"
  wait "$client" || vr_fail "client exit status $?"
  vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
  grep -E '^stats' "$VR_TMP/client.log" | tail -n 1 | grep -q 'lost 0 ' || vr_fail "client reports lost frames"
  ;;
kill-client)
  sec_ref_times 2
  vr_start_host
  sec_watch host "$HOST_PID"
  sec_start_client client1 --framemd5 "$VR_TMP/client1.md5"
  c1=$CLIENT_PID
  start_capture capture --pace realtime --loop 1
  cap=$CAPTURE_PID
  vr_wait_for "$VR_TMP/client1.log" 'decoded [1-9]' "$c1" 60 || vr_fail "no frames before the kill"
  kill -KILL "$c1"
  wait "$c1" 2>/dev/null || true
  sec_start_client client2 --framemd5 "$VR_TMP/client2.md5" --exit-at-eos --timeout 60
  c2=$CLIENT_PID
  wait "$c2" || vr_fail "second client exit status $?"
  wait "$cap" || vr_fail "capture exit status $?"
  sec_check_run_from_key "$VR_TMP/client2.md5" "$VR_TMP/ref.md5" "$KEYS"
  sec_rss client2
  ;;
restart-host)
  sec_ref_times 2
  vr_start_host
  sec_start_client client1 --framemd5 "$VR_TMP/client1.md5"
  c1=$CLIENT_PID
  start_capture capture --pace realtime --loop 1
  cap=$CAPTURE_PID
  vr_wait_for "$VR_TMP/client1.log" 'decoded [1-9]' "$c1" 60 || vr_fail "no frames before the host went away"
  sec_stop_host
  st=0
  wait "$c1" || st=$?
  [ "$st" = 1 ] || vr_fail "first client: exit status $st, expected 1 (server closed)"
  grep -q "closed the connection" "$VR_TMP/client1.log" || vr_fail "first client did not say why it stopped"
  kill -0 "$cap" || vr_fail "capture died with the host"
  vr_start_host
  sec_watch host "$HOST_PID"
  sec_start_client client2 --framemd5 "$VR_TMP/client2.md5" --exit-at-eos --timeout 60
  c2=$CLIENT_PID
  wait "$c2" || vr_fail "second client exit status $?"
  wait "$cap" || vr_fail "capture exit status $?"
  sec_check_run_from_key "$VR_TMP/client2.md5" "$VR_TMP/ref.md5" "$KEYS"
  sec_rss client2
  ;;
close-in-flight)
  # The port closes while the guest's write is in flight. A 20 Mbit/s clip
  # (made here, ~100 KB a frame) plays in real time; the host stand-in stops
  # (SIGSTOP, as a stalled QEMU) until the guest's socket holds unsent bytes
  # of a frame (its write blocked half-way); the client is killed and the
  # host continues: it sees the client gone and the port closes under the
  # guest's pending write. The guest must notice, its half-written frame must
  # not corrupt the next session, and a new client resumes from a keyframe.
  ffmpeg -nostdin -v error -f lavfi -i "testsrc2=s=640x360:r=25,noise=alls=60:allf=t" -t 5 \
    -c:v libx264 -preset ultrafast -b:v 20M -g 25 -bf 2 -pix_fmt yuv420p "$VR_TMP/hb.mp4" \
    || vr_fail "cannot make the high-bitrate clip"
  clip=$VR_TMP/hb.mp4
  KEYS="0 25 50 75 100"
  vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
  vr_start_host
  sec_start_client client1 --framemd5 "$VR_TMP/client1.md5"
  c1=$CLIENT_PID
  start_capture capture --pace realtime
  cap=$CAPTURE_PID
  sec_watch capture "$cap"
  vr_wait_for "$VR_TMP/client1.log" 'decoded [1-9]' "$c1" 60 || vr_fail "no frames before the stall"
  kill -STOP "$HOST_PID"
  # Bounded wait until the guest has bytes the host did not take: the unix
  # socket's send queue as the kernel reports it, the same for 0.2 s.
  inflight=0
  prev=-1
  for _ in $(seq 20); do
    sleep 0.2
    inflight=$(sec_unsent "$cap")
    [ "$inflight" -gt 0 ] && [ "$inflight" = "$prev" ] && break
    prev=$inflight
    inflight=0
  done
  [ "$inflight" -gt 0 ] || { kill -CONT "$HOST_PID"; vr_fail "the guest's write never blocked"; }
  echo "guest blocked with $inflight bytes unsent in its socket"
  kill -KILL "$c1"
  wait "$c1" 2>/dev/null || true
  kill -CONT "$HOST_PID"
  sec_watch host "$HOST_PID"
  vr_wait_for "$VR_TMP/host.log" 'client closed the port' "$HOST_PID" 20 \
    || vr_fail "the host did not see the client go"
  kill -0 "$cap" || vr_fail "capture died when the port closed under its write"
  sec_start_client client2 --framemd5 "$VR_TMP/client2.md5" --exit-at-eos --timeout 60
  c2=$CLIENT_PID
  wait "$c2" || vr_fail "second client exit status $?"
  wait "$cap" || vr_fail "capture exit status $?"
  grep -q 'client restarted\|client silent\|closed by the host' "$VR_TMP/capture.log" \
    || vr_fail "the guest did not notice the client going"
  sec_check_run_from_key "$VR_TMP/client2.md5" "$VR_TMP/ref.md5" "$KEYS"
  grep -E '^stats' "$VR_TMP/client2.log" | tail -n 1 | grep -q 'lost 0 ' \
    || vr_fail "second client reports lost frames"
  # The guest's half-written frame may still reach the new client (it was in
  # the socket when the port closed): its reassembler skips it before the
  # guest's hello and says so; nothing after that may be skipped.
  ! grep -q 'skipped bad input' "$VR_TMP/client2.log" \
    || vr_fail "second client skipped input inside its session"
  grep 'skipped the tail' "$VR_TMP/client2.log" || echo "no tail of the old session reached the new client"
  sec_rss capture
  sec_rss client2
  ;;
restart-capture)
  sec_ref_times 1
  vr_start_host
  sec_watch host "$HOST_PID"
  sec_start_client client --framemd5 "$VR_TMP/client.md5" --exit-at-eos --timeout 90
  client=$CLIENT_PID
  start_capture capture1 --pace realtime
  vr_wait_for "$VR_TMP/client.log" 'decoded [1-9]' "$client" 60 || vr_fail "no frames before the kill"
  kill -KILL "$CAPTURE_PID"
  wait "$CAPTURE_PID" 2>/dev/null || true
  start_capture capture2 --pace none
  wait "$CAPTURE_PID" || vr_fail "second capture exit status $?"
  wait "$client" || vr_fail "client exit status $? (a stream not drained, or a leak)"
  # Frames of the killed guest first (from frame 0), then the whole clip.
  n1=$(( $(grep -v '^#' "$VR_TMP/client.md5" | wc -l) - 75 ))
  echo "first guest: $n1 frames before it was killed"
  head -n "$(( $(grep -c '^#' "$VR_TMP/client.md5") + n1 ))" "$VR_TMP/client.md5" >"$VR_TMP/part1.md5"
  sec_check_run_from_key "$VR_TMP/part1.md5" "$VR_TMP/ref.md5" 0
  grep -v '^#' "$VR_TMP/client.md5" | tail -n 75 >"$VR_TMP/part2.md5"
  vr_compare_md5 "$VR_TMP/part2.md5" "$VR_TMP/ref.md5"
  grep -q "closed" "$VR_TMP/client.log" || vr_fail "client did not log the port closing"
  sec_rss client
  ;;
*)
  vr_fail "unknown fault $fault"
  ;;
esac
sec_rss host
sec_stop_host
grep -E '^stats' "$VR_TMP"/client*.log | tail -n 2 || true
echo "PASS: $fault"
