#!/usr/bin/env bash
# videoredir in a real VM: videoredir-capture in the guest writes to the real
# /dev/virtio-ports/<name> (virtio-serial -> QEMU's spiceport -> spice-server);
# videoredir-client on the host decodes; every frame must equal FFmpeg's own
# decode of the clip. One boot, one clip after the other.
# Usage: vm_capture.sh CLIP...   (names in samples/)
here=$(dirname "$0")
. "$here/../e2e/lib.sh"
. "$here/vmlib.sh"
: "${VR_SAMPLES:?}"
[ $# -gt 0 ] || vr_fail "usage: vm_capture.sh CLIP..."
{
  echo "set -e"
  for c in "$@"; do
    echo "'$VR_BIN/videoredir-capture' --device '/dev/virtio-ports/$VR_VM_PORT_NAME' --pace none \\"
    echo "  --window 200,150,640,360 --connect-timeout 120 '$VR_SAMPLES/$c'"
    echo "echo 'VR-GUEST: sent $c'"
  done
} >"$VR_TMP/guest.sh"
vr_vm_start "$VR_TMP/guest.sh"
for c in "$@"; do
  "$VR_BIN/videoredir-client" --uri "spice://127.0.0.1:$VM_SPICE_PORT" --port-name "$VR_VM_PORT_NAME" \
    --framemd5 "$VR_TMP/$c.md5" --exit-at-eos --timeout 180 2>"$VR_TMP/client-$c.log" ||
    vr_fail "client failed on $c"
  vr_ffmpeg_framemd5 "$VR_SAMPLES/$c" "$VR_TMP/$c.want"
  echo -n "$c in the VM: "
  vr_compare_md5 "$VR_TMP/$c.md5" "$VR_TMP/$c.want"
done
vr_vm_wait_exit 120
