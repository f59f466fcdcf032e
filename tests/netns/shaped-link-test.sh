#!/usr/bin/env bash
# End-to-end test of the open-loop regimes on a link of known capacity:
#   shaped-link-test.sh FABRICBENCH_BINARY
# Two network namespaces joined by a veth pair, throttled to 50 Mbit/s by a tbf qdisc on rank
# 0's end; rank 0 runs in one namespace and rank 1 in the other (env launcher). The experiment
# (shaped-link.yaml) runs a sustainable-rate search and an overload step (70% of sustainable,
# 2x that for 1 s, then back). Checks that the search lands on the tbf rate, that the overload
# builds a backlog of about (offered - goodput) x 1 s and drains it, and that the run document
# is schema-valid. Prints the figures.
# Exit status: 0 pass, 1 fail, 77 skip (not root, no ip/tc, or namespaces/veth/tbf refused).
# Only 198.51.100.0/24 (TEST-NET-2) is used, and only inside the namespaces made here; they
# (and with them the veth pair) are always removed on exit.
set -u

bin="${1:?usage: shaped-link-test.sh FABRICBENCH_BINARY}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

readonly rate_mbit=50             # the tbf rate: what the search must find
readonly run_limit_s=60           # bound on each rank's run (the experiment takes 15-25 s)
readonly addr_a=198.51.100.1 addr_b=198.51.100.2
readonly port=18515               # inside a fresh namespace: free
ns_a="fb-$$-a"
ns_b="fb-$$-b"
work=""
made=()                           # the namespaces this script created

