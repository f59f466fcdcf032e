#!/usr/bin/env bash
# Runs perftest and fabricbench side by side on the same two Soft-RoCE guests, in one boot,
# with the same sizes, and judges the ratios fabricbench / perftest (docs/PERFORMANCE.md,
# "Verbs on Soft-RoCE" and "How the comparisons judge"):
#   bandwidth: fabricbench stream op write/read/send vs ib_write_bw/ib_read_bw/ib_send_bw
#              (64 KiB, 200 iterations, 128 in flight; both in Gb/s, perftest --report_gbits,
#              its "BW average[Gb/sec]")                                     target >= 1.00
#   latency:   fabricbench pingpong op write/read p50 vs ib_write_lat/ib_read_lat
#              "t_typical[usec]" (8 B, 200 iterations)                       target <= 1.00
# ROUNDS interleaved rounds (default 9: the guests are emulated (TCG) and noisy, and a miss by
# less than the spread is judged WITHIN-NOISE, not PASS): odd rounds run every perftest test
# and then fabricbench (configs/compare/verbs-vs-perftest.yaml, one run), even rounds
# fabricbench first. Per comparison: the per-round ratios, their median, min..max and spread
# ((max - min) / median), and the verdict on the median: PASS, WITHIN-NOISE (misses by less
# than max - min of the ratios) or MISS. The host's load (/proc/loadavg, runnable processes)
# is recorded before and after the boot.
#
# Usage: ci/vm/compare-perftest.sh FABRICBENCH [ROUNDS] [-o FILE] [fabric.sh options...]
#   -o FILE   the JSON file with every figure (default $FB_COMPARE_JSON, else
#             compare-perftest.json in the current directory)
#   other options (--build-dir D, --accel A, ...) go to ci/vm/fabric.sh
# Exit: 0 judged (the verdicts are in the table and the JSON), 1 a run failed, 2 usage,
# 77 no guest can be built here (ci/vm/fabric.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
judge=(python3 "$root/ci/compare_judge.py")
cmdline="$0 $*"
bin="$(realpath "${1:?usage: compare-perftest.sh FABRICBENCH [ROUNDS] [-o FILE] [fabric.sh options]}")"
shift
rounds=9
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then rounds=$1; shift; fi
[ "$rounds" -ge 1 ] || { echo "compare-perftest: ROUNDS must be >= 1" >&2; exit 2; }
json=${FB_COMPARE_JSON:-compare-perftest.json}
fabric_args=()
while [ $# -gt 0 ]; do
  case $1 in
    -o | --output) json=${2:?-o wants a file}; shift 2 ;;
    *) fabric_args+=("$1"); shift ;;
  esac
done
json=$(realpath -m "$json")
[ -x "$bin" ] || { echo "compare-perftest: $bin is not an executable" >&2; exit 2; }
command -v ib_write_bw >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq perftest >/dev/null
}
config="$root/configs/compare/verbs-vs-perftest.yaml"
tmp="$(mktemp -d /tmp/fb-compare-perftest.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/secret")

cat >"$tmp/guest.sh" <<GUEST
#!/usr/bin/env bash
# Runs in each guest. Guest 0: perftest servers and fabricbench rank 0; guest 1: clients, rank 1.
set -u
out=\$FABRIC_OUT
common=(-d \$FABRIC_RDMA_DEV -x \$FABRIC_GID_INDEX)
port=18515
perf() { # name round args...: each test on its own port, so a client that is ahead can never
         # reach the previous test's server
  local name=\$1 r=\$2; shift 2
  port=\$((port + 1))
  if [ "\$FABRIC_GUEST" = 0 ]; then
    timeout 180 "\$name" "\${common[@]}" -p \$port "\$@" >"\$out/\$name.\$r.server.txt" 2>&1 && return 0
    cat "\$out/\$name.\$r.server.txt"
    return 1
  else
    for i in \$(seq 1 240); do   # the server may not be listening yet: retry for up to 2 min
      timeout 180 "\$name" "\${common[@]}" -p \$port "\$@" "\$FABRIC_PEER_IP" >"\$out/\$name.\$r.txt" 2>&1 && return 0
      sleep 0.5
    done
    cat "\$out/\$name.\$r.txt"
    return 1
  fi
}
fabricbench() { # round
  local r=\$1
  FABRICBENCH_RANK=\$FABRIC_GUEST FABRICBENCH_SIZE=2 FABRICBENCH_ROOT=198.51.100.1:\$((29500 + r)) \\
    FABRICBENCH_SECRET_FILE=\$out/secret \$out/fabricbench run \$out/compare.yaml -o "\$out/fb.\$r" \\
    >"\$out/fb.\$r.log" 2>&1 || { cat "\$out/fb.\$r.log"; return 1; }
}
perftests() { # round
  local r=\$1
  perf ib_write_bw \$r -s 65536 -n 200 -t 128 --report_gbits || exit 1
  perf ib_read_bw \$r -s 65536 -n 200 -t 128 --report_gbits || exit 1
  perf ib_send_bw \$r -s 65536 -n 200 -t 128 --report_gbits || exit 1
  perf ib_write_lat \$r -s 8 -n 200 || exit 1
  perf ib_read_lat \$r -s 8 -n 200 || exit 1
}
# Odd rounds: perftest first; even rounds: fabricbench first (cancels drift).
for r in \$(seq 1 $rounds); do
  if [ \$((r % 2)) = 1 ]; then perftests \$r; fabricbench \$r || exit 1
  else fabricbench \$r || exit 1; perftests \$r; fi
  echo "round \$r done"
