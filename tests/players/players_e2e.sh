#!/usr/bin/env bash
# Unmodified players on a real X desktop, placed by the marker: Xvfb stands
# for the guest's screen and videoredir-host --x-display shows it as the
# SPICE desktop; a stock player picks its own decoder (videoredirdec by rank,
# or the VLC module) and its own sink, which shows the marked placeholder in
# its own window; another X window (ImageMagick display, flat orange) lies
# partly over the video. The headless client decodes the video (framemd5
# bit-exact with FFmpeg), finds the marker in the SPICE picture and
# composites the video there: its snapshot (asked for with SIGUSR1 once the
# covering window is up, while the clip plays) must show the
# video on the player's true video rectangle (to the pixel: lossless SPICE
# image compression), the covering window's own pixels over it, the black X
# root around it.
# Usage: players_e2e.sh gst-play   gst-play-1.0 CLIP, default sinks
#        players_e2e.sh scaled     gst-launch-1.0 playbin, a sink bin scaling to half size
#        players_e2e.sh moved      gst-play-1.0, its window moved and enlarged to 800x450 while
#                                  it plays (playbin scales the picture to the window)
#        players_e2e.sh vlc        vlc -I dummy --vout xcb_x11 with the module
#        players_e2e.sh webkit     WebKitGTK's MiniBrowser, a local page with a <video> element
#                                  (Mesa software GL); the true rectangle is measured on the
#                                  guest's screen (the marker's greys below the toolbar)
#        players_e2e.sh webkit-mse the same through Media Source Extensions: the page (over
#                                  http://127.0.0.1, python3 -m http.server) appends the clip
#                                  as fragmented MP4 to a SourceBuffer; frames checked against
#                                  FFmpeg's decode of those fragments
#        players_e2e.sh totem      Totem, as it is: its own D-Bus session bus, Mesa software GL
#                                  (gtkglsink), the clip scaled into its window; the true
#                                  rectangle is measured on the guest's screen
#                                  (marker_rect.py); Totem stays open at the end of the clip
#                                  (it rewinds, paused, and announces the video again): the
#                                  client is stopped then and its frames of the first stream
#                                  are checked
# Needs VR_BIN, VR_GST_PLUGIN (libgstvideoredir.so); vlc also VR_VLC_PLUGIN_DIR.
mode=$1
. "$(dirname "$0")/../e2e/lib.sh"
# lib.sh runs under set -e: say which command stopped the test.
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND exited $?" >&2' ERR
for t in display xdotool xwininfo convert compare identify; do
  command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
unset VIDEOREDIR_DEVICE GST_PLUGIN_FEATURE_RANK
export GST_REGISTRY_FORK=no GST_REGISTRY="$VR_TMP/registry.bin"

# 12 s of SMPTE bars, 640x360: every frame the same picture, so the snapshot
# taken mid-clip can be compared with FFmpeg's frame; flat wide bars survive
# the client's scaling. The clip is long enough for the scene (the window
# found, moved, the cover up) to be set while it still plays, under ASan and
# load too. WebKit lays its page out and is measured on the guest's screen
# before the covering window goes up; Totem's true rectangle is measured once
# it has hidden the controls it shows over the video at the start (a few
# seconds): longer clips for both.
clip=$VR_TMP/clip.mp4 secs=12 client_end=(--exit-at-eos)
[ "${mode%%-*}" = webkit ] && secs=14
[ "$mode" = totem ] && secs=16 client_end=()
ffmpeg -nostdin -v error -f lavfi -i "smptebars=size=640x360:rate=25:duration=$secs" -pix_fmt yuv420p \
  -c:v libx264 -preset ultrafast -g 25 -bf 2 -x264-params threads=1 "$clip"
ffmpeg -nostdin -v error -i "$clip" -frames:v 1 -pix_fmt rgb24 "$VR_TMP/frame.png"

vr_start_xvfb 1024x700x24
vr_start_host --x-display "$DISPLAY" --image-compression auto_glz --jpeg-wan-compression never

