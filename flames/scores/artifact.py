"""The scores of a solution-QC artifact: its solve pool's view scored, written beside its records."""

from __future__ import annotations

from pathlib import Path

from flames.jsonl import read_jsonl, write_jsonl
from flames.scores.pool import score_pool
from flames.scores.summary import summarize
from flames.views import in_view, merge_samples

SCORES_FILE = "scores.jsonl"  # beside the artifact's data.jsonl: one row per problem of the view


def score_artifact(solved: Path, out: Path, seeds: list[dict], *, gold: bool, num_samples: int | None,
                   num_problems: int | None) -> dict:
    """Score the view of `solved` that solution QC decided on into `out/scores.jsonl`; return its summary:
    {"all": ..., "kept": ... (the problems QC kept), "diversity": ... (of the whole view)}. Recomputed whole
    when the pool grows (a pool's diversity is not a sum of its parts)."""
    problems = [r for r in merge_samples(read_jsonl(solved), num_samples) if in_view(r, num_problems)]
    kept, verdicts = _decisions(out)
    rows, diversity = score_pool(problems, seeds, gold=gold, verdicts=verdicts)
    write_jsonl(out / SCORES_FILE, rows)
    return {"all": summarize(rows), "kept": summarize(r for r in rows if r["id"] in kept), "diversity": diversity}


def _decisions(out: Path) -> tuple[set[str], dict[str, str]]:
    """(the ids QC kept, a solvability judge's verdict per problem where one ran) from the artifact's files."""
    kept, verdicts = set(), {}
    data = out / "data.jsonl"
    for row in read_jsonl(data) if data.exists() else ():
        kept.add(row["id"])
        judge = (row.get("qc") or {}).get("judge")
        if judge:
            verdicts[row["id"]] = judge.get("verdict") or "unparseable"
    dropped = out / "dropped.jsonl"
    for row in read_jsonl(dropped) if dropped.exists() else ():
        if row.get("judge"):
            verdicts[row["id"]] = row["judge"].get("verdict") or "unparseable"
    return kept, verdicts
