#!/usr/bin/env bash
# Proves the VM fabric end to end: two Soft-RoCE guests (ci/vm/fabric.sh), `ibv_devices` lists
# rxe0 in each, and perftest's ib_write_bw moves data from guest 1 (client) to guest 0 (server)
# over RoCEv2 (GID index 1) across the virtual link. Prints the perftest output.
#
# Usage: ci/vm/perftest-smoke.sh [BUILD_DIR] [fabric.sh options...]
#   BUILD_DIR  where the guest images are built and cached (default build/vm-guest)
# Environment: FB_SMOKE_SIZE (65536), FB_SMOKE_ITERS (200), FB_SMOKE_TIMEOUT (240 s).
# Exit codes: 0 ok; 1 failed; 124 timed out; 77 skipped (no qemu or kernel package here).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build_dir="${1:-$repo/build/vm-guest}"
[ $# -eq 0 ] || shift
size="${FB_SMOKE_SIZE:-65536}"
iters="${FB_SMOKE_ITERS:-200}"
tmo="${FB_SMOKE_TIMEOUT:-240}"

# perftest and ibverbs-utils run inside the guests from the host's root: install them here.
need=()
for p in perftest ibverbs-utils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || [ "${FB_VM_NO_INSTALL:-0}" = 1 ]; then
    echo "SKIP: perftest-smoke: missing Debian packages ${need[*]}" >&2
    exit 77
  fi
  echo "perftest-smoke: installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >/dev/null 2>&1 || {
    echo "SKIP: perftest-smoke: apt-get install ${need[*]} failed" >&2
    exit 77
  }
fi

guest_script="$(mktemp /tmp/perftest-smoke.XXXXXX.sh)"
out="$(mktemp -d /tmp/perftest-smoke-out.XXXXXX)"
trap 'rm -rf "$guest_script" "$out"' EXIT
cat >"$guest_script" <<EOF
#!/bin/bash
# Runs in each guest; FABRIC_* come from ci/vm/fabric.sh.
set -u
echo "== guest \$FABRIC_GUEST (\$FABRIC_IP): ibv_devices"
ibv_devices
ibv_devices | grep -qw "\$FABRIC_RDMA_DEV" || { echo "no \$FABRIC_RDMA_DEV in ibv_devices" >&2; exit 3; }
ibv_devinfo -d "\$FABRIC_RDMA_DEV" | grep -E "state|active_mtu|link_layer"
args=(-d "\$FABRIC_RDMA_DEV" -x "\$FABRIC_GID_INDEX" -s $size -n $iters -F)
if [ "\$FABRIC_GUEST" = 0 ]; then
  echo "== ib_write_bw server"
  exec timeout $((tmo - 60)) ib_write_bw "\${args[@]}"
fi
# Client: the server may still be booting. perftest exits 1 on "Couldn't connect"; retry that
# (bounded), give up on anything else.
for i in \$(seq 1 60); do
  timeout $((tmo - 60)) ib_write_bw "\${args[@]}" "\$FABRIC_PEER_IP" >\$FABRIC_OUT/client.log 2>&1
  rc=\$?
  if [ \$rc -ne 0 ] && grep -q "Couldn't connect\\|Unable to open file descriptor" \$FABRIC_OUT/client.log; then
    sleep 1
    continue
  fi
  break
done
echo "== ib_write_bw client (attempt \$i, rc=\$rc)"
cat \$FABRIC_OUT/client.log
exit \$rc
EOF
chmod 644 "$guest_script"

t0=$(date +%s.%N)
rc=0
"$here/fabric.sh" --build-dir "$build_dir" --timeout "$tmo" --tail 0 --put "$guest_script" \
  --out "$out" "$@" -- bash '$FABRIC_OUT'/"$(basename "$guest_script")" || rc=$?
t1=$(date +%s.%N)
[ $rc -eq 77 ] && exit 77
if [ $rc -eq 0 ]; then
  # The client prints the result table: "#bytes #iterations BW peak BW average MsgRate".
  line="$(grep -E "^[[:space:]]*${size}[[:space:]]+${iters}[[:space:]]" "$out/g1/client.log" || true)"
  if [ -z "$line" ]; then
    echo "perftest-smoke: FAIL: no ib_write_bw result line for $size B x $iters" >&2
    rc=1
  else
    echo "perftest-smoke: ib_write_bw $size B x $iters over rxe0: $(echo "$line" | awk '{print $4 " MB/s average"}')"
  fi
fi
echo "perftest-smoke: $([ $rc -eq 0 ] && echo PASS || echo "FAIL (rc=$rc)") in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
exit $rc
