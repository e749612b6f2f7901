"""One scripted LLM reply for every step of every shipped agent, on the built-in seeds.

`reply(prompt, k, seed)` (a `tests.conftest.ScriptedLLM` reply: prompt text, sample index, the request's
sampling seed) reads what the prompt asks for, its last line (`asked_for`: the label the model must
continue), and the slots of its last paragraph (`slots`: "Question: ...", "Key concepts: ...", the
paragraph the agent filled), and answers as a well-behaved model would, so that each agent's parser
keeps the result and problem QC accepts it:

    agent                  step (label the prompt ends with)        the scripted reply
    paraphrase             rephrase ("Rephrase the above question")  "In other words:" and the seed (numbers kept)
    distraction_insertion  detail ("Irrelevant detail")              one new sentence without a number or question
    few_shot               write ("Write another problem ...")       the seed with every number plus 1
    fobar                  (no LLM call)                             -
    self_verification      declare ("Statement")                     "<question sentence> is <answer>." (its numbers
    ask_me_anything        statement ("Statement")                     and unknown kept, no number added, no "?")
                           ask, paper ("New problem" + "Hidden:")    the statement, the unknown as "some", a question
    iqc                    compose<k>, follow_up ("Follow-up question")  "Then 2 more arrive. How many are there now?"
                           compose<k>, paper ("New problem" + "New solution:")  question + that step, the previous
                                                                     answer + 2 as solution and answer
                           verify<k>, paper ("Solution")             the composer's answer, boxed
    suggester_editor       suggest ("Suggestions")                   one numbered suggestion (one line)
                           edit ("New problem")                      the problem extended by a second day
    key_concepts,          extract / concepts ("Key concepts")       from a seed: its numbers and its first words;
    seeded_key_concepts,                                             from a topic: the topic's names
    taxonomy_key_concepts  problem ("Problem")                       a question that names the concepts (and topic)
    qft                    sample (its instruction line)             a word problem numbered by the request's seed

Both knob sets are answered: agent_scale=quickstart (the sweep's) and paper (the rows marked "paper").
`slots` reads one-line slots: the built-in seeds are one line each (a multi-line MATH seed is not).
Every problem is a function of what the prompt holds (a seed, a concept set, a topic), so distinct
inputs give distinct problems (problem QC drops exact copies). QFT's prompt is the same for every slot:
only the sampling seed tells its requests apart, as it does for a real sampler (`reply(prompt, k)` without
a seed answers as for seed 0). A prompt none of the agents sends is not answered: `reply` raises, the
backend records the call as failed, and a test that expects every agent's problems fails.
"""

from __future__ import annotations

import re

from flames.agents.qft import instructions

# iqc with compose=question (the paper's knobs): composed question -> the answer its composer gave, which
# the verify step (rejection sampling) then reproduces. Only that pair of steps needs a memory.
_COMPOSED: dict[str, str] = {}
IQC_STEP = " Then 2 more arrive. How many are there now?"


def asked_for(prompt: str) -> str:
    """The label the model must continue: the prompt's last line, without its colon."""
    return prompt.rstrip().splitlines()[-1].rstrip(":").strip()


def slots(prompt: str) -> dict[str, str]:
    """The "Label: value" lines of the prompt's last paragraph (the one the agent filled), by label."""
    block = prompt.rstrip().rsplit("\n\n", 1)[-1]
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^([A-Z][A-Za-z -]*): ?(.*)$", block, re.M)}


def numbers(text: str) -> list[str]:
    return re.findall(r"\d+", text)


def concepts_of(s: dict[str, str]) -> str:
    """A one-line concept list: a seed's numbers and first lower-case words, or a topic's names."""
    if "Topic" in s:
        return "; ".join(part.strip().lower() for part in reversed(s["Topic"].split(">")))
    words = list(dict.fromkeys(re.findall(r"\b[a-z]{5,}\b", s["Problem"])))[:2]
    return "; ".join([f"the quantities {' and '.join(numbers(s['Problem'])[:4])}", *words])


def problem_from_concepts(s: dict[str, str]) -> str:
    topic = f" on {s['Topic']}" if "Topic" in s else ""
    return f"Write a story{topic} that uses {s['Key concepts']}. How many items are there in all?"


def qft_problem(seed: int) -> str:
    return (f"Shop number {seed} sells {seed % 50 + 2} pens each day. "
            f"How many pens does it sell in {seed // 50 % 9 + 2} days?")


def reply(prompt: str, k: int, seed: int = 0) -> str:
    """The reply to one request of any shipped agent (see the module docstring for the table)."""
    label, s = asked_for(prompt), slots(prompt)
    if label == "Rephrase the above question":
        return f" In other words: {s['Question']}"
    if label == "Irrelevant detail":
        return " The weather is sunny and warm that day."
    if label == "Write another problem inspired by this one":
        return " " + re.sub(r"\d+", lambda m: str(int(m.group()) + 1), s["Problem"])
    if label == "Statement":  # self_verification's declare, ask_me_anything's statement
        return f" {s['Question'].rstrip('?').rstrip()} is {s['Answer']}."
    if label == "New problem" and "Hidden" in s:  # ask_me_anything's ask (paper)
        variable = s["Hidden"].split(" = ")[0]
        return " " + re.sub(rf"\b{re.escape(variable)}\b", "some", s["Statement"]) + " What is the missing amount?"
    if label == "Follow-up question":  # iqc's compose, follow_up (quickstart)
        return IQC_STEP.lstrip()
    if label == "New problem" and "New solution:" in prompt:  # iqc's compose, question (paper)
        question, answer = s["Problem"] + IQC_STEP, int(numbers(s["Solution"])[-1]) + 2
        _COMPOSED[question] = str(answer)
        return f" {question}\nNew solution: That makes {answer - 2} + 2 = {answer}.\nAnswer: {answer}"
    if label == "Solution":  # iqc's verify (paper)
        return f" Step by step, we get $\\boxed{{{_COMPOSED[s['Problem']]}}}$."
    if label == "Suggestions":
        return " 1. Let the same thing happen on a second day."
    if label == "New problem":  # suggester_editor's edit
        return f" {s['Problem'].rstrip('?.')} on each of two days. What is the total?"
    if label == "Key concepts":
        return " " + concepts_of(s)
    if label == "Problem":
        return " " + problem_from_concepts(s)
    if label in instructions().values():  # qft's sample: the same prompt for every slot
        return qft_problem(seed)
    raise AssertionError(f"a prompt no shipped agent sends: ...{prompt[-300:]!r}")
