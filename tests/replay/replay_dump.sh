#!/usr/bin/env bash
# videoredir-replay --dump-stream: the access units of a corpus recording,
# undecoded, in a file ffmpeg reads. FFmpeg's decode of the dump must equal
# videoredir-replay's decode of the recording (--framemd5) and FFmpeg's
# decode of the original clip (the recipe of samples/recordings/
# recordings.txt): the dump is the bitstream the guest sent. A restart
# (new STREAM_START) goes to OUT-2.EXT, ...: the files decode one after the
# other. The dump alone decodes nothing and gives the same bytes as the dump
# made while replaying.
# Usage: replay_dump.sh NAME [EXT [FILES]]   (EXT default mkv; FILES: how
# many files the dump must make, default 1)   (env: VR_BIN, VR_SAMPLES)
set -euo pipefail
name=${1:?name}
ext=${2:-mkv}
files=${3:-1}
: "${VR_BIN:?}" "${VR_SAMPLES:?}"
recs=$VR_SAMPLES/recordings
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vr-dump.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
# Every decoded frame, as decoded: no frame-rate conversion by the CLI
# (timestamps from a recording are the guest's, not always evenly spaced).
ffdec() { ffmpeg -nostdin -v error -i "$1" -map 0:v:0 -autoscale 0 -fps_mode passthrough -f framemd5 -; }

# FFmpeg's decode of the original clip(s), as replay_frames.sh computes it.
replay_reference "$name" "$tmp/clip.md5"
col "$tmp/clip.md5" >"$tmp/clip.col"
[ -s "$tmp/clip.col" ] || fail "ffmpeg gave no frames for $recipe"

# The dump alone.
"$VR_BIN/videoredir-replay" --dump-stream "$tmp/out.$ext" "$recs/$name.vrr" 2>"$tmp/dump.log" \
  || { cat "$tmp/dump.log" >&2; fail "videoredir-replay --dump-stream failed"; }
cat "$tmp/dump.log"
grep -q "frames decoded" "$tmp/dump.log" && fail "the dump alone decoded frames"
outs=("$tmp/out.$ext")
for ((i = 2; i <= files; i++)); do outs+=("$tmp/out-$i.$ext"); done
for f in "${outs[@]}"; do [ -s "$f" ] || fail "no $(basename "$f")"; done
[ -e "$tmp/out-$((files + 1)).$ext" ] && fail "more than $files files"

# FFmpeg's decode of the dump.
for f in "${outs[@]}"; do ffdec "$f" || fail "ffmpeg cannot decode $(basename "$f")"; done >"$tmp/dump.md5"
col "$tmp/dump.md5" >"$tmp/dump.col"

# videoredir-replay's decode of the recording, with the dump made at the same time.
"$VR_BIN/videoredir-replay" -q --framemd5 - --dump-stream "$tmp/with.$ext" "$recs/$name.vrr" \
  >"$tmp/replay.md5" || fail "videoredir-replay --framemd5 - --dump-stream failed"
col "$tmp/replay.md5" >"$tmp/replay.col"
cmp -s "$tmp/with.$ext" "$tmp/out.$ext" || fail "the dump made while replaying differs from the dump alone"

show() { diff <(nl -ba "$1") <(nl -ba "$2") | head -n 6 >&2; }
if ! cmp -s "$tmp/dump.col" "$tmp/replay.col"; then
  show "$tmp/dump.col" "$tmp/replay.col"
  fail "$name: ffmpeg's decode of the dump differs from videoredir-replay's ($(wc -l <"$tmp/dump.col") vs $(wc -l <"$tmp/replay.col") frames)"
fi
if ! cmp -s "$tmp/dump.col" "$tmp/clip.col"; then
  show "$tmp/dump.col" "$tmp/clip.col"
  fail "$name: ffmpeg's decode of the dump differs from its decode of $recipe ($(wc -l <"$tmp/dump.col") vs $(wc -l <"$tmp/clip.col") frames)"
fi
echo "$name: dump ($files $ext file(s)): $(wc -l <"$tmp/dump.col") frames, ffmpeg's decode equal to videoredir-replay's and to ffmpeg's of $recipe"
