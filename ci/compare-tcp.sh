#!/usr/bin/env bash
# Runs fabricbench and the peer tools side by side, in the same run, on loopback, and judges
# the ratios fabricbench / peer (docs/PERFORMANCE.md, "How the comparisons judge"):
#   stream     TCP stream, 1 connection, 128 KiB messages, S s, Gb/s
#              vs  iperf3 -l 128K -t S -O 1 -J (end.sum_received)          target >= 1.00
#   pingpong   TCP ping-pong, 64 B, busy polling, S s, p50 of RTT/2
#              vs  sockperf ping-pong --tcp --nonblocked -m 64 -t S         target <= 1.00
# ROUNDS interleaved rounds (default 5): each round runs both pairs, the peer first in odd
# rounds and fabricbench first in even ones (to cancel drift). Per comparison: the per-round
# ratios, their median, min..max and spread ((max - min) / median), and the verdict on the
# median: PASS, WITHIN-NOISE (misses by less than max - min of the ratios) or MISS.
# The load (/proc/loadavg, runnable processes) is recorded before and after the rounds.
#
# Usage: ci/compare-tcp.sh [FABRICBENCH] [ROUNDS] [-o FILE] [--seconds S]
#   FABRICBENCH  default build/release/fabricbench
#   -o FILE      the JSON file with every figure (default $FB_COMPARE_JSON, else
#                compare-tcp.json in the current directory)
#   --seconds S  length of each measurement (default 10; shorter only for smoke checks)
# Exit: 0 judged (the verdicts are in the table and the JSON), 1 a run failed, 2 usage.
set -euo pipefail
caller_pwd=$PWD
cd "$(dirname "$0")/.."
repo=$PWD
judge=(python3 "$repo/ci/compare_judge.py")
name=compare-tcp default_secs=10
# shellcheck source=ci/compare-common.sh
. "$repo/ci/compare-common.sh"
parse_compare_args "$@"
require_tools iperf3 sockperf python3 timeout
make_workdir

# The configs with the measurement length of this run.
for c in tcp-vs-iperf3 tcp-vs-sockperf; do
  sed -E "s/^([[:space:]]*duration:) 10s/\1 ${secs}s/" "configs/compare/$c.yaml" >"$work/$c.yaml"
done

bound=$((secs + 30))

# Each server runs in this shell (so that the traps know it) and is killed as soon as its client
# is done: a busy-polling sockperf server would otherwise spin through the next measurement.
run_iperf3() {  # $1 round
  local port server rc=0 v; port=$(free_port)
  timeout "$bound" iperf3 -s -1 -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  server=$!; pids+=("$server")
  sleep 0.5
  timeout "$bound" iperf3 -c 127.0.0.1 -p "$port" -l 128K -t "$secs" -O 1 -J >"$work/iperf3.$1.json" || rc=$?
  stop "$server"
  [ "$rc" = 0 ] || { echo "compare-tcp: iperf3 failed (exit $rc):" >&2; cat "$work/iperf3.$1.json" >&2; exit 1; }
  v=$("${judge[@]}" parse iperf3 "$work/iperf3.$1.json")
  record stream "$1" peer "$v"
}

run_sockperf() {  # $1 round
  local port server rc=0 v; port=$(free_port)
  timeout "$bound" sockperf server --tcp -i 127.0.0.1 -p "$port" --nonblocked >/dev/null 2>&1 &
  server=$!; pids+=("$server")
  sleep 0.5
  timeout "$bound" sockperf ping-pong --tcp -i 127.0.0.1 -p "$port" --nonblocked -m 64 -t "$secs" \
    >"$work/sockperf.$1.txt" 2>&1 || rc=$?
  stop "$server"
  [ "$rc" = 0 ] || { echo "compare-tcp: sockperf failed (exit $rc):" >&2; cat "$work/sockperf.$1.txt" >&2; exit 1; }
  # --nonblocked ping-pong without --full-rtt: sockperf reports half the round trip, as we do.
  v=$("${judge[@]}" parse sockperf "$work/sockperf.$1.txt" --percentile 50 --expect latency)
  record pingpong "$1" peer "$v"
}

run_fabricbench() {  # $1 round, $2 stream | pingpong
  local out="$work/fb.$2.$1" cfg field scale=1 v
  if [ "$2" = stream ]; then cfg=$work/tcp-vs-iperf3.yaml field=bw_gbps
  else cfg=$work/tcp-vs-sockperf.yaml field=latency.lat_p50_ns scale=0.001; fi
  timeout $((bound + 60)) "$fb" run "$cfg" -o "$out" >"$out.log" 2>&1 ||
    { echo "compare-tcp: fabricbench run $cfg failed:" >&2; tail -n 30 "$out.log" >&2; exit 1; }
  v=$("${judge[@]}" parse fabricbench "$out/run.json" --field "$field" --scale "$scale")
  record "$2" "$1" fabricbench "$v"
}

"${judge[@]}" load >"$work/load-before.json"
for i in $(seq 1 "$rounds"); do
  if [ $((i % 2)) = 1 ]; then
    printf '%s\tpeer\n' "$i" >>"$work/order.tsv"
    run_iperf3 "$i"; run_fabricbench "$i" stream
    run_sockperf "$i"; run_fabricbench "$i" pingpong
  else
    printf '%s\tfabricbench\n' "$i" >>"$work/order.tsv"
    run_fabricbench "$i" stream; run_iperf3 "$i"
    run_fabricbench "$i" pingpong; run_sockperf "$i"
  fi
  echo "round $i done ($(cut -d' ' -f1-4 /proc/loadavg))"
done
"${judge[@]}" load >"$work/load-after.json"

cat >"$work/spec.json" <<JSON
{"comparisons": [
  {"key": "stream", "name": "TCP stream 128 KiB, 1 connection, ${secs} s", "unit": "Gb/s",
   "direction": "higher", "target": 1.00,
   "fabricbench": "configs/compare/tcp-vs-iperf3.yaml (bw_gbps)",
   "peer": "iperf3 -c 127.0.0.1 -l 128K -t ${secs} -O 1 -J (end.sum_received.bits_per_second)"},
  {"key": "pingpong", "name": "TCP ping-pong 64 B, busy-poll, p50 of RTT/2", "unit": "us",
   "direction": "lower", "target": 1.00,
   "fabricbench": "configs/compare/tcp-vs-sockperf.yaml (latency.lat_p50_ns)",
   "peer": "sockperf ping-pong --tcp --nonblocked -m 64 -t ${secs} (percentile 50.000)"}
]}
JSON
"${judge[@]}" judge --script compare-tcp --spec "$work/spec.json" --values "$work/values.tsv" \
  --order "$work/order.tsv" --rounds "$rounds" --load-before "$work/load-before.json" \
  --load-after "$work/load-after.json" --command-line "$cmdline" --repo "$repo" -o "$json"
