#!/usr/bin/env bash
# The Media Foundation decoder transform (videoredir-mft.dll) in a Media
# Foundation pipeline step under Wine: vr-mfplay.exe asks MF for the H.264 /
# HEVC decoders (MFTEnumEx, the DLL registered for the process with
# MFTRegisterLocal) and decodes with the first that takes the stream.
# Usage: wine_mft.sh e2e|e2e-params|fallback|client-gone|client-back CLIP
#  e2e:      (H.264, HEVC, AV1) host stand-in (--guest-tcp) + videoredir-client: the videoredir
#            transform must take the stream, every frame it outputs must carry
#            the marker code it announced, and the client's framemd5 must
#            equal FFmpeg's decode of the clip.
#  e2e-params: the same with the parameter sets taken out of the samples
#            and given in MF_MT_MPEG_SEQUENCE_HEADER (Windows' MP4 source):
#            the transform must put them back in band at every keyframe.
#  fallback: host stand-in, no client: the transform must decline and the
#            next decoder (Wine's own) decode every access unit, exit 0.
#  client-gone: the clip three times; the client is killed once the stream
#            is accepted: the transform must go on with a local decoder
#            (Wine's) from a keyframe, every access unit giving a picture.
#  client-back: the same, the clip five times, and a new client once the
#            local decoder runs: placeholders again (marker, pictures,
#            marker), and the new client decodes FFmpeg's frames.
mode=$1 clip=$2
. "$(dirname "$0")/lib.sh"
[ -n "$VR_WINE" ] || vr_win_skip "no wine64 (Debian wine64)"
for f in vr-mfplay.exe videoredir-mft.dll; do
  [ -f "$VR_WIN_BUILD/bin/$f" ] || vr_win_skip "no $f in $VR_WIN_BUILD/bin (cross build)"
done
. "$VR_SOURCE_DIR/tests/e2e/lib.sh"
[ -f "$clip" ] || vr_fail "no clip $clip"

vr_start_host --guest-tcp 127.0.0.1:0
tcp=$(sed -n 's/.* guest-tcp=\([0-9.]*:[0-9]*\).*/\1/p' "$VR_TMP/host.out")
[ -n "$tcp" ] || vr_fail "host printed no guest-tcp address"
if [ "$mode" != fallback ]; then
  "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --framemd5 "$VR_TMP/client.md5" \
    --exit-at-eos --timeout 120 --stats 2>"$VR_TMP/client.log" &
  client=$!
  VR_PIDS+=("$client")
  # The transform waits 1.5 s for a client's hello when the stream is set:
  # the client must have the port before the player starts.
  vr_wait_port_channel 0 "$client"
  expect=(--expect videoredir --marker)
  [ "$mode" = client-gone ] && expect=(--expect videoredir --loop 3 --md5 "$(vr_winpath "$VR_TMP")\\frames.md5")
  [ "$mode" = client-back ] && expect=(--expect videoredir --loop 5)
  [ "$mode" = e2e-params ] && expect+=(--params-in-type)
else
  expect=(--expect other)
fi

start=$(date +%s.%N)
(cd "$VR_WIN_BUILD/bin" && VIDEOREDIR_DEVICE="tcp:$tcp" VIDEOREDIR_MFT_LOG=1 WINEDLLOVERRIDES="$WINEDLLOVERRIDES" \
   exec timeout 150 "$VR_WINE" ./vr-mfplay.exe --dll videoredir-mft.dll "${expect[@]}" "$(vr_winpath "$clip")") \
  >"$VR_TMP/mfplay.log" 2>&1 &
player=$!
if [ "$mode" = client-gone ] || [ "$mode" = client-back ]; then
  vr_wait_for "$VR_TMP/mfplay.log" "goes to the SPICE client" "$player" 60 ||
    { cat "$VR_TMP/mfplay.log"; vr_fail "the transform did not take the stream"; }
  kill -KILL "$client"
  wait "$client" 2>/dev/null || true
fi
if [ "$mode" = client-back ]; then
  vr_wait_for "$VR_TMP/mfplay.log" "decoding locally with" "$player" 60 ||
    { cat "$VR_TMP/mfplay.log"; vr_fail "no local decoder after the client went away"; }
  opened=$(vr_port_channels)
  "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --framemd5 "$VR_TMP/client2.md5" \
    --exit-at-eos --timeout 120 --stats 2>"$VR_TMP/client2.log" &
  client2=$!
  VR_PIDS+=("$client2")
  vr_wait_port_channel "$opened" "$client2"
