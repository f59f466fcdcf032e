# A cluster of "nodes" on this machine, for tests to source (bash):
#
#   source tests/cluster/fabric.sh
#   fabric_up 4                     # node1..node4, each with fab0 = 198.18.0.I/24 on one bridge
#   node_exec 2 hostname            # -> node2 (its own UTS namespace and /etc/hosts)
#   fabric_shape_all 2gbit          # every node's link limited by tc, not by the CPU
#   fabric_shape_pair 1 3 100mbit   # only the traffic between node1 and node3
#   ...                             # fabric_down runs on EXIT/INT/TERM (idempotent)
#
# Layout: a "switch" namespace holding bridge br0; node I is namespace ${FABRIC_PREFIX}nI with
# interface fab0 (the same name in every node, as clusters do) = 198.18.0.I/24 and lo up, its
# peer pI a port of br0; the host reaches the nodes through veth ${FABRIC_PREFIX}h
# (198.18.0.254/24) into the bridge, so mpirun or slurmctld on the host reach every node.
# 198.18.0.0/15 is RFC 2544's benchmarking range; nothing else in the repository uses it. One
# fabric per subnet at a time on this machine: fabric_up waits (bounded) for a lock per subnet
# (FABRIC_NET, default 198.18.0) and refuses when the host already routes it.
#
# Names are unique per test run (prefix fbc<pid>-), so two runs never collide. Everything the
# fabric made (namespaces, veths, qdiscs, processes in the namespaces, $FABRIC_DIR) is removed
# by fabric_down; a test adds its own host-side cleanup (daemons it started on the host) with
# fabric_at_down, run first, last added first.
#
# Skips (exit 77, with the reason on stderr, like tests/netns/prologue.sh): not root, no
# ip/tc/unshare/flock, no network namespaces, no bridge or veth.
#
# Variables after fabric_up (read-only by convention): FABRIC_N, FABRIC_NET, FABRIC_PREFIX,
# FABRIC_DIR (a temporary directory, removed by fabric_down: tests may put files there),
# FABRIC_HOSTS (the hosts file the nodes see as /etc/hosts), FABRIC_HOST_ADDR (198.18.0.254),
# FABRIC_AGENT (an rsh agent for Open MPI: "agent nodeI command..." runs it in node I).
# Functions: fabric_up N, fabric_down, fabric_at_down CMD, node_exec I CMD..., fabric_node_ns I,
# fabric_node_addr I, fabric_shape_node I RATE, fabric_shape_pair I J RATE_OR_DELAY,
# fabric_shape_all RATE, fabric_unshape_all, fabric_skip REASON.

FABRIC_NET="${FABRIC_NET:-198.18.0}"
FABRIC_N=0
FABRIC_PREFIX=""
FABRIC_DIR=""
FABRIC_HOSTS=""
FABRIC_HOST_ADDR=""
FABRIC_AGENT=""
FABRIC_LOCK_FD=""
_fabric_cleanups=()

fabric_skip() {
  echo "SKIP: $*" >&2
  exit 77
}

_fabric_err() { echo "fabric: $*" >&2; }

# Switch namespace, node I's namespace, node I's address.
_fabric_sw_ns() { echo "${FABRIC_PREFIX}sw"; }
fabric_node_ns() { echo "${FABRIC_PREFIX}n$1"; }
fabric_node_addr() { echo "${FABRIC_NET}.$1"; }

_fabric_check_node() {
  case "$1" in
    '' | *[!0-9]*) _fabric_err "node '$1' is not a number"; return 2 ;;
  esac
  if [ "$1" -lt 1 ] || [ "$1" -gt "$FABRIC_N" ]; then
    _fabric_err "node $1 is not in 1..$FABRIC_N"
    return 2
  fi
}

# fabric_at_down CMD: run CMD (a string, eval'd) when the fabric comes down, before the
# namespaces go. Last added runs first.
fabric_at_down() { _fabric_cleanups+=("$1"); }

