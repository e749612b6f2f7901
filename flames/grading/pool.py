"""Worker processes for math-verify with a hard per-item timeout.

Why not ``concurrent.futures`` or ``multiprocessing.Pool``: neither can kill the one
worker that is stuck on one item and carry on. Here each worker holds at most one item,
the parent waits on all pipes with a deadline, and a worker past its deadline is killed
(SIGKILL) and replaced. math-verify's own SIGALRM timeouts are off in the workers; a
signal handler cannot interrupt a long C-level big-integer operation anyway.

Processes come from the "forkserver" context: the caller may have torch (and its
threads) loaded, and forking such a process can deadlock. The forkserver preloads
math-verify, so a replacement worker is a cheap fork of a warm process.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import multiprocessing as mp
import os
import threading
import time
from collections import deque
from multiprocessing.connection import wait

from . import _worker

logger = logging.getLogger("flames.grading")

_PRELOAD = "flames.grading._preload"
_STARTUP_TIMEOUT_S = 120.0  # a cold worker imports math-verify: about 1 s, slower under load
_MAX_START_FAILURES = 3


def _context():
    """The forkserver context with our preload added, or spawn where there is none."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    # set_forkserver_preload replaces the list, so keep what is there (by default
    # ["__main__"]). It has no effect if the forkserver already runs; workers then
    # import math-verify themselves, which is only slower.
    import multiprocessing.forkserver as fs

    current = list(getattr(getattr(fs, "_forkserver", None), "_preload_modules", None) or ["__main__"])
    if _PRELOAD not in current:
        ctx.set_forkserver_preload(current + [_PRELOAD])
    return ctx


class _Worker:
    __slots__ = ("process", "conn", "ready", "task", "deadline", "start_deadline")

    def __init__(self, ctx) -> None:
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker.serve, args=(child_conn,), name="flames-grading", daemon=True)
        self.process.start()
        child_conn.close()
        self.conn = parent_conn
        self.ready = False
        self.task: tuple[int, int] | None = None  # (task id, index in the batch)
        self.deadline = 0.0
        self.start_deadline = time.monotonic() + _STARTUP_TIMEOUT_S

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        """Ask politely, then kill."""
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(timeout=1)
        self.kill()


class GradingPool:
    """A lazily grown set of grading workers; one batch runs at a time."""

    def __init__(self) -> None:
        self._ctx = _context()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._pid = os.getpid()
        self.replaced = 0  # workers killed on timeout or found dead, for tests and reports

    def run(self, tasks: list, *, timeout: float, workers: int) -> list[tuple[str, object]]:
        """Grade ``tasks`` (``Plan.task``: mode and candidates); one ``(status, value)`` per task, in order.

        ``status`` is "ok" (value: bool), "timeout" or "error" (value: message).
        """
        if not tasks:
            return []
        with self._lock:
            try:
                return self._run(tasks, timeout, max(1, min(workers, len(tasks))))
            except BaseException:
                # Interrupted mid-batch: in-flight answers would arrive in the next
                # batch, so drop every worker rather than reason about stale messages.
                self.close()
                raise

    def close(self) -> None:
        """Stop all workers (at exit, or after an interrupted batch)."""
        workers, self._workers = self._workers, []
        if os.getpid() != self._pid:
            return  # inherited through fork: the workers belong to the parent
        for w in workers:
            w.stop()

    # ------------------------------------------------------------------ internals

    def _run(self, tasks: list, timeout: float, n_workers: int) -> list[tuple[str, object]]:
        self._resize(n_workers)
        queue = deque(range(len(tasks)))
        results: list[tuple[str, object] | None] = [None] * len(tasks)
        start_failures = 0
        while queue or any(w.task for w in self._workers):
            self._dispatch(queue, tasks, timeout)
            readable = wait(self._wait_objects(), timeout=self._wait_time())
            for w in list(self._workers):
                if w.conn in readable or w.process.sentinel in readable:
                    start_failures += self._receive(w, results)
            start_failures += self._expire(results)
            if start_failures >= _MAX_START_FAILURES and not any(w.ready for w in self._workers):
                raise RuntimeError("flames.grading: worker processes fail to start (see their stderr)")
        return results  # type: ignore[return-value]

    def _resize(self, n: int) -> None:
        for w in self._workers[n:]:
            w.stop()
        self._workers = [w for w in self._workers[:n] if w.process.is_alive()]
        while len(self._workers) < n:
            self._workers.append(_Worker(self._ctx))

    def _dispatch(self, queue: deque, tasks: list, timeout: float) -> None:
        for w in self._workers:
            if not queue:
                return
            if w.ready and w.task is None:
                index = queue.popleft()
                task_id = next(self._ids)
                try:
                    w.conn.send((task_id, tasks[index]))
                except (OSError, ValueError):
                    queue.appendleft(index)  # the worker died between items: retry elsewhere
                    self._replace(w)
                    continue
                w.task = (task_id, index)
                w.deadline = time.monotonic() + timeout

    def _wait_objects(self) -> list:
        objects = []
        for w in self._workers:
            objects.append(w.conn)
            objects.append(w.process.sentinel)
        return objects

    def _wait_time(self) -> float:
        deadlines = [w.deadline if w.task else w.start_deadline for w in self._workers if w.task or not w.ready]
        if not deadlines:
            return 1.0
        return max(0.0, min(deadlines) - time.monotonic())

    def _receive(self, w: _Worker, results: list) -> int:
        """Handle what one worker said (or its death); returns 1 for a failed start."""
        message = None
        try:
            if w.conn.poll():
                message = w.conn.recv()
        except (EOFError, OSError):
            message = None
        if message is not None:
            head, status, value = message  # ("ready", pid, None) or (task id, status, value)
            if head == "ready":
                w.ready = True
            elif w.task and w.task[0] == head:
                results[w.task[1]] = (status, value)
                w.task = None
            return 0
        if w.process.is_alive():
            return 0
        # The worker died: a crash in C code, the memory cap, or killed from outside.
        failed_start = 0 if w.ready else 1
        if w.task:
            results[w.task[1]] = ("error", f"worker exited with code {w.process.exitcode}")
        self._replace(w)
        return failed_start

    def _expire(self, results: list) -> int:
        now = time.monotonic()
        failed_starts = 0
        for w in list(self._workers):
            if w.task and now >= w.deadline:
                results[w.task[1]] = ("timeout", None)
                self._replace(w)
            elif not w.ready and now >= w.start_deadline:
                failed_starts += 1
                self._replace(w)
        return failed_starts

    def _replace(self, w: _Worker) -> None:
        w.kill()
        self.replaced += 1
        self._workers[self._workers.index(w)] = _Worker(self._ctx)


_POOL: GradingPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool() -> GradingPool:
    """The module-level pool, created on first use and stopped at interpreter exit."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._pid != os.getpid():
            _POOL = GradingPool()
            atexit.register(_POOL.close)
        return _POOL


def shutdown_pool() -> None:
    """Stop the module-level workers now (they restart on the next ``grade_batch``)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.close()
            _POOL = None
