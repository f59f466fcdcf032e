#!/usr/bin/env bash
# The three regimes (floor, realistic at 70% of the sustainable rate, overload at 3 x 50%) and
# the sustainable-rate search, from one experiment file (configs/regimes.yaml), over TCP and over
# verbs (rxe0) between the two Soft-RoCE guests. Checks that every case ran on both transports
# (none skipped), that each regime produced its figures, that realistic offered 70% of the
# sustainable rate its search found, that overload offered 3x its baseline during the step, and
# that the document validates against the schema. Figures are printed, not judged: the guests
# are emulated, so absolute rates mean little.
# Usage: tests/vm/regimes-experiment-test.sh FABRICBENCH_BINARY BUILD_DIR. Exit 77: no VM here.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ $# -eq 2 ] || {
  echo "usage: $0 FABRICBENCH_BINARY BUILD_DIR" >&2
  exit 2
}
# shellcheck source=tests/vm/run-checked.sh
source "$repo/tests/vm/run-checked.sh"
# The emulated guests are slow and jittery (their TCP round trip alone is about 1 ms, with
# occasional stalls of tens of ms): a 50 ms queue-age bound and deadline fit them.
run_checked "$1" "$2" "$repo/configs/regimes.yaml" 600 \
  --set defaults.regime.search_queue_age=50ms --set defaults.regime.deadline=100ms
python3 - "$out/run/run.json" <<'PY' || exit 1
import json, sys
doc = json.load(open(sys.argv[1]))
problems = []
if doc["run"]["status"] != "complete":
    problems.append("run status is %r" % doc["run"]["status"])
seen = set()
for case in doc["cases"]:
    cid = case["id"]
    if case["status"] != "ok":
        problems.append("%s: status %s %s" % (cid, case["status"],
                                               case.get("skip_reason") or case.get("errors")))
        continue
    for rep in case["repetitions"]:
        r = rep.get("regime")
        if not r:
            problems.append("%s: no regime figures" % cid)
            continue
        kind = r["kind"]
        seen.add((case["transport"], kind))
        h = r["headline"]
        if kind in ("floor", "realistic", "overload"):
            ph = r["phase"]
            if not ph or ph["completed_ops"] <= 0 or not ph["latency"]["p50_ns"]:
                problems.append("%s: nothing confirmed" % cid)
                continue
        if kind == "floor":
            line = "p50 %.1f us, p99 %.1f us" % (h["lat_p50_ns"] / 1e3, h["lat_p99_ns"] / 1e3)
        elif kind == "realistic":
            frac = r["rate"]["fraction_of_sustainable"]
            if frac is None or abs(frac - 0.7) > 1e-6:
                problems.append("%s: offered %r of the sustainable rate, expected 0.7" % (cid, frac))
            line = "offered %.0f/s, goodput %.0f/s, p99 %.1f us, queue-age p99 %.1f us" % (
                h["offered_ops_per_s"], h["goodput_ops_per_s"], h["lat_p99_ns"] / 1e3,
                h["queue_age_p99_ns"] / 1e3)
        elif kind == "overload":
            o = r["overload"]
            base = r["rate"]["ops_per_s"]
            if abs(o["offered_during_ops_per_s"] - 3 * base) > 0.15 * 3 * base + 20:
                problems.append("%s: offered %.0f/s during the step, expected 3 x %.0f" % (
                    cid, o["offered_during_ops_per_s"], base))
            line = "baseline %.0f/s, peak backlog %d, goodput during %.0f/s, drain %s" % (
                base, o["peak_backlog_ops"], o["goodput_during_ops_per_s"],
                "%.0f ms" % (o["drain_ns"] / 1e6) if o["drain_ns"] is not None else "none")
        else:
            s = r["search"]
            if not s or s["sustainable_rate_ops_per_s"] <= 0 or len(s["probes"]) < 2:
                problems.append("%s: search found nothing (%r)" % (cid, s))
                continue
            line = "sustainable %.0f/s (%.4f Gb/s) after %d probes" % (
                s["sustainable_rate_ops_per_s"], s["sustainable_rate_gbps"], len(s["probes"]))
        print("%-52s %s" % (cid, line))
for t in ("tcp", "verbs"):
    for k in ("floor", "realistic", "overload", "search"):
        if (t, k) not in seen:
            problems.append("regime %s did not run over %s" % (k, t))
for p in problems:
    print("FAIL:", p)
if not problems:
    print("ok: floor, realistic, overload and search over tcp and verbs between two guests")
sys.exit(1 if problems else 0)
PY