fabric_up() {
  local n="${1:-}" i ns sw
  case "$n" in
    '' | *[!0-9]*) _fabric_err "usage: fabric_up N (1..8)"; return 2 ;;
  esac
  if [ "$n" -lt 1 ] || [ "$n" -gt 8 ]; then
    _fabric_err "fabric_up: N=$n, want 1..8"
    return 2
  fi
  [ "$(id -u)" = 0 ] || fabric_skip "needs root (network namespaces, veth, tc)"
  local tool
  for tool in ip tc unshare flock timeout mount; do
    command -v "$tool" >/dev/null 2>&1 || fabric_skip "no $tool(8) on this machine"
  done
  local probe="fbcprobe$$"
  ip netns add "$probe" 2>/dev/null || fabric_skip "cannot create network namespaces here"
  if ! ip -n "$probe" link add fbcbr type bridge 2>/dev/null; then
    ip netns del "$probe"
    fabric_skip "cannot create a bridge in a network namespace"
  fi
  if ! ip -n "$probe" link add fbcv0 type veth peer name fbcv1 2>/dev/null; then
    ip netns del "$probe"
    fabric_skip "cannot create veth pairs in a network namespace"
  fi
  ip netns del "$probe"

  # One fabric per subnet on this machine: a lock, waited for at most 120 s.
  exec {FABRIC_LOCK_FD}>"/run/lock/fabricbench-fabric-${FABRIC_NET}.lock" || {
    _fabric_err "cannot open the lock file under /run/lock"
    return 1
  }
  if ! flock -w 120 "$FABRIC_LOCK_FD"; then
    _fabric_err "another fabric on ${FABRIC_NET}.0/24 held its lock for 120 s"
    exec {FABRIC_LOCK_FD}>&-
    FABRIC_LOCK_FD=""
    return 1
  fi
  if ip route show | grep -q "^${FABRIC_NET}\.0/24 "; then
    _fabric_err "the host already routes ${FABRIC_NET}.0/24 (a fabric left behind?): $(ip route show | grep "^${FABRIC_NET}\.0/24 ")"
    exec {FABRIC_LOCK_FD}>&-
    FABRIC_LOCK_FD=""
    return 1
  fi

  FABRIC_N="$n"
  FABRIC_PREFIX="fbc$$-"
  FABRIC_HOST_ADDR="${FABRIC_NET}.254"
  FABRIC_DIR="$(mktemp -d /tmp/fabricbench-fabric.XXXXXX)" || return 1
  trap fabric_down EXIT
  trap 'fabric_down; exit 130' INT
  trap 'fabric_down; exit 143' TERM

  FABRIC_HOSTS="$FABRIC_DIR/hosts"
  {
    echo "127.0.0.1 localhost"
    echo "::1 localhost ip6-localhost ip6-loopback"
    echo "$FABRIC_HOST_ADDR fabric-host"
    for i in $(seq 1 "$n"); do echo "$(fabric_node_addr "$i") node$i"; done
  } >"$FABRIC_HOSTS"

  sw="$(_fabric_sw_ns)"
  ip netns add "$sw" || { _fabric_err "cannot add namespace $sw"; return 1; }
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge || return 1
  ip -n "$sw" link set br0 up || return 1
  for i in $(seq 1 "$n"); do
    ns="$(fabric_node_ns "$i")"
    ip netns add "$ns" || { _fabric_err "cannot add namespace $ns"; return 1; }
    ip -n "$ns" link set lo up || return 1
    ip link add fab0 netns "$ns" type veth peer name "p$i" netns "$sw" || return 1
    ip -n "$sw" link set "p$i" master br0 || return 1
    ip -n "$sw" link set "p$i" up || return 1
    ip -n "$ns" addr add "$(fabric_node_addr "$i")/24" dev fab0 || return 1
    ip -n "$ns" link set fab0 up || return 1
  done
  ip link add "${FABRIC_PREFIX}h" type veth peer name ph netns "$sw" || return 1
  ip -n "$sw" link set ph master br0 || return 1
  ip -n "$sw" link set ph up || return 1
  ip addr add "$FABRIC_HOST_ADDR/24" dev "${FABRIC_PREFIX}h" || return 1
  ip link set "${FABRIC_PREFIX}h" up || return 1

  # Open MPI's rsh agent: "agent [-x] nodeI command..." runs command in node I (node_exec).
  FABRIC_AGENT="$FABRIC_DIR/rsh-agent"
  cat >"$FABRIC_AGENT" <<EOF
