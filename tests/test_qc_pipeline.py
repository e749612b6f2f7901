"""Solution QC inside the pipeline: keys, model strategies, the student length filter, real artifacts."""

from __future__ import annotations

import re

import pytest

from flames.jsonl import read_jsonl
from flames.pipeline import Pipeline
from tests.conftest import problem_from_prompt
from tests.helpers import compose_config


def reply(prompt, k):
    if "Rephrase the above question:" in prompt:
        return "Rephrased problem: " + problem_from_prompt(prompt).replace(" has ", " owns ")
    if prompt.rstrip().endswith("Reason:"):  # the solvability judge
        problem = prompt.rsplit("Problem: ", 1)[1]
        nums = [int(n) for n in re.findall(r"\d+", problem)]
        return "Checked.\nVerdict: " + ("unsolvable" if nums and nums[0] % 2 else "solvable")
    nums = re.findall(r"\d+", prompt)
    ans = int(nums[0]) if nums else 0
    return f"We add things up. The answer is \\boxed{{{ans + (k == 2)}}}."


@pytest.fixture
def fake_llm(scripted_backend):
    return scripted_backend(reply)


def run(overrides):
    cfg = compose_config(["logger=none", "stage=solution_qc", "agent.num_problems=6", *overrides])
    return Pipeline(cfg).run()


def sqc(res):
    return next(r for r in res.results if r.stage == "solution_qc")


def test_model_settings_stay_out_of_answer_strategy_keys(fake_llm):
    base = sqc(run(["qc=first"])).artifact.key
    assert sqc(run(["qc=first", "qc.judge.name=other", "qc.reward_model.name=other-rm"])).artifact.key == base
    judged = sqc(run(["qc=solvability"])).artifact.key
    assert sqc(run(["qc=solvability", "qc.reward_model.name=other-rm"])).artifact.key == judged  # unused there
    assert sqc(run(["qc=solvability", "qc.solvability.max_new_tokens=64"])).artifact.key != judged
    assert sqc(run(["qc=solvability", "qc.solvability.chunk_size=7"])).artifact.key == judged  # speed only
    assert sqc(run(["qc=first", "student.max_length=64"])).artifact.key != base  # the length filter decides


def test_solvability_in_the_pipeline(fake_llm):
    res = run(["qc=solvability"])
    solved = next(r for r in res.results if r.stage == "solve").manifest
    m = sqc(res).manifest
    rows = list(read_jsonl(sqc(res).artifact.data))
    assert m["records_out"] == len(rows) > 0 and m["records_in"] == solved["records_out"]  # the view it read
    assert m["records_out"] + sum(m["dropped"].values()) == m["records_in"]
    assert set(m["dropped"]) <= {"unsolvable", "judge_unparseable"} and m["llm_calls_by_step"] == {"judge": 1}
    assert all(r["qc"]["judge"]["verdict"] == "solvable" and r["qc"]["chosen"] == 0 for r in rows)
    assert res.calls["solution_qc"] == 1
    again = run(["qc=solvability"])  # reused: no judge call
    assert sum(again.calls.values()) == 0


def test_solvability_reward_in_the_pipeline(fake_llm):
    res = run(["qc=solvability_reward"])
    rows = list(read_jsonl(sqc(res).artifact.data))
    assert rows and all(len(r["qc"]["scores"]) == 3 and r["qc"]["chosen"] in (0, 1, 2) for r in rows)
    assert all(r["qc"]["scores"][r["qc"]["chosen"]] == max(r["qc"]["scores"]) for r in rows)
    assert sqc(res).manifest["metrics"]["scored_solutions"] == 3 * len(rows)


def test_too_long_for_student_counted_per_agent(fake_llm):
    res = run(["mixture=blend", "mixture.agents.paraphrase.num_problems=4",
               "mixture.agents.distraction_insertion.num_problems=4", "student.max_length=60"])
    per_agent = {r.label: r.manifest for r in res.results if r.stage == "solution_qc"}
    assert set(per_agent) == {"paraphrase", "distraction_insertion"}
    for m in per_agent.values():
        assert m["dropped"].get("too_long_for_student", 0) > 0
        assert m["records_out"] + m["dropped"]["too_long_for_student"] == m["records_in"]