opened=$(vr_port_channels)
G_MESSAGES_DEBUG=all "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$HOST_PORT" --framemd5 "$VR_TMP/client.md5" \
  --snapshot "$VR_TMP/end.png" --snapshot-at-file "$VR_TMP/now.png" "${client_end[@]}" --stats --timeout 120 \
  2>"$VR_TMP/client.log" &
client=$!
VR_PIDS+=("$client")
vr_wait_port_channel "$opened" "$client"

# Stock programs load the plugin from GST_PLUGIN_PATH (ASan: runtime first).
gst_env=()
if [ "$mode" != vlc ]; then
  : "${VR_GST_PLUGIN:?}"
  preload=$(ldd "$VR_GST_PLUGIN" 2>/dev/null | awk '/libasan/ && !n++ {print $3}')
  gst_env=(GST_PLUGIN_PATH="$(dirname "$VR_GST_PLUGIN")" VIDEOREDIR_DEVICE="$HOST_SOCK")
  # Fast unwinding on malloc: with the slow one (scripts/test.sh's default)
  # a player drawing with Mesa's llvmpipe (glimagesink, GTK's GL) hangs after
  # its first frame, its threads on libgcc's unwinder lock. The stock
  # program's own leaks are not ours: detect_leaks=0 last, so that it wins
  # over the detect_leaks=1 of scripts/test.sh.
  [ -n "$preload" ] &&
    gst_env+=(LD_PRELOAD="$preload" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=1:detect_leaks=0")
fi
# The player's own top-level window: the one visible window of WxH.
find_window() {
  local i id
  for ((i = 0; i < 300; i++)); do
    for id in $(xdotool search --onlyvisible --name '' 2>/dev/null); do
      xdotool getwindowgeometry "$id" 2>/dev/null | grep -q "Geometry: $1\$" && { echo "$id"; return 0; }
    done
    vr_running "$player" || return 1
    sleep 0.1
  done
  return 1
}

case $mode in
  gst-play | moved)
    command -v gst-play-1.0 >/dev/null || { echo "SKIP: no gst-play-1.0"; exit 77; }
    env "${gst_env[@]}" timeout 120 gst-play-1.0 --no-interactive "$clip" >"$VR_TMP/play.log" 2>&1 &
    player=$!
    size=640x360
    ;;
  scaled)
    command -v gst-launch-1.0 >/dev/null || { echo "SKIP: no gst-launch-1.0"; exit 77; }
    env "${gst_env[@]}" timeout 120 gst-launch-1.0 playbin uri="file://$clip" audio-sink=fakesink \
      video-sink="videoconvert ! videoscale ! video/x-raw,width=320,height=180 ! ximagesink" \
      >"$VR_TMP/play.log" 2>&1 &
    player=$!
    size=320x180
    ;;
  vlc)
    command -v vlc >/dev/null || { echo "SKIP: vlc is not installed"; exit 77; }
    [ "${VR_SANITIZED:-0}" = 1 ] && { echo "SKIP: the vlc program cannot load the sanitizer-built module"; exit 77; }
    vlc_cmd=(vlc)
    if [ "$(id -u)" = 0 ]; then
      unshare --user --map-user=1000 --map-group=1000 true 2>/dev/null ||
        { echo "SKIP: running as root, and no user namespace to run VLC in"; exit 77; }
      vlc_cmd=(unshare --user --map-user=1000 --map-group=1000 vlc)
    fi
    VIDEOREDIR_DEVICE=$HOST_SOCK VLC_PLUGIN_PATH=${VR_VLC_PLUGIN_DIR:?} timeout -k 10 120 "${vlc_cmd[@]}" -I dummy \
      --no-plugins-cache --play-and-exit --no-audio --no-video-title-show --no-osd --no-spu --vout xcb_x11 --avcodec-hw none \
      --no-embedded-video -vv "$clip" >"$VR_TMP/play.log" 2>&1 &
    player=$!
    size=640x360
    ;;
  webkit | webkit-mse)
    mb=/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser
    [ -x "$mb" ] || { echo "SKIP: no $mb (libwebkit2gtk-4.1-0)"; exit 77; }
    [ "${VR_SANITIZED:-0}" = 1 ] && { echo "SKIP: WebKit's web process is not run with the sanitizer-built plugin"; exit 77; }
    cat >"$VR_TMP/page.html" <<'HTML'
