#!/usr/bin/env bash
# Soak run (issue 7; not in CI): the host stand-in, the soak guest streaming a
# high-bitrate 1080p clip in real time with the window moving every 100 ms, and
# videoredir-client, restarted every RECONNECT seconds (a client reconnect).
# Samples resident memory of the three processes every 5 s and collects the
# client's frame counters per connection. Writes a CSV and a summary.
# Usage: bench/soak.sh [--minutes N] [--reconnect S] [--bitrate MBIT] [--build DIR] [--out DIR]
#   defaults: 5 minutes, reconnect every 60 s, 25 Mbit/s, build/, out/soak/
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
minutes=5 reconnect=60 mbit=25 build="$top/build" out="$top/out/soak"
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --reconnect) reconnect=$2; shift 2 ;;
    --bitrate) mbit=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin="$build/bin"
for p in videoredir-host videoredir-client bench-soak-guest; do
  [ -x "$bin/$p" ] || { echo "soak.sh: $bin/$p missing (build first)" >&2; exit 2; }
done
mkdir -p "$out"
rm -f "$out"/client-*.log
clip="$out/soak-1080p-${mbit}M.mp4"
if [ ! -s "$clip" ]; then
  echo "soak: making $clip (10 s of 1080p25 noise-covered test pattern at $mbit Mbit/s)"
  ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=1920x1080:rate=25,noise=alls=12:allf=t" -t 10 \
    -c:v libx264 -preset veryfast -b:v "${mbit}M" -maxrate "${mbit}M" -bufsize "${mbit}M" -g 25 -bf 2 \
    -pix_fmt yuv420p "$clip"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
sock="$out/guest.sock"
rm -f "$sock"
port=$((20000 + RANDOM % 30000))
"$bin/videoredir-host" --spice-port "$port" --guest-socket "$sock" >"$out/host.out" 2>"$out/host.log" &
host=$!
pids+=("$host")
for i in $(seq 100); do grep -q ready "$out/host.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$out/host.out" || { echo "soak: host did not start" >&2; exit 1; }

total=$((minutes * 60))
"$bin/bench-soak-guest" --device "$sock" --seconds "$total" "$clip" >"$out/guest.out" 2>"$out/guest.log" &
guest=$!
pids+=("$guest")

n=0
start_client() {
  n=$((n + 1))
  "$bin/videoredir-client" --uri "spice://127.0.0.1:$port" --stats 2>"$out/client-$n.log" &
  client=$!
  pids+=("$client")
}
start_client
rss() { awk '/^VmRSS/ {print int($2/1024)}' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "seconds,client_mb,host_mb,guest_mb,client_instance" >"$out/memory.csv"
t0=$(date +%s)
next_sample=0 next_reconnect=$reconnect
while kill -0 "$guest" 2>/dev/null; do
  t=$(( $(date +%s) - t0 ))
  if [ "$t" -ge "$next_sample" ]; then
    echo "$t,$(rss "$client"),$(rss "$host"),$(rss "$guest"),$n" >>"$out/memory.csv"
    next_sample=$((next_sample + 5))
  fi
  if [ "$t" -ge "$next_reconnect" ] && [ "$t" -lt $((total - 10)) ]; then
    kill -TERM "$client"; wait "$client" 2>/dev/null || true
    sleep 1
    start_client
    next_reconnect=$((next_reconnect + reconnect))
  fi
  sleep 0.5
done
sleep 2
kill -TERM "$client" 2>/dev/null || true
wait "$client" 2>/dev/null || true

echo "== soak: $minutes min, 1080p25 H.264 at $mbit Mbit/s, window moved every 100 ms, client restarted every ${reconnect} s"
cat "$out/guest.out"
echo "per client connection (last stats line):"
for f in $(ls "$out"/client-*.log | sort -V); do
  line=$(grep -E '^stats' "$f" | tail -n 1 || true)
  echo "  $(basename "$f" .log): $(echo "$line" | grep -oE 'decoded [0-9]+ dropped [0-9]+ lost [0-9]+' || echo 'no stats')"
done
awk -F, 'NR > 1 && $1 >= 30 { for (i = 2; i <= 4; i++) { if (!(i in min) || $i < min[i]) min[i] = $i; if ($i > max[i]) max[i] = $i; last[i] = $i } }
  END { split("client host guest", nm, " ");
        for (i = 2; i <= 4; i++) printf "memory %s after 30 s: min %d MB, max %d MB, last %d MB\n", nm[i-1], min[i], max[i], last[i] }' \
  "$out/memory.csv"
echo "samples: $out/memory.csv"