fi
rc=0
wait "$player" || rc=$?
rc=$(vr_wine_rc "$rc" "$VR_TMP/mfplay.log" vr-mfplay)
[ "$rc" = 0 ] || { cat "$VR_TMP/mfplay.log"; vr_fail "vr-mfplay.exe failed (exit $rc)"; }
end=$(date +%s.%N)
cat "$VR_TMP/mfplay.log"
grep -q 'guest connected' "$VR_TMP/host.log" || vr_fail "the transform did not reach the host over TCP"
units=$(ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets -of csv=p=0 "$clip")
line=$(grep '^frames:' "$VR_TMP/mfplay.log") || vr_fail "vr-mfplay.exe printed no frame count"
[[ $line =~ ^frames:\ ([0-9]+)\ in,\ ([0-9]+)\ out ]] || vr_fail "unreadable: $line"
n_in=${BASH_REMATCH[1]} n_out=${BASH_REMATCH[2]}
if [ "$mode" = client-back ]; then
  wait "$client2" || vr_fail "the second client failed"
  [ "$n_in" = $((5 * units)) ] || vr_fail "$n_in access units pushed, the clip five times has $((5 * units))"
  runs=$(sed -n 's/^runs: //p' "$VR_TMP/mfplay.log" | tr -d '\r')
  [[ $runs =~ ^M[0-9]+\ P[0-9]+\ M[0-9]+$ ]] || vr_fail "frames out: '$runs', want placeholders, pictures, placeholders"
  grep -q 'shows the video again' "$VR_TMP/mfplay.log" || vr_fail "the transform did not hand the video back"
  [ -s "$VR_TMP/client2.md5" ] || vr_fail "the second client decoded no frame"
  vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
  vr_md5_column "$VR_TMP/ref.md5" | sort -u >"$VR_TMP/ref.set"
  got=$(vr_md5_column "$VR_TMP/client2.md5" | wc -l)
  bad=$(vr_md5_column "$VR_TMP/client2.md5" | sort -u | comm -23 - "$VR_TMP/ref.set" | wc -l)
  [ "$bad" = 0 ] || vr_fail "$bad frames of the second client are none of FFmpeg's"
  echo "client gone and back: frames out $runs; the second client decoded $got frames, each one of FFmpeg's"
  exit 0
fi
if [ "$mode" = client-gone ]; then
  [ "$n_in" = $((3 * units)) ] || vr_fail "$n_in access units pushed, the clip three times has $((3 * units))"
  # Wine's decoder keeps its last few pictures at drain.
  [ "$n_out" -ge $((n_in - 5)) ] || vr_fail "$n_out pictures out for $n_in access units"
  [[ $line =~ ,\ ([0-9]+)\ with\ the\ marker.*\ ([0-9]+)\ without ]] || vr_fail "unreadable: $line"
  marked=${BASH_REMATCH[1]} decoded=${BASH_REMATCH[2]}
  grep -q 'decoding locally with' "$VR_TMP/mfplay.log" || vr_fail "no local decoder was started"
  [ "$marked" -gt 0 ] || vr_fail "no placeholder before the client went away"
  [ "$decoded" -ge "$units" ] || vr_fail "only $decoded pictures decoded locally after the client went away"
  # Every picture of the local decoder is one of FFmpeg's frames of the clip.
  ffmpeg -nostdin -v error -i "$clip" -map 0:v:0 -pix_fmt nv12 -f framemd5 - >"$VR_TMP/ref-nv12.md5"
  vr_md5_column "$VR_TMP/ref-nv12.md5" | sort -u >"$VR_TMP/ref.set"
  tr -d '\r' <"$VR_TMP/frames.md5" | awk '$1 == "picture" {print $2}' >"$VR_TMP/pictures"
  [ "$(wc -l <"$VR_TMP/pictures")" -ge "$decoded" ] || vr_fail "fewer frame MD5s than pictures"
  bad=$(sort -u "$VR_TMP/pictures" | comm -23 - "$VR_TMP/ref.set" | wc -l)
  [ "$bad" = 0 ] || vr_fail "$bad locally decoded pictures are none of FFmpeg's frames"
  echo "client killed: $marked placeholders, then $decoded pictures from the local decoder (each one of FFmpeg's frames), of $n_out"
  exit 0
fi
[ "$n_in" = "$units" ] || vr_fail "$n_in access units pushed, the clip has $units"

if [ "$mode" = e2e ] || [ "$mode" = e2e-params ]; then
  wait "$client" || vr_fail "client failed"
  [ "$n_out" = "$units" ] || vr_fail "$n_out placeholders out for $units access units"
  # The code in the pictures is the one the transform announced.
  announced=$(sed -n 's/.*placeholder with marker code \([0-9]*\).*/\1/p' "$VR_TMP/mfplay.log")
  [[ $line =~ \(code\ ([0-9]+)\) ]] || vr_fail "no marker code found in the frames"
  [ -n "$announced" ] && [ "${BASH_REMATCH[1]}" = "$announced" ] ||
    vr_fail "frames carry marker code ${BASH_REMATCH[1]}, the stream announced '${announced}'"
  [ -s "$VR_TMP/client.md5" ] || vr_fail "the client decoded no frame"
  vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
  vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
  echo "marker code $announced in all $n_out placeholder frames"
else
  grep -q '\[videoredir\] declined the stream' "$VR_TMP/mfplay.log" ||
    vr_fail "the videoredir transform was not offered the stream first"
  grep -q 'no SPICE client takes the' "$VR_TMP/mfplay.log" || vr_fail "the transform gave no reason"
  # Wine's decoder keeps the last frames of a stream at drain; most must come.
  [ "$n_out" -ge $((units * 9 / 10)) ] || vr_fail "only $n_out of $units frames decoded by the fallback decoder"
fi
printf 'vr-mfplay.exe start to end: %.1f s\n' "$(echo "$end - $start" | bc)"
