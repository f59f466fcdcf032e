#!/usr/bin/env bash
# Builds fabricbench twice (release with -Werror, and ASan+UBSan) and runs every test with ctest.
# Also checks formatting. This is the README's test command and what CI (.ci/run) runs.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/install-deps.sh

echo "== format check (clang-format, .clang-format)"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' 2>/dev/null || true)
if [ ${#sources[@]} -gt 0 ]; then
  clang-format --dry-run --Werror "${sources[@]}"
fi

jobs=$(nproc)
for preset in release asan; do
  echo "== configure, build and test: preset ${preset}"
  cmake --preset "${preset}" >/dev/null
  cmake --build --preset "${preset}" -j "${jobs}"
  ctest --preset "${preset}" -j "${jobs}"
done
