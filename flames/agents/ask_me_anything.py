"""Ask Me Anything (Orca-Math): the seed problem and its answer become a statement; then each number
of the statement is hidden in turn and asked for, which gives several problems per seed.

Step "statement" is one batched LLM call: as in Self-Verification, the model restates only the
question sentence with its answer ("How much did they earn?" + 673 -> "They earned $673."); the
other sentences of the seed are kept verbatim, so the statement holds every given quantity.
Step "hide" is rule-based, no LLM call: Orca-Math had GPT-4 write all the questions in the same
call as the statement ("1 call, which yields several problems"); a 135M model cannot, and hiding a
number and asking for it needs no model. The number that states the answer is not hidden: asking
for it gives back the seed problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from flames.agents.base import Agent, ChunkResult, clean_problem, fill, load_prompt
from flames.agents.masking import NumberToken, mask, number_tokens, pick_variable
from flames.agents.self_verification import DECLARE_STOP, parse_statement, split_question
from flames.config import AgentConfig


@dataclass
class AskMeAnythingConfig(AgentConfig):
    max_questions: Optional[int] = None  # questions per seed, first numbers first (None: every number, Orca-Math)


def numbers_to_hide(statement: str, answer: str) -> list[NumberToken]:
    """Each distinct number of the statement once (first occurrence), except the answer's."""
    answer_value = re.sub(r"[\s$,]", "", answer)
    seen, hidden = {answer_value}, []
    for token in number_tokens(statement):
        if token.value not in seen:
            seen.add(token.value)
            hidden.append(token)
    return hidden


class AskMeAnything(Agent):
    name = "ask_me_anything"
    Config = AskMeAnythingConfig

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        out = ChunkResult()
        template, ask = load_prompt(self.name), load_prompt(f"{self.name}_ask").strip()
        items = [self.split(s) for s in seeds if self.usable(s, out)]

        def prompt_of(it):
            return fill(template, question=it["question"], answer=it["seed"]["answer"])

        def parse(it, reply):
            sentence, reason = parse_statement(reply, it["question"], str(it["seed"]["answer"]))
            return (None, reason) if reason else ({"sentence": sentence, "raw": reply}, None)

        for it, made in self.step_items("statement", items, prompt_of, parse, out, stop=DECLARE_STOP):
            statement = f"{it['body']} {made['sentence']}".strip()
            self.ask_each_number(it["seed"], statement, ask, made["raw"], out)
        return out

    def usable(self, seed: dict, out: ChunkResult) -> bool:
        """A seed needs an answer (the statement states it) and a number to hide; else a counted drop."""
        reason = ("no_answer" if not str(seed.get("answer") or "").strip()
                  else "no_number" if not number_tokens(seed["problem"]) else None)
        if reason:
            self.drop(out, seed, reason, step="input")
        return reason is None

    @staticmethod
    def split(seed: dict) -> dict:
        body, question = split_question(seed["problem"])
        return {"seed": seed, "body": body, "question": question}

    def ask_each_number(self, seed: dict, statement: str, ask: str, raw: str, out: ChunkResult) -> None:
        """Step "hide": one problem per number of the statement, that number replaced by the unknown."""
        hidden = numbers_to_hide(statement, str(seed["answer"]))[: self.cfg.max_questions]
        variable = pick_variable(statement, seed.get("dataset"))
        if not hidden or variable is None:
            self.drop(out, seed, "no_number" if not hidden else "variable_clash", step="hide", statement=statement)
            return
        for k, token in enumerate(hidden, start=1):
            problem = fill(ask, statement=mask(statement, token, variable), variable=variable)
            _, reason = clean_problem(problem)
            if reason:
                self.drop(out, seed, reason, suffix=f"n{k}", step="hide", statement=statement)
                continue
            out.problems.append(self.problem_record(
                seed, problem, suffix=f"n{k}", statement=statement, hidden_number=token.text, variable=variable,
                expected_answer=token.value, raw=raw))
