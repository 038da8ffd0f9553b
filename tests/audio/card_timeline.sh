#!/usr/bin/env bash
# The host stand-in's sound card keeps to its writer's timeline (PROTOCOL.md
# 6.6.1: sound written at t leaves the card at t + latency): a writer
# (card_writer.py) writes 10 ms chunks into --audio-fifo when each is due,
# with a click every 0.2 s, for 1.2 s; pauses 0.6 s (the card runs dry and
# stops, as after a player's pause); then resumes LATE_MS late (a loaded
# guest) and writes what it owes at once, then on time again. The headless
# client logs when each click is heard (--av-log). Asserts that every click
# is heard, and that after the late resume each click is heard as long
# after it was written as before the pause (within 15 ms); a card that
# anchored its timeline on the late write would be LATE_MS late from then on.
# Usage: card_timeline.sh [LATE_MS]   (default 60)
# Needs VR_BIN.
late=${1:-60}
. "$(dirname "$0")/../e2e/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)

vr_start_host --audio-fifo "$VR_TMP/card.fifo" --audio-latency 100
"$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --av-log "$VR_TMP/av.log" --timeout 60 -v \
  2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
vr_wait_for "$VR_TMP/client.log" "following the playback channel" "$client" 30 ||
  vr_fail "the client does not follow the playback channel"

python3 "$here/card_writer.py" "$VR_TMP/card.fifo" "$late" >"$VR_TMP/written.txt" ||
  vr_fail "the writer failed"
# The card runs dry after the last chunk and stops the playback (the second
# stop; the first was the pause): the client has all the sound then.
for ((i = 0; i < 300; i++)); do
  [ "$(grep -c 'audio: playback stops' "$VR_TMP/client.log" || true)" -ge 2 ] && break
  vr_running "$client" || break
  sleep 0.05
done
[ "$(grep -c 'audio: playback stops' "$VR_TMP/client.log" || true)" -ge 2 ] ||
  vr_fail "the playback did not stop twice (pause, end)"
kill -TERM "$client"
wait "$client" || true
grep 'sound card:' "$VR_TMP/host.log" | tail -n 3 || true
python3 "$here/card_writer.py" --check "$VR_TMP/written.txt" "$VR_TMP/av.log" ||
  vr_fail "the card did not keep to the writer's timeline"
