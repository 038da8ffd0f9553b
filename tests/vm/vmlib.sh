# The VM harness: a real QEMU (TCG; VR_VM_ACCEL=kvm for KVM) with a
# QXL display, SPICE on loopback and the videoredir port as a virtserialport
# on a spiceport chardev; Debian's own kernel (downloaded once with apt-get
# download, unpacked with dpkg -x, cached outside the build tree) and a busybox
# initramfs built here; the host's / mounted read-only over 9p so the guest
# runs this build's binaries. Sourced after tests/e2e/lib.sh (VR_BIN, VR_TMP,
# VR_PIDS, vr_wait_for, vr_fail). Readiness comes from console lines.
# multidevs=remap: the host's / spans several file systems (/proc, /sys...);
# without it their inode numbers collide in the guest and a mount on one
# directory shows up on another.
VR_VM_CACHE=${VR_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/videoredir/vm}
VR_VM_PORT_NAME=${VR_VM_PORT_NAME:-org.spice-space.videoredir.0}
# Modules for the virtio PCI transport, virtio-serial and 9p, each after its
# dependencies.
VR_VM_MODULES="virtio_pci virtio_console 9pnet_virtio 9p overlay"

# The guest's sound card, on QEMU's SPICE audio back end (-audiodev spice:
# what the guest plays goes to the client over SPICE's playback channel).
# AC97 (snd-intel8x0) first: it probes and plays under TCG here, while
# intel-hda's codec probe fails under TCG ("Cannot probe codecs", with
# hda-duplex or hda-output, probe_mask or enable_msi); then ES1370
# (snd-ens1370, probes too), then intel-hda with its output-only codec, for
# a QEMU built without the others (with KVM it probes). The guest's init
# prints "VR-VM: sound card NAME" (none without one).
# Sets VM_SOUND (the card's name for the log), VM_SOUND_ARGS (QEMU's
# arguments) and adds the card's module to VR_VM_MODULES. VR_VM_SOUND=none:
# no card; VR_VM_AUDIODEV_OPTS: more -audiodev options (timer-period=US...).
vr_vm_sound() {
  local devs
  VM_SOUND=none VM_SOUND_ARGS=()
  [ "${VR_VM_SOUND:-auto}" = none ] && return 0
  devs=$(qemu-system-x86_64 -device help 2>/dev/null || true)
  if grep -q '^name "AC97"' <<<"$devs"; then
    VM_SOUND="AC97 (snd-intel8x0)" VM_SOUND_ARGS=(-device AC97,audiodev=snd0)
    VR_VM_MODULES="$VR_VM_MODULES snd-intel8x0"
  elif grep -q '^name "ES1370"' <<<"$devs"; then
    VM_SOUND="ES1370 (snd-ens1370)" VM_SOUND_ARGS=(-device ES1370,audiodev=snd0)
    VR_VM_MODULES="$VR_VM_MODULES snd-ens1370"
  elif grep -q '^name "intel-hda"' <<<"$devs"; then
    VM_SOUND="intel-hda + hda-output (snd-hda-intel)"
    VM_SOUND_ARGS=(-device intel-hda -device hda-output,audiodev=snd0)
    VR_VM_MODULES="$VR_VM_MODULES snd-hda-intel snd-hda-codec-generic"
  else
    echo "vm: QEMU has no AC97, ES1370 or intel-hda: no guest sound card" >&2
    return 0
  fi
  VM_SOUND_ARGS=(-audiodev "spice,id=snd0${VR_VM_AUDIODEV_OPTS:+,$VR_VM_AUDIODEV_OPTS}" "${VM_SOUND_ARGS[@]}")
}

# Exit code ctest reports as "skipped" (SKIP_RETURN_CODE).
vr_vm_skip() { echo "SKIP: $*"; exit 77; }

