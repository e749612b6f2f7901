#!/usr/bin/env bash
# Stop the daemons that .ci/slurm_up.sh started, by their pid files (never by name). munged is stopped only
# if slurm_up.sh started it. State, logs, the accounting DB and the fake GPU devices stay under $SLURM_ROOT;
# `rm -rf $SLURM_ROOT` after this gives a clean slate.
set -uo pipefail
R=${SLURM_ROOT:-/tmp/flames-slurm}

stop() {  # stop PIDFILE NAME: TERM the process if the pid file names a live NAME, wait up to 15 s, then KILL
  local f=$1 name=$2 p
  [ -s "$f" ] || return 0
  p=$(cat "$f")
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$name" ] || return 0
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 75); do kill -0 "$p" 2>/dev/null || { echo "stopped $name ($p)"; return 0; }; sleep 0.2; done
  kill -9 "$p" 2>/dev/null && echo "killed $name ($p)"
}

stop "$R/slurmd.pid" slurmd
stop "$R/slurmctld.pid" slurmctld
stop "$R/slurmdbd.pid" slurmdbd
stop "$R/mysql/mariadbd.pid" mariadbd
if [ -f "$R/munge.started-here" ]; then
  stop /run/munge/munged.pid munged
  rm -f "$R/munge.started-here"
fi
exit 0
