#!/usr/bin/env bash
# videoredirdec over the real stack: players that pick their own sinks and
# decoders (playbin, gst-play-1.0, gst-launch-1.0 playbin with default sinks
# under Xvfb) plug videoredirdec by rank; the port comes from
# VIDEOREDIR_DEVICE (the stand-in's socket); videoredir-host carries the
# video and the headless videoredir-client decodes it; its frames are checked
# against FFmpeg's decode of the same file.
# Usage: gst_dec_e2e.sh playbin CLIP     vr-gst-play playbin, default video sink (Xvfb)
#        gst_dec_e2e.sh gst-play CLIP    gst-play-1.0 CLIP, default sinks (Xvfb); guest shows the placeholder
#        gst_dec_e2e.sh launch CLIP      gst-launch-1.0 playbin uri=CLIP, default sinks (Xvfb)
#        gst_dec_e2e.sh noclient CLIP    no host: decoded in the guest to the end (Xvfb screenshot)
#        gst_dec_e2e.sh reject CLIP      the client refuses the codec: decoded in the guest
#        gst_dec_e2e.sh reconnect        client killed mid-stream, decoded in the guest, another client comes
#        gst_dec_e2e.sh off CLIP         GST_PLUGIN_FEATURE_RANK=videoredirdec:NONE: nothing redirected
# Needs VR_BIN, VR_GST_PLUGIN (libgstvideoredir.so), VR_GST_PLAY (vr-gst-play).
mode=$1
shift
. "$(dirname "$0")/../e2e/lib.sh"
: "${VR_GST_PLUGIN:?}" "${VR_GST_PLAY:?}"
export VR_GST_PLUGIN GST_REGISTRY_FORK=no GST_REGISTRY="$VR_TMP/registry.bin"
unset DISPLAY VIDEOREDIR_DEVICE GST_PLUGIN_FEATURE_RANK
# ASan build: autovideosink picks glimagesink once gstreamer1.0-gl is
# installed (Totem, scripts/deps-test.txt, depends on it), and with ASan's
# slow unwinding on malloc Mesa's llvmpipe hung the player before its first
# frame (every thread waiting on libgcc's unwinder lock). What these modes
# check does not depend on the sink that shows the placeholder: there they
# keep ximagesink, autovideosink's choice without GL.
asan=$(ldd "$VR_GST_PLUGIN" 2>/dev/null | awk '/libasan/ && !n++ {print $3}')
[ -z "$asan" ] || export GST_PLUGIN_FEATURE_RANK=glimagesink:NONE

# Stock GStreamer programs load the plugin from GST_PLUGIN_PATH. An ASan
# build of the plugin needs the ASan runtime loaded first in them.
stock() { # stock PROGRAM ARGS... : runs a stock GStreamer program with the plugin
  local preload=
  preload=$(ldd "$VR_GST_PLUGIN" 2>/dev/null | awk '/libasan/ && !n++ {print $3}')
  GST_PLUGIN_PATH=$(dirname "$VR_GST_PLUGIN") LD_PRELOAD=${preload:-${LD_PRELOAD:-}} \
    ASAN_OPTIONS=${preload:+detect_leaks=0:}${ASAN_OPTIONS:-} timeout 120 "$@"
}
play() { "$VR_GST_PLAY" --timeout 120 "$1" >"$2" 2>&1; }
uri() { echo "file://$(realpath "$1")"; }
check_all_sent() { # every frame went to the client, the guest showed placeholders
  grep '^stats:' "$1" | tail -n 1
  [ "$(vr_stat_of "$1" frames-sent)" = "$(vr_stat_of "$1" frames-in)" ] ||
    vr_fail "the decoder sent $(vr_stat_of "$1" frames-sent) of $(vr_stat_of "$1" frames-in) frames"
  [ "$(vr_stat_of "$1" frames-placeholder)" -gt 0 ] || vr_fail "no placeholder frame: the guest decoded it all"
}
# Pixels of the placeholder (the placement marker: greys between 40 and 220)
# in the guest's screen (Xvfb root) at the video's place, 640x360 at 0,0.
placeholder_pixels() { convert "$1" -crop 640x360+0+0 +repage \
  -fx '(abs(r-g) < 0.03 && abs(g-b) < 0.03 && r > 0.1 && r < 0.92) ? 1 : 0' \
  -format '%[fx:int(mean*w*h+0.5)]' info:; }

