"""QFT (ScaleQuest question fine-tuning): fine-tune the problem model on seed questions, then sample
new questions with no seed in the prompt.

Two steps in two jobs: the `tune` stage fine-tunes the problem model on `generator_data` (with the
train stage's code and training resources); `synthesize` then loads the tuned model and samples.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Dict

from flames.agents.base import Agent, ChunkResult, clean_problem, load_prompt
from flames.config import COUNT, AgentConfig, num
from flames.examples import to_example


@dataclass
class QFTConfig(AgentConfig):
    max_new_tokens: int | None = num(160, COUNT)  # one question, written from scratch
    train_seeds: int | None = num(256, COUNT)  # seed questions to fine-tune on (ScaleQuest: 15K); None = all
    samples_per_seed: int = num(20, COUNT)  # question slots per fine-tuning seed: the over-generation pool
    train: Dict[str, Any] = field(default_factory=lambda: {  # StudentConfig fields for the fine-tuning
        "max_steps": 12, "learning_rate": 5.0e-5, "per_device_train_batch_size": 4, "max_length": 384,
        "bf16": False, "num_checkpoints": 1})


class QFT(Agent):
    name = "qft"
    Config = QFTConfig
    stop = ()  # the fine-tuned model ends its question with the end-of-turn token
    tunes_generator = True  # `train` holds the fine-tuning's StudentConfig fields (the tune stage reads it)

    def generator_data(self, seeds: list[dict]) -> list[dict]:
        """One row per fine-tuning seed: the dataset's instruction as prompt, the seed question as answer."""
        train_on = self.train_on(seeds)
        return [{"id": s["id"], "problem": self.instruction(s.get("dataset")), "solution": s["problem"]}
                for s in train_on]

    def train_on(self, seeds: list[dict]) -> list[dict]:
        train_on = seeds[: self.cfg.train_seeds] if self.cfg.train_seeds else seeds
        if not train_on:
            raise ValueError("qft needs seed questions to fine-tune on; the seed set is empty")
        return train_on

    def prepare(self, seeds: list[dict], workdir) -> list[dict]:
        """Question slots per seed dataset: `samples_per_seed` for every fine-tuning seed."""
        if self.generator is None:
            raise RuntimeError("qft samples from the model the tune stage fine-tuned; none was given")
        train_on = self.train_on(seeds)
        slots = len(train_on) * self.cfg.samples_per_seed
        datasets = sorted({s.get("dataset") or "-" for s in train_on})
        return [{"id": f"q{i:06d}", "dataset": datasets[i % len(datasets)], "seed_ids": []} for i in range(slots)]

    def run_chunk(self, slots: list[dict]) -> ChunkResult:
        out = ChunkResult()
        replies = self.step("sample", [self.prompt(s["dataset"]) for s in slots],
                            keys=[self.request_key(s) for s in slots])
        for slot, reply in zip(slots, replies):
            problem, reason = clean_problem(reply)
            if problem:
                out.problems.append(self.problem_record(slot, problem, instruction=self.instruction(slot["dataset"]),
                                                        generator=self.generator))
            else:
                self.drop(out, slot, reason, step="sample", raw=reply)
        return out

    def instruction(self, dataset: str | None) -> str:
        known = instructions()
        return known.get(dataset or "-", known["default"])

    def prompt(self, dataset: str | None) -> str:
        """The user message exactly as the generator saw it in training (flames.examples.to_example)."""
        return to_example({"problem": self.instruction(dataset), "solution": ""}, "")["prompt"][0]["content"]


@functools.cache
def instructions() -> dict[str, str]:
    """The prompt file's "<dataset>: <instruction>" lines."""
    pairs = (line.split(":", 1) for line in load_prompt("qft").splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs}
