"""The evaluate stage with a scripted model: verdicts, grader disagreements, metrics, regrade."""

import json

import pytest

from flames.evaluate import DISAGREEMENTS, evaluate, metrics, regrade
from flames.jsonl import read_jsonl
from flames.llm import Sampling
from flames.report import eval_table

# problem -> the scripted model's output; golds below. 30% vs 0.3 and 1.5e3 vs 1500: the fast path
# says equal and math-verify says not; 0.3333333 vs 1/3 goes the other way (math-verify decides).
OUTPUTS = {
    "p1": "So \\boxed{30\\%}.",
    "p2": "The answer is \\boxed{1.5e3}.",
    "p3": "\\boxed{0.3333333}",
    "p4": "\\boxed{5}",
    "p5": "I do not know",
}
SUITE = {
    "math": [
        {"id": "a", "problem": "p1", "answer": "0.3", "level": 1, "type": "Algebra"},
        {"id": "b", "problem": "p2", "answer": "1500", "level": 2, "type": "Algebra"},
        {"id": "c", "problem": "p3", "answer": "\\frac{1}{3}", "level": 2, "type": "Geometry"},
    ],
    "gsm8k": [{"id": "d", "problem": "p4", "answer": "5"}, {"id": "e", "problem": "p5", "answer": "7"}],
}
SUBSETS = {"math": ["level", "type"], "gsm8k": []}


def run(tmp_path, scripted, audit=True):
    # p5's output ran out of tokens (the model rambled): flagged, not otherwise treated differently
    llm = scripted(lambda prompt, k: OUTPUTS[prompt.split("\n")[0]],
                   truncated=lambda prompt, k: prompt.startswith("p5"))
    out = tmp_path / "eval"
    return out, evaluate(SUITE, out, llm, Sampling(temperature=0.0, max_new_tokens=16), "Box it.",
                         subsets=SUBSETS, audit=audit)


def test_disagreements_are_logged_per_item_and_counted(tmp_path, scripted):
    out, m = run(tmp_path, scripted)
    preds = {p["id"]: p for p in read_jsonl(out / "data.jsonl")}
    assert preds["math/a"]["disagreement"] and preds["math/a"]["graders"] == {"fast_path": True, "math_verify": False}
    assert preds["math/a"]["correct"] and preds["math/a"]["method"] == "string"  # the fast path's verdict stands
    assert preds["math/c"]["graders"] == {"fast_path": False, "math_verify": True} and preds["math/c"]["correct"]
    assert not preds["gsm8k/d"]["disagreement"] and "graders" not in preds["gsm8k/d"]
    assert preds["gsm8k/e"]["pred"] is None
    logged = [r["id"] for r in read_jsonl(out / DISAGREEMENTS)]
    assert logged == ["math/a", "math/b", "math/c"]
    assert m["math"]["disagreements"] == 3 and m["gsm8k"]["disagreements"] == 0
    counts = {k: v for k, v in m["gsm8k"].items() if not k.startswith("accuracy_") and k != "ci_level"}
    assert counts == {"n": 2, "correct": 1, "unparseable": 1, "truncated": 1, "timeouts": 0, "disagreements": 0,
                      "prompt_too_long": 0,
                      "accuracy": 50.0}


def test_outputs_cut_by_the_token_limit_are_flagged_and_counted(tmp_path, scripted):
    from flames.store import folder_stats

    out, m = run(tmp_path, scripted)
    assert [p["id"] for p in read_jsonl(out / "data.jsonl") if p["truncated"]] == ["gsm8k/e"]
    assert m["gsm8k"]["truncated"] == 1 and m["math"]["truncated"] == 0
    assert folder_stats(out)["truncated"] == 1  # the calls log says the same: the manifest's count
    assert regrade(out / "data.jsonl") == m


def test_subset_metrics_come_from_the_record(tmp_path, scripted):
    out, m = run(tmp_path, scripted)
    assert m["math/level=2"]["n"] == 2 and m["math/type=Geometry"]["n"] == 1
    assert not any(k.startswith("gsm8k/") for k in m)
    assert json.loads((out / "data.jsonl").read_text().splitlines()[0])["subsets"] == {"level": 1, "type": "Algebra"}


