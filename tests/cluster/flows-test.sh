#!/usr/bin/env bash
# Incast and shift (pattern: incast, pattern: shift) on a fabric of 4 namespace nodes
# (tests/cluster/fabric.sh), one rank per node (env launcher, rank r on node r+1):
#   flows-test.sh FABRICBENCH_BINARY
# Node 4 (rank 3) has its link shaped to 100 Mbit/s both ways (tbf); the other links are not
# shaped. Checks, for both cases: every ordered pair has a figure > 0 in the directed matrix, and
# each is the figure of its flow in the one step that holds it; each step's aggregate is the sum
# of its flows. Incast: the aggregate into node 4 is at most 1.3 x the shaped rate, the incast
# into every other node at least 4 x it. Shift: every flow into or out of node 4 is below 1.3 x
# the shaped rate, every other flow above 3 x it. Every rank exits 0; the run document matches
# the schema. Exit: 0 pass, 1 fail, 77 skip (not root, no namespaces, bridge, veth or tc).
# Everything is removed at the end, also on failure.
set -u
bin="$(realpath "${1:?usage: flows-test.sh FABRICBENCH_BINARY}")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=tests/cluster/fabric.sh
source "$here/fabric.sh"

readonly nodes=4 port=18650 run_limit_s=90 shaped_node=4 shaped_rate=100mbit
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
command -v python3 >/dev/null 2>&1 || fabric_skip "python3 not found"
fabric_up "$nodes" || fail "could not make the fabric"
work="$FABRIC_DIR"
secret="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
fabric_shape_node "$shaped_node" "$shaped_rate" || fail "cannot shape node $shaped_node"

pids=()
for r in $(seq 0 $((nodes - 1))); do
  (
    node_exec $((r + 1)) timeout -s KILL "$run_limit_s" env FABRICBENCH_RANK="$r" \
      FABRICBENCH_SIZE="$nodes" FABRICBENCH_ROOT="node1:$port" FABRICBENCH_SECRET="$secret" \
      "$bin" run "$here/flows.yaml" -o "$work/run" >"$work/out.$r" 2>"$work/err.$r"
    echo $? >"$work/rc.$r"
  ) &
  pids+=($!)
done
wait "${pids[@]}"

for r in $(seq 0 $((nodes - 1))); do
  rc="$(cat "$work/rc.$r")"
  if [ "$rc" != 0 ]; then
    tail -n 30 "$work/out.0" "$work/err.$r" >&2
    fail "rank $r exited $rc, expected 0"
  fi
done
cat "$work/out.0"
doc="$work/run/run.json"
[ -f "$doc" ] || fail "no run document"
if python3 -c 'import jsonschema' 2>/dev/null; then
  python3 "$repo/ci/validate-run.py" "$repo/results/schema/run-v1.schema.json" "$doc" ||
    fail "the run document does not match the schema"
fi
# tc's 100mbit: 1e8 bit/s = 0.0125 GB/s.
python3 - "$doc" "$nodes" "$((shaped_node - 1))" 0.0125 <<'PY' || fail "wrong figures"
import json, math, sys
doc = json.load(open(sys.argv[1]))
n, shaped, rate = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
cases = {c["summary"]["map"]["pattern"]: c for c in doc["cases"]}
assert sorted(cases) == ["incast", "shift"], sorted(cases)
for pattern, case in cases.items():
    assert case["status"] == "ok", (pattern, case["status"])
    m = case["summary"]["map"]
    assert [x["host"] for x in m["nodes"]] == [f"node{i}" for i in range(1, n + 1)], m["nodes"]
    seen = {}
    for step in m["steps"]:
        values = [f[2] for f in step["flows"]]
        assert all(v is not None and v > 0 for v in values), (pattern, step)
        assert math.isclose(step["aggregate"], sum(values), rel_tol=1e-9), (pattern, step)
        for a, b, v in step["flows"]:
            assert (a, b) not in seen, (pattern, a, b)
            seen[(a, b)] = v
    for a in range(n):
        for b in range(n):
            cell = m["matrix"][a][b]
            if a == b:
                assert cell is None, (pattern, a, b, cell)
            else:
                assert cell is not None and cell > 0, (pattern, a, b, cell)
                assert cell == seen[(a, b)], (pattern, a, b, cell, seen.get((a, b)))
    assert len(seen) == n * (n - 1), (pattern, len(seen))

incast = cases["incast"]["summary"]["map"]
for step in incast["steps"]:
    t, agg = step["target"], step["aggregate"]
    print(f"  incast into node{t + 1}: {agg:.4f} GB/s (shaped rate {rate} GB/s)")
    if t == shaped:
        assert agg <= 1.3 * rate, ("incast into the shaped node", agg)
    else:
        assert agg >= 4 * rate, ("incast into an unshaped node", t, agg)
assert incast["incast_bandwidth"] == [s["aggregate"] for s in incast["steps"]]

for step in cases["shift"]["summary"]["map"]["steps"]:
    print(f"  shift {step['shift']}: {step['aggregate']:.4f} GB/s")
    for a, b, v in step["flows"]:
        if shaped in (a, b):
            assert v < 1.3 * rate, ("shift flow of the shaped node", a, b, v)
        else:
            assert v > 3 * rate, ("shift flow between unshaped nodes", a, b, v)
PY
echo "PASS"
