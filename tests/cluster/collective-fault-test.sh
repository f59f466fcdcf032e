#!/usr/bin/env bash
# A link fault on one namespace node during a collective loop (tests/cluster/fabric.sh, 4 nodes,
# mpirun across them through the fabric's rsh agent, the collective suite's mpi backend):
#   collective-fault-test.sh FABRICBENCH_BINARY
# all_reduce on a shared schedule (regime realistic, 20/s for 5 s; 4 ranks on 2 cores yield when
# idle) while node3's fab0 goes
# down for 1 s (injector command, run by rank 0 on node1). Checks: the case completes; its
# repetition has an interval series of bus bandwidth and a fault record with the recovery
# metrics (baseline, a stall of at least the hold, the time to recover); the bins inside the
# outage carry less than half the baseline and the catch-up after the clear more; the report
# draws the recovery curve. Exit: 0 pass, 1 fail, 77 skip (not root, no namespaces, no mpirun,
# built without MPI). Everything is removed at the end, also on failure.
set -u
bin="$(realpath "${1:?usage: collective-fault-test.sh FABRICBENCH_BINARY}")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=tests/cluster/fabric.sh
source "$here/fabric.sh"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
command -v mpirun >/dev/null 2>&1 || fabric_skip "no mpirun (openmpi-bin)"
command -v python3 >/dev/null 2>&1 || fabric_skip "python3 not found"
"$bin" list 2>/dev/null | grep -Eq "^ +mpi +built, available" ||
  fabric_skip "fabricbench's mpi backend is not built or not available here"
fabric_up 4 || fail "could not make the fabric"
work="$FABRIC_DIR"
ns3="$(fabric_node_ns 3)"
for i in 1 2 3 4; do echo "node$i slots=1"; done >"$work/hosts"
cat >"$work/fault.yaml" <<YAML
fabricbench: 1
name: collective-fault
timeouts: {peer: 30s}
injector:
  backend: command
  target: node3-fab0
  inject: ip netns exec $ns3 ip link set fab0 down
  clear: ip netns exec $ns3 ip link set fab0 up
cases:
  - name: fault
    suite: collective
    transport: mpi
    collective: all_reduce
    sizes: 64KiB
    placement: out_of_place
    regime: {kind: realistic, rate: 20/s, arrival: constant}
    duration: 5s
    warmup: 200ms
    interval: 100ms
    fault: {kind: link_down, start: 1500ms, hold: 1s}
YAML
timeout -s KILL 120 mpirun --allow-run-as-root --mca plm_rsh_agent "$FABRIC_AGENT" \
  --mca plm_rsh_no_tree_spawn 1 --mca oob_tcp_if_include "${FABRIC_NET}.0/24" \
  --mca btl self,tcp --mca btl_tcp_if_include "${FABRIC_NET}.0/24" --bind-to none \
  --mca mpi_yield_when_idle 1 \
  -hostfile "$work/hosts" -np 4 "$bin" run "$work/fault.yaml" -o "$work/run" \
  >"$work/out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
  tail -n 40 "$work/out" >&2
  fail "mpirun exited $rc"
fi
doc="$work/run/run.json"
[ -f "$doc" ] || fail "no run document"
if python3 -c 'import jsonschema' 2>/dev/null; then
  python3 "$repo/ci/validate-run.py" "$repo/results/schema/run-v1.schema.json" "$doc" ||
    fail "the run document does not match the schema"
fi
python3 - "$doc" <<'PY' || { tail -n 30 "$work/out"; fail "the recovery curve is off (above)"; }
import json, sys
doc = json.load(open(sys.argv[1]))
(case,) = doc["cases"]
assert case["status"] == "ok", (case["status"], case.get("errors"))
hosts = sorted({r["hostname"] for r in doc["envelope"]["ranks"]})
assert hosts == ["node1", "node2", "node3", "node4"], hosts
(rep,) = case["repetitions"]
f = rep["fault"]
rec = f["recovery"]
bins = [p["bytes"] * 8 / p["length_ns"] for p in rep["intervals"]]  # busbw, Gb/s
print(f"  outcome {f['outcome']}, fault {f['start_ns']/1e9:.2f}-{f['clear_ns']/1e9:.2f} s, "
      f"baseline {rec['baseline_gbps']:.3f} Gb/s, stall {rec['stall_ns']/1e9:.2f} s, "
      f"ttr90 from clear {rec['ttr90_from_clear_ns']}")
print("  busbw per 100 ms (Gb/s):", " ".join(f"{b:.2f}" for b in bins))
assert f["outcome"] == "absorbed", f["outcome"]
assert f["error"] is None, f["error"]
assert rec["stall_ns"] >= 0.8e9, rec["stall_ns"]
base = rec["baseline_gbps"]
assert base > 0
b0 = int(f["start_ns"] // f["bin_ns"]) + 1
b1 = int(f["clear_ns"] // f["bin_ns"])
assert b1 > b0, (b0, b1)
outage = bins[b0:b1]
assert max(outage) < 0.5 * base, outage
assert max(bins[b1:]) > base, bins[b1:]          # the backlog drains after the clear
assert case["summary"]["recovery"]["outcomes"] == {"absorbed": 1}, case["summary"]["recovery"]
kinds = [e["kind"] for e in doc["events"] if e["kind"].startswith("fault.")]
assert kinds == ["fault.inject", "fault.clear"], kinds
PY
"$bin" report "$work/run" -o "$work/report.html" >/dev/null 2>&1 || fail "report failed"
grep -q 'plot-recovery-' "$work/report.html" || fail "the report draws no recovery curve"
echo "PASS"
