#!/usr/bin/env bash
# test_gl (the GL renderer against the software presenter, pixel by pixel)
# in a GL context of Mesa's software rasteriser under Xvfb.
# Usage: gl_render.sh TEST_GL CLIP
. "$(dirname "$0")/../e2e/lib.sh"
command -v Xvfb >/dev/null || { echo "SKIP: Xvfb is needed"; exit 77; }
vr_start_xvfb 640x480x24
export SDL_VIDEODRIVER=x11 LIBGL_ALWAYS_SOFTWARE=1
# llvmpipe's JIT and ASan's slow unwinder deadlock in libgcc (sdl_screenshot.sh).
[ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=1"
rc=0
"$1" "$2" || rc=$?
exit "$rc"
