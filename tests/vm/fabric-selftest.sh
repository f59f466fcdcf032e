#!/usr/bin/env bash
# Checks ci/vm/fabric.sh's failure paths on real guests:
#   1. guest 1 fails while guest 0 would wait forever: exit 1, guest 1's rc and stderr shown,
#      guest 0 stopped after --grace rather than at --timeout;
#   2. both guests outlive --timeout: exit 124, soon after the timeout.
# Usage: tests/vm/fabric-selftest.sh BUILD_DIR. Exit 77 when no guest can be built here.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="${1:-$repo/build/vm-guest}"
fabric="$repo/ci/vm/fabric.sh"
log="$(mktemp /tmp/fabric-selftest.XXXXXX)"
trap 'rm -f "$log"' EXIT
fail=0
check() { # description, condition...
  local what="$1"
  shift
  if "$@"; then echo "ok   $what"; else
    echo "FAIL $what"
    fail=1
  fi
}

"$repo/ci/vm/build-guest.sh" "$build_dir" || exit $?

t0=$(date +%s)
"$fabric" --build-dir "$build_dir" --timeout 120 --grace 3 -- sleep 300 ::: \
  'echo boom >&2; exit 3' >"$log" 2>&1
rc=$?
dt=$(($(date +%s) - t0))
cat "$log"
check "a failing guest makes fabric.sh exit 1 (got $rc)" [ $rc -eq 1 ]
check "its rc is reported" grep -q "guest 1 (198.51.100.2): rc=3" "$log"
check "its stderr is shown" grep -qx "boom" "$log"
check "the waiting guest is stopped after the grace period (${dt}s < 90s)" [ $dt -lt 90 ]

t0=$(date +%s)
"$fabric" --build-dir "$build_dir" --timeout 25 -- sleep 300 >"$log" 2>&1
rc=$?
dt=$(($(date +%s) - t0))
cat "$log"
check "guests running past --timeout make fabric.sh exit 124 (got $rc)" [ $rc -eq 124 ]
check "within the timeout plus cleanup (${dt}s <= 40s)" [ $dt -le 40 ]
exit $fail
