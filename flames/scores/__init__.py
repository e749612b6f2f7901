"""Per-problem data scorers, computed once per solution-QC artifact and stored next to its records.

`score_pool(problems, seeds, ...)` scores every problem of a solve pool's view: difficulty (the solve rate over
its sampled solutions), topic and level (provenance), length, novelty against its seed and against the seed
set, and the pool's diversity. The solution_qc stage writes the rows to `scores.jsonl` in its artifact and a
summary (of the whole view and of the problems QC kept) to its manifest's `metrics.scores`; the run's report,
a study's and W&B read that summary. docs/scorers.md.
"""

from __future__ import annotations

from flames.scores.artifact import SCORES_FILE, score_artifact
from flames.scores.pool import score_pool
from flames.scores.summary import summarize

__all__ = ["SCORES_FILE", "score_artifact", "score_pool", "summarize"]
