"""Key Concepts: first a list of key concepts, then a new problem that tests them. Two LLM steps.

The paper does not say where the concepts come from (NOT FOUND). Our choice: from the seed's
*topic* only (its MATH subject, or "grade-school math word problem" for GSM8K), never from its
text, so that this agent differs from `seeded_key_concepts` (concepts of the seed problem itself)
and from `taxonomy_key_concepts` (no seed at all). The seed sets the topic mix (GSM8K:MATH 50:50).

`ConceptsThenProblem` is the two-step machinery shared by the three key-concept agents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flames.agents.base import Agent, ChunkResult, clean_problem, load_prompt
from flames.config import AgentConfig

GSM8K_TOPIC = "grade-school math word problem"


@dataclass
class KeyConceptsConfig(AgentConfig):
    max_concepts: int = 4  # concepts kept from the list (the first ones)
    concept_tokens: int = 40  # token cap of the concepts step (one short line)


def seed_topic(seed: dict) -> str:
    """The topic a seed stands for: its MATH subject; GSM8K and other seeds are word problems."""
    return seed.get("type") or GSM8K_TOPIC


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
    """

    stop = ("\n\n", "\nTopic:", "\nKey concepts:", "\nProblem:")
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

    def concepts_vars(self, seed: dict) -> dict:
        return {"topic": seed_topic(seed)}
