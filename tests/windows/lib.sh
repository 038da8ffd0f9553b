# Shared by the Windows test steps: find the cross compiler and Wine, run an
# .exe under Wine with its prefix inside the build tree.
VR_WIN_BUILD=${VR_WIN_BUILD:?}
VR_MINGW_CC=$(command -v x86_64-w64-mingw32-gcc-win32 || command -v x86_64-w64-mingw32-gcc || true)
VR_WINE=$(command -v wine64 || { [ -x /usr/lib/wine/wine64 ] && echo /usr/lib/wine/wine64; } || true)
export WINEPREFIX="$VR_WIN_BUILD/wineprefix"
export WINEDEBUG=-all
# Console programs only: Wine must not open windows on an X server of some
# other test that happens to run at the same time.
unset DISPLAY WAYLAND_DISPLAY
# No Mono or Gecko installers on the first start.
export WINEDLLOVERRIDES="mscoree,mshtml="
vr_win_skip() { echo "SKIP: $*"; exit 77; }
vr_wine() { "$VR_WINE" "$@"; }
# A Windows path for a file of this machine (Wine's Z: drive is /).
vr_winpath() { printf 'Z:%s' "$(realpath "$1")"; }