#!/bin/bash
# Written by tests/cluster/fabric.sh: runs "\$2..." in the namespace node named by \$1.
while [ "\${1:-}" != "\${1#-}" ]; do shift; done
host="\$1"; shift
i="\${host#node}"
case "\$i" in ''|*[!0-9]*) echo "rsh-agent: unknown host \$host" >&2; exit 255 ;; esac
exec ip netns exec "${FABRIC_PREFIX}n\$i" unshare --uts --mount --propagation private \\
  /bin/sh -c 'hostname "\$1" && mount --bind "\$2" /etc/hosts && shift 2 && exec /bin/sh -c "\$*"' \\
  sh "\$host" "$FABRIC_HOSTS" "\$@"
EOF
  chmod +x "$FABRIC_AGENT"

  # Every node answers from the host (bounded: 50 tries): a TCP connection to a closed port is
  # refused by a node that is reachable (no ping(8) needed).
  local tries
  for i in $(seq 1 "$n"); do
    for tries in $(seq 1 50); do
      case "$(timeout 1 bash -c "echo >/dev/tcp/$(fabric_node_addr "$i")/9" 2>&1)" in
        *refused*) break ;;
      esac
      sleep 0.1
    done
    if [ "$tries" -ge 50 ]; then
      _fabric_err "node$i ($(fabric_node_addr "$i")) does not answer from the host"
      return 1
    fi
  done
  return 0
}

# node_exec I CMD...: CMD in node I's network namespace, with host name nodeI (its own UTS
# namespace) and a private mount namespace in which /etc/hosts lists node1..nodeN.
node_exec() {
  _fabric_check_node "${1:-}" || return 2
  local i="$1"
  shift
  # shellcheck disable=SC2016 # expanded by the inner sh
  ip netns exec "$(fabric_node_ns "$i")" unshare --uts --mount --propagation private \
    /bin/sh -c 'hostname "$1" && mount --bind "$2" /etc/hosts && shift 2 && exec "$@"' \
    sh "node$i" "$FABRIC_HOSTS" "$@" {FABRIC_LOCK_FD}>&-
}

# tc's rate syntax -> bits per second ("2gbit", "500mbit", "100kbit", "1000000bit").
_fabric_rate_bits() {
  local v="$1" num unit
  num="${v%%[a-zA-Z]*}"
  unit="${v#"$num"}"
  case "$num" in '' | *[!0-9]*) return 1 ;; esac
  case "$unit" in
    bit) echo "$num" ;;
    kbit) echo $((num * 1000)) ;;
    mbit) echo $((num * 1000000)) ;;
    gbit) echo $((num * 1000000000)) ;;
    *) return 1 ;;
  esac
}
# A burst that holds 4 ms at the rate, at least 64 KiB (a GSO packet).
_fabric_burst() {
  local b=$(($1 / 8 / 250))
  [ "$b" -lt 65536 ] && b=65536
  echo "$b"
}

