#!/usr/bin/env bash
# Runs fabricbench's regimes and sockperf side by side, in the same run, on loopback
# (127.0.0.1 only), and judges the ratios fabricbench / sockperf (docs/PERFORMANCE.md "Regimes
# on loopback against sockperf" and "How the comparisons judge"):
#   realistic-p50  pingpong, regime realistic, constant 10000/s, TCP, 64 B, blocking, S s, the
#                  generator spinning (regime.generator: spin, as sockperf's under-load sender
#                  spins), the responder sleeping (as sockperf's server): p50 of the whole round
#                  trip from the intended issue time
#                  vs  sockperf under-load --tcp -m 64 --mps 10000 --reply-every 1 --full-rtt -t S
#                  target <= 1.10; and its own check: not bimodal (every round's fabricbench
#                  p50 within 25% of the median of the rounds)
#   realistic-p99  the same, p99 (shown, not judged)
#   realistic-sleeping-p50  the same with the default sleeping generator (shown, not judged)
#   floor-p50      pingpong, regime floor (one request in flight), same: p50 of the round trip
#                  vs  sockperf ping-pong --tcp -m 64 --full-rtt -t S        target <= 1.00
# Both tools use blocking sockets (sockperf without --nonblocked); sockperf's under-load sender
# paces by spinning on the clock whatever the flags. ROUNDS interleaved rounds (default 5): odd
# rounds run sockperf (under-load, then ping-pong) first and fabricbench (realistic and floor,
# one run) second, even rounds fabricbench first. Per comparison: the per-round ratios, their
# median, min..max and spread ((max - min) / median), and the verdict on the median: PASS,
# WITHIN-NOISE (misses by less than max - min of the ratios) or MISS. The load (/proc/loadavg,
# runnable processes) is recorded before and after the rounds.
#
# Usage: ci/compare-regimes.sh [FABRICBENCH] [ROUNDS] [-o FILE] [--seconds S]
#   FABRICBENCH  default build/release/fabricbench
#   -o FILE      the JSON file with every figure (default $FB_COMPARE_JSON, else
#                compare-regimes.json in the current directory)
#   --seconds S  length of each measurement (default 4; shorter only for smoke checks)
# Exit: 0 judged (the verdicts are in the table and the JSON), 1 a run failed, 2 usage.
set -euo pipefail
caller_pwd=$PWD
cd "$(dirname "$0")/.."
repo=$PWD
judge=(python3 "$repo/ci/compare_judge.py")
config=configs/compare/regimes-vs-sockperf.yaml
mps=10000   # keep equal to regime.rate of the realistic case in $config

name=compare-regimes default_secs=4
# shellcheck source=ci/compare-common.sh
. "$repo/ci/compare-common.sh"
parse_compare_args "$@"
require_tools sockperf python3 timeout
make_workdir

# $1 output file, then the sockperf client mode and its arguments. Starts a server on a free
# port, runs the client, stops the server (it would otherwise run on into the next
# measurement). Called in this shell, not in $(...), so that the traps know the server.
sockperf_pair() {
  local out=$1 port server; shift
  port=$(free_port)
  timeout 60 sockperf server --tcp -i 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  server=$!; pids+=("$server")
  sleep 0.5
  bounded 30 sockperf "$@" --tcp -i 127.0.0.1 -p "$port" -m 64 -t "$secs" --full-rtt >"$out" 2>&1 ||
    { echo "compare-regimes: sockperf $1 failed:"; cat "$out"; exit 1; } >&2
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  forget "$server"
}


# The config with the measurement length of this run.
sed -E "s/^([[:space:]]*duration:) 4s/\1 ${secs}s/" "$config" >"$work/config.yaml"

run_sockperf() {  # $1 round: under-load, then ping-pong; p50 and p99 of the whole round trip (usec)
  local r p50 p99
  sockperf_pair "$work/ul.$1.txt" under-load --mps "$mps" --reply-every 1
  r=$("${judge[@]}" parse sockperf "$work/ul.$1.txt" --percentile 50 --percentile 99 --expect rtt)
  read -r p50 p99 <<<"$r"
  record realistic-p50 "$1" peer "$p50"; record realistic-p99 "$1" peer "$p99"
  record realistic-sleeping-p50 "$1" peer "$p50"
  sockperf_pair "$work/pp.$1.txt" ping-pong
  p50=$("${judge[@]}" parse sockperf "$work/pp.$1.txt" --percentile 50 --expect rtt)
  record floor-p50 "$1" peer "$p50"
}

