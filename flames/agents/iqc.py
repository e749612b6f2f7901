"""IQC (MMIQC's Iterative Question Composing, Liu et al. 2024, arXiv 2401.09003, Algorithm 1).

MMIQC: S_0 = the seeds (question, solution). Iteration k = 1..K: for every (q, a) in S_{k-1} the
composing model writes a new question q' that contains q as a sub-problem or intermediate step,
with a brief solution and answer a' (S_k); then a rejection-sampling model answers q' m times and
every answer equivalent to a' is kept (R_k). The output is D_1, ..., D_K: every iteration's
questions, not only the last. K = 4 and m = 3 in MMIQC (GPT-4 composing, GPT-3.5 sampling).

Here, per chunk (each step one batched call over every item still alive):
- step `compose<k>`: iteration k's prompt shows iteration k-1's question and its solution (the
  seed's at k=1, after that the composer's own), never the seed once k > 1. `compose: question`
  is MMIQC's step: the model writes the new problem, a brief solution and the answer.
  `compose: follow_up` (the quickstart) asks SmolLM2-135M only for a one-line follow-up (a
  condition that uses the question's result and a new ask) that the code joins to the question's
  givens: asked for a whole new question it wrote an unrelated puzzle for 15 of 16 real seeds.
  A follow-up has no answer and no solution (the next iteration sees "Not given.").
- step `verify<k>` (`filter: true`, needs `compose: question`): MMIQC's rejection sampling. The
  problem model (MMIQC: a second, weaker model; the agent has only the problem model) answers
  each composed question `filter_samples` times (m); a question is kept when at least one answer
  is equivalent to the composer's (flames.grading), else dropped as `unverified`. Deviation: MMIQC
  keeps the composer's own pair in D_k even when R_k is empty; FLAMES writes its solutions with a
  separate solver and keeps them unchecked (QC "first"), so rejection sampling can only act on
  which questions survive. As in MMIQC, iteration k+1 composes from every question of iteration k
  (S_k), verified or not; only the verified ones become problems.
Problems: every iteration's kept question, id suffix `i<k>` (several problems per seed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from flames.agents.base import Agent, ChunkResult, clean_problem, fill, first_labelled, load_prompt
from flames.agents.self_verification import split_question
from flames.config import COUNT, AgentConfig, num, one_of
from flames.grading import clean_answer, extract_answer, grade_batch
from flames.grading.extract import last_boxed

NO_SOLUTION = "Not given."
COMPOSE = ("question", "follow_up")
_CALCULATOR = re.compile(r"<<[^>]*>>")  # GSM8K's calculator annotations
_FINAL = re.compile(r"^####\s*(.*)$", re.MULTILINE)  # GSM8K's final-answer line
_ENDS_SENTENCE = re.compile(r"[.?!$)\]]\s*$")
# The follow-up's last sentence must ask: a question, or an instruction such as "Then find ...". A tiny
# model often goes on solving instead ("So she got 24 + 58 = 82 items."), which clean_problem lets
# through whenever a word like "find" appears somewhere.
_ASK_START = re.compile(r"^(then,?\s+)?(find|compute|determine|calculate|evaluate|express|simplify|show|prove|"
                        r"what|how|which|give)\b", re.IGNORECASE)
# The composer's reply: "New problem: ...", "New solution: ...", "Answer: ..." (labels in that order).
_SOLUTION_LABEL = re.compile(r"^\s*(\*\*)?\s*(new\s+)?solution\s*:\s*(\*\*)?", re.IGNORECASE | re.MULTILINE)
_ANSWER_LABEL = re.compile(r"^\s*(\*\*)?\s*(final\s+)?answer\s*:\s*(\*\*)?", re.IGNORECASE | re.MULTILINE)


@dataclass
class IQCConfig(AgentConfig):
    """Defaults are the paper-scale values (experiment=paper); conf/agent/iqc.yaml sets the quickstart's."""

    iterations: int = num(4, COUNT)  # composing rounds K, each on the previous round's question (MMIQC: 4; FLAMES: NOT FOUND)
    compose: str = one_of("question", COMPOSE)  # question: new problem + solution + answer (MMIQC) | follow_up: one line, joined by code
    filter: bool = True  # MMIQC's rejection sampling: keep a question only if an answer matches the composer's
    filter_samples: int = num(3, COUNT)  # answers sampled per composed question (MMIQC: m = 3)
    max_solution_chars: Optional[int] = num(None, COUNT)  # cut longer solutions in the prompt; None = whole (MMIQC)


def prompt_solution(solution: str | None, max_chars: int | None) -> str:
    """A solution as the prompt shows it: one paragraph, GSM8K markup removed, cut to length."""
    if not solution or not solution.strip():
        return NO_SOLUTION
    text = _FINAL.sub(r"So the result is \1.", _CALCULATOR.sub("", solution))
    text = " ".join(text.split())
    return text if max_chars is None or len(text) <= max_chars else text[:max_chars].rsplit(" ", 1)[0] + " ..."


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


