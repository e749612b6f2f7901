"""Fixtures for the grading tests."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bench_dir(flames_data) -> Path:
    """The benchmark files (tests/conftest.py's data folder: the tests that use them are in the full tier)."""
    return flames_data / "benchmarks"
