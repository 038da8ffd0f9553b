#!/usr/bin/env bash
# Time to the first frame shown, over the real host stand-in and a real
# spice-glib client (videoredir-client logs "first frame shown X ms after its
# start, Y ms after the client started", both on the client's own clock):
#   start      a client is connected; the guest starts a stream
#              (videoredir-capture): stream accepted -> first frame presented
#   reconnect  the guest streams a long clip in real time; the client is
#              killed and a new one started: new client process start -> first
#              frame presented, for the capture CLI and for videoredirsink
#              (it replays its GOP cache)
# The clip (made here): 640x360 H.264 at 25 fps with a 2 s GOP, as players
# often get. Rounds alternate; medians. Prints Markdown on stdout.
# Usage: bench/first_frame.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
rounds=${2:-${VR_BENCH_ROUNDS:-5}}
VR_BIN=$build/bin
export VR_BIN
. "$top/tests/e2e/lib.sh"
play=$VR_BIN/vr-gst-play
plugin=$build/gst/libgstvideoredir.so
have_sink=0
if [ -x "$play" ] && [ -f "$plugin" ]; then
  have_sink=1
  export VR_GST_PLUGIN=$plugin GST_REGISTRY_FORK=no GST_REGISTRY=$VR_TMP/registry.bin
fi
unset DISPLAY
log() { echo "first_frame: $*" >&2; }

clip=$VR_TMP/gop2s.mp4
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=640x360:rate=25:duration=60" -pix_fmt yuv420p \
  -c:v libx264 -preset veryfast -crf 23 -g 50 -keyint_min 50 -sc_threshold 0 -bf 2 "$clip"
vr_start_host
uri="spice://127.0.0.1:$HOST_PORT"
[ "$have_sink" = 0 ] || "$play" --timeout 60 "fakesrc num-buffers=1 ! fakesink" >/dev/null 2>&1 \
  || vr_fail "GStreamer does not start"

client() { # client NAME: starts a client; sets CL
  "$VR_BIN/videoredir-client" --uri "$uri" --timeout 120 2>"$VR_TMP/$1.log" &
  CL=$!
  VR_PIDS+=("$CL")
}
first() { # first LOG FIELD(1: after start, 2: after client start) -> ms
  sed -n 's/.*first frame shown \([0-9.]*\) ms after its start, \([0-9.]*\) ms after the client started.*/\1 \2/p' \
    "$1" | head -n 1 | awk -v f="$2" '{print $f}'
}
wait_first() { # wait_first LOG PID
  vr_wait_for "$1" "first frame shown" "$2" 30 || vr_fail "no frame shown ($1)"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

: >"$VR_TMP/start"
: >"$VR_TMP/rc-cli"
: >"$VR_TMP/rc-sink"
: >"$VR_TMP/connect"
for r in $(seq "$rounds"); do
  # Stream start.
  n=$(vr_port_channels)
  client c0
  c0=$CL
  vr_wait_port_channel "$n" "$c0"
  "$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime "$top/samples/vp9.webm" \
    >"$VR_TMP/cap0.log" 2>&1 &
  cap=$!
  VR_PIDS+=("$cap")
  wait_first "$VR_TMP/c0.log" "$c0"
  first "$VR_TMP/c0.log" 1 >>"$VR_TMP/start"
  stop "$cap"
  stop "$c0"

  # Reconnect, both guests. The first client plays 2.3 s (somewhere inside a GOP).
  for g in cli sink; do
    [ "$g" = sink ] && [ "$have_sink" = 0 ] && continue
    client c1
    c1=$CL
    if [ "$g" = cli ]; then
      "$VR_BIN/videoredir-capture" --device "$HOST_SOCK" --pace realtime "$clip" >"$VR_TMP/g.log" 2>&1 &
    else
      "$play" --timeout 120 "filesrc location=$clip ! qtdemux ! h264parse ! videoredirsink device=$HOST_SOCK fallback=false" \
        >"$VR_TMP/g.log" 2>&1 &
    fi
    gpid=$!
    VR_PIDS+=("$gpid")
    wait_first "$VR_TMP/c1.log" "$c1"
    sleep 2.3
    kill -KILL "$c1"
    wait "$c1" 2>/dev/null || true
    client c2
    c2=$CL
    wait_first "$VR_TMP/c2.log" "$c2"
    first "$VR_TMP/c2.log" 2 >>"$VR_TMP/rc-$g"
    t=$(first "$VR_TMP/c2.log" 2)
    log "round $r: start $(tail -n 1 "$VR_TMP/start") ms, reconnect ($g) $t ms"
    stop "$c2"
    stop "$gpid"
  done
done
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "–"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms=$(median <"$VR_TMP/start")
mc=$(median <"$VR_TMP/rc-cli")
msk=$(median <"$VR_TMP/rc-sink")
echo "# Time to the first frame shown"
echo
echo "Command: \`bench/first_frame.sh build $rounds\` (part of \`bench/suite.sh\`), $rounds rounds"
echo "alternating, medians. Real host stand-in, real spice-glib client (\`videoredir-client\`, which"
echo "logs both times on its own clock). **Start**: the client is connected, the guest starts the"
echo "VP9 sample (\`videoredir-capture --pace realtime\`): stream accepted -> first frame presented."
echo "**Reconnect**: the guest plays a 640x360 H.264 clip with a 2 s GOP in real time, the client is"
echo "killed 2.3 s after its first frame and a new client process started: its start (SPICE"
echo "connection and handshake included) -> first frame presented. Both guests start the new client"
echo "at a keyframe without waiting for the clip's next one (videoredirsink replays its GOP cache)."
echo
echo "| case | ms (median) | each round |"
echo "|---|---|---|"
echo "| <a id=\"first-start\"></a>stream start -> first frame shown | $ms | $(tr '\n' ' ' <"$VR_TMP/start") |"
echo "| <a id=\"first-reconnect-cli\"></a>client reconnect -> first frame shown, videoredir-capture | $mc | $(tr '\n' ' ' <"$VR_TMP/rc-cli") |"
if [ "$have_sink" = 1 ]; then
  echo "| <a id=\"first-reconnect-sink\"></a>client reconnect -> first frame shown, videoredirsink (GOP cache) | $msk | $(tr '\n' ' ' <"$VR_TMP/rc-sink") |"
fi
