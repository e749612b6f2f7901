"""Offline W&B runs read back from their .wandb files (`wandb leet inspect`): the step axes and summaries, one run
per launch (one per SLURM job, its requeues included), and the artifacts' lineage from the seeds to the student."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from flames.config import LoggerConfig
from flames.logger import RunIdentity, WandbLogger
from flames.pipeline import StageResult
from flames.store import Artifact
from tests.e2e import TINY, run_flames, wandb_records, wandb_summary
from tests.scripted_backend import scripted_args

JOB_VARS = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT", "SUBMITIT_EXECUTOR",
            "SUBMITIT_LOCAL_JOB_ID")
CELL = RunIdentity(["agent=few_shot", "qc=majority"], {"agent": "few_shot", "seeds": "builtin"}, "all")
CONFIG = {"seeds": {"path": None, "files": None, "builtin_count": 64, "limit": None}, "agent": {"name": "few_shot"},
          "mixture": {"name": "single"}}


@pytest.fixture(autouse=True)
def no_job(monkeypatch):
    """Outside any SLURM or submitit job, as on a laptop (a test run inside a SLURM job would share its id)."""
    for var in JOB_VARS:
        monkeypatch.delenv(var, raising=False)


def open_run(folder: Path, identity: RunIdentity = CELL, **cfg) -> WandbLogger:
    conf = OmegaConf.structured(LoggerConfig(name="wandb", dir=str(folder), **cfg))
    return WandbLogger(conf, CONFIG, str(folder), "test", identity)


def the_run(folder: Path) -> Path:
    (run,) = folder.glob("wandb/offline-run-*")
    return run


def artifact(store: Path, stage: str, key: str, metrics: dict | None = None) -> Artifact:
    """A finished store artifact: two records and a manifest."""
    path = store / stage / key
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps({"records_out": 2, "llm_calls": 3, "metrics": metrics or {}}))
    (path / "data.jsonl").write_text("".join(json.dumps({"id": f"{key}-{i}", "problem": "p"}) + "\n" for i in (0, 1)))
    return Artifact(stage, key, path)


def student(store: Path, key: str) -> Artifact:
    art = artifact(store, "train", key, {"model": str(store / "train" / key / "model"), "examples": 2})
    (art.path / "model").mkdir()
    (art.path / "model" / "config.json").write_text("{}")
    return art


def test_the_curve_runs_on_train_step_stages_on_stage_step_and_accuracy_keeps_its_best_and_last(tmp_path):
    store = tmp_path / "store"
    logger = open_run(tmp_path / "run")
    logger.log_stage(StageResult("synthesize", "few_shot", artifact(store, "synthesize", "k1"), False))
    logger.log_train([{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0}, {"step": 3, "loss": 1.5}])
    logger.log_stage(StageResult("train", "", student(store, "k2"), False))
    evaluation = artifact(store, "evaluate", "k3")
    logger.log_eval({"gsm8k": {"accuracy": 40.0, "n": 10}}, evaluation)
    logger.log_eval({"gsm8k": {"accuracy": 30.0, "n": 10}}, evaluation)  # e.g. a resumed run evaluated again
    logger.finish()
    run = the_run(tmp_path / "run")
    metrics = {m.get("name") or m.get("glob_name"): m for m in wandb_records(run, "metric")}
    assert metrics["train/*"]["step_metric"] == "train/step" and metrics["eval/*"]["step_metric"] == "stage/step"
    assert metrics["synthesize/records_out"]["step_metric"] == "stage/step"
    assert metrics["train/records_out"]["step_metric"] == "stage/step"  # the train stage's count, not a curve point
    assert metrics["train/loss"]["summary"] == {"min": True, "last": True}
    assert metrics["eval/gsm8k/accuracy"]["summary"] == {"max": True, "last": True}
    summary = wandb_summary(run)["summary"]
    assert summary["eval/gsm8k/accuracy"] == {"max": 40, "last": 30} and summary["eval/gsm8k/n"] == 10
    assert summary["train/loss"] == {"min": 1, "last": 1.5} and summary["train/step"] == 3
    assert summary["synthesize/records_out"] == 2 and summary["stage/step"] == 2
    rows = [h["item"] for h in wandb_records(run, "history")]
    assert [r["train/step"] for r in rows if "train/loss" in r] == [1, 2, 3]
    assert [r["stage/step"] for r in rows if "synthesize/records_out" in r or "train/records_out" in r] == [1, 2]
    assert [r["stage/step"] for r in rows if "eval/gsm8k/accuracy" in r] == [2, 2]


def launch(folder: Path, **cfg) -> str:
    """One launch of the cell's job: its run id, as its offline files hold it."""
    open_run(folder, **cfg).finish()
    return wandb_records(the_run(folder), "run")[0]["run_id"]


