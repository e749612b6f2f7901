"""Locks that work on shared filesystems, say who holds them, and are broken when the holder is gone.

`file_lock(path)` holds the lock while the file `path` exists and names this process. It is created
whole and atomically: the holder's record is written to a private temporary file, then hard-linked
to `path`. link(2) either creates the name or fails on every NFS version and on Lustre, where flock
may be node-local or unsupported (Lustre's default). Unlike a flock, a file can also be read, and
removed by another process when its holder is gone.

A waiter polls, logs whom it waits for, and breaks the lock only when the holder is surely gone:
- a holder on this machine: its pid no longer runs (or is now another process);
- a holder on another machine that ran in a SLURM job: squeue no longer lists that job as running,
  or this process is a later start of the same job (requeued);
- an empty lock file left by the flock-based lock of earlier flames versions, whose flock nobody holds.
Anything else (another machine without SLURM, no squeue) is waited for: `timeout` bounds the wait.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import random
import re
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

TOKEN = re.compile(r"[0-9a-f]{32}")  # uuid4().hex: it becomes part of a file name, so nothing else is trusted

POLL_S = (0.2, 1.0)  # a waiter sleeps between these; the upper end grows to POLL_S[1] as it keeps waiting
LOG_EVERY_S = 300  # a waiter repeats its "Waiting for" line at most this often
SLURM_CHECK_EVERY_S = 60  # squeue is asked about one holder at most this often: every call loads the controller
SQUEUE_TIMEOUT_S = 30
CLAIM_STALE_S = 60  # a break claim this old was left by a waiter that died while breaking (a few ms of work)
# squeue states in which a job runs no process (a requeued job waits as PENDING): its holder is gone.
NOT_RUNNING = {
    "PENDING", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
    "DEADLINE", "OUT_OF_MEMORY", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SPECIAL_EXIT", "REVOKED",
}


class LockTimeout(TimeoutError):
    """The lock's holder kept it past the waiter's timeout."""


@contextlib.contextmanager
def file_lock(path: Path, what: str = "", timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive lock `path` (a file) across processes and machines.

    Waits while a live process holds it, logging the holder; breaks it, with a warning, when the
    holder is gone; after `timeout` seconds (None: never) raises LockTimeout naming the holder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = _acquire(path, what or str(path), timeout)
    try:
        yield
    finally:
        _release(path, me, what or str(path))


def lock_holder(path: Path) -> dict | None:
    """The record of the process holding the lock `path`, or None when the lock is free.

    Keys: token (unique per acquisition), host, pid, slurm_job, started (epoch seconds), what, and
    what `holder_record` adds. A file without a record (the empty file of the older flock lock)
    reads as {"invalid": why, "token": "inode-<n>"}.
    """
    try:
        with open(path, "rb") as fh:
            raw, inode = fh.read(), os.fstat(fh.fileno()).st_ino
    except FileNotFoundError:
        return None
    with contextlib.suppress(ValueError):
        rec = json.loads(raw)
        if isinstance(rec, dict) and isinstance(rec.get("token"), str) and TOKEN.fullmatch(rec["token"]):
            return rec
    # The inode stands in for a token: it tells this file from a later one at the same path.
    return {"invalid": "an empty lock file (from an older flames)", "token": f"inode-{inode}"}


def describe(holder: dict) -> str:
    """`pid 12 on node3 (SLURM job 81_4), since 2026-01-02 10:00:00`: for logs and errors."""
    if "invalid" in holder:
        return holder["invalid"]
    text = f"pid {holder.get('pid')} on {holder.get('host')}"
    if holder.get("slurm_job"):
        text += f" (SLURM job {holder['slurm_job']})"
    if isinstance(holder.get("started"), (int, float)):
        text += ", since " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder["started"]))
    return text


def holder_record(what: str = "") -> dict:
    """What a holder writes into the lock file: enough for any waiter to tell whether it still runs."""
    pid = os.getpid()
    return {"token": uuid.uuid4().hex, **_machine(), "pid": pid, "proc_start": _proc_stat(pid)[1],
            **_slurm_identity(), "started": time.time(), "what": what}


def holder_gone(holder: dict, ask_slurm: bool = True) -> str | None:
    """Why `holder` surely no longer runs, or None while it may (or nobody can tell from here)."""
    if _same_machine(holder):
        return _process_gone(holder)
    job = holder.get("slurm_job")
    if not job:
        return None  # another machine and no job to ask about: only its own release frees the lock
    mine = _slurm_identity()
    if mine["slurm_cluster"] and holder.get("slurm_cluster") not in (None, mine["slurm_cluster"]):
        return None  # another cluster's job id means nothing to our squeue
    if job == mine["slurm_job"]:
        # SLURM starts a requeued job only after its earlier start ended, and counts the restarts.
        if (holder.get("slurm_restarts") or 0) < mine["slurm_restarts"]:
            return f"it ran in an earlier start of SLURM job {job}, which has been requeued"
        return None  # this very start of the job, on another of its nodes
    return _slurm_job_gone(job) if ask_slurm else None


def break_lock(path: Path, holder: dict) -> bool:
    """Remove the lock file `path` if it still holds `holder`'s record; True if this call removed it.

    Race-safe among waiters: a waiter first claims the holder by creating a claim file named after its
    token, and only one claim of a token can exist. The claimant removes the lock file only if it still
    holds that token. A waiter whose verdict came after another one broke the lock (and a new holder took
    it) cannot claim while the other's claim exists, and finds the new token once it is gone.
    """
    claim = path.with_name(f".{path.name}.broken-{holder['token']}")
    if not _create(claim, holder_record(f"breaking {path}")):
        _drop_dead_claim(claim)
        return False  # another waiter is breaking it
    try:
        if (lock_holder(path) or {}).get("token") != holder["token"]:
            return False  # released, or broken and taken again, since the waiter read it
        path.unlink()  # still the gone holder's file: only its claimant removes it, and it releases nothing
        return True
    except FileNotFoundError:
        return False
    finally:
        claim.unlink(missing_ok=True)


def _acquire(path: Path, what: str, timeout: float | None) -> dict:
    """Take the lock; return the record it holds."""
    waiter = _Waiter(path, what, timeout)
    while True:
        holder = lock_holder(path)
        if holder is None:  # looks free: only then write a record (a create per poll would load the server)
            me = holder_record(what)
            if _create(path, me):
                return me
            holder = lock_holder(path)  # another waiter was quicker
        waiter.wait(holder)


def _create(path: Path, record: dict) -> bool:
    """Create the lock file holding `record`, whole: True if this call created it."""
    tmp = path.with_name(f".{path.name}.{record['token']}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, json.dumps(record).encode())
        os.fsync(fd)  # the record is on the server before its name can appear
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        # NFS answers a retransmitted link that had succeeded with EEXIST: the link count tells.
        return os.stat(tmp).st_nlink == 2
    finally:
        tmp.unlink()  # the lock file keeps the record under its own name


def _release(path: Path, me: dict, what: str) -> None:
    holder = lock_holder(path)
    if holder is not None and holder["token"] == me["token"]:
        path.unlink(missing_ok=True)
        return
    # Only a wrong verdict of "gone" (a reused pid, a confused squeue) gets here: say so loudly.
    log.warning("The lock on %s (%s) was broken while this process held it (now: %s); another process may "
                "have written the same files", what, path, describe(holder) if holder else "free")


class _Waiter:
    """One wait for a lock: per poll, read the holder, break it if gone, log it, time out, sleep."""

    def __init__(self, path: Path, what: str, timeout: float | None):
        self.path, self.what, self.timeout = path, what, timeout
        self.start = time.monotonic()
        self.polls = 0
        self.logged: dict[str, float] = {}  # holder token -> when its "Waiting for" line was last logged
        self.asked_slurm: dict[str, float] = {}  # holder token -> when squeue was last asked about it

    def wait(self, holder: dict | None) -> None:
        """One poll's wait for `holder`; None: a holder we could not read (released, or not visible yet)."""
        if holder is not None:
            if self._break_if_gone(holder):
                return
            self._log_wait(holder)
        self._sleep(holder)

    def _break_if_gone(self, holder: dict) -> bool:
        why = _legacy_gone(self.path) if "invalid" in holder else holder_gone(holder, self._may_ask_slurm(holder))
        if why is None or not break_lock(self.path, holder):
            return False
        log.warning("Broke the lock on %s (%s): its holder %s is gone: %s", self.what, self.path, describe(holder), why)
        return True

    def _may_ask_slurm(self, holder: dict) -> bool:
        now = time.monotonic()
        if now - self.asked_slurm.get(holder["token"], -SLURM_CHECK_EVERY_S) < SLURM_CHECK_EVERY_S:
            return False
        self.asked_slurm[holder["token"]] = now
        return True

    def _log_wait(self, holder: dict) -> None:
        now = time.monotonic()
        last = self.logged.get(holder["token"])
        if last is not None and now - last < LOG_EVERY_S:
            return
        self.logged[holder["token"]] = now
        waited = f" (waiting for {(now - self.start) / 60:.0f} min)" if last is not None else ""
        log.info("Waiting for another process computing %s: held by %s; lock file %s%s",
                 self.what, describe(holder), self.path, waited)

    def _sleep(self, holder: dict | None) -> None:
        # Jitter keeps waiters that started together from polling the server in step.
        delay = random.uniform(POLL_S[0], min(POLL_S[1], 1.5 * POLL_S[0] * 1.5 ** self.polls))
        self.polls += 1
        if self.timeout is not None:
            left = self.start + self.timeout - time.monotonic()
            if left <= 0:
                raise LockTimeout(
                    f"Gave up after {self.timeout:g} s waiting for the lock on {self.what}: it is held by "
                    f"{describe(holder) if holder else 'another process'} (lock file {self.path}). "
                    "If that process is gone, delete the lock file.")
            delay = min(delay, left)
        time.sleep(delay)