# Node I's shaping state lives in $FABRIC_DIR/shape.I (the node's rate) and
# $FABRIC_DIR/pair.I.J (the rate or delay to node J); _fabric_apply rebuilds fab0's qdisc.
_fabric_apply() {
  local i="$1" ns sw node_rate="" f j spec bits burst
  ns="$(fabric_node_ns "$i")"
  sw="$(_fabric_sw_ns)"
  [ -f "$FABRIC_DIR/shape.$i" ] && node_rate="$(cat "$FABRIC_DIR/shape.$i")"
  local pairs=()
  for f in "$FABRIC_DIR"/pair."$i".*; do
    [ -e "$f" ] && pairs+=("$f")
  done
  ip netns exec "$ns" tc qdisc del dev fab0 root 2>/dev/null
  ip netns exec "$sw" tc qdisc del dev "p$i" root 2>/dev/null
  if [ -n "$node_rate" ]; then
    bits="$(_fabric_rate_bits "$node_rate")"
    burst="$(_fabric_burst "$bits")"
    # The node's ingress: its bridge port's egress.
    ip netns exec "$sw" tc qdisc add dev "p$i" root tbf rate "$node_rate" burst "$burst" \
      latency 50ms || return 1
  fi
  if [ ${#pairs[@]} -eq 0 ]; then
    [ -z "$node_rate" ] && return 0
    ip netns exec "$ns" tc qdisc add dev fab0 root tbf rate "$node_rate" burst "$burst" \
      latency 50ms
    return
  fi
  # Pairs: htb on fab0; unclassified traffic goes to 1:10 (the node's rate, or unshaped: htb's
  # default 0 sends it straight to the device), the traffic to node J to class 1:(100+J), picked
  # by a u32 filter on J's address (tc reads class minors as hex; consistently so here).
  local top="${node_rate:-100gbit}" default=0
  bits="$(_fabric_rate_bits "$top")"
  burst="$(_fabric_burst "$bits")"
  [ -n "$node_rate" ] && default=10
  ip netns exec "$ns" tc qdisc add dev fab0 root handle 1: htb default "$default" || return 1
  ip netns exec "$ns" tc class add dev fab0 parent 1: classid 1:1 htb rate "$top" \
    burst "$burst" cburst "$burst" quantum 60000 || return 1
  if [ -n "$node_rate" ]; then
    ip netns exec "$ns" tc class add dev fab0 parent 1:1 classid 1:10 htb rate "$top" \
      burst "$burst" cburst "$burst" quantum 60000 || return 1
  fi
  for f in "${pairs[@]}"; do
    j="${f##*.}"
    spec="$(cat "$f")"
    local rate="$spec" leaf=""
    if ! _fabric_rate_bits "$spec" >/dev/null; then  # a delay: rate of the node, netem leaf
      rate="$top"
      leaf="netem delay $spec"
    fi
    bits="$(_fabric_rate_bits "$rate")"
    local pburst
    pburst="$(_fabric_burst "$bits")"
    ip netns exec "$ns" tc class add dev fab0 parent 1:1 classid "1:$((100 + j))" htb \
      rate "$rate" ceil "$rate" burst "$pburst" cburst "$pburst" quantum 60000 || return 1
    if [ -n "$leaf" ]; then
      # shellcheck disable=SC2086
      ip netns exec "$ns" tc qdisc add dev fab0 parent "1:$((100 + j))" handle "$((100 + j)):" \
        $leaf || { _fabric_err "delay needs sch_netem, which this kernel lacks"; return 1; }
    fi
    ip netns exec "$ns" tc filter add dev fab0 parent 1: protocol ip prio 1 u32 \
      match ip dst "$(fabric_node_addr "$j")/32" flowid "1:$((100 + j))" || return 1
  done
}

# fabric_shape_node I RATE: node I's link, both directions (tbf on its fab0 and on its bridge
# port), limited to RATE (tc syntax: 2gbit, 500mbit). RATE "none" removes it.
fabric_shape_node() {
  _fabric_check_node "${1:-}" || return 2
  if [ "${2:-}" = none ]; then
    rm -f "$FABRIC_DIR/shape.$1"
  else
    _fabric_rate_bits "${2:-}" >/dev/null || {
      _fabric_err "fabric_shape_node: rate '${2:-}' is not N{bit,kbit,mbit,gbit}"
      return 2
    }
    echo "$2" >"$FABRIC_DIR/shape.$1"
  fi
  _fabric_apply "$1"
}

# fabric_shape_pair I J RATE_OR_DELAY: only the traffic between nodes I and J (both ways:
# htb + u32 on the peer's address on each node's fab0). A rate (100mbit) or a delay (5ms; needs
# sch_netem, which the development machines' kernel lacks: then it fails saying so). "none"
# removes it.
fabric_shape_pair() {
  _fabric_check_node "${1:-}" || return 2
  _fabric_check_node "${2:-}" || return 2
  if [ "$1" = "$2" ]; then
    _fabric_err "fabric_shape_pair: a node with itself ($1)"
    return 2
  fi
  local spec="${3:-}" before=""
  [ -f "$FABRIC_DIR/pair.$1.$2" ] && before="$(cat "$FABRIC_DIR/pair.$1.$2")"
  case "$spec" in
    none) rm -f "$FABRIC_DIR/pair.$1.$2" "$FABRIC_DIR/pair.$2.$1" ;;
    *[0-9]bit | *[0-9]kbit | *[0-9]mbit | *[0-9]gbit | *[0-9]us | *[0-9]ms | *[0-9]s)
      echo "$spec" >"$FABRIC_DIR/pair.$1.$2"
      echo "$spec" >"$FABRIC_DIR/pair.$2.$1"
      ;;
    *)
      _fabric_err "fabric_shape_pair: '$spec' is neither a rate (100mbit) nor a delay (5ms)"
      return 2
      ;;
  esac
  if ! { _fabric_apply "$1" && _fabric_apply "$2"; }; then
    rm -f "$FABRIC_DIR/pair.$1.$2" "$FABRIC_DIR/pair.$2.$1"  # back to what was there
    if [ -n "$before" ]; then
      echo "$before" >"$FABRIC_DIR/pair.$1.$2"
      echo "$before" >"$FABRIC_DIR/pair.$2.$1"
    fi
    _fabric_apply "$1"
    _fabric_apply "$2"
    return 1
  fi
}

