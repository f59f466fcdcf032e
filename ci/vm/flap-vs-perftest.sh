#!/usr/bin/env bash
# The same 1 s link flap under perftest and under fabricbench, on the two Soft-RoCE guests
# (docs/VM-FABRIC.md), side by side (docs/PERFORMANCE.md "Link flap on the Soft-RoCE fabric").
#
#   ci/vm/flap-vs-perftest.sh [OPTIONS] BUILD_DIR
#
# BUILD_DIR is a CMake build tree: fabricbench is BUILD_DIR/fabricbench, the guest images are
# cached in BUILD_DIR/vm-guest (as the ctest `vm` tests do).
#
# 1. perftest, one boot: ib_send_bw -d rxe0 -x 1 -s 65536 -D 6 --report_gbits, the server
#    (receiver) in guest 1, the client (sender) in guest 0, as fabricbench's stream (rank 0 sends,
#    rank 1 receives and injects). Guest 1 starts the flap when its server prints the result
#    header (the measurement starts): `sleep 2; ip link set dev eth0 down; sleep 1; ip link set
#    dev eth0 up` in the background (the `sleep 1` shortened by the time `ip link set down`
#    took, at real-time priority), the link brought up again on any exit (trap). Three runs:
#    the default QP timeout (-u 14) and -u 18, like fabricbench's two verbs cases, both with
#    perftest's retry_cnt 7, which rxe takes as "retry forever"; then rdma_cm (-R) with
#    --retry_count=6, the budget fabricbench's QPs get on rxe (the ACK timeout is rdma_cm's).
#    Each side's exit code and output are recorded, the rxe0 state changes from dmesg too.
# 2. fabricbench: configs/vm-flap.yaml (tcp, verbs timeout 14 with on_break: reconnect, verbs
#    timeout 18, verbs timeout 14, the same flap)
#    with ci/vm/run-experiment.sh; its exit code, each case's outcome, stall, ttr90, first byte,
#    errors and events, and guest 1's own error and fault record when a case fails there (only
#    rank 0 writes the document).
# Prints both; exit 0 when both tools ran (whatever they reported), 1 when a guest or script
# broke, 77 when no VM can be had here.
#
# Options:
#   --fabricbench BIN   default BUILD_DIR/fabricbench
#   --guest-dir D       default BUILD_DIR/vm-guest
#   --keep DIR          keep every output (perftest logs, run document, guest logs) in DIR
#   --only perftest|fabricbench
# Traffic stays between the guests (198.51.100.1/.2) on fabric.sh's 127.0.0.1 link.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}
bin="" guest_dir="" keep="" only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --fabricbench) bin="$2"; shift 2 ;;
    --guest-dir) guest_dir="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "flap-vs-perftest: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || usage
build="$1"
bin="${bin:-$build/fabricbench}"
guest_dir="${guest_dir:-$build/vm-guest}"
case "$only" in "" | perftest | fabricbench) ;; *) usage ;; esac
if [ "$only" != perftest ]; then
  [ -x "$bin" ] || { echo "flap-vs-perftest: $bin is not an executable" >&2; exit 2; }
fi
if ! command -v ib_send_bw >/dev/null; then
  if [ "$(id -u)" -ne 0 ] || [ "${FB_VM_NO_INSTALL:-0}" = 1 ]; then
    echo "SKIP: flap-vs-perftest: perftest is not installed" >&2
    exit 77
  fi
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq perftest >/dev/null 2>&1 || {
    echo "SKIP: flap-vs-perftest: apt-get install perftest failed" >&2
    exit 77
  }
fi

if [ -n "$keep" ]; then
  mkdir -p "$keep"
  work="$(cd "$keep" && pwd)"
  tmp="$(mktemp -d /tmp/fb-flap-vs-perftest.XXXXXX)"
  trap 'rm -rf "$tmp"' EXIT
else
  tmp="$(mktemp -d /tmp/fb-flap-vs-perftest.XXXXXX)"
  work="$tmp"
  trap 'rm -rf "$tmp"' EXIT
