#!/usr/bin/env bash
# Builds the Soft-RoCE guest used by ci/vm/fabric.sh from Debian packages only:
#   BUILD_DIR/vm/vmlinuz    Debian's stock kernel (the one linux-image-amd64 depends on)
#   BUILD_DIR/vm/initrd.gz  static busybox + the virtio/9p/RDMA modules + /init (below)
#   BUILD_DIR/vm/stamp      what they were built from; a rerun with the same inputs does nothing
#
# Usage: ci/vm/build-guest.sh BUILD_DIR
# Environment:
#   FB_VM_KERNEL_DEB=FILE.deb      use this linux-image .deb instead of downloading one
#   FB_VM_EXTRA_MODULES="a b"      more modules for the guest (dependencies are resolved)
#   FB_VM_NO_INSTALL=1             never apt-get install; report what is missing instead
# Exit codes: 0 ready; 77 cannot be built here (no qemu, no kernel package; reason printed);
# 1 any other failure.
set -euo pipefail

SKIP=77
log() { echo "build-guest: $*" >&2; }
skip() {
  echo "SKIP: build-guest: $*" >&2
  exit "$SKIP"
}

[ $# -eq 1 ] || {
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
}
mkdir -p "$1/vm"
out="$(cd "$1/vm" && pwd)"

# --- host packages ----------------------------------------------------------------------------
# qemu runs the guests; busybox/kmod/cpio build the initramfs; the guest runs the host's own
# libibverbs, rxe provider (ibverbs-providers) and `rdma` (iproute2) through the 9p root.
host_packages=(qemu-system-x86 busybox-static kmod cpio iproute2 libibverbs1 ibverbs-providers
  ibverbs-utils)
missing=()
for p in "${host_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${FB_VM_NO_INSTALL:-0}" = 1 ]; then
    skip "missing Debian packages: ${missing[*]} (FB_VM_NO_INSTALL=1)"
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null && sudo="sudo -n" ||
      skip "missing Debian packages ${missing[*]} and no root to install them"
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 600 $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >"$out/apt.log" 2>&1; then
    timeout 300 $sudo apt-get update -qq >>"$out/apt.log" 2>&1 || true
    timeout 600 $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      >>"$out/apt.log" 2>&1 || skip "apt-get install ${missing[*]} failed (see $out/apt.log)"
  fi