# fabric_shape_all RATE: every node's link (fabric_shape_node), so a fabric of many nodes on
# few cores is limited by tc rather than by the CPU.
fabric_shape_all() {
  local i
  for i in $(seq 1 "$FABRIC_N"); do fabric_shape_node "$i" "$1" || return 1; done
}

# fabric_unshape_all: every rate and pair shaping removed.
fabric_unshape_all() {
  local i
  rm -f "$FABRIC_DIR"/shape.* "$FABRIC_DIR"/pair.*
  for i in $(seq 1 "$FABRIC_N"); do _fabric_apply "$i" || return 1; done
}

# Kills every process in namespace $1, waiting (at most 5 s) until none is left.
_fabric_kill_ns() {
  local ns="$1" pids
  for _ in $(seq 1 50); do
    pids="$(ip netns pids "$ns" 2>/dev/null)"
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null
    sleep 0.1
  done
  _fabric_err "processes still in $ns after 5 s: $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
}

# fabric_down: idempotent; the test's own cleanups (last added first), then every process in
# the namespaces, the namespaces (their veths with them), the host's veth, $FABRIC_DIR, the lock.
fabric_down() {
  local k i ns
  for ((k = ${#_fabric_cleanups[@]} - 1; k >= 0; k--)); do
    eval "${_fabric_cleanups[$k]}" || true
  done
  _fabric_cleanups=()
  if [ -n "$FABRIC_PREFIX" ]; then
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${FABRIC_PREFIX}" || true); do
      _fabric_kill_ns "$ns"
      ip netns del "$ns" 2>/dev/null
    done
    ip link del "${FABRIC_PREFIX}h" 2>/dev/null
  fi
  if [ -n "$FABRIC_DIR" ] && [ -d "$FABRIC_DIR" ]; then rm -rf "$FABRIC_DIR"; fi
  FABRIC_DIR=""
  if [ -n "$FABRIC_LOCK_FD" ]; then
    exec {FABRIC_LOCK_FD}>&-
    FABRIC_LOCK_FD=""
  fi
  return 0
}
