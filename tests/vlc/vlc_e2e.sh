#!/usr/bin/env bash
# VLC 3 with the videoredir module over the real stack: VLC (the "guest"
# player, -I dummy --play-and-exit, audio off) loads the module from the
# build (VLC_PLUGIN_PATH, no plugin cache), videoredir-host (libspice-server)
# carries the video, the headless videoredir-client decodes it. VLC's video
# output is `yuv`: every picture VLC displays is written to a YUV4MPEG2
# file, so the test sees what VLC showed: the placeholder while the client
# has the video, VLC's own decode (compared with FFmpeg's) when it has not.
# Usage: vlc_e2e.sh play CLIP [LOSS] redirected: the client's decode equals FFmpeg's, VLC shows placeholders
#                                  (LOSS: VLC itself drops that many access units at the end)
#        vlc_e2e.sh noclient CLIP  port open, no client answers: VLC's avcodec plays it
#        vlc_e2e.sh noport CLIP    no port at all: VLC's avcodec plays it
#        vlc_e2e.sh reject CLIP    the client refuses the codec: VLC's avcodec plays it
#        vlc_e2e.sh eof CLIP       the port reads EOF (a VM's virtio port with no SPICE client): VLC's avcodec plays it
#        vlc_e2e.sh gone           client killed mid-stream: VLC reloads its decoder and plays on
#        vlc_e2e.sh transcode CLIP --sout '#transcode': the module stays out, a client there or not
#        vlc_e2e.sh control        pause (the client stops too) and seek through VLC's rc interface
# Needs VR_BIN and VR_VLC_PLUGIN_DIR (the folder of libvideoredir_plugin.so).
mode=$1
shift
. "$(dirname "$0")/../e2e/lib.sh"
: "${VR_VLC_PLUGIN_DIR:?}"
command -v vlc >/dev/null || { echo "SKIP: vlc is not installed"; exit 77; }
command -v ffmpeg >/dev/null || vr_fail "ffmpeg is needed"

vlc_env=(HOME="$VR_TMP" XDG_CONFIG_HOME="$VR_TMP/config" XDG_CACHE_HOME="$VR_TMP/cache"
         XDG_DATA_HOME="$VR_TMP/data" VLC_PLUGIN_PATH="$VR_VLC_PLUGIN_DIR")
vlc_intf=(-I dummy)
if [ "${VR_SANITIZED:-0}" = 1 ]; then
  # The module is built with ASan/UBSan: it runs in vr-vlc-play, libvlc in
  # a program built with them (the vlc program cannot load it: with the
  # sanitizer runtime preloaded, VLC 3 deadlocks in its gettext set-up).
  # Same options, same module; stdin takes the same "pause"/"seek" lines.
  [ -x "${VR_VLC_PLAY:-}" ] || { echo "SKIP: sanitizer build without vr-vlc-play (libvlc-dev)"; exit 77; }
  vlc_cmd=("$VR_VLC_PLAY")
  vlc_intf=()
  cat "$(dirname "$0")/../lsan.supp" "$(dirname "$0")/lsan-vlc.supp" >"$VR_TMP/lsan.supp"
  vlc_env+=(LSAN_OPTIONS="suppressions=$VR_TMP/lsan.supp:print_suppressions=0")
elif [ "$(id -u)" = 0 ]; then
  # VLC refuses to run as root: run it as an unprivileged user id of a user
  # namespace (same files, same sockets).
  unshare --user --map-user=1000 --map-group=1000 true 2>/dev/null ||
    { echo "SKIP: running as root, and no user namespace to run VLC in"; exit 77; }
  vlc_cmd=(unshare --user --map-user=1000 --map-group=1000 vlc)
else
  vlc_cmd=(vlc)
