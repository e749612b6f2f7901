"""Few-Shot (OpenMathInstruct-2 question augmentation): exemplars + a seed -> a new, similar problem.

One LLM step. As in OpenMathInstruct-2, word-problem seeds (GSM8K) and competition seeds (MATH)
get different prompts: prompts/few_shot_gsm8k.txt and prompts/few_shot_math.txt.
"""

from __future__ import annotations

from flames.agents.base import END, Agent, ChunkResult, clean_problem, load_prompt


def prompt_kind(seed: dict) -> str:
    """Which exemplars a seed gets: MATH seeds the competition ones, every other seed the word problems."""
    return "math" if seed.get("dataset") in ("math", "math500") else "gsm8k"


def is_copy(problem: str, template: str) -> bool:
    """A tiny model may repeat a few-shot exemplar instead of writing a problem."""
    return problem.strip() in template


class FewShot(Agent):
    name = "few_shot"
    stop = (END, "\nProblem:", "\nWrite another")

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        templates = {kind: load_prompt(f"{self.name}_{kind}") for kind in ("gsm8k", "math")}
        out = ChunkResult()

        def prompt_of(item: dict) -> str:
            return templates[prompt_kind(item["seed"])].format(problem=item["seed"]["problem"])

        def parse(item: dict, reply: str):
            problem, reason = clean_problem(reply)
            if problem and problem.strip() == item["seed"]["problem"].strip():
                return None, "unchanged"
            if problem and is_copy(problem, templates[prompt_kind(item["seed"])]):
                return None, "copied_example"
            return (problem, reply), reason

        items = [{"seed": s} for s in seeds]
        for item, (problem, raw) in self.step_items("write", items, prompt_of, parse, out):
            out.problems.append(self.problem_record(item["seed"], problem, prompt=prompt_kind(item["seed"]), raw=raw))
        return out