def test_each_launch_is_a_new_run_and_a_requeued_slurm_job_keeps_its_own(tmp_path, monkeypatch):
    first, again = launch(tmp_path / "first"), launch(tmp_path / "again")
    cell = first.split("-")[0]
    assert first != again and again.startswith(f"{cell}-"), (first, again)  # the same cell, rerun: a new run
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "0")
    job = launch(tmp_path / "job")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")  # `scontrol requeue`: the same job id, one more restart
    assert launch(tmp_path / "requeued") == job == f"{cell}-j4242"
    monkeypatch.setenv("SLURM_JOB_ID", "4250")  # an array task: the array's job id and the task's index
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "4243")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    assert launch(tmp_path / "array") == f"{cell}-j4243_3"
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "local")  # a study's task on submitit's local executor: its job id
    monkeypatch.setenv("SUBMITIT_LOCAL_JOB_ID", "777")
    assert launch(tmp_path / "local") == f"{cell}-j777"
    assert launch(tmp_path / "mine", id="my-run") == "my-run"  # logger.id: every launch logs to that run


def inputs_and_outputs(folder: Path) -> tuple[dict, dict]:
    """A run's artifacts by name, less its tables: those it used (inputs) and those it logged (outputs), each with
    its type, aliases and digest."""
    arts = wandb_records(folder if folder.name.startswith("offline-run-") else the_run(folder), "artifact")
    pick = lambda used: {a["name"]: (a["type"], set(a["aliases"]) - {"latest"}, a["digest"])  # noqa: E731
                         for a in arts if bool(a.get("use_after_commit")) == used and a["type"] != "run_table"}
    return pick(True), pick(False)


def test_the_lineage_runs_from_the_seeds_through_each_stage_to_the_student(tmp_path):
    """Three launches (`stage=synthesize`, `stage=mix`, then training), each using what the one before logged:
    the used and the logged version have the same name and digest, which W&B makes one version once synced."""
    store = tmp_path / "store"
    synth, mix, model = artifact(store, "synthesize", "s1"), artifact(store, "mix", "m1"), student(store, "t1")
    first = open_run(tmp_path / "synthesize")
    first.log_stage(StageResult("synthesize", "few_shot", synth, False))
    first.finish()
    second = open_run(tmp_path / "mix")
    second.log_stage(StageResult("synthesize", "few_shot", synth, True))  # read from the store, not computed
    second.log_stage(StageResult("mix", "", mix, False))
    second.finish()
    third = open_run(tmp_path / "train")
    third.log_stage(StageResult("synthesize", "few_shot", synth, True))
    third.log_stage(StageResult("mix", "", mix, True))
    third.log_stage(StageResult("train", "", model, False))
    third.finish()
    used, made = inputs_and_outputs(tmp_path / "synthesize")
    assert set(used) == {"seeds-builtin"} and used["seeds-builtin"][:2] == ("seeds", {"builtin-64"})
    assert made["synthesize-few_shot"][:2] == ("synthesize", {"s1"})  # named by agent, its store key an alias
    used2, made2 = inputs_and_outputs(tmp_path / "mix")
    assert used2["synthesize-few_shot"] == made["synthesize-few_shot"]  # the same version
    assert "seeds-builtin" not in used2 and set(made2) == {"mix-few_shot"}  # seeds only where synthesize ran
    used3, made3 = inputs_and_outputs(tmp_path / "train")
    assert used3["mix-few_shot"] == made2["mix-few_shot"]
    assert used3["synthesize-few_shot"] == made["synthesize-few_shot"]
    (name,) = made3
    assert name == "student-agent-few_shot-qc-majority" and made3[name][:2] == ("model", {"t1"})
    refs = {a["name"]: a["manifest"]["contents"] for a in wandb_records(the_run(tmp_path / "train"), "artifact")}
    assert {c["ref"] for c in refs[name]} == {(model.path / "model" / "config.json").as_uri()}  # the model folder
    assert {c["ref"] for c in refs["mix-few_shot"]} == {(mix.path / "manifest.json").as_uri()}


def test_a_rerun_of_a_finished_cell_is_a_new_run_that_uses_what_the_first_made(tmp_path, monkeypatch):
    """`flames stage=synthesize`, then `flames stage=problem_qc` twice (scripted models): three runs, the reruns
    with the same cell hash and new ids; the first uses the seeds, the later ones the first one's synthesize."""
    monkeypatch.delenv("WANDB_SERVICE", raising=False)  # this process's W&B service (earlier tests' runs): not theirs
    args = [*scripted_args(tmp_path, models=("problem_model",)), *TINY, "logger=wandb", f"logger.dir={tmp_path / 'wb'}"]
    for stage in ("synthesize", "problem_qc", "problem_qc"):
        proc = run_flames([*args, f"stage={stage}"], tmp_path, tmp_path / "store", timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
    runs = sorted((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    ids = [wandb_records(r, "run")[0]["run_id"] for r in runs]
    assert len(set(ids)) == 3 and ids[1].split("-")[0] == ids[2].split("-")[0] != ids[0].split("-")[0], ids
    (used, made), *later = [inputs_and_outputs(r) for r in runs]
    assert set(used) == {"seeds-builtin"} and set(made) == {"synthesize-distraction_insertion"}
    (used1, made1), (used2, made2) = later
    assert used1 == made and set(made1) == {"problem_qc-distraction_insertion"}
    assert used2 == made | made1 and not made2  # the rerun computed nothing: it read both
