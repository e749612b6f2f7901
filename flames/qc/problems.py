"""Problem QC, one implementation: dedup against every earlier problem, decontamination against the suite.

`ProblemFilter.check` takes problems in batches and says, for each, why it is dropped (or that it
is kept) given every problem it saw before. The synthesize stage calls it as problems arrive, to
know how many will survive (over-generation to a target); the problem_qc stage calls it once over
the synthesized file (the problems it has not checked yet, after `remember`ing the others) and writes
the drops. Same object, same defaults, same verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from flames.qc.decontam import contamination_indexes, find_contamination
from flames.qc.dedup import find_duplicates
from flames.qc.normalize import normalize_text

DEFAULT_MODE = "near_copy"  # the project's default decontamination rule (docs/qc.md); the paper's is "paper"


@dataclass(frozen=True)
class Verdict:
    """Why a problem is dropped: a duplicate of an earlier one, or a copy of a benchmark item."""

    reason: str  # "duplicate" | "contaminated"
    index: int  # the earlier problem's position (duplicate) or the reference's position (contaminated)


class ProblemFilter:
    """Incremental problem QC over a stream of batches.

    `references` are (benchmark name, item) pairs; none means no decontamination. `threshold`
    None is exact dedup on normalized text (the paper), else MinHash near-dup at that Jaccard.
    """

    def __init__(self, references: Sequence[tuple[str, dict]] = (), threshold: float | None = None,
                 backend: str = "auto", mode: str = DEFAULT_MODE):
        self.references = list(references)
        self._ref_texts = [item["problem"] for _, item in self.references]  # once, not per batch
        self.threshold, self.backend, self.mode = threshold, backend, mode
        self._indexes = None  # the suite's n-gram (and anchor) indexes, built at the first batch
        self.first_of: dict[str, int] = {}  # normalized text -> position of its first copy (exact dedup)
        self.texts: list[str] = []  # every text offered, in order (near-dup compares against all)

    def check(self, texts: Sequence[str]) -> list[Verdict | None]:
        """Per text: None (kept) or why it is dropped, given all texts checked before it."""
        if not texts:
            return []
        hits = self._contamination(texts)
        dups = self._duplicates(texts)
        self.texts += texts
        return [Verdict("duplicate", d) if d is not None else Verdict("contaminated", h) if h is not None else None
                for d, h in zip(dups, hits)]

    def admit(self, texts: Sequence[str]) -> list[bool]:
        """`check` as booleans: True where the problem passes (the synthesize stage's gate)."""
        return [v is None for v in self.check(texts)]

    def remember(self, texts: Sequence[str]) -> None:
        """Take `texts` as checked before (the problems a grown pool already holds): later copies of them are
        duplicates, and nothing is decided about them (their verdicts are on file), so no decontamination."""
        if self.threshold is None:
            for i, text in enumerate(texts, start=len(self.texts)):
                self.first_of.setdefault(normalize_text(text), i)
        self.texts += list(texts)

    def reference(self, index: int) -> tuple[str, dict]:
        """The (benchmark, item) a contaminated verdict points at."""
        return self.references[index]

    def _contamination(self, texts: Sequence[str]) -> list[int | None]:
        if not self.references:
            return [None] * len(texts)
        if self._indexes is None:
            self._indexes = contamination_indexes(self._ref_texts, self.mode)
        return find_contamination(texts, self._ref_texts, mode=self.mode, index=self._indexes[0], anchors=self._indexes[1])

    def _duplicates(self, texts: Sequence[str]) -> list[int | None]:
        if self.threshold is not None:  # MinHash over everything so far: costlier, only when near-dup is on
            dup_of = find_duplicates(self.texts + list(texts), threshold=self.threshold, backend=self.backend)
            return dup_of[len(self.texts):]
        out: list[int | None] = []
        for i, text in enumerate(texts, start=len(self.texts)):
            key = normalize_text(text)
            out.append(self.first_of.get(key))
            self.first_of.setdefault(key, i)
        return out
