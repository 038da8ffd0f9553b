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
# The exit status of a test program run under Wine. Wine 8's winegstreamer
# (the GStreamer threads of its Unix side, started when Media Foundation
# looks at a clip) now and then crashes the process while it exits, after the
# program is done: rc 139, a SIGSEGV of the Unix process (an exception of the
# program itself would be 0xc0000005, rc 5). A test program prints
# "PROG: exit N" as its last act; after such a crash that N counts, said on
# stderr. Usage: rc=$(vr_wine_rc RC LOG PROG)
vr_wine_rc() {
  local rc=$1 log=$2 prog=$3 n=
  [ "$rc" = 139 ] && n=$(tr -d '\r' <"$log" | sed -n "s/^$prog: exit \([0-9][0-9]*\)\$/\1/p" | tail -n 1)
  if [ -n "$n" ]; then
    echo "Wine's process crashed while exiting (rc 139) after $prog had finished with exit $n: that one counts" >&2
    echo "$n"
  else
    echo "$rc"
  fi
}
