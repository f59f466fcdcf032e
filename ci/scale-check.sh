#!/usr/bin/env bash
# The harness's own cost at scale (docs/PERFORMANCE.md, "The harness at scale"): for each rank
# count, fabricbench forks that many local ranks, which join the side channel, agree on the plan,
# gather their envelopes to rank 0 and run one tiny TCP ping-pong case (N/2 pairs, blocking
# completions, 20 round trips); rank 0's "harness.start" and "harness.end" events give the join
# time, the plan check, the envelope gather, the envelopes' size and rank 0's peak memory.
#   ci/scale-check.sh FABRICBENCH [RANKS...]      (default: 64 128 256)
# Prints one line per rank count. Needs nothing but the binary; uses 127.0.0.1 only.
set -euo pipefail
fb="$(realpath "${1:?usage: scale-check.sh FABRICBENCH [RANKS...]}")"
shift
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(64 128 256)
work="$(mktemp -d /tmp/fabricbench-scale.XXXXXX)"
trap 'rm -rf "$work"' EXIT
ulimit -n 65536 2>/dev/null || true
cat >"$work/scale.yaml" <<'YAML'
fabricbench: 1
name: scale
timeouts: {peer: 120s}
cases:
  - {name: tiny, suite: pingpong, transport: tcp, sizes: 8, iterations: 20, warmup: 0,
     completion: blocking}
YAML
printf '%6s %9s %9s %11s %12s %13s %13s %9s\n' ranks join_ms plan_ms envelope_ms envelopes_KiB \
  rss_start_MiB rss_end_MiB wall_s
for n in "${counts[@]}"; do
  start=$(date +%s.%N)
  "$fb" run "$work/scale.yaml" --set "ranks=$n" -o "$work/run$n" >"$work/out$n" 2>&1 ||
    { tail -20 "$work/out$n"; echo "scale-check: $n ranks failed" >&2; exit 1; }
  end=$(date +%s.%N)
  python3 - "$work/run$n/run.json" "$n" "$start" "$end" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
ev = {e["kind"]: e["detail"] for e in doc["events"] if e["kind"].startswith("harness.")}
s, e = ev["harness.start"], ev["harness.end"]
assert doc["run"]["status"] == "complete" and s["ranks"] == int(sys.argv[2])
assert len(doc["envelope"]["ranks"]) == s["ranks"]
print(f'{s["ranks"]:6d} {s["join_ns"]/1e6:9.1f} {s["plan_check_ns"]/1e6:9.1f} '
      f'{s["envelopes_ns"]/1e6:11.1f} {s["envelope_bytes"]/1024:12.0f} '
      f'{s["max_rss_kib"]/1024:13.1f} {e["max_rss_kib"]/1024:13.1f} '
      f'{float(sys.argv[4]) - float(sys.argv[3]):9.1f}')
PY
done