fi

# ---- 1. perftest ---------------------------------------------------------------------------------
cat >"$tmp/perftest-flap.sh" <<'GUEST'
#!/usr/bin/env bash
# Runs in each guest (ci/vm/fabric.sh): guest 1 is the ib_send_bw server (receiver) and takes its
# own eth0 down for 1 s, 2 s into the measurement; guest 0 is the client (sender). Records each
# tool's exit code; exits 0 unless the script itself breaks, so that fabric.sh never stops the
# other guest early.
set -u
out=$FABRIC_OUT
iface=$FABRIC_IFACE
up() { ip link set dev "$iface" up; }
[ "$FABRIC_GUEST" = 1 ] && trap up EXIT   # whatever happens, the link comes back
stamp() { cut -d' ' -f1 /proc/uptime; }
run() { # name port extra-args...
  local name=$1 port=$2 rc
  shift 2
  # perftest polls its CQ: "Duration mode doesn't work with events" (-e), unlike fabricbench's
  # blocking completions. The poller shares the guest's one vCPU with the flap's own timers
  # (`sleep 2` takes 2-3 s) and with rxe, so the outage is timed from dmesg, not from the sleeps.
  local args=(-d "$FABRIC_RDMA_DEV" -x "$FABRIC_GID_INDEX" -s 65536 -D 6 --report_gbits -F
              -p "$port" "$@")
  if [ "$FABRIC_GUEST" = 1 ]; then
    echo "ib_send_bw ${args[*]}" >"$out/$name.server.cmd"
    stdbuf -oL -eL timeout 120 ib_send_bw "${args[@]}" >"$out/$name.server.txt" 2>&1 &
    local pid=$! flap=""
    # The result header is printed when the measurement starts (after the connection is made).
    for _ in $(seq 1 900); do
      grep -q '#bytes' "$out/$name.server.txt" 2>/dev/null && break
      kill -0 $pid 2>/dev/null || break
      sleep 0.1
    done
    if grep -q '#bytes' "$out/$name.server.txt"; then
      echo "measurement started at uptime $(stamp)" >"$out/$name.flap.txt"
      (
        # Real-time priority: the polling ib_send_bw would otherwise delay the sleeps by 1 s.
        chrt -f -p 50 "$BASHPID" >/dev/null 2>&1 || true
        sleep 2
        t0=$(date +%s.%N)
        echo "down at $(stamp)"; ip link set dev "$iface" down; echo "down done at $(stamp)"
        # Up 1 s after the down command started (as fabricbench's plan: clear at start + hold),
        # not 1 s after it ended: `ip link set down` itself takes 0.2-0.5 s here.
        sleep "$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { d = 1 - (now - t0); print (d > 0 ? d : 0) }')"
        echo "up at $(stamp)"; ip link set dev "$iface" up; echo "up done at $(stamp)"
      ) >>"$out/$name.flap.txt" 2>&1 &
      flap=$!
    else
      echo "no measurement started: no flap" >"$out/$name.flap.txt"
    fi
    wait $pid
    rc=$?
    [ -z "$flap" ] || wait "$flap"
    up
    echo $rc >"$out/$name.server.rc"
    # Wait for the link (and rxe0's GID) to be usable again before the next run.
    for _ in $(seq 1 100); do
      ip -br link show dev "$iface" | grep -q LOWER_UP && break
      sleep 0.1
    done
    sleep 1
  else
    echo "ib_send_bw ${args[*]} $FABRIC_PEER_IP" >"$out/$name.client.cmd"
    for _ in $(seq 1 240); do   # the server may not be listening yet: retry for up to 2 min
      timeout 120 ib_send_bw "${args[@]}" "$FABRIC_PEER_IP" >"$out/$name.client.txt" 2>&1
      rc=$?
      # Retry only while the server is not up yet (the connection was refused).
      [ $rc -ne 0 ] && ! grep -q '#bytes' "$out/$name.client.txt" &&
        grep -q "Couldn't connect\|Unable to open file descriptor\|Failed to connect\|Unable to perform rdma_client" \
          "$out/$name.client.txt" || break
      sleep 0.5
    done
    echo $rc >"$out/$name.client.rc"
  fi
}
# perftest's QPs use retry_cnt 7, which rxe takes as "retry forever"; with rdma_cm (-R) the
# retry count can be set: 6, the budget fabricbench's QPs get on rxe (it lowers 7 to 6).
run u14 18601
run u18 18602 -u 18
run cm-r6 18603 -R --retry_count=6
dmesg | grep -E 'rxe0: set (down|active)' >"$out/rxe-states.txt" || true
exit 0
GUEST
chmod a+r "$tmp/perftest-flap.sh"

