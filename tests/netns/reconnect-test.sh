#!/usr/bin/env bash
# TCP on_break policies (docs/CONFIG.md on_break, reconnect_timeout, tcp.user_timeout) under a
# 3 s blackhole on the veth between the namespaces fabricbench creates (reconnect.yaml):
#  1. on_break reconnect: the kernel gives up on the connection after tcp.user_timeout (1 s of
#     unacknowledged data: ETIMEDOUT on the sender; keepalive on the idle receiver), rank 0
#     (the connector) reconnects as soon as the blackhole clears, rank 1 takes it on its kept
#     listener; the case completes with outcome "reconnected", 1 reconnect, the messages lost
#     in the dead connection counted, and the curve back at the link rate within a second;
#  2. on_break fail: the same break ends the case (exit 1) naming the cause (timed out), and
#     its repetition is recorded with outcome aborted;
#  3. reconnect_timeout 1s, shorter than the rest of the outage: the reconnect gives up, the
#     case fails naming both, and a connection.reconnect_failed event is recorded.
# Usage: tests/netns/reconnect-test.sh FABRICBENCH_BINARY. Exit 77: not root / no ip / no netns.
source "$(dirname "${BASH_SOURCE[0]}")/prologue.sh" reconnect-test "$1"

run() {  # NAME EXPECTED_EXIT [--set ...]
  local name="$1" want="$2"
  shift 2
  timeout -s KILL 120 "$bin" run "$here/reconnect.yaml" -o "$tmp/$name" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  local rc=$?
  cat "$tmp/$name.out"
  if [ $rc -ne "$want" ]; then
    echo "FAIL: $name: fabricbench exited $rc, expected $want"
    cat "$tmp/$name.err"
    fail=1
    return 1
  fi
  python3 "$repo/ci/validate-run.py" "$repo/results/schema/run-v1.schema.json" "$tmp/$name" || fail=1
}

echo "== 1: on_break reconnect"
if run reconnect 0; then
  python3 - "$tmp/reconnect/run.json" <<'PY' || fail=1
import json, sys
doc = json.load(open(sys.argv[1]))
problems = []
def check(cond, what):
    if not cond:
        problems.append(what)
c = doc["cases"][0]
check(c["status"] == "ok", "status %s %s" % (c["status"], c.get("errors")))
rep = c["repetitions"][0]
f, r = rep["fault"], rep["fault"]["recovery"]
check(f["outcome"] == "reconnected", "outcome %s" % f["outcome"])
check(f["reconnects"] == 1, "reconnects %s" % f["reconnects"])
start, clear, bin_ns = f["start_ns"], f["clear_ns"], f["bin_ns"]
ev = [e for e in doc["events"] if e["kind"].startswith("connection.")]
broken = [e for e in ev if e["kind"] == "connection.broken"]
back = [e for e in ev if e["kind"] == "connection.reconnected"]
check({e["rank"] for e in broken} == {0, 1}, "broken on ranks %s" % [e["rank"] for e in broken])
check({e["rank"] for e in back} == {0, 1}, "reconnected on ranks %s" % [e["rank"] for e in back])
check(all("timed out" in e["detail"]["cause"] for e in broken),
      "causes %s" % [e["detail"]["cause"] for e in broken])
conn = [e for e in back if e["detail"]["role"] == "connector"]
check(len(conn) == 1 and conn[0]["rank"] == 0, "connector events %s" % conn)
lost = sum(e["detail"]["lost_messages"] for e in back)
check(f["failed_operations"] == lost, "failed_operations %s, events say %s" % (f["failed_operations"], lost))
# The break comes after the user timeout (1 s of unacknowledged data), before the clear.
fe = f["first_error_ns"]
check(fe is not None and start + 0.9e9 <= fe <= clear, "first error at %s ns (fault %s..%s)" % (fe, start, clear))
check(r["detect_error_ns"] is not None and r["detect_error_ns"] >= 0.9e9, "detect_error %s" % r["detect_error_ns"])
# Reconnected soon after the clear (attempts every 250 ms), and the link full again.
check(r["first_byte_after_clear_ns"] is not None and r["first_byte_after_clear_ns"] < 1e9,
      "first byte %s ns after the clear" % r["first_byte_after_clear_ns"])
check(r["ttr90_from_clear_ns"] is not None and r["ttr90_from_clear_ns"] < 1.5e9,
      "ttr90 %s ns after the clear" % r["ttr90_from_clear_ns"])
check(1.7 <= r["baseline_gbps"] <= 2.0, "baseline %.3f Gb/s" % r["baseline_gbps"])
bins = [p["bytes"] for p in rep["intervals"]]
inside = [b for i, b in enumerate(bins) if i * bin_ns >= start + bin_ns and (i + 1) * bin_ns <= clear]
check(len(inside) >= 20 and all(b == 0 for b in inside), "bytes during the blackhole: %s" % inside)
outage = [e["detail"]["outage_ns"] for e in back]
print("reconnect: first error +%.2f s, outages %s ms, lost %d messages, first byte +%s ms, ttr90 +%d ms after clear, B %.2f Gb/s" % (
    (fe - start) / 1e9, [o // 10**6 for o in outage], lost,
    r["first_byte_after_clear_ns"] // 10**6, r["ttr90_from_clear_ns"] // 10**6, r["baseline_gbps"]))
for p in problems:
    print("FAIL: reconnect:", p)
sys.exit(1 if problems else 0)
PY
fi

echo "== 2: on_break fail"
if run fail 1 --set cases[0].on_break=fail; then
  python3 - "$tmp/fail/run.json" <<'PY' || fail=1
import json, sys
doc = json.load(open(sys.argv[1]))
c = doc["cases"][0]
errors = " | ".join(e["message"] for e in c.get("errors", []))
ok = c["status"] == "failed" and "timed out" in errors and "lost" in errors
ok = ok and not any(e["kind"].startswith("connection.") for e in doc["events"])
# The aborted repetition is recorded as such (outcome aborted, with the rank and the error).
rec = (c.get("summary") or {}).get("recovery") or {}
ok = ok and rec.get("outcomes", {}).get("aborted") == 1 and rec.get("aborted", {}).get("repetition") == 0
ok = ok and "timed out" in rec.get("aborted", {}).get("error", "")
print("fail: status %s: %s; recovery %s" % (c["status"], errors, json.dumps(rec)))
sys.exit(0 if ok else 1)
PY
  [ $? -eq 0 ] || { echo "FAIL: on_break fail: expected a failed case naming the timeout"; fail=1; }
fi

echo "== 3: reconnect_timeout shorter than the outage"
if run gives-up 1 --set cases[0].reconnect_timeout=1s; then
  python3 - "$tmp/gives-up/run.json" <<'PY' || fail=1
import json, sys
doc = json.load(open(sys.argv[1]))
c = doc["cases"][0]
errors = " | ".join(e["message"] for e in c.get("errors", []))
kinds = [e["kind"] for e in doc["events"]]
ok = c["status"] == "failed" and "not re-established within 1000 ms" in errors
ok = ok and "connection.reconnect_failed" in kinds
print("gives up: status %s: %s; events %s" % (c["status"], errors, sorted(set(k for k in kinds if k.startswith("connection.")))))
sys.exit(0 if ok else 1)
PY
  [ $? -eq 0 ] || { echo "FAIL: reconnect_timeout: expected a failed case and a reconnect_failed event"; fail=1; }
fi

left="$(comm -13 <(echo "$before") <(ip netns list | awk '{print $1}' | sort) | grep '^fb' || true)"
[ -z "$left" ] || { echo "FAIL: namespaces left behind: $left"; fail=1; }
exit $fail
