#!/usr/bin/env bash
# Single-node SLURM on localhost for tests/test_slurm.py: munge, (MariaDB + slurmdbd), slurmctld, slurmd,
# all run as root without systemd or cgroups, with every file under $SLURM_ROOT (/etc/slurm is left alone).
#
#   bash .ci/slurm_up.sh                  # installs the Debian packages if missing, starts what is not running
#   export SLURM_CONF=/tmp/flames-slurm/slurm.conf
#   bash .ci/slurm_down.sh                # stops the daemons by their pid files
#
# Env: SLURM_ROOT (default /tmp/flames-slurm); WITH_DBD=1 (default) adds slurmdbd + MariaDB so that `sacct`
# works (submitit polls it; without it, it warns on every poll and job states stay UNKNOWN); WITH_DBD=0 skips them.
# FAKE_GPUS=4 (default) gives the node that many fake GPUs (gres/gpu on device files under $SLURM_ROOT/fakegpu,
# AutoDetect=off): jobs that ask for GPUs are scheduled and get CUDA_VISIBLE_DEVICES, though no GPU exists;
# FAKE_GPUS=0 gives a node without gres.
# Idempotent: a daemon whose pid file names a live process is left running; a second call just re-checks
# that the node is up and prints the export line. Daemons that run with another config (slurm.conf or gres.conf
# changed, or the node's gres differ from FAKE_GPUS, e.g. started by an older version of this script) are
# restarted. Progress goes to stderr, the export line to stdout.
set -euo pipefail

R=${SLURM_ROOT:-/tmp/flames-slurm}
WITH_DBD=${WITH_DBD:-1}
H=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) * 85 / 100 ))  # MiB slurmd may hand out
FAKE_GPUS=${FAKE_GPUS:-4}
GPU_DIR=$R/fakegpu
export SLURM_CONF=$R/slurm.conf  # clients and slurmdbd (which reads slurmdbd.conf next to it) use this

say() { echo "slurm_up: $*" >&2; }
# alive PIDFILE NAME: the pid file names a running process called NAME (a stale or reused pid does not count)
alive() { local p; [ -s "$1" ] && p=$(cat "$1") && [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ]; }
wait_for() {  # wait_for SECONDS CMD...: poll CMD every 0.2 s
  local n=$(( $1 * 5 )); shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}
