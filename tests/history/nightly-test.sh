#!/usr/bin/env bash
# End to end: ci/nightly/nightly.sh on configs/ci-smoke.yaml (4 repetitions a case): a baseline
# of two runs, a nightly run against it (every output present, the run in the history), and a
# nightly run against a baseline of other hardware (exit 2, the run still in the history).
# Usage: tests/history/nightly-test.sh path/to/fabricbench SOURCE_DIR
set -euo pipefail
fb=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/fabricbench-nightly-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "nightly-test: FAIL: $*" >&2; exit 1; }
config=$src/configs/ci-smoke.yaml
sets=(--set defaults.repetitions=4)
export FABRICBENCH=$fb FABRICBENCH_HISTORY_DB=$work/history.sqlite

"$fb" run "$config" -o "$work/b1" "${sets[@]}" >/dev/null
"$fb" run "$config" -o "$work/b2" "${sets[@]}" >/dev/null
"$fb" baseline "$work/b1" "$work/b2" -o "$work/baseline.json"

rc=0
"$src/ci/nightly/nightly.sh" "$config" "$work/baseline.json" "$work/night1" -- "${sets[@]}" || rc=$?
# Loopback TCP is noisy: a regression (3) is a valid outcome; anything else is not.
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || fail "nightly exit $rc"
for f in run/run.json run.log diff.txt diff.xml diff.md fabricbench.prom summary.txt; do
  [ -s "$work/night1/$f" ] || fail "night1/$f missing"
done
grep -q '<testsuites' "$work/night1/diff.xml" || fail "diff.xml is not JUnit"
[ "$(tail -n 1 "$work/night1/fabricbench.prom")" = "# EOF" ] || fail "fabricbench.prom lacks # EOF"
grep -q '^fabricbench_latency_p50_seconds{case="latency.pingpong.tcp.8B"' \
  "$work/night1/fabricbench.prom" || fail "no latency in fabricbench.prom"
grep -q "^exit: $rc\$" "$work/night1/summary.txt" || fail "summary.txt: $(cat "$work/night1/summary.txt")"
if "$fb" report --help >/dev/null 2>&1; then
  [ -s "$work/night1/report.html" ] || fail "report.html missing though fabricbench has report"
fi
"$fb" history list --db "$FABRICBENCH_HISTORY_DB" | grep -q "1 run(s)" || fail "history holds not 1 run"
# OUTDIR already holding a run: refused.
rc=0
"$src/ci/nightly/nightly.sh" "$config" "$work/baseline.json" "$work/night1" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "reused OUTDIR: exit $rc, expected 2"

# A baseline of another CPU: the diff refuses (2), the night is still recorded.
python3 - "$work/baseline.json" "$work/other.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
for h in b["hardware"]["hosts"]:
    h["cpu"]["model"] = "Imaginary CPU 9000"
json.dump(b, open(sys.argv[2], "w"))
PY
rc=0
"$src/ci/nightly/nightly.sh" "$config" "$work/other.json" "$work/night2" -- "${sets[@]}" \
  >"$work/night2.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "other hardware: exit $rc, expected 2"
grep -q "other hardware than the baseline" "$work/night2.log" || fail "no hardware reason in the log"
grep -q '^diff: 2$' "$work/night2/summary.txt" || fail "summary.txt: $(cat "$work/night2/summary.txt")"
"$fb" history list --db "$FABRICBENCH_HISTORY_DB" | grep -q "2 run(s)" || fail "history holds not 2 runs"
"$fb" history show lat_p50_ns --case latency.pingpong.tcp.8B --db "$FABRICBENCH_HISTORY_DB" \
  | grep -q "2 run(s)" || fail "history show"
echo "nightly-test: ok"
