#!/usr/bin/env bash
# The SPICE client going away and coming back while the guest streams, in a
# real VM: the client is killed mid-stream (SIGKILL: the port closes under
# the guest), a new one connects; the guest's capture notices, waits, starts
# again for the new client from a keyframe, and finishes cleanly. The new
# client's frames must be a run of the clip's frames from a keyframe, equal to
# FFmpeg's.
here=$(dirname "$0")
. "$here/../e2e/lib.sh"
. "$here/../security/seclib.sh"
. "$here/vmlib.sh"
clip="${VR_SAMPLES:?}/h264-bframes.mp4" # keyframe every 25 frames, 75 frames
plays=4
cat >"$VR_TMP/guest.sh" <<GUEST
'$VR_BIN/videoredir-capture' --device '/dev/virtio-ports/$VR_VM_PORT_NAME' --pace realtime \
  --loop $((plays - 1)) --window 200,150,640,360 --connect-timeout 120 '$clip'
GUEST
vr_ffmpeg_framemd5 "$clip" "$VR_TMP/one.md5"
grep '^#' "$VR_TMP/one.md5" >"$VR_TMP/ref.md5"
for ((i = 0; i < plays; i++)); do grep -v '^#' "$VR_TMP/one.md5" >>"$VR_TMP/ref.md5"; done

vr_vm_start "$VR_TMP/guest.sh"
uri="spice://127.0.0.1:$VM_SPICE_PORT"
"$VR_BIN/videoredir-client" --uri "$uri" --stats --timeout 120 2>"$VR_TMP/a.log" &
a=$!
VR_PIDS+=("$a")
vr_wait_for "$VR_TMP/a.log" 'decoded [1-9][0-9]' "$a" 90 || vr_fail "the first client decoded nothing"
kill -KILL "$a"
wait "$a" 2>/dev/null || true
echo "first client killed mid-stream: $(grep -o 'decoded [0-9]*' "$VR_TMP/a.log" | tail -n 1)"
"$VR_BIN/videoredir-client" --uri "$uri" --framemd5 "$VR_TMP/b.md5" --exit-at-eos --timeout 120 \
  2>"$VR_TMP/b.log" || vr_fail "the second client failed"
sec_check_run_from_key "$VR_TMP/b.md5" "$VR_TMP/ref.md5" "$(seq -s ' ' 0 25 $((plays * 75 - 1)))"
# The run must reach the clip's last frame: the guest played on to the end.
[ "$(vr_md5_column "$VR_TMP/b.md5" | tail -n 1)" = "$(vr_md5_column "$VR_TMP/ref.md5" | tail -n 1)" ] ||
  vr_fail "the second client did not get the stream to its end"
vr_vm_wait_exit 120
# The guest side, from its console: it noticed the client going (the port
# closed under it, or the client fell silent), announced the stream again to
# the new client, which accepted it, and ended at the clip's end.
log=$(tr -d '\r' <"$VM_CONSOLE" | grep '^videoredir-capture')
grep -q 'closed by the host\|treating it as gone\|client restarted' <<<"$log" ||
  { echo "$log" >&2; vr_fail "the guest did not notice the client going away"; }
[ "$(grep -c 'stream 1 accepted' <<<"$log")" = 2 ] ||
  { echo "$log" >&2; vr_fail "the guest should have streamed to two clients"; }
grep -q 'stream 1 stopped (eos)' <<<"$log" || { echo "$log" >&2; vr_fail "the guest did not end at EOS"; }
grep 'closed by the host\|treating it as gone\|client restarted\|accepted\|stopped' <<<"$log"