fi
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not found"
[ -x /bin/busybox ] && file_is_static=$(ldd /bin/busybox 2>&1 | grep -c "not a dynamic" || true)
[ "${file_is_static:-0}" -ge 1 ] || skip "/bin/busybox is missing or not static (busybox-static)"
[ -e /etc/libibverbs.d/rxe.driver ] || skip "/etc/libibverbs.d/rxe.driver missing (ibverbs-providers)"
ls /usr/lib/*/libibverbs/librxe-rdmav*.so >/dev/null 2>&1 ||
  skip "librxe-rdmav*.so missing (ibverbs-providers)"
rdma_bin="$(command -v rdma || true)"
[ -n "$rdma_bin" ] || skip "the rdma tool (iproute2) is missing"

# --- which kernel -------------------------------------------------------------------------------
read -ra extra_modules <<<"${FB_VM_EXTRA_MODULES:-}"
# vgem: a dma-buf exporter for the dmabuf memory provider (Debian's kernel has no udmabuf).
modules=(crc32_generic 9p 9pnet_virtio virtio_pci virtio_net virtio_rng rdma_rxe rdma_ucm sch_netem
  sch_tbf veth vgem "${extra_modules[@]}")
init_digest="$( (cat "${BASH_SOURCE[0]}"; echo "${modules[*]}") | sha256sum | cut -c1-16)"

# Fast path: asking apt-cache costs seconds, so a guest built after the last `apt-get update`
# (and by this very script) is taken as current.
if [ -z "${FB_VM_KERNEL_DEB:-}" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ] &&
  [ -f "$out/stamp" ] && grep -qx "init=$init_digest" "$out/stamp" &&
  [ "$out/stamp" -nt /var/lib/apt/lists ]; then
  log "up to date: $(sed -n 's/^kernel=//p' "$out/stamp") in $out"
  exit 0
fi

if [ -n "${FB_VM_KERNEL_DEB:-}" ]; then
  [ -f "$FB_VM_KERNEL_DEB" ] || skip "FB_VM_KERNEL_DEB=$FB_VM_KERNEL_DEB does not exist"
  kpkg="$(dpkg-deb -f "$FB_VM_KERNEL_DEB" Package)"
  kversion="$(dpkg-deb -f "$FB_VM_KERNEL_DEB" Version)"
else
  kpkg="$(apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')"
  kversion=""
  [ -z "$kpkg" ] || kversion="$(apt-cache show --no-all-versions "$kpkg" 2>/dev/null |
    awk '$1 == "Version:" {print $2; exit}')"
fi
if [ -z "$kpkg" ] || [ -z "$kversion" ]; then
  # No package lists: a guest built earlier is still good.
  if [ -s "$out/stamp" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ] &&
    grep -q "^init=$init_digest$" "$out/stamp"; then
    log "cannot resolve linux-image-amd64 (no apt lists?); reusing $(grep ^kernel= "$out/stamp")"
    exit 0
  fi
  skip "cannot resolve the package linux-image-amd64 depends on (apt-get update?)"
fi
kver="${kpkg#linux-image-}"
stamp="kernel=$kpkg $kversion
kver=$kver
init=$init_digest"

if [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ] && [ -f "$out/stamp" ] &&
  [ "$(cat "$out/stamp")" = "$stamp" ]; then
  touch "$out/stamp" # checked against the current apt lists: the fast path may take it next time
  log "up to date: $kpkg $kversion in $out"
  exit 0
fi

# --- build (one builder at a time per BUILD_DIR) ------------------------------------------------
exec 9>"$out/.lock"
flock -w 900 9 || {
  log "timed out waiting for $out/.lock"
  exit 1
}
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -s "$out/initrd.gz" ]; then
  log "up to date (built by a concurrent run)"
  exit 0
fi
work="$(mktemp -d "$out/work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
t0=$(date +%s.%N)

if [ -n "${FB_VM_KERNEL_DEB:-}" ]; then
  deb="$FB_VM_KERNEL_DEB"
else
  log "downloading $kpkg $kversion"
  (cd "$work" && timeout 600 apt-get download -q "$kpkg=$kversion") >"$work/download.log" 2>&1 ||
    {
      cat "$work/download.log" >&2
      skip "apt-get download $kpkg=$kversion failed"
    }
  deb="$(ls "$work"/linux-image-*.deb)"
fi
dpkg-deb -x "$deb" "$work/k"
[ -f "$work/k/boot/vmlinuz-$kver" ] || {
  log "$deb has no boot/vmlinuz-$kver"
  exit 1
}
depmod -b "$work/k" "$kver"

# Resolve load order: modprobe prints each module's dependencies first ("insmod PATH"),
# "builtin NAME" for parts built into the kernel.
root="$work/initramfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,host,lib/modules,etc}
: >"$root/etc/modules.order"
declare -A seen=()
for m in "${modules[@]}"; do
  deps="$(modprobe -d "$work/k" -S "$kver" --show-depends "$m" 2>&1)" || {
    log "module $m: $deps"
    exit 1
  }
  while read -r kind path _; do
    [ "$kind" = insmod ] || continue
    [ -n "${seen[$path]:-}" ] && continue
    seen[$path]=1
    name="$(basename "$path")"
    case "$name" in
      *.ko.xz) xz -dc "$path" >"$root/lib/modules/${name%.xz}" && name="${name%.xz}" ;;
      *.ko.zst) zstd -qdc "$path" >"$root/lib/modules/${name%.zst}" && name="${name%.zst}" ;;
      *.ko.gz) gzip -dc "$path" >"$root/lib/modules/${name%.gz}" && name="${name%.gz}" ;;
      *) cp "$path" "$root/lib/modules/$name" ;;
    esac
    echo "$name" >>"$root/etc/modules.order"
  done <<<"$deps"
done
cp /bin/busybox "$root/bin/busybox"
echo "$kver" >"$root/etc/kver"
echo "$rdma_bin" >"$root/etc/rdma-bin"

# /init: see docs/VM-FABRIC.md. Kernel command line: fb.ip=ADDR/PREFIX fb.mtu=N fb.name=NAME
# fb.timeout=SECONDS. The command is /tmp/out/cmd.sh on the writable share (the host writes it).
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
say() { echo "fb-init: $*"; [ -d /host/tmp/out ] && echo "$*" >>/host/tmp/out/init.log; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
die() {
  say "FATAL: $*"
  if [ -d /host/tmp/out ]; then
    dmesg >/host/tmp/out/dmesg 2>&1
    echo "fabric guest setup failed: $*" >>/host/tmp/out/stderr
    echo 125 >/host/tmp/out/rc
    sync
  fi
  poweroff -f
}
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
ip=""; ip2=""; mtu=""; name="fabric"; tmo=""
for w in $(cat /proc/cmdline); do
  case "$w" in
    fb.ip=*) ip="${w#fb.ip=}" ;;
    fb.ip2=*) ip2="${w#fb.ip2=}" ;;
    fb.mtu=*) mtu="${w#fb.mtu=}" ;;
    fb.name=*) name="${w#fb.name=}" ;;
    fb.timeout=*) tmo="${w#fb.timeout=}" ;;
  esac
done
hostname "$name"
while read -r ko; do
  insmod "/lib/modules/$ko" 2>/dev/null || say "insmod $ko failed"
done </etc/modules.order

mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /host ||
  mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host || die "cannot mount hostroot"
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm 2>/dev/null
mount -t devpts devpts /host/dev/pts
mount -t tmpfs shm /host/dev/shm
mount -t tmpfs tmp /host/tmp
mount -t tmpfs run /host/run
mkdir -p /host/tmp/out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 outdir /host/tmp/out ||
  die "cannot mount outdir"
: >/host/tmp/out/init.log
say "up at $(uptime_s) s: $(uname -r), $(wc -l </etc/modules.order) modules"

ip link set lo up
[ -n "$ip" ] || die "no fb.ip= on the kernel command line"
[ -z "$mtu" ] || ip link set eth0 mtu "$mtu" || die "ip link set eth0 mtu $mtu failed"
ip addr add "$ip" dev eth0 || die "ip addr add $ip dev eth0 failed"
ip link set eth0 up || die "ip link set eth0 up failed"
chroot /host "$(cat /etc/rdma-bin)" link add rxe0 type rxe netdev eth0 >>/host/tmp/out/init.log 2>&1 ||
  die "rdma link add rxe0 type rxe netdev eth0 failed"
if [ -n "$ip2" ]; then  # a second link (fabric.sh --nics 2): eth1 with rxe1
  [ -z "$mtu" ] || ip link set eth1 mtu "$mtu" || die "ip link set eth1 mtu $mtu failed"
  ip addr add "$ip2" dev eth1 || die "ip addr add $ip2 dev eth1 failed"
  ip link set eth1 up || die "ip link set eth1 up failed"
  chroot /host "$(cat /etc/rdma-bin)" link add rxe1 type rxe netdev eth1 >>/host/tmp/out/init.log 2>&1 ||
    die "rdma link add rxe1 type rxe netdev eth1 failed"
fi
[ -e /host/tmp/out/cmd.sh ] || die "no cmd.sh in the out share"
shell=/bin/sh
[ -x /host/bin/bash ] && shell=/bin/bash

t_start=$(uptime_s)
say "command starts at $t_start s"
set -- chroot /host "$shell" /tmp/out/cmd.sh
[ -z "$tmo" ] || set -- timeout -s TERM "$tmo" "$@"
"$@" </dev/null >/host/tmp/out/stdout 2>/host/tmp/out/stderr
rc=$?
t_end=$(uptime_s)
say "command ended at $t_end s with rc=$rc"
echo "boot_s=$t_start end_s=$t_end" >/host/tmp/out/times
[ -n "$tmo" ] && [ "$rc" -eq 143 ] && awk "BEGIN{exit !($t_end - $t_start >= $tmo - 1)}" &&
  : >/host/tmp/out/timed-out
dmesg >/host/tmp/out/dmesg 2>&1
echo "$rc" >/host/tmp/out/rc
sync
umount /host/tmp/out 2>/dev/null
poweroff -f
INIT
chmod 755 "$root/init"

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -6) >"$work/initrd.gz"
cp "$work/k/boot/vmlinuz-$kver" "$work/vmlinuz"

# Under TCG, decompressing the bzImage takes 3-4 s of every boot. When the kernel carries a PVH
# entry point (Xen ELF note 0x12), qemu boots the uncompressed ELF directly: keep it as vmlinux.
extract_vmlinux() { # bzImage -> ELF on stdout
  local magic cmd off
  for magic in 'fd377a585a00:xz -dc' '28b52ffd:zstd -qdc' '1f8b0800:gzip -dc'; do
    cmd="${magic#*:}"
    command -v "${cmd%% *}" >/dev/null || continue
    for off in $(LC_ALL=C grep -obUaP "$(echo "${magic%%:*}" | sed 's/../\\x&/g')" "$1" |
      cut -d: -f1 | head -5); do
      tail -c +$((off + 1)) "$1" | $cmd 2>/dev/null >"$work/vmlinux.try" || true
      if [ "$(head -c 4 "$work/vmlinux.try" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
        mv "$work/vmlinux.try" "$work/vmlinux"
        return 0
      fi
    done
  done
  return 1
}
rm -f "$out/vmlinux"
if command -v readelf >/dev/null && extract_vmlinux "$work/vmlinuz" &&
  readelf -n "$work/vmlinux" 2>/dev/null | grep -q "(0x00000012)"; then
  mv -f "$work/vmlinux" "$out/vmlinux"
else
  log "no PVH-bootable vmlinux extracted; guests boot the compressed vmlinuz (3-4 s slower)"
fi
mv -f "$work/vmlinuz" "$out/vmlinuz"
mv -f "$work/initrd.gz" "$out/initrd.gz"
printf '%s\n' "$stamp" >"$out/stamp"
t1=$(date +%s.%N)
log "built $out/{vmlinuz,initrd.gz} from $kpkg $kversion ($(wc -l <"$root/etc/modules.order") modules) in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
