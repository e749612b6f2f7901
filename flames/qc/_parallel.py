"""Ordered map over chunks of a list, in worker processes when it pays.

Workers are started with "spawn", not "fork": the parent may already hold threads
(rensa's Rust thread pool, a tokenizer, torch), and forking a threaded process can
deadlock. Spawn costs about a second per worker, so small inputs run inline. As with
any spawn pool, a script that calls these functions needs the
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any, TypeVar

T = TypeVar("T")

# Below this many items, worker start-up costs more than it saves.
MIN_PARALLEL_ITEMS = 20_000


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (restored on exit).

    Bulk loops here make millions of small lists and sets but no reference cycles;
    with a large heap, the collector's repeated passes over it cost ~20% of the time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolve_workers(workers: int | None, n_items: int) -> int:
    """`workers`, or a default: 1 for small inputs, else the CPUs that are idle now.

    Idle = available CPUs minus the load of other processes (the 1-minute load average
    less this running process). On a 2-CPU machine shared with other jobs (load 5-7),
    one process measured 15-30% faster than two workers: extra processes only pay when
    there are free cores for them.
    """
    if workers is not None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        return workers
    if n_items < MIN_PARALLEL_ITEMS:
        return 1
    cpus = available_cpus()
    others = max(0.0, os.getloadavg()[0] - 1.0)
    return max(1, min(cpus, round(cpus - others)))


def chunk_bounds(n_items: int, workers: int, max_chunk: int = 50_000) -> list[tuple[int, int]]:
    """[start, end) ranges: about 4 chunks per worker (load balance), at most `max_chunk` long."""
    if n_items == 0:
        return []
    size = max(1, min(max_chunk, -(-n_items // (4 * workers)) if workers > 1 else max_chunk))
    return [(s, min(s + size, n_items)) for s in range(0, n_items, size)]


_SHARED: Any = None


def _set_shared(obj: Any) -> None:
    global _SHARED
    _SHARED = obj


def shared() -> Any:
    """The `shared` object of the ``map_chunks`` call this process is working for."""
    return _SHARED


def map_chunks(
    fn: Callable[..., T],
    items: Sequence,
    *,
    workers: int,
    args: tuple = (),
    shared: Any = None,
    max_chunk: int = 50_000,
) -> Iterator[tuple[int, T]]:
    """Yield (chunk start, fn(items[start:end], *args)) in input order.

    `fn` must be a module-level function (it is pickled by name for the workers).
    `shared` (e.g. an index) is sent to each worker once, not with every chunk; `fn`
    reads it with ``shared()``. Results stream back in order, so the caller can
    consume chunk k while later chunks are still being computed.
    """
    bounds = chunk_bounds(len(items), workers, max_chunk)
    if workers == 1 or len(bounds) <= 1:
        previous = _SHARED
        _set_shared(shared)
        try:
            for s, e in bounds:
                yield s, fn(items[s:e], *args)
        finally:
            _set_shared(previous)
        return
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_set_shared, initargs=(shared,)) as pool:
        futures = [pool.submit(fn, list(items[s:e]), *args) for s, e in bounds]
        for (s, _), fut in zip(bounds, futures):
            yield s, fut.result()
