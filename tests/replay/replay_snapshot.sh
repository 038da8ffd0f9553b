#!/usr/bin/env bash
# Composited snapshots of a corpus recording (videoredir-replay --snapshot)
# against samples/recordings/snapshots.txt: the pixel signature a person
# checked (ImageMagick identify %#), and pixels on both sides of every edge
# of the video and of the holes in its visible region (ImageMagick convert).
# Usage: replay_snapshot.sh NAME     (env: VR_BIN, VR_SAMPLES)
set -euo pipefail
name=${1:?name}
: "${VR_BIN:?}" "${VR_SAMPLES:?}"
recs=$VR_SAMPLES/recordings
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vr-snap.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mapfile -t times < <(awk -v n="$name" '$1 == n && $3 == "sig" { print $2 }' "$recs/snapshots.txt")
[ ${#times[@]} -gt 0 ] || fail "no snapshots of $name in snapshots.txt"
args=()
for t in "${times[@]}"; do args+=(--snapshot "$tmp/$t.png" --snapshot-at "$t"); done
"$VR_BIN/videoredir-replay" "${args[@]}" "$recs/$name.vrr" 2>"$tmp/replay.log" \
  || { cat "$tmp/replay.log" >&2; fail "videoredir-replay failed"; }

checked=0
while read -r n t kind rest; do
  [ "$n" = "$name" ] || continue
  png=$tmp/$t.png
  [ -s "$png" ] || fail "no snapshot at $t s"
  case $kind in
    sig)
      got=$(identify -format '%#' "$png")
      [ "$got" = "$rest" ] || fail "$name at $t s: pixel signature $got, want $rest (checked by eye)"
      ;;
    desktop|video)
      for xy in $rest; do
        x=${xy%,*} y=${xy#*,}
        px=$(convert "$png" -format "%[pixel:p{$x,$y}]" info:)
        if (( (x / 32 + y / 32) % 2 )); then desk="srgb(64,96,128)"; else desk="srgb(48,80,112)"; fi
        if [ $kind = desktop ]; then
          [ "$px" = "$desk" ] || fail "$name at $t s: $x,$y is $px, want the desktop's $desk"
        else
          [ "$px" != "srgb(64,96,128)" ] && [ "$px" != "srgb(48,80,112)" ] \
            || fail "$name at $t s: $x,$y is the desktop ($px), want video"
        fi
        checked=$((checked + 1))
      done
      ;;
    *) fail "snapshots.txt: unknown check $kind" ;;
  esac
done < <(grep -v '^#' "$recs/snapshots.txt")
echo "$name: ${#times[@]} snapshots equal to the checked signatures, $checked pixels right"
