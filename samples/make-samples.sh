#!/usr/bin/env bash
# Regenerates the sample clips with Debian's ffmpeg. Every clip is 3 s of a
# moving test pattern (testsrc2) at 25 fps, 640x360, one video stream, so
# frames differ and each demuxer path of videoredir-capture is exercised.
# Single-threaded encoders and bitexact muxing keep the output reproducible
# for a given ffmpeg/encoder build.
# Usage: samples/make-samples.sh [OUTDIR]   (default: the folder of this script)
set -euo pipefail
out=${1:-$(cd "$(dirname "$0")" && pwd)}
mkdir -p "$out"

src=(-f lavfi -i "testsrc2=size=640x360:rate=25:duration=3")
common=(-nostdin -hide_banner -loglevel error -y -threads 1)
bitexact=(-fflags +bitexact -flags:v +bitexact -map_metadata -1)
yuv=(-pix_fmt yuv420p)

enc() { # enc OUTFILE ARGS... : one clip, then a size check
  local file=$out/$1
  shift
  ffmpeg "${common[@]}" "${src[@]}" "${yuv[@]}" "$@" "$file"
  local size
  size=$(stat -c %s "$file")
  if [ "$size" -ge 1048576 ]; then
    echo "make-samples: $file is $size bytes (over 1 MiB)" >&2
    exit 1
  fi
  printf '%-22s %8d bytes\n' "$(basename "$file")" "$size"
}

x264=(-c:v libx264 -preset medium -crf 28 -g 25 -bf 3 -x264-params "threads=1:lookahead-threads=1")
x265=(-c:v libx265 -preset fast -crf 30 -g 25
      -x265-params "pools=none:frame-threads=1:bframes=3:keyint=25:min-keyint=25:log-level=error")

# H.264 with B-frames in MP4 (avcC extradata, pts != dts).
enc h264-bframes.mp4 "${x264[@]}" "${bitexact[@]}" -movflags +faststart
# H.264 in MPEG-TS: Annex B in-band parameter sets, 90 kHz time base.
enc h264.ts "${x264[@]}" "${bitexact[@]}" -mpegts_flags +resend_headers
# Raw Annex B H.264 elementary stream (no container timestamps).
enc h264-annexb.h264 "${x264[@]}" -f h264
# HEVC with B-frames in Matroska (hvcC extradata).
enc hevc-bframes.mkv "${x265[@]}" "${bitexact[@]}"
# Raw Annex B HEVC elementary stream.
enc hevc-annexb.hevc "${x265[@]}" -f hevc
# VP8 and VP9 in WebM.
enc vp8.webm -c:v libvpx -b:v 600k -deadline good -cpu-used 4 -g 25 -auto-alt-ref 0 "${bitexact[@]}"
enc vp9.webm -c:v libvpx-vp9 -b:v 500k -deadline good -cpu-used 4 -g 25 -row-mt 0 \
  -tile-columns 0 -frame-parallel 0 "${bitexact[@]}"
# AV1 (libaom) in Matroska (av1C extradata) and in IVF.
aom=(-c:v libaom-av1 -crf 40 -b:v 0 -cpu-used 8 -g 25 -row-mt 0 -tiles 1x1)
enc av1.mkv "${aom[@]}" "${bitexact[@]}"
enc av1.ivf "${aom[@]}"
