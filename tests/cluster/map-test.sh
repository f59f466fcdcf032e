#!/usr/bin/env bash
# The all-pairs map on a fabric of 6 namespace nodes (tests/cluster/fabric.sh), one rank per node
# (env launcher, rank r on node r+1):
#   map-test.sh FABRICBENCH_BINARY
# 1. Every node's link is shaped to 200 Mbit/s (so the map measures tc, not 2 busy CPUs), node 4
#    (rank 3) to a quarter of that, and the traffic between nodes 1 and 2 (ranks 0 and 1) only
#    to 50 Mbit/s by filters on their addresses. The map must name exactly node 4 as a bad node
#    and exactly (0, 1) as a bad link, nothing else, and every rank must exit 4.
# 2. The same fabric clean (every link 200 Mbit/s), three runs: no bad node, no bad link, exit 0.
# Checks the run documents against the schema. Exit: 0 pass, 1 fail, 77 skip (not root, no
# namespaces, bridge, veth or tc). Everything is removed at the end, also on failure.
set -u
bin="$(realpath "${1:?usage: map-test.sh FABRICBENCH_BINARY}")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=tests/cluster/fabric.sh
source "$here/fabric.sh"

readonly nodes=6 port=18600 run_limit_s=90
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
command -v python3 >/dev/null 2>&1 || fabric_skip "python3 not found"
fabric_up "$nodes" || fail "could not make the fabric"
work="$FABRIC_DIR"
secret="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"

# run_map NAME: every rank in its node; waits for all (bounded); leaves rank r's exit code in
# $work/NAME.rc.r and the document in $work/NAME/run.json.
run_map() {
  local name="$1" r pids=()
  for r in $(seq 0 $((nodes - 1))); do
    (
      node_exec $((r + 1)) timeout -s KILL "$run_limit_s" env FABRICBENCH_RANK="$r" \
        FABRICBENCH_SIZE="$nodes" FABRICBENCH_ROOT="node1:$port" FABRICBENCH_SECRET="$secret" \
        "$bin" run "$here/map.yaml" -o "$work/$name" >"$work/$name.out.$r" 2>"$work/$name.err.$r"
      echo $? >"$work/$name.rc.$r"
    ) &
    pids+=($!)
  done
  wait "${pids[@]}"
}

# check NAME WANT_RC BAD_NODES BAD_LINKS: exit codes, schema, and the verdict (python lists).
check() {
  local name="$1" want="$2" r rc
  for r in $(seq 0 $((nodes - 1))); do
    rc="$(cat "$work/$name.rc.$r")"
    if [ "$rc" != "$want" ]; then
      tail -n 30 "$work/$name.out.0" "$work/$name.err.$r" >&2
      fail "$name: rank $r exited $rc, expected $want"
    fi
  done
  local doc="$work/$name/run.json"
  [ -f "$doc" ] || fail "$name: no run document"
  if python3 -c 'import jsonschema' 2>/dev/null; then
    python3 "$repo/ci/validate-run.py" "$repo/results/schema/run-v1.schema.json" "$doc" ||
      fail "$name: the run document does not match the schema"
  fi
  python3 - "$doc" "$3" "$4" <<'PY' || { cat "$work/$name.out.0"; fail "$name: wrong verdict"; }
import json, sys
doc = json.load(open(sys.argv[1]))
want_nodes, want_links = json.loads(sys.argv[2]), json.loads(sys.argv[3])
(case,) = doc["cases"]
m = case["summary"]["map"]
hosts = [n["host"] for n in m["nodes"]]
assert hosts == [f"node{i}" for i in range(1, 7)], hosts
for a in range(6):
    for b in range(6):
        assert (m["matrix"][a][b] is None) == (a == b), (a, b, m["matrix"][a][b])
v = m["verdict"]
print(f"  best {m['reference']:.4f} GB/s, suspects {m['suspects']}, bad nodes {v['bad_nodes']}, "
      f"bad links {v['bad_links']}, noise {v['noise']}")
for f in v["findings"]:
    print(f"  {f['kind']}: {f['evidence']}")
assert v["bad_nodes"] == want_nodes, v["bad_nodes"]
assert v["bad_links"] == want_links, v["bad_links"]
PY
  echo "ok: $name"
}

fabric_shape_all 200mbit || fail "cannot shape the links"
fabric_shape_node 4 50mbit || fail "cannot shape node 4"
fabric_shape_pair 1 2 50mbit || fail "cannot shape the pair node1-node2"
run_map faulty
check faulty 4 "[3]" "[[0, 1]]"

fabric_unshape_all || fail "cannot unshape"
fabric_shape_all 200mbit || fail "cannot shape the links"
for k in 1 2 3; do
  run_map "clean$k"
  check "clean$k" 0 "[]" "[]"
done
echo "PASS"