def test_regrade_reproduces_the_metrics_with_and_without_audit(tmp_path, scripted):
    out, m = run(tmp_path, scripted)
    assert regrade(out / "data.jsonl") == m
    out2, m2 = run(tmp_path / "plain", scripted, audit=False)
    assert regrade(out2 / "data.jsonl") == m2
    # Without the audit only pairs math-verify decides can show a disagreement: 0.3333333 vs 1/3.
    assert [r["id"] for r in read_jsonl(out2 / DISAGREEMENTS)] == ["math/c"] and m2["math"]["disagreements"] == 1


def test_resume_keeps_the_disagreement_file_whole(tmp_path, scripted):
    out, m = run(tmp_path, scripted)
    again = run(tmp_path, scripted)[1]  # every item already written: nothing generated, files rebuilt
    assert again == m and len(list(read_jsonl(out / DISAGREEMENTS))) == 3


def test_legacy_prediction_files_still_give_subset_metrics():
    rows = [{"benchmark": "math", "level": 3, "correct": True, "pred": "1", "timed_out": False}]
    assert metrics(rows)["math/level=3"]["accuracy"] == 100.0


def test_printed_table_has_the_disagreement_column(tmp_path, scripted):
    _, m = run(tmp_path, scripted)
    table = eval_table(m)
    assert "disagreements" in table and "  level=2" in table and "MATH" in table.splitlines()[0]


# Sampled answers per problem (k = 4): the scripted model answers sample j with SAMPLED[problem][j].
SAMPLED = {
    "p1": ["\\boxed{0.3}", "\\boxed{3/10}", "\\boxed{7}", "\\boxed{7}"],  # 0.3 and 3/10 vote together: maj right
    "p2": ["\\boxed{1}", "\\boxed{2}", "\\boxed{2}", "\\boxed{1}"],  # a 2-2 tie: the earlier group (1) wins
    "p3": ["no answer", "\\boxed{1/3}", "nothing", "\\boxed{9}"],  # unparseable never votes: 1/3 then 9, a tie
    "p4": ["\\boxed{4}", "\\boxed{4}", "\\boxed{5}", "none"],  # maj wrong, pass@4 right
    "p5": ["none"] * 4,  # nothing parses: maj wrong
}


def run_sampled(tmp_path, scripted, k=4):
    def reply(prompt, j):  # the call being answered is the last one recorded: greedy (n=1) or sampled
        problem = prompt.split("\n")[0]
        return SAMPLED[problem][j] if llm.samplings[-1].n > 1 else OUTPUTS[problem]

    llm = scripted(reply)
    out = tmp_path / "eval"
    m = evaluate(SUITE, out, llm, Sampling(temperature=0.0, max_new_tokens=16), "Box it.", subsets=SUBSETS,
                 samples=Sampling(n=k, temperature=0.7, max_new_tokens=16))
    return out, m, llm


def test_samples_are_kept_with_their_answers_and_counted_as_avg_maj_pass(tmp_path, scripted):
    out, m, llm = run_sampled(tmp_path, scripted)
    rows = list(read_jsonl(out / "data.jsonl"))
    sampled = [r for r in rows if r.get("sample") is not None]
    assert len(sampled) == 4 * 5 and len(rows) == 5 + 4 * 5
    assert {r["id"] for r in sampled if r["item_id"] == "d"} == {f"gsm8k/d#{j}" for j in range(4)}
    assert all("pred" in r and "correct" in r for r in sampled)
    # math: a (gold 0.3) 2/4 right, maj right; b (gold 1500) 0/4; c (gold 1/3) 1/4, tie 1/3 vs 9 -> 1/3 right
    assert m["math"]["k"] == 4 and m["math"]["avg_of_k"] == round(100 * 3 / 12, 2)
    assert m["math"]["maj_at_k"] == round(100 * 2 / 3, 2) and m["math"]["pass_at_k"] == round(100 * 2 / 3, 2)
    # gsm8k: d (gold 5) 1/4, maj 4 wrong, pass right; e (gold 7) nothing parses
    assert m["gsm8k"]["avg_of_k"] == 12.5 and m["gsm8k"]["maj_at_k"] == 0.0 and m["gsm8k"]["pass_at_k"] == 50.0
    assert m["gsm8k"]["sampled_unparseable"] == 5 and m["gsm8k"]["sampled_n"] == 8
    assert m["math/level=2"]["k"] == 4 and m["math/level=2"]["n"] == 2  # subsets get the sampled rates too
    assert m["gsm8k"]["accuracy"] == 50.0  # the greedy score stays alongside
    for bench in m.values():
        for name in ("accuracy", "avg_of_k", "maj_at_k", "pass_at_k"):
            assert bench[f"{name}_ci_low"] <= bench[name] <= bench[f"{name}_ci_high"], name
    assert regrade(out / "data.jsonl") == m
    assert [s.n for s in llm.samplings] == [1, 4, 1, 4]  # greedy, then sampled, per benchmark


