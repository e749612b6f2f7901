"""Paraphrase (MetaMath rephrasing): the seed problem in new words, answer unchanged. One LLM step."""

from __future__ import annotations

from flames.agents.base import Agent, ChunkResult, clean_problem, keeps_numbers, load_prompt


class Paraphrase(Agent):
    name = "paraphrase"
    keeps_answer = True  # the seed's problem, reworded or with an irrelevant sentence: same answer

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        template = load_prompt(self.name)
        replies = self.step("rephrase", [template.format(problem=s["problem"]) for s in seeds],
                            keys=[self.request_key(s) for s in seeds])
        out = ChunkResult()
        for seed, reply in zip(seeds, replies):
            problem, reason = clean_problem(reply)
            if problem and problem.strip() == seed["problem"].strip():
                problem, reason = None, "unchanged"
            if problem and not keeps_numbers(seed["problem"], problem):
                problem, reason = None, "lost_numbers"  # a rephrasing must keep every quantity
            if problem:
                out.problems.append(self.problem_record(seed, problem, raw=reply))
            else:
                self.drop(out, seed, reason, raw=reply)
        return out
