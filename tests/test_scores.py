"""Data scorers (flames.scores): per-problem scores on hand-made records, and the solution_qc stage writing them
(scores.jsonl, metrics.scores) with the run's report and W&B keys showing them per agent."""

import re

import pytest

from flames.jsonl import read_jsonl
from flames.pipeline import Pipeline
from flames.report import format_report, score_metrics
from flames.scores import score_pool, summarize
from tests.conftest import problem_from_prompt
from tests.helpers import compose_config

SEEDS = [{"id": "s1", "problem": "Ann has 3 apples and buys 4 more. How many apples does she have?", "answer": "7",
          "dataset": "math", "type": "Algebra", "level": 2},
         {"id": "s2", "problem": "A train travels 60 miles in 2 hours. What is its speed?", "answer": "30"}]


def sample(answer):
    return {"text": f"\\boxed{{{answer}}}", "answer": answer, "completion_tokens": 10}


def problem(pid, text, seed, answers, **extra):
    return {"id": pid, "problem": text, "seed_ids": [seed], "seed_answer": {"s1": "7", "s2": "30"}[seed],
            "solutions": [sample(a) for a in answers], **extra}


def test_difficulty_against_the_gold_answer_or_the_majority():
    rows = [problem("p1", SEEDS[0]["problem"], "s1", ["7", "7", "8"]),
            problem("p2", "Bo has 5 pens and loses 2. The sky is blue. How many pens remain?", "s1", ["3", "3", "4"])]
    gold, _ = score_pool(rows, SEEDS, gold=True)
    assert [r["solve_rate"] for r in gold] == [pytest.approx(2 / 3, abs=1e-4), 0.0]  # p2's answer is not its seed's
    assert {r["reference"] for r in gold} == {"gold"}
    majority, _ = score_pool(rows, SEEDS, gold=False)
    assert [r["solve_rate"] for r in majority] == [pytest.approx(2 / 3, abs=1e-4)] * 2
    assert [r["difficulty"] for r in majority] == [pytest.approx(1 / 3, abs=1e-4)] * 2 and majority[0]["reference"] == "majority"
    none, _ = score_pool([problem("p3", "x", "s1", [None, None])], SEEDS)
    assert none[0]["solve_rate"] == 0.0 and none[0]["reference"] is None


def test_provenance_length_and_novelty():
    copy = problem("p1", SEEDS[0]["problem"], "s1", ["7"])
    new = problem("p2", "Compute the determinant of a diagonal matrix with entries one through five.", "s2", ["120"])
    orphan = {**problem("p3", "What is 2 + 2?", "s1", ["4"]), "seed_ids": []}
    rows, pool = score_pool([copy, new, orphan], SEEDS, verdicts={"p2": "unsolvable"})
    assert (rows[0]["topic"], rows[0]["level"]) == ("math/Algebra", "level 2")
    assert (rows[1]["topic"], rows[2]["topic"]) == ("unknown", "unknown")
    assert rows[0]["novelty_seed"] == 0.0 and rows[0]["novelty_seeds"] == 0.0  # the seed itself
    assert rows[1]["novelty_seed"] == 1.0 and rows[1]["novelty_seeds"] == 1.0  # shares no trigram
    assert rows[2]["novelty_seed"] is None  # no seed to compare with
    assert rows[0]["problem_tokens"] == 14 and rows[1]["judge"] == "unsolvable" and "judge" not in rows[0]
    assert pool["near_dup_clusters"] == 0 and 0 < pool["distinct_ngrams"] <= 1


def test_near_duplicates_form_clusters_and_the_summary_counts_them():
    text = "A farmer has 12 cows and 7 goats on his farm near the river. How many animals does the farmer own?"
    rows, pool = score_pool([problem(f"p{i}", text, "s1", ["19"]) for i in range(3)], SEEDS)
    assert [r["near_dup_of"] for r in rows] == [None, "p0", "p0"]
    assert (pool["near_dup_clusters"], pool["largest_cluster"]) == (1, 3)
    s = summarize(rows)
    assert s["n"] == 3 and s["near_dup_share"] == pytest.approx(2 / 3, abs=1e-4) and s["bands"] == {"easy": 3, "medium": 0,
                                                                                          "hard": 0}


def test_solution_qc_stores_scores_and_the_report_shows_them_per_agent(scripted_backend):
    def reply(prompt, k):
        if "Rephrase the above question:" in prompt:
            return "Rephrased problem: " + problem_from_prompt(prompt).replace(" has ", " owns ")
        if "Irrelevant detail:" in prompt:
            return "It is sunny today."
        return f"The answer is \\boxed{{{re.findall(r'[0-9]+', prompt)[0]}{k}}}."  # three samples, three answers
    scripted_backend(reply)
    cfg = compose_config(["logger=none", "stage=mix", "mixture=blend", "mixture.budget=8", "qc=majority_first",
                          "mixture.agents.paraphrase.num_problems=4", "mixture.agents.distraction_insertion.num_problems=4"])
    run = Pipeline(cfg).run()
    qc = [r for r in run.results if r.stage == "solution_qc"]
    assert {r.label for r in qc} == {"paraphrase", "distraction_insertion"}
    for r in qc:
        rows = list(read_jsonl(r.artifact.path / "scores.jsonl"))
        scores = r.manifest["metrics"]["scores"]
        assert len(rows) == scores["all"]["n"] == r.manifest["metrics"]["view_size"]
        assert scores["kept"]["n"] == r.manifest["records_out"]
        assert {x["reference"] for x in rows} == {"gold"}  # both agents keep their seed's answer
        keys = score_metrics(r.label, scores)
        assert keys[f"scores/{r.label}/kept/n"] == r.manifest["records_out"]
        assert f"scores/{r.label}/diversity/distinct_ngrams" in keys
    report = format_report(run, "store", "run")
    table = report.split("Data scores", 1)[1].split("\n\n", 1)[0].splitlines()[3:]
    assert sorted(line.split()[:3] for line in table) == sorted(
        [a, "majority_first", part] for a in ("paraphrase", "distraction_insertion") for part in ("all", "kept"))
