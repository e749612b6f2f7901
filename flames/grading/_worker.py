"""Code that runs inside a grading worker process.

Kept free of heavy imports: the parent imports this module only to name ``serve`` as
the process target. math-verify is imported by ``_preload`` (in the forkserver, so
forked workers start warm) or, failing that, by ``serve`` itself.
"""

from __future__ import annotations

import os
import signal

# A worker that allocates without bound (2^(10^10) evaluated by sympy) could exhaust the
# machine's memory before the parent's timeout fires; with a cap it gets a MemoryError.
# The cap is on top of what the process already maps (a forkserver that preloaded torch
# maps gigabytes of address space it never touches).
_EXTRA_MEMORY_BYTES = 3 * 1024**3


def serve(conn) -> None:
    """Answer ``(task_id, (mode, candidates))`` messages with ``(task_id, status, equal)``.

    ``status`` is "ok" or "error". ``None`` or a closed pipe ends the loop. No
    timeouts here: the parent kills this process when an item takes too long.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    _cap_memory()
    from . import _preload
    from .equivalence import slow_equal

    _preload.warm_up()
    conn.send(("ready", os.getpid(), None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # parent went away
        if message is None:
            return
        task_id, (mode, candidates) = message
        try:
            result = (task_id, "ok", slow_equal(mode, candidates, signal_timeout=None))
        except BaseException as exc:  # noqa: BLE001 - any failure is one item's "error"
            result = (task_id, "error", f"{type(exc).__name__}: {str(exc)[:200]}")
        try:
            conn.send(result)
        except (EOFError, OSError):
            return


def _cap_memory() -> None:
    try:
        import resource

        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = mapped + _EXTRA_MEMORY_BYTES
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        if soft == resource.RLIM_INFINITY or soft > cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, ValueError, OSError):
        pass  # not on Linux, or not allowed: run without the cap
