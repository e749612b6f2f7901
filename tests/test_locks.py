"""The lock on shared filesystems, with real processes: holder records, waits, stale breaks, timeouts, races."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flames.locks import CLAIM_STALE_S, LockTimeout, file_lock, holder_record, lock_holder
from flames.store import Store
from tests.conftest import REPO

HOST = socket.gethostname()

# Takes the lock, says so, keeps it `seconds`, and notes (still holding it) that it is leaving.
HOLD = """
import logging, sys, time
from pathlib import Path
from flames.locks import file_lock
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
lock, seconds, note = Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
with file_lock(lock, "the test artifact"):
    print("locked", flush=True)
    time.sleep(seconds)
    note.write_text("leaving")
"""

# One of several waiters started together (a barrier file): notes when it enters and leaves the lock.
RACE = """
import logging, os, sys, time
from pathlib import Path
from flames.locks import file_lock
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
lock, go, trace = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
Path(f"{go}.ready-{os.getpid()}").touch()
while not go.exists():
    time.sleep(0.001)
with file_lock(lock, "the contested artifact", timeout=120):
    with open(trace, "a") as fh:
        fh.write(f"enter {os.getpid()}\\n")
    time.sleep(1)  # longer than the spread of the other waiters' slow verdicts (see the test)
    with open(trace, "a") as fh:
        fh.write(f"exit {os.getpid()}\\n")
"""

# A holder on another machine, in SLURM job 777_3 (pid 4242 means nothing here).
FOREIGN = {"token": "f" * 32, "host": "node-elsewhere", "pid": 4242, "pidns": None, "boot_id": None,
           "proc_start": None, "slurm_job": "777_3", "slurm_cluster": None, "slurm_restarts": 0,
           "started": time.time() - 60, "what": "s/abc"}


@pytest.fixture(autouse=True)
def _outside_slurm(monkeypatch):
    """The tests say which SLURM job they run in; a CI job's own must not leak in."""
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_CLUSTER_NAME",
                "SLURM_RESTART_COUNT"):
        monkeypatch.delenv(var, raising=False)


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), **extra}


def _start_holder(lock: Path, seconds: float, note: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), str(seconds), str(note)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "locked":
        proc.kill()
        pytest.fail(f"the holder did not take the lock: {proc.communicate()[1][-2000:]}")
    return proc


