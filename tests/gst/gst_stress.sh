#!/usr/bin/env bash
# Stress for the sink's start-up race (issue 14 item 5): playbin with
# video-sink=videoredirsink under Xvfb, a client that accepts the stream 0.1 s
# after the sink started playing locally, the local branch torn down while it
# is still starting. Runs ROUNDS rounds of PAR such pipelines at once (each
# with its own host stand-in and client), plus a CPU hog so that threads
# interleave badly, and fails on any crash, GLib critical or wrong frame
# count.
# Usage: gst_stress.sh CLIP [ROUNDS] [PAR]   (defaults 4 rounds of 4)
# VR_STRESS_SECONDS: time budget (default 45 s), whole rounds only.
# VR_STRESS_GST_LAUNCH=1: gst-launch-1.0 instead of vr-gst-play.
# Needs VR_BIN, VR_GST_PLUGIN, VR_GST_PLAY.
. "$(dirname "$0")/../e2e/lib.sh"
: "${VR_GST_PLUGIN:?}" "${VR_GST_PLAY:?}"
clip=$(realpath "$1")
rounds=${2:-4}
par=${3:-4}
export VR_GST_PLUGIN GST_REGISTRY_FORK=no GST_REGISTRY="$VR_TMP/registry.bin"
command -v Xvfb >/dev/null || { echo "SKIP: no Xvfb"; exit 77; }
vr_start_xvfb 800x600x24
# A warm registry: the first scan is not raced by PAR processes.
"$VR_GST_PLAY" --timeout 60 "fakesrc num-buffers=1 ! fakesink" >/dev/null 2>&1 || true
# Load: one busy loop per core, stopped with the test.
for ((i = 0; i < $(nproc); i++)); do
  (while :; do :; done) &
  VR_PIDS+=("$!")
done

one() { # one DIR : host, client, pipeline; exit status of the pipeline check
  local d=$1 port pid host client try
  mkdir -p "$d"
  for try in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 30000))
    "$VR_BIN/videoredir-host" --spice-port "$port" --guest-socket "$d/guest.sock" \
      >"$d/host.out" 2>"$d/host.log" &
    host=$!
    vr_wait_for "$d/host.out" ready "$host" 30 && break
    kill "$host" 2>/dev/null; wait "$host" 2>/dev/null
    host=
  done
  [ -n "$host" ] || { echo "no host" >"$d/fail"; return 1; }
  "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$port" --timeout 60 --exit-at-eos 2>"$d/client.log" &
  client=$!
  for ((try = 0; try < 1200; try++)); do
    grep -q "SPICE client opened the port channel" "$d/host.log" && break
    sleep 0.05
  done
  local desc="playbin uri=file://$clip audio-sink=fakesink video-sink=\"videoredirsink device=$d/guest.sock\""
  if [ "${VR_STRESS_GST_LAUNCH:-0}" = 1 ]; then
    # As in the report: gst-launch-1.0 with the plugin on GST_PLUGIN_PATH.
    eval GST_PLUGIN_PATH="$(dirname "$VR_GST_PLUGIN")" timeout 60 gst-launch-1.0 -q "$desc" >"$d/play.log" 2>&1
  else
    "$VR_GST_PLAY" --timeout 60 "$desc" >"$d/play.log" 2>&1
  fi
  echo $? >"$d/rc"
  wait "$client" 2>/dev/null
  kill "$host" 2>/dev/null
  wait "$host" 2>/dev/null
  return 0
}

start=$(date +%s)
bad=0
# Bounded: no new round that would end after VR_STRESS_SECONDS (default
# 45) at the pace of the last one; a sanitizer build runs each pipeline
# several times slower, so it runs fewer rounds.
budget=${VR_STRESS_SECONDS:-45}
done_rounds=0
round_s=0
for ((r = 0; r < rounds; r++)); do
  if [ "$r" -gt 0 ] && [ $(($(date +%s) - start + round_s)) -gt "$budget" ]; then break; fi
  round_start=$(date +%s)
  done_rounds=$((r + 1))
  pids=()
  for ((j = 0; j < par; j++)); do
    one "$VR_TMP/r$r-$j" &
    pids+=("$!")
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  round_s=$(($(date +%s) - round_start))
  for ((j = 0; j < par; j++)); do
    d=$VR_TMP/r$r-$j
    if [ "$(cat "$d/rc" 2>/dev/null)" != 0 ] || grep -Eq "CRITICAL|free\(\)|AddressSanitizer|runtime error|Aborted" "$d/play.log"; then
      echo "run $r-$j failed (rc $(cat "$d/rc" 2>/dev/null)):" >&2
      grep -E "CRITICAL|WARNING|ERROR|free|Sanitizer|error" "$d/play.log" | head -n 8 >&2
      bad=$((bad + 1))
    elif [ "${VR_STRESS_GST_LAUNCH:-0}" != 1 ] &&
      ! grep '^stats:' "$d/play.log" | tail -n 1 | grep -q "frames-in=(guint64)75, frames-sent=(guint64)75,"; then
      echo "run $r-$j: not every frame reached the client: $(grep '^stats:' "$d/play.log" | tail -n 1)" >&2
      bad=$((bad + 1))
    fi
  done
done
echo "stress: $((done_rounds * par)) pipelines ($done_rounds rounds of $par) in $(($(date +%s) - start)) s, $bad failed"
[ "$bad" = 0 ] || vr_fail "$bad of $((done_rounds * par)) pipelines failed"
