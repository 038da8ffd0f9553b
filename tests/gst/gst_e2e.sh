#!/usr/bin/env bash
# videoredirsink over the real stack: a GStreamer pipeline plays a clip into
# the sink ("guest"), videoredir-host (libspice-server) carries it, the
# headless videoredir-client decodes it. Decoded frames are checked against
# FFmpeg's own decode of the same file.
# Usage: gst_e2e.sh playbin CLIP          playbin video-sink=videoredirsink
#        gst_e2e.sh launch CLIP "ELEMENTS" filesrc ! ELEMENTS ! videoredirsink
#        gst_e2e.sh noclient CLIP          no client: plays locally to the end (Xvfb screenshot)
#        gst_e2e.sh placeholder CLIP       Xvfb: placeholder in the guest window, video at its place in the client
#        gst_e2e.sh placeholder-late       Xvfb: plays locally, then a client comes: the placeholder stays
#        gst_e2e.sh reject CLIP            the client refuses the codec: plays locally
#        gst_e2e.sh reconnect              client killed mid-stream, another one comes
# Needs VR_BIN, VR_GST_PLUGIN (libgstvideoredir.so), VR_GST_PLAY (vr-gst-play).
mode=$1
shift
. "$(dirname "$0")/../e2e/lib.sh"
: "${VR_GST_PLUGIN:?}" "${VR_GST_PLAY:?}"
export VR_GST_PLUGIN GST_REGISTRY_FORK=no GST_REGISTRY="$VR_TMP/registry.bin"
unset DISPLAY

play() { # play DESCRIPTION LOG : runs the pipeline, stats and errors into LOG
  "$VR_GST_PLAY" --timeout 120 "$1" >"$2" 2>&1
}
start_xvfb() { vr_start_xvfb 800x600x24; }
# The colour (RRGGBB) of PNG at X,Y.
px() { convert "$1" -format "%[hex:p{$2,$3}]" info: | cut -c1-6; }
# Screenshots of the guest's screen into guest.png until the placeholder's
# first pixel shows (the X server may show it a little later under ASan and
# load), 4 s at most while the player runs; if it never does, the X window
# tree goes into the failure's log.
shot_until_placeholder() {
  local i c
  for ((i = 0; i < 20; i++)); do
    import -window root "$VR_TMP/guest.png" || vr_fail "screenshot failed"
    c=$(px "$VR_TMP/guest.png" 5 5)
    echo "$(date +%T.%N | cut -c1-12) (5,5) $c" >>"$VR_TMP/shots.log"
    [ "$c" = 202830 ] && return 0
    # The window tree at the first miss (while the player still runs).
    [ "$i" = 0 ] && { xwininfo -root -tree >"$VR_TMP/windows.log" 2>&1 || true; }
    kill -0 "$player" 2>/dev/null || break
    sleep 0.2
  done
  return 0
}
# play_bg CLIP: the H.264 MP4 CLIP into the sink, in the background (sets player).
play_bg() {
  "$VR_GST_PLAY" --timeout 120 "filesrc location=$1 ! qtdemux ! h264parse ! $(sink)" >"$VR_TMP/play.log" 2>&1 &
  player=$!
  VR_PIDS+=("$player")
}
sink() { echo "videoredirsink device=$HOST_SOCK $*"; }

