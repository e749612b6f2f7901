"""The prompt-length guard: a request whose prompt fills the model's context is never sent; its record is
dropped (generation stages) or kept as a wrong answer (evaluate) with the counted reason prompt_too_long.

A scripted model with a 450-word context stands in for the backends here; the real transformers backend
on the embedded model (8,192 positions) refuses a 9,000-token prompt in tests/test_llm_hf.py.
"""

from __future__ import annotations

import json

from flames.evaluate import evaluate
from flames.jsonl import read_jsonl, write_jsonl
from flames.llm import PROMPT_TOO_LONG, Sampling
from flames.pipeline import Pipeline
from flames.solve import solve
from tests.conftest import ScriptedLLM
from tests.helpers import compose_config

CONTEXT = 450  # words (the paraphrase prompt with a short seed: ~300)
HUGE = "How many apples? " + "apple " * 500


class SmallContext(ScriptedLLM):
    """A scripted model whose context is CONTEXT words (its token count: words)."""

    def context_length(self):
        return CONTEXT

    def prompt_lengths(self, conversations):
        return [sum(len(m["content"].split()) for m in c) for c in conversations]


def answer(prompt, k):
    return "The answer is \\boxed{3}."


def test_a_prompt_that_fills_the_context_is_not_sent_and_says_why():
    llm = SmallContext(answer)
    gens = llm.chat([[{"role": "user", "content": "What is 1 + 2?"}], [{"role": "user", "content": HUGE}],
                     [{"role": "user", "content": "And 2 + 1?"}]], Sampling(n=2))
    assert [g.error for g in gens] == [None, PROMPT_TOO_LONG, None]
    assert gens[1].texts == ["", ""] and gens[1].prompt_tokens == 503 and gens[1].completion_tokens == [0, 0]
    assert gens[0].texts == [answer("", 0)] * 2
    assert llm.calls == [["What is 1 + 2?", "And 2 + 1?"]]  # the long one never reached the backend
    assert SmallContext(answer).chat([[{"role": "user", "content": HUGE}]], Sampling())[0].error  # none sent


def test_solve_drops_a_problem_too_long_for_the_solution_model(tmp_path):
    problems = tmp_path / "problems.jsonl"
    write_jsonl(problems, [{"id": "p1", "problem": "What is 1 + 2?"}, {"id": "p2", "problem": HUGE},
                           {"id": "p3", "problem": "What is 2 + 2?"}])
    solve(problems, tmp_path / "out", SmallContext(answer), Sampling(n=2), "Reason step by step.")
    kept = [r["id"] for r in read_jsonl(tmp_path / "out" / "data.jsonl")]
    dropped = list(read_jsonl(tmp_path / "out" / "dropped.jsonl"))
    assert kept == ["p1", "p3"] and [(d["id"], d["reason"]) for d in dropped] == [("p2", PROMPT_TOO_LONG)]


def test_evaluate_keeps_a_too_long_item_as_wrong_and_counts_it(tmp_path):
    suite = {"gsm8k": [{"id": "1", "problem": "What is 1 + 2?", "answer": "3"},
                       {"id": "2", "problem": HUGE, "answer": "3"}]}
    m = evaluate(suite, tmp_path / "eval", SmallContext(answer), Sampling(temperature=0), "Reason.",
                 samples=Sampling(n=2, temperature=0.7), audit=False)["gsm8k"]
    assert (m["n"], m["correct"], m["prompt_too_long"]) == (2, 1, 1)  # the item stays in the denominator
    assert m["sampled_n"] == 4 and m["avg_of_k"] == 50.0
    rows = {r["id"]: r for r in read_jsonl(tmp_path / "eval" / "data.jsonl")}
    assert rows["gsm8k/2"]["error"] == PROMPT_TOO_LONG and rows["gsm8k/2"]["correct"] is False
    assert "error" not in rows["gsm8k/1"]


def test_a_seed_too_long_for_the_problem_model_is_a_counted_drop_of_synthesize(tmp_path, monkeypatch):
    """Through the pipeline (paraphrase agent, one seed of 500 words): the run completes and the manifest
    counts the drop under prompt_too_long; the other seeds make problems."""
    import flames.llm as llm_mod

    seeds = tmp_path / "seeds.jsonl"
    write_jsonl(seeds, [{"id": "huge", "problem": HUGE, "answer": "500"},
                        *({"id": f"s{i}", "problem": f"Tom has {i + 2} apples. How many apples?", "answer": str(i + 2)}
                          for i in range(5))])
    llm = SmallContext(lambda p, k: "Rephrased problem: Tom owns " + " ".join(p.split()[-3:]))
    monkeypatch.setattr(llm_mod, "load_llm", lambda cfg: llm)
    cfg = compose_config(["logger=none", "stage=synthesize", "agent=paraphrase", "agent.num_problems=6",
                          f"seeds.path={seeds}", "agent.chunk_size=8"])
    (syn,) = Pipeline(cfg).run().results
    assert syn.manifest["dropped"].get(PROMPT_TOO_LONG) == 1, syn.manifest["dropped"]
    dropped = [json.loads(line) for line in (syn.artifact.path / "dropped.jsonl").read_text().splitlines()]
    assert [d["id"] for d in dropped if d["reason"] == PROMPT_TOO_LONG] == ["paraphrase-huge"]
    assert all(HUGE not in p for call in llm.calls for p in call)
