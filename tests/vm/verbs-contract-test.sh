#!/usr/bin/env bash
# The verbs transport's contract and device tests on a real RDMA device: rxe0 in a Soft-RoCE
# guest (two in-process ranks talk through rxe's loopback). Also the link-fault test: it takes
# the guest's own eth0 down and back up (FABRICBENCH_VERBS_FAULT_NETDEV), inside the guest only.
# The multi-rail variants stripe across rxe0 and rxe1 (the guest's two links, fabric.sh --nics 2).
# The memory provider contract runs there too, for the providers the guest serves (host, and
# dmabuf through its vgem driver).
# Fails if any test fails or is skipped: on rxe0 every one of them must really run.
# Usage: tests/vm/verbs-contract-test.sh BUILD_TREE VM_BUILD_DIR. Exit 77: no VM here.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ $# -eq 2 ] || {
  echo "usage: $0 BUILD_TREE VM_BUILD_DIR" >&2
  exit 2
}
tree="$(realpath "$1")" vm_dir="$2"
out="$(mktemp -d /tmp/fabricbench-verbs-contract.XXXXXX)"
trap 'rm -rf "$out"' EXIT
tests=("$tree/tests/contract/contract_verbs_test" "$tree/tests/verbs/verbs_transport_test"
  "$tree/tests/contract/memory_contract_test")
declare -A args=([memory_contract_test]="--gtest_filter=Providers/MemoryContract.*/host:Providers/MemoryContract.*/dmabuf")
for t in "${tests[@]}"; do
  [ -x "$t" ] || {
    echo "FAIL: $t is not built"
    exit 1
  }
done
# The guests see the host's files at the same paths, except /tmp (their own tmpfs): the build
# tree may be there (a CI clone), so the test binaries travel through the out share.
cmd="rc=0"
puts=()
for t in "${tests[@]}"; do
  puts+=(--put "$t")
  cmd+="; \$FABRIC_OUT/$(basename "$t") ${args[$(basename "$t")]:-} >\$FABRIC_OUT/$(basename "$t").txt 2>&1 || rc=1"
done
cmd+="; exit \$rc"

"$repo/ci/vm/fabric.sh" --build-dir "$vm_dir" --timeout 900 --tail 0 --out "$out/g" \
  --nics 2 --env FABRICBENCH_VERBS_RAILS=rxe0,rxe1 \
  "${puts[@]}" --env FABRICBENCH_VERBS_FAULT_NETDEV=eth0 -- "$cmd" ::: true
rc=$?
[ $rc -eq 77 ] && exit 77
status=0
for t in "${tests[@]}"; do
  f="$out/g/g0/$(basename "$t").txt"
  if [ ! -f "$f" ]; then
    echo "FAIL: no output from $(basename "$t")"
    status=1
    continue
  fi
  grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$f" | sed "s/^/$(basename "$t"): /"
  if grep -q '^\[  SKIPPED \]' "$f"; then
    echo "FAIL: $(basename "$t") skipped tests on rxe0:"
    grep -A2 '^\[  SKIPPED \]\|Skipped' "$f" | head -20
    status=1
  fi
  if ! grep -q '^\[  PASSED  \]' "$f" || grep -q '^\[  FAILED  \]' "$f"; then
    echo "FAIL: $(basename "$t"):"
    tail -40 "$f"
    status=1
  fi
done
[ $rc -eq 0 ] || status=1
[ $status -eq 0 ] && echo "ok: verbs contract and device tests ran on rxe0, none skipped"
exit $status
