#!/usr/bin/env bash
# test_gtk_gl (the GTK overlay's presenter choice and GL window life) under
# Xvfb with Mesa's software rasteriser. Usage: gtk_gl.sh TEST_GTK_GL
. "$(dirname "$0")/../e2e/lib.sh"
command -v Xvfb >/dev/null || { echo "SKIP: Xvfb is needed"; exit 77; }
vr_start_xvfb 800x600x24
export LIBGL_ALWAYS_SOFTWARE=1
# llvmpipe under ASan needs the fast unwinder (tests/client/sdl_screenshot.sh).
# Leaks are checked: without GTK's accessibility bridge (whose D-Bus set-up
# leaks by design) nothing is left at exit, so the GL window's teardown must
# free everything.
export NO_AT_BRIDGE=1
[ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=1"
rc=0
"$1" || rc=$?
exit "$rc"
