"""A pool's scores summarized: what the run's report, a study's and W&B show per agent and QC strategy."""

from __future__ import annotations

from collections import Counter
from statistics import fmean, median
from typing import Iterable

NUMERIC = ("solve_rate", "difficulty", "problem_tokens", "solution_tokens", "novelty_seed", "novelty_seeds")
BANDS = (("easy", 1.0, 1.0), ("medium", 1e-9, 1.0 - 1e-9), ("hard", 0.0, 0.0))  # by solve rate: all, some, none
TOP = 10  # topics and levels listed by count (the rest add up under "other")


def summarize(rows: Iterable[dict]) -> dict:
    """n; mean of each numeric score (and the median and 90th percentile of lengths); the problems by solve-rate
    band, reference, judge verdict, topic and level; the share that near-duplicates an earlier problem."""
    rows = list(rows)
    out: dict = {"n": len(rows)}
    for name in NUMERIC:
        values = [r[name] for r in rows if r.get(name) is not None]
        out[f"{name}_mean"] = round(fmean(values), 4) if values else None
        if name.endswith("_tokens") and values:
            ordered = sorted(values)
            out[f"{name}_p50"] = median(ordered)
            out[f"{name}_p90"] = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    out["bands"] = {band: sum(lo <= r["solve_rate"] <= hi for r in rows if r.get("samples")) for band, lo, hi in BANDS}
    out["reference"] = dict(Counter(r.get("reference") or "none" for r in rows))
    judged = Counter(r["judge"] for r in rows if r.get("judge") is not None)
    if judged:
        out["judge"] = dict(judged)
    out["topic"], out["level"] = _top(r["topic"] for r in rows), _top(r["level"] for r in rows)
    out["near_dup_share"] = round(sum(r.get("near_dup_of") is not None for r in rows) / len(rows), 4) if rows else 0.0
    return out


def _top(labels: Iterable[str]) -> dict[str, int]:
    counts = Counter(labels).most_common()
    head = dict(counts[:TOP])
    rest = sum(c for _, c in counts[TOP:])
    return {**head, "other": rest} if rest else head
