#!/usr/bin/env bash
# Link faults with recovery curves, in namespaces fabricbench creates itself (injector netns):
#  1. a 1 s link-down in the middle of a TCP stream: zero bins during the outage, throughput back
#     at 90% of the baseline well under 2 s after the link returns;
#  2. a 2 s blackhole: the longer stall of TCP's retransmission backoff (longer than the hold,
#     and a later recovery than the link-down);
# The veth is shaped to 2 Gb/s (faults.yaml, injector.link_rate): the baseline must be the
# link's (TCP payload 85..100% of it), not whatever a busy CPU moves over an unshaped veth.
#  3. the 1 s link-down under open-loop arrivals at half the link rate (regime realistic): no
#     bytes during the outage, the latency of the operations that arrived in it reaches the
#     outage's length (measured from the intended time), and the backlog drains after the clear;
#  4. kill -9 of fabricbench while a fault is injected leaves no namespace behind (the watchdog).
# Usage: tests/netns/faults-test.sh FABRICBENCH_BINARY. Exit 77: not root / no ip / no netns.
source "$(dirname "${BASH_SOURCE[0]}")/prologue.sh" faults-test "$1"

echo "== 1-3: link-down, blackhole, link-down under open-loop load"
timeout -s KILL 120 "$bin" run "$here/faults.yaml" -o "$tmp/run" >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out"
[ $rc -eq 0 ] || { echo "FAIL: fabricbench exited $rc"; cat "$tmp/err"; exit 1; }
python3 "$repo/ci/validate-run.py" "$repo/results/schema/run-v1.schema.json" "$tmp/run" || fail=1
python3 - "$tmp/run/run.json" <<'PY' || fail=1
import json, sys
doc = json.load(open(sys.argv[1]))
problems = []
def check(cond, what):
    if not cond:
        problems.append(what)
