#!/usr/bin/env bash
# The host stand-in's sound card keeps to its writer's timeline (PROTOCOL.md
# 6.6.1: sound written at t leaves the card at t + latency): a writer
# (card_writer.py) writes 10 ms chunks into --audio-fifo (200 ms latency:
# a writer stalled longer on a loaded machine loses sound) when each is due,
# with a click every 0.3 s, for 1.5 s; pauses 0.8 s (the card runs dry and
# stops, as after a player's pause); then resumes LATE_MS late (a loaded
# guest) and writes what it owes at once, then on time again. The headless
# client logs when each click arrives over SPICE's playback channel
# (--av-log; the card hands each period over when it plays it). Asserts that
# at least 3 of the 5 clicks of each part arrive, and that after the late
# resume they arrive as long after they were written as before the pause
# (the least delays within 40 ms: what delays a click on its way only
# adds; up to 20 ms seen on a loaded machine); a card that anchored its
# timeline on the late write would be LATE_MS late from then on.
# When the host stops, the FIFO it made goes and one the user made stays.
# Usage: card_timeline.sh [LATE_MS]   (default 100)
# Needs VR_BIN.
late=${1:-100}
. "$(dirname "$0")/../e2e/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)

vr_start_host --audio-fifo "$VR_TMP/card.fifo" --audio-latency 200
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --av-log "$VR_TMP/av.log" --timeout 60 -v \
  2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
vr_wait_for "$VR_TMP/client.log" "following the playback channel" "$client" 30 ||
  vr_fail "the client does not follow the playback channel"

n_stops() { grep -c 'audio: playback stops' "$VR_TMP/client.log" || true; }
stops() { # N SECONDS: waits until the client saw the playback stop N times
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    [ "$(n_stops)" -ge "$1" ] && return 0
    vr_running "$client" || vr_fail "the client died"
    sleep 0.05
  done
  return 1
}
# Some sound first, until the client hears it (its playback channel may come
# up after it said it follows it, later under ASan): the card plays it, runs
# dry and stops.
for ((w = 0; w < 10; w++)); do
  python3 "$here/card_writer.py" "$VR_TMP/card.fifo" --warmup || vr_fail "the writer failed"
  stops 1 3 && break
done
[ "$(n_stops)" -ge 1 ] || vr_fail "the client never heard the card"
base=$(n_stops)
python3 "$here/card_writer.py" "$VR_TMP/card.fifo" "$late" >"$VR_TMP/written.txt" ||
  vr_fail "the writer failed"
# The card runs dry after the last chunk and stops the playback (the second
# stop from here; the first was the pause): the client has all the sound then.
stops $((base + 2)) 20 || vr_fail "the client did not see the playback stop at the pause and at the end"
kill -TERM "$client"
wait "$client" || true
grep 'sound card:' "$VR_TMP/host.log" | tail -n 3 || true
python3 "$here/card_writer.py" --check 200 "$VR_TMP/written.txt" "$VR_TMP/av.log" ||
  vr_fail "the card did not keep to the writer's timeline"

# The host removes the FIFO it made when it stops, and keeps one the user
# made.
stop_host() {
  kill -TERM "$HOST_PID"
  local i
  for ((i = 0; i < 200; i++)); do vr_running "$HOST_PID" || break; sleep 0.05; done
  ! vr_running "$HOST_PID" || vr_fail "the host still runs 10 s after SIGTERM"
}
stop_host
[ ! -e "$VR_TMP/card.fifo" ] || vr_fail "the host left the FIFO it made"
mkfifo "$VR_TMP/mine.fifo"
vr_start_host --audio-fifo "$VR_TMP/mine.fifo" --audio-latency 200
stop_host
[ -p "$VR_TMP/mine.fifo" ] || vr_fail "the host removed a FIFO it had not made"
echo "PASS: the card kept to the writer's timeline; the host removed its own FIFO and kept the user's"
