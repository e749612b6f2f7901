"""Shared fixtures for the QC tests: the real seed and benchmark files.

The data directory is $FLAMES_DATA_DIR, else <repo>/../shared/data; tests that need it
are skipped (with the reason) when neither exists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def data_dir() -> Path | None:
    env = os.environ.get("FLAMES_DATA_DIR")
    if env:
        return Path(env)
    fallback = REPO.parent / "shared" / "data"
    return fallback if fallback.is_dir() else None


def _read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = data_dir()
    if root is None or not (root / "seeds").is_dir():
        pytest.skip("no data: set FLAMES_DATA_DIR (needs seeds/ and benchmarks/) or provide ../shared/data")
    return root


@pytest.fixture(scope="session")
def seeds(data_root) -> dict[str, list[dict]]:
    """{"gsm8k_train": [...], "math_train": [...]}"""
    return {name: _read(data_root / "seeds" / f"{name}.jsonl") for name in ("gsm8k_train", "math_train")}


@pytest.fixture(scope="session")
def benchmarks(data_root) -> dict[str, list[dict]]:
    """Benchmark file stem -> its problems."""
    files = sorted((data_root / "benchmarks").glob("*.jsonl"))
    if not files:
        pytest.skip(f"no benchmark files in {data_root / 'benchmarks'}")
    return {f.stem: _read(f) for f in files}
