"""Solution QC with models: the solvability judge, the reward model, the student length filter."""

from __future__ import annotations

import json
import time

import pytest

from flames.jsonl import read_jsonl
from flames.llm import Sampling
from flames.qc.judge import SOLVABLE, UNSOLVABLE, SolvabilityJudge, load_prompt, parse_verdict
from flames.qc.stage import StudentFit, solution_qc
from tests.conftest import ScriptedLLM


def _solved(tmp_path, rows):
    path = tmp_path / "solved.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _row(pid, problem, texts):
    return {"id": pid, "problem": problem, "solutions": [{"text": t, "answer": t[-1:], "completion_tokens": 3}
                                                         for t in texts]}


ROWS = [
    _row("ok", "Tom has 3 pens and buys 4 more. How many pens?", ["3+4=7. 7", "It is 8. 8", "7 pens. 7"]),
    _row("bad", "Anna has some apples. How many apples?", ["Unknown. 0"]),
    _row("garbled", "What is 2+2?", ["2+2=4. 4", "4"]),
    _row("empty", "What is 5+5?", []),
]
REPLIES = {
    "Tom": "Everything is given.\nVerdict: solvable",
    "Anna": "The count is missing.\nVerdict: unsolvable",
    "2+2": "It is fine, probably.",  # no verdict line
}


def judge_reply(prompt, k):
    problem = prompt.rsplit("Problem: ", 1)[1]
    return next(v for key, v in REPLIES.items() if key in problem)


class FakeScorer:
    """Scores a solution by a number written in it ("score=...") or 0; records what it was asked."""

    def __init__(self):
        self.calls, self.truncated = [], 0

    def score(self, pairs):
        self.calls.append(list(pairs))
        return [float(s.split("score=")[1].split()[0]) if "score=" in s else 0.0 for _, s in pairs]


def _judge(llm=None):
    return SolvabilityJudge(llm or ScriptedLLM(judge_reply), Sampling(temperature=0.0, max_new_tokens=32), chunk_size=2)


def _drops(out):
    return {r["id"]: r for r in read_jsonl(out / "dropped.jsonl")}


def test_parse_verdict():
    assert parse_verdict("Reason: all given.\nVerdict: solvable") == SOLVABLE
    assert parse_verdict("**Verdict:** Unsolvable") == UNSOLVABLE
    assert parse_verdict("Verdict - not solvable.") == UNSOLVABLE
    for reply in ("It is solvable.", "", "Verdict: solvable\nVerdict: unsolvable", "Verdict: solvableish"):
        assert parse_verdict(reply) is None, reply


def test_prompt_has_no_header_and_one_slot():
    prompt = load_prompt()
    assert not prompt.startswith("#") and prompt.count("{problem}") == 1 and prompt.rstrip().endswith("Reason:")


def test_solvability_keeps_solvable_with_first_solution(tmp_path):
    llm = ScriptedLLM(judge_reply)
    out = tmp_path / "out"
    metrics = solution_qc(_solved(tmp_path, ROWS), out, "solvability", judge=_judge(llm))
    (kept,) = read_jsonl(out / "data.jsonl")
    assert kept["id"] == "ok" and kept["solution"] == "3+4=7. 7" and kept["qc"]["chosen"] == 0
    assert kept["qc"]["judge"] == {"verdict": SOLVABLE, "raw": REPLIES["Tom"]}
    drops = _drops(out)
    assert {k: d["reason"] for k, d in drops.items()} == {
        "bad": "unsolvable", "garbled": "judge_unparseable", "empty": "no_samples"}
    assert drops["garbled"]["judge"] == {"verdict": None, "raw": REPLIES["2+2"]}
    assert metrics["judge_verdicts"] == {"solvable": 1, "unsolvable": 1, "unparseable": 1}
    assert [len(c) for c in llm.calls] == [2, 1]  # chunks of 2; the problem without solutions is not judged
    assert all("{problem}" not in p and "Problem: " in p for p in llm.calls[0])


def test_verdicts_are_saved_and_reused_on_resume(tmp_path):
    llm = ScriptedLLM(judge_reply)
    out = tmp_path / "out"
    solution_qc(_solved(tmp_path, ROWS), out, "solvability", judge=_judge(llm))
    (out / "data.jsonl").unlink()  # as if killed before writing the kept rows
    again = ScriptedLLM(judge_reply)
    solution_qc(_solved(tmp_path, ROWS), out, "solvability", judge=_judge(again))
    assert again.calls == [] and [r["id"] for r in read_jsonl(out / "data.jsonl")] == ["ok"]
    assert len(list(read_jsonl(out / "judge.jsonl"))) == 3
    assert [c["step"] for c in read_jsonl(out / "calls.jsonl")] == ["judge", "judge"]


