#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, runs the whole test suite.
# Usage: scripts/test.sh [--sanitize] [extra ctest args...]
#   --sanitize   build in build-asan with ASan+UBSan and run the suite there
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
cmake_args=(-DVR_WERROR=ON)
if [ "${1:-}" = --sanitize ]; then
  shift
  build="$top/build-asan"
  cmake_args+=(-DVR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  # Slow unwinding on malloc: GLib has no frame pointers, and leak reports (and
  # their suppressions) need whole stacks.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp:print_suppressions=0}
fi
VR_DEPS="deps-test.txt ${VR_DEPS:-}" "$top/scripts/bootstrap.sh" "$build" "${cmake_args[@]}"
cd "$build"
ctest --output-on-failure --timeout 600 -j"$(nproc)" "$@"