<!DOCTYPE html><html><body style="margin:0;background:#000">
<video src="clip.mp4" autoplay muted width="640" height="360" style="position:absolute;left:40px;top:30px"></video>
</body></html>
HTML
    url=file://$VR_TMP/page.html
    if [ "$mode" = webkit-mse ]; then
      # Media Source Extensions: the page fetches the clip as a fragmented
      # MP4 over HTTP (python3's http.server on loopback: fetch() of a
      # file:// URL is refused) and appends it to a SourceBuffer; WebKit
      # plays it through its own MSE pipeline. The reference frames are
      # FFmpeg's decode of those same fragments.
      command -v python3 >/dev/null || { echo "SKIP: no python3 for the page's HTTP server"; exit 77; }
      ffmpeg -nostdin -v error -i "$clip" -c copy -movflags frag_keyframe+empty_moov+default_base_moof \
        "$VR_TMP/frag.mp4"
      ref_clip=$VR_TMP/frag.mp4
      # the codecs parameter from the stream: avc1.PPCCLL (profile, constraints, level of its avcC)
      avc=$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); i = d.find(b"avcC"); print(d[i + 5:i + 8].hex() if i > 0 else "")' "$clip")
      [ ${#avc} = 6 ] || vr_fail "no avcC in the clip"
      cat >"$VR_TMP/mse.html" <<HTML
<!DOCTYPE html><html><body style="margin:0;background:#000">
<video id="v" autoplay muted width="640" height="360" style="position:absolute;left:40px;top:30px"></video>
<script>
const v = document.getElementById('v'), ms = new MediaSource();
v.src = URL.createObjectURL(ms);
ms.addEventListener('sourceopen', async () => {
  try {
    const sb = ms.addSourceBuffer('video/mp4; codecs="avc1.$avc"');
    const data = await (await fetch('frag.mp4')).arrayBuffer();
    sb.addEventListener('updateend', () => {
      if (ms.readyState === 'open') ms.endOfStream();
      document.title = 'mse: ' + data.byteLength + ' bytes appended';
    });
    sb.appendBuffer(data);
  } catch (e) {
    document.title = 'mse: ' + e;
  }
});
</script></body></html>
HTML
      port=
      for ((try = 0; try < 8 && !port; try++)); do
        p=$((20000 + RANDOM % 30000))
        (cd "$VR_TMP" && exec python3 -u -m http.server --bind 127.0.0.1 "$p") >"$VR_TMP/http.log" 2>&1 &
        http=$!
        if vr_wait_for "$VR_TMP/http.log" "Serving HTTP" "$http" 15; then
          port=$p
          VR_PIDS+=("$http")
        else
          kill "$http" 2>/dev/null || true
          wait "$http" 2>/dev/null || true
        fi
      done
      [ -n "$port" ] || vr_fail "the page's HTTP server did not start: $(tail -n 2 "$VR_TMP/http.log")"
      url=http://127.0.0.1:$port/mse.html
    fi
    env "${gst_env[@]}" LIBGL_ALWAYS_SOFTWARE=1 GST_DEBUG="${GST_DEBUG:-videoredirdec:4}" timeout 120 "$mb" \
      --geometry=1024x700 "$url" >"$VR_TMP/play.log" 2>&1 &
    player=$!
    size=
    ;;
  totem)
    for t in totem dbus-daemon python3; do
      command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
    done
    # Its own session bus (GApplication, D-Bus activation), stopped with the
    # test; a settings backend and a home of its own, so nothing saved by
    # an earlier Totem (window size, last position) changes the run; no
    # Grilo plugins (the browse view's sources: local indexes, web
    # services), which playing a file given on the command line does not use.
    dbus-daemon --session --nofork --nopidfile --print-address=9 9>"$VR_TMP/bus" >"$VR_TMP/dbus.log" 2>&1 &
    VR_PIDS+=("$!")
    for ((i = 0; i < 200; i++)); do grep -q '^unix:' "$VR_TMP/bus" && break; sleep 0.05; done
    bus=$(grep '^unix:' "$VR_TMP/bus") || vr_fail "dbus-daemon gave no address"
    mkdir -p "$VR_TMP/home" "$VR_TMP/grilo"
    # Totem shows its controls over the video while the pointer moves over
    # it: the pointer stays in the screen's corner, away from every window.
    xdotool mousemove 1023 699
    env "${gst_env[@]}" DBUS_SESSION_BUS_ADDRESS="$bus" HOME="$VR_TMP/home" XDG_CONFIG_HOME="$VR_TMP/home/.config" \
      XDG_DATA_HOME="$VR_TMP/home/.local/share" XDG_CACHE_HOME="$VR_TMP/home/.cache" GSETTINGS_BACKEND=memory \
      TMPDIR="$VR_TMP" GRL_PLUGIN_PATH="$VR_TMP/grilo" NO_AT_BRIDGE=1 LIBGL_ALWAYS_SOFTWARE=1 GST_DEBUG=videoredirdec:4 \
      timeout 120 totem "$clip" >"$VR_TMP/play.log" 2>&1 &
    player=$!
    size=
    ;;
  *) vr_fail "unknown mode $mode" ;;