def test_reward_picks_the_best_scored_solution(tmp_path):
    rows = [_row("a", "Tom q", ["s0 score=1", "s1 score=3", "s2 score=2"]),
            _row("b", "Tom q2", ["only one score=-1"])]  # n = 1
    scorer = FakeScorer()
    out = tmp_path / "out"
    metrics = solution_qc(_solved(tmp_path, rows), out, "solvability_reward", judge=_judge(), scorer=scorer)
    kept = {r["id"]: r for r in read_jsonl(out / "data.jsonl")}
    assert kept["a"]["qc"]["chosen"] == 1 and kept["a"]["solution"] == "s1 score=3"
    assert kept["a"]["qc"]["scores"] == [1.0, 3.0, 2.0]
    assert kept["b"]["qc"]["chosen"] == 0 and kept["b"]["qc"]["scores"] == [-1.0]
    assert metrics["scored_solutions"] == 4


def test_reward_ties_go_to_the_earliest_and_repeats_are_scored_once(tmp_path):
    rows = [_row("t", "Tom q", ["x score=2", "y score=5", "z score=5", "y score=5"])]
    scorer = FakeScorer()
    out = tmp_path / "out"
    solution_qc(_solved(tmp_path, rows), out, "solvability_reward", judge=_judge(), scorer=scorer)
    (kept,) = read_jsonl(out / "data.jsonl")
    assert kept["qc"]["chosen"] == 1 and kept["qc"]["scores"] == [2.0, 5.0, 5.0, 5.0]
    assert len(scorer.calls[0]) == 3  # the repeated text was scored once


def test_reward_scores_only_solvable_problems(tmp_path):
    scorer = FakeScorer()
    solution_qc(_solved(tmp_path, ROWS), tmp_path / "out", "solvability_reward", judge=_judge(), scorer=scorer)
    assert {p for call in scorer.calls for p, _ in call} == {ROWS[0]["problem"]}


def test_model_strategies_need_their_models(tmp_path):
    with pytest.raises(ValueError, match="judge"):
        solution_qc(_solved(tmp_path, ROWS), tmp_path / "o1", "solvability")
    with pytest.raises(ValueError, match="reward"):
        solution_qc(_solved(tmp_path, ROWS), tmp_path / "o2", "solvability_reward", judge=_judge())
    with pytest.raises(ValueError, match="strategy"):
        solution_qc(_solved(tmp_path, ROWS), tmp_path / "o3", "best")


def test_length_filter_drops_what_train_would_drop(tmp_path):
    from transformers import AutoTokenizer

    from flames.llm.embedded import EMBEDDED_NAME, resolve_model_path
    from flames.examples import fit_examples

    prompt = "Please reason step by step."
    rows = [_row("short", "What is 1+1?", ["2"]), _row("long", "What is 1+1?", ["one plus one " * 40 + "2"])]
    student = StudentFit(EMBEDDED_NAME, 80, prompt)
    out = tmp_path / "out"
    solution_qc(_solved(tmp_path, rows), out, "first", student=student)
    kept = list(read_jsonl(out / "data.jsonl"))
    assert [r["id"] for r in kept] == ["short"]
    assert _drops(out)["long"] == {"id": "long", "max_length": 80, "reason": "too_long_for_student"}
    tok = AutoTokenizer.from_pretrained(resolve_model_path(EMBEDDED_NAME))
    assert fit_examples(kept, tok, prompt, 80)[1] == []  # train keeps every row QC kept


def test_length_filter_runs_before_fixed_size(tmp_path):
    from flames.llm.embedded import EMBEDDED_NAME

    rows = [_row(f"s{i}", "What is 1+1?", ["2"]) for i in range(3)] + [
        _row("long", "What is 1+1?", ["one plus one " * 40 + "2"])]
    out = tmp_path / "out"
    solution_qc(_solved(tmp_path, rows), out, "first", fixed_size=3, student=StudentFit(EMBEDDED_NAME, 80, "Go."))
    assert len(list(read_jsonl(out / "data.jsonl"))) == 3  # the long one went first, so nothing was subsampled
    assert {d["reason"] for d in _drops(out).values()} == {"too_long_for_student"}


@pytest.mark.slow
def test_tiny_reward_model_scores_on_cpu():
    from flames.qc.reward import TINY_REWARD, RewardScorer

    t0 = time.time()
    scorer = RewardScorer(TINY_REWARD, dtype="float32", batch_size=2, max_length=64)
    pairs = [("What is 2+3?", "2+3=5, so the answer is \\boxed{5}."), ("What is 2+3?", "\\boxed{6}"),
             ("What is 2+3?", "2+3=5, so the answer is \\boxed{5}."), ("What is 2+3?", "step " * 100)]
    scores = scorer.score(pairs)
    assert len(scores) == 4 and all(isinstance(s, float) for s in scores)
    assert scores[0] == pytest.approx(scores[2], abs=1e-4)  # same text, other batch: same score
    assert scorer.truncated == 1  # the 100-step solution exceeds 64 tokens
    assert scorer.score([pairs[1]]) == pytest.approx([scores[1]], abs=1e-4)
    print(f"tiny reward model: load + 5 scores in {time.time() - t0:.1f}s")