def _fake_squeue(bin_dir: Path, body: str) -> Path:
    """A `squeue` on PATH that records its arguments and runs `body` (sh)."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "squeue"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{bin_dir}/calls"\n{body}\n')
    script.chmod(0o755)
    return bin_dir / "calls"


def _messages(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def _leftovers(folder: Path) -> list[str]:
    """Temporary records and break claims beside the lock file: none may outlive a lock call."""
    return sorted(p.name for p in folder.glob(".*.lock*"))


@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
def test_a_killed_holders_lock_is_broken_with_a_warning(tmp_path, caplog, reaped):
    lock = tmp_path / "a.lock"
    holder = _start_holder(lock, 300, tmp_path / "note")
    record = lock_holder(lock)
    assert (record["pid"], record["host"], record["what"]) == (holder.pid, HOST, "the test artifact")
    holder.kill()  # SIGKILL: its release never runs, the lock file stays
    if reaped:
        holder.wait()  # a zombie (not yet collected by its parent) must read as gone too
    caplog.set_level(logging.INFO, logger="flames.locks")
    try:
        with file_lock(lock, "the test artifact", timeout=60):
            assert lock_holder(lock)["pid"] == os.getpid()
    finally:
        holder.wait()
    warnings = _messages(caplog, logging.WARNING)
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("Broke the lock on the test artifact")
    assert f"pid {holder.pid} on {HOST}" in warnings[0] and "is gone" in warnings[0]
    assert not lock.exists() and _leftovers(tmp_path) == []


def test_a_waiter_names_the_live_holder_and_gets_the_lock_after_it(tmp_path, caplog):
    lock, note = tmp_path / "a.lock", tmp_path / "note"
    holder = _start_holder(lock, 2, note)
    caplog.set_level(logging.INFO, logger="flames.locks")
    with file_lock(lock, "the test artifact", timeout=120):
        assert note.read_text() == "leaving"  # the holder finished its block before this one began
        assert lock_holder(lock)["pid"] == os.getpid()
    _, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, err
    waits = [m for m in _messages(caplog, logging.INFO) if m.startswith("Waiting for another process")]
    assert len(waits) == 1, waits  # once, not once per poll
    assert f"computing the test artifact: held by pid {holder.pid} on {HOST}" in waits[0]
    assert _messages(caplog, logging.WARNING) == []  # a live holder is waited for, never broken
    assert "WARNING" not in err  # and its release found its own record in the lock file
    assert not lock.exists() and _leftovers(tmp_path) == []


def test_timeout_ends_the_wait_naming_the_holder(tmp_path):
    lock = tmp_path / "a.lock"
    holder = _start_holder(lock, 300, tmp_path / "note")
    try:
        # The LockTimeout naming the timeout and the holder is the proof the wait ended (the holder holds for 300 s)
        with pytest.raises(LockTimeout, match=rf"0\.5 s .* held by pid {holder.pid} on {re.escape(HOST)}"):
            with file_lock(lock, "the test artifact", timeout=0.5):
                pytest.fail("got a lock that a live process holds")
        assert lock_holder(lock)["pid"] == holder.pid  # still the holder's
        assert _leftovers(tmp_path) == []
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("squeue, broken", [
    ("", True),  # squeue lists no such job: it ended
    ("echo PENDING", True),  # requeued or not yet started again: no process of it runs
    ("echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1", True),  # ended long ago
    ("echo 777_3", False),  # listed
    ("echo RUNNING", False),
    ("echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1", False),  # tells nothing
    (None, False),  # no squeue on PATH: nothing can tell
], ids=["unlisted", "pending", "forgotten", "listed", "running", "controller-down", "no-squeue"])
def test_a_foreign_holder_is_broken_only_when_squeue_says_its_job_ended(tmp_path, monkeypatch, caplog, squeue,
                                                                        broken):
    lock, bin_dir = tmp_path / "a.lock", tmp_path / "bin"
    lock.write_text(json.dumps(FOREIGN))
    calls = _fake_squeue(bin_dir, squeue) if squeue is not None else None
    monkeypatch.setenv("PATH", str(bin_dir))  # only the fake (or nothing): the machine's squeue stays out
    caplog.set_level(logging.INFO, logger="flames.locks")
    if broken:
        with file_lock(lock, "s/abc", timeout=30):
            assert lock_holder(lock)["pid"] == os.getpid()
        [warning] = _messages(caplog, logging.WARNING)
        assert "pid 4242 on node-elsewhere (SLURM job 777_3)" in warning and "squeue" in warning
    else:
        with pytest.raises(LockTimeout, match=r"held by pid 4242 on node-elsewhere \(SLURM job 777_3\)"):
            with file_lock(lock, "s/abc", timeout=1):
                pytest.fail("broke the lock of a job that may still run")
        assert lock_holder(lock)["token"] == FOREIGN["token"] and _messages(caplog, logging.WARNING) == []
    if calls is not None:  # asked once about this holder within the wait, with the job id attached
        assert calls.read_text().splitlines() == ["--noheader --jobs=777_3 --format=%T"]
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("restarts, broken", [("1", True), ("0", False)], ids=["requeued", "same-start"])
def test_a_holder_from_an_earlier_start_of_this_job_is_gone(tmp_path, monkeypatch, restarts, broken):
    """A requeued job finds the lock its killed earlier start left on another node (no squeue needed)."""
    lock = tmp_path / "a.lock"
    lock.write_text(json.dumps(FOREIGN))
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "777")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    monkeypatch.setenv("SLURM_JOB_ID", "780")
    monkeypatch.setenv("SLURM_RESTART_COUNT", restarts)
    if broken:
        with file_lock(lock, timeout=30):
            assert lock_holder(lock)["slurm_job"] == "777_3"
    else:
        with pytest.raises(LockTimeout):
            with file_lock(lock, timeout=1):
                pass


@pytest.mark.parametrize("older_flames_holds_it", [False, True])
def test_an_empty_lock_file_of_the_flock_lock(tmp_path, caplog, older_flames_holds_it):
    """Stores written by earlier flames keep an empty <key>.lock; it is broken unless its flock is held."""
    lock = tmp_path / "a.lock"
    lock.touch()
    caplog.set_level(logging.INFO, logger="flames.locks")
    with open(lock, "a") as fh:
        if older_flames_holds_it:
            fcntl.flock(fh, fcntl.LOCK_EX)
            with pytest.raises(LockTimeout, match="an empty lock file"):
                with file_lock(lock, timeout=1):
                    pass
        else:
            with file_lock(lock, timeout=30):
                assert lock_holder(lock)["pid"] == os.getpid()
            [warning] = _messages(caplog, logging.WARNING)
            assert "an empty lock file" in warning and "nobody holds its flock" in warning


@pytest.mark.parametrize("claim_age, broken", [(CLAIM_STALE_S + 60, True), (0, False)], ids=["dead", "live"])
def test_a_claim_left_by_a_waiter_that_died_while_breaking(tmp_path, claim_age, broken):
    """Another waiter's claim on a gone holder blocks breaking it, until the claim is old enough to be dead."""
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    lock = tmp_path / "a.lock"
    record = {**holder_record("s/abc"), "pid": exited.pid, "proc_start": None}  # a holder that has exited
    lock.write_text(json.dumps(record))
    claim = tmp_path / f".a.lock.broken-{record['token']}"
    claim.write_text("{}")
    os.utime(claim, (time.time() - claim_age,) * 2)
    if broken:
        with file_lock(lock, timeout=30):
            assert lock_holder(lock)["pid"] == os.getpid()
        assert _leftovers(tmp_path) == []
    else:
        with pytest.raises(LockTimeout, match=f"held by pid {exited.pid} on "):
            with file_lock(lock, timeout=1):
                pass
        assert claim.exists()


