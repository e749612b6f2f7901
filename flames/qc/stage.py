"""Stages `problem_qc` (dedup + decontamination) and `solution_qc` (a strategy over n solutions)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from flames.jsonl import read_jsonl
from flames.store import RecordWriter

log = logging.getLogger(__name__)


def problem_qc(problems: Path, out_dir: Path, references: dict[str, list[dict]], dedup_threshold: float | None = None,
               dedup_backend: str = "auto", decontam: bool = True, decontam_mode: str = "paper") -> dict:
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


def solution_qc(solved: Path, out_dir: Path, strategy: str, fixed_size: int | None = None, seed: int = 0) -> dict:
    """Keep problems (with one chosen solution) by `strategy`; record votes and drop reasons."""
    from flames.qc.solution import select, subsample_fixed_size

    writer = RecordWriter(out_dir)
    kept, vote_hist = [], Counter()
    for row in read_jsonl(solved):
        answers = [s["answer"] for s in row["solutions"]]
        d = select(strategy, answers)
        vote_hist[max(d.votes.values(), default=0)] += 1
        if not d.keep:
            writer.drop([{"id": row["id"], "votes": d.votes}], d.reason or "rejected")
            continue
        sol = row["solutions"][d.index]
        rest = {k: v for k, v in row.items() if k != "solutions"}
        kept.append({**rest, "solution": sol["text"], "answer": sol["answer"],
                     "qc": {"strategy": strategy, "chosen": d.index, "votes": d.votes,
                            "num_samples": len(answers)}})
    if fixed_size is not None and len(kept) > fixed_size:
        # Keyed by problem id: strategies compared at equal size pick the same problems where they overlap.
        chosen = subsample_fixed_size(kept, fixed_size, seed, key=lambda r: r["id"])
        chosen_ids = {r["id"] for r in chosen}
        writer.drop(({"id": r["id"]} for r in kept if r["id"] not in chosen_ids), "fixed_size")
        kept = chosen
    writer.write(kept)
    return {"strategy": strategy, "largest_vote_histogram": {str(k): v for k, v in sorted(vote_hist.items())}}
