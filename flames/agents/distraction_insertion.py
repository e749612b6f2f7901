"""Distraction insertion (new in FLAMES): add a topic-related but irrelevant detail, answer unchanged.

The model writes only the detail; the agent inserts it before the question sentence. A small
model cannot be trusted to copy a whole problem verbatim, and the answer must not change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flames.agents.base import Agent, ChunkResult, load_prompt
from flames.config import COUNT, AgentConfig, num

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z$\\])")


@dataclass
class DistractionInsertionConfig(AgentConfig):
    max_new_tokens: int | None = num(48, COUNT)  # one sentence


class DistractionInsertion(Agent):
    name = "distraction_insertion"
    keeps_answer = True  # the seed's problem, reworded or with an irrelevant sentence: same answer
    Config = DistractionInsertionConfig
    stop = ("\n",)

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        template = load_prompt(self.name)
        out = ChunkResult()
        items = [{"seed": s} for s in seeds]
        prompt_of = lambda it: template.format(problem=it["seed"]["problem"], answer=it["seed"].get("answer", "unchanged"))  # noqa: E731
        for it, detail in self.step_items("detail", items, prompt_of, parse_detail, out):
            seed = it["seed"]
            out.problems.append(self.problem_record(seed, insert_before_question(seed["problem"], detail),
                                                    inserted=detail))
        return out


def parse_detail(item: dict, reply: str) -> tuple[str | None, str | None]:
    """One declarative sentence that is new to the problem."""
    detail = reply.strip().strip('"').strip()
    detail = _SENTENCE_END.split(detail, maxsplit=1)[0].strip()
    if len(detail) < 12:
        return None, "empty" if not detail else "too_short"
    if len(detail) > 300:
        return None, "too_long"
    if "?" in detail:
        return None, "asks_a_question"  # a second question would change what is asked
    if re.search(r"answer|\\boxed", detail, re.IGNORECASE):
        return None, "solved_instead"
    if detail.lower() in item["seed"]["problem"].lower():
        return None, "not_new"
    return (detail if detail[-1] in ".!" else detail + "."), None


def insert_before_question(problem: str, detail: str) -> str:
    """The problem with `detail` as a sentence of its own just before the last (question) sentence; the
    problem's own line breaks stay (a MATH problem may span paragraphs)."""
    text = problem.strip()
    ends = list(_SENTENCE_END.finditer(text))
    cut = ends[-1].end() if ends else 0
    return f"{text[:cut]}{detail} {text[cut:]}"
