#!/usr/bin/env bash
# The collective suite over the mpi backend, end to end under mpirun (4 ranks on this host):
#   matrix   every collective, every type and op MPI has, out of place and in place: #wrong 0;
#            the types and ops MPI lacks are skipped with the reason
#   corrupt  one rank's all_reduce results altered (a PMPI shim): the case fails naming that rank
#   kill     rank 2 killed (SIGKILL) in the middle of an all_reduce: every other rank fails within
#            timeouts.peer naming rank 2, and nothing is left running
#   stop     rank 2 stopped (SIGSTOP) in the middle: the same
#   kill_nonblocking, stop_nonblocking: the same with mpi.calls nonblocking (MPI_Iallreduce)
#   long     a run several times longer than timeouts.peer (blocking calls, warm-up included)
#            completes: progress is published as collectives complete, so it is not a stall
#   hang     rank 2 wedged inside an MPI_Allreduce (a PMPI shim; alive, its side channel fine):
#            no collective completes for timeouts.peer, every rank fails saying so, the run
#            document is written, nothing is left running
#   realistic all_reduces on a shared schedule (200/s for 1 s): the regime's figures recorded,
#            every scheduled collective issued, #wrong 0
# Usage: mpi-e2e.sh SCENARIO FABRICBENCH CORRUPT_SHIM
set -euo pipefail
scenario=$1
fb=$2
shim=$3
work=$(mktemp -d /tmp/fabricbench-coll-XXXXXX)
mpirun_pid=""
cleanup() {
  if [ -n "$mpirun_pid" ]; then kill -9 "$mpirun_pid" 2>/dev/null || true; fi
  pkill -9 -f "^$fb run $work" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
mpirun_cmd=(mpirun --allow-run-as-root --oversubscribe -np 4 --mca btl self,vader)
# Open MPI's own allocations are not ours to report (ASan builds); the corrupting shim is
# preloaded ahead of the ASan runtime.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0:verify_asan_link_order=0"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

doc() {  # doc PYTHON-EXPRESSION over d (run.json)
  python3 -c "import json,sys; d=json.load(open('$work/run/run.json')); $1"
}

# expect_failed_everywhere STDERR_PATTERN TEXT...: ranks 1 and 3 said STDERR_PATTERN (grep) about
# the failure on stderr; rank 0's document has the run and its case failed, the case's error
# containing every TEXT.
expect_failed_everywhere() {
  local pattern=$1
  shift
  for r in 1 3; do
    grep -q "rank $r: .*$pattern" "$work/out.log" ||
      { cat "$work/out.log"; fail "rank $r did not say: $pattern"; }
  done
  NEEDLES=$(printf '%s\n' "$@") doc "
import os
c = d['cases'][0]
assert d['run']['status'] == 'failed', d['run']['status']
assert c['status'] == 'failed', c['status']
msg = c['errors'][0]['message']
for needle in os.environ['NEEDLES'].splitlines():
    assert needle in msg, (needle, msg)
print('rank 0 recorded:', msg)
"
}

case "$scenario" in
  matrix)
    cat > "$work/matrix.yaml" <<'YAML'
fabricbench: 1
name: collectives-matrix
timeouts: {peer: 20s}
defaults:
  iterations: 5
  warmup: 1
cases:
  - name: reducing
    suite: collective
    transport: mpi
    collective: [all_reduce, reduce_scatter, reduce]
    type: [int8, uint8, int32, uint32, int64, uint64, float32, float64, float16, bfloat16]
    redop: [sum, prod, min, max, avg]
    root: 3
    sizes: [1000B, 64KiB]
  - name: moving
    suite: collective
    transport: mpi
    collective: [all_gather, broadcast, alltoall, gather, scatter, sendrecv]
    type: [int8, uint8, int32, uint32, int64, uint64, float32, float64, fp8_e4m3]
    root: 1
    sizes: [1000B, 64KiB]
YAML
    "${mpirun_cmd[@]}" "$fb" run "$work/matrix.yaml" -o "$work/run" > "$work/out.log" 2>&1 ||
      { tail -30 "$work/out.log"; fail "the matrix run failed"; }
    doc "
