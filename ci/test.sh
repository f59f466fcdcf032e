#!/usr/bin/env bash
# Builds fabricbench twice (release with -Werror, and ASan+UBSan) and runs every test with ctest.
# Also checks formatting and runs clang-tidy (ci/clang-tidy.sh; the include layering is the ctest
# test `layering`). This is the README's test command and what CI (.ci/run) runs.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/install-deps.sh

echo "== format check (clang-format, .clang-format)"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' 2>/dev/null || true)
if [ ${#sources[@]} -gt 0 ]; then
  clang-format --dry-run --Werror "${sources[@]}"
fi

jobs=$(nproc)
lint_status=0
for preset in release asan; do
  echo "== configure, build and test: preset ${preset}"
  cmake --preset "${preset}" >/dev/null
  cmake --build --preset "${preset}" -j "${jobs}"
  if [ "${preset}" = release ]; then
    # On the release build's compile_commands.json. A finding fails the run, after the tests
    # have run too, so one CI run reports both.
    echo "== clang-tidy (.clang-tidy, ci/clang-tidy.sh)"
    ci/clang-tidy.sh build/release || lint_status=$?
  fi
  ctest --preset "${preset}" -j "${jobs}"
done
if [ "${lint_status}" -ne 0 ]; then
  echo "== FAILED: clang-tidy found problems (see '== clang-tidy' above)"
  exit "${lint_status}"
fi
