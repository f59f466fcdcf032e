#!/usr/bin/env bash
# Builds fabricbench three times and runs the tests with ctest:
# - release (gcc, -Werror): every test;
# - asan (clang, ASan+UBSan, libFuzzer instrumentation): every test but the vm, netns and
#   asan_skip labels, then each fuzz target for FUZZ_SECONDS (default 30; ci/fuzz.sh);
# - tsan (clang, ThreadSanitizer): only the multithreaded parts, the tests labelled tsan
#   (side channel, engine, open loop through the binary, tcp transport, fault watchdog).
# Also checks formatting and runs clang-tidy (ci/clang-tidy.sh; the include layering is the ctest
# test `layering`). This is the README's test command and what CI (.ci/run) runs; its whole run
# must stay within 45 minutes on 2 cores (docs/RELIABILITY.md has the times). The asan and tsan
# presets precompile the common headers (cmake/Pch.cmake). Each phase's header shows the seconds
# since the start, so a CI log tells where the time went.
set -euo pipefail
cd "$(dirname "$0")/.."
started=${SECONDS}
phase() { echo "== [$((SECONDS - started)) s] $*"; }

ci/install-deps.sh

phase "format check (clang-format, .clang-format)"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' 2>/dev/null || true)
if [ ${#sources[@]} -gt 0 ]; then
  clang-format --dry-run --Werror "${sources[@]}"
fi

jobs=$(nproc)
lint_status=0
for preset in release asan; do
  phase "configure, build and test: preset ${preset}"
  cmake --preset "${preset}" >/dev/null
  cmake --build --preset "${preset}" -j "${jobs}"
  if [ "${preset}" = release ]; then
    # On the release build's compile_commands.json. A finding fails the run, after the tests
    # have run too, so one CI run reports both.
    phase "clang-tidy (.clang-tidy, ci/clang-tidy.sh)"
    ci/clang-tidy.sh build/release || lint_status=$?
  fi
  phase "tests: preset ${preset}"
  ctest --preset "${preset}" -j "${jobs}"
  if [ "${preset}" = asan ]; then
    phase "fuzz (ci/fuzz.sh, ${FUZZ_SECONDS:-30} s per target)"
    ci/fuzz.sh build/asan "${FUZZ_SECONDS:-30}" "${jobs}"
  fi
done

# ThreadSanitizer over the targets whose tests carry the label tsan (and the binary they run).
phase "configure, build and test: preset tsan"
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "${jobs}" --target fabricbench bootstrap_test engine_test \
  faults_tests tcp_transport_test contract_tcp_test regime_cli_test
ctest --preset tsan -j "${jobs}"
phase "end"
if [ "${lint_status}" -ne 0 ]; then
  echo "== FAILED: clang-tidy found problems (see '== clang-tidy' above)"
  exit "${lint_status}"
fi
