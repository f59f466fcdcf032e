#!/usr/bin/env bash
# Soak: N runs of a quickstart-sized experiment back to back (two local ranks over TCP loopback,
# a ping-pong and a stream case), then checks that nothing grows from run to run:
#   - rank 0's descriptors and peak memory at the end of each run (its harness.end event:
#     open_fds, max_rss_kib), the last runs against the first (fds equal, memory within 10%);
#   - processes of its runs left behind (ranks, a fault watchdog) after each run: none;
#   - network namespaces and /tmp entries of fabricbench's: as many after as before.
# Run it on an otherwise quiet host: another run's namespaces or /tmp files would count. Every
# run must complete (exit 0). Documented in docs/RELIABILITY.md; not in CI (it takes
# a while: N=30 took 43 s on the 2-core machine, with CI running beside it).
#
# Usage: ci/soak.sh N [FABRICBENCH_BINARY]   (default build/release/fabricbench)
# Exit: 0 nothing grew; 1 something grew or a run failed (named); 2 usage.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 2 ]; then
  echo "usage: $0 N [FABRICBENCH_BINARY]   (N >= 2)" >&2
  exit 2
fi
n="$1"
bin="${2:-$repo/build/release/fabricbench}"
[ -x "$bin" ] || { echo "soak: $bin is not an executable" >&2; exit 2; }

work="$(mktemp -d /tmp/fb-soak.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cat >"$work/soak.yaml" <<'EOF'
fabricbench: 1
name: soak
ranks: 2
timeouts: {peer: 10s}
defaults: {transport: tcp, repetitions: 2, verify: true}
cases:
  - {name: lat, suite: pingpong, sizes: [8, 4KiB], iterations: 2000, warmup: 100}
  - {name: bw, suite: stream, sizes: 64KiB, duration: 300ms, warmup: 50ms, window: 16}
EOF

leftovers() { # processes of this soak's runs still there (ranks, a fault watchdog): their command
  # lines name its experiment file, so other fabricbench runs on the host do not count
  { pgrep -f "$work/soak.yaml" || true; } | wc -l
}
count_netns() { ip netns list 2>/dev/null | wc -l; }
count_tmp() { find /tmp -maxdepth 1 -name 'fabricbench*' 2>/dev/null | wc -l; }

netns_before=$(count_netns)
tmp_before=$(count_tmp)
problems=0
: >"$work/figures"
for i in $(seq 1 "$n"); do
  out="$work/run$i"
  if ! "$bin" run "$work/soak.yaml" -o "$out" >"$work/console.txt" 2>&1; then
    echo "soak: run $i failed:" >&2
    tail -20 "$work/console.txt" >&2
    exit 1
  fi
  left="$(leftovers)"
  if [ "$left" != "0" ]; then
    echo "soak: run $i left $left processes behind (ranks, watchdogs)" >&2
    problems=1
  fi
  python3 - "$out/run.json" >>"$work/figures" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
end = [e for e in doc["events"] if e.get("kind") == "harness.end"]
d = end[-1]["detail"] if end else {}
print(d.get("open_fds", -1), d.get("max_rss_kib", -1))
PY
  rm -rf "$out"
done

python3 - "$work/figures" "$n" <<'PY' || problems=1
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
if len(rows) != n or any(f < 0 or m < 0 for f, m in rows):
    print("soak: a run lacks its harness.end figures: %r" % rows)
    sys.exit(1)
k = max(1, n // 5)
first, last = rows[:k], rows[-k:]
fds_first, fds_last = max(f for f, _ in first), max(f for f, _ in last)
rss_first = sorted(m for _, m in first)[len(first) // 2]
rss_last = sorted(m for _, m in last)[len(last) // 2]
print("soak: %d runs; rank 0 at the end: open fds %d (first %d runs) -> %d (last %d), "
      "peak RSS %d KiB -> %d KiB (medians)" % (n, fds_first, k, fds_last, k, rss_first, rss_last))
bad = []
if fds_last > fds_first:
    bad.append("descriptors grew: %d -> %d" % (fds_first, fds_last))
if rss_last > rss_first * 1.10:
    bad.append("peak memory grew by more than 10%%: %d -> %d KiB" % (rss_first, rss_last))
for b in bad:
    print("soak: FAIL:", b)
sys.exit(1 if bad else 0)
PY
if [ "$(count_netns)" != "$netns_before" ]; then
  echo "soak: network namespaces $netns_before before, $(count_netns) after" >&2
  problems=1
fi
if [ "$(count_tmp)" != "$tmp_before" ]; then
  echo "soak: /tmp/fabricbench* entries $tmp_before before, $(count_tmp) after" >&2
  problems=1
fi
if [ $problems -eq 0 ]; then echo "soak: ok, nothing grew over $n runs"; fi
exit $problems