esac
VR_PIDS+=("$player")
if [ "${mode%%-*}" = webkit ]; then
  # The page lays out (WebKit shows the first placeholder at a provisional
  # size, e.g. 640x320, before the settled 640x360); the client finds the
  # marker. Then the true rectangle: the bounding box of the marker's greys
  # on the guest's screen, below the toolbar (grey: HSL saturation under 3 %,
  # lightness between 10 and 92 %), the same on two screenshots in a row.
  vr_wait_for "$VR_TMP/client.log" "placement from the picture" "$client" 60 ||
    vr_fail "the client never found the marker: $(tail -n 3 "$VR_TMP/play.log")"
  last= box=
  for ((i = 0; i < 50; i++)); do
    import -window root "$VR_TMP/guest.png" || vr_fail "screenshot failed"
    b=$(convert "$VR_TMP/guest.png" -crop 1024x650+0+50 +repage -colorspace HSL \
      \( -clone 0 -channel G -separate +channel -threshold 3% -negate \) \
      \( -clone 0 -channel B -separate +channel -threshold 10% \) \
      \( -clone 0 -channel B -separate +channel -threshold 92% -negate \) \
      -delete 0 -evaluate-sequence min -format '%@' info:)
    [[ $b =~ ^([0-9]+)x([0-9]+)\+([0-9]+)\+([0-9]+)$ ]] && [ "$b" = "$last" ] && { box=$b; break; }
    last=$b
    sleep 0.1
  done
  [[ $box =~ ^([0-9]+)x([0-9]+)\+([0-9]+)\+([0-9]+)$ ]] || vr_fail "no steady placeholder on the guest's screen: $last"
  vw=${BASH_REMATCH[1]} vh=${BASH_REMATCH[2]} vx=${BASH_REMATCH[3]} vy=$((BASH_REMATCH[4] + 50))
  echo "$mode: the guest's screen shows the placeholder at $vx,$vy ${vw}x$vh"