@pytest.mark.parametrize("stale", ["killed-holder", "slow-squeue"])
def test_waiters_racing_for_a_stale_lock_hold_it_one_at_a_time(tmp_path, stale):
    """Four waiters released together all find the lock stale; one breaks it, and they take turns.

    With a slow squeue (0.5 s) every waiter decides "gone" long after it read the holder, after the
    first one broke the lock and took it: a waiter that removed the lock file on that stale verdict
    would remove the new holder's lock.
    """
    lock, go, trace = tmp_path / "a.lock", tmp_path / "go", tmp_path / "trace"
    extra = {}
    if stale == "killed-holder":
        holder = _start_holder(lock, 300, tmp_path / "note")
        holder.kill()
        holder.wait()
    else:
        lock.write_text(json.dumps(FOREIGN))
        _fake_squeue(tmp_path / "bin", "sleep 0.5")
        extra["PATH"] = os.pathsep.join([str(tmp_path / "bin"), os.environ["PATH"]])
    waiters = [subprocess.Popen([sys.executable, "-c", RACE, str(lock), str(go), str(trace)], env=_env(**extra),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    deadline = time.monotonic() + 120  # only a bound on start-up, however loaded the machine
    while len(list(tmp_path.glob("go.ready-*"))) < len(waiters) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    errs = [w.communicate(timeout=300)[1] for w in waiters]
    assert [w.returncode for w in waiters] == [0] * len(waiters), errs
    lines = trace.read_text().split()
    pids = lines[1::2]
    assert lines[0::2] == ["enter", "exit"] * len(waiters)  # never two inside at once
    assert pids[0::2] == pids[1::2] and sorted(set(pids)) == sorted(str(w.pid) for w in waiters)
    breaks = [line for err in errs for line in err.splitlines() if "Broke the lock" in line]
    assert len(breaks) == 1, errs  # the stale holder was broken once, never a live one
    assert not any("was broken while this process held it" in err for err in errs), errs
    assert not lock.exists() and _leftovers(tmp_path) == []


def test_store_lock_timeout(tmp_path, monkeypatch):
    """Store(root, lock_timeout=...) bounds the wait for another job computing the same artifact."""
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # no squeue: the foreign holder counts as alive
    store = Store(tmp_path / "store", lock_timeout=0.5)
    art = store.artifact("s", {"x": 1}, {})
    lock = art.path.parent / f"{art.key}.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps(FOREIGN))
    with pytest.raises(LockTimeout, match=rf"lock on s/{art.key}: it is held by pid 4242 on node-elsewhere"):
        store.run("s", {"x": 1}, {}, lambda folder: pytest.fail("computed under another job's lock"))
