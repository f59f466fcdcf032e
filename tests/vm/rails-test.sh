#!/usr/bin/env bash
# Multi-rail on the real Soft-RoCE fabric (tests/vm/vm-rails.yaml): two guests with two links
# each (ci/vm/fabric.sh --nics 2: rxe0 on eth0, rxe1 on eth1), every link shaped inside the
# guests with tc tbf to RATE_MBIT. The same RDMA write stream on one rail, then striped across
# both (verbs.devices). Passes when every case ran with its data verified, the two-rail stream's
# median bandwidth is at least 1.8x the one-rail stream's, and every two-rail repetition carries
# both rails' figures (each rail some of the bytes, the rails' figures adding up to the total);
# and a shift case (a flow each way at once, each in its own slice of the buffers) striped across
# both rails completes with its data verified and both flows measured.
# Usage: tests/vm/rails-test.sh FABRICBENCH_BINARY BUILD_DIR. Exit 77: no VM here.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ $# -eq 2 ] || {
  echo "usage: $0 FABRICBENCH_BINARY BUILD_DIR" >&2
  exit 2
}
rate_mbit=16
shape=""
for dev in eth0 eth1; do
  shape+="${shape:+ && }tc qdisc add dev $dev root tbf rate ${rate_mbit}mbit burst 16kb limit 2mb"
done
# shellcheck disable=SC2034 # read by run_checked
run_experiment_opts=(--nics 2 --before "$shape")
# shellcheck source=tests/vm/run-checked.sh
source "$repo/tests/vm/run-checked.sh"
run_checked "$1" "$2" "$repo/tests/vm/vm-rails.yaml" 400
python3 - "$out/run/run.json" "$rate_mbit" <<'PY' || exit 1
import json, sys
doc = json.load(open(sys.argv[1]))
rate_gbps = float(sys.argv[2]) / 1000
problems = []
if doc["run"]["status"] != "complete":
    problems.append("run status is %r" % doc["run"]["status"])
cases = {c["id"].split("/")[0]: c for c in doc["cases"]}
bw = {}
for name in ("one_rail", "two_rails"):
    case = next((c for c in doc["cases"] if c["id"].startswith(name)), None)
    if case is None:
        problems.append("%s: did not run" % name)
        continue
    if case["status"] != "ok":
        problems.append("%s: status %s %s" % (name, case["status"], case.get("errors")))
        continue
    bw[name] = case["summary"]["bw_gbps_median"]
    print("%-10s %.4f Gb/s (median of %d), each rail shaped to %.3f Gb/s"
          % (name, bw[name], len(case["repetitions"]), rate_gbps))
    for rep in case["repetitions"]:
        rails = rep.get("rails")
        if name == "one_rail":
            if rails is not None:
                problems.append("one_rail rep %d: rails %r on a single device" % (rep["index"], rails))
            continue
        if not rails or [r["rail"] for r in rails] != ["rxe0", "rxe1"]:
            problems.append("two_rails rep %d: rails %r, expected rxe0 and rxe1" % (rep["index"], rails))
            continue
        total = sum(r["bw_gbps"] for r in rails)
        for r in rails:
            print("  rep %d %s: %.4f Gb/s, %.0f%% of %d bytes, %d requests"
                  % (rep["index"], r["rail"], r["bw_gbps"], 100 * r["share"],
                     sum(x["bytes"] for x in rails), r["requests"]))
            if not (0.3 <= r["share"] <= 0.7 and r["bytes"] > 0):
                problems.append("two_rails rep %d: rail %s carried %.0f%% of the bytes"
                                % (rep["index"], r["rail"], 100 * r["share"]))
            if r["bw_gbps"] > rate_gbps * 1.1:
                problems.append("two_rails rep %d: rail %s at %.4f Gb/s is above its shaped rate"
                                % (rep["index"], r["rail"], r["bw_gbps"]))
        if abs(total - rep["bw_gbps"]) > 1e-6 * max(1.0, rep["bw_gbps"]):
            problems.append("two_rails rep %d: rails add up to %.6f, the repetition is %.6f"
                            % (rep["index"], total, rep["bw_gbps"]))
shift = next((c for c in doc["cases"] if c["id"].startswith("shift_two_rails")), None)
if shift is None or shift["status"] != "ok":
    problems.append("shift_two_rails: %s" % (shift and (shift["status"], shift.get("errors"))))
else:
    flows = [f for step in shift["summary"]["map"]["steps"] for f in step["flows"]]
    print("shift_two_rails flows: %s" % flows)
    if len(flows) != 2 or not all(f[2] and f[2] > 0 for f in flows):
        problems.append("shift_two_rails: flows %r, expected two measured flows" % flows)
if "one_rail" in bw and "two_rails" in bw:
    ratio = bw["two_rails"] / bw["one_rail"]
    print("two rails / one rail = %.2fx" % ratio)
    if ratio < 1.8:
        problems.append("two rails gave %.2fx one rail's bandwidth, expected at least 1.8x" % ratio)
for p in problems:
    print("FAIL:", p)
sys.exit(1 if problems else 0)
PY
