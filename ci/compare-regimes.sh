#!/usr/bin/env bash
# Runs fabricbench's regimes and sockperf side by side, in the same run, on loopback
# (127.0.0.1 only), and prints ratios (docs/PERFORMANCE.md "Regimes on loopback against
# sockperf"):
#   pingpong, regime realistic, constant 10000/s, TCP, 64 B, blocking, 4 s (p50, p99 of the
#     whole round trip from the intended issue time)
#     vs  sockperf under-load --tcp -m 64 --mps 10000 --reply-every 1 --full-rtt -t 4
#   pingpong, regime floor (one request in flight), same (p50 of the whole round trip)
#     vs  sockperf ping-pong --tcp -m 64 --full-rtt -t 4
# Both tools use blocking sockets (sockperf without --nonblocked); sockperf's under-load sender
# paces by spinning on the clock whatever the flags. Each round runs sockperf under-load,
# fabricbench (realistic, then floor), sockperf ping-pong; the ratio of the medians over ROUNDS
# rounds is reported.
# Usage: ci/compare-regimes.sh [path/to/fabricbench] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
fb=${1:-build/release/fabricbench}
rounds=${2:-3}
config=configs/compare/regimes-vs-sockperf.yaml
mps=10000   # keep equal to regime.rate of the realistic case in $config
secs=4      # keep equal to its duration
for tool in sockperf python3 timeout; do
  command -v "$tool" >/dev/null || { echo "compare-regimes: $tool not found (ci/install-deps.sh)"; exit 2; }
done
[ -x "$fb" ] || { echo "compare-regimes: $fb not built (cmake --build --preset release)"; exit 2; }
case $rounds in
  '' | *[!0-9]* | 0) echo "compare-regimes: rounds must be a positive integer, not '$rounds'"; exit 2 ;;
esac

work=$(mktemp -d /tmp/fabricbench-compare-regimes.XXXXXX)
pids=()  # every process started here that may still run; killed on exit
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() { local p keep=(); for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=("${keep[@]}"); }

# Runs a command bounded in time. It runs in the background and is waited for, so that a signal
# reaches the traps at once (timeout puts its child in a process group of its own).
bounded() {
  local secs=$1 p; shift
  timeout "$secs" "$@" &
  p=$!; pids+=("$p")
  local rc=0; wait "$p" || rc=$?
  forget "$p"
  return "$rc"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

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

sockperf_percentiles() {  # $1 sockperf output; prints "p50 p99" of the full RTT in usec
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
if "Round trip" not in text:
    sys.exit("sockperf did not report full round trips (--full-rtt):\n" + text)
vals = []
for p in ("50.000", "99.000"):
    m = re.search(r"percentile " + re.escape(p) + r" =\s+([0-9.]+)", text)
    if not m:
        sys.exit(f"sockperf output has no p{p} line:\n" + text)
    vals.append(m.group(1))
print(*vals)
PY
}

# Writes "p50 p99 queueing_p50 service_p50 floor_p50" in usec (whole round trips) to $1.
run_fabricbench() {
  local out="$work/fb-$RANDOM"
  bounded 120 "$fb" run "$config" -o "$out" >/dev/null
  python3 - "$out/run.json" "$mps" "$secs" >"$1" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
by_kind = {}
for case in doc["cases"]:
    rep = case["repetitions"][0]
    by_kind[rep["regime"]["kind"]] = rep
real, floor = by_kind["realistic"], by_kind["floor"]
ph = real["regime"]["phase"]
rate = float(sys.argv[2])
if ph["refused_ops"] or abs(ph["offered_ops_per_s"] - rate) > 0.01 * rate:
    sys.exit(f"realistic case did not run at {sys.argv[2]}/s: {ph['offered_ops_per_s']} offered, "
             f"{ph['refused_ops']} refused")
if ph["length_ns"] != int(float(sys.argv[3]) * 1e9):
    sys.exit(f"realistic case ran {ph['length_ns']} ns, not {sys.argv[3]} s as sockperf does")
us = lambda ns: ns / 1000.0
print(us(real["latency"]["lat_p50_ns"]), us(real["latency"]["lat_p99_ns"]),
      us(ph["queueing"]["p50_ns"]), us(ph["service"]["p50_ns"]), us(floor["latency"]["lat_p50_ns"]))
PY
}

median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

sp50=(); sp99=(); fb50=(); fb99=(); fbq=(); fbs=(); pp50=(); fl50=()
for i in $(seq 1 "$rounds"); do
  sockperf_pair "$work/ul.txt" under-load --mps "$mps" --reply-every 1
  r=$(sockperf_percentiles "$work/ul.txt"); read -r a b <<<"$r"; sp50+=("$a"); sp99+=("$b")
  run_fabricbench "$work/fb.txt"
  read -r a b c d e <"$work/fb.txt"; fb50+=("$a"); fb99+=("$b"); fbq+=("$c"); fbs+=("$d"); fl50+=("$e")
  sockperf_pair "$work/pp.txt" ping-pong
  r=$(sockperf_percentiles "$work/pp.txt"); read -r a b <<<"$r"; pp50+=("$a")
  echo "round $i: ${mps}/s RTT p50 fabricbench ${fb50[-1]} us (queueing ${fbq[-1]}, service ${fbs[-1]})," \
       "sockperf ${sp50[-1]} us; p99 fabricbench ${fb99[-1]} us, sockperf ${sp99[-1]} us;" \
       "floor RTT p50 fabricbench ${fl50[-1]} us, sockperf ping-pong ${pp50[-1]} us"
done
python3 - "$rounds" "$mps" "$(median "${fb50[@]}")" "$(median "${sp50[@]}")" \
  "$(median "${fb99[@]}")" "$(median "${sp99[@]}")" "$(median "${fl50[@]}")" \
  "$(median "${pp50[@]}")" "$(median "${fbq[@]}")" "$(median "${fbs[@]}")" <<'PY'
import sys
rounds, mps = sys.argv[1], sys.argv[2]
fb50, sp50, fb99, sp99, fl50, pp50, fbq, fbs = map(float, sys.argv[3:11])
print(f"medians of {rounds} rounds (round-trip times, not halved)")
print(f"| TCP 64 B at {mps}/s, blocking, RTT p50 | fabricbench realistic {fb50:.2f} us | sockperf under-load {sp50:.2f} us | ratio {fb50 / sp50:.3f} |")
print(f"| TCP 64 B at {mps}/s, blocking, RTT p99 | fabricbench realistic {fb99:.2f} us | sockperf under-load {sp99:.2f} us | ratio {fb99 / sp99:.3f} |")
print(f"| TCP 64 B one in flight, blocking, RTT p50 | fabricbench floor {fl50:.2f} us | sockperf ping-pong {pp50:.2f} us | ratio {fl50 / pp50:.3f} |")
print(f"fabricbench realistic p50 split: queueing (intended -> posted) {fbq:.2f} us, service (posted -> echo) {fbs:.2f} us")
PY
