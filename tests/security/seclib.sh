# Helpers for the security tests, sourced after tests/e2e/lib.sh.
: "${VR_MAX_RSS_MB:=400}"

# Watches PID's peak resident memory (VmHWM, MB) in the background until it
# exits, so it can be checked after the process is gone.
sec_watch() {
  local name=$1 pid=$2
  ( while [ -r "/proc/$pid/status" ]; do
      awk '/^VmHWM/ {print int($2/1024)}' "/proc/$pid/status" >"$VR_TMP/$name.hwm.tmp" 2>/dev/null \
        && [ -s "$VR_TMP/$name.hwm.tmp" ] && mv -f "$VR_TMP/$name.hwm.tmp" "$VR_TMP/$name.hwm"
      sleep 0.2
    done ) &
  VR_PIDS+=("$!")
}

# Peak memory of a watched process; fails above VR_MAX_RSS_MB.
sec_rss() {
  local name=$1 hwm
  hwm=$(cat "$VR_TMP/$name.hwm" 2>/dev/null || echo 0)
  echo "memory: $name peak VmHWM ${hwm} MB (limit $VR_MAX_RSS_MB)"
  [ "$hwm" -gt 0 ] || vr_fail "no memory reading for $name"
  [ "$hwm" -le "$VR_MAX_RSS_MB" ] || vr_fail "$name peak memory ${hwm} MB over $VR_MAX_RSS_MB MB"
}

# SIGTERM to the host; it must exit 0 (under ASan: no leak reported).
sec_stop_host() {
  kill -TERM "$HOST_PID"
  local st=0
  wait "$HOST_PID" || st=$?
  [ "$st" = 0 ] || vr_fail "host exit status $st after SIGTERM (leak?)"
}

# Starts a client in the background. Sets CLIENT_PID. Args: name, extra options.
sec_start_client() {
  local name=$1
  shift
  "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --stats "$@" \
    2>"$VR_TMP/$name.log" &
  CLIENT_PID=$!
  VR_PIDS+=("$CLIENT_PID")
  sec_watch "$name" "$CLIENT_PID"
}

# Waits until FILE has at least N lines (not comments), or PID died, or SECS.
sec_wait_lines() {
  local file=$1 n=$2 pid=$3 secs=$4 i
  for ((i = 0; i < secs * 20; i++)); do
    [ "$(grep -v '^#' "$file" 2>/dev/null | wc -l)" -ge "$n" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# The md5 lines of GOT must be a run of consecutive frames of the reference
# that starts at a keyframe (playback resumed from a keyframe, nothing
# skipped inside). Keyframe indexes: KEYS (space separated, 0-based).
sec_check_run_from_key() {
  local got=$1 ref=$2 keys=$3
  vr_md5_column "$got" >"$VR_TMP/run.col"
  vr_md5_column "$ref" >"$VR_TMP/ref.col"
  local first n start k
  first=$(head -n 1 "$VR_TMP/run.col")
  n=$(wc -l <"$VR_TMP/run.col")
  [ "$n" -gt 0 ] || vr_fail "no frames decoded after the fault"
  start=-1
  for k in $keys; do
    if [ "$(sed -n "$((k + 1))p" "$VR_TMP/ref.col")" = "$first" ]; then start=$k; break; fi
  done
  [ "$start" -ge 0 ] || vr_fail "first frame after the fault is not a keyframe of the clip"
  tail -n +"$((start + 1))" "$VR_TMP/ref.col" | head -n "$n" >"$VR_TMP/ref.run"
  cmp -s "$VR_TMP/run.col" "$VR_TMP/ref.run" \
    || vr_fail "frames after the fault are not consecutive from keyframe $start"
  echo "resumed at keyframe $start: $n consecutive frames equal to ffmpeg's"
}

# Bytes PID has written to its unix stream sockets that the peer has not read
# yet (the kernel's send queue, as `ss` reports it); 0 if none or unknown.
sec_unsent() {
  command -v ss >/dev/null || { echo 0; return; }
  ss -x -p -H 2>/dev/null | awk -v p="pid=$1," 'index($0, p) { s += $4 } END { print s + 0 }'
}