skip() {
  echo "SKIP: $*" >&2
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Kills whatever still runs in namespace $1 (a rank left over after a failure).
kill_ranks() {
  local pid
  for pid in $(ip netns pids "$1" 2>/dev/null); do
    kill -KILL "$pid" 2>/dev/null
  done
}
# Kills leftovers, then removes the namespaces; deleting them removes the veth pair too.
cleanup() {
  local ns
  for ns in "${made[@]}"; do
    kill_ranks "$ns"
    ip netns del "$ns" 2>/dev/null
  done
  if [ -n "$work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$bin" ] || fail "fabricbench binary not found: $bin"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, veth, tc)"
command -v ip >/dev/null 2>&1 || skip "'ip' (iproute2) not found"
command -v tc >/dev/null 2>&1 || skip "'tc' (iproute2) not found"
command -v timeout >/dev/null 2>&1 || skip "'timeout' (coreutils) not found"
command -v python3 >/dev/null 2>&1 || skip "python3 not found"

# --- the link ------------------------------------------------------------------------------
for ns in "$ns_a" "$ns_b"; do
  ip netns add "$ns" 2>/dev/null || skip "cannot create network namespace $ns"
  made+=("$ns")
done
# Both ends are named fbv0 inside their namespaces, so both ranks share one plan
# (tcp.interface: fbv0); created directly in the namespaces, nothing appears on the host.
ip link add fbv0 netns "$ns_a" type veth peer name fbv0 netns "$ns_b" 2>/dev/null ||
  skip "cannot create a veth pair between $ns_a and $ns_b"
for ns in "$ns_a" "$ns_b"; do
  if ! { ip -n "$ns" link set lo up && ip -n "$ns" link set fbv0 mtu 9000 up; }; then
    skip "cannot configure fbv0 in $ns"
  fi
done
ip -n "$ns_a" addr add "$addr_a/24" dev fbv0 || skip "cannot address fbv0 in $ns_a"
ip -n "$ns_b" addr add "$addr_b/24" dev fbv0 || skip "cannot address fbv0 in $ns_b"
ip netns exec "$ns_a" tc qdisc add dev fbv0 root tbf rate "${rate_mbit}mbit" burst 64kb \
  latency 50ms 2>/dev/null || skip "cannot add a tbf qdisc (sch_tbf missing?)"
echo "link: $ns_a/fbv0 $addr_a <-> $ns_b/fbv0 $addr_b, tbf ${rate_mbit} Mbit/s on $ns_a, mtu 9000"

# --- the run -------------------------------------------------------------------------------
work="$(mktemp -d /tmp/fabricbench-netns.XXXXXX)"
secret="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
run_rank() {  # run_rank RANK NAMESPACE OUTDIR
  ip netns exec "$2" timeout -s KILL "$run_limit_s" env FABRICBENCH_RANK="$1" FABRICBENCH_SIZE=2 \
    FABRICBENCH_ROOT="$addr_a:$port" FABRICBENCH_SECRET="$secret" \
    "$bin" run "$here/shaped-link.yaml" -o "$3" >"$work/rank$1.out" 2>"$work/rank$1.err"
}
start=$SECONDS
run_rank 1 "$ns_b" "$work/unused" &
pid1=$!
run_rank 0 "$ns_a" "$work/run" &
pid0=$!
wait "$pid0"
rc0=$?
# Rank 0 failed: rank 1 would only wait for its peer timeout.
if [ $rc0 -ne 0 ]; then kill_ranks "$ns_b"; fi
wait "$pid1"
rc1=$?
echo "run: $((SECONDS - start)) s, exit codes rank 0: $rc0, rank 1: $rc1"
if [ $rc0 -ne 0 ] || [ $rc1 -ne 0 ]; then
  for r in 0 1; do
    echo "--- rank $r stderr (tail)"
    tail -n 20 "$work/rank$r.err"
  done
  fail "a rank failed (rank 0 exit $rc0, rank 1 exit $rc1; 137: killed, past ${run_limit_s} s or after rank 0 failed)"
fi
doc="$work/run/run.json"
[ -f "$doc" ] || fail "rank 0 wrote no run document ($doc)"
[ -e "$work/unused" ] && fail "rank 1 wrote a run directory"

# --- the checks ----------------------------------------------------------------------------
if python3 -c 'import jsonschema' 2>/dev/null; then
  python3 "$repo/ci/validate-run.py" "$repo/results/schema/run-v1.schema.json" "$doc" ||
    fail "the run document does not match the schema"
else
  echo "note: python3 jsonschema not installed; schema check skipped"
fi

python3 - "$doc" "$rate_mbit" <<'PY' || fail "the figures are off (above)"
import json
import sys

doc = json.load(open(sys.argv[1]))
tbf_gbps = float(sys.argv[2]) / 1000.0
failures = []


def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        failures.append(what)


check(doc["run"]["status"] == "complete", f"run status {doc['run']['status']!r} is 'complete'")
cases = {c["id"].split(".")[0]: c for c in doc["cases"]}  # by group name (the id's head)
for name in ("search", "overload"):
    if name not in cases:
        print(f"FAIL: no case '{name}' in the document", file=sys.stderr)
        sys.exit(1)
    check(cases[name]["status"] == "ok", f"case {name} status {cases[name]['status']!r} is 'ok'")

# Search. The tbf rate counts whole frames; the search reports payload Gb/s. TCP/IP/Ethernet
# headers add ~1% at MTU 9000 (66 B per ~8.9 KB segment), well inside the 10% allowed.
search = cases["search"]["repetitions"][0]["regime"]["search"]
found = search["sustainable_rate_gbps"]
print(f"search: sustainable {found:.4f} Gb/s ({search['sustainable_rate_ops_per_s']:.0f} ops/s), "
      f"tbf {tbf_gbps:.4f} Gb/s, converged {search['converged']}, "
      f"{len(search['probes'])} probes in {search['elapsed_ns'] / 1e9:.1f} s")
for p in search["probes"]:
    print(f"  probe {p['rate_gbps']:.4f} Gb/s  {'pass' if p['sustainable'] else 'FAIL'}  "
          f"age p99 {p['age_p99_ns'] / 1e6:8.2f} ms  completed {p['completed_ops_per_s']:.0f} ops/s"
          f"  {p.get('reason') or ''}")
check(abs(found - tbf_gbps) <= 0.10 * tbf_gbps,
      f"sustainable {found:.4f} Gb/s within 10% of the tbf rate {tbf_gbps:.4f} Gb/s")
check(search["converged"] is True, "the search converged")
failed_above = [p["rate_gbps"] for p in search["probes"]
                if not p["sustainable"] and p["rate_gbps"] > found]
check(len(failed_above) > 0,
      f"a probe above the found rate failed (evidence): {[round(r, 4) for r in failed_above]}")

# Overload.
reg = cases["overload"]["repetitions"][0]["regime"]
ov = reg["overload"]
phase = reg["phase"]
msg_bits = reg["mean_message_bytes"] * 8
offered = ov["offered_during_ops_per_s"]
goodput = ov["goodput_during_ops_per_s"]
during_s = ov["during_ns"] / 1e9
expected_backlog = (offered - goodput) * during_s
drain_ns = ov["drain_ns"]
goodput_gbps = ov["goodput_during_gbps"]
print(f"overload: baseline {reg['rate']['gbps']:.4f} Gb/s, offered during "
      f"{offered * msg_bits / 1e9:.4f} Gb/s ({offered:.0f} ops/s), goodput during "
      f"{goodput_gbps:.4f} Gb/s ({goodput:.0f} ops/s), peak backlog {ov['peak_backlog_ops']} ops "
      f"(expected ~{expected_backlog:.0f}), drained {ov['drained']}, drain "
      f"{'null' if drain_ns is None else f'{drain_ns / 1e6:.0f} ms'}, refused {ov['refused_ops']}")
check(ov["drained"] is True, "the backlog drained")
check(drain_ns is not None and drain_ns > 0, "drain_ns > 0")
check(ov["peak_backlog_ops"] >= 0.5 * expected_backlog,
      f"peak backlog {ov['peak_backlog_ops']} >= half of (offered - goodput) x "
      f"{during_s:g} s = {0.5 * expected_backlog:.0f}")
check(abs(goodput_gbps - found) <= 0.15 * found,
      f"goodput during the overload {goodput_gbps:.4f} Gb/s within 15% of sustainable {found:.4f}")

# The backlog over time: ~0 before the step, growing during it, back to 0 at the end.
before_ns, during_end_ns = ov["before_ns"], ov["before_ns"] + ov["during_ns"]
bins = phase["intervals"]
series = " ".join(str(b["backlog_max_ops"]) for b in bins)
print(f"backlog_max_ops per {bins[0]['length_ns'] / 1e6:.0f} ms bin: {series}")
pre = [b["backlog_max_ops"] for b in bins if b["start_ns"] + b["length_ns"] <= before_ns]
dur = [b["backlog_max_ops"] for b in bins
       if b["start_ns"] >= before_ns and b["start_ns"] + b["length_ns"] <= during_end_ns]
tail = [b["backlog_max_ops"] for b in bins[-3:]]
# "~0" before: a constant-rate arrival may wait for a moment while a send is posted.
check(len(pre) > 0 and max(pre) <= 2, f"backlog ~0 before the step (max {max(pre, default=None)})")
# Rising during the step: each bin at least the running maximum less some noise, and the last
# bins well above the first ones.
slack = max(3, 0.1 * max(dur, default=0))
dips = [i for i in range(1, len(dur)) if dur[i] < max(dur[:i]) - slack]
check(len(dur) >= 4 and not dips, f"backlog non-decreasing during the step (dips at bins {dips})")
check(len(dur) >= 4 and dur[-1] >= dur[0] + 0.5 * expected_backlog,
      f"backlog grew during the step ({dur[0] if dur else None} -> {dur[-1] if dur else None})")
check(all(v == 0 for v in tail), f"backlog back to 0 in the last bins ({tail})")

if failures:
    sys.exit(1)
PY
echo "PASS"
