"""Distraction insertion (new in FLAMES): add a topic-related but irrelevant detail, answer unchanged."""

from __future__ import annotations

from flames.agents.base import Agent, ChunkResult, clean_problem, load_prompt, numbers_in


class DistractionInsertion(Agent):
    name = "distraction_insertion"

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        template = load_prompt(self.name)
        prompts = [template.format(problem=s["problem"], answer=s.get("answer", "unchanged")) for s in seeds]
        replies = self.step("insert", prompts)
        out = ChunkResult()
        for seed, reply in zip(seeds, replies):
            problem, reason = clean_problem(reply)
            if problem and len(problem) <= len(seed["problem"]):
                problem, reason = None, "nothing_inserted"
            if problem and not set(numbers_in(seed["problem"])) <= set(numbers_in(problem)):
                problem, reason = None, "lost_numbers"  # the original quantities must all survive
            if problem:
                inserted = problem.replace(seed["problem"].strip(), "").strip() if seed["problem"].strip() in problem else None
                out.problems.append(self.problem_record(seed, problem, raw=reply, inserted=inserted))
            else:
                out.drops.append(({"id": f"{self.name}-{seed['id']}", "raw": reply}, reason))
        return out