# Fetches and unpacks the kernel once (serialised between parallel tests).
# Sets VM_ROOT (the unpacked package), VM_KVER, VM_KERNEL.
vr_vm_kernel() {
  command -v qemu-system-x86_64 >/dev/null || vr_vm_skip "qemu-system-x86_64 is not installed"
  [ -x /bin/busybox ] || vr_fail "busybox-static is needed (scripts/deps.txt)"
  mkdir -p "$VR_VM_CACHE"
  (
    flock 9
    if [ ! -f "$VR_VM_CACHE/ready" ]; then
      local dep dl
      resolve() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ && !n++ {print $2}'; }
      dep=$(resolve)
      if [ -z "$dep" ]; then
        # A fresh machine or container may have no package lists yet.
        echo "vm: linux-image-amd64 unknown to apt: apt-get update" >&2
        if [ "$(id -u)" = 0 ]; then apt-get update -q >&2; else sudo -n apt-get update -q >&2; fi || true
        dep=$(resolve)
      fi
      [ -n "$dep" ] || { echo "cannot resolve linux-image-amd64 with apt-cache (apt-get update failed?)" >&2; exit 1; }
      dl=$(mktemp -d "$VR_VM_CACHE/dl.XXXXXX")
      (cd "$dl" && apt-get download "$dep" >"$dl/apt.log" 2>&1) ||
        { cat "$dl/apt.log" >&2; echo "apt-get download $dep failed" >&2; exit 1; }
      rm -rf "$VR_VM_CACHE/root"
      dpkg -x "$dl"/*.deb "$VR_VM_CACHE/root"
      rm -rf "$dl"
      touch "$VR_VM_CACHE/ready"
    fi
  ) 9>"$VR_VM_CACHE/lock" || vr_fail "could not fetch the guest kernel into $VR_VM_CACHE"
  VM_ROOT="$VR_VM_CACHE/root"
  VM_KVER=$(ls "$VM_ROOT/lib/modules" | head -n 1)
  VM_KERNEL="$VM_ROOT/boot/vmlinuz-$VM_KVER"
  [ -f "$VM_KERNEL" ] || vr_fail "no kernel in $VM_ROOT"
  [ -n "${VM_SOUND:-}" ] || vr_vm_sound
}

# Path of module NAME (dashes and underscores are the same to the kernel).
vr_vm_module_path() {
  local pat=${1//[-_]/[-_]}
  find "$VM_ROOT/lib/modules/$VM_KVER/kernel" -name "$pat.ko" | head -n 1
}

# Prints NAME's dependencies first, then NAME, each once (from the modules'
# own depends= field, no depmod needed).
vr_vm_module_order() {
  local name=$1 path dep
  case " $VM_SEEN " in *" $name "*) return 0 ;; esac
  VM_SEEN="$VM_SEEN $name"
  path=$(vr_vm_module_path "$name")
  [ -n "$path" ] || return 0 # built into the kernel
  for dep in $(grep -a -o 'depends=[A-Za-z0-9_,-]*' "$path" | head -n 1 | cut -d= -f2 | tr ',' ' '); do
    vr_vm_module_order "$dep"
  done
  echo "$path"
}

# Builds the initramfs at $VR_TMP/initrd.img.
vr_vm_initramfs() {
  local dir="$VR_TMP/initramfs" i=10 m
  rm -rf "$dir"
  mkdir -p "$dir"/{bin,dev,proc,sys,host,lib/mod}
  cp /bin/busybox "$dir/bin/busybox"
  VM_SEEN=""
  for m in $(for n in $VR_VM_MODULES; do vr_vm_module_order "$n"; done); do
    cp "$m" "$dir/lib/mod/$i-$(basename "$m")"
    i=$((i + 1))
  done
  cat >"$dir/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /lib/mod/*.ko; do insmod "$m" || echo "VR-VM: insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot /host || echo "VR-VM: no 9p root"
# What udev would do: /dev/virtio-ports/NAME for every port.
mkdir -p /dev/virtio-ports /dev/shm
for p in /sys/class/virtio-ports/*; do
  [ -e "$p/name" ] && ln -s "/dev/${p##*/}" "/dev/virtio-ports/$(cat "$p/name")"
done
mount -t tmpfs shm /dev/shm
root=/host
# vr.overlay=1: the host's root with a RAM layer on top, so programs that
# write where they please (Xvfb's socket and lock in /tmp) can, while the
# host's files, the test's own in /tmp included, stay visible.
if grep -q 'vr\.overlay=1' /proc/cmdline; then
  mkdir -p /ovl /root
  mount -t tmpfs ovl /ovl
  mkdir -p /ovl/upper /ovl/work
  mount -t overlay -o lowerdir=/host,upperdir=/ovl/upper,workdir=/ovl/work overlay /root &&
    root=/root || echo "VR-VM: no overlay root"
fi
mount --bind /dev "$root/dev"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
script=$(sed -n 's/.*vr\.script=\([^ ]*\).*/\1/p' /proc/cmdline)
# The sound card's line, or none (vr_vm_sound).
card=$(sed -n 's/^ *0 \[[^]]*\]: //p' /proc/asound/cards 2>/dev/null)
echo "VR-VM: sound card ${card:-none}"
echo "VR-VM: ready $(ls /dev/virtio-ports)"
TMPDIR=/dev/shm HOME=/dev/shm chroot "$root" /bin/sh "$script"
echo "VR-VM: exit rc=$?"
poweroff -f
INIT
  chmod +x "$dir/init"
  (cd "$dir" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$VR_TMP/initrd.img")
}

# vr_vm_start SCRIPT: boots the VM running SCRIPT (a host path; the guest
# sees the host's / read-only, and /dev, /proc, /sys and TMPDIR of its own;
# with VR_VM_OVERLAY=1 the whole root is writable, changes kept in guest RAM;
# VR_VM_SPICE_OPTS: more -spice options, e.g. streaming-video=all).
# Sets VM_SPICE_PORT, VM_PID, VM_CONSOLE; returns once the guest says ready.
vr_vm_start() {
  local script=$1 try accel=tcg
  [ -n "${VM_KERNEL:-}" ] || vr_vm_kernel
  [ -f "$VR_TMP/initrd.img" ] || vr_vm_initramfs
  # TCG by default: it boots in seconds here, while this machine's /dev/kvm
  # (nested) hung at boot. VR_VM_ACCEL=kvm to try it elsewhere.
  [ "${VR_VM_ACCEL:-tcg}" = kvm ] && accel=kvm
  # The guest starts with an empty environment: hand it the sanitizer
  # settings of the test (the ASan pass runs ASan binaries in the guest too).
  {
    local v
    for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
      [ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
    done
    printf '. %q\n' "$script"
  } >"$VR_TMP/vm-run.sh"
  script="$VR_TMP/vm-run.sh"
  VM_CONSOLE="$VR_TMP/console.log"
  # The cleanup trap cannot run when the test is SIGKILLed (a ctest timeout):
  # QEMU then dies with it (parent-death signal), and its pid is in qemu.pid.
  VM_WATCH=""
  setpriv --help 2>/dev/null | grep -q pdeathsig && VM_WATCH="setpriv --pdeathsig KILL"
  for try in 1 2 3 4 5 6; do
    VM_SPICE_PORT=$((20000 + RANDOM % 30000))
    : >"$VM_CONSOLE"
    $VM_WATCH qemu-system-x86_64 -nodefaults -machine pc -accel "$accel" -m 1024 -smp 1 \
      -display none -vga qxl \
      -spice "port=$VM_SPICE_PORT,addr=127.0.0.1,disable-ticketing=on${VR_VM_SPICE_OPTS:+,$VR_VM_SPICE_OPTS}" \
      "${VM_SOUND_ARGS[@]}" -device virtio-serial-pci \
      -chardev "spiceport,name=$VR_VM_PORT_NAME,id=vr0" \
      -device "virtserialport,chardev=vr0,name=$VR_VM_PORT_NAME" \
      -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
      -kernel "$VM_KERNEL" -initrd "$VR_TMP/initrd.img" \
      -append "console=ttyS0 panic=-1 quiet vr.script=$script vr.overlay=${VR_VM_OVERLAY:-0}" \
      -serial "file:$VM_CONSOLE" -monitor none -no-reboot -pidfile "$VR_TMP/qemu.pid" \
      >"$VR_TMP/qemu.log" 2>&1 &
    VM_PID=$!
    VR_PIDS+=("$VM_PID")
    if vr_wait_for "$VM_CONSOLE" "VR-VM: ready" "$VM_PID" 120; then
      echo "vm: guest up ($accel), SPICE on $VM_SPICE_PORT, sound card: $VM_SOUND"
      return 0
    fi
    kill "$VM_PID" 2>/dev/null || true
    wait "$VM_PID" 2>/dev/null || true
    if ! grep -q "Address already in use\|Failed to setup\|failed to initialize spice" "$VR_TMP/qemu.log"; then
      break
    fi
  done
  echo "--- qemu" >&2; tail -n 20 "$VR_TMP/qemu.log" >&2
  echo "--- console" >&2; tail -n 40 "$VM_CONSOLE" >&2
  vr_fail "the VM did not come up"
}

# Waits for the guest script to end; fails unless it exited 0.
vr_vm_wait_exit() {
  vr_wait_for "$VM_CONSOLE" "VR-VM: exit rc=" "$VM_PID" "${1:-180}" ||
    { tail -n 40 "$VM_CONSOLE" >&2; vr_fail "the guest script did not finish"; }
  wait "$VM_PID" 2>/dev/null || true
  grep -q "VR-VM: exit rc=0" "$VM_CONSOLE" ||
    { tail -n 40 "$VM_CONSOLE" >&2; vr_fail "the guest script failed"; }
}

# ---- The guest's own X desktop (vm_xdesktop.sh, vm_players.sh) -------------
# Xorg (Debian's xserver-xorg-core, modesetting driver on the qxl KMS
# device, run from the host's root over 9p) is the guest's desktop, so what
# QEMU's spice-server sends the client is that X server's 1024x768 screen.
# In it the tests put the player's 640x360 window at 100,80 and a covering
# window of one flat colour (ImageMagick display, 240x160) at 500,300 over
# its lower right part; vr_vm_xdesktop_check checks the client's snapshot of
# that layout.

# Skips (77) without the tools; adds the qxl KMS module; writes
# $VR_TMP/xorg.conf and $VR_TMP/cover.png. Sets VR_VM_COVER_RGB and
# VR_VM_GST_SYSDIR (the host's GStreamer plugin folder).
vr_vm_xdesktop_setup() {
  local t
  for t in xdotool display convert compare identify; do
    command -v $t >/dev/null || vr_vm_skip "$t is not installed"
  done
  [ -x /usr/lib/xorg/Xorg ] || [ -x /usr/bin/Xorg ] ||
    vr_vm_skip "Xorg is not installed (xserver-xorg-core, scripts/deps-test.txt)"
  [ -f /usr/lib/xorg/modules/drivers/modesetting_drv.so ] || vr_vm_skip "Xorg's modesetting driver is not installed"
  VR_VM_GST_SYSDIR=$(pkg-config --variable=pluginsdir gstreamer-1.0 2>/dev/null ||
    echo /usr/lib/x86_64-linux-gnu/gstreamer-1.0)
  # The qxl KMS driver (and what it needs) on top of the usual modules.
  VR_VM_MODULES="$VR_VM_MODULES qxl"
  VR_VM_COVER_RGB=c08020
  ffmpeg -nostdin -v error -f lavfi -i "color=c=0x$VR_VM_COVER_RGB:s=240x160,format=rgb24" -frames:v 1 "$VR_TMP/cover.png"
  cat >"$VR_TMP/xorg.conf" <<'CONF'
Section "ServerFlags"
    Option "AutoAddDevices" "false"
    Option "AutoEnableDevices" "false"
    Option "DontVTSwitch" "true"
EndSection
Section "Device"
    Identifier "qxl"
    Driver "modesetting"
    Option "kmsdev" "/dev/dri/card0"
    Option "AccelMethod" "none"
EndSection
Section "Screen"
    Identifier "screen"
    Device "qxl"
    DefaultDepth 24
    SubSection "Display"
        Modes "1024x768"
    EndSubSection
EndSection
CONF
}

# vr_vm_xdesktop_guest PLUGIN_DIR PLUGIN...: prints the first part of a guest
# script (run with VR_VM_OVERLAY=1): GStreamer sees only the host's plugins
# named (scanning all of them under TCG would take most of the test's time)
# and PLUGIN_DIR; Xorg on :0 on the QXL device, waited for until it takes
# clients; the covering window mapped at 500,300, its id in $cover. The
# caller appends the player.
vr_vm_xdesktop_guest() {
  local dir=$1
  shift
  cat <<GUEST
set -e
mkdir -p /tmp/gst /tmp/.X11-unix
for p in $*; do ln -s '$VR_VM_GST_SYSDIR'/libgst\$p.so /tmp/gst/; done
export GST_PLUGIN_SYSTEM_PATH_1_0=/tmp/gst GST_PLUGIN_PATH_1_0='$dir'
export GST_REGISTRY_1_0=/tmp/gst-registry.bin
i=0; while [ ! -e /dev/dri/card0 ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
[ -e /dev/dri/card0 ] || { echo 'VR-GUEST: no /dev/dri/card0 (qxl KMS)'; exit 1; }
Xorg :0 -config '$VR_TMP/xorg.conf' -nolisten tcp -noreset -keeptty -novtswitch \\
  -logfile /tmp/Xorg.log >/tmp/xorg.out 2>&1 &
i=0; while [ ! -S /tmp/.X11-unix/X0 ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
[ -S /tmp/.X11-unix/X0 ] || { echo 'VR-GUEST: Xorg did not start'; tail -n 30 /tmp/Xorg.log; cat /tmp/xorg.out; exit 1; }
export DISPLAY=:0
# The socket comes before the server takes clients: wait until one gets in.
i=0; while ! geo=\$(xdotool getdisplaygeometry 2>/dev/null) && [ \$i -lt 300 ]; do sleep 0.2; i=\$((i + 1)); done
[ -n "\$geo" ] || { echo 'VR-GUEST: Xorg takes no clients'; tail -n 30 /tmp/Xorg.log; exit 1; }
echo "VR-GUEST: Xorg up, screen \$geo"
display -title vr-cover -geometry +500+300 -borderwidth 0 '$VR_TMP/cover.png' >/tmp/cover.log 2>&1 &
cover=\$(xdotool search --sync --onlyvisible --name '^vr-cover\$' | head -n 1)
GUEST
}

# vr_vm_xdesktop_check SNAP FRAME: the client's snapshot SNAP must be the
# guest's 1024x768 screen with the covering window's colour at 500,300
# 240x160, the guest's black desktop around the player's window, and the
# video on the visible part of the window (100,80 640x360: left of the
# cover, and above it) equal to FRAME (a PNG of the 640x360 frame of FFmpeg's
# decode that the snapshot shows) within 4 %, every pixel.
vr_vm_xdesktop_check() {
  local snap=$1 frame=$2 w h p n=0 part bad
  w=$(identify -format %w "$snap")
  h=$(identify -format %h "$snap")
  echo "the client's desktop (the guest's QXL screen): ${w}x$h"
  [ "${w}x$h" = 1024x768 ] || vr_fail "the client's desktop is ${w}x$h, not the guest X server's 1024x768"
  px() { convert "$snap" -format "%[hex:p{$1,$2}]" info: | cut -c1-6; }
  expect() { # expect X Y RRGGBB WHAT
    local got
    got=$(px "$1" "$2")
    [ "$got" = "${3^^}" ] || vr_fail "($1,$2) shows $got, want $3 ($4)"
    n=$((n + 1))
  }
  for p in "501 301" "600 380" "739 439" "520 430" "620 459"; do
    set -- $p
    expect "$1" "$2" "$VR_VM_COVER_RGB" "the guest's covering window"
  done
  for p in "99 200" "400 79" "741 200" "400 441" "10 10" "1000 700" "300 600"; do
    set -- $p
    expect "$1" "$2" 000000 "the guest's desktop"
  done
  convert "$frame" -crop 400x360+0+0 +repage "$VR_TMP/want-a.png"
  convert "$snap" -crop 400x360+100+80 +repage "$VR_TMP/got-a.png"
  convert "$frame" -crop 240x220+400+0 +repage "$VR_TMP/want-b.png"
  convert "$snap" -crop 240x220+500+80 +repage "$VR_TMP/got-b.png"
  for part in a b; do
    bad=$(compare -metric AE -fuzz 4% "$VR_TMP/got-$part.png" "$VR_TMP/want-$part.png" null: 2>&1 || true)
    echo "video part $part: $bad pixels differ by more than 4%"
    [ "${bad%% *}" = 0 ] || vr_fail "the video is not FFmpeg's frame at 100,80 (part $part: $bad pixels differ)"
  done
  echo "$n pixels of the guest's windows and desktop right; the video exactly on the player's window"
}

# Lines for a guest script: wait until a SPICE client has the videoredir port
# open (virtio-console's host_connected, in debugfs), so a player started
# after them has its frames taken from the first; fail after 120 s.
vr_vm_guest_wait_client() {
  cat <<GUEST
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
f=\$(grep -ls 'name: $VR_VM_PORT_NAME' /sys/kernel/debug/virtio-ports/* | head -n 1)
[ -n "\$f" ] || { echo 'VR-GUEST: the port is not in debugfs'; exit 1; }
i=0; while ! grep -q 'host_connected: 1' "\$f" && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i + 1)); done
grep -q 'host_connected: 1' "\$f" || { echo 'VR-GUEST: no SPICE client opened the port'; exit 1; }
echo 'VR-GUEST: a SPICE client has the port open'
GUEST
}
