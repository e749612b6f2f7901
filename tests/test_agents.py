"""Agents driven by a scripted LLM: call sequence, prompt filling, parsing, provenance."""

from flames.agents import build_agent
from flames.config import AgentConfig
from flames.llm import Sampling
from tests.conftest import problem_from_prompt

SEEDS = [
    {"id": "s1", "dataset": "gsm8k", "problem": "Tom has 3 apples and buys 4 more. How many apples does he have?",
     "answer": "7"},
    {"id": "s2", "dataset": "math", "problem": "Find $x$ if $2x + 5 = 11$.", "answer": "3"},
]


def make(name, scripted, reply):
    llm = scripted(reply)
    calls = []
    agent = build_agent(AgentConfig(name=name), llm, Sampling(), log_call=lambda **kw: calls.append(kw))
    return agent, llm, calls


def test_paraphrase_one_batched_call_with_filled_prompt(scripted):
    agent, llm, calls = make("paraphrase", scripted,
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
    agent, _, _ = make("paraphrase", scripted, lambda p, k: next(replies))
    out = agent.run_chunk(SEEDS)
    assert out.problems == []
    assert sorted(r for _, r in out.drops) == ["empty", "solved_instead"]


def test_paraphrase_drops_a_rewrite_that_loses_a_number(scripted):
    agent, _, _ = make("paraphrase", scripted, lambda p, k: "Tom has some apples and buys 4 more. How many now?")
    out = agent.run_chunk(SEEDS[:1])
    assert [r for _, r in out.drops] == ["lost_numbers"]


def test_distraction_insertion_keeps_numbers_and_records_insert(scripted):
    def reply(p, k):
        return problem_from_prompt(p).replace(" How many", " His sister is 9 years old. How many")

    agent, llm, _ = make("distraction_insertion", scripted, reply)
    out = agent.run_chunk(SEEDS[:1])
    assert "Answer: 7\nWith a distraction:" in llm.calls[0][0]  # the answer is part of the prompt
    (prob,) = out.problems
    assert "sister is 9" in prob["problem"] and prob["id"] == "distraction_insertion-s1"


def test_distraction_insertion_drops_when_nothing_inserted(scripted):
    agent, _, _ = make("distraction_insertion", scripted, lambda p, k: problem_from_prompt(p))
    out = agent.run_chunk(SEEDS[:1])
    assert [r for _, r in out.drops] == ["nothing_inserted"]
