"""Seed problems: the built-in set, JSONL files (id, problem, answer[, solution]), or a Hugging Face dataset
(`seeds.dataset`: a hub id, a save_to_disk folder or a folder of data files, its columns mapped by `seeds.fields`)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from flames import builtin
from flames.benchmarks import gold_answer
from flames.config import ConfigError
from flames.datasets import dataset_name, read_external
from flames.jsonl import JSONLError, numbered_jsonl, unique_ids
from flames.keys import text_fingerprint

SEED_FIELDS = ("id", "problem", "answer", "solution")  # the seed fields `seeds.fields` maps to dataset columns


def seed_files(cfg: Any) -> list[Path]:
    files = list(cfg.files or [])
    if cfg.path:
        files = [cfg.path, *files]
    return [Path(f).expanduser() for f in files]


def load_seeds(cfg: Any) -> list[dict]:
    """Seeds as configured: shuffled with `shuffle_seed`, files interleaved in equal shares, cut to `limit`."""
    files = seed_files(cfg)
    if cfg.get("name") == "hf" and not cfg.get("dataset"):
        raise ConfigError("seeds=hf needs seeds.dataset=<a hub id, a save_to_disk folder or a folder of data files>")
    if cfg.get("dataset"):
        if files:  # one source: a dataset's rows would be drawn against the files' in silent equal shares
            raise ConfigError("seeds.dataset and seeds.path/seeds.files are exclusive (seeds=hf sets neither file)")
        pools = [dataset_seeds(cfg)]
    elif not files:
        pools = [builtin.seeds(cfg.builtin_count)]
    else:
        pools = [_read_file(f) for f in files]
    rng = random.Random(cfg.shuffle_seed)
    for pool in pools:
        rng.shuffle(pool)
    mixed = [r for group in _zip_longest(pools) for r in group]
    return mixed[: cfg.limit] if cfg.limit else mixed


def _read_file(path: Path) -> list[dict]:
    if not path.exists():
        raise FileNotFoundError(f"seed file {path} does not exist (set seeds.path or FLAMES_DATA_DIR)")
    rows = []
    for i, r in enumerate(unique_ids(path, numbered_jsonl(path))):
        if not isinstance(r.get("problem"), str) or not r["problem"].strip():
            raise JSONLError(f"{path}: record {i + 1} has no 'problem' text")
        try:
            r["problem"].encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800") would fail later, in a tokenizer
            raise JSONLError(f"{path}: record {i + 1}: 'problem' is not valid Unicode (a lone surrogate)") from None
        r.setdefault("id", f"{path.stem}-{i:06d}")
        rows.append(r)
    if not rows:
        raise JSONLError(f"{path}: no seed records (an empty file)")
    return rows


def dataset_seeds(cfg: Any) -> list[dict]:
    """The rows of `seeds.dataset` (split `seeds.split`) as seeds: columns mapped by `seeds.fields`, the answer
    normalised by `seeds.answer_from` (as a hub benchmark's), other scalar columns kept; `dataset` is the folder's
    name or the hub id's last part unless a column gives it (seeds.shares names it)."""
    fields = dict(cfg.get("fields") or {})
    unknown = sorted(set(fields) - set(SEED_FIELDS))
    if unknown:
        raise ConfigError(f"seeds.fields: {unknown} are not seed fields (map {', '.join(SEED_FIELDS)})")
    rows = read_external(cfg.dataset, cfg.split, key="seeds", config=cfg.get("hub_config"))
    where = f"{cfg.dataset} ({cfg.split})"
    if not rows:
        raise JSONLError(f"{where}: no rows")
    columns = {ours: fields.get(ours, ours) for ours in SEED_FIELDS}
    seen = set().union(*rows)
    for ours, theirs in columns.items():  # a problem column must exist, and every column named something else
        if theirs not in seen and (ours == "problem" or theirs != ours):
            raise ConfigError(f"seeds.fields.{ours}: column {theirs!r} not in {cfg.dataset} "
                              f"(columns: {', '.join(sorted(seen))})")
    name = dataset_name(cfg.dataset).rsplit("/", 1)[-1]  # openai/gsm8k: gsm8k (ids and seeds.shares name it)
    seeds = [_seed(i, row, columns, name, cfg.answer_from) for i, row in enumerate(rows)]
    for i, seed in enumerate(seeds):
        if not isinstance(seed["problem"], str) or not seed["problem"].strip():
            raise JSONLError(f"{where}: row {i} has no {columns['problem']!r} text (seeds.fields.problem)")
    return unique_ids(where, enumerate(seeds))


def _seed(index: int, row: dict, columns: dict[str, str], name: str, answer_from: str) -> dict:
    seed = {k: v for k, v in row.items() if v is None or isinstance(v, (str, int, float, bool))}
    seed.setdefault("dataset", name)
    raw_id = row.get(columns["id"])
    seed["id"] = f"{name}-{index:06d}" if raw_id is None else str(raw_id)
    seed["problem"] = row.get(columns["problem"])
    if columns["answer"] in row:
        seed["answer"] = gold_answer(row[columns["answer"]], answer_from)
    if columns["solution"] in row and row[columns["solution"]] is not None:
        seed["solution"] = str(row[columns["solution"]])
    return seed


def _zip_longest(pools: list[list[dict]]):
    for i in range(max(len(p) for p in pools)):
        yield [p[i] for p in pools if i < len(p)]


def fingerprint(cfg: Any, seeds: Any = None) -> str:
    """Content hash of the seed files, so editing a file invalidates artifacts built from it; of a dataset's seeds
    (`seeds()`, or loaded here), so a changed hub dataset or folder is never reused as the old one."""
    if cfg.get("dataset") or cfg.get("name") == "hf":
        rows = seeds() if seeds else load_seeds(cfg)
        return "rows-" + text_fingerprint([json.dumps(r, sort_keys=True, default=str) for r in rows])
    h = hashlib.sha256()
    for f in seed_files(cfg):
        if f.is_dir():
            raise JSONLError(f"{f}: is a directory, not a JSONL seed file (seeds.path / seeds.files)")
        h.update(str(f).encode())
        h.update(f.read_bytes() if f.exists() else b"missing")
    return h.hexdigest()[:16]