def test_resumed_sampled_run_asks_nothing_again(tmp_path, scripted):
    out, m, _ = run_sampled(tmp_path, scripted)
    out2, again, llm = run_sampled(tmp_path, scripted)
    assert again == m and llm.calls == []


def test_intervals_are_drawn_with_the_saved_settings(tmp_path, scripted):
    from flames.stats import Settings

    llm = scripted(lambda prompt, k: OUTPUTS[prompt.split("\n")[0]])
    out = tmp_path / "eval"
    m = evaluate(SUITE, out, llm, Sampling(temperature=0.0), "Box it.", settings=Settings(confidence=0.5, seed=3))
    assert regrade(out / "data.jsonl") == m  # stats.json says how the intervals were drawn
    assert regrade(out / "data.jsonl", settings=Settings()) != m


def test_printed_table_shows_intervals_and_sampled_rates(tmp_path, scripted):
    _, m, _ = run_sampled(tmp_path, scripted)
    table = eval_table(m)
    assert "95%" in table and "CI" in table  # the intervals' header (its wording may name the method)
    assert "avg@4" in table and "maj@4" in table and "pass@4" in table
    ci = f"[{m['gsm8k']['accuracy_ci_low']:.1f}, {m['gsm8k']['accuracy_ci_high']:.1f}]"
    assert ci in table


def wandb_summary(tmp_path, m, out):
    """Log an evaluation to an offline W&B run and read its summary back (wandb leet inspect)."""
    from omegaconf import OmegaConf

    from flames.config import LoggerConfig
    from flames.logger import WandbLogger
    from flames.store import Artifact
    from tests.e2e import wandb_summary as read_run

    cfg = OmegaConf.structured(LoggerConfig(name="wandb", dir=str(tmp_path)))
    logger = WandbLogger(cfg, {"stage": "evaluate"}, str(tmp_path), "test")
    logger.log_eval(m, Artifact("evaluate", "k", out))
    logger.finish()
    (run_dir,) = tmp_path.glob("wandb/offline-run-*")
    return read_run(run_dir)["summary"]


def test_wandb_logs_disagreement_counts_and_table(tmp_path, scripted):
    """Offline W&B run read back: each benchmark's disagreement count and the disagreeing rows."""
    out, m = run(tmp_path, scripted)
    summary = wandb_summary(tmp_path, m, out)
    assert summary["eval/math/disagreements"] == m["math"]["disagreements"] == 3
    assert summary["eval/gsm8k/disagreements"] == 0
    assert summary["eval/disagreements"]["nrows"] == 3


def test_wandb_and_the_manifest_metrics_carry_every_interval(tmp_path, scripted):
    out, m, _ = run_sampled(tmp_path, scripted)
    summary = wandb_summary(tmp_path, m, out)
    for name in ("math", "gsm8k", "math/level=2"):
        for rate in ("accuracy", "avg_of_k", "maj_at_k", "pass_at_k"):
            for key in (rate, f"{rate}_stderr", f"{rate}_ci_low", f"{rate}_ci_high"):
                value = summary[f"eval/{name}/{key}"]  # greedy accuracy: its best and last value (one here)
                assert value == ({"max": m[name][key], "last": m[name][key]} if key == "accuracy" else m[name][key]), \
                    (name, key)
    assert summary["eval/gsm8k/k"] == 4 and summary["eval/gsm8k/ci_level"] == 95.0


