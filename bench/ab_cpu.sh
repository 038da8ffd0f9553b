#!/usr/bin/env bash
# CPU-time A/B of the port-channel path between two builds, for a machine
# too loaded for wall-clock throughput (bench/ab_transport.sh) to mean much:
# CPU seconds of bench-port-throughput (guest thread + spice-glib client) and
# of the host stand-in (spice-server) per run, alternating, N times:
#   A: BUILD_A's bench, raw and framed rounds (its framed CPU = total - raw)
#   R: BUILD_B's bench, raw rounds only (--only raw; the raw path has no
#      videoredir code, so it serves both)
#   B: BUILD_B's bench, framed rounds only (--only framed)
# and the medians of the CPU ratio raw/framed (1.0: framing costs nothing;
# where CPU is the bottleneck this is the goodput ratio).
# Usage: bench/ab_cpu.sh BUILD_A BUILD_B [RUNS]   (RUNS default 3)
# Env:   VR_BENCH_MIB (256), VR_BENCH_ROUNDS (2).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BUILD_A BUILD_B [RUNS]" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
a=$(realpath "$1") b=$(realpath "$2") runs=${3:-3}
mib=${VR_BENCH_MIB:-256} rounds=${VR_BENCH_ROUNDS:-2}

# one BIN [args]: prints "bench_cpu_s host_cpu_s".
one() {
  VR_BIN="$1/bin" bash -c '
    top=$1; shift
    . "$top/tests/e2e/lib.sh"
    vr_start_host
    hz=$(getconf CLK_TCK)
    h0=$(awk "{print \$14 + \$15}" "/proc/$HOST_PID/stat")
    /usr/bin/time -f "%U %S" -o "$VR_TMP/time" "$VR_BIN/bench-port-throughput" \
      --uri "spice://127.0.0.1:$HOST_PORT" --guest-socket "$HOST_SOCK" "$@" >/dev/null
    h1=$(awk "{print \$14 + \$15}" "/proc/$HOST_PID/stat")
    awk -v h=$((h1 - h0)) -v hz="$hz" "{printf \"%.2f %.2f\n\", \$1 + \$2, h / hz}" "$VR_TMP/time"' \
    x "$top" --mib "$mib" --rounds "$rounds" "${@:2}"
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

ra=() rb=()
for ((i = 1; i <= runs; i++)); do
  read -r at ah <<<"$(one "$a")"
  read -r rt rh <<<"$(one "$b" --only raw)"
  read -r bt bh <<<"$(one "$b" --only framed)"
  raw=$(awk -v x="$rt" -v y="$rh" 'BEGIN {print x + y}')
  fa=$(awk -v x="$at" -v y="$ah" -v r="$raw" 'BEGIN {print x + y - r}')
  fb=$(awk -v x="$bt" -v y="$bh" 'BEGIN {print x + y}')
  ra+=("$(awk -v r="$raw" -v f="$fa" 'BEGIN {printf "%.3f", r / f}')")
  rb+=("$(awk -v r="$raw" -v f="$fb" 'BEGIN {printf "%.3f", r / f}')")
  echo "run $i: CPU s (bench + host) raw $rt + $rh, A framed $fa (A total $at + $ah), B framed $bt + $bh;" \
       "raw/framed A ${ra[-1]} B ${rb[-1]}"
done
ma=$(printf '%s\n' "${ra[@]}" | median) mb=$(printf '%s\n' "${rb[@]}" | median)
echo "A $a: raw/framed CPU ${ra[*]}, median $ma"
echo "B $b: raw/framed CPU ${rb[*]}, median $mb"
echo "($mib MiB x $rounds rounds per run, 64 KiB frames, random payload)"
