#!/usr/bin/env bash
# Without a usable GPU: a run of copy cases skips every one with the reason the CUDA runtime
# gives ("no usable GPU: cudaGetDeviceCount: ...", or "built without CUDA"), writes it into
# run.json and exits 0, as configs/nccl.yaml does. On a host with a GPU this test has nothing to
# show and exits 77 (ctest: skipped).
set -euo pipefail
fb=$1
work=$(mktemp -d /tmp/fabricbench-copy-nogpu-XXXXXX)
trap 'rm -rf "$work"' EXIT
cat > "$work/copy.yaml" <<'YAML'
fabricbench: 1
name: copy-no-gpu
ranks: 2
cases:
  - name: c
    suite: copy
    copy: [h2d, bidir]
    sizes: [4KiB, 1MiB]
    iterations: 4
YAML
"$fb" run "$work/copy.yaml" -o "$work/run" > "$work/out.log" 2>&1 ||
  { cat "$work/out.log"; echo "FAIL: a run of skipped cases exited non-zero"; exit 1; }
python3 - "$work/run/run.json" "$work/out.log" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
out = open(sys.argv[2]).read()
statuses = [c["status"] for c in d["cases"]]
if statuses and all(s == "ok" for s in statuses):
    print("a GPU is usable here: nothing to show without one")
    sys.exit(77)
assert len(d["cases"]) == 4, len(d["cases"])
for c in d["cases"]:
    assert c["status"] == "skipped", (c["id"], c["status"])
    assert c["transport"] == "none", c["transport"]
    r = c["skip_reason"]
    assert "no usable GPU" in r or "built without" in r, r
    assert not c["repetitions"], c["id"]
    assert r in out, "the console does not show the reason"
print("4 copy cases skipped:", d["cases"][0]["skip_reason"])
PY
