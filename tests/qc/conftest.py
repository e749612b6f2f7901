"""Shared fixtures for the QC tests: the real seed and benchmark files (from tests/conftest.py's `flames_data`:
the tests that use them are in the full tier)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="session")
def data_root(flames_data) -> Path:
    return flames_data


@pytest.fixture(scope="session")
def seeds(data_root) -> dict[str, list[dict]]:
    """{"gsm8k_train": [...], "math_train": [...]}"""
    return {name: _read(data_root / "seeds" / f"{name}.jsonl") for name in ("gsm8k_train", "math_train")}


@pytest.fixture(scope="session")
def benchmarks(data_root) -> dict[str, list[dict]]:
    """Benchmark file stem -> its problems."""
    files = sorted((data_root / "benchmarks").glob("*.jsonl"))
    if not files:
        pytest.fail(f"no benchmark files in {data_root / 'benchmarks'}")
    return {f.stem: _read(f) for f in files}
