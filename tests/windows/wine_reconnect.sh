#!/usr/bin/env bash
# The Windows port adapter when the host side goes away and comes back:
# videoredir-capture.exe (Wine) streams a looping clip to host A; host A and
# its client are killed mid-stream; the adapter reports the end, reopens
# every 500 ms, reaches host B on the same address, and client B decodes the
# rest bit-exact (from the next keyframe: a run of whole frames of the clip).
clip=$1
. "$(dirname "$0")/lib.sh"
[ -n "$VR_WINE" ] || vr_win_skip "no wine64 (Debian wine64)"
[ -f "$VR_WIN_BUILD/bin/videoredir-capture.exe" ] || vr_win_skip "no cross build in $VR_WIN_BUILD"
. "$VR_SOURCE_DIR/tests/e2e/lib.sh"

vr_start_host --guest-tcp 127.0.0.1:0
tcp=$(sed -n 's/.* guest-tcp=\([0-9.]*:[0-9]*\).*/\1/p' "$VR_TMP/host.out")
[ -n "$tcp" ] || vr_fail "host printed no guest-tcp address"
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --timeout 60 2>"$VR_TMP/clientA.log" &
clientA=$!
VR_PIDS+=("$clientA")
(cd "$VR_WIN_BUILD/bin" && exec timeout 120 "$VR_WINE" ./videoredir-capture.exe --device "tcp:$tcp" \
   --pace realtime --loop 3 --connect-timeout 60 "$(vr_winpath "$clip")") >"$VR_TMP/capture.log" 2>&1 &
capture=$!
VR_PIDS+=("$capture")
vr_wait_for "$VR_TMP/capture.log" "accepted" "$capture" 60 || vr_fail "host A's client never accepted the stream"
sleep 0.5 # let some frames flow to client A (not a race: any amount is fine)
kill "$HOST_PID" "$clientA"
wait "$HOST_PID" 2>/dev/null || true
wait "$clientA" 2>/dev/null || true
vr_wait_for "$VR_TMP/capture.log" "closed by the host" "$capture" 30 || vr_fail "capture.exe did not see the port close"

# Host B on the same guest address.
for try in 1 2 3 4 5 6; do
  portB=$((20000 + RANDOM % 30000))
  "$VR_BIN/videoredir-host" --spice-port "$portB" --guest-socket "$VR_TMP/guestB.sock" --guest-tcp "$tcp" \
    >"$VR_TMP/hostB.out" 2>"$VR_TMP/hostB.log" &
  hostB=$!
  if vr_wait_for "$VR_TMP/hostB.out" "ready" "$hostB" 15; then VR_PIDS+=("$hostB"); break; fi
  wait "$hostB" 2>/dev/null || true
  hostB=
done
[ -n "$hostB" ] || vr_fail "host B did not start"
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$portB" --framemd5 "$VR_TMP/clientB.md5" \
  --exit-at-eos --timeout 90 2>"$VR_TMP/clientB.log" &
clientB=$!
VR_PIDS+=("$clientB")
wait "$capture" || vr_fail "videoredir-capture.exe failed ($?)"
wait "$clientB" || vr_fail "client B failed"
cat "$VR_TMP/capture.log"
grep -q 'guest connected' "$VR_TMP/hostB.log" || vr_fail "capture.exe never reached host B"

vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
vr_md5_column "$VR_TMP/ref.md5" >"$VR_TMP/ref.col"
cat "$VR_TMP/ref.col" "$VR_TMP/ref.col" "$VR_TMP/ref.col" "$VR_TMP/ref.col" >"$VR_TMP/ref4.col"
vr_md5_column "$VR_TMP/clientB.md5" >"$VR_TMP/got.col"
n=$(wc -l <"$VR_TMP/got.col")
[ "$n" -gt 0 ] || vr_fail "client B decoded nothing"
tail -n "$n" "$VR_TMP/ref4.col" | cmp -s - "$VR_TMP/got.col" ||
  vr_fail "client B's $n frames are not the end of the looped clip"
echo "reconnect: client B decoded the last $n frames bit-exact"