perftest_rc=0
if [ "$only" != fabricbench ]; then
  echo "flap-vs-perftest: perftest ib_send_bw -D 6 with a 1 s flap of guest 1's eth0 at 2 s" >&2
  # shellcheck disable=SC2016 # $FABRIC_OUT is expanded by the guest, not here
  "$here/fabric.sh" --build-dir "$guest_dir" --timeout 300 --tail 0 --out "$work/perftest" \
    --put "$tmp/perftest-flap.sh" -- 'bash $FABRIC_OUT/perftest-flap.sh' \
    >"$work/perftest.log" 2>&1 || perftest_rc=$?
  [ $perftest_rc -eq 77 ] && { cat "$work/perftest.log" >&2; exit 77; }
  if [ $perftest_rc -ne 0 ]; then
    echo "flap-vs-perftest: the perftest guests failed (fabric.sh exit $perftest_rc):" >&2
    tail -n 60 "$work/perftest.log" >&2
  fi
fi

# ---- 2. fabricbench ------------------------------------------------------------------------------
fb_rc=0
if [ "$only" != perftest ]; then
  echo "flap-vs-perftest: fabricbench run configs/vm-flap.yaml" >&2
  "$here/run-experiment.sh" --build-dir "$guest_dir" --timeout 400 "$bin" \
    "$repo/configs/vm-flap.yaml" "$work/fabricbench" >"$work/fabricbench.log" 2>&1 || fb_rc=$?
  [ $fb_rc -eq 77 ] && { cat "$work/fabricbench.log" >&2; exit 77; }
fi

# ---- report --------------------------------------------------------------------------------------
python3 - "$work" "$only" "$fb_rc" <<'PY'
import json, os, re, sys
work, only, fb_rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
broken = False

def read(path, default=None):
    try:
        return open(path, errors="replace").read()
    except OSError:
        return default

if only != "fabricbench":
    g0, g1 = os.path.join(work, "perftest", "g0"), os.path.join(work, "perftest", "g1")
    print("== perftest ib_send_bw, 64 KiB, -D 6, 1 s flap of guest 1's eth0 (the receiver) 2 s in")
    for name, what in (("u14", "QP timeout 14 (default), retry_cnt 7 (rxe: forever)"),
                       ("u18", "QP timeout 18 (-u 18), retry_cnt 7 (rxe: forever)"),
                       ("cm-r6", "rdma_cm (-R), --retry_count=6, the ACK timeout rdma_cm sets")):
        print("-- %s: client (sender, guest 0): %s" % (what, (read(os.path.join(g0, name + ".client.cmd")) or "?").strip()))
        for side, g in (("client", g0), ("server", g1)):
            rc = (read(os.path.join(g, "%s.%s.rc" % (name, side))) or "none").strip()
            text = read(os.path.join(g, "%s.%s.txt" % (name, side)), "")
            if rc == "none":
                broken = True
            errors = [l.strip() for l in text.splitlines()
                      if re.search(r"error|fail|couldn't|unable|retry|exceed", l, re.I)]
            row = next((l.split() for l in text.splitlines()
                        if l.split()[:1] == ["65536"] and len(l.split()) >= 4), None)
            bw = "BW average %s Gb/s" % row[3] if row else "no result row"
            print("   %-6s rc %-4s %s%s" % (side, rc, bw,
                  "" if not errors else "; " + " | ".join(errors[:6])))
        flap = (read(os.path.join(g1, name + ".flap.txt")) or "").split("\n")
        print("   flap (guest 1 uptime): " + "; ".join(l for l in flap if l))
    states = (read(os.path.join(g1, "rxe-states.txt")) or "").strip().splitlines()
    print("   guest 1 dmesg: " + "; ".join(s.split("] ", 1)[-1] + " at " + s.split("]")[0].strip("[ ") for s in states))