elif [ "$mode" = totem ]; then
  # Totem's window (the visible one of class totem), moved to 60,50; Totem
  # scales the video into it, below its header bar.
  win=
  for ((i = 0; i < 600; i++)); do
    win=$(xdotool search --onlyvisible --class totem 2>/dev/null | tail -n 1 || true)
    [ -n "$win" ] && break
    vr_running "$player" || break
    sleep 0.1
  done
  [ -n "$win" ] || vr_fail "Totem's window did not appear: $(tail -n 3 "$VR_TMP/play.log")"
  xdotool windowmove "$win" 60 50
  vr_wait_for "$VR_TMP/client.log" "placement from the picture" "$client" 60 ||
    vr_fail "the client never found the marker: $(tail -n 3 "$VR_TMP/play.log")"
  # The true rectangle, measured on the guest's screen inside Totem's window
  # once the whole placeholder shows (the video's aspect, the same twice in
  # a row): Totem's controls cover the bottom of the video for the first
  # seconds.
  last= rect=
  for ((i = 0; i < 100; i++)); do
    read -r wx wy ww wh < <(xwininfo -id "$win" | awk '/Absolute upper-left X/ {x=$NF} /Absolute upper-left Y/ {y=$NF}
      /^ *Width/ {w=$NF} /^ *Height/ {h=$NF} END {print x, y, w, h}')
    import -window root "$VR_TMP/guest.png" || vr_fail "screenshot failed"
    m=$(convert "$VR_TMP/guest.png" -crop "${ww}x$wh+$wx+$wy" +repage -depth 8 rgb:- |
      python3 "$(dirname "$0")/marker_rect.py" "$ww" "$wh" "$wx" "$wy")
    if [[ $m =~ ^([0-9]+)\ ([0-9]+)\ ([0-9]+)\ ([0-9]+)$ ]] &&
      d=$((BASH_REMATCH[4] * 640 - BASH_REMATCH[3] * 360)) && [ "${d#-}" -le 640 ]; then
      [ "$m" = "$last" ] && { rect=$m; break; }
      last=$m
    else
      last=
    fi
    vr_running "$player" || break
    sleep 0.2
  done
  [ -n "$rect" ] || vr_fail "no whole placeholder on the guest's screen in Totem's window ($wx,$wy ${ww}x$wh): $m"
  read -r vx vy vw vh <<<"$rect"
  [ "$wx,$wy" = 60,50 ] || vr_fail "Totem's window is at $wx,$wy, not where it was moved to"
  echo "totem: Totem's window is at $wx,$wy ${ww}x$wh; the guest's screen shows the placeholder at $vx,$vy ${vw}x$vh"
else
  win=$(find_window "$size") || vr_fail "the player's ${size} window did not appear: $(tail -n 3 "$VR_TMP/play.log")"
  # Where the video is on the X screen (x y w h), and where the cover goes.
  vx=60 vy=50
  xdotool windowmove "$win" "$vx" "$vy"
  read -r vw vh < <(echo "$size" | tr x ' ')
fi
if [ "$mode" = moved ]; then
  # Wait until the client placed it once, then move and enlarge the window:
  # playbin's sink scales the picture to ximagesink's new window size.
  vr_wait_for "$VR_TMP/client.log" "placement from the picture $vx,$vy 640x360" "$client" 60 ||
    vr_fail "the client did not place the video at its first place"
  xdotool windowmove "$win" 150 120 windowsize "$win" 800 450
  vx=150 vy=120 vw=800 vh=450
fi
cx=$((vx + vw * 3 / 4)) cy=$((vy + vh / 2))
cover_rgb=c08020
ffmpeg -nostdin -v error -f lavfi -i "color=c=0x$cover_rgb:s=200x150,format=rgb24" -frames:v 1 "$VR_TMP/cover.png"
display -title vr-cover -geometry +$cx+$cy -borderwidth 0 "$VR_TMP/cover.png" >"$VR_TMP/cover.log" 2>&1 &
VR_PIDS+=("$!")
cover=$(timeout 30 xdotool search --sync --onlyvisible --name '^vr-cover$' | head -n 1 || true)
[ -n "$cover" ] || vr_fail "the covering window did not appear"
xdotool windowraise "$cover"
# The X server agrees on where the player's window is (its picture fills it).
[ "${mode%%-*}" = webkit ] || [ "$mode" = totem ] || geo=$(xwininfo -id "$win" | awk '/Absolute upper-left X/ {x=$NF} /Absolute upper-left Y/ {y=$NF}
  /^ *Width/ {w=$NF} /^ *Height/ {h=$NF} END {print x "," y " " w "x" h}')
[ "${mode%%-*}" = webkit ] || [ "$mode" = totem ] || echo "$mode: the player's window is at $geo"
[ "${mode%%-*}" = webkit ] || [ "$mode" = totem ] || [ "$geo" = "$vx,$vy ${vw}x$vh" ] || vr_fail "the player's window is at $geo, want $vx,$vy ${vw}x$vh"

# The snapshot mid-clip, asked for now that the scene is set (SIGUSR1: the
# client writes its picture of now to --snapshot-at-file, atomically). The
# covering window reaches the client through X damage, the host's QXL
# paints and SPICE: until its first pixel shows there, ask again (10 s at
# most); every check below is on that one picture.
snap_tries=0
for ((t = 0; t < 30; t++)); do
  rm -f "$VR_TMP/now.png"
  vr_running "$client" || vr_fail "the client ended before the snapshot mid-clip"
  kill -USR1 "$client"
  snap_tries=$((snap_tries + 1))
  for ((i = 0; i < 200; i++)); do [ -e "$VR_TMP/now.png" ] && break; sleep 0.05; done
  [ -e "$VR_TMP/now.png" ] || vr_fail "the client wrote no snapshot on SIGUSR1"
  [ "$(convert "$VR_TMP/now.png" -format "%[hex:p{$((cx + 1)),$((cy + 1))}]" info: | cut -c1-6)" = "${cover_rgb^^}" ] && break
  sleep 0.3
done
echo "$mode: snapshot mid-clip after $snap_tries request(s)"
cp "$VR_TMP/now.png" "$VR_TMP/client.png"
[ -n "${VR_SHOT:-}" ] && cp "$VR_TMP/client.png" "$VR_SHOT"
if [ "${mode%%-*}" = webkit ]; then
  # MiniBrowser stays open at the end of the video: the client's end is ours.
  wait "$client" || vr_fail "the client failed"
  vr_running "$player" || vr_fail "MiniBrowser died: $(tail -n 5 "$VR_TMP/play.log")"
  if [ "$mode" = webkit-mse ]; then
    # the page says what MSE did in its title (MiniBrowser's window name)
    title=$(xdotool search --name '^mse: ' getwindowname 2>/dev/null || true)
    echo "webkit-mse: the page: ${title:-no title}"
    [[ $title =~ ^mse:\ [0-9]+\ bytes\ appended ]] || vr_fail "the page did not append the fragments: ${title:-no title}"
  fi
  kill "$player"
  wait "$player" 2>/dev/null || true
elif [ "$mode" = totem ]; then
  # At its end Totem rewinds, paused, and shows the first frame: a new
  # stream (videoredirdec announces it again) that never ends. The client
  # is stopped once the first stream ended; its frames are checked.
  vr_wait_for "$VR_TMP/client.log" "ended (eos)" "$client" 90 ||
    vr_fail "the client did not see the end of Totem's video"
  vr_running "$player" || vr_fail "Totem died: $(tail -n 5 "$VR_TMP/play.log")"
  kill -TERM "$client"
  rc=0
  wait "$client" || rc=$?
  [ "$rc" = 143 ] || vr_fail "the client exited $rc on SIGTERM, not 143"
  kill "$player"
  wait "$player" 2>/dev/null || true
  grep -q 'videoredirdec.*client accepted the stream' "$VR_TMP/play.log" ||
    vr_fail "Totem did not plug videoredirdec, or no client took its stream"
  first=$(sed -n 's/.*stream \([0-9]*\) ended (eos): [0-9]* frames received, \([0-9]*\) decoded.*/\1 \2/p;T;q' "$VR_TMP/client.log")
  read -r sid n1 <<<"$first"
  echo "totem: stream $sid ended with $n1 frames decoded; streams Totem's videoredirdec announced: $(grep -c 'announced stream' "$VR_TMP/play.log")"
  { grep '^#' "$VR_TMP/client.md5"; grep -v '^#' "$VR_TMP/client.md5" | sed -n "1,${n1}p"; } >"$VR_TMP/first.md5"
  cp "$VR_TMP/first.md5" "$VR_TMP/client.md5"
else
  wait "$player" || vr_fail "the player failed: $(tail -n 5 "$VR_TMP/play.log")"
  wait "$client" || vr_fail "the client failed"
fi
vr_ffmpeg_framemd5 "${ref_clip:-$clip}" "$VR_TMP/ref.md5"
vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
[ "$mode" = vlc ] && { grep -q 'VLC shows a placeholder with marker code' "$VR_TMP/play.log" ||
  vr_fail "the VLC module did not take the stream"; }

# Placement from the picture: the last one found, before the snapshot.
line=$(grep -o 'placement from the picture [-0-9]*,[-0-9]* [0-9]*x[0-9]*' "$VR_TMP/client.log" | tail -n 1) ||
  vr_fail "the client did not find the marker"
echo "$mode: client: $line; true video rectangle $vx,$vy ${vw}x$vh"
[ "$line" = "placement from the picture $vx,$vy ${vw}x$vh" ] || vr_fail "the client placed the video elsewhere"

snap=$VR_TMP/client.png
px() { convert "$snap" -format "%[hex:p{$1,$2}]" info: | cut -c1-6; }
n=0
expect() { local got; got=$(px "$1" "$2"); [ "$got" = "${3^^}" ] || vr_fail "($1,$2) shows $got, want $3 ($4)"; n=$((n + 1)); }
for p in "$((cx + 1)) $((cy + 1))" "$((cx + 100)) $((cy + 75))" "$((cx + 199)) $((cy + 149))"; do
  set -- $p; expect "$1" "$2" "$cover_rgb" "covering window over the video"
done
# (WebKit: its toolbar is at the top of the screen; a point of the page instead)
corner="5 5"
[ "${mode%%-*}" = webkit ] && corner="$((vx + vw + 20)) $((vy + 10))"
for p in "$((vx - 2)) $((vy + 10))" "$((vx + 10)) $((vy - 2))" "$((vx + vw / 2)) $((vy + vh + 1))" "$corner" "1000 690"; do
  set -- $p
  if [ "$mode" = totem ]; then
    # Around the video: the desktop, and Totem's header bar above it, as
    # the guest's screen shows them.
    expect "$1" "$2" "$(convert "$VR_TMP/guest.png" -format "%[hex:p{$1,$2}]" info: | cut -c1-6)" "the guest's screen"
  else
    expect "$1" "$2" 000000 "desktop"
  fi
done
# The visible video: the left part of the rectangle (left of the cover),
# compared with FFmpeg's frame scaled to the rectangle.
convert "$VR_TMP/frame.png" -resize "${vw}x${vh}!" -crop "$((cx - vx))x$((vh))+0+0" +repage "$VR_TMP/want.png"
convert "$snap" -crop "$((cx - vx))x$((vh))+$vx+$vy" +repage "$VR_TMP/got.png"
bad=$(compare -metric AE -fuzz 12% "$VR_TMP/got.png" "$VR_TMP/want.png" null: 2>&1 || true)
total=$(((cx - vx) * vh))
echo "$mode: video part: ${bad%% *} of $total pixels differ from FFmpeg's frame by more than 12%"
[ "${bad%% *}" -le $((total / 50)) ] || vr_fail "the client's picture at the video's place is not the video"
echo "$mode: framemd5 bit-exact, marker placement exact, $n pixels of the cover and the desktop"
