#!/usr/bin/env bash
# Runs one fabricbench experiment across the two-guest Soft-RoCE fabric (ci/vm/fabric.sh) with
# the env launcher: rank 0 in guest 0 (198.51.100.1), rank 1 in guest 1 (198.51.100.2).
#
#   ci/vm/run-experiment.sh [OPTIONS] FABRICBENCH_BINARY CONFIG OUT_DIR [fabricbench run args...]
#
# OUT_DIR receives rank 0's run documents (run.json, journal.jsonl, ...) and, in OUT_DIR/vm/g0
# and OUT_DIR/vm/g1, each guest's stdout, stderr, rc, dmesg and init.log.
# FABRICBENCH_SECRET is random per run, made here and handed to the guests as a file in their out
# share (deleted from OUT_DIR afterwards). FABRICBENCH_ROOT is 198.51.100.1:PORT.
#
# Options (before the positionals):
#   --timeout S       whole run, boot included (default 300)
#   --port P          side-channel port inside the guests (default 29500)
#   --tcp-on-fabric / --no-tcp-on-fabric
#                     add `--set defaults.tcp.address= --set defaults.tcp.interface=eth0` so TCP
#                     cases bind to the fabric link instead of 127.0.0.1 (default: on when the
#                     config mentions tcp)
#   --before CMD      a shell command each guest runs before fabricbench (e.g. tc shaping); the
#                     guest's fabricbench does not start unless it succeeds
#   --build-dir D, --mtu N, --accel A, --nics N    passed to fabric.sh
# Exit codes: rank 0's fabricbench exit code when it ran (0 ok, 1 run failed, 2 usage); otherwise
# fabric.sh's (1 failed, 124 timed out, 77 skipped: no qemu or kernel package here).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}
timeout_s=300 port=29500 tcp_mode=auto fabric_opts=() before=
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout_s="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --tcp-on-fabric) tcp_mode=on; shift ;;
    --no-tcp-on-fabric) tcp_mode=off; shift ;;
    --before) before="$2"; shift 2 ;;
    --build-dir | --mtu | --accel | --nics) fabric_opts+=("$1" "$2"); shift 2 ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "run-experiment: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 3 ] || usage
bin="$(realpath "$1")" config="$(realpath "$2")" out_dir="$3"
shift 3
[ -x "$bin" ] || { echo "run-experiment: $bin is not an executable" >&2; exit 2; }
[ -f "$config" ] || { echo "run-experiment: $config does not exist" >&2; exit 2; }
[[ "$port" =~ ^[0-9]+$ ]] || { echo "run-experiment: --port wants a number" >&2; exit 2; }
if [ -e "$out_dir/run.json" ] || [ -e "$out_dir/journal.jsonl" ]; then
  echo "run-experiment: $out_dir already holds a run" >&2
  exit 2
fi
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"

tmp="$(mktemp -d /tmp/fb-run-experiment.XXXXXX)"
trap 'rm -rf "$tmp"; rm -f "$out_dir"/vm/g*/secret' EXIT
puts=()
# The guests see the host's root read-only, but /tmp, /run and /dev/shm are their own: files
# there travel through the out share instead.
guest_path() { # host path -> $gp, the path the guest reads (may --put a copy)
  case "$1" in
    /tmp/* | /run/* | /dev/shm/*)
      cp "$1" "$tmp/$(basename "$1")"
      puts+=("$tmp/$(basename "$1")")
      gp="/tmp/out/$(basename "$1")"
      ;;
    *) gp="$1" ;;
  esac
}
guest_path "$bin"
gbin="$gp"
guest_path "$config"
gconfig="$gp"
for f in "${puts[@]}"; do chmod a+r "$f"; done

(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/secret")
puts+=("$tmp/secret")

extra=()
if [ "$tcp_mode" = on ] || { [ "$tcp_mode" = auto ] && grep -qw tcp "$config"; }; then
  extra+=(--set defaults.tcp.address= --set defaults.tcp.interface=eth0)
fi
extra+=("$@")
q_extra="" q_puts=()
for a in "${extra[@]}"; do q_extra+=" $(printf '%q' "$a")"; done
for f in "${puts[@]}"; do q_puts+=(--put "$f"); done

rank_cmd() { # rank
  [ -z "$before" ] || printf '%s && ' "$before"
  printf 'FABRICBENCH_RANK=%d FABRICBENCH_SIZE=2 FABRICBENCH_ROOT=198.51.100.1:%d ' "$1" "$port"
  printf 'FABRICBENCH_SECRET_FILE=$FABRIC_OUT/secret %q run %q -o $FABRIC_OUT/run%s' \
    "$gbin" "$gconfig" "$q_extra"
}

echo "run-experiment: $(basename "$bin") run $config on 2 guests -> $out_dir" >&2
rc=0
"$here/fabric.sh" --timeout "$timeout_s" --tail 60 --out "$out_dir/vm" "${fabric_opts[@]}" \
  "${q_puts[@]}" -- "$(rank_cmd 0)" ::: "$(rank_cmd 1)" || rc=$?
rm -f "$out_dir"/vm/g*/secret
if [ -f "$out_dir/vm/g0/run/run.json" ]; then
  cp -a "$out_dir/vm/g0/run/." "$out_dir/"
  rm -rf "$out_dir/vm/g0/run"
  echo "run-experiment: run document $out_dir/run.json" >&2
else
  echo "run-experiment: rank 0 wrote no run document" >&2
fi
r0="$(cat "$out_dir/vm/g0/rc" 2>/dev/null || true)"
if [ -n "$r0" ] && [ "$r0" != 0 ] && [ "$r0" != 125 ] && [ $rc -ne 124 ]; then exit "$r0"; fi
exit $rc
