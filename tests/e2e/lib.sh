# Shared helpers for end-to-end tests over the real SPICE stack. Sourced.
# Needs VR_BIN (the build's bin/ folder). Every process started here is
# killed on exit, whatever happened.
set -euo pipefail
: "${VR_BIN:?VR_BIN must point at the bin folder of a build}"
VR_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vr-e2e.XXXXXX")
VR_PIDS=()

# True while PID runs (exited children stay as zombies until waited for).
# One read of its state: bash may reap an exited child between two looks
# (when it forks the reader), and a vanished file means gone.
vr_running() {
  local s
  s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || true
  [ -n "$s" ] && [ "$s" != Z ]
}

vr_cleanup() {
  local p i alive
  for p in "${VR_PIDS[@]}"; do kill "$p" 2>/dev/null || true; kill -CONT "$p" 2>/dev/null || true; done
  # What has not exited 10 s after SIGTERM (a hung main loop cannot run its
  # signal handler) is killed, so a test never hangs in its cleanup.
  for ((i = 0; i < 200; i++)); do
    alive=0
    for p in "${VR_PIDS[@]}"; do vr_running "$p" && { alive=1; break; }; done
    [ "$alive" = 0 ] && break
    sleep 0.05
  done
  if [ "$alive" = 1 ]; then
    for p in "${VR_PIDS[@]}"; do
      vr_running "$p" && { echo "cleanup: pid $p ignored SIGTERM for 10 s: SIGKILL" >&2; kill -KILL "$p" 2>/dev/null || true; }
    done
  fi
  for p in "${VR_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${VR_KEEP_TMP:-0}" = 1 ]; then echo "kept $VR_TMP"; else rm -rf "$VR_TMP"; fi
}
trap vr_cleanup EXIT

vr_fail() { echo "FAIL: $*" >&2; for f in "$VR_TMP"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }; done; exit 1; }

# Waits until FILE contains PATTERN or PID dies or SECONDS pass.
vr_wait_for() {
  local file=$1 pattern=$2 pid=$3 secs=$4 i
  for ((i = 0; i < secs * 20; i++)); do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# Starts the host stand-in on a free loopback port. Sets HOST_PORT, HOST_SOCK, HOST_PID.
vr_start_host() {
  local try
  HOST_SOCK="$VR_TMP/guest.sock"
  for try in 1 2 3 4 5 6 7 8; do
    HOST_PORT=$((20000 + RANDOM % 30000))
    "$VR_BIN/videoredir-host" --spice-port "$HOST_PORT" --guest-socket "$HOST_SOCK" "$@" \
      >"$VR_TMP/host.out" 2>"$VR_TMP/host.log" &
    HOST_PID=$!
    if vr_wait_for "$VR_TMP/host.out" "ready" "$HOST_PID" 15; then
      VR_PIDS+=("$HOST_PID")
      return 0
    fi
    kill "$HOST_PID" 2>/dev/null || true
    wait "$HOST_PID" 2>/dev/null || true
  done
  vr_fail "videoredir-host did not start"
}

# Starts Xvfb on a display number the server picks itself (-displayfd: no
# race with parallel tests for a free number) and exports DISPLAY. SIZE:
# WxHxDEPTH, default 1280x800x24. The server is stopped with the test.
vr_start_xvfb() {
  local size=${1:-1280x800x24} i
  : >"$VR_TMP/displayfd"
  Xvfb -displayfd 9 -screen 0 "$size" -nolisten tcp 9>"$VR_TMP/displayfd" >"$VR_TMP/xvfb.log" 2>&1 &
  VR_PIDS+=("$!")
  for ((i = 0; i < 200; i++)); do
    grep -q '^[0-9][0-9]*$' "$VR_TMP/displayfd" 2>/dev/null && break
    sleep 0.05
  done
  grep -q '^[0-9][0-9]*$' "$VR_TMP/displayfd" || vr_fail "Xvfb did not start: $(tail -n 3 "$VR_TMP/xvfb.log")"
  export DISPLAY=":$(head -n 1 "$VR_TMP/displayfd")"
}

# How many times a SPICE client opened the port channel of the host stand-in
# (vr_start_host) so far.
vr_port_channels() { grep -c "SPICE client opened the port channel" "$VR_TMP/host.log" 2>/dev/null || true; }

# Waits until a client opened the port channel more than N times, i.e. the
# client started after vr_port_channels said N is ready for a guest (a slow
# start, e.g. under ASan on a loaded machine, would otherwise leave a guest
# that starts at once without a client for its first frames). Fails if PID
# dies first or after 60 s.
vr_wait_port_channel() {
  local n=$1 pid=$2 i
  for ((i = 0; i < 1200; i++)); do
    [ "$(vr_port_channels)" -gt "${n:-0}" ] && return 0
    kill -0 "$pid" 2>/dev/null || vr_fail "the client died before its port channel opened"
    sleep 0.05
  done
  vr_fail "no port channel opened within 60 s"
}

# vr_start_client NAME ARGS...: videoredir-client on the host stand-in
# (--stats --timeout 120, then ARGS), its log in $VR_TMP/NAME.log, its pid in
# CLIENT_PID (and VR_PIDS); returns once its port channel is open.
vr_start_client() {
  local name=$1 opened
  shift
  opened=$(vr_port_channels)
  "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --stats --timeout 120 "$@" \
    2>"$VR_TMP/$name.log" &
  CLIENT_PID=$!
  VR_PIDS+=("$CLIENT_PID")
  vr_wait_port_channel "$opened" "$CLIENT_PID"
}

# vr_stat_of LOG FIELD: the field's value in the last 'stats:' line a guest
# element (videoredirsink, videoredirdec) logged.
vr_stat_of() {
  grep '^stats:' "$1" | tail -n 1 | sed -n "s/.*[ ,]$2=([a-z0-9]*)\([^,;]*\).*/\1/p" | tr -d '"'
}

# md5 column of a framemd5 file (comment lines skipped).
vr_md5_column() { grep -v '^#' "$1" | awk -F',' '{gsub(/ /, "", $NF); print $NF}'; }

# FFmpeg's own decode of CLIP as framemd5.
vr_ffmpeg_framemd5() { ffmpeg -nostdin -v error -i "$1" -map 0:v:0 -f framemd5 - >"$2"; }

# Compares the md5 columns of two framemd5 files; fails naming the first difference.
vr_compare_md5() {
  local got=$1 want=$2 n_got n_want
  vr_md5_column "$got" >"$VR_TMP/got.col"
  vr_md5_column "$want" >"$VR_TMP/want.col"
  n_got=$(wc -l <"$VR_TMP/got.col")
  n_want=$(wc -l <"$VR_TMP/want.col")
  [ "$n_want" -gt 0 ] || vr_fail "reference has no frames"
  if ! cmp -s "$VR_TMP/got.col" "$VR_TMP/want.col"; then
    local first
    # diff exits 1 here: under pipefail and set -e an assignment from it
    # would end the script without a word.
    first=$(diff <(nl -ba "$VR_TMP/got.col") <(nl -ba "$VR_TMP/want.col") | head -n 4 || true)
    vr_fail "framemd5 differs: got $n_got frames, want $n_want; first difference:
$first"
  fi
  echo "framemd5: $n_got of $n_want frames equal to ffmpeg's"
}
