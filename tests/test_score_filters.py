"""Score filters (mixture.filters, flames.scores.filters): what a mix may take from each pool, by its scores."""

from __future__ import annotations

import re

import pytest

from flames.config import ConfigError
from flames.jsonl import read_jsonl
from flames.pipeline import Pipeline
from flames.report import format_report
from flames.scores.filters import apply_filters, check_filters
from tests.helpers import compose_config

ROWS = [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d"}, {"id": "e"}]
SCORES = {"a": {"difficulty": 0.0, "topic": "Algebra", "near_dup_of": None},
          "b": {"difficulty": 0.5, "topic": "Geometry", "near_dup_of": None},
          "c": {"difficulty": 1.0, "topic": "Algebra", "near_dup_of": "a"},
          "d": {"difficulty": None, "topic": "Algebra", "near_dup_of": None}}  # e has no score row


def test_each_filter_keeps_what_passes_and_counts_the_first_it_failed():
    kept, removed = apply_filters(ROWS, SCORES, check_filters({"difficulty": [0.5, None]}))
    assert [r["id"] for r in kept] == ["b", "c"] and removed == {"difficulty": 2, "scores": 1}
    kept, removed = apply_filters(ROWS, SCORES, check_filters({"topic": ["Algebra"], "near_dup": False}))
    assert [r["id"] for r in kept] == ["a", "d"] and removed == {"topic": 1, "near_dup": 1, "scores": 1}
    kept, _ = apply_filters(ROWS, SCORES, check_filters({"difficulty": [None, 0.5], "topic": ["Geometry"]}))
    assert [r["id"] for r in kept] == ["b"]


@pytest.mark.parametrize("filters, message", [
    ({"bogus": [0, 1]}, "mixture.filters.bogus: no such score"),
    ({"difficulty": 0.5}, "mixture.filters.difficulty: give [low, high]"),
    ({"difficulty": [0.8, 0.2]}, "low 0.8 is above high 0.2"),
    ({"topic": "Algebra"}, "mixture.filters.topic: give the values"),
    ({"near_dup": True}, "mixture.filters.near_dup: only `false`"),
])
def test_a_bad_filter_names_its_key(filters, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_filters(filters)


def test_a_filtered_mix_takes_exactly_the_problems_whose_scores_pass_from_the_same_pools(scripted_backend):
    def reply(prompt, k):
        if "Irrelevant detail:" in prompt:
            return "It is sunny today."
        return f"The answer is \\boxed{{{k}}}."
    scripted_backend(reply)
    base = ["logger=none", "stage=mix", "mixture=single", "agent=distraction_insertion", "agent.num_problems=8",
            "qc=first"]
    plain = Pipeline(compose_config(base)).run()
    a = {r.stage: r for r in plain.results}
    scores = {r["id"]: r for r in read_jsonl(a["solution_qc"].artifact.path / "scores.jsonl")}
    everything = [r["id"].split("/", 1)[1] for r in read_jsonl(a["mix"].artifact.data)]
    lengths = sorted(scores[i]["problem_tokens"] for i in everything)
    cut = lengths[len(lengths) // 2 - 1]  # the shorter half (and ties) pass; the problems' lengths differ
    filtered = Pipeline(compose_config([*base, f"mixture.filters.problem_tokens=[null,{cut}]"])).run()
    b = {r.stage: r for r in filtered.results}
    assert all(b[s].reused and b[s].artifact.path == a[s].artifact.path
               for s in ("synthesize", "problem_qc", "solve", "solution_qc"))
    assert not b["mix"].reused and b["mix"].artifact.path != a["mix"].artifact.path  # the filter is in mix's key
    taken = [r["id"].split("/", 1)[1] for r in read_jsonl(b["mix"].artifact.data)]
    assert sorted(taken) == sorted(i for i in everything if scores[i]["problem_tokens"] <= cut)
    assert 0 < len(taken) < len(everything), lengths
    assert b["mix"].manifest["metrics"]["filtered"] == {
        "distraction_insertion": {"problem_tokens": len(everything) - len(taken)}}
    assert f"Score filters removed: distraction_insertion problem_tokens={len(everything) - len(taken)}" in \
        format_report(filtered, "store", "run")