fi
# vlc_play CLIP LOG Y4M : plays CLIP to its end; VLC's log (-vv) into LOG,
# the pictures it displays into Y4M (VLC's avcodec does not "hurry up" when
# late, i.e. skip the loop filter: what it shows is compared with FFmpeg's). Returns VLC's exit status. VLC's yuv
# output truncates its file each time it opens a display (a decoder reload
# does), so it writes into a FIFO that this shell keeps open, and everything
# is collected (y4m_md5.py reads the several headers).
vlc_play() {
  local fifo=$VR_TMP/y4m.fifo rc=0 fd cat_pid
  rm -f "$fifo"
  mkfifo "$fifo"
  cat "$fifo" >"$3" &
  cat_pid=$!
  exec {fd}>"$fifo"
  env "${vlc_env[@]}" timeout -k 10 120 "${vlc_cmd[@]}" "${vlc_intf[@]}" --no-plugins-cache --play-and-exit --no-audio \
    --no-video-title-show --no-osd --no-spu --no-avcodec-hurry-up --vout yuv --yuv-file "$fifo" --yuv-chroma I420 --yuv-yuv4mpeg2 \
    -vv "$1" >"$2" 2>&1 || rc=$?
  exec {fd}>&-
  wait "$cat_pid" || true
  return "$rc"
}
# The decoder modules VLC used, in order ("videoredir", "avcodec", ...).
decoders_used() { sed -n 's/.*using video decoder module "\([^"]*\)".*/\1/p' "$1" | tr '\n' ' '; }
# md5 of each picture of a YUV4MPEG2 stream (as ffmpeg -f framemd5 gives).
y4m_md5() { python3 "$(dirname "$0")/y4m_md5.py" "$1"; }
# md5 of one placeholder picture of W x H: I420 with the placement marker of
# the code the module logged in LOG (the last stream's), limited range.
placeholder_md5() {
  local w=$1 h=$2 code
  code=$(sed -n 's/.*VLC shows a placeholder with marker code \([0-9]*\).*/\1/p' "$3" | tail -n 1)
  [ -n "$code" ] || vr_fail "the module did not say its marker code"
  "$VR_BIN/vr-marker-frame" "$code" "$w" "$h" | md5sum | cut -d' ' -f1
}
y4m_size() { head -c 100 "$1" | sed -n 1p | sed -n 's/.* W\([0-9]*\) H\([0-9]*\) .*/\1 \2/p'; }

# played_to_end COL REF : the last picture of COL is one of the last 10
# frames of REF (at its end a loaded VLC may drop a late picture or two).
played_to_end() {
  local last k
  last=$(tail -n 1 "$1")
  k=$(grep -n -x -F -- "$last" "$2" | tail -n 1 | cut -d: -f1 || true)
  [ -n "$k" ] && [ "$k" -gt $(($(wc -l <"$2") - 10)) ]
}

# check_local Y4M CLIP MIN : what VLC displayed is FFmpeg's decode of CLIP:
# each picture is one of FFmpeg's frames, in order, at least MIN different
# ones, to the end (a loaded machine may drop a late picture).
check_local() {
  local y4m=$1 clip=$2 min=$3 n want
  [ -s "$y4m" ] || vr_fail "VLC displayed nothing"
  vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
  vr_md5_column "$VR_TMP/ref.md5" >"$VR_TMP/ref.col"
  # VLC's output shows a picture again while the next one is not there
  # yet (e.g. while a decoder starts): repeats count once.
  y4m_md5 "$y4m" | uniq >"$VR_TMP/vlc.col"
  n=$(wc -l <"$VR_TMP/vlc.col")
  want=$(wc -l <"$VR_TMP/ref.col")
  awk 'BEGIN { i = 0; n = 0 } NR == FNR { ref[n++] = $1; next } { while (i < n && ref[i] != $1) i++; if (i == n) { print "picture " FNR " is not one of FFmpeg'"'"'s frames (in order)"; bad = 1; exit } i++ }
       END { exit bad }' "$VR_TMP/ref.col" "$VR_TMP/vlc.col" || vr_fail "VLC did not display FFmpeg's decode"
  [ "$n" -ge "$min" ] || vr_fail "VLC displayed $n pictures, want at least $min"
  played_to_end "$VR_TMP/vlc.col" "$VR_TMP/ref.col" || vr_fail "VLC did not play to the end"
  echo "VLC displayed $n of $want frames, each equal to FFmpeg's"
}

