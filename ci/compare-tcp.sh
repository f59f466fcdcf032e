#!/usr/bin/env bash
# Runs fabricbench and the peer tools side by side, in the same run, on loopback, and prints
# ratios (docs/PERFORMANCE.md):
#   TCP stream, 1 connection, 128 KiB messages, 10 s       vs  iperf3 -l 128K -t 10
#   TCP ping-pong, 64 B, busy polling, 10 s (p50 of RTT/2) vs  sockperf ping-pong --tcp --nonblocked
# Each pair is run ROUNDS times, alternating tools; the ratio of medians is reported.
# Usage: ci/compare-tcp.sh [path/to/fabricbench] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
fb=${1:-build/release/fabricbench}
rounds=${2:-3}
for tool in iperf3 sockperf python3; do
  command -v "$tool" >/dev/null || { echo "compare-tcp: $tool not found (ci/install-deps.sh)"; exit 2; }
done
[ -x "$fb" ] || { echo "compare-tcp: $fb not built (cmake --build --preset release)"; exit 2; }

work=$(mktemp -d /tmp/fabricbench-compare.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The figures come back through $(...), a subshell: each server is killed there as soon as its
# client is done (a subshell's pids+= would not reach the EXIT trap), so a busy-polling server
# never competes with the next measurement.
run_iperf3() {  # prints Gb/s received
  local port server; port=$(free_port)
  timeout 30 iperf3 -s -1 -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  server=$!
  sleep 0.5
  timeout 30 iperf3 -c 127.0.0.1 -p "$port" -l 128K -t 10 -O 1 -J >"$work/iperf3.json"
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["end"]["sum_received"]["bits_per_second"]/1e9)' "$work/iperf3.json"
}

run_sockperf() {  # prints p50 of half RTT in usec
  local port server; port=$(free_port)
  timeout 30 sockperf server --tcp -i 127.0.0.1 -p "$port" --nonblocked >/dev/null 2>&1 &
  server=$!
  sleep 0.5
  timeout 30 sockperf ping-pong --tcp -i 127.0.0.1 -p "$port" --nonblocked -m 64 -t 10 >"$work/sockperf.txt" 2>&1
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
  python3 - "$work/sockperf.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"percentile 50\.000 =\s+([0-9.]+)", text)
if not m:
    sys.exit("sockperf output has no p50 line:\n" + text)
print(m.group(1))
PY
}

run_fabricbench() {  # $1 config, $2 figure: bw | p50
  local out="$work/fb-$RANDOM"
  "$fb" run "$1" -o "$out" >/dev/null
  python3 - "$out/run.json" "$2" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
case = doc["cases"][0]
rep = case["repetitions"][0]
if sys.argv[2] == "bw":
    print(rep["bw_gbps"])
else:
    print(rep["latency"]["lat_p50_ns"] / 1000.0)
PY
}

median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

fb_bw=(); ip_bw=(); fb_lat=(); sp_lat=()
for i in $(seq 1 "$rounds"); do
  ip_bw+=("$(run_iperf3)")
  fb_bw+=("$(run_fabricbench configs/compare/tcp-vs-iperf3.yaml bw)")
  sp_lat+=("$(run_sockperf)")
  fb_lat+=("$(run_fabricbench configs/compare/tcp-vs-sockperf.yaml p50)")
  echo "round $i: stream fabricbench ${fb_bw[-1]} Gb/s, iperf3 ${ip_bw[-1]} Gb/s;" \
       "ping-pong p50 fabricbench ${fb_lat[-1]} us, sockperf ${sp_lat[-1]} us"
done
fbm=$(median "${fb_bw[@]}"); ipm=$(median "${ip_bw[@]}")
fbl=$(median "${fb_lat[@]}"); spl=$(median "${sp_lat[@]}")
python3 - "$fbm" "$ipm" "$fbl" "$spl" "$rounds" <<'PY'
import sys
fbm, ipm, fbl, spl = map(float, sys.argv[1:5])
rounds = sys.argv[5]
bw_ratio = fbm / ipm
lat_ratio = fbl / spl
print(f"medians of {rounds} rounds")
print(f"| TCP stream 128 KiB, 1 conn, 10 s | fabricbench {fbm:.2f} Gb/s | iperf3 {ipm:.2f} Gb/s | ratio {bw_ratio:.3f} (target >= 0.95) | {'PASS' if bw_ratio >= 0.95 else 'MISS'} |")
print(f"| TCP ping-pong 64 B busy-poll p50 | fabricbench {fbl:.2f} us | sockperf {spl:.2f} us | ratio {lat_ratio:.3f} (target <= 1.10) | {'PASS' if lat_ratio <= 1.10 else 'MISS'} |")
PY
