#!/usr/bin/env bash
# Hostile guest over the real stack: videoredir-host (libspice-server) and
# videoredir-client (spice-glib). A crafted guest writes bad headers, malformed
# and unknown messages, a flood of tiny messages and hostile starts, then
# closes the port in the middle of a 1 MiB frame. After that a real
# videoredir-capture plays a clip over the same host and client: every frame
# must equal FFmpeg's decode (the rest of the session is unaffected), memory
# stays bounded, and the client and the host exit cleanly (LeakSanitizer in
# the sanitizer build).
# Usage: sec_hostile.sh CLIP   (env: VR_BIN, VR_MAX_RSS_MB)
clip=$1
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/seclib.sh"
[ -f "$clip" ] || vr_fail "no clip $clip"

vr_start_host
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --framemd5 "$VR_TMP/client.md5" \
  --exit-at-eos --timeout 150 --stats 2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
sec_watch client "$client"
sec_watch host "$HOST_PID"

"$VR_BIN/hostile_guest" "$HOST_SOCK" garbage >"$VR_TMP/hostile1.log" 2>&1 \
  || { cat "$VR_TMP/hostile1.log"; vr_fail "hostile guest (garbage) expectations"; }
cat "$VR_TMP/hostile1.log"
# The host takes one guest at a time: the next one connects once it has seen
# this one go (it refuses a second connection while the first is open).
gone() {
  local i
  for ((i = 0; i < 600; i++)); do
    [ "$(grep -c 'guest disconnected' "$VR_TMP/host.log" 2>/dev/null)" -ge "$1" ] && return 0
    kill -0 "$HOST_PID" 2>/dev/null || vr_fail "the host died"
    sleep 0.05
  done
  vr_fail "the host did not see guest $1 go"
}
gone 1
"$VR_BIN/hostile_guest" "$HOST_SOCK" partial >"$VR_TMP/hostile2.log" 2>&1 \
  || { cat "$VR_TMP/hostile2.log"; vr_fail "hostile guest (partial) expectations"; }
cat "$VR_TMP/hostile2.log"
kill -0 "$client" 2>/dev/null || vr_fail "client died during the hostile guest"
grep -q "skipped bad input" "$VR_TMP/client.log" || vr_fail "client did not log the bad input"
grep -q "rejected" "$VR_TMP/client.log" || vr_fail "client did not log the rejects"

# The real guest afterwards.
gone 2
"$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace none --window 100,80,640,360 \
  --connect-timeout 60 "$clip" >"$VR_TMP/capture.log" 2>&1 || vr_fail "capture failed after the hostile guest"
wait "$client" || vr_fail "client exit status $? (leak, or a stream not drained)"
sec_rss client
sec_rss host
vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
grep -E '^stats' "$VR_TMP/client.log" | tail -n 1
sec_stop_host
echo "PASS: hostile guest survived; clip bit-exact afterwards"
