"""Evaluation benchmarks: `benchmarks.suite` entries, read from local JSONL files, the hub, or built in.

Each entry of `benchmarks.suite` (one per conf/benchmarks file) says where its items come from:
`source: local` reads <data_dir>/benchmarks/<file>; `source: hub` calls `datasets.load_dataset(hub)`
and maps its columns to our fields; `source: builtin` generates the arithmetic set. A missing local
file is an error, never a silent switch to the hub: the hub copy can differ (GSM-Plus test vs the
local testmini), and a number must say which set it was measured on. See docs/evaluation.md.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

from flames import builtin
from flames.config import ANSWER_FROM, BENCHMARK_SOURCES, ConfigError
from flames.jsonl import numbered_jsonl, unique_ids

# The paper's Avg: the mean of these five (GSMPlus distraction is reported in its own column).
PAPER_AVG = ("gsm8k", "math", "college_math", "gsmplus", "olympiadbench")
# The paper's table, left to right (Tables 3, 11); other benchmarks follow in suite order.
PAPER_ORDER = ("gsm8k", "math", "college_math", "gsmplus_distraction", "gsmplus", "olympiadbench")
# Column headers of the printed table (the paper's names; others print their suite name).
LABELS = {"gsm8k": "GSM8K", "math": "MATH", "college_math": "CollegeMath", "gsmplus_distraction": "Distraction",
          "gsmplus": "GSMPlus", "olympiadbench": "OlympiadBench", "math500": "MATH500", "builtin": "Builtin"}


def data_dir(cfg: Any) -> Path:
    d = cfg.get("data_dir") or os.environ.get("FLAMES_DATA_DIR")
    if not d:
        raise ConfigError("benchmarks need a data folder: set FLAMES_DATA_DIR or benchmarks.data_dir "
                          "(or benchmarks=builtin, which needs none)")
    return Path(d).expanduser()


def spec_of(name: str, cfg: Any) -> Any:
    suite = cfg.get("suite") or {}
    if name not in suite:
        raise ConfigError(f"unknown benchmark {name!r}; in benchmarks.suite: {', '.join(suite) or 'none'} "
                         f"(add one with benchmarks=[...,{name}])")
    return suite[name]


def source_of(spec: Any, cfg: Any) -> str:
    """The benchmark's own source, unless `benchmarks.source` overrides it (builtin stays builtin)."""
    source = spec.get("source", "local")
    if source != "builtin" and cfg.get("source"):
        source = cfg.source
    if source not in BENCHMARK_SOURCES:
        raise ConfigError(f"benchmark source must be one of {', '.join(BENCHMARK_SOURCES)}, not {source!r}")
    return source


def load_benchmark(name: str, cfg: Any, limit: int | None = None, limit_seed: int | None = None) -> list[dict]:
    """Items of one benchmark (id, problem, answer, metadata).

    `limit` keeps the first N, or with `limit_seed` a seeded random N (in file order): the first
    items of a file are often one subject or level (MATH's first 10 are all algebra).
    """
    spec = spec_of(name, cfg)
    source = source_of(spec, cfg)
    if source == "builtin":
        items = builtin.test_set(cfg.builtin_count)
    elif source == "hub":
        items = load_hub_items(name, spec)
    else:
        path = _local_file(name, spec, cfg)
        items = unique_ids(path, numbered_jsonl(path))
    items = [it for it in items if _keep(spec, it)]
    if not limit or limit >= len(items):
        return items
    if limit_seed is None:
        return items[:limit]
    return [items[i] for i in sorted(random.Random(limit_seed).sample(range(len(items)), limit))]


def local_notes(cfg: Any) -> list[str]:
    """What the report says of benchmarks read from a local file that is not the paper's set (their `local_note`)."""
    return [f"{name}: {spec.local_note}" for name in cfg.names
            for spec in [spec_of(name, cfg)] if spec.get("local_note") and source_of(spec, cfg) == "local"]


def load_suite(cfg: Any, limit: int | None = None, limit_seed: int | None = None,
               names: list[str] | None = None) -> dict[str, list[dict]]:
    """Every benchmark of `benchmarks.names`, or only `names`."""
    return {name: load_benchmark(name, cfg, limit, limit_seed) for name in names or cfg.names}


