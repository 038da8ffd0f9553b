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
# with VR_VM_OVERLAY=1 the whole root is writable, changes kept in guest RAM).
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
      -spice "port=$VM_SPICE_PORT,addr=127.0.0.1,disable-ticketing=on" \
      -device virtio-serial-pci \
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
      echo "vm: guest up ($accel), SPICE on $VM_SPICE_PORT"
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
