#!/usr/bin/env bash
# Hardware frames read on demand, with real hardware frames: the test hook
# VIDEOREDIR_TEST_HWFRAMES=vulkan makes the client's decoder hand out each
# frame as a Vulkan surface (FFmpeg's Vulkan frames on Mesa's lavapipe), which
# every CPU reader must download itself (vr_frame_cpu).
#  1. videoredir-client --framemd5 is bit-exact against `ffmpeg -f framemd5`,
#     the --snapshot picture equals the one of a software run, and the
#     statistics say the frames were hardware ones, downloaded on demand.
#  2. A hidden video (empty visible region) and no framemd5: nothing reads
#     the frames (the snapshot's compositor skips it), nothing is downloaded
#     ("downloads 0"). The first run also shows each frame downloaded once
#     although framemd5 and the snapshot both read it.
# Exits 77 when no Vulkan device can be made here (no lavapipe).
. "$(dirname "$0")/lib.sh"
clip=${VR_SAMPLES:?}/h264-bframes.mp4

if ! ffmpeg -nostdin -v error -init_hw_device vulkan=vk -filter_hw_device vk -f lavfi \
    -i testsrc2=s=64x64:d=0.04 -vf format=yuv420p,hwupload,hwdownload,format=yuv420p \
    -f null - 2>"$VR_TMP/vk.log"; then
  echo "SKIP: no Vulkan device for FFmpeg (install mesa-vulkan-drivers): $(tail -n 2 "$VR_TMP/vk.log")"
  exit 77
fi

# run NAME CAPTURE_OPTION... : one client + capture session, the client's
# framemd5 in NAME.md5 (unless NAME is "hidden"), snapshot in NAME.png (the
# headless compositor: it skips a hidden video).
run() {
  local name=$1 md5=()
  shift
  [ "$name" = hidden ] || md5=(--framemd5 "$VR_TMP/$name.md5")
  vr_start_client "$name" ${md5[@]+"${md5[@]}"} --snapshot "$VR_TMP/$name.png" --exit-at-eos --timeout 60
  local client=$CLIENT_PID
  "$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace none --window 100,80,640,360 \
    --connect-timeout 60 "$@" "$clip" >"$VR_TMP/capture-$name.log" 2>&1 || vr_fail "capture ($name) failed"
  wait "$client" || vr_fail "client ($name) failed"
  grep '^stats:' "$VR_TMP/$name.log" | tail -n 1
}

vr_start_host
vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
run software
VIDEOREDIR_TEST_HWFRAMES=vulkan run vulkan
log=$VR_TMP/vulkan.log
grep -q "frames stay software" "$log" && { echo "SKIP: $(grep -m1 'frames stay software' "$log")"; exit 77; }
grep -q "TEST HOOK VIDEOREDIR_TEST_HWFRAMES=vulkan" "$log" || vr_fail "the test hook did not say it runs"
vr_compare_md5 "$VR_TMP/vulkan.md5" "$VR_TMP/ref.md5"
vr_compare_md5 "$VR_TMP/software.md5" "$VR_TMP/ref.md5"
frames=$(vr_md5_column "$VR_TMP/ref.md5" | wc -l)
last=$(grep '^stats:' "$log" | tail -n 1)
grep -q "decoder h264 (software, vulkan test frames, downloaded on demand)" <<<"$last" ||
  vr_fail "the statistics do not name the path: $last"
grep -q "| hw frames $frames downloads $frames imports 0" <<<"$last" ||
  vr_fail "want $frames hardware frames each downloaded once: $last"
[ -s "$VR_TMP/vulkan.png" ] && [ -s "$VR_TMP/software.png" ] || vr_fail "no snapshot written"
if ! cmp -s "$VR_TMP/vulkan.png" "$VR_TMP/software.png"; then
  diff=$(compare -metric AE "$VR_TMP/vulkan.png" "$VR_TMP/software.png" null: 2>&1 || true)
  [ "$diff" = 0 ] || vr_fail "the snapshot differs from the software run's in $diff pixels"
fi
echo "snapshot: equal to the software run's"

VIDEOREDIR_TEST_HWFRAMES=vulkan run hidden --region ""
last=$(grep '^stats:' "$VR_TMP/hidden.log" | tail -n 1)
grep -q "| hw frames $frames downloads 0 imports 0" <<<"$last" ||
  vr_fail "a hidden video must never be downloaded: $last"
echo "hidden: $frames hardware frames decoded, none downloaded"
