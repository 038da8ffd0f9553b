#!/usr/bin/env bash
# videoredir-capture.exe --record (Wine, no client: the stand-in accepts) makes
# a session recording on the Windows side; videoredir-replay on Linux decodes
# it through the client pipeline bit-exact against ffmpeg's framemd5.
# Usage: wine_record.sh CLIP
clip=$1
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -n "$VR_WINE" ] || vr_win_skip "no wine64 (Debian wine64)"
[ -f "$VR_WIN_BUILD/bin/videoredir-capture.exe" ] || vr_win_skip "no cross build in $VR_WIN_BUILD"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vr-winrec.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$VR_WIN_BUILD/bin" && timeout 120 "$VR_WINE" ./videoredir-capture.exe \
   --record "$(vr_winpath "$tmp")/win.vrr" "$(vr_winpath "$clip")") >"$tmp/capture.log" 2>&1 ||
  { cat "$tmp/capture.log" >&2; echo "FAIL: videoredir-capture.exe --record failed" >&2; exit 1; }
cat "$tmp/capture.log"
ffmpeg -nostdin -v error -i "$clip" -map 0:v:0 -f framemd5 - >"$tmp/ref.md5"
"$VR_BIN/videoredir-replay" --verify "$tmp/ref.md5" "$tmp/win.vrr"
