#!/usr/bin/env bash
# videoredir-replay --sdl under Xvfb (SDL's software renderer): the region
# recording paced in real time in a 1280x720 window at 0,0. Between 1 s and
# 2 s a window covers x 540..740, y 200..400 of the video: a screenshot then
# shows the checker desktop there and the video left of it and around.
# Env: VR_BIN, VR_SAMPLES.
set -euo pipefail
: "${VR_BIN:?}" "${VR_SAMPLES:?}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vr-sdl.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # Killed outright if SIGTERM did not end it within 10 s: never hang here.
  for p in "${pids[@]}"; do
    for i in $(seq 200); do
      [ -r "/proc/$p/stat" ] && [ "$(sed 's/.*) //' "/proc/$p/stat" | cut -d' ' -f1)" != Z ] || break
      sleep 0.05
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/replay.log" ] && cat "$tmp/replay.log" >&2; exit 1; }
# The X server picks a free display itself (-displayfd: no race with parallel tests).
Xvfb -displayfd 9 -screen 0 1280x720x24 -nolisten tcp 9>"$tmp/displayfd" >"$tmp/xvfb.log" 2>&1 &
pids+=("$!")
for i in $(seq 200); do grep -q '^[0-9][0-9]*$' "$tmp/displayfd" 2>/dev/null && break; sleep 0.05; done
grep -q '^[0-9][0-9]*$' "$tmp/displayfd" || fail "Xvfb did not start"
export DISPLAY=":$(head -n 1 "$tmp/displayfd")" SDL_VIDEODRIVER=x11 SDL_RENDER_DRIVER=software
# As in tests/client/sdl_screenshot.sh: llvmpipe's JIT and ASan's slow unwinder deadlock.
# With that unwinder the leak reports of SDL's video init (libdbus, and Mesa's
# swrast driver, unloaded before exit: no symbols to suppress) cannot be
# matched, so leak checking is off for this one process; the replay's own
# paths are leak-checked by every other replay test (same code minus SDL).
[ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=1:detect_leaks=0"

# The recording time of the last frame shown (us), from the present log.
shown() { tail -n 1 "$tmp/present.log" 2>/dev/null | cut -d' ' -f3; }
# The screenshot is taken while the window covers the video: after a frame
# of 1.3 s was shown and before one of 1.9 s. SDL's start-up under ASan or
# on a loaded machine can push that window past a fixed sleep; a run that
# misses it is timing, not a result, and is tried again (3 times at most).
shot=
for try in 1 2 3; do
  : >"$tmp/present.log"
  "$VR_BIN/videoredir-replay" --sdl --present-log "$tmp/present.log" \
    "$VR_SAMPLES/recordings/region.vrr" 2>"$tmp/replay.log" &
  replay=$!
  pids+=("$replay")
  for i in $(seq 400); do
    t=$(shown)
    [ -n "$t" ] && [ "$t" -ge 1300000 ] && break
    kill -0 "$replay" 2>/dev/null || break
    sleep 0.02
  done
  sleep 0.1 # the X server draws what SDL sent with that frame
  import -window root "$tmp/shot.png" || fail "screenshot failed"
  after=$(shown)
  wait "$replay" || fail "replay --sdl failed"
  if [ -n "$t" ] && [ "$t" -ge 1300000 ] && [ "${after:-0}" -lt 1900000 ]; then
    shot=ok
    break
  fi
  echo "try $try: screenshot between frames of ${t:-none} us and ${after:-none} us, not inside 1.3..1.9 s: again"
done
[ -n "$shot" ] || fail "no screenshot while the video was covered in 3 runs"
[ -n "${VR_SHOT:-}" ] && cp "$tmp/shot.png" "$VR_SHOT"
px() { convert "$tmp/shot.png" -format "%[pixel:p{$1,$2}]" info:; }
desk() { if (( ($1 / 32 + $2 / 32) % 2 )); then echo "srgb(64,96,128)"; else echo "srgb(48,80,112)"; fi; }
n=0
for xy in 600,300 700,250 50,50 800,500 300,600; do
  x=${xy%,*} y=${xy#*,}
  [ "$(px "$x" "$y")" = "$(desk "$x" "$y")" ] || fail "$x,$y is $(px "$x" "$y"), want the desktop"
  n=$((n + 1))
done
for xy in 300,300 500,300 600,150 600,420 150,100; do
  x=${xy%,*} y=${xy#*,}
  p=$(px "$x" "$y")
  [ "$p" != "srgb(64,96,128)" ] && [ "$p" != "srgb(48,80,112)" ] || fail "$x,$y is the desktop, want video"
  n=$((n + 1))
done
echo "replay --sdl: $n pixels right (video inside its visible region, desktop in the hole and around)"
