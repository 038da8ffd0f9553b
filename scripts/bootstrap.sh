#!/usr/bin/env bash
# Installs missing Debian packages (scripts/deps.txt) and builds videoredir.
# Usage: scripts/bootstrap.sh BUILD_DIR [extra cmake args...]
# VR_DEPS: more package lists under scripts/ to install as well, space-separated
# (scripts/test.sh asks for deps-test.txt, demo.sh --vm for deps-vm.txt).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?build dir}
shift

lists=("$top/scripts/deps.txt")
for l in ${VR_DEPS:-}; do lists+=("$top/scripts/$l"); done
mapfile -t want < <(cat "${lists[@]}" | grep -v '^#' | sed '/^$/d' | sort -u)
missing=()
for p in "${want[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "videoredir: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

gen=()
[ -f "$build/CMakeCache.txt" ] || gen=(-G Ninja)
cmake -S "$top" -B "$build" "${gen[@]}" "$@"
cmake --build "$build" -j"$(nproc)"