@pytest.mark.slow
def test_sampled_evaluation_of_the_embedded_model_prints_every_rate_and_regrades(tmp_path):
    """`flames stage=evaluate ... benchmarks.num_samples=2` on SmolLM2-135M, 3 builtin items x 16 tokens."""
    from tests.e2e import run_flames

    proc = run_flames(["stage=evaluate", "student.path=embedded:smollm2-135m-instruct", "benchmarks.builtin_count=3",
                       "benchmarks.max_new_tokens=16", "benchmarks.num_samples=2", "logger=none"],
                      tmp_path, tmp_path / "store", timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "avg@2" in proc.stdout and "maj@2" in proc.stdout and "pass@2" in proc.stdout
    assert "95%" in proc.stdout and "CI" in proc.stdout  # the intervals' header (its wording may name the method)
    art = next((tmp_path / "store" / "evaluate").glob("*/"))
    saved = json.loads((art / "manifest.json").read_text())["metrics"]
    assert saved["builtin"]["n"] == 3 and saved["builtin"]["k"] == 2 and saved["builtin"]["sampled_n"] == 6
    assert regrade(art / "data.jsonl") == saved


# A gsm8k folder for the qwen-mode run: problem -> (gold, the scripted model's output). The three modes'
# verdicts on these pairs are the grader's (tests/grading/test_grading_audit.py), not any model's.
QWEN_ITEMS = {
    "share": ("30", "The share is $\\boxed{0.3}$."),  # qwen's percent convention: 30 is also 30/100
    "roots": ("1, 2", "The roots are $\\boxed{1}, \\boxed{2}$."),  # qwen takes the last of several boxes
    "ineq": ("x \\ge 5", "Therefore $x \\geq 5$ is the solution."),  # no box: qwen takes the last number
    "plain": ("18", "So 9 + 9 = 18.\nThe answer is $\\boxed{18}$."),  # every mode: right
    "wrong": ("5", "\\boxed{4}"),  # every mode: wrong
}
# What each mode says where they differ (flames, qwen, math_verify); the other two items agree in all modes.
MODES_DIFFER = {"gsm8k/share": [False, True, False], "gsm8k/roots": [True, False, True],
                "gsm8k/ineq": [True, False, True]}


def test_grading_mode_qwen_evaluates_and_the_audit_lists_where_the_modes_differ(tmp_path, scripted_backend):
    """`flames stage=evaluate benchmarks=gsm8k grading.mode=qwen` in process, on a scripted model and a gsm8k
    file written here; then the predictions regraded in the other modes (python -m flames.grading.audit): the
    rows listed are exactly those where the modes differ, each with the qwen verdict the run recorded."""
    import subprocess
    import sys

    from flames.pipeline import Pipeline
    from flames.report import format_report
    from tests.helpers import compose_config

    bench = tmp_path / "data" / "benchmarks"
    bench.mkdir(parents=True)
    bench.joinpath("gsm8k_test.jsonl").write_text("".join(
        json.dumps({"id": name, "problem": f"Problem {name}?", "answer": gold}) + "\n"
        for name, (gold, _) in QWEN_ITEMS.items()))
    model = tmp_path / "student"  # a model folder as far as the checks go; the scripted backend loads nothing
    model.mkdir()
    (model / "config.json").write_text("{}")
    llm = scripted_backend(lambda prompt, k: QWEN_ITEMS[prompt.split("\n")[0][len("Problem "):-1]][1])
    pipeline = Pipeline(compose_config(["logger=none", "stage=evaluate", f"student.path={model}", "benchmarks=gsm8k",
                                        f"benchmarks.data_dir={tmp_path / 'data'}", "grading.mode=qwen"]))
    res = pipeline.run()
    (ev,) = res.results
    assert ev.stage == "evaluate" and ev.manifest["config"]["grading.mode"] == "qwen"
    asked = [prompt.split("\n")[0] for call in llm.calls for prompt in call]
    assert sorted(asked) == sorted(f"Problem {name}?" for name in QWEN_ITEMS)  # each item asked once
    assert "Evaluation (grading.mode=qwen)" in format_report(res, pipeline.store.root, str(tmp_path))
    data = ev.artifact.data
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    recorded = {r["id"]: r["correct"] for r in rows}
    assert all(r["grading_mode"] == "qwen" for r in rows)
    assert recorded == {"gsm8k/share": True, "gsm8k/roots": False, "gsm8k/ineq": False, "gsm8k/plain": True,
                        "gsm8k/wrong": False}
    assert ev.manifest["metrics"]["gsm8k"]["correct"] == 2

    audit = subprocess.run([sys.executable, "-m", "flames.grading.audit", str(data)], capture_output=True, text=True,
                           timeout=600)
    assert audit.returncode == 0, audit.stderr[-2000:]
    assert f"{len(MODES_DIFFER)} rows differ" in audit.stdout
    listed = [json.loads(line) for line in (data.parent / "modes_disagree.jsonl").read_text().splitlines()]
    assert {d["id"]: [d[f"correct_{m}"] for m in ("flames", "qwen", "math_verify")] for d in listed} == MODES_DIFFER
    assert {d["id"]: d["correct_qwen"] for d in listed} == {i: recorded[i] for i in MODES_DIFFER}
