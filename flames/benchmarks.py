"""Evaluation benchmarks: local JSONL files under <data_dir>/benchmarks, or the built-in set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flames import builtin
from flames.jsonl import read_jsonl

FILES = {
    "gsm8k": "gsm8k_test.jsonl",
    "math": "math_test.jsonl",
    "math500": "math500.jsonl",
    "college_math": "college_math_test.jsonl",
    "gsmplus": "gsmplus_testmini.jsonl",
    "olympiadbench": "olympiadbench_test.jsonl",
}


def data_dir(cfg: Any) -> Path:
    d = cfg.get("data_dir") or os.environ.get("FLAMES_DATA_DIR")
    if not d:
        raise ValueError("benchmarks need a data folder: set FLAMES_DATA_DIR or benchmarks.data_dir")
    return Path(d).expanduser()


def load_benchmark(name: str, cfg: Any, limit: int | None = None) -> list[dict]:
    """Items of one benchmark (id, problem, answer, metadata); `limit` keeps the first N."""
    if name == "builtin":
        items = builtin.test_set(cfg.builtin_count)
    elif name in FILES:
        items = list(read_jsonl(data_dir(cfg) / "benchmarks" / FILES[name]))
    else:
        raise ValueError(f"unknown benchmark {name!r}; known: builtin, {', '.join(FILES)}")
    return items[:limit] if limit else items


def load_suite(cfg: Any, limit: int | None = None) -> dict[str, list[dict]]:
    return {name: load_benchmark(name, cfg, limit) for name in cfg.names}
