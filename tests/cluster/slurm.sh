# A real Slurm (Debian 12's slurm-wlm 22.05) on the nodes of tests/cluster/fabric.sh, for tests
# to source after fabric.sh:
#
#   source tests/cluster/fabric.sh; source tests/cluster/slurm.sh
#   fabric_up 4
#   why="$(slurm_missing)" && [ -z "$why" ] && slurm_up    # else skip with "$why"
#   node_exec 1 srun -N4 -n4 hostname                        # srun from node1, the login node
#
# slurm_up starts, all in $FABRIC_DIR/slurm and all in the foreground as children of this shell
# (so fabric_down reaps them): munged with its own key and socket (the system's munged is not
# touched), slurmctld on the host at $FABRIC_HOST_ADDR, and one slurmd per node inside node_exec
# (host name nodeI, its own spool directory and pid file). The generated slurm.conf: NodeName
# node1..nodeN with NodeAddr 198.18.0.I, partition "fab", ProctrackType=proctrack/pgid,
# TaskPlugin=task/none, no accounting, SlurmUser root, short timeouts, ports 16817/16818 (free in
# the namespaces and unlikely to be taken on the host). It exports SLURM_CONF, and waits (at most
# 30 s) until every node is idle. fabric_down stops everything (slurm_up registers it).
#
# Two things this machine needs: `ip netns exec` mounts a fresh /sys in each node, hiding
# /sys/fs/cgroup, and slurmd 22.05 will not start without a cgroup plugin: cgroup.conf points
# cgroup/v1 at an empty directory (proctrack/pgid and task/none never create a cgroup). And
# srun --mpi=pmix puts its per-step directory in /tmp under a name only the job and step tell
# apart, which collides between nodes sharing one /tmp: each node gets its own slurm.conf
# directory whose mpi.conf sets PMIxCliTmpDirBase to that node's directory.

# slurm_wait_idle: cancels this Slurm's jobs and waits (at most 30 s) until every node is idle
# again, so that a step killed by a timeout does not hold the nodes for the next one.
slurm_wait_idle() {
  local state=""
  timeout 10 scancel --quiet --user=root 2>/dev/null
  for _ in $(seq 1 60); do
    state="$(timeout 5 sinfo -h -o '%T' 2>/dev/null | sort -u | tr '\n' ' ')"
    [ "$state" = "idle " ] && return 0
    sleep 0.5
  done
  _fabric_err "Slurm's nodes not idle after 30 s: ${state:-no answer}"
  return 1
}

# Prints why Slurm cannot run here (nothing when it can).
slurm_missing() {
  local tool
  for tool in munged slurmctld slurmd srun sinfo; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "no $tool (Debian packages slurm-wlm and munge; ci/install-deps.sh)"
      return 0
    fi
  done
}

SLURM_DIR=""

_slurm_stop() {  # $1: pid; TERM, then KILL after 5 s; reaped by this shell.
  local pid="$1"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  timeout 5 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

slurm_up() {
  local n="$FABRIC_N" i s
  s="$FABRIC_DIR/slurm"
  SLURM_DIR="$s"
  mkdir -p "$s/munge" "$s/state" "$s/spool" "$s/cgroup" "$s/log" || return 1
  chmod 700 "$s/munge"
  head -c 1024 /dev/urandom >"$s/munge/munge.key" && chmod 600 "$s/munge/munge.key"
  munged --foreground --force --socket="$s/munge/munge.socket" --key-file="$s/munge/munge.key" \
    --pid-file="$s/munge/munged.pid" --log-file="$s/log/munged.log" \
    --seed-file="$s/munge/munged.seed" {FABRIC_LOCK_FD}>&- >"$s/log/munged.out" 2>&1 &
  local munged_pid=$!
  fabric_at_down "_slurm_stop $munged_pid"
  for _ in $(seq 1 50); do [ -S "$s/munge/munge.socket" ] && break; sleep 0.1; done
  [ -S "$s/munge/munge.socket" ] || { _fabric_err "munged did not start: $(tail -3 "$s/log/munged.log")"; return 1; }

  {
    echo "ClusterName=fabric"
    echo "SlurmctldHost=$(hostname -s)($FABRIC_HOST_ADDR)"
    echo "SlurmctldPort=16817"
    echo "SlurmdPort=16818"
    echo "AuthType=auth/munge"
    echo "AuthInfo=socket=$s/munge/munge.socket"
    echo "CredType=cred/munge"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "StateSaveLocation=$s/state"
    echo "SlurmdSpoolDir=$s/spool/%n"
    echo "SlurmctldPidFile=$s/slurmctld.pid"
    echo "SlurmdPidFile=$s/spool/slurmd.%n.pid"
    echo "SlurmctldLogFile=$s/log/slurmctld.log"
    echo "SlurmdLogFile=$s/log/slurmd.%n.log"
    echo "ProctrackType=proctrack/pgid"
    echo "TaskPlugin=task/none"
    echo "JobAcctGatherType=jobacct_gather/none"
    echo "AccountingStorageType=accounting_storage/none"
    echo "SchedulerType=sched/builtin"
    echo "SelectType=select/linear"
    echo "MpiDefault=none"
    echo "ReturnToService=2"
    echo "SlurmctldTimeout=10"
    echo "SlurmdTimeout=10"
    echo "MessageTimeout=5"
    echo "InactiveLimit=0"
    echo "KillWait=2"
    echo "SlurmctldDebug=info"
    echo "SlurmdDebug=info"
    for i in $(seq 1 "$n"); do
      echo "NodeName=node$i NodeAddr=$(fabric_node_addr "$i") CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 State=UNKNOWN"
    done
    echo "PartitionName=fab Nodes=node[1-$n] Default=YES MaxTime=10 State=UP"
  } >"$s/slurm.conf"
  printf 'CgroupPlugin=cgroup/v1\nCgroupMountpoint=%s\n' "$s/cgroup" >"$s/cgroup.conf"
  export SLURM_CONF="$s/slurm.conf"

  slurmctld -D -f "$s/slurm.conf" {FABRIC_LOCK_FD}>&- >"$s/log/slurmctld.out" 2>&1 &
  fabric_at_down "_slurm_stop $!"
  for i in $(seq 1 "$n"); do
    mkdir -p "$s/spool/node$i" "$s/etc/node$i" "$s/pmix/node$i"
    cp "$s/slurm.conf" "$s/cgroup.conf" "$s/etc/node$i/"
    echo "PMIxCliTmpDirBase=$s/pmix/node$i" >"$s/etc/node$i/mpi.conf"
    node_exec "$i" slurmd -D -f "$s/etc/node$i/slurm.conf" -N "node$i" \
      >"$s/log/slurmd.node$i.out" 2>&1 &
    fabric_at_down "_slurm_stop $!"
  done

  local state=""
  for _ in $(seq 1 60); do
    state="$(timeout 5 sinfo -h -o '%T' 2>/dev/null | sort -u | tr '\n' ' ')"
    [ "$state" = "idle " ] && return 0
    sleep 0.5
  done
  _fabric_err "Slurm's nodes did not come up within 30 s (sinfo: ${state:-no answer}); slurmctld log: $(tail -3 "$s/log/slurmctld.log" 2>/dev/null)"
  return 1
}
