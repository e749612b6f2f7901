"""Stages `problem_qc` (dedup + decontamination) and `solution_qc` (a strategy over n solutions + length filter)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flames.jsonl import read_jsonl
from flames.qc.solution import ALL_STRATEGIES, MODEL_STRATEGIES, select, subsample_fixed_size
from flames.store import RecordWriter

if TYPE_CHECKING:
    from flames.qc.judge import SolvabilityJudge
    from flames.qc.reward import RewardScorer

log = logging.getLogger(__name__)


def problem_qc(problems: Path, out_dir: Path, references: dict[str, list[dict]], dedup_threshold: float | None = None,
               dedup_backend: str = "auto", decontam: bool = True, decontam_mode: str = "near_copy") -> dict:
    """Drop duplicate problems and problems contaminated by any benchmark item of the suite.

    `references` maps benchmark name -> items (with `id`, `problem`); a dropped problem records
    the benchmark item it matched.
    """
    from flames.qc import find_contamination, find_duplicates

    rows = list(read_jsonl(problems))
    writer = RecordWriter(out_dir)
    texts = [r["problem"] for r in rows]
    dup_of = find_duplicates(texts, threshold=dedup_threshold, backend=dedup_backend)
    ref_items = [(name, item) for name, items in references.items() for item in items]
    hits = (find_contamination(texts, [it["problem"] for _, it in ref_items], mode=decontam_mode)
            if decontam and ref_items else [None] * len(rows))
    kept, contaminated_by = [], Counter()
    for row, dup, hit in zip(rows, dup_of, hits):
        if dup is not None:
            writer.drop([{"id": row["id"], "duplicate_of": rows[dup]["id"]}], "duplicate")
        elif hit is not None:
            name, item = ref_items[hit]
            contaminated_by[name] += 1
            writer.drop([{"id": row["id"], "benchmark": name, "benchmark_id": item["id"]}], "contaminated")
        else:
            kept.append(row)
    writer.write(kept)
    return {"contaminated_by_benchmark": dict(contaminated_by), "reference_items": len(ref_items)}


@dataclass(frozen=True)
class StudentFit:
    """The student's context: a kept problem whose training example is longer is dropped here."""

    tokenizer: str  # student model name (resolved like the student: embedded:... or a hub id/folder)
    max_length: int  # prompt + solution tokens, as flames.train counts them
    prompt: str  # the instruction appended to each problem (solve.prompt)


def solution_qc(solved: Path, out_dir: Path, strategy: str, fixed_size: int | None = None, seed: int = 0, *,
                judge: SolvabilityJudge | None = None, scorer: RewardScorer | None = None,
                student: StudentFit | None = None) -> dict:
    """Keep problems (with one chosen solution) by `strategy`; record votes, verdicts, scores and drop reasons.

    `judge` is needed by solvability strategies, `scorer` by solvability_reward; `student`
    turns on the length filter (drop reason too_long_for_student).
    """
    if strategy not in ALL_STRATEGIES:
        raise ValueError(f"strategy must be one of {ALL_STRATEGIES}, got {strategy!r}")
    writer = RecordWriter(out_dir)
    rows = list(read_jsonl(solved))
    if strategy in MODEL_STRATEGIES:
        kept, metrics = _by_models(rows, writer, strategy, judge, scorer)
    else:
        kept, metrics = _by_answers(rows, writer, strategy)
    if student is not None:
        kept = _fit_student(kept, writer, student)
    if fixed_size is not None and len(kept) > fixed_size:
        # Keyed by problem id: strategies compared at equal size pick the same problems where they overlap.
        chosen = subsample_fixed_size(kept, fixed_size, seed, key=lambda r: r["id"])
        chosen_ids = {r["id"] for r in chosen}
        writer.drop(({"id": r["id"]} for r in kept if r["id"] not in chosen_ids), "fixed_size")
        kept = chosen
    writer.write(kept)
    return {"strategy": strategy, **metrics}


def _kept(row: dict, index: int, qc: dict) -> dict:
    """The output record: the problem with one chosen solution and how it was chosen."""
    sol = row["solutions"][index]
    rest = {k: v for k, v in row.items() if k != "solutions"}
    return {**rest, "solution": sol["text"], "answer": sol["answer"],
            "qc": {"chosen": index, "num_samples": len(row["solutions"]), **qc}}


