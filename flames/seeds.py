"""Seed problems: the built-in set, or JSONL files (id, problem, answer[, solution])."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

from flames import builtin
from flames.jsonl import JSONLError, numbered_jsonl, unique_ids


def seed_files(cfg: Any) -> list[Path]:
    files = list(cfg.files or [])
    if cfg.path:
        files = [cfg.path, *files]
    return [Path(f).expanduser() for f in files]


def load_seeds(cfg: Any) -> list[dict]:
    """Seeds as configured: shuffled with `shuffle_seed`, files interleaved in equal shares, cut to `limit`."""
    files = seed_files(cfg)
    if not files:
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


def _zip_longest(pools: list[list[dict]]):
    for i in range(max(len(p) for p in pools)):
        yield [p[i] for p in pools if i < len(p)]


def fingerprint(cfg: Any) -> str:
    """Content hash of the seed files, so editing a file invalidates artifacts built from it."""
    h = hashlib.sha256()
    for f in seed_files(cfg):
        if f.is_dir():
            raise JSONLError(f"{f}: is a directory, not a JSONL seed file (seeds.path / seeds.files)")
        h.update(str(f).encode())
        h.update(f.read_bytes() if f.exists() else b"missing")
    return h.hexdigest()[:16]
