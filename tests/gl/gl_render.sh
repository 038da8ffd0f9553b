#!/usr/bin/env bash
# test_gl (the GL renderer against the software presenter, pixel by pixel)
# in a GL context of Mesa's software rasteriser under Xvfb.
# Usage: gl_render.sh TEST_GL CLIP
. "$(dirname "$0")/../e2e/lib.sh"
command -v Xvfb >/dev/null || { echo "SKIP: Xvfb is needed"; exit 77; }
vr_start_xvfb 640x480x24
export SDL_VIDEODRIVER=x11 LIBGL_ALWAYS_SOFTWARE=1
# llvmpipe's JIT and ASan's slow unwinder deadlock in libgcc (sdl_screenshot.sh).
# Leaks are not checked in this process: SDL's video init leaks in libdbus and
# Mesa's driver is unloaded before LeakSanitizer reports, so its allocations
# show as "<unknown module>" that no suppression can name (as in
# tests/replay/replay_sdl.sh); ASan's memory errors and UBSan still apply.
[ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=1:detect_leaks=0"
rc=0
"$1" "$2" || rc=$?
exit "$rc"
