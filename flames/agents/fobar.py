"""FOBAR (MetaMath, after Jiang et al.): mask a number of the seed question with x, append the answer.

Rule-based, no LLM call: MetaMath builds FOBAR questions by replacing one number of the question
with the unknown and appending its fixed template, so nothing here needs a model. The masked
number becomes the new answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from flames.agents.base import Agent, ChunkResult, clean_problem, fill, load_prompt
from flames.agents.masking import mask, maskable_numbers, number_tokens, pick_number, pick_variable
from flames.config import SEED, AgentConfig, num

@dataclass
class FobarConfig(AgentConfig):
    seed: int = num(0, SEED)  # which number gets masked is drawn with this (and the seed's id)


class Fobar(Agent):
    name = "fobar"
    Config = FobarConfig
    problems_per_seed = staticmethod(maskable_numbers)  # one distinct problem per number a draw may hide
    uses_llm = False  # rule-based: it never calls the problem model (callers may skip loading one)

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        template = load_prompt(self.name).strip()
        out = ChunkResult()
        for seed in seeds:
            problem, details, reason = self.backward_question(seed, template)
            if reason:
                self.drop(out, seed, reason, step="mask", **details)
            else:
                out.problems.append(self.problem_record(seed, problem, **details))
        return out

    def backward_question(self, seed: dict, template: str) -> tuple[str | None, dict, str | None]:
        """(problem, intermediate, None) or (None, details, drop reason)."""
        question, answer = seed["problem"].strip(), str(seed.get("answer") or "").strip()
        if not answer:
            return None, {}, "no_answer"  # the template states the answer: without one there is no question
        tokens = number_tokens(question)
        if not tokens:
            return None, {}, "no_number"
        variable = pick_variable(question, seed.get("dataset"))
        if variable is None:
            return None, {}, "variable_clash"
        token = pick_number(tokens, self.cfg.seed, seed["id"], seed.get("draw") or 0)
        if token is None:
            return None, {}, "numbers_used"  # every number of this seed was masked by an earlier draw
        masked = mask(question, token, variable)
        problem = fill(template, question=masked, answer=answer, variable=variable)
        details = dict(masked_question=masked, masked_number=token.text, variable=variable,
                       expected_answer=token.value)
        _, reason = clean_problem(problem)  # "answer to the above question is" is not "answer is": it passes
        return (None, details, reason) if reason else (problem, details, None)
