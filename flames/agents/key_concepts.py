"""Key Concepts, MathScale-style (Tang et al. 2024, arXiv 2403.02884): a pool of concepts extracted from
the seeds, concept sets sampled from it, a new problem per set. `ConceptsThenProblem` is the two-step
machinery shared by the three key-concept agents.

The FLAMES paper does not say where Key Concepts' concepts come from (NOT FOUND; its Seeded Key
Concepts takes those of one seed). Our reading follows MathScale, so that the three agents differ:
- `key_concepts`: the concepts of many seeds, mixed. `prepare` runs step `extract` (one batched
  call over `pool_seeds` seeds per seed dataset; None = all) and builds one concept pool per seed
  dataset (GSM8K and MATH concepts are not mixed, so the 50:50 split of problems holds), saved in
  `<workdir>/concept_pool.jsonl` (a resumed run reads it back and makes no call). Its inputs are
  concept sets of `concepts_per_problem`, drawn from a pool by a weighted random walk on concept
  co-occurrence (flames.agents.concept_pool), reproducible per `seed`. `run_chunk` is step
  `problem` (one batched call): a problem per set, in the style of the pool's dataset.
- `seeded_key_concepts`: the concepts of one seed problem (step `extract`), then a problem from them.
- `taxonomy_key_concepts`: the concepts of a sampled taxonomy topic, then a problem (no seed).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from flames.agents.base import END, Agent, ChunkResult, clean_problem, load_prompt
from flames.agents.concept_pool import ConceptPool
from flames.config import COUNT, SEED, AgentConfig, num
from flames.jsonl import read_jsonl, write_jsonl

GSM8K_TOPIC = "grade-school math word problem"
MATH_TOPIC = "competition mathematics problem"
POOL_FILE = "concept_pool.jsonl"


@dataclass
class ConceptsConfig(AgentConfig):
    """The concepts step of the three key-concept agents (defaults: the paper-scale values)."""

    max_concepts: int = num(4, COUNT)  # concepts kept from a list (the first ones)
    concept_tokens: Optional[int] = num(None, COUNT)  # token cap of the concepts step (one line); None = the agent's budget


@dataclass
class KeyConceptsConfig(ConceptsConfig):
    """Defaults are the paper-scale values (experiment=paper); conf/agent/key_concepts.yaml sets the quickstart's."""

    pool_seeds: Optional[int] = num(None, COUNT)  # seeds per seed dataset whose concepts form the pool; None = all (MathScale)
    concepts_per_problem: int = num(3, COUNT)  # concepts in each sampled set
    seed: int = num(0, SEED)  # concept-set sampling seed (the sets are a function of the pool and this)
    inputs_per_problem: int = num(4, COUNT)  # sets drawn per wanted problem (synthesize draws only as many as the yield needs)


def seed_style(dataset: str | None) -> str:
    """The kind of problem a pool's sets become: MATH's competition problems, else word problems."""
    return MATH_TOPIC if dataset == "math" else GSM8K_TOPIC


_SPLIT = re.compile(r"\s*[;\n]\s*|\s*,\s+(?=[a-zA-Z$])")


def parse_concepts(reply: str, max_concepts: int) -> tuple[list[str] | None, str | None]:
    """The concepts of a one-line, semicolon-separated list: (concepts, None) or (None, reason)."""
    line = reply.strip().splitlines()[0] if reply.strip() else ""
    concepts = []
    for part in _SPLIT.split(line):
        part = re.sub(r"^(and|or)\s+", "", part.strip(" .*-\"'"))  # "...; sine, and cosine"
        if 2 < len(part) <= 80 and part.lower() not in {c.lower() for c in concepts}:
            concepts.append(part)
    if not concepts:
        return None, "no_concepts"
    if re.search(r"answer is|\\boxed", line, re.IGNORECASE):
        return None, "solved_instead"  # the model started solving instead of naming concepts
    return concepts[:max_concepts], None


