#!/usr/bin/env bash
# A/B of the port-channel throughput between two builds (e.g. before and
# after a transport change), in one run: bench-port-throughput of build A,
# then of build B, N times alternating, each against its own host stand-in.
# Prints each run's median line and, per build, the median of the runs'
# videoredir/raw ratios, and B's ratio over A's.
# Usage: bench/ab_transport.sh BUILD_A BUILD_B [RUNS]   (RUNS default 3)
# Env:   VR_BENCH_MIB (64), VR_BENCH_ROUNDS (5): per run, as bench/run.sh;
#        VR_AB_ARGS_A, VR_AB_ARGS_B: extra bench-port-throughput options per
#        side (e.g. VR_AB_ARGS_A=--copy with the same build on both sides).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BUILD_A BUILD_B [RUNS]" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
a=$(realpath "$1") b=$(realpath "$2") runs=${3:-3}

# one BUILD [OPTIONS]: prints bench-port-throughput's median line.
one() {
  VR_BIN="$1/bin" bash -c '
    . "$0/tests/e2e/lib.sh"
    vr_start_host
    "$VR_BIN/bench-port-throughput" --uri "spice://127.0.0.1:$HOST_PORT" \
      --guest-socket "$HOST_SOCK" --mib "$1" --rounds "$2" "${@:3}"' \
    "$top" "${VR_BENCH_MIB:-64}" "${VR_BENCH_ROUNDS:-5}" "${@:2}" | grep '^median'
}
ratio() { sed -E 's/.*ratio videoredir\/raw ([0-9.]+).*/\1/'; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

ra=() rb=()
for ((i = 1; i <= runs; i++)); do
  # shellcheck disable=SC2086 # word splitting of the option lists is wanted
  la=$(one "$a" ${VR_AB_ARGS_A:-}) lb=$(one "$b" ${VR_AB_ARGS_B:-})
  echo "run $i A: $la"
  echo "run $i B: $lb"
  ra+=("$(ratio <<<"$la")") rb+=("$(ratio <<<"$lb")")
done
ma=$(printf '%s\n' "${ra[@]}" | median) mb=$(printf '%s\n' "${rb[@]}" | median)
echo "A $a: ratios ${ra[*]}, median $ma"
echo "B $b: ratios ${rb[*]}, median $mb"
awk -v a="$ma" -v b="$mb" 'BEGIN { printf "B/A %.3f\n", b / a }'
