"""The fidelity ledger (docs/fidelity.yaml): its rows, their check against composed configs, and docs/fidelity.md.

`python -m tests.fidelity` renders docs/fidelity.md from the ledger; tests/test_fidelity.py checks both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ROOT / "docs" / "fidelity.yaml"
RENDERED = ROOT / "docs" / "fidelity.md"
SOURCES = ("paper", "ours")  # and "orig: <the original method's paper>"


def load_ledger(path: Path = LEDGER) -> list[dict]:
    return yaml.safe_load(path.read_text())


def composed_value(cfg: DictConfig, key: str | list[str]):
    """The value at `key`: a dotted path, or a list of path parts where a part holds a dot (an axis name)."""
    node = cfg
    for part in key.split(".") if isinstance(key, str) else key:
        if not isinstance(node, DictConfig) or part not in node:
            return KeyError(f"no key {part!r}")
        node = node[part]
    return OmegaConf.to_container(node, resolve=False) if OmegaConf.is_config(node) else node


def mismatches(rows: list[dict], compose: Callable[[list[str]], DictConfig]) -> list[str]:
    """One line per row whose composed value differs from the ledger's; each `where` is composed once."""
    composed: dict[tuple, DictConfig] = {}
    wrong = []
    for row in rows:
        where = tuple(row["where"])
        if where not in composed:
            composed[where] = compose(list(where))
        got = composed_value(composed[where], row["key"])
        if got != row["value"]:
            wrong.append(f"{row['setting']}: flames {' '.join(where)} gives {row['key']}={got!r}, "
                         f"the ledger says {row['value']!r} ({row['source']})")
    return wrong


def bad_sources(rows: list[dict]) -> list[str]:
    return [row["setting"] for row in rows
            if not (row["source"] in SOURCES or str(row["source"]).startswith("orig: "))]


def render(rows: list[dict]) -> str:
    lines = ["# Fidelity ledger", "",
             "Every setting of the FLAMES paper that flames reproduces: the command whose config holds it, the key,",
             "the value and where the value comes from. **paper**: the paper as read in the project's paper notes",
             "(the section is given); **orig**: the original method's paper, FLAMES's own value being NOT FOUND;",
             "**ours**: NOT FOUND in the paper, our decision. Generated from `docs/fidelity.yaml` by",
             "`python -m tests.fidelity`; `tests/test_fidelity.py` composes every row and checks the value.", "",
             "| setting | command | key | value | source | why |", "|---|---|---|---|---|---|"]
    for row in rows:
        key = row["key"] if isinstance(row["key"], str) else ".".join(row["key"])
        value = yaml.safe_dump(row["value"], default_flow_style=True, width=10_000).strip().removesuffix("...")
        lines.append(f"| {row['setting']} | `flames {' '.join(row['where'])}` | `{key}` | `{value.strip()}` "
                     f"| {row['source']} | {row['ref']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    RENDERED.write_text(render(load_ledger()))
    print(f"wrote {RENDERED}")
