#!/usr/bin/env bash
# The verbs experiment on the real Soft-RoCE fabric (configs/vm-verbs.yaml, two guests, rxe0):
# every case ran (none skipped: the verbs transport is really exercised), every repetition
# counted all its operations with non-zero latency or bandwidth, the receiver verified the
# data pattern of every message (verify: true; a mismatch fails the case), and the document
# validates against the schema.
# Usage: tests/vm/verbs-experiment-test.sh FABRICBENCH_BINARY BUILD_DIR. Exit 77: no VM here.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ $# -eq 2 ] || {
  echo "usage: $0 FABRICBENCH_BINARY BUILD_DIR" >&2
  exit 2
}
# shellcheck source=tests/vm/run-checked.sh
source "$repo/tests/vm/run-checked.sh"
run_checked "$1" "$2" "$repo/configs/vm-verbs.yaml" 500
python3 - "$out/run/run.json" <<'PY' || exit 1
import json, sys
doc = json.load(open(sys.argv[1]))
problems = []
if doc["run"]["status"] != "complete":
    problems.append("run status is %r" % doc["run"]["status"])
plan = doc["config"]["resolved"]["cases"]
if len(doc["cases"]) != len(plan):
    problems.append("%d cases ran, %d planned" % (len(doc["cases"]), len(plan)))
for case, p in zip(doc["cases"], plan):
    cid = case["id"]
    if case["status"] != "ok":
        problems.append("%s: status %s %s" % (cid, case["status"],
                                               case.get("skip_reason") or case.get("errors")))
        continue
    if not p.get("verify"):
        problems.append("%s: ran without data verification" % cid)
    for rep in case["repetitions"]:
        if rep["ops"] != p["iterations"] - (1 if case["suite"] == "stream" and p["op"] in ("send", "write_imm") else 0):
            problems.append("%s rep %d: %d ops, expected %d" % (cid, rep["index"], rep["ops"], p["iterations"]))
        if case["suite"] == "stream":
            if not rep.get("bw_gbps", 0) > 0:
                problems.append("%s rep %d: bandwidth %r" % (cid, rep["index"], rep.get("bw_gbps")))
        elif not rep["latency"]["lat_p50_ns"] or rep["latency"]["lat_p50_ns"] <= 0:
            problems.append("%s rep %d: latency %r" % (cid, rep["index"], rep["latency"]["lat_p50_ns"]))
    print("%-34s %s" % (cid, ("p50 %.1f us" % (case["summary"]["lat_p50_ns"] / 1e3)) if case["suite"] == "pingpong"
                              else ("%.4f Gb/s" % case["summary"]["bw_gbps_median"])))
for r in doc["envelope"]["ranks"]:
    devs = [d.get("name") for d in (r.get("rdma_devices") or {}).get("devices", [])]
    if "rxe0" not in devs:
        problems.append("rank %d: no rxe0 in its envelope (%r)" % (r["rank"], devs))
for p in problems:
    print("FAIL:", p)
if not problems:
    print("ok: %d verbs cases on rxe0 between two guests, data verified" % len(doc["cases"]))
sys.exit(1 if problems else 0)
PY
