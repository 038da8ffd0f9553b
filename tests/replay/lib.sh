# Helpers of the replay tests. Sourced; needs VR_SAMPLES and tmp (a scratch folder).
fail() { echo "FAIL: $*" >&2; exit 1; }
# md5 column of a framemd5 file (comment lines skipped).
col() { grep -v '^#' "$1" | awk -F',' '{gsub(/ /, "", $NF); print $NF}'; }
replay_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# replay_reference NAME OUT: FFmpeg's own decode (framemd5) of what recording
# NAME carries, from its recipe in samples/recordings/recordings.txt
# (CLIP[:FRAMES]+CLIP...: the clips' frames one after the other). Sets recipe.
replay_reference() {
  local name=$1 out=$2 recs=$VR_SAMPLES/recordings part clip n parts
  recipe=$(awk -v n="$name" '$1 == n { print $2 }' "$recs/recordings.txt")
  [ -n "$recipe" ] || fail "$name is not in recordings.txt"
  IFS=+ read -ra parts <<<"$recipe"
  for part in "${parts[@]}"; do
    clip=${part%%:*}
    n=""
    [ "$clip" = "$part" ] || n=${part#*:}
    case "$clip" in recordings/*) clip="$recs/${clip#recordings/}" ;; *) clip="$VR_SAMPLES/$clip" ;; esac
    ffmpeg -nostdin -v error -i "$clip" -map 0:v:0 -autoscale 0 ${n:+-frames:v "$n"} -f framemd5 -
  done >"$out"
  [ -s "$out" ] || fail "ffmpeg gave no frames for $recipe"
}

# replay_damage SRC DST MODE: DST is SRC with record 100 (a FRAME) damaged:
# truncated (cut inside its payload), payload (one bit of the frame's data),
# header (its length field, bit 16). Prints the record's offset.
replay_damage() {
  local src=$1 dst=$2 mode=$3 off
  off=$(python3 "$replay_here/vrrec.py" list "$src" | awk '$1 == 100 && /FRAME/ { print $2 }')
  [ -n "$off" ] || fail "record 100 of $src is not a FRAME"
  python3 - "$src" "$dst" "$mode" "$off" <<'PY'
import sys
src, dst, mode, off = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
data = bytearray(open(src, "rb").read())
if mode == "truncated":
    data = data[:off + 20 + 700]        # inside record 100's payload
elif mode == "payload":
    data[off + 20 + 500] ^= 0x40        # one bit of the frame's data
elif mode == "header":
    data[off + 6] ^= 0x01               # the length field (bit 16)
else:
    sys.exit("unknown mode " + mode)
open(dst, "wb").write(data)
PY
  echo "$off"
}

# replay_check_prefix GOT_MD5 SRC CLIP WHAT: the frames in GOT_MD5 must be
# FFmpeg's first N frames of CLIP, N = the whole FRAME records of recording
# SRC before record 100 (the one replay_damage damages). Sets frames.
replay_check_prefix() {
  local got=$1 src=$2 clip=$3 what=$4
  frames=$(python3 "$replay_here/vrrec.py" list "$src" | awk '$1 < 100 && /guest->client FRAME/' | wc -l)
  ffmpeg -nostdin -v error -i "$clip" -map 0:v:0 -frames:v "$frames" -f framemd5 - >"$tmp/ref.md5"
  col "$got" >"$tmp/got.col"
  col "$tmp/ref.md5" >"$tmp/want.col"
  cmp -s "$tmp/got.col" "$tmp/want.col" \
    || fail "$what $(wc -l <"$tmp/got.col") frames, want ffmpeg's first $frames of $(basename "$clip")"
}