ok = skipped = 0
for c in d['cases']:
    if c['status'] == 'skipped':
        p = c['params']
        reason = c['skip_reason']
        assert ('MPI has no' in reason), (c['id'], reason)
        skipped += 1
        continue
    assert c['status'] == 'ok', (c['id'], c['status'], c.get('errors'))
    for rep in c['repetitions']:
        col = rep['collective']
        for placement in ('out_of_place', 'in_place'):
            f = col[placement]
            assert f['wrong'] == 0, (c['id'], placement, f['wrong'])
            assert f['time_us'] > 0 or col['size_bytes'] == 0, (c['id'], placement)
    ok += 1
# MPI: 3 reducing x 8 types x 4 ops + 6 moving x 8 types, at 2 sizes.
assert ok == (3 * 8 * 4 + 6 * 8) * 2, ok
# float16/bfloat16 (any op), avg (MPI types) and fp8 are skipped.
assert skipped == (3 * 2 * 5 + 3 * 8 * 1 + 6 * 1) * 2, skipped
print(f'{ok} cases exact (#wrong 0, out of place and in place), {skipped} skipped with the reason')
"
    grep -q "Out of bounds values : 0 OK" "$work/out.log" || fail "no nccl-tests footer"
    ;;
  realistic)
    cat > "$work/realistic.yaml" <<'YAML'
fabricbench: 1
name: collectives-realistic
cases:
  - name: step
    suite: collective
    transport: mpi
    collective: all_reduce
    sizes: 64KiB
    duration: 1s
    warmup: 50ms
    placement: out_of_place
    regime: {kind: realistic, rate: 200/s, arrival: poisson, deadline: 50ms}
YAML
    "${mpirun_cmd[@]}" "$fb" run "$work/realistic.yaml" -o "$work/run" > "$work/out.log" 2>&1 ||
      { tail -30 "$work/out.log"; fail "the realistic run failed"; }
    doc "
c = d['cases'][0]
assert c['status'] == 'ok', (c['status'], c.get('errors'))
rep = c['repetitions'][0]
assert rep['collective']['regime'] == 'realistic', rep['collective']['regime']
assert rep['ops'] == 200, rep['ops']  # rate x duration, the same on every rank
h = rep['regime']['headline']
assert h['offered_rate_per_s'] == 200 and h['arrival'] == 'poisson', h
assert 0 < h['lat_p50_ns'] <= h['lat_p99_ns'] <= h['lat_max_ns'], h
assert h['queue_age_p99_ns'] >= 0 and h['deadline_misses'] >= 0 and h['deadline_ns'] == 50000000, h
assert rep['collective']['out_of_place']['wrong'] == 0
print('realistic: 200 all_reduces on a Poisson schedule; p50/p99 from the intended time',
      h['lat_p50_ns'], h['lat_p99_ns'], 'ns; deadline misses', h['deadline_misses'])
"
    ;;
  corrupt)
    cat > "$work/corrupt.yaml" <<'YAML'
fabricbench: 1
name: collectives-corrupt
cases:
  - name: corrupt
    suite: collective
    transport: mpi
    collective: all_reduce
    type: int32
    sizes: 4KiB
    iterations: 10
YAML
    rc=0
    "${mpirun_cmd[@]}" -x LD_PRELOAD="$shim" -x FB_TEST_CORRUPT_RANK=2 "$fb" run \
      "$work/corrupt.yaml" -o "$work/run" > "$work/out.log" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || fail "a run with wrong results exited 0"
    doc "
c = d['cases'][0]
assert c['status'] == 'failed', c['status']
msg = c['errors'][0]['message']
assert 'wrong results: rank 2:' in msg and 'element 512' in msg, msg
w = c['repetitions'][0]['collective']
assert w['out_of_place']['wrong'] == 1 and w['in_place']['wrong'] == 1, w
print('failed as it must:', msg)
"
    ;;
  long)
    cat > "$work/long.yaml" <<'YAML'
fabricbench: 1
name: collectives-long
timeouts: {peer: 1s}
cases:
  - name: long
    suite: collective
    transport: mpi
    collective: all_reduce
    sizes: 64KiB
    iterations: 6000
    warmup: 1000
    placement: out_of_place
YAML
    start=$(date +%s.%N)
    "${mpirun_cmd[@]}" "$fb" run "$work/long.yaml" -o "$work/run" > "$work/out.log" 2>&1 ||
      { tail -20 "$work/out.log"; fail "a long healthy run failed"; }
    took=$(echo "$(date +%s.%N) - $start" | bc)
    doc "
