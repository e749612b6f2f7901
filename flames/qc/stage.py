"""Stages `problem_qc` (dedup + decontamination) and `solution_qc` (a strategy over n solutions + length filter)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flames.context import RetryPolicy
from flames.examples import fit_examples, student_tokenizer
from flames.jsonl import read_jsonl
from flames.llm.embedded import resolve_model_path
from flames.parts import find_class
from flames.qc.problems import ProblemFilter
from flames.qc.solution import ANSWER_STRATEGIES, Strategy, subsample_fixed_size
from flames.store import RecordWriter
from flames.views import in_view, merge_samples

log = logging.getLogger(__name__)


def problem_qc(problems: Path, out_dir: Path, qc_filter: ProblemFilter) -> dict:
    """Drop duplicate problems and problems contaminated by a benchmark item of the filter's references.

    A dropped problem records what it duplicates (an earlier problem's id) or the benchmark item
    it matched. `qc_filter` is the same `ProblemFilter` the synthesize stage admits problems with.
    Growable: problems checked by an earlier run (kept or dropped in `out_dir`) are only remembered by the
    filter, so a grown synthesize pool costs the check of its new problems only.
    """
    rows = list(read_jsonl(problems))
    writer = RecordWriter(out_dir)
    start = next((i for i, r in enumerate(rows) if r["id"] not in writer.done_ids), len(rows))
    qc_filter.remember([r["problem"] for r in rows[:start]])  # positions stay those of `rows`
    verdicts = qc_filter.check([r["problem"] for r in rows[start:]])
    kept = []
    for row, verdict in zip(rows[start:], verdicts):
        if verdict is None:
            kept.append(row)
        elif verdict.reason == "duplicate":
            writer.drop([{"id": row["id"], "duplicate_of": rows[verdict.index]["id"]}], "duplicate")
        else:
            name, item = qc_filter.reference(verdict.index)
            writer.drop([{"id": row["id"], "benchmark": name, "benchmark_id": item["id"]}], "contaminated")
    writer.write(kept)
    drops = read_jsonl(writer.drop_path) if writer.drop_path.exists() else ()
    contaminated_by = Counter(d["benchmark"] for d in drops if d["reason"] == "contaminated")  # over every run
    return {"contaminated_by_benchmark": dict(contaminated_by), "reference_items": len(qc_filter.references),
            "checked": len(rows) - start}


@dataclass(frozen=True)
class StudentFit:
    """The student's context: a kept problem whose training example is longer is dropped here."""

    tokenizer: str  # student model name (resolved like the student: embedded:... or a hub id/folder)
    max_length: int  # prompt + solution tokens, as flames.train counts them
    prompt: str  # the instruction appended to each problem (solve.prompt)
    chat_template: str | None = None  # student.chat_template (the template training renders with)


# The built-in strategies by name, for callers without a config (tests, notebooks); yaml uses _target_.
BUILTIN_STRATEGIES = {
    **{name: f"{cls.__module__}.{cls.__name__}" for name, cls in ANSWER_STRATEGIES.items()},
    "solvability": "flames.qc.solvability.Solvability",
    "solvability_reward": "flames.qc.solvability.SolvabilityReward",
}


def strategy_from(spec: Any) -> Strategy:
    """A Strategy from a name (BUILTIN_STRATEGIES or a class path), a config node with `_target_`, or itself."""
    if isinstance(spec, Strategy):
        return spec
    if isinstance(spec, str):
        return find_class(spec, BUILTIN_STRATEGIES, what="QC strategy")()
    params = {k: v for k, v in spec.items() if k != "_target_"}
    return find_class(spec["_target_"], what="QC strategy")(**params)


def solution_qc(solved: Path, out_dir: Path, strategy: str | Strategy, fixed_size: int | None = None, seed: int = 0,
                *, student: StudentFit | None = None, num_samples: int | None = None,
                num_problems: int | None = None, retry: RetryPolicy | None = None, **models: Any) -> dict:
    """Keep problems (with one chosen solution) by `strategy`; record votes, verdicts, scores and drop reasons.

    Reads the view of `solved`: the problems ranked below `num_problems` (flames.views; None: all), each with
    its first `num_samples` solutions (its top-up rows folded in; None: all). `models` are what the
    strategy's `keep` needs (judge=, scorer= for the solvability strategies); `student` turns on the length
    filter (drop reason too_long_for_student). Growable without `fixed_size`: problems decided by an earlier
    run are skipped, so a larger view costs the decisions on its new problems only.
    """
    strategy = strategy_from(strategy)
    writer = RecordWriter(out_dir, retry)
    rows = [r for r in merge_samples(read_jsonl(solved), num_samples) if in_view(r, num_problems)]
    # fixed_size subsamples the whole view: every row is decided again (the writer skips what is on file)
    todo = rows if fixed_size is not None else [r for r in rows if r["id"] not in writer.done_ids]
    kept, metrics = strategy.keep(todo, writer, **models)
    if student is not None:
        kept = _fit_student(kept, writer, student)
    if fixed_size is not None and len(kept) > fixed_size:
        # Keyed by problem id: strategies compared at equal size pick the same problems where they overlap.
        chosen = subsample_fixed_size(kept, fixed_size, seed, key=lambda r: r["id"])
        chosen_ids = {r["id"] for r in chosen}
        writer.drop(({"id": r["id"]} for r in kept if r["id"] not in chosen_ids), "fixed_size")
        kept = chosen
    writer.write(kept)
    return {"strategy": strategy.name, **metrics, "view_size": len(rows), "decided": len(todo)}


def _fit_student(kept: list[dict], writer: RecordWriter, student: StudentFit) -> list[dict]:
    """Drop rows whose training example does not fit the student's context.

    Counted with flames.train's own rendering (chat template, prompt, tokenizer), so no row
    kept here is dropped again by train, whose filter stays as a safety net.
    """
    if not kept:
        return kept
    tok = student_tokenizer(resolve_model_path(student.tokenizer), student.chat_template)
    _, too_long = fit_examples(kept, tok, student.prompt, student.max_length)
    long_ids = {r["id"] for r in too_long}
    writer.drop(({"id": i, "max_length": student.max_length} for i in sorted(long_ids)), "too_long_for_student")
    return [r for r in kept if r["id"] not in long_ids]
