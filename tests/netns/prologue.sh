# Sourced by the tests whose fabricbench runs make their own namespaces (injector netns):
# skips (exit 77) without root, ip(8), tc(8) or network namespaces; makes $tmp (named after
# $1, the test's name) and on exit kills what still runs from it and removes the fb*
# namespaces that appeared meanwhile (a failure path the watchdog has not covered yet), then
# $tmp. Sets bin (the fabricbench binary, $2), here, repo, tmp, before, fail=0.
set -uo pipefail
bin="$(realpath "$2")"
here="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "no ip(8)"
command -v tc >/dev/null || skip "no tc(8)"
probe="fbprobe$$"
ip netns add "$probe" 2>/dev/null || skip "cannot create network namespaces here"
ip netns del "$probe"

tmp="$(mktemp -d "/tmp/fabricbench-$1.XXXXXX")"
before="$(ip netns list | awk '{print $1}' | sort)"
cleanup() {
  pkill -9 -f "$tmp/" 2>/dev/null
  for ns in $(comm -13 <(echo "$before") <(ip netns list | awk '{print $1}' | sort)); do
    case "$ns" in fb*) ip netns pids "$ns" 2>/dev/null | xargs -r kill -9; ip netns del "$ns" ;; esac
  done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail=0
