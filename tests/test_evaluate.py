"""The evaluate stage with a scripted model: verdicts, grader disagreements, metrics, regrade."""

import json

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
    assert m["gsm8k"] == {"n": 2, "correct": 1, "unparseable": 1, "truncated": 1, "timeouts": 0, "disagreements": 0,
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


def test_wandb_logs_disagreement_counts_and_table(tmp_path, scripted):
    """Offline W&B run read back: each benchmark's disagreement count and the disagreeing rows."""
    import subprocess
    import sys
    from pathlib import Path

    from omegaconf import OmegaConf

    from flames.config import LoggerConfig
    from flames.logger import WandbLogger
    from flames.store import Artifact

    out, m = run(tmp_path, scripted)
    cfg = OmegaConf.structured(LoggerConfig(name="wandb", dir=str(tmp_path)))
    logger = WandbLogger(cfg, {"stage": "evaluate"}, str(tmp_path), "test")
    logger.log_eval(m, Artifact("evaluate", "k", out))
    logger.finish()
    (run_dir,) = tmp_path.glob("wandb/offline-run-*")
    wandb_cli = str(Path(sys.executable).parent / "wandb")
    proc = subprocess.run([wandb_cli, "leet", "inspect", "--summary", "--json", str(run_dir)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["summary"]
    assert summary["eval/math/disagreements"] == m["math"]["disagreements"] == 3
    assert summary["eval/gsm8k/disagreements"] == 0
    assert summary["eval/disagreements"]["nrows"] == 3
