"""IQC (MMIQC's Iterative Question Composing): from a problem and its solution, compose a new, more
involved question that builds on it; iteration k+1 composes from iteration k's question.

One batched LLM call per iteration over the questions still alive. MMIQC ran several rounds and
filtered each round's questions by rejection sampling with another LLM; FLAMES's number of
iterations is NOT FOUND, so `iterations` defaults to 1 (one composition per seed, the cheapest
reading). Only the seed has a solution: a composed question is not solved until the solve stage,
so later iterations see "Not given." in its place.

The model writes only a follow-up (a condition that uses the question's result, and a new ask);
the code joins it to the question's givens. Asked for a whole new question, SmolLM2-135M wrote an
unrelated textbook puzzle for 15 of 16 real seeds; a continuation keeps the composition tied to
its seed. A model that restates the whole question anyway is taken as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flames.agents.base import Agent, ChunkResult, clean_problem, fill, load_prompt
from flames.agents.self_verification import split_question
from flames.config import AgentConfig

NO_SOLUTION = "Not given."
_CALCULATOR = re.compile(r"<<[^>]*>>")  # GSM8K's calculator annotations
_FINAL = re.compile(r"^####\s*(.*)$", re.MULTILINE)  # GSM8K's final-answer line
_ENDS_SENTENCE = re.compile(r"[.?!$)\]]\s*$")
# The follow-up's last sentence must ask: a question, or an instruction such as "Then find ...". A tiny
# model often goes on solving instead ("So she got 24 + 58 = 82 items."), which clean_problem lets
# through whenever a word like "find" appears somewhere.
_ASK_START = re.compile(r"^(then,?\s+)?(find|compute|determine|calculate|evaluate|express|simplify|show|prove|"
                        r"what|how|which|give)\b", re.IGNORECASE)


@dataclass
class IQCConfig(AgentConfig):
    iterations: int = 1  # composing rounds, each on the previous round's question (MMIQC: several; FLAMES: NOT FOUND)
    max_solution_chars: int = 600  # longer seed solutions are cut in the prompt (MATH ones run to pages)


def prompt_solution(solution: str | None, max_chars: int) -> str:
    """The seed solution as the prompt shows it: one paragraph, GSM8K markup removed, cut to length."""
    if not solution or not solution.strip():
        return NO_SOLUTION
    text = _FINAL.sub(r"So the result is \1.", _CALCULATOR.sub("", solution))
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[:max_chars].rsplit(" ", 1)[0] + " ..."


def example_follow_ups(template: str) -> set[str]:
    """The few-shot examples' own follow-ups: a tiny model often copies one instead of composing."""
    return {s.strip() for s in re.findall(r"^Follow-up question: (.+)$", template, re.MULTILINE)}


def compose(question: str, follow_up: str) -> str:
    """The question's givens, then the follow-up. A word problem's own ask ("How many ...?") is
    replaced by the follow-up's; an imperative one ("Find $x$ ...") stays, as its first part."""
    if _squash(follow_up).startswith(_squash(question)[:20]):
        return follow_up  # the model restated the question with its extension
    body, ask = split_question(question)
    return f"{body if body and ask.endswith('?') else question} {follow_up}"


def asks_something(follow_up: str) -> bool:
    last = split_question(follow_up)[1]
    return last.endswith("?") or _ASK_START.match(last) is not None


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text.lower())


class IQC(Agent):
    name = "iqc"
    Config = IQCConfig
    stop = ("\n",)  # the follow-up is one line

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        if self.cfg.iterations < 1:
            raise ValueError(f"iqc: iterations must be >= 1, got {self.cfg.iterations}")
        out = ChunkResult()
        template = load_prompt(self.name)
        copies = example_follow_ups(template)
        items = [{"seed": s, "question": s["problem"].strip(), "questions": [], "follow_ups": [], "raws": [],
                  "solution": prompt_solution(s.get("solution"), self.cfg.max_solution_chars)} for s in seeds]

        def prompt_of(it):
            return fill(template, problem=it["question"], solution=it["solution"])

        def parse(it, reply):
            follow_up, reason = clean_problem(reply)
            if reason:
                return None, reason
            if _squash(follow_up) in _squash(it["question"]):
                return None, "unchanged"  # nothing added
            if follow_up in copies:
                return None, "copied_example"
            if not _ENDS_SENTENCE.search(follow_up):
                return None, "truncated"  # cut by max_new_tokens mid-sentence
            if not asks_something(follow_up):
                return None, "no_new_question"
            question, reason = clean_problem(compose(it["question"], follow_up))
            return (None, reason) if reason else ({"question": question, "follow_up": follow_up, "raw": reply}, None)

        for k in range(1, self.cfg.iterations + 1):
            kept = self.step_items(f"compose{k}", items, prompt_of, parse, out)
            items = [{**it, "question": new["question"], "questions": it["questions"] + [new["question"]],
                      "follow_ups": it["follow_ups"] + [new["follow_up"]], "raws": it["raws"] + [new["raw"]],
                      "solution": NO_SOLUTION} for it, new in kept]
        for it in items:
            out.problems.append(self.problem_record(it["seed"], it["question"], questions=it["questions"],
                                                    follow_ups=it["follow_ups"], raw=it["raws"][-1]))
        return out
