"""Paraphrase (MetaMath rephrasing): the seed problem in new words, answer unchanged. One LLM step."""

from __future__ import annotations

from flames.agents.base import Agent, ChunkResult, clean_problem, load_prompt, numbers_in


class Paraphrase(Agent):
    name = "paraphrase"

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        template = load_prompt(self.name)
        replies = self.step("rephrase", [template.format(problem=s["problem"]) for s in seeds])
        out = ChunkResult()
        for seed, reply in zip(seeds, replies):
            problem, reason = clean_problem(reply)
            if problem and problem.strip() == seed["problem"].strip():
                problem, reason = None, "unchanged"
            if problem and not set(numbers_in(seed["problem"])) <= set(numbers_in(problem)):
                problem, reason = None, "lost_numbers"  # a rephrasing must keep every quantity
            if problem:
                out.problems.append(self.problem_record(seed, problem, raw=reply))
            else:
                out.drops.append(({"id": f"{self.name}-{seed['id']}", "raw": reply}, reason))
        return out
