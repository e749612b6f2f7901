"""Views of a growing pool: the records a run's sizes ask for, whatever else the pool holds.

A generation artifact (a pool: synthesize, problem_qc, solve, solution_qc) is keyed without its size and
grows when a run asks for more (`flames.store`). A run reads the view its sizes ask for:

- problems: synthesize stamps every problem that passes problem QC with `view_rank`, its place in one order
  over the seed datasets (`ViewOrder`); `agent.num_problems=N` reads the records with view_rank < N. A
  smaller N reads a subset of a larger N's, and a pool grown past N still has the same view of N.
- samples: solve appends more samples of a problem as a top-up row (`topup_of`); `merge_samples` folds them
  into the problem's row in order, and `solve.num_samples=k` reads the first k of them.

No imports from the rest of flames: every stage function reads its views through these few functions.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Iterable, Iterator

RANK = "view_rank"  # record field: the problem's place in its pool's view order (problems that pass QC only)
TOPUP = "topup_of"  # record field of a solve top-up row: the problem id whose samples it continues


class ViewOrder:
    """One order over the problems of several seed datasets, so that its first N hold each dataset's share.

    Problem k (0-based) of dataset d comes at priority (k + 1/2) / share_d, ties to the dataset first by
    name (the Sainte-Lague divisor method). A divisor method is house-monotone: raising N never takes a
    problem out of the first N, so the views of a growing pool are nested.
    """

    def __init__(self, datasets: Iterable[str], shares: dict[str, float] | None = None):
        present = sorted(set(datasets))
        # Inputs that are not seeds (taxonomy topics) have no dataset: `shares` does not apply to them.
        raw = {d: Fraction(shares[d]).limit_denominator(10**6) for d in present if d in (shares or {})}
        raw = raw or {d: Fraction(1) for d in present}
        total = sum(raw.values())
        self.shares = {d: s / total for d, s in raw.items()}

    def position(self, dataset: str, k: int) -> int:
        """Where problem k of `dataset` stands in the order (0-based): how many problems of all datasets precede it."""
        x = Fraction(2 * k + 1, 2) / self.shares[dataset]
        pos = k
        for other, share in self.shares.items():
            if other == dataset:
                continue
            bound = x * share - Fraction(1, 2)  # problem j of `other` precedes when j < bound (j <= bound on a tie)
            if other < dataset:
                pos += math.floor(bound) + 1 if bound >= 0 else 0
            else:
                pos += math.ceil(bound) if bound > 0 else 0
        return pos

    def targets(self, n: int) -> dict[str, int]:
        """Problems of each dataset among the first `n` of the order (summing to n)."""
        out = {}
        for d in self.shares:
            lo, hi = 0, n  # the first k whose position is >= n: problems 0..k-1 are in the view
            while lo < hi:
                mid = (lo + hi) // 2
                if self.position(d, mid) < n:
                    lo = mid + 1
                else:
                    hi = mid
            out[d] = lo
        return out


def in_view(record: dict, num_problems: int | None) -> bool:
    """Whether a problem record is in the view of `num_problems` (None: every record is)."""
    if num_problems is None:
        return True
    rank = record.get(RANK)
    return rank is not None and rank < num_problems


def merge_samples(rows: Iterable[dict], num_samples: int | None = None) -> Iterator[dict]:
    """Solve rows with their top-up rows folded in (samples in the order they were made), the first
    `num_samples` solutions of each (None: all), in the order the problems were first solved."""
    problems: dict[str, dict] = {}
    for row in rows:
        base = problems.get(row[TOPUP]) if TOPUP in row else None
        if base is not None:
            base["solutions"] = base["solutions"] + row["solutions"]
        elif TOPUP not in row:
            problems[row["id"]] = dict(row)
    for row in problems.values():
        yield row if num_samples is None else {**row, "solutions": row["solutions"][:num_samples]}


def sample_counts(rows: Iterable[dict]) -> dict[str, int]:
    """Problem id -> samples held (its row's and its top-ups')."""
    counts: dict[str, int] = {}
    for row in rows:
        pid = row.get(TOPUP, row["id"])
        counts[pid] = counts.get(pid, 0) + len(row["solutions"])
    return counts
