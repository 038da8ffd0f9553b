#!/usr/bin/env bash
# Rebuilds the replay corpus with the real tools: each recording is made by
# `videoredir-capture --record` (no client needed: a stand-in accepts the
# stream and the clock is virtual, so the files are the same on every run),
# and its expected frames NAME.framemd5 by FFmpeg's own decode of the same
# bitstream, following the reference recipe in recordings.txt.
# Usage: samples/recordings/make-recordings.sh BIN_DIR [OUTDIR]
#   BIN_DIR: a build's bin/ (videoredir-capture); OUTDIR: default this folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?usage: make-recordings.sh BIN_DIR [OUTDIR]}
out=${2:-$here}
samples=$(cd "$here/.." && pwd)
mkdir -p "$out"
cap=$bin/videoredir-capture
[ -x "$cap" ] || { echo "make-recordings: no $cap" >&2; exit 1; }

# The resolution-change clip: 1 s at 640x360 then 1 s at 320x180, one raw
# H.264 stream (the second part's SPS/IDR changes the size in-band, as an
# adaptive player's stream does). Single-threaded, so reproducible.
if [ ! -f "$out/resize.h264" ]; then
  tmp=$(mktemp -d)
  x264=(-c:v libx264 -preset medium -crf 30 -g 25 -bf 3 -x264-params "threads=1:lookahead-threads=1")
  for size in 640x360 320x180; do
    ffmpeg -nostdin -hide_banner -loglevel error -y -threads 1 \
      -f lavfi -i "testsrc2=size=$size:rate=25:duration=1" -pix_fmt yuv420p "${x264[@]}" \
      -f h264 "$tmp/$size.h264"
  done
  cat "$tmp/640x360.h264" "$tmp/320x180.h264" >"$out/resize.h264"
  rm -rf "$tmp"
fi

rec() { # rec NAME CLIP [capture options...]
  local name=$1 clip=$2
  shift 2
  "$cap" --record "$out/$name.vrr" "$@" "$clip" >/dev/null 2>"$out/$name.log" \
    || { cat "$out/$name.log" >&2; exit 1; }
  rm -f "$out/$name.log"
}

# One per codec, the window at 100,80.
rec h264 "$samples/h264-bframes.mp4" --window 100,80,640,360
rec hevc "$samples/hevc-bframes.mkv" --window 100,80,640,360
rec vp8 "$samples/vp8.webm" --window 100,80,640,360
rec vp9 "$samples/vp9.webm" --window 100,80,640,360
rec av1 "$samples/av1.mkv" --window 100,80,640,360
# The window moved and resized twice.
rec geometry "$samples/h264-bframes.mp4" --window 100,80,640,360 \
  --geometry-at 1:400,300,480,270 --geometry-at 2:40,40,320,180
# Another window (300x200, its top at y=200) slides over the video from the
# right: at 1 s it covers x 540..740, at 2 s x 340..640; the visible region
# is the video minus it.
rec region "$samples/vp9.webm" --window 100,80,640,360 \
  --region-at "1:100,80,640,120;100,200,440,200;100,400,640,40" \
  --region-at "2:100,80,640,120;100,200,240,200;640,200,100,200;100,400,640,40"
# Seek at 1 s back to the start: FLUSH, then the file again from a keyframe.
rec flush "$samples/vp9.webm" --window 100,80,640,360 --flush-at 1
# The player stops at 1 s and plays the file again: STREAM_STOP, STREAM_START.
rec restart "$samples/av1.mkv" --window 100,80,640,360 --restart-at 1
# Resolution change inside the stream.
rec resize "$out/resize.h264" --window 100,80,640,360

# Expected frames: FFmpeg's decode, per recordings.txt (CLIP[:N][+CLIP[:N]]).
ref() { # ref RECIPE -> framemd5 on stdout
  local part clip n
  IFS=+ read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    clip=${part%%:*}
    n=""
    [ "$clip" = "$part" ] || n=${part#*:}
    case "$clip" in /*) ;; recordings/*) clip="$out/${clip#recordings/}" ;; *) clip="$samples/$clip" ;; esac
    ffmpeg -nostdin -v error -i "$clip" -map 0:v:0 -autoscale 0 ${n:+-frames:v "$n"} -f framemd5 -
  done
}
grep -v '^#' "$here/recordings.txt" | while read -r name recipe; do
  [ -n "$name" ] || continue
  ref "$recipe" >"$out/$name.framemd5"
  printf '%-10s %8d bytes  %4d frames\n' "$name" "$(stat -c %s "$out/$name.vrr")" \
    "$(grep -vc '^#' "$out/$name.framemd5")"
done