fail() { say "ERROR: $*"; for f in "$R"/log/*.log; do [ -f "$f" ] && { echo "--- tail $f" >&2; tail -n 15 "$f" >&2; }; done; exit 1; }

[[ $FAKE_GPUS =~ ^[0-9]+$ ]] || { say "ERROR: FAKE_GPUS=$FAKE_GPUS: a number of GPUs (0 for none)"; exit 1; }

# --- packages -----------------------------------------------------------------------------------------------
need=""
for b in slurmctld:slurmctld slurmd:slurmd sinfo:slurm-client munged:munge; do
  command -v "${b%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${b%%:*}" ] || need="$need ${b#*:}"
done
if [ "$WITH_DBD" = 1 ]; then
  for b in slurmdbd:slurmdbd mariadbd:mariadb-server; do
    command -v "${b%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${b%%:*}" ] || need="$need ${b#*:}"
  done
fi
if [ -n "$need" ]; then
  say "installing:$need"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >&2
fi

mkdir -p "$R"/state "$R"/spool "$R"/log
getent hosts "$H" >/dev/null || echo "127.0.0.1 $H" >> /etc/hosts  # NodeName must resolve

# --- munge (the Debian package creates the key and the munge user) -------------------------------------------
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "munge already running"
else
  mkdir -p /run/munge && chown munge:munge /run/munge
  if [ ! -f /etc/munge/munge.key ]; then
    /usr/sbin/mungekey --create 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 2>/dev/null
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  fi
  runuser -u munge -- /usr/sbin/munged  # daemonizes; pid in /run/munge/munged.pid
  touch "$R/munge.started-here"         # slurm_down.sh stops munge only if this script started it
  wait_for 10 bash -c 'munge -n | unmunge' || fail "munged did not start"
  say "munge started"
fi

# --- MariaDB + slurmdbd (accounting, for sacct) ---------------------------------------------------------------
ACCT="AccountingStorageType=accounting_storage/none"
if [ "$WITH_DBD" = 1 ]; then
  SOCK=$R/mysql/mysqld.sock
  if alive "$R/mysql/mariadbd.pid" mariadbd; then
    say "mariadb already running"
  else
    mkdir -p "$R/mysql" && chown mysql:mysql "$R/mysql"
    if [ ! -d "$R/mysql/data/mysql" ]; then
      mariadb-install-db --user=mysql --datadir="$R/mysql/data" --auth-root-authentication-method=socket >/dev/null
    fi
    nohup runuser -u mysql -- /usr/sbin/mariadbd --datadir="$R/mysql/data" --socket="$SOCK" --port=3307 \
      --bind-address=127.0.0.1 --pid-file="$R/mysql/mariadbd.pid" --log-error="$R/log/mariadb.log" \
      >/dev/null 2>&1 &
    say "mariadb started"
  fi
  wait_for 30 mariadb --socket="$SOCK" -u root -e 'select 1' || fail "mariadb did not answer"
  mariadb --socket="$SOCK" -u root -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
  cat > "$R/slurmdbd.conf.new" <<EOC
AuthType=auth/munge
DbdHost=$H
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3307
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
PidFile=$R/slurmdbd.pid
LogFile=$R/log/slurmdbd.log
EOC
  chmod 600 "$R/slurmdbd.conf.new"  # slurmdbd refuses a conf others can read
  mv "$R/slurmdbd.conf.new" "$R/slurmdbd.conf"
  ACCT=$'AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=127.0.0.1\nAccountingStoragePort=6819'
fi

# --- fake GPUs --------------------------------------------------------------------------------------------------
# SLURM only stat()s the device files of a gres when AutoDetect=off and nothing constrains devices (no cgroups
# here), so character devices with NVIDIA's major number (195) stand in for GPUs: slurmctld schedules GPU
# requests against them and jobs get CUDA_VISIBLE_DEVICES. There is no driver, so CUDA stays unavailable inside.
mkdir -p "$GPU_DIR"
for i in $(seq 0 $(( FAKE_GPUS - 1 ))); do
  f=$GPU_DIR/nvidia$i
  if [ "$(stat -c '%F %t:%T' "$f" 2>/dev/null)" != "character special file c3:$(printf %x "$i")" ]; then
    rm -f "$f"
    mknod "$f" c 195 "$i" || fail "mknod $f failed (needs root with CAP_MKNOD); FAKE_GPUS=0 starts without GPUs"
  fi
done
for f in "$GPU_DIR"/nvidia*; do  # devices beyond FAKE_GPUS, left by an earlier call
  n=${f##*/nvidia}
  if [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge "$FAKE_GPUS" ]; then rm -f "$f"; fi
done
NODE_GRES=""; GRES_TYPES=""; WANT_GRES="(null)"  # WANT_GRES: the node's Gres as `scontrol show node` shows it
cat > "$R/gres.conf.new" <<EOC
# generated by .ci/slurm_up.sh: FAKE_GPUS=$FAKE_GPUS fake GPUs (device files without hardware)
AutoDetect=off
EOC
if [ "$FAKE_GPUS" -gt 0 ]; then
  files=$GPU_DIR/nvidia0
  [ "$FAKE_GPUS" -gt 1 ] && files="$GPU_DIR/nvidia[0-$(( FAKE_GPUS - 1 ))]"
  echo "Name=gpu File=$files" >> "$R/gres.conf.new"
  NODE_GRES=" Gres=gpu:$FAKE_GPUS"; WANT_GRES="gpu:$FAKE_GPUS"
  GRES_TYPES=$'GresTypes=gpu\nAccountingStorageTRES=gres/gpu'  # sacct's ReqTRES/AllocTRES then show gres/gpu=N
fi