# Both cases in one run: realistic p50, p99 (with its queueing and service p50) and floor p50,
# in usec (whole round trips).
run_fabricbench() {  # $1 round
  local out="$work/fb.$1" figures
  bounded 120 "$fb" run "$work/config.yaml" -o "$out" >"$out.log" 2>&1 ||
    { echo "compare-regimes: fabricbench failed:" >&2; tail -n 30 "$out.log" >&2; exit 1; }
  figures=$(python3 - "$out/run.json" "$mps" "$secs" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
by_name = {}
for case in doc["cases"]:
    if case.get("status", "ok") != "ok":
        sys.exit(f"case {case.get('id')}: {case.get('status')} {case.get('errors')}")
    by_name[case["id"].split(".")[0]] = case["repetitions"][0]
real, sleeping, floor = by_name["realistic"], by_name["realistic-sleeping"], by_name["floor"]
rate = float(sys.argv[2])
for name, rep, generator in (("realistic", real, "spin"), ("realistic-sleeping", sleeping, "sleep")):
    ph = rep["regime"]["phase"]
    if rep["regime"].get("generator") != generator:
        sys.exit(f"case {name}: generator {rep['regime'].get('generator')}, expected {generator}")
    if ph["refused_ops"] or abs(ph["offered_ops_per_s"] - rate) > 0.01 * rate:
        sys.exit(f"case {name} did not run at {sys.argv[2]}/s: {ph['offered_ops_per_s']} offered, "
                 f"{ph['refused_ops']} refused")
    if ph["length_ns"] != int(float(sys.argv[3]) * 1e9):
        sys.exit(f"case {name} ran {ph['length_ns']} ns, not {sys.argv[3]} s as sockperf does")
ph, sph = real["regime"]["phase"], sleeping["regime"]["phase"]
us = lambda ns: ns / 1000.0
for key, v in (("realistic-p50", real["latency"]["lat_p50_ns"]), ("realistic-p99", real["latency"]["lat_p99_ns"]),
               ("realistic-queueing-p50", ph["queueing"]["p50_ns"]),
               ("realistic-service-p50", ph["service"]["p50_ns"]),
               ("realistic-sleeping-p50", sleeping["latency"]["lat_p50_ns"]),
               ("realistic-sleeping-service-p50", sph["service"]["p50_ns"]),
               ("floor-p50", floor["latency"]["lat_p50_ns"])):
    print(key, us(v))
PY
  )
  local key v
  while read -r key v; do record "$key" "$1" fabricbench "$v"; done <<<"$figures"
}

"${judge[@]}" load >"$work/load-before.json"
for i in $(seq 1 "$rounds"); do
  if [ $((i % 2)) = 1 ]; then
    printf '%s\tpeer\n' "$i" >>"$work/order.tsv"
    run_sockperf "$i"; run_fabricbench "$i"
  else
    printf '%s\tfabricbench\n' "$i" >>"$work/order.tsv"
    run_fabricbench "$i"; run_sockperf "$i"
  fi
  echo "round $i done ($(cut -d' ' -f1-4 /proc/loadavg))"
done
"${judge[@]}" load >"$work/load-after.json"

cat >"$work/spec.json" <<JSON
{"comparisons": [
  {"key": "realistic-p50", "name": "TCP 64 B at ${mps}/s, blocking, spinning generator, RTT p50", "unit": "us",
   "direction": "lower", "target": 1.10,
   "fabricbench": "$config realistic, generator: spin (latency.lat_p50_ns)",
   "peer": "sockperf under-load --tcp -m 64 --mps ${mps} --reply-every 1 --full-rtt -t ${secs} (percentile 50.000)"},
  {"key": "realistic-p99", "name": "TCP 64 B at ${mps}/s, blocking, spinning generator, RTT p99", "unit": "us",
   "direction": "lower", "target": null,
   "fabricbench": "$config realistic (latency.lat_p99_ns)",
   "peer": "sockperf under-load, as above (percentile 99.000)"},
  {"key": "realistic-sleeping-p50", "name": "TCP 64 B at ${mps}/s, blocking, sleeping generator (the default), RTT p50", "unit": "us",
   "direction": "lower", "target": null,
   "fabricbench": "$config realistic-sleeping, generator: sleep (latency.lat_p50_ns)",
   "peer": "sockperf under-load, as above (percentile 50.000)"},
  {"key": "floor-p50", "name": "TCP 64 B one in flight, blocking, RTT p50", "unit": "us",
   "direction": "lower", "target": 1.00,
   "fabricbench": "$config floor (latency.lat_p50_ns)",
   "peer": "sockperf ping-pong --tcp -m 64 --full-rtt -t ${secs} (percentile 50.000)"}
],
 "checks": [
  {"key": "realistic-p50", "name": "fabricbench ${mps}/s RTT p50 not bimodal", "kind": "not_bimodal",
   "of": "fabricbench", "unit": "us", "tolerance": 0.25}
],
 "figures": [
  {"key": "realistic-queueing-p50", "name": "fabricbench realistic queueing p50 (intended -> posted)", "unit": "us"},
  {"key": "realistic-service-p50", "name": "fabricbench realistic service p50 (posted -> echo)", "unit": "us"},
  {"key": "realistic-sleeping-service-p50", "name": "fabricbench realistic-sleeping service p50 (posted -> echo)", "unit": "us"}
]}
JSON
"${judge[@]}" judge --script compare-regimes --spec "$work/spec.json" --values "$work/values.tsv" \
  --order "$work/order.tsv" --rounds "$rounds" --load-before "$work/load-before.json" \
  --load-after "$work/load-after.json" --command-line "$cmdline" --repo "$repo" -o "$json"