def _drop_dead_claim(claim: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if time.time() - claim.stat().st_mtime > CLAIM_STALE_S:
            claim.unlink()


def _legacy_gone(path: Path) -> str | None:
    """Why an empty lock file of the older flock lock holds nothing, or None while an older flames holds it."""
    try:
        fd = os.open(path, os.O_WRONLY)  # NFS emulates flock with write locks: they need a writable fd
    except OSError:
        return None  # removed meanwhile (the next attempt takes it), or not ours to open: cannot tell
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return None
    except OSError:
        pass  # flock unsupported here (Lustre's default): nobody can hold one
    finally:
        os.close(fd)  # drops our flock too
    return "nobody holds its flock"


def _same_machine(holder: dict) -> bool:
    # Containers can share a host name but not their pids: a pid means something only in our pid namespace.
    here = _machine()
    return holder.get("host") == here["host"] and holder.get("pidns") == here["pidns"]


def _process_gone(holder: dict) -> str | None:
    host, pid = holder.get("host"), holder.get("pid")
    if holder.get("boot_id") and _machine()["boot_id"] and holder["boot_id"] != _machine()["boot_id"]:
        return f"{host} has restarted since"
    if not isinstance(pid, int) or pid <= 0:
        return f"its record names no pid ({pid!r})"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"no process {pid} runs on {host}"
    except PermissionError:
        pass  # it runs, as another user
    state, start = _proc_stat(pid)
    if state == "Z":  # killed, but its parent has not collected it yet
        return f"process {pid} on {host} has exited"
    if start and holder.get("proc_start") and start != holder["proc_start"]:
        return f"pid {pid} on {host} is now another process"
    return None


def _slurm_job_gone(job: str) -> str | None:
    squeue = shutil.which("squeue")
    if squeue is None:
        return None  # nothing can tell: the lock waits for its holder's own release
    try:
        # --jobs=<id>, not "-j <id>": -j's argument is optional, so squeue's man page asks for it attached.
        proc = subprocess.run([squeue, "--noheader", f"--jobs={job}", "--format=%T"],
                              capture_output=True, text=True, timeout=SQUEUE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        # A job forgotten some minutes after it ended is an "Invalid job id"; other failures
        # (controller down, no configuration) tell nothing.
        return f"squeue does not know SLURM job {job}" if "Invalid job id" in proc.stderr else None
    states = set(proc.stdout.split())
    if not states:
        return f"squeue no longer lists SLURM job {job}"
    if states <= NOT_RUNNING:
        return f"squeue lists SLURM job {job} as {', '.join(sorted(states))}"
    return None


def _slurm_identity() -> dict:
    """This process's SLURM job as squeue names it (array tasks as <array job>_<task>), its cluster and restarts."""
    env = os.environ
    array, task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    job = f"{array}_{task}" if array and task else env.get("SLURM_JOB_ID") or None
    restarts = env.get("SLURM_RESTART_COUNT", "0")
    return {"slurm_job": job, "slurm_cluster": env.get("SLURM_CLUSTER_NAME") or None,
            "slurm_restarts": int(restarts) if restarts.isdigit() else 0}


@functools.lru_cache(maxsize=1)
def _machine() -> dict:
    """host, pid namespace and boot: what must match for a pid in a holder record to be ours to check."""
    return {"host": socket.gethostname(), "pidns": _read(lambda: os.readlink("/proc/self/ns/pid")),
            "boot_id": _read(lambda: Path("/proc/sys/kernel/random/boot_id").read_text().strip())}


def _proc_stat(pid: int) -> tuple[str | None, str | None]:
    """(state, start time in clock ticks since boot) of a process, from /proc where there is one."""
    text = _read(lambda: Path(f"/proc/{pid}/stat").read_text())
    if not text:
        return None, None
    fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)": the name may hold spaces and parentheses
    return fields[0], fields[19]


def _read(get) -> str | None:
    try:
        return get()
    except OSError:
        return None
