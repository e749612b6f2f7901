"""The paper-scale structure (experiment=paper's knobs, the Config defaults) of IQC, Ask Me Anything,
Suggester-Editor and Key Concepts on a scripted LLM; and both knob sets through the synthesize stage."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from flames.agents import agent_class
from flames.agents.concept_pool import ConceptPool, concept_key
from flames.agents.suggester_editor import LIST_STOP
from flames.jsonl import read_jsonl
from flames.pipeline import Pipeline
from tests.helpers import compose_config, last_slot, make_agent, shipped_knobs

SEEDS = [
    {"id": "s1", "dataset": "gsm8k", "problem": "Tom has 3 apples and buys 4 more. How many apples does he have?",
     "answer": "7", "solution": "Tom has 3+4=<<3+4=7>>7 apples.\n#### 7"},
    {"id": "s2", "dataset": "math", "problem": "Find $x$ if $2x + 5 = 11$.", "answer": "3",
     "solution": "Subtract 5: $2x = 6$, so $x = \\boxed{3}$."},
]
UNFILLED = re.compile(r"\{(problem|solution|question|answer|statement|variable|value|concepts|style|suggestions)\}")


def steps(calls):
    return [(c["step"], c["requests"]) for c in calls]


def drops(out):
    return sorted((d["step"], d["id"], reason) for d, reason in out.drops)


def asked_for(prompt: str) -> str:
    return prompt.rstrip().splitlines()[-1].rstrip(":")


def test_the_paper_knobs_are_the_config_defaults():
    """experiment=paper's agent_scale gives each agent its Config's defaults; the quickstart sets each one itself."""
    for name in ("iqc", "ask_me_anything", "suggester_editor", "key_concepts"):
        paper, quick = shipped_knobs(name, "paper"), shipped_knobs(name)
        defaults = agent_class(name).Config(name=name)
        changed = {k for k in paper if paper[k] != quick[k]} - {"num_problems", "chunk_size", "max_new_tokens"}
        assert changed and all(paper[k] == getattr(defaults, k) for k in changed), name


# -- iqc: iterations on the previous question, each with MMIQC's rejection-sampling filter ---------------
ADD = " Then add 1 to the result. What is the new result?"


def base_answer(question: str) -> int:
    return 7 if question.startswith("Tom") else 3


def iqc_script(wrong=lambda question, sample: False):
    """Compose: the previous question plus one step (answer + 1); verify: the right answer unless `wrong`."""
    seen = Counter()

    def reply(prompt, k):
        if asked_for(prompt) == "New problem":
            question, solution = last_slot(prompt, "Problem"), last_slot(prompt, "Solution")
            previous = int(re.findall(r"\d+", solution)[-1])
            return (f" {question}{ADD}\nNew solution: The result was {previous}, and {previous} + 1 = {previous + 1}."
                    f"\nAnswer: {previous + 1}")
        question = last_slot(prompt, "Problem")
        seen[question] += 1
        right = base_answer(question) + question.count(ADD.strip())
        return f"Step by step. The answer is \\boxed{{{right + 10 if wrong(question, seen[question]) else right}}}."
    return reply


def test_iqc_iterations_compose_from_the_previous_question_and_filter_each(scripted):
    def wrong(question, sample):  # the MATH chain fails verification at iteration 2; Tom's passes on the 3rd try
        return (question.startswith("Find") and question.count("Then add") == 2) or \
            (question.startswith("Tom") and question.count("Then add") == 1 and sample < 3)

    agent, llm, calls = make_agent("iqc", scripted, iqc_script(wrong))  # the Config defaults = the paper's
    out = agent.run_chunk(SEEDS)
    assert steps(calls) == [(f"{s}{k}", n) for k in (1, 2, 3, 4) for s, n in (("compose", 2), ("verify", 6))]
    composes = [p for p, c in zip(llm.calls, calls) if c["step"].startswith("compose")]
    assert [last_slot(p, "Problem") for p in composes[0]] == [s["problem"] for s in SEEDS]
    for k in (1, 2, 3):  # iteration k+1 composes from iteration k's question and solution, never the seed
        for i, seed in enumerate(SEEDS):
            previous = [p for p in out.problems if p["id"] == f"iqc-{seed['id']}-i{k}"]
            prompt = composes[k][i]
            assert last_slot(prompt, "Problem") == seed["problem"] + ADD * k != seed["problem"]
            assert last_slot(prompt, "Solution").endswith(f"= {base_answer(seed['problem']) + k}.")
            assert not previous or previous[0]["problem"] == last_slot(prompt, "Problem")
    verifies = [p for p, c in zip(llm.calls, calls) if c["step"].startswith("verify")]
    assert verifies[1][:3] == [verifies[1][0]] * 3 and "Solve the following" in verifies[1][0]  # m = 3 samples each
    assert all(s.stop == ("\nProblem:",) for s, c in zip(llm.samplings, calls) if c["step"].startswith("verify"))
    assert drops(out) == [("verify2", "iqc-s2-i2", "unverified")]  # counted, with its iteration in the id
    ids = [p["id"] for p in out.problems]
    assert len(ids) == len(set(ids)) == 7 and "iqc-s2-i3" in ids  # the chain goes on from the unverified question
    tom1 = next(p for p in out.problems if p["id"] == "iqc-s1-i1")
    assert tom1["intermediate"]["answer"] == "8" and tom1["intermediate"]["verified"]["agree"] == 1
    assert tom1["intermediate"]["previous"] == SEEDS[0]["problem"] and tom1["seed_ids"] == ["s1"]
    assert not UNFILLED.search("".join(p for call in llm.calls for p in call))


def test_iqc_compose_drops_without_an_answer_and_stops_that_chain(scripted):
    def reply(prompt, k):
        if asked_for(prompt) == "New problem":
            if last_slot(prompt, "Problem").startswith("Find"):
                return " Find $y = x^2$ if $2x + 5 = 11$. What is $y$?\nNew solution: $x = 3$ so $y = 9$."  # no answer
            return iqc_script()(prompt, k)
        return iqc_script()(prompt, k)

    agent, _, calls = make_agent("iqc", scripted, reply, iterations=2)
    out = agent.run_chunk(SEEDS)
    assert steps(calls) == [("compose1", 2), ("verify1", 3), ("compose2", 1), ("verify2", 3)]
    assert drops(out) == [("compose1", "iqc-s2", "no_answer")]
    assert [p["id"] for p in out.problems] == ["iqc-s1-i1", "iqc-s1-i2"]


def test_iqc_filter_needs_the_composers_answer(scripted):
    agent, _, _ = make_agent("iqc", scripted, iqc_script(), compose="follow_up", filter=True)
    with pytest.raises(ValueError, match="filter needs compose=question"):
        agent.run_chunk(SEEDS)


# -- ask_me_anything: a statement, then one LLM-written question per number -------------------------------
STATEMENTS = {"How many apples does he have?": "He has 7 apples.",
              "Find $x$ if $2x + 5 = 11$.": "If $2x + 5 = 11$, then $x$ is 3."}
QUESTIONS = {  # (masked statement, hidden number) -> the model's question
    ("Tom has x apples and buys 4 more. He has 7 apples.", "3"):
        "Tom has some apples and buys 4 more. Now he has 7 apples. How many apples did he have at first?",
    ("Tom has 3 apples and buys x more. He has 7 apples.", "4"):
        "Tom has 3 apples and buys 4 more. How many more apples does he buy?",  # writes the hidden 4
    ("If $2x + X = 11$, then $x$ is 3.", "5"): "If $2x + c = 11$ and $x = 3$, what is $c$?",
    ("If $2x + 5 = X$, then $x$ is 3.", "11"): "If $x = 3$, what is the value of $2x + 5$?",
}


def ama_reply(prompt, k):
    if asked_for(prompt) == "Statement":
        return STATEMENTS[last_slot(prompt, "Question")]
    return QUESTIONS[(last_slot(prompt, "Statement"), last_slot(prompt, "Hidden").split(" = ")[1])]


def test_ask_me_anything_one_model_request_per_number_of_the_statement(scripted):
    agent, llm, calls = make_agent("ask_me_anything", scripted, ama_reply)  # ask: model (the paper's)
    out = agent.run_chunk(SEEDS)
    assert steps(calls) == [("statement", 2), ("ask", 4)]  # 2 numbers each; the answer's number is not asked for
    asks = llm.calls[1]
    assert [(last_slot(p, "Statement"), last_slot(p, "Hidden")) for p in asks] == [
        ("Tom has x apples and buys 4 more. He has 7 apples.", "x = 3"),
        ("Tom has 3 apples and buys x more. He has 7 apples.", "x = 4"),
        ("If $2x + X = 11$, then $x$ is 3.", "X = 5"), ("If $2x + 5 = X$, then $x$ is 3.", "X = 11")]
    assert all(p.rstrip().endswith("New problem:") for p in asks) and not UNFILLED.search("".join(asks))
    by_id = {p["id"]: p for p in out.problems}
    assert sorted(by_id) == ["ask_me_anything-s1-n1", "ask_me_anything-s2-n1", "ask_me_anything-s2-n2"]
    assert drops(out) == [("ask", "ask_me_anything-s1-n2", "gives_away")]  # it wrote the hidden number
    first = by_id["ask_me_anything-s1-n1"]
    assert first["problem"] == QUESTIONS[("Tom has x apples and buys 4 more. He has 7 apples.", "3")]
    assert first["intermediate"]["expected_answer"] == "3" and first["seed_ids"] == ["s1"]
    assert first["intermediate"]["statement"] == "Tom has 3 apples and buys 4 more. He has 7 apples."
    assert by_id["ask_me_anything-s2-n2"]["intermediate"]["expected_answer"] == "11"


def test_ask_me_anything_drops_questions_that_lose_a_given_or_solve(scripted):
    replies = iter(["Tom buys some apples. How many did he have?", "Tom has 3 apples. So the answer is 4."])

    def reply(prompt, k):
        return STATEMENTS[last_slot(prompt, "Question")] if asked_for(prompt) == "Statement" else next(replies)

    agent, _, calls = make_agent("ask_me_anything", scripted, reply)
    out = agent.run_chunk(SEEDS[:1])
    assert steps(calls) == [("statement", 1), ("ask", 2)] and out.problems == []
    assert drops(out) == [("ask", "ask_me_anything-s1-n1", "lost_numbers"),
                          ("ask", "ask_me_anything-s1-n2", "solved_instead")]


# -- suggester_editor: several suggestions, multi-line, reach the editor -------------------------------------
SUGGESTIONS = ["1. Say that 2 of the apples are rotten.", "2. Ask for their cost at 3 dollars each.",
               "3. Let him buy on two days."]


def se_reply(prompt, k):
    if asked_for(prompt) == "Suggestions":
        return " " + "\n".join(SUGGESTIONS)
    return f" {last_slot(prompt, 'Problem').rstrip('?.')} and then twice as many. What is the result?"


def test_suggester_editor_multi_line_suggestions_reach_the_editor(scripted):
    agent, llm, calls = make_agent("suggester_editor", scripted, se_reply)  # the paper's knobs
    out = agent.run_chunk(SEEDS[:1])
    assert steps(calls) == [("suggest", 1), ("edit", 1), ("suggest", 1), ("edit", 1)]
    suggest = llm.samplings[0]
    assert suggest.stop == LIST_STOP and suggest.max_new_tokens == agent.sampling.max_new_tokens  # full budget
    edit_prompt = llm.calls[1][0]
    assert "Suggestions: " + "\n".join(SUGGESTIONS) + "\nNew problem:" in edit_prompt  # every line, in order
    assert [r["suggestions"] for r in out.problems[0]["intermediate"]["rounds"]] == [SUGGESTIONS] * 2


def test_suggester_editor_quickstart_keeps_one_line_within_48_tokens(scripted):
    agent, llm, calls = make_agent("suggester_editor", scripted, se_reply, **shipped_knobs("suggester_editor"))
    out = agent.run_chunk(SEEDS[:1])
    assert llm.samplings[0].stop == ("\n",) and llm.samplings[0].max_new_tokens == 48
    assert last_slot(llm.calls[1][0], "Suggestions") == SUGGESTIONS[0] and SUGGESTIONS[1] not in llm.calls[1][0]
    assert out.problems[0]["intermediate"]["rounds"][0]["suggestions"] == SUGGESTIONS[:1]


# -- key_concepts: a pool over the seeds, concept sets sampled from it -----------------------------------------
POOL_SEEDS = [{"id": f"g{i}", "dataset": "gsm8k", "problem": f"Word problem number {i}. How many?", "answer": "1"}
              for i in range(4)]
CONCEPTS = {0: "addition; unit price", 1: "unit price; percent", 2: "percent; ratios", 3: "ratios; fractions"}


def kc_reply(prompt, k):
    if asked_for(prompt) == "Key concepts":
        return " " + CONCEPTS[int(re.search(r"number (\d)", last_slot(prompt, "Problem")).group(1))]
    return f" A problem on {last_slot(prompt, 'Key concepts')}: how much is left?"


def test_key_concepts_sets_are_sampled_from_the_pool_reproducibly(scripted, tmp_path):
    agent, llm, calls = make_agent("key_concepts", scripted, kc_reply, num_problems=5)
    inputs = agent.prepare(POOL_SEEDS, tmp_path / "a")
    assert steps(calls) == [("extract", 4)] and llm.samplings[0].max_new_tokens == agent.sampling.max_new_tokens
    pool = {concept_key(c) for v in CONCEPTS.values() for c in v.split("; ")}
    sets = [tuple(i["concepts"]) for i in inputs]
    assert len(sets) == 20 and all(len(set(s)) == 3 and set(s) <= pool for s in sets)  # concepts_per_problem = 3
    assert len(set(sets)) > 1  # different across problems
    assert any(len(i["seed_ids"]) >= 2 for i in inputs)  # a set mixes the concepts of several seeds
    again, llm2, _ = make_agent("key_concepts", scripted, kc_reply, num_problems=5)
    assert again.prepare(POOL_SEEDS, tmp_path / "b") == inputs  # the same pool and seed: the same sets
    other, _, _ = make_agent("key_concepts", scripted, kc_reply, num_problems=5, seed=1)
    assert [i["concepts"] for i in other.prepare(POOL_SEEDS, tmp_path / "c")] != [i["concepts"] for i in inputs]
    cached, llm3, calls3 = make_agent("key_concepts", scripted, kc_reply, num_problems=5)
    assert cached.prepare(POOL_SEEDS, tmp_path / "a") == inputs and calls3 == []  # a resumed run reads the pool
    out = agent.run_chunk(inputs[:3])
    assert steps(calls) == [("extract", 4), ("problem", 3)]
    assert [last_slot(p, "Key concepts") for p in llm.calls[1]] == ["; ".join(s) for s in sets[:3]]
    assert len({p["id"] for p in out.problems}) == 3 and out.problems[0]["seed_ids"] == inputs[0]["seed_ids"]


def test_concept_pool_walks_along_co_occurrence():
    pool = ConceptPool.build([(f"g{i}", v.split("; ")) for i, v in CONCEPTS.items()])
    together = {frozenset(map(concept_key, v.split("; "))) for v in CONCEPTS.values()}
    rng = random.Random(0)
    for _ in range(50):
        concepts, seed_ids = pool.sample(3, rng)
        keys = [concept_key(c) for c in concepts]
        assert len(set(keys)) == 3  # each concept co-occurs in a seed with one drawn before it (a connected walk)
        assert all(any(frozenset((a, b)) in together for a in keys[:i]) for i, b in enumerate(keys) if i)
        assert set(seed_ids) <= {"g0", "g1", "g2", "g3"}
    assert len(pool.sample(9, random.Random(0))[0]) == 5  # no more than the pool holds


# -- both knob sets through the synthesize stage, on one scripted double ----------------------------------------
def any_agent_reply():
    """Answers every prompt of the four agents (quickstart and paper knobs) for the built-in seeds."""
    composed = {}  # iqc: question -> the composer's answer, which verify then gives back

    def reply(prompt, k):
        label = asked_for(prompt)
        if label == "Follow-up question":
            return "Then 2 more arrive. How many are there now?"
        if label == "New problem" and "New solution:" in prompt:  # iqc compose (paper)
            question, solution = last_slot(prompt, "Problem"), last_slot(prompt, "Solution")
            new, answer = f"{question} Then 2 more arrive. How many now?", int(re.findall(r"-?\d+", solution)[-1]) + 2
            composed[new] = answer
            return f" {new}\nNew solution: So {answer}.\nAnswer: {answer}"
        if label == "Solution":  # iqc verify
            return f"\\boxed{{{composed[last_slot(prompt, 'Problem')]}}}"
        if label == "Statement":
            return f"{last_slot(prompt, 'Question').rstrip('?')} is {last_slot(prompt, 'Answer')}."
        if label == "New problem" and "Hidden:" in prompt:  # ama ask (paper)
            statement, variable = last_slot(prompt, "Statement"), last_slot(prompt, "Hidden").split(" = ")[0]
            return re.sub(rf"\b{variable}\b", "some", statement) + " What is the missing amount?"
        if label == "Suggestions":
            return " 1. Add a second day.\n2. Add a price."
        if label == "New problem":  # suggester_editor edit
            return f" {last_slot(prompt, 'Problem').rstrip('?.')} on each of two days. What is the total?"
        if label == "Key concepts":
            return " " + "; ".join(re.findall(r"[a-z]{5,}", last_slot(prompt, "Problem"))[:3])
        if label == "Problem":  # key_concepts problem
            return f" A shop problem about {last_slot(prompt, 'Key concepts')}. How many are left?"
        raise AssertionError(f"unexpected prompt: {prompt[-200:]}")
    return reply


STEPS = {("iqc", "quickstart"): {"compose1"}, ("iqc", "paper"): {"compose1", "verify1", "compose2", "verify2",
                                                                  "compose3", "verify3", "compose4", "verify4"},
         ("ask_me_anything", "quickstart"): {"statement"}, ("ask_me_anything", "paper"): {"statement", "ask"},
         ("suggester_editor", "quickstart"): {"suggest", "edit"}, ("suggester_editor", "paper"): {"suggest", "edit"},
         ("key_concepts", "quickstart"): {"extract", "problem"}, ("key_concepts", "paper"): {"extract", "problem"}}


@pytest.mark.parametrize("scale", ["quickstart", "paper"])
@pytest.mark.parametrize("agent", ["iqc", "ask_me_anything", "suggester_editor", "key_concepts"])
def test_each_knob_set_yields_problems_through_synthesize(agent, scale, scripted_backend):
    scripted_backend(any_agent_reply())
    cfg = compose_config(["logger=none", "stage=synthesize", f"agent={agent}", f"agent_scale={scale}",
                          "agent.num_problems=4", "agent.chunk_size=4"])
    (result,) = Pipeline(cfg).run().results
    rows = list(read_jsonl(result.artifact.data))
    assert result.manifest["metrics"]["accepted"] == 4, result.manifest
    assert len({r["id"] for r in rows}) == len(rows) and all(r["agent"] == agent for r in rows)
    assert set(result.manifest["llm_calls_by_step"]) == STEPS[(agent, scale)]
