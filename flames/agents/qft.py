"""QFT (ScaleQuest question fine-tuning): fine-tune the problem model on seed questions with the
project's own train stage, then sample new questions with no seed in the prompt."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict

from omegaconf import OmegaConf

from flames import llm
from flames.agents.base import Agent, ChunkResult, clean_problem, load_prompt
from flames.config import AgentConfig
from flames.examples import to_example
from flames.jsonl import write_jsonl

log = logging.getLogger(__name__)


@dataclass
class QFTConfig(AgentConfig):
    max_new_tokens: int | None = 160  # one question, written from scratch
    train_seeds: int | None = 256  # seed questions to fine-tune on (ScaleQuest: 15K); None = all
    samples_per_seed: int = 20  # question slots per fine-tuning seed: the over-generation pool
    train: Dict[str, Any] = field(default_factory=lambda: {  # StudentConfig fields for the fine-tuning
        "max_steps": 12, "learning_rate": 5.0e-5, "per_device_train_batch_size": 4, "max_length": 384,
        "bf16": False, "save_strategy": "no"})


class QFT(Agent):
    name = "qft"
    Config = QFTConfig
    stop = ()  # the fine-tuned model ends its question with the end-of-turn token

    def prepare(self, seeds: list[dict], workdir: Path) -> list[dict]:
        """Fine-tune (or reuse the fine-tuned) generator; the inputs are question slots per dataset."""
        train_on = seeds[: self.cfg.train_seeds] if self.cfg.train_seeds else seeds
        if not train_on:
            raise ValueError("qft needs seed questions to fine-tune on; the seed set is empty")
        self.instructions = instructions()
        self.generator_path = self._fine_tune(train_on, Path(workdir))
        self.llm = self._generator(self.generator_path)
        slots = len(train_on) * self.cfg.samples_per_seed
        datasets = sorted({s.get("dataset") or "-" for s in train_on})
        return [{"id": f"q{i:06d}", "dataset": datasets[i % len(datasets)], "seed_ids": []} for i in range(slots)]

    def run_chunk(self, slots: list[dict]) -> ChunkResult:
        out = ChunkResult()
        replies = self.step("sample", [self.prompt(s["dataset"]) for s in slots], keys=[self.request_key(s) for s in slots])
        for slot, reply in zip(slots, replies):
            problem, reason = clean_problem(reply)
            if problem:
                out.problems.append(self.problem_record(slot, problem, instruction=self.instruction(slot["dataset"]),
                                                        generator=self.generator_path))
            else:
                self.drop(out, slot, reason, step="sample", raw=reply)
        return out

    def instruction(self, dataset: str | None) -> str:
        return self.instructions.get(dataset or "-", self.instructions["default"])

    def prompt(self, dataset: str | None) -> str:
        """The user message exactly as the generator saw it in training (flames.examples.to_example)."""
        return to_example({"problem": self.instruction(dataset), "solution": ""}, "")["prompt"][0]["content"]

    def _fine_tune(self, seeds: list[dict], workdir: Path) -> str:
        if self.fine_tune is None:
            raise RuntimeError("qft needs a fine_tune function (the synthesize stage passes the train stage's)")
        model_dir = workdir / "train" / "model"
        if model_dir.exists():  # a resumed run: the generator was fine-tuned already
            return str(model_dir)
        workdir.mkdir(parents=True, exist_ok=True)
        data = workdir / "questions.jsonl"
        write_jsonl(data, [{"id": s["id"], "problem": self.instruction(s.get("dataset")), "solution": s["problem"]}
                           for s in seeds])
        log.info("qft: fine-tuning %s on %d seed questions", self.model_cfg.name, len(seeds))
        return self.fine_tune(data, workdir / "train", self.model_cfg.name, dict(self.cfg.train))

    def _generator(self, model_path: str):
        # The fine-tuned model learned the chat format (TRL renders conversations with the template).
        cfg = OmegaConf.merge(self.model_cfg, {"name": model_path, "chat_template": True})
        return llm.get_llm(cfg)


def instructions() -> dict[str, str]:
    """The prompt file's "<dataset>: <instruction>" lines."""
    pairs = (line.split(":", 1) for line in load_prompt("qft").splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs}
