#!/usr/bin/env bash
# Nightly regression check (docs/HISTORY.md "Nightly"): runs EXPERIMENT with the release binary,
# compares the run against BASELINE (a `fabricbench baseline` file, or a run document), and
# leaves in OUTDIR:
#   run/             the run directory (run.json, journal.jsonl)     run.log  its console output
#   diff.txt         the diff as a table      diff.xml  JUnit      diff.md  Markdown
#   fabricbench.prom the OpenMetrics exposition (also copied, atomically, into
#                    $NODE_EXPORTER_TEXTFILE_DIR when set)
#   report.html      the HTML report, when this fabricbench has `report`  (report.md beside it)
#   summary.txt      what each step returned
# and adds the run to the history database ($FABRICBENCH_HISTORY_DB, default
# ./fabricbench-history.sqlite).
#
# Usage: ci/nightly/nightly.sh EXPERIMENT BASELINE OUTDIR [-- RUN_ARGS...]
#   RUN_ARGS go to `fabricbench run`, e.g. -- --set defaults.repetitions=9
# Environment: FABRICBENCH (binary; default build/release/fabricbench of this checkout),
#   FABRICBENCH_HISTORY_DB, FABRICBENCH_DIFF_ARGS (extra `diff` options, word-split, e.g.
#   "--thresholds ci/thresholds.yaml --alpha 0.01"), NODE_EXPORTER_TEXTFILE_DIR.
#
# Exit status: the diff's (0 no regression, 3 regression, 2 BASELINE unusable or other hardware);
# when the diff is 0 but the run itself failed, the run's (1). 2 also for bad arguments or an
# OUTDIR that already holds a run. openmetrics, history and report failures are warnings (in
# summary.txt and on stderr): they do not change the status.
set -uo pipefail

usage() {
  echo "usage: $0 EXPERIMENT BASELINE OUTDIR [-- RUN_ARGS...]" >&2
  exit 2
}
[ $# -ge 3 ] || usage
experiment=$1
baseline=$2
outdir=$3
shift 3
if [ $# -gt 0 ]; then
  [ "$1" = "--" ] || usage
  shift
fi
run_args=("$@")

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fb=${FABRICBENCH:-$repo/build/release/fabricbench}
db=${FABRICBENCH_HISTORY_DB:-fabricbench-history.sqlite}
diff_args=()
read -r -a diff_args <<<"${FABRICBENCH_DIFF_ARGS:-}"

say() { echo "nightly: $*"; }
warn() { echo "nightly: warning: $*" >&2; }

[ -x "$fb" ] || { echo "nightly: $fb is not an executable (cmake --build --preset release, or set FABRICBENCH)" >&2; exit 2; }
[ -f "$experiment" ] || { echo "nightly: experiment $experiment not found" >&2; exit 2; }
[ -e "$baseline" ] || { echo "nightly: baseline $baseline not found" >&2; exit 2; }
mkdir -p "$outdir" || exit 2
rundir=$outdir/run
[ -e "$rundir" ] && { echo "nightly: $rundir already exists: give each night its own OUTDIR" >&2; exit 2; }
summary=$outdir/summary.txt
rm -f "$outdir"/diff.xml "$outdir"/diff.md "$outdir"/diff.txt "$outdir"/fabricbench.prom \
  "$outdir"/report.html "$outdir"/report.md
: >"$summary"
record() { echo "$1: $2" >>"$summary"; }
warnings=0

say "run $experiment -> $rundir"
"$fb" run "$experiment" -o "$rundir" "${run_args[@]}" 2>&1 | tee "$outdir/run.log"
run_rc=${PIPESTATUS[0]}
record run "$run_rc"
if [ ! -f "$rundir/run.json" ]; then
  echo "nightly: the run wrote no run document (exit $run_rc); nothing to compare" >&2
  [ "$run_rc" -ne 0 ] && exit "$run_rc"
  exit 1
fi

say "diff $baseline $rundir"
"$fb" diff "$baseline" "$rundir" --format junit -o "$outdir/diff.xml" "${diff_args[@]}"
diff_rc=$?
record diff "$diff_rc"
if [ -f "$outdir/diff.xml" ]; then
  "$fb" diff "$baseline" "$rundir" --format markdown -o "$outdir/diff.md" "${diff_args[@]}" >/dev/null
  "$fb" diff "$baseline" "$rundir" "${diff_args[@]}" >"$outdir/diff.txt"
  cat "$outdir/diff.txt"
fi

if "$fb" openmetrics "$rundir" -o "$outdir/fabricbench.prom"; then
  record openmetrics 0
  if [ -n "${NODE_EXPORTER_TEXTFILE_DIR:-}" ]; then
    if "$fb" openmetrics "$rundir" -o "$NODE_EXPORTER_TEXTFILE_DIR/fabricbench.prom"; then
      record textfile 0
    else
      record textfile failed; warn "openmetrics into $NODE_EXPORTER_TEXTFILE_DIR failed"; warnings=$((warnings + 1))
    fi
  fi
else
  record openmetrics failed; warn "openmetrics failed"; warnings=$((warnings + 1))
fi

if "$fb" history add "$rundir" --db "$db"; then
  record history 0
else
  record history failed; warn "history add to $db failed"; warnings=$((warnings + 1))
fi

# `fabricbench report` is newer than this script: use it only where the binary has it.
if "$fb" report --help >/dev/null 2>&1; then
  if "$fb" report "$rundir" -o "$outdir/report.html" --markdown "$outdir/report.md"; then
    record report 0
  else
    record report failed; warn "report failed"; warnings=$((warnings + 1))
  fi
else
  record report "not available in this fabricbench"
fi

status=$diff_rc
if [ "$status" -eq 0 ] && [ "$run_rc" -ne 0 ]; then status=$run_rc; fi
record exit "$status"
say "run exit $run_rc, diff exit $diff_rc, $warnings warning(s); exit $status (summary in $summary)"
exit "$status"
