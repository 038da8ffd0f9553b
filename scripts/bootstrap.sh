#!/usr/bin/env bash
# Installs missing Debian packages (scripts/deps.txt) and builds videoredir.
# Usage: scripts/bootstrap.sh BUILD_DIR [extra cmake args...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?build dir}
shift

mapfile -t want < <(grep -v '^#' "$top/scripts/deps.txt" | sed '/^$/d')
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