c = d['cases'][0]
assert c['status'] == 'ok', (c['status'], c.get('errors'))
"
    awk -v t="$took" 'BEGIN { exit !(t > 2) }' ||
      echo "note: the run took only ${took}s; it shows less than intended on this machine"
    echo "a ${took}s run with timeouts.peer 1s completed (no false stall)"
    ;;
  hang)
    cat > "$work/hang.yaml" <<'YAML'
fabricbench: 1
name: collectives-hang
timeouts: {peer: 3s}
cases:
  - name: long
    suite: collective
    transport: mpi
    collective: all_reduce
    sizes: 4KiB
    iterations: 100000000
    placement: out_of_place
YAML
    start=$(date +%s.%N)
    rc=0
    timeout 60 "${mpirun_cmd[@]}" -x LD_PRELOAD="$shim" -x FB_TEST_HANG_RANK=2 "$fb" run \
      "$work/hang.yaml" -o "$work/run" > "$work/out.log" 2>&1 || rc=$?
    took=$(echo "$(date +%s.%N) - $start" | bc)
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { cat "$work/out.log"; fail "exit $rc (124: hung)"; }
    expect_failed_everywhere "no rank completed a collective for 3.0 s" \
      "no rank completed a collective for 3.0 s" "all_reduce float32 sum, 4KiB"
    sleep 0.5
    if pgrep -f "^$fb run $work" > /dev/null; then fail "ranks left running"; fi
    echo "a rank wedged inside MPI_Allreduce: every rank failed within ${took}s; nothing left running"
    ;;
  kill | stop | kill_nonblocking | stop_nonblocking)
    signal=KILL
    calls=blocking
    case "$scenario" in stop*) signal=STOP ;; esac
    case "$scenario" in *_nonblocking) calls=nonblocking ;; esac
    peer_s=4
    cat > "$work/hang.yaml" <<YAML
fabricbench: 1
name: collectives-$scenario
timeouts: {peer: ${peer_s}s}
cases:
  - name: long
    suite: collective
    transport: mpi
    collective: all_reduce
    sizes: 64KiB
    iterations: 100000000
    placement: out_of_place
    mpi: {calls: $calls}
YAML
    "${mpirun_cmd[@]}" "$fb" run "$work/hang.yaml" -o "$work/run" > "$work/out.log" 2>&1 &
    mpirun_pid=$!
    # Wait until the ranks are in the case (run.json names it as the case in progress), give its
    # set-up time to finish so that the all_reduces run, then signal rank 2.
    victim=""
    in_case() {
      python3 -c "import json; d=json.load(open('$work/run/run.json'))
raise SystemExit(0 if d['run'].get('interrupted_case', '').startswith('long.') else 1)" 2>/dev/null
    }
    for _ in $(seq 1 300); do
      victim=$(pgrep -f "^$fb run $work" | while read -r p; do
        [ "$(cat /proc/"$p"/comm 2>/dev/null)" = "fabricbench r2" ] && echo "$p"; done | head -1) ||
        true
      [ -n "$victim" ] && in_case && break
      sleep 0.1
    done
    [ -n "$victim" ] && in_case || fail "rank 2 never reached the case"
    sleep 1.5
    start=$(date +%s.%N)
    kill -"$signal" "$victim"
    rc=0
    # Bounded: timeouts.peer plus the side channel's grace, plus mpirun's own teardown.
    for _ in $(seq 1 300); do
      kill -0 "$mpirun_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$mpirun_pid" 2>/dev/null; then
      fail "the run still runs 30 s after rank 2 was sent SIG$signal"
    fi
    wait "$mpirun_pid" || rc=$?
    mpirun_pid=""
    took=$(echo "$(date +%s.%N) - $start" | bc)
    [ "$rc" -ne 0 ] || fail "exit 0 after rank 2 was lost"
    # Every surviving rank names rank 2 (rank 0 in the document, 1 and 3 on stderr).
    expect_failed_everywhere "rank 2 (.*\(lost\|did not answer\)" \
      "rank 2 (" "all_reduce float32 sum, 64KiB"
    awk -v t="$took" -v p="$peer_s" 'BEGIN { if (t > p + 10) { exit 1 } }' ||
      fail "took ${took}s (timeouts.peer ${peer_s}s)"
    sleep 0.5
    if pgrep -f "^$fb run $work" > /dev/null; then
      pgrep -af "^$fb run $work"
      fail "ranks left running"
    fi
    echo "SIG$signal to rank 2 ($calls calls): every rank failed naming it within ${took}s;" \
      "nothing left running"
    ;;
  *)
    fail "unknown scenario $scenario"
    ;;
esac
