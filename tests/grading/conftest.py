"""Fixtures for the grading tests."""

from pathlib import Path

import pytest
from grading_data import benchmark_dir


@pytest.fixture(scope="session")
def bench_dir() -> Path:
    path = benchmark_dir()
    if path is None:
        pytest.skip(
            "benchmark data not found: FLAMES_DATA_DIR is unset and ../shared/data/benchmarks "
            "next to the repository does not exist; set FLAMES_DATA_DIR to the folder that "
            "holds benchmarks/*.jsonl"
        )
    return path