case $mode in
  play)
    clip=$1
    [ -f "$clip" ] || vr_fail "no clip $clip"
    vr_start_host
    vr_start_client client --framemd5 "$VR_TMP/client.md5" --exit-at-eos
    client=$CLIENT_PID
    VIDEOREDIR_DEVICE=$HOST_SOCK vlc_play "$clip" "$VR_TMP/vlc.log" "$VR_TMP/vlc.y4m" ||
      vr_fail "VLC failed ($?)"
    wait "$client" || vr_fail "client failed"
    used=$(decoders_used "$VR_TMP/vlc.log")
    echo "VLC's decoders: $used"
    grep -o 'videoredir decoder: .* goes to the SPICE client.*' "$VR_TMP/vlc.log" | sed -n 1p
    # The last decoder VLC loaded is the module. (An MPEG-TS opens a decoder
    # before VLC's packetizer knows the size: the module declines that one,
    # avcodec gets it, and VLC reloads when the size is known. The pictures
    # below show that avcodec decoded nothing displayed.)
    case "$used" in *'videoredir ') ;; *) vr_fail "VLC did not end up with the videoredir module";; esac
    grep 'stream 1 ended' "$VR_TMP/client.log" || true
    vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
    if [ "${2:-0}" = 0 ]; then
      vr_compare_md5 "$VR_TMP/client.md5" "$VR_TMP/ref.md5"
    else
      # VLC itself hands its decoder all but the last LOSS access units
      # (what the module got, it sent): the client's frames are FFmpeg's in
      # order, with at most LOSS missing.
      vr_md5_column "$VR_TMP/client.md5" >"$VR_TMP/client.col"
      vr_md5_column "$VR_TMP/ref.md5" >"$VR_TMP/ref.col"
      awk 'BEGIN { i = 0; n = 0 } NR == FNR { ref[n++] = $1; next }
           { while (i < n && ref[i] != $1) i++; if (i == n) { bad = 1; exit } i++ } END { exit bad }' \
        "$VR_TMP/ref.col" "$VR_TMP/client.col" || vr_fail "the client's frames are not FFmpeg's in order"
      got=$(wc -l <"$VR_TMP/client.col")
      want=$(wc -l <"$VR_TMP/ref.col")
      [ "$got" -ge $((want - $2)) ] || vr_fail "the client decoded $got of $want frames"
      echo "framemd5: $got of $want frames, each equal to FFmpeg's, in order (VLC hands over all but $((want - got)))"
    fi
    # VLC displayed the placeholder, never a decoded picture.
    [ -s "$VR_TMP/vlc.y4m" ] || vr_fail "VLC displayed nothing"
    read -r w h < <(y4m_size "$VR_TMP/vlc.y4m")
    ph=$(placeholder_md5 "$w" "$h" "$VR_TMP/vlc.log")
    y4m_md5 "$VR_TMP/vlc.y4m" | sort | uniq -c >"$VR_TMP/vlc.uniq"
    [ "$(wc -l <"$VR_TMP/vlc.uniq")" = 1 ] && grep -q " $ph\$" "$VR_TMP/vlc.uniq" ||
      vr_fail "VLC displayed something else than the placeholder: $(head -n 3 "$VR_TMP/vlc.uniq")"
    echo "VLC displayed $(awk '{print $1}' "$VR_TMP/vlc.uniq") placeholder pictures (${w}x${h})"
    ;;

  noclient | noport | reject | eof)
    clip=$1
    [ -f "$clip" ] || vr_fail "no clip $clip"
    case $mode in
      noclient) vr_start_host; dev=$HOST_SOCK; expect="no client answered" ;;
      noport) dev=$VR_TMP/nobody.sock; expect="no videoredir port at $dev" ;;
      reject)
        vr_start_host
        dev=$HOST_SOCK
        vr_start_client client --codecs vp9
        expect="the client did not take it"
        ;;
      eof)
        # What QEMU's virtio port does while no SPICE client has the port
        # channel open: it opens, then reads EOF. A socket that closes every
        # connection it accepts.
        dev=$VR_TMP/eof.sock
        python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8); print("ready", flush=True)