def _by_answers(rows: list[dict], writer: RecordWriter, strategy: str) -> tuple[list[dict], dict]:
    """first / majority / majority_first / strict over the extracted answers."""
    kept, vote_hist = [], Counter()
    for row in rows:
        answers = [s["answer"] for s in row["solutions"]]
        d = select(strategy, answers)
        vote_hist[max(d.votes.values(), default=0)] += 1
        if not d.keep:
            writer.drop([{"id": row["id"], "votes": d.votes}], d.reason or "rejected")
            continue
        kept.append(_kept(row, d.index, {"strategy": strategy, "votes": d.votes}))
    return kept, {"largest_vote_histogram": {str(k): v for k, v in sorted(vote_hist.items())}}


def _by_models(rows: list[dict], writer: RecordWriter, strategy: str, judge: SolvabilityJudge | None,
               scorer: RewardScorer | None) -> tuple[list[dict], dict]:
    """solvability: the judge's solvable problems, first solution; solvability_reward: their best-scored one."""
    from flames.qc.judge import SOLVABLE, UNSOLVABLE

    if judge is None:
        raise ValueError(f"strategy {strategy} needs a solvability judge")
    if strategy == "solvability_reward" and scorer is None:
        raise ValueError("strategy solvability_reward needs a reward scorer")
    empty = [r for r in rows if not r["solutions"]]
    writer.drop(({"id": r["id"]} for r in empty), "no_samples")
    rows = [r for r in rows if r["solutions"]]
    verdicts = judge.judge(rows, writer)
    kept, counts = [], Counter(v["verdict"] or "unparseable" for v in verdicts.values())
    for row in rows:
        v = verdicts[row["id"]]
        if v["verdict"] != SOLVABLE:
            reason = "unsolvable" if v["verdict"] == UNSOLVABLE else "judge_unparseable"
            writer.drop([{"id": row["id"], "judge": v}], reason)
        else:
            kept.append(row)
    metrics = {"judge_verdicts": dict(counts)}
    if strategy == "solvability":
        return [_kept(r, 0, {"strategy": strategy, "judge": verdicts[r["id"]]}) for r in kept], metrics
    scores = _scores(kept, scorer)
    out = []
    for row, sc in zip(kept, scores):
        best = max(range(len(sc)), key=lambda i: (sc[i], -i))  # ties: the earliest sample
        out.append(_kept(row, best, {"strategy": strategy, "judge": verdicts[row["id"]], "scores": sc}))
    metrics.update(scored_solutions=sum(map(len, scores)), reward_truncated=scorer.truncated)
    return out, metrics


def _scores(rows: list[dict], scorer: RewardScorer) -> list[list[float]]:
    """Reward per solution; a text repeated within a problem is scored once, so equal texts tie exactly."""
    pairs: dict[tuple[str, str], int] = {}
    for row in rows:
        for sol in row["solutions"]:
            pairs.setdefault((row["problem"], sol["text"]), len(pairs))
    flat = scorer.score(list(pairs))
    return [[flat[pairs[(row["problem"], s["text"])]] for s in row["solutions"]] for row in rows]


def _fit_student(kept: list[dict], writer: RecordWriter, student: StudentFit) -> list[dict]:
    """Drop rows whose training example does not fit the student's context.

    Counted with flames.train's own rendering (chat template, prompt, tokenizer), so no row
    kept here is dropped again by train, whose filter stays as a safety net.
    """
    if not kept:
        return kept
    from transformers import AutoTokenizer

    from flames.llm.embedded import resolve_model_path
    from flames.train import _fit

    tok = AutoTokenizer.from_pretrained(resolve_model_path(student.tokenizer))
    _, too_long = _fit(kept, tok, student.prompt, student.max_length)
    long_ids = {r["id"] for r in too_long}
    writer.drop(({"id": i, "max_length": student.max_length} for i in sorted(long_ids)), "too_long_for_student")
    return [r for r in kept if r["id"] not in long_ids]
