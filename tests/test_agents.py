"""Agents driven by a scripted LLM: call sequence, prompt filling, parsing, provenance."""

import pytest

from flames.agents import build_agent
from flames.llm import Sampling
from tests.conftest import problem_from_prompt
from tests.helpers import make_agent

SEEDS = [
    {"id": "s1", "dataset": "gsm8k", "problem": "Tom has 3 apples and buys 4 more. How many apples does he have?",
     "answer": "7"},
    {"id": "s2", "dataset": "math", "problem": "Find $x$ if $2x + 5 = 11$.", "answer": "3"},
]


def test_paraphrase_one_batched_call_with_filled_prompt(scripted):
    agent, llm, calls = make_agent("paraphrase", scripted,
                             lambda p, k: "Rephrased problem: " + problem_from_prompt(p).replace("has", "owns"))
    out = agent.run_chunk(SEEDS)
    assert len(llm.calls) == 1 and len(llm.calls[0]) == 2  # one call for the whole chunk
    assert SEEDS[1]["problem"] in llm.calls[0][1] and "{problem}" not in llm.calls[0][0]
    assert [p["problem"] for p in out.problems][0] == SEEDS[0]["problem"].replace("has", "owns")
    first = out.problems[0]
    assert first["id"] == "paraphrase-s1" and first["agent"] == "paraphrase" and first["seed_ids"] == ["s1"]
    assert first["seed_dataset"] == "gsm8k" and "raw" in first["intermediate"]
    assert calls[0]["step"] == "rephrase" and calls[0]["requests"] == 2


def test_paraphrase_drops_malformed_replies_with_reasons(scripted):
    replies = iter(["", "Tom has 3 apples. The answer is 7."])
    agent, _, _ = make_agent("paraphrase", scripted, lambda p, k: next(replies))
    out = agent.run_chunk(SEEDS)
    assert out.problems == []
    assert sorted(r for _, r in out.drops) == ["empty", "solved_instead"]


def test_paraphrase_drops_a_rewrite_that_loses_a_number(scripted):
    agent, _, _ = make_agent("paraphrase", scripted, lambda p, k: "Tom has some apples and buys 4 more. How many now?")
    out = agent.run_chunk(SEEDS[:1])
    assert [r for _, r in out.drops] == ["lost_numbers"]


def test_distraction_insertion_inserts_the_detail_before_the_question(scripted):
    agent, llm, calls = make_agent("distraction_insertion", scripted, lambda p, k: " His sister is 9 years old.\n")
    out = agent.run_chunk(SEEDS)
    assert len(llm.calls) == 1 and "Answer: 7\nIrrelevant detail:" in llm.calls[0][0]  # answer in the prompt
    first, second = out.problems
    assert first["problem"] == ("Tom has 3 apples and buys 4 more. His sister is 9 years old. "
                                "How many apples does he have?")
    assert first["intermediate"]["inserted"] == "His sister is 9 years old."
    assert second["problem"].startswith("His sister is 9 years old. Find $x$")  # one sentence: detail first
    assert calls[0]["step"] == "detail"


def test_distraction_insertion_drops_bad_details_with_reasons(scripted):
    replies = iter(["What is her age?", "The answer is 7.", "Tom has 3 apples and buys 4 more", ""])
    agent, _, _ = make_agent("distraction_insertion", scripted, lambda p, k: next(replies))
    out = agent.run_chunk(SEEDS + [dict(SEEDS[0], id="s3"), dict(SEEDS[0], id="s4")])
    assert out.problems == []
    assert sorted(r for _, r in out.drops) == ["asks_a_question", "empty", "not_new", "solved_instead"]
    assert {d["step"] for d, _ in out.drops} == {"detail"}


def test_qft_trains_on_seed_questions_then_samples_from_the_tuned_model_without_seeds(scripted, tmp_path):
    """QFT is two steps: generator_data (what the tune stage fine-tunes on), then sampling with no seed."""
    replies = iter(["Ann has 5 cats and 2 dogs. How many pets does she have?", "What is 2 + 2? The answer is 4."])
    llm = scripted(lambda p, k: next(replies))
    agent = build_agent(agent_config("qft", samples_per_seed=1, train_seeds=2), llm, Sampling(), generator="tuned")
    rows = agent.generator_data(SEEDS + [dict(SEEDS[0], id="s3")])
    assert [(r["id"], r["solution"]) for r in rows] == [(s["id"], s["problem"]) for s in SEEDS]  # train_seeds=2
    assert [r["problem"] for r in rows] == ["Write a new grade-school math word problem.",
                                            "Write a new competition mathematics problem."]
    slots = agent.prepare(SEEDS, tmp_path)
    assert [s["dataset"] for s in slots] == ["gsm8k", "math"]
    out = agent.run_chunk(slots)
    assert llm.calls == [["Write a new grade-school math word problem.\n",
                          "Write a new competition mathematics problem.\n"]]  # no seed text in any prompt
    (prob,) = out.problems
    assert prob["id"] == "qft-q000000" and prob["seed_ids"] == [] and prob["seed_dataset"] == "gsm8k"
    assert prob["intermediate"]["generator"] == "tuned"
    assert [r for _, r in out.drops] == ["solved_instead"]


def test_qft_without_a_tuned_generator_refuses_to_sample(tmp_path):
    agent = build_agent(agent_config("qft"), None, Sampling())
    with pytest.raises(RuntimeError, match="tune stage"):
        agent.prepare(SEEDS, tmp_path)


def agent_config(name, **overrides):
    from omegaconf import OmegaConf

    from flames.agents import agent_class

    cls = agent_class(name)
    return OmegaConf.structured(cls.Config(_target_=f"{cls.__module__}.{cls.__name__}", name=name, **overrides))
