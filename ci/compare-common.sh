# Sourced by ci/compare-tcp.sh and ci/compare-regimes.sh: what the loopback comparison scripts
# share (arguments, the scratch directory and the processes to kill on exit, ports, the values
# file compare_judge.py reads). The sourcing script has set `name` (e.g. compare-tcp),
# `default_secs`, `caller_pwd` (the caller's directory) and `repo` (it runs from there).

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }

# [FABRICBENCH] [ROUNDS] [-o FILE] [--seconds S] -> fb, rounds, secs, json, cmdline.
parse_compare_args() {
  fb="" rounds=5 secs=$default_secs json=${FB_COMPARE_JSON:-}
  cmdline="$0 $*"
  local pos=()
  while [ $# -gt 0 ]; do
    case $1 in
      -o | --output) json=${2:?-o wants a file}; shift 2 ;;
      --seconds) secs=${2:?--seconds wants a number}; shift 2 ;;
      -h | --help) usage 0 ;;
      -*) echo "$name: unknown option $1" >&2; usage ;;
      *) pos+=("$1"); shift ;;
    esac
  done
  [ ${#pos[@]} -le 2 ] || usage
  [ ${#pos[@]} -lt 1 ] || fb=${pos[0]}
  [ ${#pos[@]} -lt 2 ] || rounds=${pos[1]}
  # A relative FABRICBENCH is looked up from the caller's directory, then from the repository.
  if [ -z "$fb" ]; then fb=$repo/build/release/fabricbench
  elif [[ $fb != /* && -e $caller_pwd/$fb ]]; then fb=$caller_pwd/$fb; fi
  json=${json:-$name.json}
  [[ $json == /* ]] || json=$caller_pwd/$json
  case $rounds in '' | *[!0-9]* | 0) echo "$name: rounds must be a positive integer, not '$rounds'" >&2; exit 2 ;; esac
  case $secs in '' | *[!0-9]* | 0) echo "$name: --seconds must be a positive integer, not '$secs'" >&2; exit 2 ;; esac
}

# The peer tools (and fabricbench) must be there.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$name: $tool not found (ci/install-deps.sh)" >&2; exit 2; }
  done
  [ -x "$fb" ] || { echo "$name: $fb not built (cmake --build --preset release)" >&2; exit 2; }
}

# work: a scratch directory; pids: every process started here that may still run. Both go on exit.
make_workdir() {
  work=$(mktemp -d "/tmp/fabricbench-$name.XXXXXX")
  pids=()
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
forget() { local p keep=(); for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=("${keep[@]}"); }
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; forget "$1"; }

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
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$work/values.tsv"; }  # key round side value
