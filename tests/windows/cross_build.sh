#!/usr/bin/env bash
# Cross-builds the Windows guest side (warnings as errors) into
# $VR_WIN_BUILD and prepares its Wine prefix (the first start of Wine takes a
# while: bounded here, once, before the steps that run .exe files).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -n "$VR_MINGW_CC" ] || vr_win_skip "no x86_64-w64-mingw32-gcc (Debian mingw-w64)"
gen=()
[ -f "$VR_WIN_BUILD/CMakeCache.txt" ] || gen=(-G Ninja)
cmake -S "$VR_SOURCE_DIR" -B "$VR_WIN_BUILD" "${gen[@]}" \
  -DCMAKE_TOOLCHAIN_FILE="$VR_SOURCE_DIR/cmake/mingw-w64-x86_64.cmake" -DVR_WERROR=ON >/dev/null
cmake --build "$VR_WIN_BUILD" -j2
for exe in videoredir-capture test_protocol test_transport_reassembler test_transport_conn \
           test_capture_guest test_win32port test_mft vr-mfplay; do
  [ -f "$VR_WIN_BUILD/bin/$exe.exe" ] || { echo "FAIL: $exe.exe not built" >&2; exit 1; }
done
[ -f "$VR_WIN_BUILD/bin/videoredir-mft.dll" ] || { echo "FAIL: videoredir-mft.dll not built" >&2; exit 1; }
echo "cross build: $(ls "$VR_WIN_BUILD"/bin/*.exe | wc -l) .exe files in $VR_WIN_BUILD/bin"
# The zip a Windows user unpacks: the program, the Media Foundation decoder
# DLL, their README, the libvirt snippet.
(cd "$VR_WIN_BUILD" && cpack -G ZIP >/dev/null)
zip=$(ls "$VR_WIN_BUILD"/videoredir-windows-*-x86_64.zip)
listing=$(cmake -E tar tf "$zip")
for f in videoredir-capture.exe videoredir-mft.dll vr-mfplay.exe README.txt libvirt-channel.xml; do
  grep -q "/$f\$" <<<"$listing" || { echo "FAIL: $f not in $zip" >&2; exit 1; }
done
echo "package: $(basename "$zip"), $(stat -c %s "$zip") bytes"
if [ -n "$VR_WINE" ] && [ ! -f "$WINEPREFIX/system.reg" ]; then
  start=$(date +%s)
  timeout 240 "$VR_WINE" wineboot -i >/dev/null 2>&1 || { echo "FAIL: wineboot did not finish" >&2; exit 1; }
  echo "wine prefix made in $(( $(date +%s) - start )) s"
fi
