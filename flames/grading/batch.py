"""Grade many (prediction, gold) pairs: fast path here, the slow path in worker processes."""

from __future__ import annotations

import logging
import os

from .equivalence import Plan, Verdict, finish, plan_pair, slow_equal
from .modes import DEFAULT_MODE

logger = logging.getLogger("flames.grading")


def grade_batch(
    preds: list[str | None],
    golds: list[str],
    *,
    timeout: float = 5.0,
    workers: int | None = None,
    audit: bool = False,
    mode: str = DEFAULT_MODE,
) -> list[Verdict]:
    """One :class:`Verdict` per pair, in input order.

    ``preds`` are extracted answers (``extract_answer(output, mode=mode)``; None = no
    answer); a boxed answer or an answer sentence is read too. ``mode`` is one of
    ``flames.grading.MODES``. Pairs the fast path decides never reach a worker. The others are deduplicated
    (identical cleaned pairs are graded once) and sent to worker processes; an item
    that runs longer than ``timeout`` seconds has its worker killed and gets
    ``Verdict(False, "timeout", timed_out=True)``. ``workers=None`` uses
    ``os.cpu_count()`` workers; ``workers=0`` grades in this process without any
    timeout (tests, tiny inputs). ``audit=True`` also sends fast-path-decided pairs to
    the slow path and flags disagreements (slow: for calibration, not for evaluation).
    """
    if len(preds) != len(golds):
        raise ValueError(f"{len(preds)} predictions but {len(golds)} golds")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    plans = [plan_pair(p, g, audit=audit, mode=mode) for p, g in zip(preds, golds)]
    groups: dict[tuple, list[int]] = {}
    for i, plan in enumerate(plans):
        if plan.candidates:
            groups.setdefault(plan.task, []).append(i)
    tasks = list(groups)
    outcomes = _run_in_process(tasks) if workers == 0 else _run_in_pool(tasks, timeout, workers)
    verdicts: list[Verdict | None] = [plan.decided for plan in plans]
    for task, outcome in zip(tasks, outcomes):
        for i in groups[task]:
            verdicts[i] = _verdict(plans[i], outcome, i)
    return verdicts  # type: ignore[return-value]


def _run_in_pool(tasks: list, timeout: float, workers: int | None) -> list[tuple[str, object]]:
    if not tasks:
        return []  # everything decided by the fast path: no pool is started
    from .pool import get_pool

    n = workers if workers is not None else (os.cpu_count() or 1)
    return get_pool().run(tasks, timeout=timeout, workers=n)


def _run_in_process(tasks: list) -> list[tuple[str, object]]:
    outcomes: list[tuple[str, object]] = []
    for mode, candidates in tasks:
        try:
            outcomes.append(("ok", slow_equal(mode, candidates, signal_timeout=None)))
        except Exception as exc:  # noqa: BLE001 - one item's failure is that item's "error"
            outcomes.append(("error", f"{type(exc).__name__}: {exc}"))
    return outcomes


def _verdict(plan: Plan, outcome: tuple[str, object], index: int) -> Verdict:
    status, value = outcome
    if status == "ok":
        return finish(plan, bool(value), label=f"item {index}")
    if plan.decided is not None:
        return plan.decided  # audit of a decided pair failed: the fast path stands
    if status == "timeout":
        logger.debug("item %d timed out: %r", index, plan.candidates[0])
        return Verdict(False, "timeout", timed_out=True)
    logger.debug("item %d failed in math-verify: %s", index, value)
    return Verdict(False, "error")
