#!/usr/bin/env bash
# Replay throughput: videoredir-replay (recording reader + vr_client:
# software decode, headless compositing of every shown frame) against
# FFmpeg's decode-only rate of the same bitstream, one thread each, CPU time,
# side by side: each round runs both, alternating which goes first, and the
# table has the median round. The recordings are made here with
# `videoredir-capture --record --loop N` (no client), the clip N+1 times;
# ffmpeg decodes the same clip with -stream_loop N. Prints Markdown.
# Usage: bench/replay_bench.sh BUILD_DIR [ROUNDS]   (VR_BENCH_LOOPS=N, default 39)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin="${1:-$top/build}/bin"
rounds=${2:-5}
loops=${VR_BENCH_LOOPS:-39}
clips=${VR_BENCH_CLIPS:-h264-bframes.mp4 hevc-bframes.mkv vp8.webm vp9.webm av1.mkv}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cpu() { # cpu OUTFILE CMD...: user+system seconds of CMD
  local out=$1
  shift
  /usr/bin/time -f '%U %S %e' -o "$out" "$@" >/dev/null 2>"$out.err" || { cat "$out.err" >&2; exit 1; }
}
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

echo "# Replay throughput: videoredir-replay against FFmpeg decode-only"
echo
echo "Command: \`bench/replay_bench.sh ${1:-build} $rounds\` on $(nproc) cores ($(uname -m)), $(date -u +%Y-%m-%d)."
echo "Each clip is recorded $((loops + 1)) times in a row (\`videoredir-capture --record R.vrr --loop $loops CLIP\`,"
echo "no client). Per round, in alternating order: \`videoredir-replay --snapshot end.png R.vrr\` (reads"
echo "and checks every record, feeds the client, decodes in software with one thread, composites every"
echo "shown frame into a 1280x720 desktop through the headless presenter) and \`ffmpeg -threads 1"
echo "-stream_loop $loops -i CLIP -map 0:v:0 -f null -\` (demux + decode only). Frames per CPU second"
echo "(user + system), the median of $rounds rounds; the ratio is replay / ffmpeg. The last columns"
echo "split the cost: the same replay without \`--snapshot\` (no presenter: reader + client + decode)."
echo
echo "| clip | frames | replay fps | ffmpeg decode-only fps | ratio | replay wall fps | ffmpeg wall fps | replay without compositing fps | ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in $clips; do
  clip=$top/samples/$c
  "$bin/videoredir-capture" --record "$tmp/r.vrr" --loop "$loops" --window 100,80,640,360 "$clip" >/dev/null 2>&1
  frames=$(( $(ffmpeg -nostdin -v error -i "$clip" -map 0:v:0 -f framemd5 - | grep -vc '^#') * (loops + 1) ))
  for side in ours ff bare; do : >"$tmp/$side"; : >"$tmp/$side.wall"; done
  for ((r = 0; r < rounds; r++)); do
    for side in $( ((r % 2)) && echo "ff bare ours" || echo "ours bare ff"); do
      if [ "$side" = ours ]; then
        cpu "$tmp/t" "$bin/videoredir-replay" -q --snapshot "$tmp/end.png" "$tmp/r.vrr"
      elif [ "$side" = bare ]; then
        cpu "$tmp/t" "$bin/videoredir-replay" -q "$tmp/r.vrr"
      else
        cpu "$tmp/t" ffmpeg -nostdin -v error -threads 1 -stream_loop "$loops" -i "$clip" -map 0:v:0 -f null -
      fi
      awk -v f="$frames" '{printf "%.1f\n", f / ($1 + $2)}' "$tmp/t" >>"$tmp/$side"
      awk -v f="$frames" '{printf "%.1f\n", f / ($3 > 0 ? $3 : 0.01)}' "$tmp/t" >>"$tmp/$side.wall"
    done
  done
  # The replay must have decoded every frame (or the rate means nothing).
  got=$("$bin/videoredir-replay" --framemd5 - "$tmp/r.vrr" 2>/dev/null | grep -vc '^#')
  [ "$got" = "$frames" ] || { echo "replay_bench: $c: replay decoded $got of $frames frames" >&2; exit 1; }
  ours=$(median <"$tmp/ours")
  ff=$(median <"$tmp/ff")
  ratio=$(awk -v a="$ours" -v b="$ff" 'BEGIN{printf "%.3f", a / b}')
  bare=$(median <"$tmp/bare")
  bratio=$(awk -v a="$bare" -v b="$ff" 'BEGIN{printf "%.3f", a / b}')
  echo "| <a id=\"replay-$c\"></a>$c | $frames | $ours | $ff | $ratio | $(median <"$tmp/ours.wall") | $(median <"$tmp/ff.wall") | $bare | $bratio |"
done
echo
echo "Every replayed frame was checked to be there (\`--framemd5\`, $((loops + 1)) x the clip's frames);"
echo "the replays' bit-exactness against FFmpeg is what \`ctest -R replay\` checks."
echo "The difference between the two replay columns is the compositing (libswscale conversion to"
echo "x8r8g8b8 and pixman copies of each shown frame); reading, CRC-checking and dispatching the"
echo "records is within the noise of the CPU-time measurement (10 ms ticks)."