while True: s.accept()[0].close()' "$dev" >"$VR_TMP/eof.out" 2>&1 &
        VR_PIDS+=("$!")
        vr_wait_for "$VR_TMP/eof.out" ready "$!" 30 || vr_fail "the EOF socket did not start"
        expect="the port is closed"
        ;;
    esac
    start=$(date +%s%N)
    VIDEOREDIR_DEVICE=$dev vlc_play "$clip" "$VR_TMP/vlc.log" "$VR_TMP/vlc.y4m" || vr_fail "VLC failed ($?)"
    ms=$((($(date +%s%N) - start) / 1000000))
    used=$(decoders_used "$VR_TMP/vlc.log")
    echo "VLC's decoders: $used(VLC ran $ms ms)"
    grep -F -- "$expect" "$VR_TMP/vlc.log" | sed -n 1p || vr_fail "VLC's log does not say why: $expect"
    case " $used" in *' videoredir '*) vr_fail "the videoredir module took the video";; esac
    case " $used" in *' avcodec '*) ;; *) vr_fail "VLC's avcodec did not decode it ($used)";; esac
    [ "$mode" != reject ] || grep -i "reject" "$VR_TMP/client.log" | sed -n 1p || true
    check_local "$VR_TMP/vlc.y4m" "$clip" 50
    ;;

  gone)
    # 12 s, a keyframe every 25 frames. The client takes the video and is
    # killed 2 s in; the module notices its silence and has VLC reload its
    # decoder at the next keyframe: avcodec plays the rest.
    clip=$VR_TMP/long.mp4
    ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x180:rate=25:duration=12" -pix_fmt yuv420p \
      -c:v libx264 -g 25 -bf 2 -x264-params threads=1 "$clip"
    vr_start_host
    vr_start_client a --framemd5 "$VR_TMP/a.md5"
    a=$CLIENT_PID
    VIDEOREDIR_DEVICE=$HOST_SOCK vlc_play "$clip" "$VR_TMP/vlc.log" "$VR_TMP/vlc.y4m" &
    player=$!
    VR_PIDS+=("$player")
    vr_wait_for "$VR_TMP/a.log" "presented [5-9][0-9]" "$a" 60 || vr_fail "the client shows nothing"
    kill -9 "$a"
    wait "$player" || vr_fail "VLC failed"
    used=$(decoders_used "$VR_TMP/vlc.log")
    echo "VLC's decoders: $used"
    grep -o 'the SPICE client no longer shows the video.*' "$VR_TMP/vlc.log" | sed -n 1p ||
      vr_fail "the module did not notice the client going"
    case "$used" in 'videoredir '*'avcodec '*) ;; *) vr_fail "not videoredir then avcodec: $used";; esac
    [ -s "$VR_TMP/vlc.y4m" ] || vr_fail "VLC displayed nothing"
    read -r w h < <(y4m_size "$VR_TMP/vlc.y4m")
    ph=$(placeholder_md5 "$w" "$h" "$VR_TMP/vlc.log")
    y4m_md5 "$VR_TMP/vlc.y4m" >"$VR_TMP/vlc.col"
    vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
    vr_md5_column "$VR_TMP/ref.md5" >"$VR_TMP/ref.col"
    # Placeholders while the client had the video, then VLC's own decode.
    nph=$(awk -v ph="$ph" '$1 != ph { print NR - 1; exit }' "$VR_TMP/vlc.col")
    [ -n "$nph" ] && [ "$nph" -ge 25 ] || vr_fail "${nph:-all} placeholder pictures first, want 25 or more then the video"
    grep -c -x -F "$ph" "$VR_TMP/vlc.col" | grep -q -x "$nph" || vr_fail "a placeholder after VLC's own decoding started"
    tail -n +"$((nph + 1))" "$VR_TMP/vlc.col" | uniq >"$VR_TMP/local.col"
    # The module hands over at a keyframe: VLC's own decoding starts with
    # one of FFmpeg's keyframes (every 25th frame) and shows FFmpeg's frames
    # in order to the clip's last one.
    first=$(head -n 1 "$VR_TMP/local.col")
    k=$(grep -n -x -F -m 1 -- "$first" "$VR_TMP/ref.col" | cut -d: -f1 || true)
    [ -n "$k" ] || vr_fail "VLC's first own picture is not one of FFmpeg's frames"
    [ $(((k - 1) % 25)) = 0 ] || vr_fail "VLC's own decoding started at frame $((k - 1)), not a keyframe"
    awk 'BEGIN { i = 0; n = 0 } NR == FNR { ref[n++] = $1; next }
         { while (i < n && ref[i] != $1) i++; if (i == n) { print "picture " FNR; bad = 1; exit } i++ }
         END { exit bad }' "$VR_TMP/ref.col" "$VR_TMP/local.col" ||
      vr_fail "VLC's pictures after the switch are not FFmpeg's frames in order"
    played_to_end "$VR_TMP/local.col" "$VR_TMP/ref.col" || vr_fail "VLC did not play to the end"
    n=$(wc -l <"$VR_TMP/local.col")
    [ "$n" -ge 25 ] || vr_fail "only $n pictures of VLC's own decode"
    echo "gone: $nph placeholder pictures, then VLC's own decode from keyframe $((k - 1)): $n pictures, equal to FFmpeg's, to the end"
    ;;
  transcode)
    # Transcoding needs the decoded pictures: the module must leave the
    # decoding to VLC even with a client ready to take the video.
    clip=$1
    command -v ffprobe >/dev/null || vr_fail "ffprobe is needed"
    vr_start_host
    vr_start_client client
    VIDEOREDIR_DEVICE=$HOST_SOCK env "${vlc_env[@]}" timeout -k 10 120 "${vlc_cmd[@]}" "${vlc_intf[@]}" \
      --no-plugins-cache --play-and-exit --no-audio -vv \
      "$clip" ":sout=#transcode{vcodec=mp2v,vb=800}:std{access=file,mux=ts,dst=$VR_TMP/out.ts}" \
      >"$VR_TMP/vlc.log" 2>&1 || vr_fail "VLC failed ($?)"
    grep -o 'videoredir.*not a playback decoder.*' "$VR_TMP/vlc.log" | sed -n 1p || vr_fail "the module did not stay out"
    used=$(decoders_used "$VR_TMP/vlc.log")
    case "$used" in 'avcodec ') ;; *) vr_fail "decoders: $used, want avcodec only";; esac
    ! grep -q 'stream 1:' "$VR_TMP/client.log" || vr_fail "a stream reached the client"
    n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$VR_TMP/out.ts" | sed -n 1p | cut -d, -f1)
    [ "${n:-0}" -ge 60 ] || vr_fail "the transcoded file has ${n:-no} frames"
    echo "transcode: VLC decoded and transcoded $n frames itself; nothing went to the client"
    ;;

  control)
    # 12 s, a keyframe every 25 frames, played under VLC's rc interface:
    # pause 1 s in (the client, a second ahead, must stop presenting with
    # VLC), play again, seek to 9 s (FLUSH, then a keyframe with DISCONT):
    # the client's frames are FFmpeg's from the start to the seek, then from
    # a keyframe to the end.
    clip=$VR_TMP/long.mp4
    ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x180:rate=25:duration=12" -pix_fmt yuv420p \
      -c:v libx264 -g 25 -bf 2 -x264-params threads=1 "$clip"
    vr_start_host
    vr_start_client client --framemd5 "$VR_TMP/client.md5" --exit-at-eos
    client=$CLIENT_PID
    mkfifo "$VR_TMP/rc"
    exec {rc}<>"$VR_TMP/rc"
    [ "${VR_SANITIZED:-0}" = 1 ] || vlc_intf=(-I rc --rc-fake-tty)
    VIDEOREDIR_DEVICE=$HOST_SOCK vlc_play "$clip" "$VR_TMP/vlc.log" "$VR_TMP/vlc.y4m" <"$VR_TMP/rc" &
    player=$!
    VR_PIDS+=("$player")
    presented() { grep '^stats:' "$VR_TMP/client.log" | tail -n 1 | sed -n 's/.*presented \([0-9]*\).*/\1/p'; }
    stats_lines() { grep -c '^stats:' "$VR_TMP/client.log" || true; }
    vr_wait_for "$VR_TMP/client.log" "presented [2-9][0-9]" "$client" 60 || vr_fail "the client shows nothing"
    echo pause >&"$rc"
    vr_wait_for "$VR_TMP/vlc.log" "paused: the client holds the picture" "$player" 30 || vr_fail "the module saw no pause"
    # Two statistics lines (a second each) after the pause reached the client.
    l0=$(stats_lines)
    for ((i = 0; i < 400; i++)); do [ "$(stats_lines)" -ge $((l0 + 1)) ] && break; sleep 0.05; done
    p1=$(presented)
    for ((i = 0; i < 400; i++)); do [ "$(stats_lines)" -ge $((l0 + 3)) ] && break; sleep 0.05; done
    p2=$(presented)
    [ -n "$p1" ] && [ -n "$p2" ] || vr_fail "no statistics from the client"
    [ $((p2 - p1)) -le 1 ] || vr_fail "the client presented $((p2 - p1)) frames in 2 s while VLC was paused"
    # It holds the frames it has (VLC decodes about a second ahead): without
    # the pause CLOCK it would have presented them all by now.
    last=$(grep '^stats:' "$VR_TMP/client.log" | tail -n 1)
    held=$(echo "$last" | sed -n 's/.*queued \([0-9]*\) paused.*/\1/p')
    [ -n "$held" ] || vr_fail "the client's stream is not paused: $last"
    [ "$held" -ge 1 ] || vr_fail "the client holds no frame while paused"
    echo "paused: the client presented $((p2 - p1)) frames in the 2 s after the pause reached it (at frame $p1) and holds $held"
    echo pause >&"$rc"
    vr_wait_for "$VR_TMP/vlc.log" "playing again" "$player" 30 || vr_fail "the module saw no resume"
    p3=$p2
    for ((i = 0; i < 400; i++)); do p3=$(presented); [ "$p3" -gt $((p2 + 5)) ] && break; sleep 0.05; done
    [ "$p3" -gt $((p2 + 5)) ] || vr_fail "the client did not play on after the pause"
    echo "seek 9" >&"$rc"
    wait "$client" || vr_fail "client failed"
    wait "$player" || vr_fail "VLC failed"
    vr_ffmpeg_framemd5 "$clip" "$VR_TMP/ref.md5"
    vr_md5_column "$VR_TMP/ref.md5" >"$VR_TMP/ref.col"
    vr_md5_column "$VR_TMP/client.md5" >"$VR_TMP/client.col"
    # The longest common prefix, then the rest must be FFmpeg's from a keyframe on.
    m=$(paste -d' ' "$VR_TMP/client.col" "$VR_TMP/ref.col" | awk '$1 != $2 && !n++ { print NR - 1 }')
    [ -n "$m" ] && [ "$m" -ge 25 ] || vr_fail "no seek seen, or no frames before it (${m:-all equal})"
    tail -n +"$((m + 1))" "$VR_TMP/client.col" >"$VR_TMP/after.col"
    first=$(head -n 1 "$VR_TMP/after.col")
    k=$(grep -n -x -F -m 1 -- "$first" "$VR_TMP/ref.col" | cut -d: -f1 || true)
    [ -n "$k" ] || vr_fail "the first frame after the seek is not one of FFmpeg's"
    k=$((k - 1))
    [ $((k % 25)) = 0 ] && [ "$k" -gt "$m" ] || vr_fail "after the seek the client started at frame $k"
    tail -n +"$((k + 1))" "$VR_TMP/ref.col" | cmp -s - "$VR_TMP/after.col" ||
      vr_fail "after the seek the client's frames differ from FFmpeg's from frame $k on"
    echo "control: frames 0..$((m - 1)) then, after the seek, $k..$(($(wc -l <"$VR_TMP/ref.col") - 1)), all equal to FFmpeg's"
    ;;
  *) vr_fail "unknown mode $mode" ;;
esac