class ConceptsThenProblem(Agent):
    """Step `concepts` (one batched call) -> step `problem` (one batched call over the survivors).

    Subclasses say what the concepts step is conditioned on (`concepts_vars(input)`: the prompt
    variables) and name their prompt files `<name>_concepts.txt` and `<name>_problem.txt`.
    `key_concepts` runs the concepts step once, over the seeds, in `prepare`.
    """

    stop = (END, "\nTopic:", "\nKey concepts:", "\nProblem:")
    concepts_step = "concepts"

    def concepts_vars(self, seed: dict) -> dict:
        raise NotImplementedError

    def run_chunk(self, inputs: list[dict]) -> ChunkResult:
        out = ChunkResult()
        items = [{"seed": s, "vars": self.concepts_vars(s)} for s in inputs]
        items = self.list_concepts(items, out)
        for item, problem in self.write_problems(items, out):
            out.problems.append(self.problem_record(item["seed"], problem, **self.intermediate(item)))
        return out

    def list_concepts(self, items: list[dict], out: ChunkResult) -> list[dict]:
        """Step 1: a one-line list of concepts per item (a short step: stop at the newline)."""
        template = load_prompt(f"{self.name}_concepts")
        listed = self.step_items(self.concepts_step, items, lambda it: template.format(**it["vars"]),
                                 lambda it, reply: parse_concepts(reply, self.cfg.max_concepts), out,
                                 stop=("\n",), max_new_tokens=self.cfg.concept_tokens)
        return [{**it, "concepts": concepts} for it, concepts in listed]

    def write_problems(self, items: list[dict], out: ChunkResult) -> list[tuple[dict, str]]:
        """Step 2: a problem per item from its concepts (and its conditioning variables)."""
        template = load_prompt(f"{self.name}_problem")

        def parse(item: dict, reply: str):
            problem, reason = clean_problem(reply)
            if problem and problem.strip() in template:
                return None, "copied_example"  # a tiny model may repeat an exemplar
            return problem, reason

        return self.step_items("problem", items, lambda it: template.format(
            **it["vars"], concepts="; ".join(it["concepts"])), parse, out)

    def intermediate(self, item: dict) -> dict:
        """What the problem record keeps of the steps: the conditioning and the concepts."""
        return {**item["vars"], "concepts": item["concepts"]}


class KeyConcepts(ConceptsThenProblem):
    name = "key_concepts"
    Config = KeyConceptsConfig
    concepts_step = "extract"
    stop = (END, "\nKind:", "\nKey concepts:", "\nProblem:")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pending_drops: list = []  # the extract step's drops (in prepare), handed out with the first chunk

    def concepts_vars(self, seed: dict) -> dict:
        return {"problem": seed["problem"]}

    def prepare(self, seeds: list[dict], workdir: Path) -> list[dict]:
        """Concept sets sampled from one pool per seed dataset: the inputs of `run_chunk`."""
        by_dataset: dict[str, list[tuple[str, list[str]]]] = {}
        for row in self.concept_pool(seeds, workdir):
            by_dataset.setdefault(row["dataset"], []).append((row["id"], row["concepts"]))
        per_dataset = math.ceil(self.cfg.inputs_per_problem * self.cfg.num_problems / max(len(by_dataset), 1))
        inputs = []
        for dataset, rows in sorted(by_dataset.items()):
            pool, rng = ConceptPool.build(rows), random.Random(f"{self.cfg.seed}:{dataset}")
            for i in range(max(len(rows), per_dataset)):
                concepts, seed_ids = pool.sample(self.cfg.concepts_per_problem, rng)
                label = "seeds" if dataset == "-" else dataset
                inputs.append({"id": f"{label}-set{i:06d}", "dataset": None if dataset == "-" else dataset,
                               "seed_ids": seed_ids, "concepts": concepts})
        return inputs

    def concept_pool(self, seeds: list[dict], workdir: Path) -> list[dict]:
        """Step `extract` over the pool's seeds, once: {id, dataset, concepts} per seed that gave concepts."""
        path = Path(workdir) / POOL_FILE
        if path.exists():
            return list(read_jsonl(path))
        taken: dict[str, int] = {}
        chosen = []
        for seed in seeds:  # the first `pool_seeds` of each dataset, in the (shuffled) seed order
            d = seed.get("dataset") or "-"
            if self.cfg.pool_seeds is None or taken.get(d, 0) < self.cfg.pool_seeds:
                taken[d] = taken.get(d, 0) + 1
                chosen.append(seed)
        out = ChunkResult()
        listed = self.list_concepts([{"seed": s, "vars": self.concepts_vars(s)} for s in chosen], out)
        self.pending_drops += out.drops
        rows = [{"id": it["seed"]["id"], "dataset": it["seed"].get("dataset") or "-", "concepts": it["concepts"]}
                for it in listed]
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(path.with_suffix(".tmp"), rows)
        path.with_suffix(".tmp").replace(path)  # whole or absent: a killed run extracts again
        return rows

    def run_chunk(self, inputs: list[dict]) -> ChunkResult:
        """Step `problem`: a new problem per sampled concept set."""
        out = ChunkResult(drops=self.pending_drops)
        self.pending_drops = []
        items = [{"seed": s, "vars": {"style": seed_style(s.get("dataset"))}, "concepts": s["concepts"]}
                 for s in inputs]
        for item, problem in self.write_problems(items, out):
            out.problems.append(self.problem_record(item["seed"], problem, **self.intermediate(item)))
        return out
