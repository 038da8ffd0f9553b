#!/usr/bin/env bash
# regsvr32 videoredir-mft.dll under Wine: the COM class and the Media
# Foundation registration (MFTRegister in MFT_CATEGORY_VIDEO_DECODER) are
# written; Media Foundation then lists the transform for H.264 and
# activates it through the registry (vr-mfplay.exe without --dll: with no
# port it declines and the next decoder plays, exit 0); regsvr32 /u removes
# every key and MF no longer lists it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -n "$VR_WINE" ] || vr_win_skip "no wine64 (Debian wine64)"
for f in vr-mfplay.exe videoredir-mft.dll; do
  [ -f "$VR_WIN_BUILD/bin/$f" ] || vr_win_skip "no $f in $VR_WIN_BUILD/bin (cross build)"
done
clip=$VR_SOURCE_DIR/samples/h264-annexb.h264
clsid='{3AF548DE-4761-4F02-AE4F-752EBCE4E47C}'
mf_key='HKCR\MediaFoundation\Transforms\3af548de-4761-4f02-ae4f-752ebce4e47c'
cat_key='HKCR\MediaFoundation\Transforms\Categories\d6c02d4b-6833-45b4-971a-05a4b04bab91\3af548de-4761-4f02-ae4f-752ebce4e47c'
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { vr_wine reg query "$1" /s 2>/dev/null | tr -d '\r'; }
cd "$VR_WIN_BUILD/bin"
# A port that does not exist: the transform must decline at once.
export VIDEOREDIR_DEVICE='\\.\Global\videoredir-test-no-such-port' VIDEOREDIR_MFT_LOG=1
# Whatever happens, leave the prefix as it was.
trap 'vr_wine regsvr32 /u /s videoredir-mft.dll >/dev/null 2>&1 || true' EXIT

timeout 120 "$VR_WINE" regsvr32 /s videoredir-mft.dll || fail "regsvr32 /s failed ($?)"
server=$(q "HKCR\\CLSID\\$clsid\\InprocServer32")
echo "$server"
grep -qi 'REG_SZ.*videoredir-mft\.dll' <<<"$server" || fail "InprocServer32 does not name the DLL"
grep -q 'ThreadingModel.*Both' <<<"$server" || fail "no ThreadingModel Both"
mft=$(q "$mf_key")
echo "$mft" | cut -c1-120
grep -q 'InputTypes' <<<"$mft" || fail "MFTRegister wrote no InputTypes"
# MFT_REGISTER_TYPE_INFO pairs: video major type then the H264 and HEVC subtypes.
grep -q '4832363400001000800000AA00389B71' <<<"$mft" || fail "H264 is not among the input types"
grep -q '4845564300001000800000AA00389B71' <<<"$mft" || fail "HEVC is not among the input types"
vr_wine reg query "$cat_key" >/dev/null 2>&1 || fail "not in MFT_CATEGORY_VIDEO_DECODER"

# vr-mfplay.exe ARGS...: its output in $out; fails unless it exited 0
# (vr_wine_rc: a crash of Wine's process after its verdict is not its own).
mfplay() {
  local rc=0
  out=$(timeout 120 "$VR_WINE" ./vr-mfplay.exe "$@" 2>&1) || rc=$?
  rc=$(vr_wine_rc "$rc" <(printf '%s\n' "$out") vr-mfplay)
  [ "$rc" = 0 ] || { echo "$out"; return 1; }
}
mfplay --pace none --expect other "$(vr_winpath "$clip")" || fail "vr-mfplay.exe with the registered transform failed"
echo "$out"
grep -q '\[videoredir\] declined the stream' <<<"$out" || fail "MF did not activate the registered transform"
grep -q 'no SPICE client takes' <<<"$out" || fail "the transform gave no reason for declining"

timeout 120 "$VR_WINE" regsvr32 /u /s videoredir-mft.dll || fail "regsvr32 /u /s failed ($?)"
trap - EXIT
for k in "HKCR\\CLSID\\$clsid" "$mf_key" "$cat_key"; do
  if vr_wine reg query "$k" >/dev/null 2>&1; then fail "$k is still there after regsvr32 /u"; fi
done
mfplay --pace none --frames 5 "$(vr_winpath "$clip")" || fail "vr-mfplay.exe after unregistering failed"
if grep -q '\[videoredir\]' <<<"$out"; then echo "$out"; fail "MF still lists the transform"; fi
echo "ok: registered, listed and activated by Media Foundation, unregistered"