if only != "perftest":
    print("== fabricbench run configs/vm-flap.yaml: exit %d" % fb_rc)
    fb = os.path.join(work, "fabricbench")
    try:
        doc = json.load(open(os.path.join(fb, "run.json")))
    except (OSError, ValueError) as e:
        print("   no run document: %s" % e)
        doc = None
        broken = True
    if doc:
        print("   run status %s, %d of %d planned cases in the document" % (
            doc["run"]["status"], len(doc["cases"]), len(doc["config"]["resolved"]["cases"])))
        for c in doc["cases"]:
            line = "   %-62s %s" % (c["id"], c["status"])
            for rep in c["repetitions"]:
                f = rep.get("fault") or {}
                r = f.get("recovery") or {}
                ms = lambda v: "-" if v is None else "%.0f ms" % (v / 1e6)
                line += ("; outcome %s, fault %.2f-%.2f s, baseline %.3f Gb/s, stall %s, first byte %s "
                         "and ttr90 %s after clear, link event %s" % (
                             f.get("outcome"), (f.get("start_ns") or 0) / 1e9, (f.get("clear_ns") or 0) / 1e9,
                             r.get("baseline_gbps") or 0, ms(r.get("stall_ns")),
                             ms(r.get("first_byte_after_clear_ns")), ms(r.get("ttr90_from_clear_ns")),
                             ms(f.get("link_event_ns"))))
            for e in c.get("errors") or []:
                line += "\n      error (rank %d, %s): %s" % (e["rank"], e["kind"], e["message"])
            kinds = ["%s(rank %d)" % (e["kind"], e["rank"]) for e in doc["events"]
                     if (e.get("detail") or {}).get("case") == c["id"]]
            line += "\n      events: " + (", ".join(kinds) or "none")
            print(line)
        ran = {c["id"] for c in doc["cases"]}
        for p in doc["config"]["resolved"]["cases"]:
            if p.get("id") not in ran:
                print("   %-62s not run (the run stopped at the failed case)" % p.get("id"))
    g1err = read(os.path.join(fb, "vm", "g1", "stderr"), "")
    for l in g1err.splitlines():
        if l.startswith("fabricbench: rank 1: fault record "):
            rec = json.loads(l.split("fault record ", 1)[1])
            acts = ["%s exit %s (%.0f ms)" % (a["what"], a["exit_code"], (a["mono_end_ns"] - a["mono_start_ns"]) / 1e6)
                    for a in rec.get("actions", [])]
            print("   guest 1 (injecting rank) fault record: " + "; ".join(acts))
        elif l.startswith("fabricbench: rank 1:"):
            print("   guest 1: " + l[len("fabricbench: rank 1: "):])
    g0err = read(os.path.join(fb, "vm", "g0", "stderr"), "")
    for l in g0err.splitlines():
        if "terminate called" in l or "what():" in l:
            print("   guest 0: " + l.strip())
    states = [s for s in (read(os.path.join(fb, "vm", "g1", "dmesg"), "") or "").splitlines()
              if re.search(r"rxe0: set (down|active)", s)]
    print("   guest 1 dmesg: " + "; ".join(s.split("] ", 1)[-1] + " at " + s.split("]")[0].strip("[ ") for s in states))
sys.exit(1 if broken else 0)
PY
