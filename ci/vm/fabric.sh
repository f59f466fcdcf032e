#!/usr/bin/env bash
# Boots two Soft-RoCE guests joined by one virtual Ethernet link and runs a command in each.
#
#   ci/vm/fabric.sh [OPTIONS] -- CMD0... [::: CMD1...]
#
# Guest 0 (198.51.100.1) runs CMD0, guest 1 (198.51.100.2) runs CMD1 (CMD0 again when there is
# no `:::`). Like ssh, a command's words are joined with spaces and run by bash in the guest, so
# quote '$FABRIC_PEER_IP' to have the guest expand it. Each guest sees the host's filesystem
# read-only at the same paths (except /tmp, /run, /dev/shm: empty tmpfs), has the RDMA device
# rxe0 on eth0 and runs in the host's current directory, with
#   FABRIC_GUEST=0|1  FABRIC_IP  FABRIC_PEER_IP  FABRIC_PREFIX=24  FABRIC_IFACE=eth0
#   FABRIC_RDMA_DEV=rxe0  FABRIC_GID_INDEX=1 (the RoCEv2 IPv4 GID)  FABRIC_OUT=/tmp/out
# FABRIC_OUT is writable and comes back to the host (--out).
#
# Options:
#   --timeout S     whole run, boot included (default 300); the guests are killed after it
#   --mtu N         eth0 MTU in the guests (default 1500)
#   --nics N        1 (default) or 2: a second link, eth1 (198.51.101.1 and .2) with rxe1 on it, for
#                   multi-rail; the guests then also get FABRIC_IP2 FABRIC_PEER_IP2 FABRIC_IFACE2=eth1
#                   FABRIC_RDMA_DEV2=rxe1
#   --out DIR       copy each guest's FABRIC_OUT to DIR/g0 and DIR/g1 (default: discarded)
#   --put FILE      copy FILE into both guests' FABRIC_OUT before boot (repeatable)
#   --env K=V       export K=V in both guests (repeatable)
#   --grace S       when one guest's command fails, stop the other S seconds later (default 15)
#   --tail N        print the last N lines of each guest's stdout/stderr (default 40, 0: all)
#   --build-dir D   guest images (ci/vm/build-guest.sh D); default $FB_VM_BUILD_DIR or build/vm-guest
#   --accel A       tcg (default; $FB_VM_ACCEL) or kvm (hangs on the CI machines, see the doc)
#   --append ARGS   more guest kernel command-line arguments
#   --keep-console  also keep the serial console logs in --out (DIR/g0/console.log)
# Exit codes: 0 both commands exited 0; 1 a command failed; 124 timed out; 77 no guest can be
# built here (reason printed); 2 usage.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

timeout_s=300 mtu="" out_dir="" grace=15 tail_n=40 accel="${FB_VM_ACCEL:-tcg}"
build_dir="${FB_VM_BUILD_DIR:-$repo/build/vm-guest}"
puts=() envs=() keep_console=0 extra_append="" nics=1
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout_s="$2"; shift 2 ;;
    --mtu) mtu="$2"; shift 2 ;;
    --nics) nics="$2"; shift 2 ;;
    --out) out_dir="$2"; shift 2 ;;
    --put) puts+=("$2"); shift 2 ;;
    --env) envs+=("$2"); shift 2 ;;
    --grace) grace="$2"; shift 2 ;;
    --tail) tail_n="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --accel) accel="$2"; shift 2 ;;
    --keep-console) keep_console=1; shift ;;
    --append) extra_append="$2"; shift 2 ;;
    -h | --help) usage ;;
    --) shift; break ;;
    *) echo "fabric: unknown option $1" >&2; usage ;;
  esac
