"""Solution-level QC: which sampled solution (if any) to keep for one problem.

The paper (Table 1) samples n=3 solutions per problem and compares:
- first:          keep every problem with solution 0 (no verification);
- majority:       keep when one answer is given by a strict majority (> n/2) of the
                  samples, with the first solution giving it;
- majority_first: the majority solution where there is one, otherwise solution 0;
- strict:         keep only when all n answers parse and agree.
By construction kept(first) = kept(majority_first) >= kept(majority) >= kept(strict):
strict agreement is a majority, and majority_first keeps whatever majority keeps.

Answers agree when they are equivalent (``flames.grading.is_equivalent`` by default):
answers are first grouped by a cheap canonical key, then clusters whose representatives
are equivalent are merged, so the expensive check runs once per pair of distinct keys.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flames.context import StageContext


R = TypeVar("R")


@dataclass(frozen=True)
class Decision:
    """What to do with one problem.

    keep: keep the problem; index: which sampled solution to keep (None when dropped);
    reason: why it was dropped ("no_samples", "no_answer", "unparseable",
    "no_majority", "disagreement"), None when kept; votes: answer cluster
    representative (its first spelling) -> number of samples in the cluster.
    """

    keep: bool
    index: int | None
    reason: str | None
    votes: dict[str, int] = field(default_factory=dict)


def _default_equivalence() -> tuple[Callable[[str, str], bool], Callable[[str], str | None]]:
    from flames.grading import answer_key, is_equivalent  # heavy (sympy via math-verify): import late

    return is_equivalent, answer_key


def _strip_key(answer: str) -> str:
    return answer.strip()


def cluster_answers(
    answers: Sequence[str | None],
    equivalent: Callable[[str, str], bool],
    key: Callable[[str], str | None] = _strip_key,
) -> list[list[int]]:
    """Group sample indices whose answers agree; clusters in order of first appearance.

    Unparseable answers (None) are left out. Answers with equal keys share a cluster
    without calling `equivalent`; a key of None means "no canonical form", and such an
    answer is keyed by its raw text. Then clusters are merged when their
    representatives (first members) are equivalent, tried both ways round.
    """
    by_key: dict[Hashable, list[int]] = {}
    for i, a in enumerate(answers):
        if a is None:
            continue
        k = key(a)
        by_key.setdefault(("key", k) if k is not None else ("raw", a), []).append(i)
    clusters: list[list[int]] = []
    for members in by_key.values():  # dicts keep insertion order: first appearance
        rep = answers[members[0]]
        for c in clusters:
            other = answers[c[0]]
            if equivalent(rep, other) or equivalent(other, rep):
                c.extend(members)
                break
        else:
            clusters.append(list(members))
    for c in clusters:
        c.sort()
    clusters.sort(key=lambda c: c[0])
    return clusters


class Strategy:
    """A solution-QC strategy: which problems to keep, each with one of its sampled solutions.

    A strategy that needs models declares them: `model_configs` (their config nodes, which enter
    the solution_qc key) and `load_models` (the objects `keep` receives as keyword arguments).
    The conf/qc/ yaml names the class in `strategy._target_`; other keys there are its arguments.
    """

    name = ""

    def model_configs(self, qc: Any, problem_model: Any) -> dict[str, Any]:
        return {}

    def load_models(self, qc: Any, problem_model: Any, ctx: StageContext | None = None) -> dict[str, Any]:
        return {}

    def keep(self, rows: list[dict], writer: Any, **models: Any) -> tuple[list[dict], dict]:
        """(kept records, metrics); drops go to `writer.drop` with their reasons."""
        raise NotImplementedError


def kept_record(row: dict, index: int, qc: dict) -> dict:
    """The output record: the problem with one chosen solution and how it was chosen."""
    sol = row["solutions"][index]
    rest = {k: v for k, v in row.items() if k != "solutions"}
    return {**rest, "solution": sol["text"], "answer": sol["answer"],
            "qc": {"chosen": index, "num_samples": len(row["solutions"]), **qc}}


class AnswerStrategy(Strategy):
    """Decides one problem from its samples' answers (`decide`); a new rule is one subclass and one yaml.

    `clusters` are the agreeing answers' sample indices (``cluster_answers``), or None when
    `uses_clusters` is False (no answer comparison needed).
    """

    uses_clusters = True

    def decide(self, answers: Sequence[str | None], clusters: list[list[int]] | None) -> Decision:
        raise NotImplementedError

    def keep(self, rows: list[dict], writer: Any, **models: Any) -> tuple[list[dict], dict]:
        kept, vote_hist = [], Counter()
        for row in rows:
            d = select(self, [s["answer"] for s in row["solutions"]])
            vote_hist[max(d.votes.values(), default=0)] += 1
            if not d.keep:
                writer.drop([{"id": row["id"], "votes": d.votes}], d.reason or "rejected")
                continue
            kept.append(kept_record(row, d.index, {"strategy": self.name, "votes": d.votes}))
        return kept, {"largest_vote_histogram": {str(k): v for k, v in sorted(vote_hist.items())}}


class First(AnswerStrategy):
    """Every problem, with solution 0 (no verification)."""

    name, uses_clusters = "first", False

    def decide(self, answers, clusters):
        return Decision(True, 0, None)


def _majority(answers, clusters) -> tuple[list[int] | None, bool, dict[str, int]]:
    """The largest cluster (the first of equal ones), whether it is a strict majority, the votes."""
    votes = {answers[c[0]]: len(c) for c in clusters}
    top = max(clusters, key=len, default=None)
    return top, top is not None and 2 * len(top) > len(answers), votes


class Majority(AnswerStrategy):
    """Problems whose answer a strict majority of samples give, with the first sample giving it."""

    name = "majority"

    def decide(self, answers, clusters):
        top, has_majority, votes = _majority(answers, clusters)
        if has_majority:
            return Decision(True, top[0], None, votes)
        return Decision(False, None, "no_answer" if not clusters else "no_majority", votes)


class MajorityFirst(AnswerStrategy):
    """Every problem: the majority solution where there is one, else solution 0."""

    name = "majority_first"

    def decide(self, answers, clusters):
        top, has_majority, votes = _majority(answers, clusters)
        return Decision(True, top[0] if has_majority else 0, None, votes)


class Strict(AnswerStrategy):
    """Problems whose n answers all parse and agree."""

    name = "strict"

    def decide(self, answers, clusters):
        votes = _majority(answers, clusters)[2]
        if not clusters:
            return Decision(False, None, "no_answer", votes)
        if any(a is None for a in answers):
            return Decision(False, None, "unparseable", votes)
        if len(clusters) > 1:
            return Decision(False, None, "disagreement", votes)
        return Decision(True, 0, None, votes)


ANSWER_STRATEGIES: dict[str, type[AnswerStrategy]] = {c.name: c for c in (First, Majority, MajorityFirst, Strict)}
STRATEGIES = tuple(ANSWER_STRATEGIES)  # decided by `select` from the answers


def select(
    strategy: str | AnswerStrategy,
    answers: Sequence[str | None],
    *,
    equivalent: Callable[[str, str], bool] | None = None,
    key: Callable[[str], str | None] | None = None,
) -> Decision:
    """Apply one QC strategy (a name of ``ANSWER_STRATEGIES`` or an instance) to one problem's answers.

    `answers[i]` is the answer of sampled solution i (None = unparseable).
    `equivalent(a, b)` decides agreement (default ``flames.grading.is_equivalent``);
    `key(a)` is a cheap canonical form used to group answers before any equivalence
    call (default ``flames.grading.answer_key`` with the default equivalence, the
    stripped text with a custom one).
    """
    if isinstance(strategy, str):
        if strategy not in ANSWER_STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        strategy = ANSWER_STRATEGIES[strategy]()
    if not answers:
        return Decision(False, None, "no_samples")
    if not strategy.uses_clusters:  # no verification, so no need to compare answers at all
        return strategy.decide(answers, None)
    if equivalent is None:
        equivalent, default_key = _default_equivalence()
        key = key or default_key
    return strategy.decide(answers, cluster_answers(answers, equivalent, key or _strip_key))


def subsample_fixed_size(
    records: Sequence[R], size: int, seed: int, *, key: Callable[[R], Hashable] | None = None
) -> list[R]:
    """A deterministic subsample of `size` records, in their original order.

    For the paper's equal-data-size comparison. Records are ranked by a seeded hash of
    `key(record)` (default: the position), so the choice does not depend on Python's
    hash seed, and with a key such as the problem id two strategies' pools select the
    same problems wherever they overlap. Smaller sizes are prefixes of larger ones
    (nested subsamples). Raises if `size` exceeds the pool.
    """
    if not 0 <= size <= len(records):
        raise ValueError(f"cannot take {size} records from a pool of {len(records)}")
    if key is None:
        order = list(range(len(records)))
        random.Random(seed).shuffle(order)
    else:
        order = sorted(range(len(records)), key=lambda i: _rank(seed, key(records[i])))
    return [records[i] for i in sorted(order[:size])]


def _rank(seed: int, k: Hashable) -> bytes:
    return hashlib.blake2b(f"{seed}\x00{k!r}".encode(), digest_size=16).digest()
