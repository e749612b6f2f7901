"""Scores of one problem from its own record: difficulty (solve rate), topic and level, length.

Difficulty: the share of the sampled solutions whose answer agrees with a reference answer, the seed's gold
answer when the problem keeps it (`gold=True`: an agent that rewrites a seed without changing its answer) and
the record carries one, else the majority answer of the samples (the largest group: agreement with it). Answers
agree when their `flames.grading.answer_key` is equal (the solution QC's cheap first grouping, without its
math-verify merge: a score, not a decision). A problem without a parseable answer has solve rate 0.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

from flames.grading import answer_key
from flames.qc.long_tail import label


class AnswerKeys:
    """answer_key memoized: a pool's answers repeat (150K problems hold a few thousand distinct ones)."""

    def __init__(self, key: Callable[[str | None], str | None] = answer_key):
        self.key, self.cache = key, {}

    def __call__(self, answer: str | None) -> str | None:
        if answer is None:
            return None
        if answer not in self.cache:
            self.cache[answer] = self.key(answer)
        return self.cache[answer]


def solve_rate(row: dict, gold: bool, keys: AnswerKeys) -> tuple[float, str | None]:
    """(share of samples agreeing with the reference, which reference: "gold" | "majority" | None)."""
    samples = [keys(s.get("answer")) for s in row.get("solutions") or []]
    if not samples:
        return 0.0, None
    reference = keys(row.get("seed_answer")) if gold else None
    if reference is not None:
        return sum(k == reference for k in samples) / len(samples), "gold"
    votes = Counter(k for k in samples if k is not None)
    if not votes:
        return 0.0, None
    return votes.most_common(1)[0][1] / len(samples), "majority"


def problem_scores(row: dict, seeds: dict[str, dict], gold: bool, keys: AnswerKeys) -> dict:
    """Difficulty, provenance labels and solution length of one solve row (its samples merged)."""
    rate, reference = solve_rate(row, gold, keys)
    topic, level = label(row, seeds)
    tokens = [s["completion_tokens"] for s in row.get("solutions") or [] if s.get("completion_tokens") is not None]
    return {"id": row["id"], "samples": len(row.get("solutions") or []), "solve_rate": round(rate, 4),
            "difficulty": round(1 - rate, 4), "reference": reference,
            "topic": "unknown" if topic == "-" else topic, "level": "unknown" if level == "-" else level,
            "solution_tokens": round(sum(tokens) / len(tokens), 1) if tokens else None}
