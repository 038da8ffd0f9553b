#!/usr/bin/env bash
# videoredirsink in a real VM: gst-launch-1.0 (the host's GStreamer, reached
# through the 9p root) plays a clip in the guest into the real
# /dev/virtio-ports/<name>, with an X server of the guest's own (Xvfb) for
# the sink's window and its tracker; videoredir-client on the host decodes
# and every frame must equal FFmpeg's decode of the clip. One boot, one
# pipeline per clip. The guest root is an overlay (VR_VM_OVERLAY=1) so that
# Xvfb can write /tmp.
# Usage: vm_gst.sh CLIP...   (names in samples/: .mp4 or .webm/.mkv)
here=$(dirname "$0")
. "$here/../e2e/lib.sh"
. "$here/vmlib.sh"
: "${VR_SAMPLES:?}" "${VR_BUILD:?}"
[ $# -gt 0 ] || vr_fail "usage: vm_gst.sh CLIP..."
for t in gst-launch-1.0 gst-inspect-1.0 Xvfb; do command -v $t >/dev/null || vr_fail "$t is needed"; done
plugin=$(find "$VR_BUILD" -name libgstvideoredir.so -print -quit)
[ -n "$plugin" ] ||
  vr_vm_skip "no libgstvideoredir.so in $VR_BUILD: the videoredirsink element (guest-capture/gst) is not built"
# An ASan-built plugin cannot load into the uninstrumented gst-launch-1.0
# (the runtime must come first); tests/gst covers the element there.
[ "${VR_SANITIZED:-0}" = 1 ] && vr_vm_skip "videoredirsink is not run in the VM in the sanitizer build"
sysdir=$(pkg-config --variable=pluginsdir gstreamer-1.0 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/gstreamer-1.0)
export GST_PLUGIN_PATH_1_0=$(dirname "$plugin") GST_REGISTRY_1_0=$VR_TMP/registry.bin
gst-inspect-1.0 videoredirsink >"$VR_TMP/inspect.txt" 2>&1 || vr_fail "videoredirsink does not load on the host"
sinkopts="device=/dev/virtio-ports/$VR_VM_PORT_NAME"
# Wait for the client rather than play locally: the host's client connects
# after the guest booted.
grep -q '^  fallback ' "$VR_TMP/inspect.txt" && sinkopts="$sinkopts fallback=false"
# Only the plugins the pipelines need: scanning all of the host's under TCG
# would take most of the test's time.
plugins="coreelements isomp4 matroska typefindfunctions"
parse_h264="" parse_vp9=""
gst-inspect-1.0 h264parse >/dev/null 2>&1 && { parse_h264="h264parse !"; plugins="$plugins videoparsersbad"; }
gst-inspect-1.0 vp9parse >/dev/null 2>&1 && parse_vp9="vp9parse !"
{
  echo "set -e"
  echo "mkdir -p /tmp/gst"
  echo "for p in $plugins; do ln -s '$sysdir'/libgst\$p.so /tmp/gst/; done"
  echo "export GST_PLUGIN_SYSTEM_PATH_1_0=/tmp/gst GST_PLUGIN_PATH_1_0='$(dirname "$plugin")'"
  echo "export GST_REGISTRY_1_0=/tmp/gst-registry.bin"
  echo "Xvfb :5 -screen 0 1280x720x24 -nolisten tcp >/tmp/xvfb.log 2>&1 &"
  echo "i=0; while [ ! -S /tmp/.X11-unix/X5 ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done"
  echo "[ -S /tmp/.X11-unix/X5 ] || { echo 'VR-GUEST: no Xvfb'; cat /tmp/xvfb.log; exit 1; }"
  echo "export DISPLAY=:5"
  for c in "$@"; do
    case $c in
      *.mp4) demux="qtdemux ! $parse_h264" ;;
      *.webm | *.mkv) demux="matroskademux ! $parse_vp9" ;;
      *) vr_fail "no pipeline for $c" ;;
    esac
    echo "gst-launch-1.0 -e filesrc location='$VR_SAMPLES/$c' ! $demux videoredirsink $sinkopts"
    echo "echo 'VR-GUEST: sent $c'"
  done
} >"$VR_TMP/guest.sh"
VR_VM_OVERLAY=1 vr_vm_start "$VR_TMP/guest.sh"
for c in "$@"; do
  "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$VM_SPICE_PORT" --port-name "$VR_VM_PORT_NAME" \
    --framemd5 "$VR_TMP/$c.md5" --exit-at-eos --timeout 180 2>"$VR_TMP/client-$c.log" ||
    { tail -n 30 "$VM_CONSOLE" >&2; vr_fail "client failed on $c"; }
  vr_ffmpeg_framemd5 "$VR_SAMPLES/$c" "$VR_TMP/$c.want"
  echo -n "$c through videoredirsink in the VM: "
  vr_compare_md5 "$VR_TMP/$c.md5" "$VR_TMP/$c.want"
done
vr_vm_wait_exit 120