case $mode in
  playbin | launch)
    clip=$1
    [ -f "$clip" ] || vr_fail "no clip $clip"
    vr_start_host
    vr_start_client client --framemd5 "$VR_TMP/client.md5" --exit-at-eos
    client=$CLIENT_PID
    if [ "$mode" = playbin ]; then
      desc="playbin uri=file://$(realpath "$clip") audio-sink=fakesink video-sink=\"$(sink)\""
    else
      desc="filesrc location=$clip ! $2 ! $(sink)"
    fi
    play "$desc" "$VR_TMP/play.log" || vr_fail "pipeline failed: $(tail -n 3 "$VR_TMP/play.log")"
    wait "$client" || vr_fail "client failed"
    grep '^stats:' "$VR_TMP/play.log" | tail -n 1
    # The client took the video and got every frame (the sink plays locally
    # until the client's ACCEPT, then sends from the GOP's keyframe). The
    # final mode is not checked: the client exits at EOS, and a slow teardown,
    # as under ASan, can see it go before the pipeline stops.
    [ "$(vr_stat_of "$VR_TMP/play.log" frames-sent)" = "$(vr_stat_of "$VR_TMP/play.log" frames-in)" ] ||
      vr_fail "the sink sent $(vr_stat_of "$VR_TMP/play.log" frames-sent) of $(vr_stat_of "$VR_TMP/play.log" frames-in) frames"
    [ "$(vr_stat_of "$VR_TMP/play.log" switches-to-client)" -ge 1 ] || vr_fail "the client never took the video"
    grep 'stream 1 ended' "$VR_TMP/client.log" || true
    vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
    vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
    ;;

  noclient)
    # No host at all: the port cannot open; the video plays in the guest's
    # own window (ximagesink) to the end.
    clip=$1
    command -v import >/dev/null || vr_fail "ImageMagick import is needed"
    start_xvfb
    HOST_SOCK=$VR_TMP/nobody.sock
    play_bg "$clip"
    # One second into the clip: the window shows the video.
    vr_wait_for "$VR_TMP/play.log" "frames-local=(guint64)[3-9][0-9]" "$player" 60 ||
      vr_fail "no local playback: $(tail -n 3 "$VR_TMP/play.log")"
    import -window root "$VR_TMP/shot.png" || vr_fail "screenshot failed"
    [ -n "${VR_SHOT:-}" ] && cp "$VR_TMP/shot.png" "$VR_SHOT"
    wait "$player" || vr_fail "pipeline failed: $(tail -n 3 "$VR_TMP/play.log")"
    grep '^stats:' "$VR_TMP/play.log" | tail -n 1
    [ "$(vr_stat_of "$VR_TMP/play.log" mode)" = local ] || vr_fail "not in local mode"
    n=$(vr_stat_of "$VR_TMP/play.log" frames-local)
    [ "$n" = 75 ] || vr_fail "$n frames played locally, want 75"
    # The window (640x360 at 0,0): testsrc2's picture, many colours, not
    # the placeholder's flat colour.
    colours=$(convert "$VR_TMP/shot.png" -crop 640x360+0+0 +repage -format %k info:)
    [ "$colours" -gt 100 ] || vr_fail "the window shows $colours colours: no video"
    echo "noclient: 75 frames played locally, the window shows the video ($colours colours)"
    ;;

  placeholder)
    # A client takes the video: the sink's own window (X11, tracked) shows
    # the flat placeholder, and the client draws the video where that window
    # is (the tracker's geometry: 0,0 640x360 on the guest's screen).
    clip=$1
    command -v import >/dev/null || vr_fail "ImageMagick import is needed"
    # The clip three times over (9 s): the screenshots must have time to
    # catch the placeholder while the player runs, also on a loaded machine.
    ffmpeg -nostdin -v error -stream_loop 2 -i "$clip" -map 0:v:0 -c copy "$VR_TMP/long.mp4" ||
      vr_fail "ffmpeg could not loop $clip"
    start_xvfb
    vr_start_host
    vr_start_client client --snapshot "$VR_TMP/client.png" --exit-at-eos
    client=$CLIENT_PID
    play_bg "$VR_TMP/long.mp4"
    vr_wait_for "$VR_TMP/play.log" "mode=(string)redirect, session=(string)streaming, frames-in=(guint64)[2-9][0-9]" \
      "$player" 60 || vr_fail "the client did not take the video: $(tail -n 3 "$VR_TMP/play.log")"
    # The guest's screen while the client has the video. The sink paints its
    # placeholder when it hands the video over; under ASan and load the X
    # server may show it a little later: screenshots until its first pixel
    # is there (while the clip plays, 4 s at most), then every check on
    # that one.
    shot_until_placeholder
    wait "$player" || vr_fail "pipeline failed"
    wait "$client" || vr_fail "client failed"
    [ -n "${VR_SHOT:-}" ] && cp "$VR_TMP/guest.png" "$VR_SHOT"
    n=0
    for p in "5 5" "600 40" "30 330" "620 340" "320 100"; do
      set -- $p
      [ "$(px "$VR_TMP/guest.png" "$1" "$2")" = 202830 ] ||
        vr_fail "guest window at ($1,$2) shows $(px "$VR_TMP/guest.png" "$1" "$2"), not the placeholder"
      n=$((n + 1))
    done
    colours=$(convert "$VR_TMP/guest.png" -crop 640x360+0+0 +repage -format %k info:)
    [ "$colours" -le 4 ] || vr_fail "the guest window has $colours colours: the video is drawn in the guest"
    # The client's picture: the video (many colours) inside 0,0 640x360.
    colours=$(convert "$VR_TMP/client.png" -crop 640x360+0+0 +repage -format %k info:)
    [ "$colours" -gt 100 ] || vr_fail "the client shows no video at the window's place ($colours colours)"
    echo "placeholder: $n guest pixels are the placeholder; the client shows the video at 0,0 640x360 ($colours colours)"
    ;;

  placeholder-late)
    # The guest plays the video in its window first (no client yet), then a
    # client comes: the local branch stops and the placeholder must take
    # the window and keep it (the stopped video sink must not draw its last
    # frame over it). A 12 s clip, a keyframe every 25 frames.
    for t in import display xdotool; do command -v $t >/dev/null || vr_fail "$t is needed"; done
    clip=$VR_TMP/long.mp4
    ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=640x360:rate=25:duration=12" -pix_fmt yuv420p \
      -c:v libx264 -g 25 -bf 2 -x264-params threads=1 "$clip"
    start_xvfb
    vr_start_host
    play_bg "$clip"
    vr_wait_for "$VR_TMP/play.log" "mode=(string)local, .*frames-local=(guint64)[1-9][0-9]" "$player" 60 ||
      vr_fail "the guest did not play locally: $(tail -n 3 "$VR_TMP/play.log")"
    import -window root "$VR_TMP/local.png" || vr_fail "screenshot failed"
    colours=$(convert "$VR_TMP/local.png" -crop 640x360+0+0 +repage -format %k info:)
    [ "$colours" -gt 100 ] || vr_fail "playing locally, the window shows $colours colours: no video"
    vr_start_client client --exit-at-eos
    client=$CLIENT_PID
    vr_wait_for "$VR_TMP/play.log" "switches-to-client=(guint64)1" "$player" 60 ||
      vr_fail "the client did not take the video: $(tail -n 3 "$VR_TMP/play.log")"
    shot_until_placeholder
    [ "$(px "$VR_TMP/guest.png" 5 5)" = 202830 ] ||
      vr_fail "4 s after the switch the window's (5,5) shows $(px "$VR_TMP/guest.png" 5 5), not the placeholder"
    # A window opens over it and closes: the X server exposes the part it
    # covered, and only the placeholder may be drawn there (the stopped
    # video sink answered with its last frame).
    ffmpeg -nostdin -v error -f lavfi -i "color=c=0xc08020:s=200x150,format=rgb24" -frames:v 1 "$VR_TMP/cover.png"
    display -title vr-cover -geometry +100+100 -borderwidth 0 "$VR_TMP/cover.png" >"$VR_TMP/cover.log" 2>&1 &
    cover_pid=$!
    VR_PIDS+=("$cover_pid")
    cover=$(timeout 30 xdotool search --sync --onlyvisible --name '^vr-cover$' | head -n 1 || true)
    [ -n "$cover" ] || vr_fail "the covering window did not appear"
    kill "$cover_pid"
    wait "$cover_pid" 2>/dev/null || true
    # Still there later (what the stopped sink drew, or its answer to the
    # Expose, would show now), with the whole window flat.
    sleep 1.5
    import -window root "$VR_TMP/guest.png" || vr_fail "screenshot failed"
    kill -0 "$player" 2>/dev/null || vr_fail "the clip ended before the checks (too slow a machine?)"
    [ -n "${VR_SHOT:-}" ] && cp "$VR_TMP/guest.png" "$VR_SHOT"
    for p in "5 5" "600 40" "30 330" "620 340" "320 100" "150 150" "290 240"; do
      set -- $p
      [ "$(px "$VR_TMP/guest.png" "$1" "$2")" = 202830 ] ||
        vr_fail "1.5 s later the window at ($1,$2) shows $(px "$VR_TMP/guest.png" "$1" "$2"), not the placeholder"
    done
    colours=$(convert "$VR_TMP/guest.png" -crop 640x360+0+0 +repage -format %k info:)
    [ "$colours" -le 4 ] || vr_fail "the window has $colours colours after the switch: video drawn in the guest"
    wait "$player" || vr_fail "pipeline failed"
    wait "$client" || vr_fail "client failed"
    grep '^stats:' "$VR_TMP/play.log" | tail -n 1
    echo "placeholder-late: played locally ($(vr_stat_of "$VR_TMP/play.log" frames-local) frames), then the client took it; the placeholder held the window ($colours colours)"
    ;;

  reject)
    clip=$1
    vr_start_host
    vr_start_client client --codecs vp9 --exit-at-eos
    play "filesrc location=$clip ! qtdemux ! h264parse ! $(sink)" "$VR_TMP/play.log" ||
      vr_fail "pipeline failed: $(tail -n 3 "$VR_TMP/play.log")"
    grep '^stats:' "$VR_TMP/play.log" | tail -n 1
    [ "$(vr_stat_of "$VR_TMP/play.log" mode)" = local ] || vr_fail "not in local mode after the reject"
    [ "$(vr_stat_of "$VR_TMP/play.log" frames-sent)" = 0 ] || vr_fail "frames went to a client that refused them"
    n=$(vr_stat_of "$VR_TMP/play.log" frames-local)
    [ "$n" = 75 ] || vr_fail "$n frames played locally, want 75"
    grep -i "reject" "$VR_TMP/client.log" | head -n 2 || true
    echo "reject: the client refused h264, the guest played all 75 frames locally"
    ;;

  reconnect)
    # 12 s, a keyframe every 25 frames. Client A takes the video, is killed
    # 3 s in; the sink notices its silence and plays locally; client B
    # comes and decodes from a keyframe (the cached GOP) to the end.
    clip=$VR_TMP/long.mp4
    ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x180:rate=25:duration=12" -pix_fmt yuv420p \
      -c:v libx264 -g 25 -bf 2 -x264-params threads=1 "$clip"
    vr_start_host
    vr_start_client a --framemd5 "$VR_TMP/a.md5"
    a=$CLIENT_PID
    play_bg "$clip"
    vr_wait_for "$VR_TMP/a.log" "presented [5-9][0-9]" "$a" 60 || vr_fail "client A shows nothing"
    kill -9 "$a"
    vr_wait_for "$VR_TMP/play.log" "mode=(string)local, session=(string)hello" "$player" 30 ||
      vr_fail "the sink did not notice the client going"
    local_at=$(vr_stat_of "$VR_TMP/play.log" frames-local)
    # With no client the guest must show the video itself: wait (bounded)
    # until it has played 15 more frames locally.
    for ((i = 0; i < 600; i++)); do
      [ "$(vr_stat_of "$VR_TMP/play.log" frames-local)" -ge $((local_at + 15)) ] && break
      kill -0 "$player" 2>/dev/null || vr_fail "the pipeline ended without a client"
      sleep 0.05
    done
    [ "$(vr_stat_of "$VR_TMP/play.log" frames-local)" -ge $((local_at + 15)) ] ||
      vr_fail "the guest did not play locally without a client ($(vr_stat_of "$VR_TMP/play.log" frames-local) frames, from $local_at)"
    vr_start_client b --framemd5 "$VR_TMP/b.md5" --exit-at-eos
    b=$CLIENT_PID
    wait "$player" || vr_fail "pipeline failed: $(tail -n 3 "$VR_TMP/play.log")"
    wait "$b" || vr_fail "client B failed"
    grep '^stats:' "$VR_TMP/play.log" | tail -n 1
    local_end=$(vr_stat_of "$VR_TMP/play.log" frames-local)
    [ "$((local_end - local_at))" -ge 15 ] ||
      vr_fail "$((local_end - local_at)) frames played locally in the second without a client"
    [ "$(vr_stat_of "$VR_TMP/play.log" sessions)" -ge 2 ] || vr_fail "one session only"
    vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
    vr_md5_column "$VR_TMP/ref.md5" >"$VR_TMP/ref.col"
    vr_md5_column "$VR_TMP/b.md5" >"$VR_TMP/b.col"
    first=$(head -n 1 "$VR_TMP/b.col")
    [ -n "$first" ] || vr_fail "client B decoded nothing"
    k=$(grep -n -m1 -- "$first" "$VR_TMP/ref.col" | cut -d: -f1 || true)
    [ -n "$k" ] || vr_fail "client B's first frame is not one of FFmpeg's"
    [ $(((k - 1) % 25)) = 0 ] || vr_fail "client B started at frame $((k - 1)), not a keyframe"
    tail -n +"$k" "$VR_TMP/ref.col" >"$VR_TMP/ref.tail"
    cmp -s "$VR_TMP/b.col" "$VR_TMP/ref.tail" ||
      vr_fail "client B's frames differ from FFmpeg's from frame $((k - 1)): $(diff "$VR_TMP/b.col" "$VR_TMP/ref.tail" | head -n 3)"
    echo "reconnect: A killed; the guest played $((local_end - local_at))+ frames locally;" \
      "B decoded frames $((k - 1))..299 from a keyframe, equal to FFmpeg's ($(wc -l <"$VR_TMP/b.col") frames)"
    ;;
  *) vr_fail "unknown mode $mode" ;;
esac
