#!/usr/bin/env bash
# Runs fabricbench's collective suite (regime floor, mpi backend) and the Intel MPI Benchmarks
# (IMB-MPI1) side by side on this host, alternating, and prints fabricbench/IMB ratios of the
# time per collective (docs/PERFORMANCE.md):
#   IMB-MPI1 -npmin N -msglog 3:20 -zero_size off -data_type float
#            Allreduce Allgather Bcast Alltoall Reduce_scatter                (t_avg per size)
#   vs  fabricbench run <config written into OUT>: suite collective, transport mpi, regime floor,
#       all_reduce all_gather alltoall reduce_scatter, float32 sum, out of place, 8B..4MiB x2
#       (N x IMB's #bytes for the last three), broadcast in place (MPI_Bcast's one buffer),
#       1000 iterations, 10 warm-up                     (out_of_place or in_place time_us)
# Both under the same `mpirun -np N <mpi opts>` (default `--mca btl self,vader`).
#
# IMB is the peer and is brought by whoever runs this; it is never built here nor committed.
# For example (Debian's Open MPI: apt-get install -y openmpi-bin libopenmpi-dev):
#   git clone https://github.com/intel/mpi-benchmarks /tmp/imb-src
#   make -C /tmp/imb-src IMB-MPI1 CC=mpicc CXX=mpicxx CPPFLAGS=-DOMPI_SKIP_MPICXX=1
#   # -> /tmp/imb-src/IMB-MPI1 (OMPI_SKIP_MPICXX: Open MPI's C++ binding header fails IMB's
#   #    -Werror with GCC 12; IMB uses the C API only)
#
# How the two line up (docs/METHODOLOGY.md, "Collectives against IMB"):
# - Timing: IMB (default -sync on) times each call alone with MPI_Wtime and puts one MPI_Barrier
#   after it, outside the timed region; a rank's figure is the mean over its calls, t_avg the
#   mean of that over the ranks. fabricbench's floor regime: a barrier before each call, the
#   call timed alone, the per-rank mean, averaged over the ranks (the default combine, avg).
# - Sizes: IMB's #bytes is the count argument in bytes: per rank for Allreduce and Bcast (the
#   whole buffer), the per-rank send block for Allgather, the per-peer block for Alltoall and
#   each rank's received block for Reduce_scatter. fabricbench's size_bytes (nccl-tests) is
#   max(send, recv) bytes per rank: the same for all_reduce and broadcast, N x IMB #bytes for
#   all_gather, alltoall and reduce_scatter. The table shows both columns.
# - Datatype: fabricbench sends float32 for every collective, so IMB gets -data_type float
#   (IMB's default is MPI_BYTE for the non-reductions; reductions are MPI_FLOAT, MPI_SUM).
# - Iterations: IMB keeps its own policy (1000 per size, fewer above 40 KiB: 40 MiB / #bytes,
#   after an untimed calibration and a warm-up of a tenth); --imb-extra "-iter_policy off" gives
#   1000 at every size as fabricbench does.
#
# Order: for each round, for each rank count, IMB then fabricbench in odd rounds, fabricbench
# then IMB in even ones. Reported per collective, rank count and size: the median over rounds of
# the per-round ratio fabricbench/IMB and its min..max, IMB's own run-to-run spread (its t_avg
# per round over its median), and the median of that spread; and the verdict of ci/compare_judge.py
# on the median ratio against --target (default 1.05, fabricbench's time within 5% of IMB's
# t_avg; lower is better): PASS, WITHIN-NOISE (misses by less than max - min of the row's
# per-round ratios) or MISS. The load (/proc/loadavg, runnable processes) is recorded before
# and after the rounds. Every row, judged, goes to one JSON file (docs/PERFORMANCE.md, "How the
# comparisons judge").
#
# Usage: ci/compare-imb.sh --imb PATH/IMB-MPI1 --fabricbench PATH/fabricbench
#          [--rounds 5] [--ranks "2 4"] [--out DIR] [--mpi-opts "--mca btl self,vader"]
#          [--mpirun "mpirun ..."] [--imb-extra "ARGS"] [--timeout SECS] [--imb-only]
#          [-o FILE] [--target RATIO]
#   -o FILE      the JSON file with every row judged (default $FB_COMPARE_JSON, else
#                compare-imb.json in the current directory)
#   --out        where the config, every raw output and the table (compare.md) go; must be empty
#                or absent (default: a new /tmp/fabricbench-compare-imb.XXXXXX, kept)
#   --mpirun     the launcher without -np (default: mpirun, plus --oversubscribe for Open MPI and
#                --allow-run-as-root for Open MPI as root)
#   --imb-only   runs IMB alone (no --fabricbench): its figures and run-to-run spread
# Exit: 0 done, 1 a run failed (its log is named), 2 usage or missing tool.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py="$here/compare-imb.py"