case $mode in
  playbin | gst-play | launch)
    clip=$1
    [ -f "$clip" ] || vr_fail "no clip $clip"
    vr_start_xvfb 800x600x24
    vr_start_host
    vr_start_client client --framemd5 "$VR_TMP/client.md5" --exit-at-eos
    client=$CLIENT_PID
    export VIDEOREDIR_DEVICE=$HOST_SOCK
    case $mode in
      playbin)
        play "playbin uri=$(uri "$clip") audio-sink=fakesink" "$VR_TMP/play.log" ||
          vr_fail "pipeline failed: $(tail -n 3 "$VR_TMP/play.log")"
        grep -q "local-decoder" "$VR_TMP/play.log" || vr_fail "videoredirdec was not plugged"
        check_all_sent "$VR_TMP/play.log"
        ;;
      gst-play)
        command -v gst-play-1.0 >/dev/null || { echo "SKIP: no gst-play-1.0"; exit 77; }
        command -v import >/dev/null || vr_fail "ImageMagick import is needed"
        stock gst-play-1.0 --no-interactive "$clip" >"$VR_TMP/play.log" 2>&1 &
        player=$!
        VR_PIDS+=("$player")
        # Mid-clip, while the client shows the video: the guest's window
        # shows the placeholder.
        vr_wait_for "$VR_TMP/client.log" "presented [2-9][0-9]" "$client" 60 ||
          vr_fail "the client shows nothing"
        import -window root "$VR_TMP/guest.png" || vr_fail "screenshot failed"
        wait "$player" || vr_fail "gst-play-1.0 failed: $(tail -n 3 "$VR_TMP/play.log")"
        n=$(placeholder_pixels "$VR_TMP/guest.png")
        [ "$n" -ge $((640 * 360 * 9 / 10)) ] || vr_fail "the guest shows $n placeholder pixels, want the video's 640x360"
        echo "gst-play: the guest window shows the placeholder ($n pixels)"
        ;;
      launch)
        stock gst-launch-1.0 -q playbin uri="$(uri "$clip")" >"$VR_TMP/play.log" 2>&1 ||
          vr_fail "gst-launch-1.0 failed: $(tail -n 3 "$VR_TMP/play.log")"
        ;;
    esac
    wait "$client" || vr_fail "client failed"
    grep 'stream 1 ended' "$VR_TMP/client.log" || true
    vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
    vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
    ;;

  noclient)
    # No host: the port cannot open; the element decodes in the guest and the
    # default sink shows the picture to the end.
    clip=$1
    command -v import >/dev/null || vr_fail "ImageMagick import is needed"
    vr_start_xvfb 800x600x24
    export VIDEOREDIR_DEVICE=$VR_TMP/nobody.sock
    "$VR_GST_PLAY" --timeout 120 "playbin uri=$(uri "$clip") audio-sink=fakesink" >"$VR_TMP/play.log" 2>&1 &
    player=$!
    VR_PIDS+=("$player")
    vr_wait_for "$VR_TMP/play.log" "frames-local=(guint64)[3-9][0-9]" "$player" 60 ||
      vr_fail "no local decoding: $(tail -n 3 "$VR_TMP/play.log")"
    import -window root "$VR_TMP/shot.png" || vr_fail "screenshot failed"
    wait "$player" || vr_fail "pipeline failed: $(tail -n 3 "$VR_TMP/play.log")"
    grep '^stats:' "$VR_TMP/play.log" | tail -n 1
    [ "$(vr_stat_of "$VR_TMP/play.log" mode)" = local ] || vr_fail "not in local mode"
    n=$(vr_stat_of "$VR_TMP/play.log" frames-local)
    [ "$n" = 75 ] || vr_fail "$n frames decoded locally, want 75"
    [ "$(vr_stat_of "$VR_TMP/play.log" frames-placeholder)" = 0 ] || vr_fail "placeholders shown without a client"
    # The screen: testsrc2's picture (many colours), not a flat placeholder.
    colours=$(identify -format %k "$VR_TMP/shot.png")
    [ "$colours" -gt 100 ] || vr_fail "the screen shows $colours colours: no video"
    # (testsrc2 has dark areas near the placeholder's colour; a flat
    # placeholder would cover the whole 640x360.)
    n=$(placeholder_pixels "$VR_TMP/shot.png")
    [ "$n" -lt $((640 * 360 / 2)) ] || vr_fail "the screen shows $n placeholder pixels without a client"
    echo "noclient: 75 frames decoded by $(vr_stat_of "$VR_TMP/play.log" local-decoder) in the guest; the screen shows the video ($colours colours)"
    ;;

  reject)
    clip=$1
    vr_start_host
    vr_start_client client --codecs vp9 --exit-at-eos
    export VIDEOREDIR_DEVICE=$HOST_SOCK
    play "playbin uri=$(uri "$clip") audio-sink=fakesink video-sink=\"fakesink sync=true\"" "$VR_TMP/play.log" ||
      vr_fail "pipeline failed: $(tail -n 3 "$VR_TMP/play.log")"
    grep '^stats:' "$VR_TMP/play.log" | tail -n 1
    [ "$(vr_stat_of "$VR_TMP/play.log" mode)" = local ] || vr_fail "not in local mode after the reject"
    [ "$(vr_stat_of "$VR_TMP/play.log" frames-sent)" = 0 ] || vr_fail "frames went to a client that refused them"
    n=$(vr_stat_of "$VR_TMP/play.log" frames-local)
    [ "$n" = 75 ] || vr_fail "$n frames decoded locally, want 75"
    grep -i "reject" "$VR_TMP/client.log" | head -n 2 || true
    echo "reject: the client refused h264, the guest decoded all 75 frames"
    ;;

  reconnect)
    # 12 s, a keyframe every 25 frames. Client A takes the video and is
    # killed 2 s in; the element notices its silence and decodes locally;
    # client B comes and decodes from a keyframe to the end.
    clip=$VR_TMP/long.mp4
    ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x180:rate=25:duration=12" -pix_fmt yuv420p \
      -c:v libx264 -g 25 -bf 2 -x264-params threads=1 "$clip"
    vr_start_host
    vr_start_client a --framemd5 "$VR_TMP/a.md5"
    a=$CLIENT_PID
    export VIDEOREDIR_DEVICE=$HOST_SOCK
    "$VR_GST_PLAY" --timeout 120 "playbin uri=$(uri "$clip") audio-sink=fakesink video-sink=\"fakesink sync=true\"" \
      >"$VR_TMP/play.log" 2>&1 &
    player=$!
    VR_PIDS+=("$player")
    vr_wait_for "$VR_TMP/a.log" "presented [5-9][0-9]" "$a" 60 || vr_fail "client A shows nothing"
    kill -9 "$a"
    vr_wait_for "$VR_TMP/play.log" "mode=(string)local, session=(string)hello" "$player" 30 ||
      vr_fail "the element did not notice the client going"
    local_at=$(vr_stat_of "$VR_TMP/play.log" frames-local)
    for ((i = 0; i < 600; i++)); do
      [ "$(vr_stat_of "$VR_TMP/play.log" frames-local)" -ge $((local_at + 15)) ] && break
      kill -0 "$player" 2>/dev/null || vr_fail "the pipeline ended without a client"
      sleep 0.05
    done
    [ "$(vr_stat_of "$VR_TMP/play.log" frames-local)" -ge $((local_at + 15)) ] ||
      vr_fail "the guest did not decode without a client ($(vr_stat_of "$VR_TMP/play.log" frames-local) frames, from $local_at)"
    vr_start_client b --framemd5 "$VR_TMP/b.md5" --exit-at-eos
    b=$CLIENT_PID
    wait "$player" || vr_fail "pipeline failed: $(tail -n 3 "$VR_TMP/play.log")"
    wait "$b" || vr_fail "client B failed"
    grep '^stats:' "$VR_TMP/play.log" | tail -n 1
    [ "$(vr_stat_of "$VR_TMP/play.log" sessions)" -ge 2 ] || vr_fail "one session only"
    [ "$(vr_stat_of "$VR_TMP/play.log" switches-to-client)" -ge 1 ] || vr_fail "never switched back to the client"
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
    echo "reconnect: A killed; the guest decoded $(vr_stat_of "$VR_TMP/play.log" frames-local) frames itself;" \
      "B decoded frames $((k - 1))..299 from a keyframe, equal to FFmpeg's ($(wc -l <"$VR_TMP/b.col") frames)"
    ;;

  off)
    # Turned off by the user: playbin decodes with the usual decoder and
    # nothing reaches the port, though a client is there.
    clip=$1
    vr_start_host
    vr_start_client client --framemd5 "$VR_TMP/client.md5"
    export VIDEOREDIR_DEVICE=$HOST_SOCK
    GST_PLUGIN_FEATURE_RANK=videoredirdec:NONE GST_DEBUG=videoredirdec:4 \
      stock gst-launch-1.0 playbin uri="$(uri "$clip")" audio-sink=fakesink video-sink="fakesink sync=true" \
      >"$VR_TMP/play.log" 2>&1 || vr_fail "gst-launch-1.0 failed: $(tail -n 3 "$VR_TMP/play.log")"
    grep -q "Got EOS" "$VR_TMP/play.log" || vr_fail "the clip did not play to its end"
    ! grep -q "videoredirdec" "$VR_TMP/play.log" || vr_fail "videoredirdec was plugged: $(grep -m2 videoredirdec "$VR_TMP/play.log")"
    ! grep -q "guest connected" "$VR_TMP/host.log" || vr_fail "a guest opened the port"
    [ -z "$(vr_md5_column "$VR_TMP/client.md5" 2>/dev/null)" ] || vr_fail "the client decoded frames"
    echo "off: with videoredirdec:NONE the clip played to its end, the port stayed closed, the client got nothing"
    ;;
  *) vr_fail "unknown mode $mode" ;;
esac
