"""The benchmark files by name, and how gold answers are dressed as model output."""

import json
from pathlib import Path

import pytest

BENCHMARKS = [
    "gsm8k_test",
    "gsmplus_testmini",
    "math500",
    "math_test",
    "olympiadbench_test",
    "college_math_test",
]


def load_rows(bench_dir: Path, name: str) -> list[dict]:
    path = bench_dir / f"{name}.jsonl"
    if not path.exists():
        pytest.fail(f"{path} is missing: the data folder (FLAMES_DATA_DIR) is incomplete")
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def as_model_output(gold: str) -> str:
    """A gold answer dressed the way a model writes its final line."""
    return "Let me work through it step by step.\nThe final answer is $\\boxed{" + gold + "}$."
