#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for a bounded time (issue 14) and fails on the first
# crash, leak, timeout or out-of-memory, printing the input that caused it. Needs a build with
# FABRICBENCH_FUZZ (the asan preset: clang, ASan+UBSan, libFuzzer).
#
# Usage: ci/fuzz.sh [BUILD_DIR] [SECONDS_PER_TARGET] [JOBS]
#   defaults: build/asan, 60, nproc. ci/test.sh runs it with the defaults; a longer run is the
#   same command with more seconds (docs/RELIABILITY.md records the hours run so far).
# Seeds: configs/**/*.yaml for the loader; a small run written by fabricbench itself for the
# run-document reader and the diff; a few unit texts and frames written here. (The regression
# inputs of tests/fuzz/regressions/ are replayed by ctest, not used as seeds: some are bombs that
# take seconds each under ASan, on purpose.) New inputs the fuzzer finds go to a scratch corpus
# that is removed afterwards.
# A crash leaves its input in $FUZZ_ARTIFACTS (default: a directory printed at the end): fix the
# bug, then add the input to tests/fuzz/regressions/<target>/ so ctest replays it in every build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/asan}
seconds=${2:-60}
jobs=${3:-$(nproc)}
targets=(fuzz_experiment fuzz_units fuzz_run_document fuzz_diff fuzz_wire)

for t in "${targets[@]}"; do
  if [ ! -x "${build}/tests/fuzz/${t}" ]; then
    echo "fuzz.sh: ${build}/tests/fuzz/${t} not found: build the asan preset first" >&2
    exit 2
  fi
done
help=$("${build}/tests/fuzz/fuzz_units" -help=1 2>&1 || true)
if [[ "${help}" != *max_total_time* ]]; then
  echo "fuzz.sh: ${build} was not built with FABRICBENCH_FUZZ (libFuzzer)" >&2
  exit 2
fi

work=$(mktemp -d /tmp/fabricbench-fuzz-XXXXXX)
artifacts=${FUZZ_ARTIFACTS:-${work}/artifacts}
keep=0
cleanup() {
  if [ "${keep}" -eq 0 ]; then rm -rf "${work}"; else rm -rf "${work}/corpus" "${work}/seeds"; fi
}
trap cleanup EXIT
mkdir -p "${artifacts}" "${work}/logs"

# ---- seeds -----------------------------------------------------------------------------------
seeds=${work}/seeds
mkdir -p "${seeds}"/{fuzz_experiment,fuzz_units,fuzz_run_document,fuzz_diff,fuzz_wire}
find configs -name '*.yaml' -exec cp --backup=numbered -t "${seeds}/fuzz_experiment" {} +

cat > "${work}/tiny.yaml" <<'YAML'
fabricbench: 1
name: fuzz-seed
ranks: 2
launcher: local
defaults: {transport: tcp, repetitions: 3, iterations: 200, warmup: 10, interval: 10ms}
cases:
  - {name: lat, suite: pingpong, sizes: [8, 4KiB]}
  - {name: bw, suite: stream, sizes: [64KiB], iterations: 50}
YAML
if "${build}/fabricbench" run "${work}/tiny.yaml" -o "${work}/run" >"${work}/logs/seed-run.log" 2>&1; then
  cp "${work}/run/run.json" "${seeds}/fuzz_run_document/run.json"
  cp "${work}/run/run.json" "${seeds}/fuzz_diff/run.json"
  { cat "${work}/run/run.json"; printf '\0'; cat "${work}/run/run.json"; } > "${seeds}/fuzz_diff/pair.json"
else
  echo "fuzz.sh: the seed run failed (the reader targets start from their regressions only):"
  tail -5 "${work}/logs/seed-run.log"
fi

i=0
for pair in "0 64KiB" "0 1.5MB" "1 8..4MiB x2" "1 1KiB..8KiB +1KiB" "2 1.5s" "2 250us" \
            "3 200k/s" "3 5Gb/s" "3 70%"; do
  printf "\\$(printf '%03o' "${pair%% *}")%s" "${pair#* }" > "${seeds}/fuzz_units/seed$((i++))"
done
# A challenge frame (magic, type 1, payload length 4+8+32) and an abort frame.
printf 'FBSC\001\000\000\000\000\000\000\000\054\000\000\000\001\000\000\000\000\000\000\000\040%032d' 0 \
  > "${seeds}/fuzz_wire/challenge"
printf 'FBSC\010\000\000\000\000\000\000\000\016\003\000\000\000\000\000\000\000\005boom!' \
  > "${seeds}/fuzz_wire/abort"

# ---- run -------------------------------------------------------------------------------------
run_target() {
  local t=$1
  local corpus=${work}/corpus/${t}
  mkdir -p "${corpus}"
  # -timeout: one input taking longer is a hang (an alias bomb stopped at the node limit takes
  # about 15 s unoptimised under ASan); -rss_limit_mb: a bounded allocation is the rule.
  "${build}/tests/fuzz/${t}" -max_total_time="${seconds}" -timeout=60 -rss_limit_mb=2560 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="${artifacts}/${t}-" \
    "${corpus}" "${seeds}/${t}" > "${work}/logs/${t}.log" 2>&1
}
export -f run_target
export work build seconds artifacts seeds

status=0
failed=()
printf '%s\n' "${targets[@]}" |
  xargs -P "${jobs}" -I{} bash -c 'run_target {} || touch "${work}/logs/{}.failed"' || true
keep=1  # until the verdict: the logs stay if anything below fails
for t in "${targets[@]}"; do
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "${work}/logs/${t}.log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "${work}/logs/${t}.log" | tail -1 | grep -o '[0-9]*' || echo "?")
  if [ -e "${work}/logs/${t}.failed" ]; then
    status=1
    failed+=("${t}")
    echo "== fuzz ${t}: FAILED after ${execs} inputs"
    grep -E 'ERROR|SUMMARY|Test unit written|deadly signal|timeout|out-of-memory' \
      "${work}/logs/${t}.log" | head -20 || true
  else
    echo "== fuzz ${t}: ${execs} inputs in ${seconds} s, ${cov} coverage points, no crash"
  fi
done
keep=0
if [ "${status}" -ne 0 ]; then
  keep=1
  echo "fuzz.sh: ${failed[*]} failed; inputs in ${artifacts}, logs in ${work}/logs"
  echo "fuzz.sh: fix, then add each input to tests/fuzz/regressions/<target>/"
fi
exit "${status}"
