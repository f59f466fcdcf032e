#!/usr/bin/env bash
# Runs perftest and fabricbench side by side on the same two Soft-RoCE guests, in one boot,
# with the same sizes, and prints the ratios (docs/PERFORMANCE.md):
#   bandwidth: fabricbench stream op write/read/send vs ib_write_bw/ib_read_bw/ib_send_bw
#              (64 KiB, 200 iterations, 128 in flight; both in Gb/s, perftest --report_gbits)
#              target: ratio of medians >= 0.95
#   latency:   fabricbench pingpong op write/read p50 vs ib_write_lat/ib_read_lat t_typical
#              (8 B, 200 iterations)  target: ratio of medians <= 1.05
# Each round runs every perftest test, then fabricbench (configs/compare/verbs-vs-perftest.yaml);
# ROUNDS rounds, medians per figure. Guests are emulated (TCG): figures are small and noisy;
# only the ratios mean anything.
# Usage: ci/vm/compare-perftest.sh FABRICBENCH_BINARY [ROUNDS] [--build-dir D]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$(realpath "${1:?usage: compare-perftest.sh FABRICBENCH_BINARY [ROUNDS]}")"
rounds="${2:-3}"
shift $(( $# >= 2 ? 2 : 1 ))
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
for r in \$(seq 1 $rounds); do
  perf ib_write_bw \$r -s 65536 -n 200 -t 128 --report_gbits || exit 1
  perf ib_read_bw \$r -s 65536 -n 200 -t 128 --report_gbits || exit 1
  perf ib_send_bw \$r -s 65536 -n 200 -t 128 --report_gbits || exit 1
  perf ib_write_lat \$r -s 8 -n 200 || exit 1
  perf ib_read_lat \$r -s 8 -n 200 || exit 1
  FABRICBENCH_RANK=\$FABRIC_GUEST FABRICBENCH_SIZE=2 FABRICBENCH_ROOT=198.51.100.1:\$((29500 + r)) \\
    FABRICBENCH_SECRET_FILE=\$out/secret \$out/fabricbench run \$out/compare.yaml -o "\$out/fb.\$r" \\
    >"\$out/fb.\$r.log" 2>&1 || { cat "\$out/fb.\$r.log"; exit 1; }
  echo "round \$r done"
done
GUEST
# The guests' /tmp is their own: the binary and config travel through the out share.
cp "$bin" "$tmp/fabricbench"
cp "$config" "$tmp/compare.yaml"
chmod a+r "$tmp/guest.sh" "$tmp/secret" "$tmp/compare.yaml"

echo "compare-perftest: $rounds rounds on two guests (several minutes under emulation)" >&2
"$here/fabric.sh" --timeout 1500 --tail 20 --out "$tmp/out" "$@" \
  --put "$tmp/guest.sh" --put "$tmp/secret" --put "$tmp/fabricbench" --put "$tmp/compare.yaml" \
  -- 'bash $FABRIC_OUT/guest.sh'

python3 - "$tmp/out" "$rounds" <<'PY'
import glob, json, os, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])

def perftest_row(path, size):
    # The result row starts with the message size; return its numeric fields.
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and f[0] == str(size):
            try:
                return [float(x) for x in f]
            except ValueError:
                pass
    sys.exit(f"no result row for size {size} in {path}:\n" + open(path).read())

def fb_case(r, case_id):
    doc = json.load(open(os.path.join(out, "g0", f"fb.{r}", "run.json")))
    for c in doc["cases"]:
        if c["id"] == case_id:
            if c["status"] != "ok":
                sys.exit(f"fabricbench case {case_id} in round {r}: {c['status']} {c.get('errors')}")
            return c["repetitions"][0]
    sys.exit(f"no case {case_id} in round {r}")

rows = []
fails = 0
for op, tool in (("write", "ib_write_bw"), ("read", "ib_read_bw"), ("send", "ib_send_bw")):
    pt = [perftest_row(f"{out}/g1/{tool}.{r}.txt", 65536)[3] for r in range(1, rounds + 1)]
    fb = [fb_case(r, f"bw.stream.verbs.64KiB.op={op}")["bw_gbps"] for r in range(1, rounds + 1)]
    ratio = statistics.median(fb) / statistics.median(pt)
    ok = ratio >= 0.95
    fails += not ok
    rows.append((f"{tool} 64 KiB BW average", "Gb/s", fb, pt, ratio, ">= 0.95", ok))
for op, tool in (("write", "ib_write_lat"), ("read", "ib_read_lat")):
    pt = [perftest_row(f"{out}/g1/{tool}.{r}.txt", 8)[4] for r in range(1, rounds + 1)]
    fb = [fb_case(r, f"lat.pingpong.verbs.8B.op={op}")["latency"]["lat_p50_ns"] / 1000.0
          for r in range(1, rounds + 1)]
    ratio = statistics.median(fb) / statistics.median(pt)
    ok = ratio <= 1.05
    fails += not ok
    rows.append((f"{tool} 8 B t_typical vs p50", "us", fb, pt, ratio, "<= 1.05", ok))

print(f"medians of {rounds} rounds (per-round values in brackets)")
print("| figure | fabricbench | perftest | ratio | target |")
print("|---|---|---|---|---|")
for name, unit, fb, pt, ratio, target, ok in rows:
    fmt = lambda xs: f"{statistics.median(xs):.4g} {unit} [" + ", ".join(f"{x:.4g}" for x in xs) + "]"
    print(f"| {name} | {fmt(fb)} | {fmt(pt)} | {ratio:.3f} {'PASS' if ok else 'MISS'} | {target} |")
PY
