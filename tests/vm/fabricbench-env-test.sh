#!/usr/bin/env bash
# fabricbench across two Soft-RoCE guests with the env launcher (ci/vm/run-experiment.sh):
# the run completes, its document validates against the schema, rank 0 and rank 1 ran in
# different guests, and each guest's envelope lists the RDMA device rxe0.
# Usage: tests/vm/fabricbench-env-test.sh FABRICBENCH_BINARY BUILD_DIR. Exit 77: no VM here.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ $# -eq 2 ] || {
  echo "usage: $0 FABRICBENCH_BINARY BUILD_DIR" >&2
  exit 2
}
# shellcheck source=tests/vm/run-checked.sh
source "$repo/tests/vm/run-checked.sh"
run_checked "$1" "$2" "$repo/tests/vm/vm-tcp.yaml" 240
python3 - "$out/run/run.json" <<'EOF' || exit 1
import json, sys
doc = json.load(open(sys.argv[1]))
problems = []
if doc["run"]["status"] != "complete":
    problems.append("run status is %r" % doc["run"]["status"])
ranks = {r["rank"]: r for r in doc["envelope"]["ranks"]}
for rank, host in ((0, "fabric-g0"), (1, "fabric-g1")):
    r = ranks.get(rank)
    if r is None:
        problems.append("no envelope for rank %d" % rank)
        continue
    if r.get("hostname") != host:
        problems.append("rank %d ran on %r, not %s" % (rank, r.get("hostname"), host))
    devs = [d.get("name") for d in (r.get("rdma_devices") or {}).get("devices", [])]
    if "rxe0" not in devs:
        problems.append("rank %d envelope lists RDMA devices %r, no rxe0" % (rank, devs))
if len(doc["cases"]) != 2:
    problems.append("%d cases, expected 2" % len(doc["cases"]))
for p in problems:
    print("FAIL:", p)
print("ok: %d cases, ranks on fabric-g0 and fabric-g1, rxe0 in both envelopes" % len(doc["cases"])
      if not problems else "")
sys.exit(1 if problems else 0)
EOF
