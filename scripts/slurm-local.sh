#!/usr/bin/env bash
# A single-node Slurm on this machine, for the tests of cluster=slurm (and to try it by hand).
#   scripts/slurm-local.sh start DIR   installs Debian's munge/slurmctld/slurmd if missing (root),
#                                      starts munged, slurmctld and slurmd (no systemd), all on
#                                      localhost, with state, spool and logs under DIR; prints
#                                      SLURM_CONF=DIR/slurm.conf (export it for sbatch, squeue...)
#   scripts/slurm-local.sh stop DIR    stops the daemons started for DIR (munged too if DIR's start started it)
# The node is this machine as slurmd sees it (slurmd -C: real CPUs and memory), named localhost.
set -euo pipefail

action=${1:-}
dir=${2:-}
[ -n "$action" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

stop() {
  for daemon in slurmd slurmctld; do
    if [ -f "$dir/$daemon.pid" ]; then
      kill "$(cat "$dir/$daemon.pid")" 2>/dev/null || true
    fi
  done
  for _ in $(seq 50); do
    alive=0
    for daemon in slurmd slurmctld; do
      [ -f "$dir/$daemon.pid" ] && kill -0 "$(cat "$dir/$daemon.pid")" 2>/dev/null && alive=1
    done
    [ $alive -eq 0 ] && break
    sleep 0.2
  done
  rm -f "$dir/slurmd.pid" "$dir/slurmctld.pid"
  if [ -f "$dir/munged.pid" ]; then  # only a munged this script started for DIR
    kill "$(cat "$dir/munged.pid")" 2>/dev/null || true
    rm -f "$dir/munged.pid"
  fi
}

install_missing() {
  local missing=()
  for p in munge slurmctld slurmd slurm-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-local: missing Debian packages ${missing[*]}; as root: apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  echo "slurm-local: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_munge() {
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    return 0  # a munged is already serving this machine
  fi
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  chown munge:munge /etc/munge /etc/munge/munge.key
  chmod 0700 /etc/munge
  chmod 0400 /etc/munge/munge.key
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
      cp /run/munge/munged.pid "$dir/munged.pid" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
  echo "slurm-local: munged did not start" >&2
  return 1
}

write_conf() {
  local node
  # slurmd -C: this machine's real CPUs, sockets, cores, threads and memory, as a node line.
  node=$(slurmd -C | head -1 | sed 's/^NodeName=[^ ]*/NodeName=localhost NodeAddr=127.0.0.1/')
  mkdir -p "$dir/state" "$dir/spool"
  cat >"$conf" <<EOF
ClusterName=xeonsweep-local
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=${XEONSWEEP_SLURMCTLD_PORT:-6817}
SlurmdPort=${XEONSWEEP_SLURMD_PORT:-6818}
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
MaxArraySize=${XEONSWEEP_SLURM_MAX_ARRAY_SIZE:-1001}
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
$node State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=EXCLUSIVE
EOF
}

wait_for_node() {
  for _ in $(seq 100); do
    state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
    case "$state" in
      idle*|mixed*|allocated*) return 0 ;;
    esac
    sleep 0.2
  done
  echo "slurm-local: the node did not come up (sinfo: ${state:-no answer}); logs in $dir" >&2
  tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 2>/dev/null || true
  return 1
}

case "$action" in
  start)
    if [ -f "$conf" ] && scontrol ping 2>/dev/null | grep -q "is UP" && wait_for_node 2>/dev/null; then
      echo "SLURM_CONF=$conf"  # already running for DIR: reuse it
      exit 0
    fi
    stop
    install_missing
    start_munge
    write_conf
    /usr/sbin/slurmctld -i -f "$conf"
    /usr/sbin/slurmd -N localhost -f "$conf"
    wait_for_node
    echo "SLURM_CONF=$conf"
    ;;
  stop)
    stop
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
