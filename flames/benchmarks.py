"""Evaluation benchmarks: local JSONL files under <data_dir>/benchmarks, or the built-in set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flames import builtin
from flames.jsonl import read_jsonl

# The paper's Avg: the mean of these five (GSMPlus distraction is reported in its own column).
PAPER_AVG = ("gsm8k", "math", "college_math", "gsmplus", "olympiadbench")

FILES = {
    "gsm8k": "gsm8k_test.jsonl",
    "math": "math_test.jsonl",
    "math500": "math500.jsonl",
    "college_math": "college_math_test.jsonl",
    "gsmplus": "gsmplus_testmini.jsonl",
    "gsmplus_distraction": "gsmplus_testmini.jsonl",
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
        items = [it for it in read_jsonl(data_dir(cfg) / "benchmarks" / FILES[name]) if _keep(name, it)]
    else:
        raise ValueError(f"unknown benchmark {name!r}; known: builtin, {', '.join(FILES)}")
    return items[:limit] if limit else items


def load_suite(cfg: Any, limit: int | None = None) -> dict[str, list[dict]]:
    return {name: load_benchmark(name, cfg, limit) for name in cfg.names}


def _keep(name: str, item: dict) -> bool:
    """The paper drops GSMPlus's critical-thinking items (no answer) and reports distraction on its own."""
    kind = item.get("perturbation_type")
    if name == "gsmplus":
        return kind != "critical thinking"
    if name == "gsmplus_distraction":
        return kind == "distraction insertion"
    return True


def paper_average(metrics: dict) -> float | None:
    """Mean accuracy over the paper's five benchmarks, when all five were evaluated."""
    accs = [metrics[b]["accuracy"] for b in PAPER_AVG if b in metrics]
    return round(sum(accs) / len(accs), 2) if len(accs) == len(PAPER_AVG) else None
