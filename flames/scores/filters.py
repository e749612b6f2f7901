"""Score filters: which problems of an agent's pool a mix may take, by their scores (`mixture.filters`).

A filter names a score of `scores.jsonl` (flames.scores) and what it must be:
- a number score, `[low, high]` (inclusive; null leaves that end open): `difficulty: [0.3, 1.0]`,
  `problem_tokens: [null, 200]`;
- a label score, the values it may take: `topic: [Algebra, Geometry]`, `judge: [solvable]`;
- `near_dup: false`: only problems that near-duplicate no earlier problem of the view.
A problem must pass every filter; one without the score (no seed for `novelty_seed`, no judge for `judge`)
does not pass. Mix applies them to each agent's view before it draws the agent's share, and counts what each
filter removed (docs/scorers.md, "Filters").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flames.config import ConfigError
from flames.jsonl import read_jsonl
from flames.scores.artifact import SCORES_FILE

NUMBERS = ("solve_rate", "difficulty", "problem_tokens", "solution_tokens", "novelty_seed", "novelty_seeds")
LABELS = ("topic", "level", "judge", "reference")
NEAR_DUP = "near_dup"  # a flag over the row's `near_dup_of`


def check_filters(filters: dict) -> dict[str, Any]:
    """The filters as plain values, each checked; a bad one is a ConfigError naming `mixture.filters.<score>`."""
    out = {}
    for name, want in (filters or {}).items():
        where = f"mixture.filters.{name}"
        if name in NUMBERS:
            if not (isinstance(want, (list, tuple)) and len(want) == 2
                    and all(v is None or isinstance(v, (int, float)) for v in want)):
                raise ConfigError(f"{where}: give [low, high] (numbers; null leaves an end open), not {want!r}")
            if None not in want and want[0] > want[1]:
                raise ConfigError(f"{where}: low {want[0]} is above high {want[1]}")
            out[name] = [None if v is None else float(v) for v in want]
        elif name in LABELS:
            if not isinstance(want, (list, tuple)) or not want:
                raise ConfigError(f"{where}: give the values it may take as a list, not {want!r}")
            out[name] = [str(v) for v in want]
        elif name == NEAR_DUP:
            if want is not False:
                raise ConfigError(f"{where}: only `false` (keep problems that near-duplicate no earlier one)")
            out[name] = False
        else:
            raise ConfigError(f"{where}: no such score (numbers: {', '.join(NUMBERS)}; labels: {', '.join(LABELS)}; "
                              f"{NEAR_DUP}: false)")
    return out


def failed_filter(scores: dict | None, filters: dict) -> str | None:
    """The first filter a problem's score row does not pass (the row missing: `scores`), or None."""
    if scores is None:
        return "scores"
    for name, want in filters.items():
        if name == NEAR_DUP:
            ok = scores.get("near_dup_of") is None
        elif name in LABELS:
            ok = scores.get(name) is not None and str(scores[name]) in want
        else:
            value = scores.get(name)
            ok = value is not None and (want[0] is None or value >= want[0]) and (want[1] is None or value <= want[1])
        if not ok:
            return name
    return None


def pool_scores(data: Path, where: str) -> dict[str, dict]:
    """Problem id -> score row, from the `scores.jsonl` beside a solution-QC artifact's `data`."""
    path = Path(data).with_name(SCORES_FILE)
    if not path.exists():
        raise ConfigError(f"mixture.filters: {where}'s solution-QC artifact {path.parent} holds no {SCORES_FILE} "
                          "(made before the scorers: recompute it, or drop the filters)")
    return {row["id"]: row for row in read_jsonl(path)}


def apply_filters(rows: list[dict], scores: dict[str, dict], filters: dict) -> tuple[list[dict], dict[str, int]]:
    """(the rows that pass every filter, how many each filter removed: the first it failed)."""
    kept, removed = [], {}
    for row in rows:
        failed = failed_filter(scores.get(row["id"]), filters)
        if failed is None:
            kept.append(row)
        else:
            removed[failed] = removed.get(failed, 0) + 1
    return kept, removed


def selector(filters: dict):
    """The `select` that mix applies to each source's view (flames.mix.mix): the rows passing `filters`, read
    against the scores beside the source's data; None without filters."""
    if not filters:
        return None
    return lambda name, path, rows: apply_filters(rows, pool_scores(path, name), filters)
