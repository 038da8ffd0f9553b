#!/usr/bin/env bash
# A corpus recording through videoredir-replay: its decoded frames must equal
# FFmpeg's own decode of the same bitstream, computed here and now from the
# reference recipe of samples/recordings/recordings.txt; and --verify against
# the committed NAME.framemd5 must pass (which is itself checked to be
# FFmpeg's output).
# Usage: replay_frames.sh NAME     (env: VR_BIN, VR_SAMPLES)
set -euo pipefail
name=${1:?name}
: "${VR_BIN:?}" "${VR_SAMPLES:?}"
recs=$VR_SAMPLES/recordings
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vr-replay.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

replay_reference "$name" "$tmp/ffmpeg.md5"

"$VR_BIN/videoredir-replay" --framemd5 "$tmp/got.md5" "$recs/$name.vrr" 2>"$tmp/replay.log" \
  || { cat "$tmp/replay.log" >&2; fail "videoredir-replay failed"; }
cat "$tmp/replay.log"
col "$tmp/got.md5" >"$tmp/got.col"
col "$tmp/ffmpeg.md5" >"$tmp/want.col"
if ! cmp -s "$tmp/got.col" "$tmp/want.col"; then
  diff <(nl -ba "$tmp/got.col") <(nl -ba "$tmp/want.col") | head -n 6 >&2
  fail "$name: replayed frames differ from ffmpeg's ($(wc -l <"$tmp/got.col") vs $(wc -l <"$tmp/want.col") frames)"
fi
echo "$name: $(wc -l <"$tmp/got.col") frames equal to ffmpeg's decode of $recipe"

# The committed expected list is FFmpeg's too, and --verify agrees with it.
col "$recs/$name.framemd5" | cmp -s - "$tmp/want.col" \
  || fail "$recs/$name.framemd5 is not ffmpeg's decode of $recipe (rerun make-recordings.sh)"
"$VR_BIN/videoredir-replay" -q --verify "$recs/$name.framemd5" "$recs/$name.vrr" \
  || fail "--verify $name.framemd5 failed"
echo "$name: --verify passes"
