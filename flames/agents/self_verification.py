"""Self-Verification (MetaMath SV, after Weng et al.): the seed question with one number masked as x,
its question sentence turned into a statement of the answer, then "What is the value of unknown
variable x?". One LLM step.

MetaMath masks a number of the question by rule and has the LLM rewrite only the question sentence
with its answer into a declarative one ("How much did he pay?" + 110 -> "He paid $110."). We do the
same: the model writes one short sentence, the code masks and assembles, so the result keeps every
other sentence of the seed verbatim. The masked number becomes the new answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flames.agents.base import Agent, ChunkResult, clean_problem, fill, keeps_numbers, load_prompt, numbers_in
from flames.agents.masking import mask, maskable_numbers, number_tokens, pick_number, pick_variable, uses_symbol
from flames.config import SEED, AgentConfig, num

# A sentence ends at . ? ! (possibly closing an inline formula, a quote or a bracket) and a space.
_SENTENCE_END = re.compile(r"(?<=[.?!])[$\"')\]]*\s+")
# A trailing format instruction is not the question: keep it with the sentence that asks.
_FORMAT_NOTE = re.compile(r"^(express|enter|give|round|write)\b.*\b(answer|solutions?)\b", re.IGNORECASE)
DECLARE_STOP = ("\n",)  # the model writes one sentence


def split_question(text: str) -> tuple[str, str]:
    """(the sentences before the question, the question sentence(s)); body is "" for one sentence."""
    text = text.strip()
    cuts = [m.end() for m in _SENTENCE_END.finditer(text) if m.end() < len(text)]
    while cuts:
        cut = cuts.pop()
        if not _FORMAT_NOTE.match(text[cut:]):
            return text[:cut].strip(), text[cut:].strip()
    return "", text


def states_answer(statement: str, answer: str) -> bool:
    """The statement gives the answer: as a number (not a digit run inside another), or verbatim."""
    compact = re.sub(r"[\s$,]", "", answer)
    if re.fullmatch(r"-?\d+(\.\d+)?", compact):
        return compact.lstrip("-") in numbers_in(statement)
    return compact in re.sub(r"[\s$,]", "", statement)


def parse_statement(reply: str, question: str, answer: str,
                    variable: str | None = None) -> tuple[str | None, str | None]:
    """The model's declarative sentence, checked: (statement, None) or (None, drop reason)."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    statement = re.sub(r"^statement\s*:\s*", "", lines[0], flags=re.IGNORECASE) if lines else ""
    if not statement:
        return None, "empty"
    if "?" in statement:
        return None, "still_a_question"  # it must state the answer, not ask
    if not states_answer(statement, answer):
        return None, "missing_answer"
    if not keeps_numbers(question, statement):
        return None, "lost_numbers"  # a quantity of the question sentence went missing
    if set(numbers_in(statement)) - set(numbers_in(question)) - set(numbers_in(answer)):
        return None, "extra_numbers"  # a restatement adds no quantity (a tiny model invents some)
    if variable and uses_symbol(question, variable) and not uses_symbol(statement, variable):
        return None, "lost_variable"
    return statement if statement.endswith((".", "!")) else statement + ".", None  # the question follows


@dataclass
class SelfVerificationConfig(AgentConfig):
    seed: int = num(0, SEED)  # draws which number of each seed question is masked (deterministic per seed id)


class SelfVerification(Agent):
    name = "self_verification"
    Config = SelfVerificationConfig
    problems_per_seed = staticmethod(maskable_numbers)  # one distinct problem per number a draw may hide

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        out = ChunkResult()
        template, ask = load_prompt(self.name), load_prompt(f"{self.name}_ask").strip()
        items = [it for it in (self.masked(seed, out) for seed in seeds) if it]

        def prompt_of(it):
            return fill(template, question=it["question"], answer=it["seed"]["answer"])

        def parse(it, reply):
            statement, reason = parse_statement(reply, it["question"], str(it["seed"]["answer"]), it["variable"])
            if reason:
                return None, reason
            problem = fill(ask, statement=f"{it['body']} {statement}".strip(), variable=it["variable"])
            _, reason = clean_problem(problem)
            return (None, reason) if reason else ({"problem": problem, "statement": statement, "raw": reply}, None)

        for it, made in self.step_items("declare", items, prompt_of, parse, out, stop=DECLARE_STOP):
            out.problems.append(self.problem_record(
                it["seed"], made["problem"], masked_question=it["masked_question"], statement=made["statement"],
                masked_number=it["token"].text, variable=it["variable"], expected_answer=it["token"].value,
                raw=made["raw"]))
        return out

    def masked(self, seed: dict, out: ChunkResult) -> dict | None:
        """The seed with one number masked, split into body and question sentence; None if dropped."""
        problem = seed["problem"].strip()
        tokens, variable = number_tokens(problem), pick_variable(problem, seed.get("dataset"))
        token = pick_number(tokens, self.cfg.seed, seed["id"], seed.get("draw") or 0)
        reason = ("no_answer" if not str(seed.get("answer") or "").strip() else "no_number" if not tokens
                  else "variable_clash" if variable is None
                  else "numbers_used" if token is None else None)  # an earlier draw masked each number
        if reason:
            self.drop(out, seed, reason, step="mask")
            return None
        masked = mask(problem, token, variable)
        body, question = split_question(masked)
        return {"seed": seed, "masked_question": masked, "body": body, "question": question,
                "token": token, "variable": variable}
