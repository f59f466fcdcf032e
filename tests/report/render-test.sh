#!/usr/bin/env bash
# report_render: renders `fabricbench report` output in headless Chromium.
#   render-test.sh FABRICBENCH REPORT_FIXTURE SOURCE_DIR
# 1. a real short run (configs/ci-smoke.yaml) and the synthetic document of the report tests
#    (a fault, regimes, interval series: tests/report/synthetic.cpp) -> report.html + summary.md;
# 2. Chromium takes a 1200x2000 screenshot and dumps the DOM, logging the page's console to
#    stderr; any console message (there is no script: an "Uncaught" error or a failed resource
#    load is a bug) fails the test;
# 3. the screenshot must decode and not be blank (tests/report/png_stats.py, zlib only), and the
#    DOM must hold the plots.
# Exit 77 (ctest: skipped) where chromium or python3 is missing (ci/install-deps.sh installs
# both). Every step is bounded with timeout.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 FABRICBENCH REPORT_FIXTURE SOURCE_DIR" >&2
  exit 2
fi
fb=$1
fixture=$2
src=$3
here=$(cd "$(dirname "$0")" && pwd)

chrome=${FABRICBENCH_CHROMIUM:-}
if [ -z "$chrome" ]; then
  for c in chromium chromium-browser google-chrome-stable google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then
      chrome=$c
      break
    fi
  done
fi
if [ -z "$chrome" ]; then
  echo "SKIP: no chromium (apt-get install chromium; ci/install-deps.sh)"
  exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIP: no python3"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fabricbench-report-render.XXXXXX")
keep=${FABRICBENCH_KEEP_RENDER:-}
cleanup() {
  if [ -n "$keep" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Headless Chromium with a private profile, nothing from the network.
chromium_run() {
  timeout -k 5 120 "$chrome" --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
    --no-first-run --no-default-browser-check --disable-extensions --disable-sync \
    --disable-background-networking --user-data-dir="$work/profile" \
    --enable-logging=stderr --v=0 "$@"
}

# Console messages of the page: Chromium logs them as "...:CONSOLE:<line>] "text", source: ...".
console_lines() {
  grep -E ':CONSOLE[:(]|Uncaught' "$1" || true
}

echo "== self-check: a page with a console error is caught"
cat >"$work/bad.html" <<'EOF'
<!DOCTYPE html><html><body><p>x</p><script>undefined_function_for_the_test();</script></body></html>
EOF
chromium_run --dump-dom "file://$work/bad.html" >"$work/bad.dom" 2>"$work/bad.log" ||
  fail "chromium could not load a local page (see $work/bad.log)"
if ! console_lines "$work/bad.log" | grep -q 'Uncaught'; then
  sed -n '1,40p' "$work/bad.log" >&2
  fail "the console check does not see an uncaught error with this chromium ($chrome)"
fi

echo "== a real run: configs/ci-smoke.yaml"
if ! timeout -k 5 180 "$fb" run "$src/configs/ci-smoke.yaml" -o "$work/smoke" >"$work/run.log" 2>&1; then
  tail -n 30 "$work/run.log" >&2
  fail "fabricbench run configs/ci-smoke.yaml"
fi
echo "== the synthetic document (fault, regimes, interval series)"
timeout -k 5 30 "$fixture" "$work/synthetic" || fail "report_fixture"

echo "== fabricbench report"
timeout -k 5 60 "$fb" report "$work/smoke" "$work/synthetic" -o "$work/report.html" \
  --markdown "$work/summary.md" || fail "fabricbench report exited $?"
[ -s "$work/report.html" ] || fail "no report.html"
grep -q '^| case | suite | transport' "$work/summary.md" || fail "summary.md has no table"
if grep -Eqi 'https?://' "$work/report.html"; then
  grep -Eoi '.{40}https?://.{40}' "$work/report.html" | head -5 >&2
  fail "report.html refers to an external resource"
fi

echo "== chromium: screenshot"
chromium_run --screenshot="$work/shot.png" --window-size=1200,2000 "file://$work/report.html" \
  >"$work/shot.out" 2>"$work/shot.log" || fail "chromium --screenshot exited $?"
echo "== chromium: DOM"
chromium_run --dump-dom "file://$work/report.html" >"$work/dom.html" 2>"$work/dom.log" ||
  fail "chromium --dump-dom exited $?"

for log in "$work/shot.log" "$work/dom.log"; do
  lines=$(console_lines "$log")
  if [ -n "$lines" ]; then
    echo "$lines" >&2
    fail "console messages while rendering the report ($(basename "$log"))"
  fi
done

[ -s "$work/shot.png" ] || fail "no screenshot"
stats=$(timeout -k 5 120 python3 "$here/png_stats.py" "$work/shot.png") || fail "cannot decode the screenshot"
read -r width height nonwhite colors <<<"$stats"
echo "screenshot: ${width}x${height}, $nonwhite non-white pixels, $colors distinct colors"
[ "$width" -eq 1200 ] && [ "$height" -eq 2000 ] || fail "screenshot is ${width}x${height}, not 1200x2000"
# Text and tables on the first screen alone cover far more than 1% of it.
[ "$nonwhite" -ge 24000 ] || fail "screenshot looks blank: $nonwhite non-white pixels"
[ "$colors" -ge 16 ] || fail "screenshot has only $colors colors"

# The DOM as Chromium parsed it holds every kind of plot.
svgs=$(grep -o '<svg id="plot-' "$work/dom.html" | wc -l)
echo "DOM: $svgs plots"
for id in plot-bw-size plot-lat-size plot-cdf- plot-intervals-tput- plot-intervals-lat- \
  plot-recovery- plot-load- plot-regime-rate- plot-regime-lat-; do
  grep -q "<svg id=\"$id" "$work/dom.html" || fail "no $id plot in the DOM"
done
grep -q 'class="band fault-window"' "$work/dom.html" || fail "no fault window in the DOM"
grep -q 'latency.pingpong.tcp.8B' "$work/dom.html" || fail "the real run's cases are missing"
[ "$svgs" -ge 20 ] || fail "only $svgs plots in the DOM"
echo "PASS: report rendered ($svgs plots, $nonwhite non-white pixels of $((width * height)))"
