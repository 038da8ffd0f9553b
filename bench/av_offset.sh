#!/usr/bin/env bash
# A/V offset figures for BENCHMARKS.md: runs tests/audio/av_offset.sh RUNS
# times per case and prints its summary line for each run.
# Usage: bench/av_offset.sh BUILD-DIR [RUNS] [vm]   (default 5)
#   vm: the cases of tests/vm/vm_av_offset.sh instead (a QEMU VM per run)
set -euo pipefail
build=$(realpath "${1:?usage: bench/av_offset.sh BUILD-DIR [RUNS]}")
runs=${2:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
export VR_BIN=$build/bin VR_GST_PLUGIN=$build/gst/libgstvideoredir.so VR_AV_PLAY=$build/bin/vr-av-play
export VR_AV_OFFSET_PY=$top/tests/audio/av_offset.py
run_case() { # NAME MODE [VAR=VALUE...]
  local name=$1 mode=$2 i out
  shift 2
  for ((i = 1; i <= runs; i++)); do
    out=$(env "$@" "$top/tests/audio/av_offset.sh" "$mode" 2>&1 || true)
    printf '%-28s run %d: %s\n' "$name" "$i" "$(grep -E 'pairs=|: FAIL|SKIP' <<<"$out" | tr '\n' ' ')"
  done
}
if [ "${3:-}" = vm ]; then
  for mode in play pause seek spice; do
    for ((i = 1; i <= runs; i++)); do
      out=$(VR_SANITIZED=0 "$top/tests/vm/vm_av_offset.sh" "$mode" 2>&1 || true)
      printf '%-28s run %d: %s\n' "VM $mode" "$i" "$(grep -E 'pairs=|: FAIL|SKIP' <<<"$out" | tr '\n' ' ')"
    done
  done
  exit 0
fi
run_case "videoredir play" play
run_case "videoredir pause" pause
run_case "videoredir seek" seek
run_case "videoredir B-frames lead 100" play VR_AV_BFRAMES=3
run_case "videoredir B-frames lead 300" play VR_AV_BFRAMES=3 VR_AV_LEAD=300
run_case "SPICE streaming" spice
