#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, from Debian's packages
# (slurm-wlm, munge): `cluster.sh start` installs what is missing, writes
# /etc/slurm/slurm.conf for this host (once; an existing one is kept unless
# it is ours), starts munged, slurmctld and slurmd as root and waits until
# the node takes jobs; `cluster.sh stop` cancels every job and stops the
# three daemons; `cluster.sh status` prints sinfo. Every step is idempotent:
# start on a running cluster only checks it.
#
# Works where systemd and cgroups are absent (containers, CI): processes are
# tracked by /proc (ProctrackType=proctrack/linuxproc) and tasks are not
# bound to cores (TaskPlugin=task/none).
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by llmbench scripts/slurm/cluster.sh"
STATE=/var/spool/slurmctld
SPOOL=/var/spool/slurmd
LOGS=/var/log/slurm
RUN=/run/llmbench-slurm

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "cluster.sh: run as root (slurmctld and slurmd run as root here)" >&2
    exit 2
  fi
}

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return
  fi
  echo "installing slurm-wlm and munge (Debian packages) ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

start_munge() {
  mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
  chmod 0700 /etc/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  chmod 0400 /etc/munge/munge.key
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    return
  fi
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "cluster.sh: munged did not start (see /var/log/munge/munged.log)" >&2
  exit 1
}

write_conf() {
  if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    echo "keeping $CONF (not written by this script)"
    return
  fi
  local host node
  host=$(hostname -s)
  # slurmd -C prints this machine's NodeName line (CPUs, memory, sockets).
  node=$(slurmd -C | grep '^NodeName=' | sed 's/ UpTime=.*//')
  mkdir -p /etc/slurm
  cat >"$CONF.new" <<CONF
$MARK
ClusterName=llmbench
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
# Requeued array tasks (--requeue) run again on this node.
JobRequeue=1
MinJobAge=600
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  mv "$CONF.new" "$CONF"
}

running() {
  local pidfile=$RUN/$1.pid
  [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start_daemons() {
  mkdir -p "$STATE" "$SPOOL" "$LOGS" "$RUN"
  running slurmctld || slurmctld
  for _ in $(seq 100); do
    scontrol ping 2>/dev/null | grep -q UP && break
    sleep 0.2
  done
  running slurmd || slurmd
  local host
  host=$(hostname -s)
  for _ in $(seq 150); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null | head -1)
    case "$state" in
      idle*|mixed*|allocated*) echo "slurm: node $host is $state"; return ;;
      down*|drain*) scontrol update NodeName="$host" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 0.2
  done
  echo "cluster.sh: node $host did not come up (state: ${state:-none}); see $LOGS/" >&2
  tail -n 20 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
  exit 1
}

stop_daemons() {
  if command -v scancel >/dev/null && scontrol ping 2>/dev/null | grep -q UP; then
    scancel --user=root 2>/dev/null || true
  fi
  for daemon in slurmd slurmctld; do
    if running "$daemon"; then
      kill "$(cat "$RUN/$daemon.pid")" 2>/dev/null || true
    fi
  done
  for daemon in slurmd slurmctld; do
    for _ in $(seq 50); do
      running "$daemon" || break
      sleep 0.1
    done
  done
  if [ -s /run/munge/munged.pid ]; then
    kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
  fi
}

case "${1:-start}" in
  start) need_root; install_packages; start_munge; write_conf; start_daemons ;;
  stop) need_root; stop_daemons ;;
  status) sinfo; squeue ;;
  *) echo "usage: cluster.sh start|stop|status" >&2; exit 2 ;;
esac
