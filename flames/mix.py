"""Stage `mix`: blend the QC'd problems of one or more agents, by weight, to a budget."""

from __future__ import annotations

import random
from pathlib import Path

from flames.jsonl import read_jsonl
from flames.store import RecordWriter


def mix(sources: dict[str, Path], weights: dict[str, float], out_dir: Path, budget: int | None, seed: int = 0) -> dict:
    """Sample round(weight * budget) examples from each source (all of them if budget is None)."""
    writer = RecordWriter(out_dir)
    total = sum(weights.values())
    rng = random.Random(seed)
    shortfall, taken = {}, {}
    for name, path in sources.items():
        rows = list(read_jsonl(path))
        want = len(rows) if budget is None else round(budget * weights[name] / total)
        rng.shuffle(rows)
        pick = rows[:want]
        if len(pick) < want:
            shortfall[name] = want - len(pick)
        taken[name] = len(pick)
        writer.write({**r, "id": f"{name}/{r['id']}", "mixture_source": name} for r in pick)
    return {"taken": taken, "shortfall": shortfall, "budget": budget}