def parse_composed(reply: str) -> tuple[dict | None, str | None]:
    """The composer's new problem, solution and answer: (fields, None) or (None, drop reason)."""
    text = first_labelled(reply, ["New problem"]) or reply  # a chat model may repeat the label
    sol, ans = _SOLUTION_LABEL.search(text), _ANSWER_LABEL.search(text)
    cuts = [m.start() for m in (sol, ans) if m]
    problem, reason = clean_problem(text[:min(cuts)] if cuts else text)
    if reason:
        return None, reason
    solution = text[sol.end():ans.start() if ans and ans.start() > sol.end() else len(text)].strip() if sol else ""
    line = text[ans.end():].strip().splitlines()[0] if ans and text[ans.end():].strip() else ""
    answer = (last_boxed(line) or clean_answer(line)) if line else (last_boxed(solution) or "")
    if not answer.strip():
        return None, "no_answer"  # rejection sampling needs it
    return {"question": problem, "solution": solution or NO_SOLUTION, "answer": answer.strip()}, None


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text.lower())


class IQC(Agent):
    name = "iqc"
    Config = IQCConfig
    stop = ("\nProblem:", "\nQuestion:")  # compose: question writes several paragraphs (problem, solution, answer)

    def run_chunk(self, seeds: list[dict]) -> ChunkResult:
        cfg = self.cfg
        if cfg.iterations < 1 or cfg.compose not in COMPOSE or cfg.filter_samples < 1:
            raise ValueError(f"iqc: needs iterations >= 1, compose in {COMPOSE}, filter_samples >= 1; got "
                             f"{cfg.iterations}, {cfg.compose!r}, {cfg.filter_samples}")
        if cfg.filter and cfg.compose != "question":
            raise ValueError("iqc: filter needs compose=question (rejection sampling checks the composer's answer)")
        out = ChunkResult()
        items = [{"seed": s, "question": s["problem"].strip(), "chain": [],
                  "solution": prompt_solution(s.get("solution"), cfg.max_solution_chars)} for s in seeds]
        for k in range(1, cfg.iterations + 1):
            composed = self.compose_step(k, items, out)
            kept = self.verify_step(k, composed, out) if cfg.filter else composed
            out.problems += [self.record(k, it) for it in kept]
            items = composed  # MMIQC: the next iteration composes from S_k, verified or not
        return out

    def record(self, k: int, it: dict) -> dict:
        """Iteration k's question as a problem, with the question it was composed from."""
        previous = it["chain"][-2] if k > 1 else it["seed"]["problem"]
        kept = {f: it[f] for f in ("follow_up", "answer", "solution", "verified", "raw") if f in it}
        return self.problem_record(it["seed"], it["question"], suffix=f"i{k}", iteration=k, previous=previous, **kept)

    def compose_step(self, k: int, items: list[dict], out: ChunkResult) -> list[dict]:
        """Step `compose<k>`: a new question from each item's current question (and its solution)."""
        if self.cfg.compose == "follow_up":
            template = load_prompt(self.name)
            copies = example_follow_ups(template)

            def parse(it, reply):
                return self.parse_follow_up(it, reply, copies)
            stop = ("\n",)  # the follow-up is one line
        else:
            template, parse, stop = load_prompt(f"{self.name}_compose"), self.parse_question, None

        def prompt_of(it):
            return fill(template, problem=it["question"], solution=it["solution"])

        return [{**it, **new, "chain": it["chain"] + [new["question"]]}
                for it, new in self.step_items(f"compose{k}", items, prompt_of, parse, out, stop=stop)]

    def parse_follow_up(self, it: dict, reply: str, copies: set[str]):
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
        if reason:
            return None, reason
        return {"question": question, "follow_up": follow_up, "solution": NO_SOLUTION, "raw": reply}, None

    def parse_question(self, it: dict, reply: str):
        new, reason = parse_composed(reply)
        if reason:
            return None, reason
        if _squash(new["question"]) == _squash(it["question"]):
            return None, "unchanged"
        solution = prompt_solution(new["solution"], self.cfg.max_solution_chars)
        return {**new, "solution": solution, "raw": reply}, None

    def verify_step(self, k: int, items: list[dict], out: ChunkResult) -> list[dict]:
        """Step `verify<k>`: `filter_samples` answers per question in one batched call; keep a question
        if one of them is equivalent to the composer's answer (MMIQC's rejection sampling)."""
        if not items:
            return []
        m = self.cfg.filter_samples
        template = load_prompt(f"{self.name}_verify")
        prompts = [fill(template, problem=it["question"]) for it in items for _ in range(m)]
        keys = [f"{self.request_key(it['seed'])}-i{k}" for it in items for _ in range(m)]  # samples: numbered
        replies = self.step(f"verify{k}", prompts, stop=("\nProblem:",), keys=keys)
        answers = [extract_answer(r) for r in replies]
        verdicts = grade_batch(answers, [it["answer"] for it in items for _ in range(m)])
        kept = []
        for i, it in enumerate(items):
            sampled = answers[i * m:(i + 1) * m]
            agree = sum(v.equivalent for v in verdicts[i * m:(i + 1) * m])
            refused = next((r.error for r in replies[i * m:(i + 1) * m] if r.error), None)  # prompt_too_long
            if refused:
                self.drop(out, it["seed"], refused, suffix=f"i{k}", step=f"verify{k}", question=it["question"])
            elif agree:
                kept.append({**it, "verified": {"samples": m, "agree": agree, "answers": sampled}})
            else:
                self.drop(out, it["seed"], "unverified", suffix=f"i{k}", step=f"verify{k}", question=it["question"],
                          answer=it["answer"], sampled=sampled)
        return kept