die2() { echo "compare-imb: $*" >&2; exit 2; }
imb="" fb="" rounds=5 ranks="2 4" out="" mpi_opts="--mca btl self,vader" mpirun_cmd="" imb_extra=""
run_timeout=900 imb_only=0 json=${FB_COMPARE_JSON:-compare-imb.json} target=1.05
cmdline="$0 $*"
while [ $# -gt 0 ]; do
  case $1 in
    --imb) imb=${2:?}; shift 2 ;;
    --fabricbench) fb=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --ranks) ranks=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --mpi-opts) mpi_opts=${2?}; shift 2 ;;
    --mpirun) mpirun_cmd=${2:?}; shift 2 ;;
    --imb-extra) imb_extra=${2?}; shift 2 ;;
    --timeout) run_timeout=${2:?}; shift 2 ;;
    --imb-only) imb_only=1; shift ;;
    -o | --output) json=${2:?}; shift 2 ;;
    --target) target=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die2 "unknown argument '$1' (--help)" ;;
  esac
done

for tool in python3 timeout mpirun; do
  command -v "$tool" >/dev/null || die2 "$tool not found"
done
[ -n "$imb" ] || die2 "--imb PATH/IMB-MPI1 is required (see --help: how to build it outside this tree)"
[ -x "$imb" ] || die2 "$imb is not an executable IMB-MPI1"
if [ "$imb_only" = 0 ]; then
  [ -n "$fb" ] || die2 "--fabricbench PATH is required (or --imb-only)"
  [ -x "$fb" ] || die2 "$fb not built (cmake --build --preset release)"
  fb=$(cd "$(dirname "$fb")" && pwd)/$(basename "$fb")
fi
imb=$(cd "$(dirname "$imb")" && pwd)/$(basename "$imb")
json=$(realpath -m "$json")
python3 -c 'import sys; float(sys.argv[1]) > 0 or sys.exit(1)' "$target" 2>/dev/null || die2 "--target wants a positive ratio, not '$target'"
case $rounds in '' | *[!0-9]* | 0) die2 "--rounds must be a positive integer, not '$rounds'" ;; esac
case $run_timeout in '' | *[!0-9]* | 0) die2 "--timeout must be a positive integer, not '$run_timeout'" ;; esac
for n in $ranks; do
  case $n in '' | *[!0-9]* | 0 | 1) die2 "--ranks: each rank count must be an integer >= 2, not '$n'" ;; esac
done
[ -n "${ranks// /}" ] || die2 "--ranks is empty"

if [ -z "$mpirun_cmd" ]; then
  mpirun_cmd=mpirun
  if mpirun --version 2>&1 | grep -q "Open MPI"; then
    mpirun_cmd+=" --oversubscribe"
    if [ "$(id -u)" = 0 ]; then mpirun_cmd+=" --allow-run-as-root"; fi
  fi
fi

if [ -z "$out" ]; then
  out=$(mktemp -d /tmp/fabricbench-compare-imb.XXXXXX)
else
  if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
    die2 "--out $out is not empty (give a new directory)"
  fi
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
fi

config="$out/imb-compare.yaml"
cat >"$config" <<'YAML'
# written by ci/compare-imb.sh
fabricbench: 1
name: imb-compare
defaults:
  repetitions: 1
  iterations: 1000
  warmup: 10
cases:
  - name: floor
    suite: collective
    transport: mpi
    regime: {kind: floor}
    collective: [all_reduce, all_gather, alltoall, reduce_scatter]
    type: float32
    redop: sum
    placement: out_of_place
    sizes: 8B..4MiB x2
  # IMB's Bcast has one buffer on every rank: MPI_Bcast's own (in place) shape.
  - name: floor-bcast
    suite: collective
    transport: mpi
    regime: {kind: floor}
    collective: broadcast
    type: float32
    placement: in_place
    sizes: 8B..1MiB x2
YAML

imb_benches="Allreduce Allgather Bcast Alltoall Reduce_scatter"

pids=()  # every process started here that may still run; killed on exit
cleanup() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM
forget() { local p keep=(); for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=("${keep[@]}"); }