cases = {c["id"].split(".")[0]: c for c in doc["cases"]}
figures = {}
for name in ("link-down", "blackhole"):
    c = cases[name]
    check(c["status"] == "ok", "%s: status %s %s" % (name, c["status"], c.get("errors")))
    rep = c["repetitions"][0]
    f = rep["fault"]
    r = f["recovery"]
    check(f["outcome"] == "absorbed", "%s: outcome %s" % (name, f["outcome"]))
    check(r is not None, "%s: no recovery metrics" % name)
    if r is None:
        continue
    bin_ns = f["bin_ns"]
    start, clear = f["start_ns"], f["clear_ns"]
    bins = [p["bytes"] for p in rep["intervals"]]
    # Bins wholly inside the outage carry nothing.
    inside = [b for i, b in enumerate(bins) if i * bin_ns >= start + bin_ns and (i + 1) * bin_ns <= clear]
    check(len(inside) >= 3, "%s: only %d bins inside the outage" % (name, len(inside)))
    check(all(b == 0 for b in inside), "%s: bytes during the outage: %s" % (name, inside))
    check(r["baseline_gbps"] > 0, "%s: baseline %r" % (name, r["baseline_gbps"]))
    check(r["stall_ns"] >= (clear - start) - 2 * bin_ns, "%s: stall %d ns shorter than the outage %d ns" % (name, r["stall_ns"], clear - start))
    # The shaped link sets the baseline: payload Gb/s between 85% and 100% of the 2 Gb/s tbf.
    check(1.7 <= r["baseline_gbps"] <= 2.0, "%s: baseline %.3f Gb/s, not the 2 Gb/s link's" % (name, r["baseline_gbps"]))
    # Traffic resumes at the link's rate: some bin after the clear holds 90% of B. ttr90 (K
    # consecutive such bins) is required after the link-down below (the issue's bound); after
    # the blackhole TCP's loss recovery of a whole window lost to it can leave bins under 90%
    # for a while on a busy machine (seen once in CI), so there it is printed, not required.
    after = [b for i, b in enumerate(bins) if i * bin_ns >= clear]
    check(any(b >= 0.9 * r["baseline_bytes_per_bin"] for b in after),
          "%s: no bin after the clear at 90%% of the baseline: %s" % (name, [round(b * 8 / bin_ns, 2) for b in after]))
    check(r["deficit_bytes"] > 0, "%s: no deficit" % name)
    figures[name] = r
    print("%-10s B %.2f Gb/s, outage %.2f s, stall %.2f s, first byte +%s ms, ttr90 +%s ms after clear, ttr99 +%s ms, deficit %.0f MB" % (
        name, r["baseline_gbps"], (clear - start) / 1e9, r["stall_ns"] / 1e9,
        r["first_byte_after_clear_ns"] and r["first_byte_after_clear_ns"] // 10**6,
        r["ttr90_from_clear_ns"] and r["ttr90_from_clear_ns"] // 10**6,
        r["ttr99_from_clear_ns"] and r["ttr99_from_clear_ns"] // 10**6, r["deficit_bytes"] / 1e6))
    kinds = [e["kind"] for e in doc["events"] if e.get("detail", {}).get("case") == c["id"]]
    check("fault.inject" in kinds and "fault.clear" in kinds, "%s: events %s" % (name, kinds))
    for e in doc["events"]:
        if e["kind"].startswith("fault.") and e["detail"]["case"] == c["id"]:
            check(e["detail"]["exit_code"] == 0, "%s: %s exited %s: %s" % (name, e["detail"]["what"], e["detail"]["exit_code"], e["detail"]["output"]))
if "link-down" in figures:
    ttr = figures["link-down"]["ttr90_from_clear_ns"]
    check(ttr is not None and ttr < 2e9, "link-down: ttr90 after clear %r ns, want < 2 s" % ttr)
if problems:  # the curves, to tell what happened
    for name in ("link-down", "blackhole"):
        rep = cases[name]["repetitions"][0]
        print("%s curve (Gb/s per bin): %s" % (name, [round(p["bytes"] * 8 / rep["fault"]["bin_ns"], 2) for p in rep["intervals"]]))
if "blackhole" in figures and "link-down" in figures:
    b, l = figures["blackhole"], figures["link-down"]
    # Retransmission backoff: the stall outlasts the 2 s blackhole.
    check(b["stall_ns"] > 2e9, "blackhole: stall %d ns, expected longer than the 2 s hold" % b["stall_ns"])
    check((b["first_byte_after_clear_ns"] or 0) > (l["first_byte_after_clear_ns"] or 0),
          "blackhole: first byte after clear %r ns, not later than link-down's %r ns" % (
              b["first_byte_after_clear_ns"], l["first_byte_after_clear_ns"]))
# 3: the link-down under open-loop load (regime realistic, 1 Gb/s offered on a 2 Gb/s link).
c = cases["realistic-link-down"]
check(c["status"] == "ok", "realistic: status %s %s" % (c["status"], c.get("errors")))
if c["status"] == "ok":
    rep = c["repetitions"][0]
    f, r, q = rep["fault"], rep["fault"]["recovery"], rep["fault"]["regime_recovery"]
    start, clear, bin_ns = f["start_ns"], f["clear_ns"], f["bin_ns"]
    outage = clear - start
    bins = rep["regime"]["phase"]["intervals"]
    check(f["outcome"] == "absorbed", "realistic: outcome %s" % f["outcome"])
    check(0.9 <= r["baseline_gbps"] <= 1.1, "realistic: baseline %.3f Gb/s, offered 1 Gb/s" % r["baseline_gbps"])
    inside = [b["completed_bytes"] for i, b in enumerate(bins) if i * bin_ns >= start + bin_ns and (i + 1) * bin_ns <= clear]
    check(len(inside) >= 3 and all(x == 0 for x in inside), "realistic: bytes during the outage: %s" % inside)
    check(q is not None, "realistic: no regime_recovery")
    if q is not None:
        check(q["peak_p99_ns"] >= 0.8 * outage, "realistic: peak p99 %.0f ms, outage %.0f ms" % (q["peak_p99_ns"] / 1e6, outage / 1e6))
        check(q["baseline_p99_ns"] is not None and q["baseline_p99_ns"] < 0.1 * outage, "realistic: baseline p99 %r" % q["baseline_p99_ns"])
        d = q["drained_from_clear_ns"]
        # The backlog (~ outage x offered) drains at (link - offered) ~ the offered rate: about
        # the outage again, after the first byte; bounded loosely.
        check(d is not None and 0.3 * outage <= d <= 4e9, "realistic: drained %r ns after clear (outage %d ns)" % (d, outage))
        print("realistic  B %.2f Gb/s, outage %.2f s, p99 %.1f ms before, peak %.0f ms, first byte +%s ms, drained +%s ms, latency back +%s ms after clear" % (
            r["baseline_gbps"], outage / 1e9, (q["baseline_p99_ns"] or 0) / 1e6, q["peak_p99_ns"] / 1e6,
            r["first_byte_after_clear_ns"] and r["first_byte_after_clear_ns"] // 10**6,
            d and d // 10**6, q["latency_recovered_from_clear_ns"] and q["latency_recovered_from_clear_ns"] // 10**6))
for p in problems:
    print("FAIL:", p)
sys.exit(1 if problems else 0)
PY

echo "== 4: kill -9 during an injected fault"
sed -e 's/duration: 5s/duration: 30s/' -e 's/start: 1500ms, hold: 1s/start: 500ms, hold: 25s/' \
  "$here/faults.yaml" >"$tmp/long.yaml"
timeout -s KILL 60 "$bin" run "$tmp/long.yaml" -o "$tmp/run-killed" >"$tmp/out2" 2>"$tmp/err2" &
pid=$!
# Wait until the link is down in one of the run's namespaces (the fault is injected).
down=""
for _ in $(seq 1 100); do
  for ns in $(comm -13 <(echo "$before") <(ip netns list | awk '{print $1}' | sort)); do
    if ip -n "$ns" link show fbd0 2>/dev/null | grep -q 'state DOWN'; then down="$ns"; fi
  done
  [ -n "$down" ] && break
  sleep 0.1
done
if [ -z "$down" ]; then
  echo "FAIL: the fault never showed (no fbd0 DOWN in the run's namespaces)"
  fail=1
fi
made="$(comm -13 <(echo "$before") <(ip netns list | awk '{print $1}' | sort) | tr '\n' ' ')"
# kill -9 the whole run: the launcher and every rank.
pkill -9 -P "$pid" 2>/dev/null
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
left=""
for _ in $(seq 1 150); do
  left="$(comm -13 <(echo "$before") <(ip netns list | awk '{print $1}' | sort) | tr '\n' ' ')"
  [ -z "${left// /}" ] && break
  sleep 0.1
done
if [ -n "${left// /}" ]; then
  echo "FAIL: namespaces left behind 15 s after kill -9: $left"
  fail=1
else
  echo "ok: the run's namespaces ($made) were removed after kill -9"
fi
exit $fail
