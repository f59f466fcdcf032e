#!/usr/bin/env bash
# The dma-buf registration path on the real Soft-RoCE fabric, without a GPU
# (tests/vm/vm-dmabuf.yaml): the guests' vgem driver exports host memory as a dma-buf; verbs
# registers it with ibv_reg_dmabuf_mr, which rxe refuses, and the case must be skipped on both
# ranks with the clear reason (device, memory, the call and errno, what to use instead). The
# same memory over TCP must run with every message verified, its provider recorded as vgem.
# Usage: tests/vm/dmabuf-test.sh FABRICBENCH_BINARY BUILD_DIR. Exit 77: no VM here.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ $# -eq 2 ] || {
  echo "usage: $0 FABRICBENCH_BINARY BUILD_DIR" >&2
  exit 2
}
# shellcheck source=tests/vm/run-checked.sh
source "$repo/tests/vm/run-checked.sh"
run_checked "$1" "$2" "$repo/tests/vm/vm-dmabuf.yaml" 400
python3 - "$out/run/run.json" <<'PY' || exit 1
import json, re, sys
doc = json.load(open(sys.argv[1]))
problems = []
refusal = re.compile(r"^rank [01]: verbs: rxe0 cannot register dma-buf host memory: the provider "
                     r"has no dma-buf support \(ibv_reg_dmabuf_mr: .+, E[A-Z]+\); "
                     r"use memory: host$")
cases = {c["id"]: c for c in doc["cases"]}
rdma = [c for c in doc["cases"] if c["transport"] == "verbs"]
sockets = [c for c in doc["cases"] if c["transport"] == "tcp"]
if len(rdma) != 2 or len(sockets) != 1:
    problems.append("expected 2 verbs cases and 1 tcp case, got %s" % sorted(cases))
for c in rdma:
    if c["status"] != "skipped" or not refusal.match(c.get("skip_reason", "")):
        problems.append("%s: expected rxe's dma-buf refusal, got %s: %r"
                        % (c["id"], c["status"], c.get("skip_reason") or c.get("errors")))
    else:
        print("%-40s skipped: %s" % (c["id"], c["skip_reason"]))
for c in sockets:
    if c["status"] != "ok":
        problems.append("%s: %s %r" % (c["id"], c["status"], c.get("skip_reason") or c.get("errors")))
        continue
    for rank, m in enumerate(c.get("memory") or []):
        if m.get("provider") != "dmabuf" or m.get("allocator") != "vgem" or m.get("staging") is not None:
            problems.append("%s rank %d: memory %r" % (c["id"], rank, m))
    if len(c.get("memory") or []) != 2:
        problems.append("%s: memory facts of %d ranks" % (c["id"], len(c.get("memory") or [])))
    rep = c["repetitions"][0]
    if rep["ops"] != 199 or not rep.get("bw_gbps", 0) > 0:
        problems.append("%s: ops %d, bandwidth %r" % (c["id"], rep["ops"], rep.get("bw_gbps")))
    else:
        print("%-40s ok: %.4f Gb/s on vgem dma-buf memory, verified" % (c["id"], rep["bw_gbps"]))
for p in problems:
    print("FAIL:", p)
sys.exit(1 if problems else 0)
PY
