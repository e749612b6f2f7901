"""Ask Me Anything (Orca-Math, Mitra et al. 2024, arXiv 2402.14830): the seed problem and its answer
become a statement; then, for each number of the statement, a question whose answer is that number.
Several problems per seed.

Step `statement` (one batched LLM call over the seeds): as in Self-Verification, the model restates
the question sentence with its answer ("How much did they earn?" + 673 -> "They earned $673."); the
other sentences of the seed are kept verbatim, so the statement holds every given quantity.
Step `ask` (`ask: model`, the paper setting; one batched call, ONE REQUEST PER NUMBER of every
statement): the number is hidden behind a variable in the statement, and the model writes a new
problem that gives the other facts and asks for the hidden quantity. Orca-Math had GPT-4 write all
of a statement's questions in one reply; one request per number keeps each question tied to its
number and lets a bad one drop alone. The number that states the seed's answer is not asked for:
its question is the seed problem again.
`ask: template` (the quickstart's, no LLM call): the masked statement and "What is the value of x?",
a stand-in for SmolLM2-135M, which cannot phrase the questions.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from flames.agents.base import END, Agent, ChunkResult, clean_problem, fill, keeps_numbers, load_prompt, numbers_in
from flames.agents.masking import NumberToken, mask, number_tokens, pick_variable
from flames.agents.self_verification import DECLARE_STOP, parse_statement, split_question
from flames.config import COUNT, AgentConfig, num, one_of

ASK = ("model", "template")


@dataclass
class AskMeAnythingConfig(AgentConfig):
    """Defaults are the paper-scale values (experiment=paper); conf/agent/ask_me_anything.yaml sets the quickstart's."""

    ask: str = one_of("model", ASK)  # model: the LLM writes each number's question (Orca-Math) | template: "What is the value of x?"
    max_questions: Optional[int] = num(None, COUNT)  # questions per seed, first numbers first (None: every number, Orca-Math)


def numbers_to_hide(statement: str, answer: str) -> list[NumberToken]:
    """Each distinct number of the statement once (first occurrence), except the answer's."""
    answer_value = re.sub(r"[\s$,]", "", answer)
    seen, hidden = {answer_value}, []
    for token in number_tokens(statement):
        if token.value not in seen:
            seen.add(token.value)
            hidden.append(token)
    return hidden


def parse_question(reply: str, masked: str, value: str) -> tuple[str | None, str | None]:
    """The model's problem for one hidden number: (problem, None) or (None, drop reason)."""
    problem, reason = clean_problem(reply)
    if reason:
        return None, reason
    if Counter(numbers_in(problem))[value] > Counter(numbers_in(masked))[value]:
        return None, "gives_away"  # the hidden number is written into its own question
    if not keeps_numbers(masked, problem):
        return None, "lost_numbers"  # a given of the statement is missing: the question cannot be answered
    return problem, None


class AskMeAnything(Agent):
    name = "ask_me_anything"
    Config = AskMeAnythingConfig
    stop = (END, "\nStatement:", "\nQuestion:")

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        if self.cfg.ask not in ASK:
            raise ValueError(f"ask_me_anything: ask must be one of {ASK}, got {self.cfg.ask!r}")
        out = ChunkResult()
        template = load_prompt(self.name)
        items = [self.split(s) for s in seeds if self.usable(s, out)]

        def prompt_of(it):
            return fill(template, question=it["question"], answer=it["seed"]["answer"])

        def parse(it, reply):
            sentence, reason = parse_statement(reply, it["question"], str(it["seed"]["answer"]))
            return (None, reason) if reason else ({"sentence": sentence, "raw": reply}, None)

        asks = []  # one per (seed, number)
        for it, made in self.step_items("statement", items, prompt_of, parse, out, stop=DECLARE_STOP):
            asks += self.numbers_of(it["seed"], f"{it['body']} {made['sentence']}".strip(), made["raw"], out)
        if self.cfg.ask == "template":
            self.ask_by_template(asks, out)
        else:
            self.ask_model(asks, out)
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

    def numbers_of(self, seed: dict, statement: str, raw: str, out: ChunkResult) -> list[dict]:
        """One pending question per number of the statement, that number hidden behind the variable."""
        hidden = numbers_to_hide(statement, str(seed["answer"]))[: self.cfg.max_questions]
        variable = pick_variable(statement, seed.get("dataset"))
        if not hidden or variable is None:
            self.drop(out, seed, "no_number" if not hidden else "variable_clash", step="hide", statement=statement)
            return []
        return [{"seed": seed, "suffix": f"n{k}", "statement": statement, "token": token, "variable": variable,
                 "masked": mask(statement, token, variable), "raw": raw} for k, token in enumerate(hidden, start=1)]

    def record(self, it: dict, problem: str, **more) -> dict:
        return self.problem_record(it["seed"], problem, suffix=it["suffix"], statement=it["statement"],
                                   hidden_number=it["token"].text, variable=it["variable"],
                                   expected_answer=it["token"].value, **more)

    def ask_model(self, asks: list[dict], out: ChunkResult) -> None:
        """Step `ask`: one request per number; the model writes the question whose answer is that number."""
        template = load_prompt(f"{self.name}_question")
        if not asks:
            return
        replies = self.step("ask", [fill(template, statement=it["masked"], variable=it["variable"],
                                         value=it["token"].text) for it in asks],
                            keys=[f"{self.request_key(it['seed'])}-{it['suffix']}" for it in asks])
        for it, reply in zip(asks, replies):
            problem, reason = parse_question(reply, it["masked"], it["token"].value)
            if reason:
                self.drop(out, it["seed"], reason, suffix=it["suffix"], step="ask", masked=it["masked"], raw=reply)
            else:
                out.problems.append(self.record(it, problem, masked_statement=it["masked"],
                                                statement_raw=it["raw"], raw=reply))

    def ask_by_template(self, asks: list[dict], out: ChunkResult) -> None:
        """No LLM call: the masked statement and a fixed question for the variable (the quickstart)."""
        ask = load_prompt(f"{self.name}_ask").strip()
        for it in asks:
            problem = fill(ask, statement=it["masked"], variable=it["variable"])
            _, reason = clean_problem(problem)
            if reason:
                self.drop(out, it["seed"], reason, suffix=it["suffix"], step="hide", statement=it["statement"])
            else:
                out.problems.append(self.record(it, problem, raw=it["raw"]))
