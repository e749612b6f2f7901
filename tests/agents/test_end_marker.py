"""A written problem ends at the prompts' end marker, never at a blank line: 768 of MATH train's 7,500 problems
(10.2%) hold one, and a blank-line stop cut them after their first paragraph."""

from __future__ import annotations

import json
import re

import pytest

from flames.agents import agent_class, shipped_agents
from flames.agents.base import END, PROMPT_DIR
from flames.agents.distraction_insertion import insert_before_question
from tests.helpers import make_agent
from tests.scripted_agents import asked_for
from tests.scripted_agents import reply as well_behaved

TWO_PARAGRAPHS = {"id": "m1", "dataset": "math", "answer": "19",
                  "problem": "Let $f(x) = 3x + 2$ for every real number $x$.\n\n"
                             "A student evaluates $f$ at 4 and adds 5 to the result. What number does she get?"}
MORE = "\n\nQuestion: a second problem the model went on to write?"  # what follows the end of a reply
# agents whose model writes the whole problem (the others write one line and keep the seed's text)
WRITERS = ["paraphrase", "few_shot", "suggester_editor", "seeded_key_concepts", "ask_me_anything"]


def seed_in(prompt: str, seeds: list[dict]) -> str | None:
    return next((s["problem"] for s in seeds if s["problem"] in prompt), None)


def writer(seeds: list[dict]):
    """A model that writes a multi-paragraph problem, ends it with END and goes on to another example."""
    def reply(prompt: str, k: int) -> str:
        label, seed = asked_for(prompt), seed_in(prompt, seeds)
        if label == "Rephrase the above question":
            text = f"Restated: {seed}"
        elif label == "Write another problem inspired by this one":
            text = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), seed)
        elif label == "New problem" and "Hidden:" in prompt:  # ask_me_anything's ask: the statement, asked
            statement, variable = re.findall(r"^Statement: (.*?)\nHidden: (\w+) = ", prompt, re.M | re.S)[-1]
            text = re.sub(rf"\b{variable}\b", "some number", statement) + " What is that number?"
        elif label == "New problem":  # suggester_editor's edit (of the seed, or of the last round's problem)
            problem = re.findall(r"^Problem: (.*?)\nSuggestions:", prompt, re.M | re.S)[-1]
            text = f"{problem.rstrip('?.')}, counted twice?"
        elif label == "Problem":  # seeded_key_concepts: a problem of its own, in two paragraphs
            text = "Ann has 3 boxes of 4 pens.\n\nShe gives 2 pens away. How many pens does she have left?"
        elif label == "Key concepts":
            return " counting; sums"
        else:  # a one-line step (suggestions, statements)
            return well_behaved(prompt, k)
        return f" {text} {END}{MORE}"
    return reply


@pytest.mark.parametrize("name", shipped_agents())
def test_no_agent_stops_at_a_blank_line(name):
    assert "\n\n" not in agent_class(name).stop


@pytest.mark.parametrize("name", WRITERS)
def test_a_written_problem_keeps_its_paragraphs_and_ends_at_the_marker(name, scripted):
    knobs = {"ask": "model"} if name == "ask_me_anything" else {}
    agent, llm, _ = make_agent(name, lambda reply: scripted(reply, apply_stops=True), writer([TWO_PARAGRAPHS]),
                               **knobs)
    out = agent.run_chunk([TWO_PARAGRAPHS])
    assert out.problems and not out.drops, out.drops
    for p in out.problems:
        assert "\n\n" in p["problem"] and END not in p["problem"] and "second problem" not in p["problem"]


def test_every_prompt_whose_reply_ends_at_the_marker_shows_it_in_its_examples():
    marked = [p for p in PROMPT_DIR.glob("*.txt") if "then [END]" in p.read_text()]
    assert len(marked) == 8
    for path in marked:
        examples = path.read_text().split("\n\n")[1:-1]
        assert examples and all(block.rstrip().endswith(END) for block in examples), path.name


def test_an_inserted_distraction_keeps_the_paragraphs():
    text = insert_before_question(TWO_PARAGRAPHS["problem"], "Her pen is blue.")
    assert text.count("\n\n") == 1 and text.endswith("Her pen is blue. What number does she get?")


def test_real_math_problems_with_blank_lines_come_through_whole(flames_data, scripted):
    """The first 24 MATH train problems that hold a blank line, rephrased by a model that copies them."""
    rows = (json.loads(line) for line in (flames_data / "seeds" / "math_train.jsonl").open())
    seeds = [dict(r, dataset="math") for r in rows if "\n\n" in r["problem"].strip()][:24]
    agent, _, _ = make_agent("paraphrase", lambda reply: scripted(reply, apply_stops=True), writer(seeds))
    out = agent.run_chunk(seeds)
    assert len(out.problems) + len(out.drops) == 24
    kept = {p["seed_ids"][0]: p["problem"] for p in out.problems}
    assert len(kept) >= 20, [r for _, r in out.drops]
    for s in seeds:
        if s["id"] in kept:
            assert kept[s["id"]] == f"Restated: {s['problem'].strip()}"
