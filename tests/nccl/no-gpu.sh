#!/usr/bin/env bash
# Without a usable GPU: `fabricbench list` says why nccl cannot run, and a run of nccl cases
# skips every one with that reason (status skipped, exit 0: not failed, not passed). On a host
# with a GPU this test has nothing to show and exits 77 (ctest: skipped).
set -euo pipefail
fb=$1
work=$(mktemp -d /tmp/fabricbench-nogpu-XXXXXX)
trap 'rm -rf "$work"' EXIT
list=$("$fb" list)
line=$(grep -E '^  nccl ' <<<"$list" || true)
[ -n "$line" ] || { echo "FAIL: list has no nccl line"; echo "$list"; exit 1; }
if grep -q "available  " <<<"$line" && ! grep -q "unavailable here" <<<"$line"; then
  echo "a GPU is usable here: nothing to show without one"
  exit 77
fi
grep -q "unavailable here: .*\(no usable GPU\|built without\)" <<<"$line" ||
  { echo "FAIL: list does not say why: $line"; exit 1; }
reason=$(sed 's/.*unavailable here: //; s/  .*//' <<<"$line")
cat > "$work/nccl.yaml" <<'YAML'
fabricbench: 1
name: nccl-no-gpu
ranks: 2
cases:
  - name: c
    suite: collective
    transport: nccl
    collective: [all_reduce, alltoall]
    sizes: [8B, 1MiB]
    iterations: 5
YAML
"$fb" run "$work/nccl.yaml" -o "$work/run" > "$work/out.log" 2>&1 ||
  { cat "$work/out.log"; echo "FAIL: a run of skipped cases exited non-zero"; exit 1; }
REASON="$reason" python3 - "$work/run/run.json" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
reason = os.environ["REASON"]
assert len(d["cases"]) == 4, len(d["cases"])
for c in d["cases"]:
    assert c["status"] == "skipped", (c["id"], c["status"])
    assert reason in c["skip_reason"], (c["skip_reason"], reason)
    assert not c["repetitions"], c["id"]
print("4 nccl cases skipped:", d["cases"][0]["skip_reason"])
PY
