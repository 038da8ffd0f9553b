#!/usr/bin/env bash
# Bounded libFuzzer run of every fuzz target (CI runs it; FUZZING files have
# the figures of longer runs). Builds with clang, libFuzzer, ASan and UBSan in
# its own build dir, then fuzzes each target for SECONDS starting from its
# committed seed corpus (read only: new inputs go to a scratch folder).
# Usage: scripts/fuzz.sh [--seconds N] [--build DIR] [--keep DIR] [TARGET...]
#   default: 60 s per target, build-fuzz/, every target ctest labels "fuzz".
# Exit status: 0 no crash, leak or timeout; 1 otherwise (the reproducer is
# kept in the scratch folder and named in the output).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=60
build="$top/build-fuzz"
keep=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) secs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
command -v clang >/dev/null || { echo "fuzz.sh: clang is needed (scripts/deps-test.txt)" >&2; exit 2; }

# Configure (packages: scripts/bootstrap.sh, run by scripts/test.sh), then
# build only the fuzz targets.
gen=()
[ -f "$build/CMakeCache.txt" ] || gen=(-G Ninja)
CC=clang cmake -S "$top" -B "$build" "${gen[@]}" -DVR_WERROR=ON -DVR_FUZZ=ON -DVR_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1 \
  || { cat "$build.configure.log" >&2; exit 1; }

# Build every fuzz_* target first (ctest only knows a test's command once its
# executable exists).
mapfile -t all < <(cmake --build "$build" -- -t targets all | sed -n 's/^\(fuzz_[a-z0-9_]*\): phony$/\1/p')
[ ${#all[@]} -gt 0 ] || { echo "fuzz.sh: no fuzz targets in $build" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target "${all[@]}" >"$build.build.log" 2>&1 \
  || { tail -n 40 "$build.build.log" >&2; exit 1; }

# Target name and seed corpus of every test labelled "fuzz" (vr_add_fuzzer).
mapfile -t found < <(cd "$build" && ctest --show-only=json-v1 | python3 -c '
import json, sys, os
for t in json.load(sys.stdin)["tests"]:
    labels = [p["value"] for p in t.get("properties", []) if p["name"] == "LABELS"]
    if labels and "fuzz" in labels[0]:
        cmd = t.get("command")
        if not cmd:
            continue
        print(os.path.basename(cmd[0]), cmd[-1])
')
[ ${#found[@]} -gt 0 ] || { echo "fuzz.sh: no fuzz targets found in $build" >&2; exit 1; }

scratch=${keep:-$(mktemp -d "${TMPDIR:-/tmp}/vr-fuzz.XXXXXX")}
mkdir -p "$scratch"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
printf '%-18s %10s %8s %6s %6s  %s\n' target execs exec/s cov ft result
for line in "${found[@]}"; do
  name=${line%% *}
  seeds=${line#* }
  if [ ${#targets[@]} -gt 0 ] && [[ " ${targets[*]} " != *" $name "* ]]; then continue; fi
  work="$scratch/$name"
  mkdir -p "$work/corpus" "$work/artifacts"
  log="$work/fuzz.log"
  set +e
  "$build/bin/$name" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2560 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
  result=ok
  if [ $rc -ne 0 ] || ls "$work/artifacts"/* >/dev/null 2>&1; then
    result="FAILED (exit $rc): $(ls "$work/artifacts" 2>/dev/null | tr '\n' ' ') log $log"
    status=1
  fi
  printf '%-18s %10s %8s %6s %6s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result"
  [ "$result" = ok ] || tail -n 40 "$log" >&2
done
[ -n "$keep" ] || [ $status -ne 0 ] || rm -rf "$scratch"
exit $status
