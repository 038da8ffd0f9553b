#!/usr/bin/env bash
# End to end with the Windows guest side: videoredir-capture.exe under Wine
# -> TCP -> videoredir-host (libspice-server) -> videoredir-client
# (spice-glib). The client's framemd5 must equal FFmpeg's decode of the clip.
# Usage: wine_e2e.sh CLIP
clip=$1
. "$(dirname "$0")/lib.sh"
[ -n "$VR_WINE" ] || vr_win_skip "no wine64 (Debian wine64)"
[ -f "$VR_WIN_BUILD/bin/videoredir-capture.exe" ] || vr_win_skip "no cross build in $VR_WIN_BUILD"
. "$VR_SOURCE_DIR/tests/e2e/lib.sh"
[ -f "$clip" ] || vr_fail "no clip $clip"

vr_start_host --guest-tcp 127.0.0.1:0
tcp=$(sed -n 's/.* guest-tcp=\([0-9.]*:[0-9]*\).*/\1/p' "$VR_TMP/host.out")
[ -n "$tcp" ] || vr_fail "host printed no guest-tcp address"
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --framemd5 "$VR_TMP/client.md5" \
  --exit-at-eos --timeout 120 --stats 2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
start=$(date +%s.%N)
(cd "$VR_WIN_BUILD/bin" && timeout 150 "$VR_WINE" ./videoredir-capture.exe --device "tcp:$tcp" \
   --pace none --window 100,80,640,360 --connect-timeout 90 "$(vr_winpath "$clip")") \
  >"$VR_TMP/capture.log" 2>&1 || vr_fail "videoredir-capture.exe failed ($?)"
wait "$client" || vr_fail "client failed"
end=$(date +%s.%N)
cat "$VR_TMP/capture.log"
grep -q 'guest connected' "$VR_TMP/host.log" || vr_fail "the guest did not come over TCP"
vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
printf 'capture.exe start to client end: %.1f s\n' "$(echo "$end - $start" | bc)"
