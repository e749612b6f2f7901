"""Stage `mix`: blend the QC'd problems of one or more agents, by weight, to a budget; or, with
mixture=external, sample an external SFT dataset (a JSONL file, a dataset folder, a hub id) instead."""

from __future__ import annotations

import hashlib
import logging
import random
from pathlib import Path
from typing import Callable

from flames.config import ConfigError
from flames.datasets import dataset_name, read_external
from flames.jsonl import read_jsonl
from flames.store import RecordWriter
from flames.views import in_view

log = logging.getLogger(__name__)
Selection = Callable[[str, Path, list[dict]], tuple[list[dict], dict[str, int]]]  # a source's rows -> (kept, removed)


def mix(sources: dict[str, Path], weights: dict[str, float], out_dir: Path, budget: int | None, seed: int = 0,
        views: dict[str, int] | None = None, shortfall: str = "warn", tolerance: float = 0.01,
        select: Selection | None = None) -> dict:
    """Take round(weight * budget) examples from each source's view (all of them if budget is None).

    A source's view is its records ranked below `views[name]` problems (flames.views; all without one). The
    examples taken are those of lowest priority, a hash of (seed, source, id), not a shuffle: a record's
    priority does not depend on what else the pool holds, so a larger view drawn with the same seed ranks
    the smaller view's records as it did. A row of a smaller mix is in a larger one when the larger share
    takes at least the rows the smaller took plus the rows its view adds (always when each share takes its
    whole view, as FLAMES Small and Large do: each agent makes its share of the budget).

    A source with fewer examples than its share is a shortfall: logged and mixed as it is (`shortfall="warn"`),
    or, with "error", a ConfigError before anything is written when a share is short by more than `tolerance`
    of itself (the blend would no longer have the shares it is named for).

    `select(source, path, rows)` (mixture.filters: flames.scores.filters.selector) first removes view rows, and
    returns (rows kept, count removed per reason), reported in `filtered`; the share is drawn from what it kept.
    """
    total = sum(weights.values())
    picks, short, available, filtered = {}, {}, {}, {}
    for name, path in sources.items():
        rows = [r for r in read_jsonl(path) if in_view(r, (views or {}).get(name))]
        if select:
            rows, filtered[name] = select(name, path, rows)
        want = len(rows) if budget is None else round(budget * weights[name] / total)
        rows.sort(key=lambda r: priority(seed, name, r["id"]))
        picks[name], available[name] = rows[:want], len(rows)
        if len(picks[name]) < want:
            short[name] = want - len(picks[name])
    too_short = {n: k for n, k in short.items() if k > tolerance * (k + len(picks[n]))}
    if too_short and shortfall == "error":
        raise ConfigError("mix: " + ", ".join(f"{n} has {len(picks[n]):,} of its {len(picks[n]) + k:,}"
                                              for n, k in too_short.items())
                          + f" (more than {tolerance:.0%} short; mixture.shortfall=warn mixes what there is)")
    for name, k in short.items():
        log.warning("mix: %s has %d of its %d examples (share short by %d)", name, len(picks[name]),
                    len(picks[name]) + k, k)
    writer = RecordWriter(out_dir)
    for name, pick in picks.items():
        writer.write({**r, "id": f"{name}/{r['id']}", "mixture_source": name} for r in pick)
    taken = {name: len(pick) for name, pick in picks.items()}
    return {"taken": taken, "shortfall": short, "budget": budget, "available": available,
            "shares": achieved_shares(taken), **({"filtered": filtered} if select else {})}


def achieved_shares(taken: dict[str, int]) -> dict[str, float]:
    """Each source's fraction of the examples mixed."""
    total = sum(taken.values())
    return {name: round(n / total, 6) if total else 0.0 for name, n in taken.items()}


def priority(seed: int, source: str, record_id: str) -> int:
    """A record's place in the draw: a seeded hash of its id, the same whatever else its pool holds."""
    return int.from_bytes(hashlib.blake2b(f"{seed}\0{source}\0{record_id}".encode(), digest_size=8).digest(), "big")


# ------------------------------------------------------------------ an external SFT dataset (mixture=external)
EXTERNAL_FIELDS = ("id", "problem", "solution")  # the record fields `mixture.fields` maps to dataset columns
# A missing dataset that looks like a local file is reported as not found, not asked of the hub as an id.


def mix_external(dataset: str, split: str, fields: dict, out_dir: Path, budget: int | None, seed: int = 0) -> dict:
    """Sample `budget` rows (all if None) of an external SFT dataset with `seed`, as mixture records.

    Rows without a problem or a solution, and repeated ids, are dropped and counted. One shuffle per seed, so a
    smaller budget takes a subset of a larger one's rows.
    """
    rows = read_external(dataset, split)
    columns = column_map(dict(fields or {}), rows, dataset)
    name = dataset_name(dataset)
    kept, dropped = external_records(rows, columns, name)
    writer = RecordWriter(out_dir)
    for reason, bad in dropped.items():
        writer.drop(bad, reason)
    want = len(kept) if budget is None else budget
    random.Random(seed).shuffle(kept)
    writer.write(kept[:want])
    shortfall = {name: want - len(kept)} if want > len(kept) else {}
    return {"dataset": name, "rows": len(rows), "taken": {name: min(want, len(kept))}, "shortfall": shortfall,
            "budget": budget}


def column_map(fields: dict, rows: list[dict], dataset: str) -> dict[str, str]:
    """Record field -> dataset column. A column no row has is a config error (else every row would drop)."""
    unknown = sorted(set(fields) - set(EXTERNAL_FIELDS))
    if unknown:
        raise ConfigError(f"mixture.fields: {unknown} are not record fields (map {', '.join(EXTERNAL_FIELDS)})")
    columns = {ours: fields.get(ours, ours) for ours in EXTERNAL_FIELDS}
    seen: set[str] = set()
    for row in rows:
        seen.update(row)
    for ours, theirs in columns.items():
        needed = ours != "id" or theirs != "id"  # without an id column rows are numbered; a named one must exist
        if rows and needed and theirs not in seen:
            raise ConfigError(f"mixture.fields.{ours}: column {theirs!r} not in {dataset} "
                              f"(columns: {', '.join(sorted(seen))})")
    return columns


def external_records(rows: list[dict], columns: dict[str, str], name: str) -> tuple[list[dict], dict[str, list]]:
    """(records kept, records dropped by reason); the first row with an id stands, as in the store."""
    kept, dropped, ids = [], {}, set()
    for i, row in enumerate(rows):
        raw_id = row.get(columns["id"])
        record = {"id": f"{name}/{i if raw_id is None else raw_id}", "problem": row.get(columns["problem"]),
                  "solution": row.get(columns["solution"]), "mixture_source": name}
        if record["id"] in ids:  # its own id in dropped.jsonl: the store keeps one line per id
            dropped.setdefault("duplicate_id", []).append({**record, "id": f"{record['id']}@row{i}",
                                                           "duplicate_of": record["id"]})
            continue
        ids.add(record["id"])
        reason = _fault(record)
        if reason:
            dropped.setdefault(reason, []).append(record)
        else:
            kept.append(record)
    return kept, dropped


def _fault(record: dict) -> str | None:
    """Why a record cannot train the student (a problem and a solution are non-blank text), or None."""
    for field in ("problem", "solution"):
        value = record[field]
        if not isinstance(value, str) or not value.strip():
            return f"no_{field}"
    return None
