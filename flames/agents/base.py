"""What every agent shares: its prompt files, one batched LLM call per step, and parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from flames.llm import LLM, Sampling

PROMPT_DIR = Path(__file__).parent / "prompts"


def load_prompt(name: str) -> str:
    """The prompt file `prompts/<name>.txt`, without its header comment lines (starting with '#')."""
    text = (PROMPT_DIR / f"{name}.txt").read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip() + "\n"


@dataclass
class ChunkResult:
    """What one chunk of seeds produced: problems, and dropped items with reasons."""

    problems: list[dict] = field(default_factory=list)
    drops: list[tuple[dict, str]] = field(default_factory=list)


class Agent:
    """Base class. A subclass implements `run_chunk(seeds)` in terms of `self.step(...)`."""

    name = ""
    # Prompts ask for one paragraph in a few-shot "Question: ... <label>: ..." format: stop there.
    stop: tuple[str, ...] = ("\n\n", "\nQuestion:")

    def __init__(self, cfg: Any, llm: LLM, sampling: Sampling, log_call: Callable[..., None] | None = None):
        self.cfg = cfg
        self.llm = llm
        self.sampling = sampling
        self._log_call = log_call or (lambda **_: None)

    def step(self, step: str, prompts: list[str]) -> list[str]:
        """One batched LLM call: a user message per prompt, one completion each."""
        sampling = replace(self.sampling, stop=self.stop) if self.stop else self.sampling
        gens = self.llm.chat([[{"role": "user", "content": p}] for p in prompts], sampling)
        self._log_call(step=step, requests=len(prompts), prompt_tokens=sum(g.prompt_tokens for g in gens),
                       completion_tokens=sum(sum(g.completion_tokens) for g in gens))
        return [g.texts[0] for g in gens]

    def problem_record(self, seed: dict, problem: str, **intermediate) -> dict:
        """A synthesized problem with its provenance."""
        return {
            "id": f"{self.name}-{seed['id']}",
            "problem": problem,
            "agent": self.name,
            "seed_ids": [seed["id"]],
            "seed_dataset": seed.get("dataset"),
            "seed_answer": seed.get("answer"),
            "intermediate": intermediate,
        }

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        raise NotImplementedError


_LABEL = re.compile(
    r"^\s*(\*\*)?\s*(rephrase the above question|with a distraction|"
    r"(new|rewritten|rephrased|paraphrased|revised|modified|updated)?\s*(math\s+)?(problem|question)\s*(\d+)?)"
    r"\s*:\s*(\*\*)?\s*", re.IGNORECASE)
_CUT = re.compile(r"\n\s*(\*\*)?\s*(solution|answer|explanation|step 1|note)\b", re.IGNORECASE)


def clean_problem(text: str, min_chars: int = 20, max_chars: int = 2000) -> tuple[str | None, str | None]:
    """Extract a problem statement from a model's reply: (problem, None) or (None, drop reason)."""
    text = text.strip().strip("`").strip()
    text = _CUT.split(text, maxsplit=1)[0]
    text = _LABEL.sub("", text, count=1).strip().strip('"').strip()
    if not text:
        return None, "empty"
    if len(text) < min_chars:
        return None, "too_short"
    if len(text) > max_chars:
        return None, "too_long"
    if _SOLVED.search(text):
        return None, "solved_instead"  # the model answered the problem instead of writing one
    if not _ASKS.search(text):
        return None, "no_question"  # a problem must ask for something
    return text, None


_SOLVED = re.compile(r"answer is|\\boxed|final answer", re.IGNORECASE)
_ASKS = re.compile(r"\?|\b(find|compute|determine|evaluate|solve|simplify|calculate|express|show|prove|"
                   r"what|how|which|give)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def numbers_in(text: str) -> list[str]:
    return _NUMBER.findall(text.replace(",", ""))
