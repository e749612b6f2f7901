"""A scripted backend that a real `flames` process loads by class path, for tests about processes and files
(kills, resumes, sweeps) that must not depend on what a model says.

    flames ... problem_model.backend=tests.scripted_backend.Scripted problem_model.name=<a folder with config.json>

The repository must be on the child's PYTHONPATH (`scripted_args` and `tests.e2e.env_for` see to both).
Replies: every step of every shipped agent as `tests.scripted_agents` answers it, "solvable" to the solvability
judge, and a boxed answer (the prompt's first number) to anything else (solve, evaluate), so every stage
produces well-formed records, the same on every machine.

`FLAMES_TEST_GATE=<n>:<path>` holds the process inside its n-th backend call (and every later one) until
`<path>` exists: a test kills it there, knowing exactly what was written before (n-1 calls' records).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from flames.llm import LLM, Generation
from tests import scripted_agents

BACKEND = "tests.scripted_backend.Scripted"


def scripted_args(tmp_path: Path, models=("problem_model", "solution_model")) -> list[str]:
    """Overrides that put `models` on the scripted backend (a stand-in model folder under tmp_path)."""
    folder = tmp_path / "scripted-model"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")  # what flames checks a model folder for
    return [o for m in models for o in (f"{m}.backend={BACKEND}", f"{m}.name={folder}")]


def reply(prompt: str, k: int, seed: int = 0) -> str:
    if prompt.rstrip().endswith("Reason:"):  # the solvability judge (flames/qc/prompts/solvability.txt)
        return " Every quantity the question needs is given.\nVerdict: solvable"
    try:
        return scripted_agents.reply(prompt, k, seed)  # a step of one of the shipped agents
    except AssertionError:  # not an agent's prompt: a solve or evaluation request
        nums = re.findall(r"\d+", prompt)
        return f"We add things up. The answer is \\boxed{{{nums[0] if nums else 0}}}."


class Scripted(LLM):
    name = "scripted"

    def __init__(self) -> None:
        self.calls = 0

    @classmethod
    def from_config(cls, path: str, cfg) -> "Scripted":
        return cls()

    def _chat(self, conversations, sampling, seeds):
        self.calls += 1
        self._wait_at_gate()
        prompts = [c[-1]["content"] for c in conversations]
        return [Generation(texts=[reply(p, k, seed) for k in range(sampling.n)], prompt_tokens=len(p.split()),
                           completion_tokens=[8] * sampling.n, truncated=[False] * sampling.n)
                for p, seed in zip(prompts, seeds)]

    def _wait_at_gate(self) -> None:
        gate = os.environ.get("FLAMES_TEST_GATE")
        if not gate:
            return
        n, path = gate.split(":", 1)
        while self.calls >= int(n) and not Path(path).exists():
            time.sleep(0.05)
