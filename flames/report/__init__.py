"""Reports: the stage and accuracy tables a run prints (stage_table), and the paper's tables and plots from a study's results: one row per cell, every number read from a manifest.

A study (flames.study) hands over its cells: each cell's axis values and its `Pipeline.plan()` (every
stage's artifact, complete or not). `cell_row` turns a cell into one flat row, reading the numbers the
stages already wrote into their manifests (nothing is recomputed, so a table can never disagree with
the store); `write_report` writes `<name>.md`, `<name>.csv` and PNG plots, with the paper's published
numbers (`PAPER`, from notes/paper.md) next to ours and the difference ours - paper. See docs/report.md.

Accuracies are percents as `flames.evaluate` stores them (100 * correct / n, two decimals); the
tables print one decimal. Our accuracies carry their Wilson score intervals (`eval/<b>/accuracy_ci_low`,
`_ci_high`; Avg's from the benchmarks' standard errors): a Δ against the paper says whether the paper's
number lies inside ours. Differences between two of our cells are paired, item by item, from their
prediction files (`flames.stats.paired_comparison`), each with its interval and p-value; cells that
differ only in `student.seed` are also summarised as mean ± sd. The paper's failure signatures that fire in
the cells are listed with its advice (flames.report.diagnostics).
"""


from __future__ import annotations

from flames.report.diagnostics import audit_lines, diagnose, diagnostics
from flames.report.paper import PAPER, paper_refs
from flames.report.render import paired_sections, study_pairs, write_report, write_rows
from flames.report.rows import AVG, KEPT, STATUS, TRAIN, Cell, cell_row, pivot
from flames.report.scores_table import score_metrics, scores_table
from flames.report.stage_table import eval_table, format_report, format_table, mixture_lines, paper_table

__all__ = ["audit_lines", "diagnose", "diagnostics", "PAPER", "paper_refs", "paired_sections", "study_pairs",
           "write_report", "write_rows", "AVG", "KEPT", "STATUS", "TRAIN", "Cell", "cell_row",
           "pivot", "score_metrics", "scores_table", "eval_table", "format_report", "format_table", "mixture_lines", "paper_table"]