# Runs a command bounded in time, in the background and waited for, so that a signal reaches the
# traps at once. $1 seconds, $2 log file, then the command.
bounded() {
  local secs=$1 log=$2 p rc=0; shift 2
  timeout "$secs" "$@" >"$log" 2>&1 &
  p=$!; pids+=("$p")
  wait "$p" || rc=$?
  forget "$p"
  return "$rc"
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -n), $(nproc) cores, $(uname -r)"
  echo "mpirun: $mpirun_cmd -np N $mpi_opts ($(mpirun --version 2>&1 | head -1))"
  echo "imb: $imb -npmin N -msglog 3:20 -zero_size off -data_type float $imb_extra $imb_benches"
  [ "$imb_only" = 1 ] || echo "fabricbench: $fb run $config -o $out/run-N-roundK"
  echo "rounds: $rounds, ranks: $ranks"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
} >"$out/meta.txt"
python3 "$here/compare_judge.py" load >"$out/load-before.json"
cat "$out/meta.txt"
# MPI's shared-memory collectives spin: anything else on the cores shows up as noise in both tools.
if python3 -c 'import os, sys; sys.exit(0 if os.getloadavg()[0] > 0.5 * os.cpu_count() else 1)' 2>/dev/null; then
  echo "compare-imb: warning: load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores; other work is running and the figures will be noisy" >&2
fi

if [ "$imb_only" = 0 ]; then
  # The keys are checked before anything is measured (exit 2: the config, not the run).
  if ! "$fb" validate "$config" >"$out/validate.log" 2>&1; then
    echo "compare-imb: fabricbench does not accept $config:" >&2
    cat "$out/validate.log" >&2
    exit 2
  fi
fi

load1() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?"; }
why() { if [ "$1" = 124 ]; then echo "timed out after ${run_timeout} s"; else echo "exit $1"; fi; }
since() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f} s")' "$1" "$EPOCHREALTIME"; }

run_imb() {  # $1 ranks, $2 round
  local n=$1 k=$2 log="$out/imb-$1-round$2.txt" t0 rc=0 load
  load=$(load1); t0=$EPOCHREALTIME
  # shellcheck disable=SC2086  # the option strings are word-split on purpose
  bounded "$run_timeout" "$log" $mpirun_cmd -np "$n" $mpi_opts "$imb" -npmin "$n" -msglog 3:20 \
    -zero_size off -data_type float $imb_extra $imb_benches || rc=$?
  if [ "$rc" != 0 ]; then
    { echo "--- the last 30 lines of $log:"; tail -n 30 "$log"; echo "---"; } >&2
    echo "compare-imb: IMB-MPI1 failed ($(why "$rc")) at $n ranks, round $k; its output: $log" >&2
    exit 1
  fi
  python3 "$py" check-imb "$log" "$n" || { echo "compare-imb: $log is not a complete IMB table (above)" >&2; exit 1; }
  echo "  IMB $(since "$t0") (load average before: $load)"
}

run_fb() {  # $1 ranks, $2 round
  local n=$1 k=$2 dir="$out/run-$1-round$2" log="$out/run-$1-round$2.log" t0 rc=0 load
  load=$(load1); t0=$EPOCHREALTIME
  # shellcheck disable=SC2086
  bounded "$run_timeout" "$log" $mpirun_cmd -np "$n" $mpi_opts "$fb" run "$config" -o "$dir" || rc=$?
  if [ "$rc" != 0 ]; then
    { echo "--- the last 30 lines of $log:"; tail -n 30 "$log"; echo "---"; } >&2
    if [ -f "$dir/run.json" ]; then python3 "$py" check-fb "$dir/run.json" "$n" || true; fi
    echo "compare-imb: fabricbench run failed ($(why "$rc")) at $n ranks, round $k; its output: $log" >&2
    exit 1
  fi
  python3 "$py" check-fb "$dir/run.json" "$n" || { echo "compare-imb: $dir/run.json lacks figures (above); run output: $log" >&2; exit 1; }
  echo "  fabricbench $(since "$t0") (load average before: $load)"
}

for k in $(seq 1 "$rounds"); do
  for n in $ranks; do
    echo "round $k, $n ranks:"
    if [ "$imb_only" = 1 ]; then
      run_imb "$n" "$k"
    elif [ $((k % 2)) = 1 ]; then
      run_imb "$n" "$k"; run_fb "$n" "$k"
    else
      run_fb "$n" "$k"; run_imb "$n" "$k"
    fi
  done
  if [ $((k % 2)) = 1 ]; then printf '%s\tpeer\n' "$k"; else printf '%s\tfabricbench\n' "$k"; fi >>"$out/order.tsv"
done
python3 "$here/compare_judge.py" load >"$out/load-after.json"

fb_flag=()
[ "$imb_only" = 1 ] && fb_flag=(--imb-only)
python3 "$py" report "$out" --rounds "$rounds" --ranks "$ranks" "${fb_flag[@]}" --target "$target" \
  --json "$json" --load-before "$out/load-before.json" --load-after "$out/load-after.json" \
  --order "$out/order.tsv" --command-line "$cmdline" | tee "$out/compare.md"
echo "raw outputs, config and this table (compare.md): $out"