# --- slurm.conf (generated each time: CI machines have other hostnames and sizes) -----------------------------
cat > "$R/slurm.conf.new" <<EOC
ClusterName=localcluster
SlurmctldHost=$H
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
$ACCT
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=$R/state
SlurmdSpoolDir=$R/spool
SlurmctldPidFile=$R/slurmctld.pid
SlurmdPidFile=$R/slurmd.pid
SlurmctldLogFile=$R/log/slurmctld.log
SlurmdLogFile=$R/log/slurmd.log
DefMemPerCPU=1000
KillWait=5
$GRES_TYPES
NodeName=$H CPUs=$CPUS RealMemory=$MEM$NODE_GRES Features=flames_ci State=UNKNOWN
# OverSubscribe=YES: only jobs that ask (sbatch --oversubscribe) share cores: the server-pool test's two
# replicas and its tasks (tests/test_slurm.py), three jobs on 2 CPUs; every other job keeps its cores
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOC
stop_slurm() {  # stop_slurm REASON: stop slurmd and slurmctld (by pid file) so that they start with the new config
  alive "$R/slurmctld.pid" slurmctld || alive "$R/slurmd.pid" slurmd || return 0
  say "$1: restarting slurmctld and slurmd"
  for f in "$R/slurmd.pid" "$R/slurmctld.pid"; do
    [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  wait_for 15 bash -c "! { [ -s '$R/slurmd.pid' ] && kill -0 \$(cat '$R/slurmd.pid'); } && \
    ! { [ -s '$R/slurmctld.pid' ] && kill -0 \$(cat '$R/slurmctld.pid'); }" || fail "old daemons did not stop"
}
# node_gres: the node's Gres as the running slurmctld has it (`gpu:4`, `(null)`), without a `(S:0-1)` suffix
node_gres() {
  local g
  g=$(scontrol show node "$H" 2>/dev/null | sed -n 's/^ *Gres=\([^ ]*\).*/\1/p') || return 1
  echo "${g%%(S:*}"
}
changed=""
for c in slurm.conf gres.conf; do
  if [ -f "$R/$c" ] && cmp -s "$R/$c" "$R/$c.new"; then rm "$R/$c.new"; else changed="$changed $c"; fi
done
if [ -n "$changed" ]; then
  stop_slurm "changed:$changed"
elif alive "$R/slurmctld.pid" slurmctld && live=$(node_gres) && [ -n "$live" ] && [ "$live" != "$WANT_GRES" ]; then
  stop_slurm "node $H has gres $live, not $WANT_GRES"  # daemons that never read the current files
fi
for c in $changed; do mv "$R/$c.new" "$R/$c"; done

# --- daemons --------------------------------------------------------------------------------------------------
if [ "$WITH_DBD" = 1 ]; then
  if alive "$R/slurmdbd.pid" slurmdbd; then
    say "slurmdbd already running"
  else
    /usr/sbin/slurmdbd
    say "slurmdbd started"
  fi
  wait_for 30 sacctmgr -n show cluster || fail "slurmdbd did not answer"
  if ! sacctmgr -n -P show cluster format=cluster 2>/dev/null | grep -qx localcluster; then
    sacctmgr -i add cluster localcluster >/dev/null  # before slurmctld starts, so it registers
  fi
fi
if alive "$R/slurmctld.pid" slurmctld; then
  say "slurmctld already running"
else
  /usr/sbin/slurmctld -f "$SLURM_CONF"
  say "slurmctld started"
fi
if alive "$R/slurmd.pid" slurmd; then
  say "slurmd already running"
else
  /usr/sbin/slurmd -f "$SLURM_CONF"
  say "slurmd started"
fi

# The node is usable once it is idle (or busy with jobs from an earlier call). A node left DOWN/DRAIN by a
# killed slurmd in an earlier life is resumed once.
node_up() { sinfo -h -n "$H" -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated|completing)'; }
if ! wait_for 20 node_up; then
  state=$(sinfo -h -n "$H" -o %T 2>/dev/null || true)
  if echo "$state" | grep -Eq 'down|drain'; then
    say "node $H is $state: resuming it"
    scontrol update NodeName="$H" State=RESUME >&2 || true
  fi
  wait_for 20 node_up || fail "node $H is not idle (sinfo: $(sinfo -h 2>&1 | tr '\n' ' '))"
fi
live=$(node_gres || true)
[ "$live" = "$WANT_GRES" ] || fail "node $H has gres ${live:-?}, not $WANT_GRES (scontrol show node $H)"
sinfo -o '%9P %.5a %.10l %.6D %.6t %8N %G' >&2
echo "export SLURM_CONF=$SLURM_CONF"
