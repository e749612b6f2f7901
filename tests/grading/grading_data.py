"""Where the benchmark files are, and how gold answers are dressed as model output."""

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = [
    "gsm8k_test",
    "gsmplus_testmini",
    "math500",
    "math_test",
    "olympiadbench_test",
    "college_math_test",
]


def benchmark_dir() -> Path | None:
    """$FLAMES_DATA_DIR/benchmarks, else ../shared/data/benchmarks next to the repo.

    None when FLAMES_DATA_DIR is unset and the default does not exist. A set but
    wrong FLAMES_DATA_DIR is an error, not a reason to skip.
    """
    env = os.environ.get("FLAMES_DATA_DIR")
    if env:
        path = Path(env) / "benchmarks"
        if not path.is_dir():
            pytest.fail(f"FLAMES_DATA_DIR={env} has no benchmarks/ folder")
        return path
    path = REPO_ROOT.parent / "shared" / "data" / "benchmarks"
    return path if path.is_dir() else None


def load_rows(bench_dir: Path, name: str) -> list[dict]:
    path = bench_dir / f"{name}.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def as_model_output(gold: str) -> str:
    """A gold answer dressed the way a model writes its final line."""
    return "Let me work through it step by step.\nThe final answer is $\\boxed{" + gold + "}$."
