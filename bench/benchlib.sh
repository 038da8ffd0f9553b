# Shared by the bench scripts (source it after setting -euo pipefail): a
# temporary folder $tmp and a list $pids of the background processes a
# script starts, both cleaned up when it exits however it exits.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vr-bench.XXXXXX")
pids=()
vr_bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap vr_bench_cleanup EXIT