done
[ $# -gt 0 ] || usage
cmd0=() cmd1=() side=0
for w in "$@"; do
  if [ "$w" = ":::" ] && [ $side -eq 0 ]; then side=1; continue; fi
  if [ $side -eq 0 ]; then cmd0+=("$w"); else cmd1+=("$w"); fi
done
[ ${#cmd0[@]} -gt 0 ] || usage
[ $side -eq 1 ] || cmd1=("${cmd0[@]}")
[ ${#cmd1[@]} -gt 0 ] || usage
[[ "$timeout_s" =~ ^[0-9]+$ ]] && [ "$timeout_s" -ge 10 ] || { echo "fabric: --timeout wants >= 10" >&2; exit 2; }
[[ "$grace" =~ ^[0-9]+$ ]] || { echo "fabric: --grace wants seconds" >&2; exit 2; }
[ -z "$mtu" ] || [[ "$mtu" =~ ^[0-9]+$ ]] || { echo "fabric: --mtu wants a number" >&2; exit 2; }
case "$accel" in tcg | kvm) ;; *) echo "fabric: --accel tcg|kvm" >&2; exit 2 ;; esac
case "$nics" in 1 | 2) ;; *) echo "fabric: --nics 1|2" >&2; exit 2 ;; esac
for f in "${puts[@]}"; do [ -f "$f" ] || { echo "fabric: --put $f: no such file" >&2; exit 2; }; done
for e in "${envs[@]}"; do
  [[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "fabric: --env wants K=V, got $e" >&2; exit 2; }
done

t_begin=$(date +%s.%N)
elapsed() { awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t_begin}"; }
say() { echo "fabric: [$(elapsed) s] $*" >&2; }

# --- guest image (cached) -----------------------------------------------------------------------
"$here/build-guest.sh" "$build_dir" || exit $?
vm="$(cd "$build_dir/vm" && pwd)"
kernel="$vm/vmlinuz"
[ -s "$vm/vmlinux" ] && kernel="$vm/vmlinux" # uncompressed, PVH entry: boots 3-4 s faster

# --- everything below is cleaned up on any exit ---------------------------------------------------
run="$(mktemp -d /tmp/fabric.XXXXXX)"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  pids=()
  rm -rf "$run"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP

ips=(198.51.100.1 198.51.100.2)
ips2=(198.51.101.1 198.51.101.2)
# The guests' own command deadline leaves time to boot before and to save results after.
guest_tmo=$((timeout_s - 30))
[ $guest_tmo -ge 10 ] || guest_tmo=$((timeout_s * 2 / 3))

for g in 0 1; do
  o="$run/g$g"
  mkdir -p "$o"
  chmod 777 "$o"
  for f in "${puts[@]}"; do cp "$f" "$o/"; done
  if [ $g -eq 0 ]; then c=("${cmd0[@]}"); else c=("${cmd1[@]}"); fi
  {
    echo "# written by ci/vm/fabric.sh"
    echo "export FABRIC_GUEST=$g FABRIC_IP=${ips[$g]} FABRIC_PEER_IP=${ips[$((1 - g))]}"
    echo "export FABRIC_PREFIX=24 FABRIC_IFACE=eth0 FABRIC_RDMA_DEV=rxe0 FABRIC_GID_INDEX=1"
    if [ "$nics" -eq 2 ]; then
      echo "export FABRIC_IP2=${ips2[$g]} FABRIC_PEER_IP2=${ips2[$((1 - g))]} FABRIC_IFACE2=eth1"
      echo "export FABRIC_RDMA_DEV2=rxe1"
    fi
    echo "export FABRIC_OUT=/tmp/out HOME=/root LANG=C.UTF-8"
    echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for e in "${envs[@]}"; do printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"; done
    printf 'cd %q 2>/dev/null || cd /\n' "$PWD"
    echo "${c[*]}"
  } >"$o/cmd.sh"
done

port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
port_listening() { ss -Hltn "src 127.0.0.1 and sport = :$1" 2>/dev/null | grep -q .; }

start_guest() { # g netdev-spec [netdev-spec of the second link]
  local g=$1 nd=$2 nd2=${3:-} append
  append="console=ttyS0 quiet panic=-1 mitigations=off fb.name=fabric-g$g fb.ip=${ips[$g]}/24 fb.timeout=$guest_tmo"
  local nic2=()
  if [ -n "$nd2" ]; then
    append="$append fb.ip2=${ips2[$g]}/24"
    nic2=(-netdev "socket,id=n1,$nd2" -device "virtio-net-pci,netdev=n1,mac=52:54:00:00:01:0$((g + 1))")
  fi
  [ -z "$mtu" ] || append="$append fb.mtu=$mtu"
  [ -z "$extra_append" ] || append="$append $extra_append"
  local cpu=()
  [ "$accel" = kvm ] && cpu=(-cpu "${FB_VM_KVM_CPU:-host}")
  # Belt and braces: qemu dies with this script (parent-death signal, even on SIGKILL) and never
  # outlives --timeout by more than a minute (timeout), whatever happens to the traps below.
  setpriv --pdeathsig KILL timeout -s KILL $((timeout_s + 60)) setpriv --pdeathsig KILL \
    qemu-system-x86_64 -accel "$accel" "${cpu[@]}" -smp 1 -m 1024 \
    -nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
    -kernel "$kernel" -initrd "$vm/initrd.gz" -append "$append" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$run/g$g,mount_tag=outdir,security_model=none,multidevs=remap" \
    -device virtio-rng-pci \
    -netdev "socket,id=n0,$nd" -device "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:0$((g + 1))" \
    "${nic2[@]}" \
    </dev/null >"$run/console$g.log" 2>&1 &
  pids[$g]=$!
}

# Guest 0 listens on a free loopback port (two with --nics 2), guest 1 connects to it.
port=""
for _ in 1 2 3 4 5; do
  p=$((20000 + RANDOM % 40000))
  port_free "$p" || continue
  [ "$nics" -eq 1 ] || port_free $((p + 1)) || continue
  second=()
  [ "$nics" -eq 1 ] || second=("listen=127.0.0.1:$((p + 1))")
  start_guest 0 "listen=127.0.0.1:$p" "${second[@]}"
  listening() { port_listening "$p" && { [ "$nics" -eq 1 ] || port_listening $((p + 1)); }; }
  for _ in $(seq 50); do
    listening && break
    kill -0 "${pids[0]}" 2>/dev/null || break
    sleep 0.1
  done
  if listening && kill -0 "${pids[0]}" 2>/dev/null; then port=$p; break; fi
  kill -KILL "${pids[0]}" 2>/dev/null || true
  wait "${pids[0]}" 2>/dev/null || true
  pids=()
done
if [ -z "$port" ]; then
  say "guest 0 could not listen on a loopback port:"
  tail -n 20 "$run/console0.log" >&2 || true
  exit 1
fi
second=()
[ "$nics" -eq 1 ] || second=("connect=127.0.0.1:$((port + 1))")
start_guest 1 "connect=127.0.0.1:$port" "${second[@]}"
say "guests booting ($accel, link 127.0.0.1:$port, timeout ${timeout_s}s)"

# --- wait for both to power off, the deadline, or one failure plus grace ------------------------
deadline=$(($(date +%s) + timeout_s))
timed_out=0 fail_at=""
done_g=(0 0) started=(0 0) boot_wall=("" "")
t_launch=$(date +%s.%N)
while :; do
  for g in 0 1; do
    if [ "${started[$g]}" -eq 0 ] && grep -q "command starts" "$run/g$g/init.log" 2>/dev/null; then
      started[$g]=1
      boot_wall[$g]=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t_launch}")
      say "guest $g: command started ${boot_wall[$g]}s after launch"
    fi
    if [ "${done_g[$g]}" -eq 0 ] && ! kill -0 "${pids[$g]}" 2>/dev/null; then
      wait "${pids[$g]}" 2>/dev/null || true
      done_g[$g]=1
      r="$(cat "$run/g$g/rc" 2>/dev/null || echo none)"
      say "guest $g powered off (rc=$r)"
      if [ "$r" != 0 ] && [ -z "$fail_at" ]; then fail_at=$(($(date +%s) + grace)); fi
    fi
  done
  [ "${done_g[0]}" -eq 1 ] && [ "${done_g[1]}" -eq 1 ] && break
  now=$(date +%s)
  if [ "$now" -ge "$deadline" ]; then
    timed_out=1
    say "timeout after ${timeout_s}s: stopping the guests"
    break
  fi
  if [ -n "$fail_at" ] && [ "$now" -ge "$fail_at" ]; then
    say "a guest failed ${grace}s ago: stopping the other"
    break
  fi
  sleep 0.2
done
for g in 0 1; do kill -KILL "${pids[$g]}" 2>/dev/null || true; done
for g in 0 1; do wait "${pids[$g]}" 2>/dev/null || true; done
pids=()

# --- results --------------------------------------------------------------------------------------
status=0
for g in 0 1; do
  o="$run/g$g"
  r="$(cat "$o/rc" 2>/dev/null || true)"
  times="$(cat "$o/times" 2>/dev/null || true)"
  note=""
  if [ -z "$r" ]; then
    note="no exit code (killed before its command finished)"
    [ $timed_out -eq 1 ] && status=124
    [ $status -eq 0 ] && status=1
  elif [ -e "$o/timed-out" ]; then
    note="its command ran past the guest deadline of ${guest_tmo}s"
    status=124
  elif [ "$r" != 0 ]; then
    [ $status -eq 0 ] && status=1
  fi
  [ -z "${boot_wall[$g]}" ] || times="${times:+$times }boot_wall_s=${boot_wall[$g]}"
  echo "=== guest $g (${ips[$g]}): rc=${r:-none} ${times:+($times) }$note"
  for s in stdout stderr; do
    [ -s "$o/$s" ] || continue
    if [ "$tail_n" -eq 0 ]; then
      echo "--- guest $g $s ---"
      cat "$o/$s"
    else
      echo "--- guest $g $s (last $tail_n lines) ---"
      tail -n "$tail_n" "$o/$s"
    fi
  done
  if [ -z "$r" ] || [ "$r" = 125 ]; then
    echo "--- guest $g console (last 20 lines) ---"
    tail -n 20 "$run/console$g.log" 2>/dev/null || true
    [ -s "$o/init.log" ] && { echo "--- guest $g init.log ---"; cat "$o/init.log"; }
  fi
done
if [ -n "$out_dir" ]; then
  mkdir -p "$out_dir"
  for g in 0 1; do
    rm -rf "${out_dir:?}/g$g"
    cp -a "$run/g$g" "$out_dir/g$g"
    [ $keep_console -eq 0 ] || cp "$run/console$g.log" "$out_dir/g$g/console.log"
  done
  say "guest outputs in $out_dir/g0 and $out_dir/g1"
fi
say "done, exit $status"
exit $status
