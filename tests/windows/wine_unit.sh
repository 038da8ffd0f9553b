#!/usr/bin/env bash
# The unit tests of the portable libraries and of the Windows port adapter,
# built by the cross build, run under Wine.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -n "$VR_WINE" ] || vr_win_skip "no wine64 (Debian wine64)"
[ -f "$VR_WIN_BUILD/bin/test_protocol.exe" ] || vr_win_skip "no cross build in $VR_WIN_BUILD"
fail=0
for t in test_protocol test_transport_reassembler test_transport_conn test_capture_guest test_win32port test_mft; do
  args=()
  [ "$t" = test_mft ] && args=(videoredir-mft.dll)
  if out=$(cd "$VR_WIN_BUILD/bin" && timeout 120 "$VR_WINE" "./$t.exe" "${args[@]}" 2>&1); then
    echo "$t.exe: $(printf '%s\n' "$out" | tail -n 1)"
  else
    echo "FAIL: $t.exe under Wine:" >&2
    printf '%s\n' "$out" | tail -n 20 >&2
    fail=1
  fi
done
exit $fail