done
GUEST
# The guests' /tmp is their own: the binary and config travel through the out share.
cp "$bin" "$tmp/fabricbench"
cp "$config" "$tmp/compare.yaml"
chmod a+r "$tmp/guest.sh" "$tmp/secret" "$tmp/compare.yaml"

echo "compare-perftest: $rounds rounds on two guests (several minutes under emulation)" >&2
"${judge[@]}" load >"$tmp/load-before.json"
rc=0
"$here/fabric.sh" --timeout $((300 + 240 * rounds)) --tail 20 --out "$tmp/out" "${fabric_args[@]}" \
  --put "$tmp/guest.sh" --put "$tmp/secret" --put "$tmp/fabricbench" --put "$tmp/compare.yaml" \
  -- 'bash $FABRIC_OUT/guest.sh' || rc=$?
[ "$rc" = 0 ] || exit "$rc"
"${judge[@]}" load >"$tmp/load-after.json"

values=$tmp/values.tsv
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$values"; }  # key round side value
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then printf '%s\tperftest\n' "$r"; else printf '%s\tfabricbench\n' "$r"; fi >>"$tmp/order.tsv"
  for op in write read send; do
    v=$("${judge[@]}" parse perftest "$tmp/out/g1/ib_${op}_bw.$r.txt" --size 65536 --column "BW average" --unit Gb/sec)
    record "${op}-bw" "$r" peer "$v"
    v=$("${judge[@]}" parse fabricbench "$tmp/out/g0/fb.$r/run.json" --case "bw.stream.verbs.64KiB.op=$op" --field bw_gbps)
    record "${op}-bw" "$r" fabricbench "$v"
  done
  for op in write read; do
    v=$("${judge[@]}" parse perftest "$tmp/out/g1/ib_${op}_lat.$r.txt" --size 8 --column t_typical --unit usec)
    record "${op}-lat" "$r" peer "$v"
    v=$("${judge[@]}" parse fabricbench "$tmp/out/g0/fb.$r/run.json" --case "lat.pingpong.verbs.8B.op=$op" \
      --field latency.lat_p50_ns --scale 0.001)
    record "${op}-lat" "$r" fabricbench "$v"
  done
done

{
  echo '{"comparisons": ['
  sep=""
  for op in write read send; do
    printf '%s{"key": "%s-bw", "name": "RDMA %s BW, 64 KiB", "unit": "Gb/s", "direction": "higher", "target": 1.00,
     "fabricbench": "verbs-vs-perftest.yaml bw.stream.verbs.64KiB.op=%s (bw_gbps)",
     "peer": "ib_%s_bw -s 65536 -n 200 -t 128 --report_gbits (BW average[Gb/sec])"}\n' "$sep" "$op" "$op" "$op" "$op"
    sep=","
  done
  for op in write read; do
    printf ',{"key": "%s-lat", "name": "RDMA %s latency, 8 B (p50 vs t_typical)", "unit": "us", "direction": "lower",
     "target": 1.00, "fabricbench": "verbs-vs-perftest.yaml lat.pingpong.verbs.8B.op=%s (latency.lat_p50_ns)",
     "peer": "ib_%s_lat -s 8 -n 200 (t_typical[usec])"}\n' "$op" "$op" "$op" "$op"
  done
  echo ']}'
} >"$tmp/spec.json"
"${judge[@]}" judge --script compare-perftest --spec "$tmp/spec.json" --values "$values" \
  --order "$tmp/order.tsv" --rounds "$rounds" --load-before "$tmp/load-before.json" \
  --load-after "$tmp/load-after.json" --command-line "$cmdline" --repo "$root" \
  --note "guests emulated (TCG) on this host; the load is the host's" -o "$json"