def _local_file(name: str, spec: Any, cfg: Any) -> Path:
    if not spec.get("file"):
        raise ConfigError(f"benchmark {name} has no local file; use benchmarks.suite.{name}.source=hub")
    path = data_dir(cfg) / "benchmarks" / spec.file
    if not path.exists():
        hint = f" or load it from the hub ({spec.hub}) with benchmarks.source=hub" if spec.get("hub") else ""
        raise FileNotFoundError(f"benchmark {name}: {path} not found; set FLAMES_DATA_DIR{hint}")
    return path


def load_hub_items(name: str, spec: Any) -> list[dict]:
    """`datasets.load_dataset(hub, config, split)` for each config, rows mapped to our fields.

    `hub` may also be a local dataset folder (how the tests run this path offline).
    """
    import datasets

    if not spec.get("hub"):
        raise ConfigError(f"benchmark {name} has no hub id; set benchmarks.suite.{name}.hub")
    if spec.answer_from not in ANSWER_FROM:
        raise ConfigError(f"benchmark {name}: answer_from must be one of {', '.join(ANSWER_FROM)}")
    rows = []
    for config in list(spec.hub_configs) or [None]:
        rows += list(datasets.load_dataset(spec.hub, config, split=spec.hub_split))
    return [hub_item(name, i, row, spec) for i, row in enumerate(rows)]


def hub_item(name: str, index: int, row: dict, spec: Any) -> dict:
    """One hub row as an item: scalar columns kept (subsets, where/exclude can name them), then mapped."""
    fields = dict(spec.get("fields") or {})

    def column(ours: str) -> Any:
        theirs = fields.get(ours, ours)
        if theirs not in row:
            raise KeyError(f"benchmark {name}: hub column {theirs!r} (for {ours!r}) not in {sorted(row)}; "
                           f"map it with benchmarks.suite.{name}.fields.{ours}=<column>")
        return row[theirs]

    item = {k: v for k, v in row.items() if v is None or isinstance(v, (str, int, float, bool))}
    item.update({ours: column(ours) for ours in fields})
    has_id = "id" in fields or "id" in row
    item["id"] = f"{name}-{column('id')}" if has_id else f"{name}-{spec.hub_split}-{index:05d}"
    item["problem"] = column("problem")
    item["answer"] = gold_answer(column("answer"), spec.answer_from)
    if isinstance(item.get("level"), str) and re.fullmatch(r"Level \d+", item["level"]):
        item["level"] = int(item["level"].split()[1])  # MATH's "Level 3" -> 3, as in the local file
    return item


def gold_answer(raw: Any, answer_from: str) -> str:
    """The gold answer from a hub column, normalised as the local files are (docs/evaluation.md)."""
    from flames.grading.extract import last_boxed

    if answer_from == "first" and isinstance(raw, (list, tuple)):
        raw = raw[0] if raw else ""
    text = str(raw)
    if answer_from == "after_hashes":
        text = text.split("####")[-1].replace(",", "")  # GSM8K: "#### 1,080" -> 1080
    elif answer_from == "boxed":
        text = last_boxed(text) or ""
    text = text.strip()
    if len(text) > 1 and text.startswith("$") and text.endswith("$") and text.count("$") == 2:
        text = text[1:-1].strip()  # one outer $...$ pair, as in the local CollegeMath/OlympiadBench files
    return text


def _keep(spec: Any, item: dict) -> bool:
    """`where`: keep only the listed values of a field; `exclude`: drop them (GSMPlus's split, for one)."""
    for field, values in (spec.get("where") or {}).items():
        if str(item.get(field)) not in values:
            return False
    return not any(str(item.get(f)) in values for f, values in (spec.get("exclude") or {}).items())


def subset_fields(cfg: Any) -> dict[str, list[str]]:
    """Benchmark name -> item fields that get their own accuracy rows."""
    return {name: list(spec_of(name, cfg).get("subsets") or []) for name in cfg.names}


def paper_average(metrics: dict) -> float | None:
    """Mean accuracy over the paper's five benchmarks, when all five were evaluated."""
    accs = [metrics[b]["accuracy"] for b in PAPER_AVG if b in metrics]
    return round(sum(accs) / len(accs), 2) if len(accs) == len(PAPER_AVG) else None
