"""Stage `audit`: the solvability audit (the paper's Table 12, notes/paper.md): of the problems a QC strategy
rejected, how many are solvable after all, and of those it kept, how many are not.

Samples `num_samples` problems from each group of a solution_qc artifact: rejected (dropped with one of
`reasons`, by default the judge's `unsolvable`) and kept; a second judge (a stronger model) or a human-labelled
file says which are solvable; each group's solvable share is reported with its Wilson interval. The problems'
text comes from the solve pool the strategy read. Resumable: the judge's verdicts are saved as they come.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from flames.jsonl import read_jsonl
from flames.qc.judge import SOLVABLE, UNSOLVABLE
from flames.stats import wilson
from flames.store import RecordWriter
from flames.views import merge_samples

GROUPS = ("rejected", "kept")


def sample_groups(qc_dir: Path, solved: Path, reasons: list[str], n: int, seed: int) -> dict[str, list[dict]]:
    """`n` problems (or all there are) from each group, each {id, problem, group, reason}, sampled with `seed`."""
    text = {r["id"]: r["problem"] for r in merge_samples(read_jsonl(solved))}
    kept = [r["id"] for r in read_jsonl(qc_dir / "data.jsonl")]
    dropped = list(read_jsonl(qc_dir / "dropped.jsonl")) if (qc_dir / "dropped.jsonl").exists() else []
    rejected = [(r["id"], r["reason"]) for r in dropped if r["reason"] in reasons]
    groups = {"rejected": rejected, "kept": [(i, None) for i in kept]}
    out = {}
    for name, members in groups.items():
        members = [(i, why) for i, why in members if i in text]
        picked = random.Random(f"{seed}:{name}").sample(members, min(n, len(members)))
        out[name] = [{"id": i, "problem": text[i], "group": name, "reason": why} for i, why in picked]
    return out


def audit(groups: dict[str, list[dict]], out_dir: Path, judge: Any = None, labels: Path | None = None) -> dict:
    """Judge (or look up) every sampled problem; the records and, per group, the solvable share with its interval."""
    writer = RecordWriter(out_dir)
    problems = [p for g in GROUPS for p in groups[g]]
    if labels is not None:
        said = {r["id"]: r for r in read_jsonl(labels)}
        verdicts = {p["id"]: {"verdict": _label(said.get(p["id"]))} for p in problems}
    else:
        verdicts = judge.judge(problems, writer)
    writer.write({**p, **verdicts[p["id"]]} for p in problems)
    return {g: share([verdicts[p["id"]]["verdict"] for p in groups[g]]) for g in GROUPS}


def _label(row: dict | None) -> str | None:
    if row is None or not isinstance(row.get("solvable"), bool):
        return None
    return SOLVABLE if row["solvable"] else UNSOLVABLE


def share(verdicts: list[str | None]) -> dict:
    """Solvable of those with a verdict, as a percent with its 95% Wilson interval; unparseable ones counted apart."""
    decided = [v for v in verdicts if v is not None]
    solvable = sum(v == SOLVABLE for v in decided)
    out = {"sampled": len(verdicts), "decided": len(decided), "solvable": solvable, "no_verdict": len(verdicts) - len(decided)}
    if decided:
        ci = wilson(solvable, len(decided))
        out.update(solvable_pct=round(100 * ci.estimate, 2), ci_low=round(100 * ci.low, 2), ci_high=round(100 * ci.high, 2))
    return out
