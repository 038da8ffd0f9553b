#!/usr/bin/env bash
# Decoder back ends over the real stack (videoredir-host + capture + client):
# --hwdec vaapi on a machine without a VA-API device logs a clear fallback
# line, says "software" in its hello and ACCEPT (no hardware flag), and still
# decodes bit-exact against ffmpeg's framemd5. Then --codecs: a client that
# offers only vp9 rejects an H.264 stream (the capture exits 3).
# Usage: e2e_hwdec.sh CLIP (H.264)
clip=$1
. "$(dirname "$0")/../e2e/lib.sh"
[ -f "$clip" ] || vr_fail "no clip $clip"
if [ -e /dev/dri/renderD128 ] && vainfo >/dev/null 2>&1; then
  echo "SKIP: this machine has a VA-API device; the fallback is not what would happen"
  exit 0
fi

vr_start_host
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --hwdec vaapi -v \
  --framemd5 "$VR_TMP/client.md5" --exit-at-eos --timeout 90 2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
"$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace none -v --connect-timeout 60 "$clip" \
  >"$VR_TMP/capture.log" 2>&1 || vr_fail "capture failed"
wait "$client" || vr_fail "client failed"
fallback=$(grep -m1 'hardware decoder vaapi not used' "$VR_TMP/client.log") ||
  vr_fail "no fallback line for vaapi in the client log"
echo "client: ${fallback#*: }"
grep -q 'decoder h264 (software)' "$VR_TMP/client.log" || vr_fail "stream not decoded in software"
! grep -q 'hardware decoder \(vdpau\|cuda\) not used' "$VR_TMP/client.log" ||
  vr_fail "--hwdec vaapi probed other hardware back ends"
accept=$(grep -m1 -i 'accept' "$VR_TMP/capture.log") || vr_fail "capture logged no ACCEPT"
echo "capture: ${accept#*: }"
case "$accept" in *software*) ;; *) vr_fail "ACCEPT does not name the software decoder" ;; esac
vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"

# --codecs: only vp9 offered and accepted.
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --codecs vp9 --timeout 60 \
  2>"$VR_TMP/client2.log" &
client2=$!
VR_PIDS+=("$client2")
rc=0
"$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace none --connect-timeout 60 "$clip" \
  >"$VR_TMP/capture2.log" 2>&1 || rc=$?
kill "$client2" 2>/dev/null || true
wait "$client2" 2>/dev/null || true
grep -q 'h264 is not enabled' "$VR_TMP/client2.log" || vr_fail "client did not reject h264"
[ "$rc" = 3 ] || grep -qi 'reject\|fall' "$VR_TMP/capture2.log" ||
  vr_fail "capture did not see the rejection (exit $rc)"
echo "--codecs vp9: h264 rejected (capture exit $rc)"
