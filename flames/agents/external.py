"""External (public) problems, re-solved: a public dataset's problems as an agent's output, so that solve, solution
QC and mix give them the configured solution model's solutions ("refreshed" public data, as the paper compares
FLAMES with: notes/paper.md, Tables 3/9, "refreshed" ScaleQuest, our reading).

No LLM call and no seed: `prepare` reads the dataset's problems (a JSONL file, a dataset folder or a hub id, as
`mixture=external` reads them, `fields.problem` naming the column), one input each, in the dataset's order;
problem QC (dedup, decontamination) applies as to any agent. The dataset's own solutions are not used: for
the public set as published, train on it with `mixture=external`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

from flames.agents.base import Agent, ChunkResult
from flames.config import AgentConfig, ConfigError


@dataclass
class ExternalConfig(AgentConfig):
    dataset: Optional[str] = None  # a JSONL file, a dataset folder or a hub id (its content is fingerprinted)
    split: str = "train"  # the split of a hub id or a dataset folder
    fields: Dict[str, str] = field(default_factory=dict)  # id / problem -> the dataset's column (default: same name)


class External(Agent):
    name = "external"
    Config = ExternalConfig
    uses_llm = False  # it reads problems; the solution model solves them

    def prepare(self, seeds: list[dict], workdir: Path) -> list[dict]:
        """The dataset's problems, one input each (rows without a problem are left out)."""
        from flames.datasets import dataset_name, read_external

        rows = read_external(self.dataset(self.cfg), self.cfg.split)
        id_column, problem_column = (self.cfg.fields.get(f, f) for f in ("id", "problem"))
        if rows and not any(problem_column in row for row in rows):
            raise ConfigError(f"agent.fields.problem: column {problem_column!r} not in {self.cfg.dataset} "
                              f"(columns: {', '.join(sorted(rows[0]))})")
        name, out = dataset_name(self.cfg.dataset), []
        for i, row in enumerate(rows):
            problem = row.get(problem_column)
            if isinstance(problem, str) and problem.strip():
                raw = row.get(id_column)
                out.append({"id": f"{name}/{i if raw is None else raw}", "problem": problem.strip(),
                            "dataset": None, "seed_ids": []})
        return out

    @staticmethod
    def dataset(cfg) -> str:
        if not cfg.dataset:
            raise ConfigError("agent=external needs agent.dataset=<a JSONL file, a dataset folder or a hub id>")
        return cfg.dataset

    @classmethod
    def input_fingerprint(cls, cfg) -> dict:
        """What the synthesize key records of the dataset: a file's or folder's content, a hub id as given."""
        from flames.datasets import dataset_fingerprint

        return dataset_fingerprint(cls.dataset(cfg), cfg.split, dict(cfg.fields))

    def run_chunk(self, inputs: list[dict]) -> ChunkResult:
        return ChunkResult(problems=[self.problem_record(i, i["problem"], source=self.cfg.dataset) for i in inputs])
