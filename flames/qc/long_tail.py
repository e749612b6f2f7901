"""The long tail a QC strategy cuts (the paper card's "long-tail problem analysis"): its kept and dropped problems
counted by topic and by difficulty, read from provenance. A MATH-seeded problem has its seed's subject and level
(`type`, `level` in the MATH seed file); a taxonomy-seeded one its path's first topic; a GSM8K-seeded one is
"gsm8k" (one topic, no level); anything else "-". A problem made from several seeds takes its first seed's."""

from __future__ import annotations

from collections import Counter
from typing import Iterable


def label(problem: dict, seeds: dict[str, dict]) -> tuple[str, str]:
    """(topic, level) of a problem, from its seeds or its taxonomy path."""
    if problem.get("taxonomy_path"):
        return f"taxonomy/{problem['taxonomy_path'][0]}", "-"
    seed = next((seeds[i] for i in problem.get("seed_ids") or [] if i in seeds), None)
    if seed is None:
        return "-", "-"
    dataset = seed.get("dataset") or problem.get("seed_dataset") or "-"
    topic = f"{dataset}/{seed['type']}" if seed.get("type") else dataset
    return topic, f"level {seed['level']}" if seed.get("level") is not None else "-"


def long_tail(pool: Iterable[dict], kept_ids: set[str], decided_ids: set[str], seeds: dict[str, dict]) -> dict:
    """{"topic": {name: {"kept": k, "dropped": d}}, "level": {...}} over the problems QC decided on."""
    counts: dict[str, Counter] = {"topic": Counter(), "level": Counter()}
    for problem in pool:
        if problem.get("topup_of") or problem["id"] not in decided_ids:
            continue
        outcome = "kept" if problem["id"] in kept_ids else "dropped"
        topic, level = label(problem, seeds)
        counts["topic"][topic, outcome] += 1
        counts["level"][level, outcome] += 1
    return {axis: {name: {"kept": c[name, "kept"], "dropped": c[name, "dropped"]}
                   for name in sorted({n for n, _ in c})} for axis, c in counts.items()}
