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

"$VR_BIN/videoredir-replay" --sdl "$VR_SAMPLES/recordings/region.vrr" 2>"$tmp/replay.log" &
replay=$!
pids+=("$replay")
sleep 1.5
import -window root "$tmp/shot.png" || fail "screenshot failed"
[ -n "${VR_SHOT:-}" ] && cp "$tmp/shot.png" "$VR_SHOT"
wait "$replay" || fail "replay --sdl failed"
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
