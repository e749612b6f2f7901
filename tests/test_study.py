"""Studies: cells planned by artifact key (deduped across cells), arrays per stage and request, failures.

The plan is computed from keys alone (nothing runs); the runs go through submitit's local executor
here and through the real local SLURM in tests/test_slurm.py.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

import pytest
from omegaconf import open_dict

from flames.config import ConfigError
from flames.study import cells, format_plan, plan_study
from tests.e2e import run_flames, wandb_summary
from tests.helpers import compose_config
from tests.scripted_backend import BACKEND, scripted_args

PAPER_STUDIES = ["table1_qc", "table2_agents", "table5_models", "table11_mixtures", "scale", "transfer",
                 "public_datasets", "figure1", "solvability_audit"]


def plan(name: str, *extra: str):
    """A dry run's plan: hub benchmarks (experiment=paper's GSM-Plus test) are named by their spec, not loaded."""
    study = compose_config([f"study={name}", "study.dry_run=true"]).study
    return plan_study(study, list(extra), compose_config)


def test_cells_are_the_product_of_the_axes():
    study = compose_config(["study=table1_qc"]).study
    got = cells(study)
    assert len(got) == 12 and got[0] == ["qc=first", "qc.fixed_size=null"] and got[-1][1] == "qc.fixed_size=45000"


def test_cell_overrides_follow_the_axis_value_they_name():
    study = compose_config(["study=table2_agents"]).study
    by_agent = {cell[0]: cell[1:] for cell in cells(study)}
    assert by_agent["agent=fobar"] == by_agent["agent=self_verification"] == ["agent.num_problems=20000"]
    assert by_agent["agent=iqc"] == [] and len(by_agent) == 12 and by_agent["agent=qft"][0] == "agent.train_seeds=15000"
    with open_dict(study):
        study.cell_overrides["agnet=fobar"] = ["agent.num_problems=1"]
    with pytest.raises(ConfigError, match="agnet=fobar names no axis of study=table2_agents"):
        cells(study)
    narrowed = compose_config(["study=table2_agents", "study.axes={agent:[iqc,few_shot]}"]).study
    assert cells(narrowed) == [["agent=iqc"], ["agent=few_shot"]]  # fobar's overrides add nothing to these


@pytest.mark.parametrize("name", PAPER_STUDIES)
def test_every_paper_study_plans_its_artifacts_and_requests(name, flames_data):
    p = plan(name)
    text = format_plan(p)
    assert f"Study {name}" in text and "GPU-hours" in text
    arrays = p.arrays()
    assert arrays and all(r.cpus >= 1 and r.mem_gb > 0 and r.time_min > 0 for _, r, _ in arrays)
    by_stage = {s: r for s, r, _ in arrays}
    if "train" in by_stage:  # the audit stops before mix
        assert by_stage["train"].gpus == 8 and by_stage["mix"].gpus == 0
    assert by_stage["problem_qc"].gpus == 0
    gen = {s: max(r.gpus for s2, r, _ in arrays if s2 == s) for s in ("synthesize", "solve")}
    assert gen["synthesize"] >= 1 and gen["solve"] >= 1  # generation asks for GPUs (a rule-based agent: none)
    for stage, keys in p.artifacts.items():  # each unique artifact is one task's (or one set of shards'), once
        assigned = [k for t in p.tasks.get(stage, []) if not t.shard or t.shard[0] == 0 for k in t.keys]
        assert sorted(assigned) == sorted(k for k, done in keys.items() if not done), stage
    # every task fits its GPUs, reaches its target and ends within its time limit (generation sharded to fit)
    assert not [(t.stage, t.cell, v.detail) for ts in p.tasks.values() for t in ts for v in t.infeasible]


def test_table1_qc_shares_one_pool_and_keeps_cpu_strategies_off_gpus(flames_data):
    p = plan("table1_qc")
    unique = {stage: len(keys) for stage, keys in p.artifacts.items()}
    assert unique["synthesize"] == unique["problem_qc"] == unique["solve"] == 1  # one pool for 12 cells
    assert unique["solution_qc"] == unique["train"] == unique["evaluate"] == 12
    qc_arrays = {r.gpus: len(tasks) for s, r, tasks in p.arrays() if s == "solution_qc"}
    assert qc_arrays == {0: 8, 1: 4}  # first, majority, majority_first, strict need no GPU; the judges do
    # one W&B run per cell: only its last stage's task logs (every stage, reused, with the training curve)
    assert all("logger=none" in t.argv for s in ("synthesize", "solve", "train") for t in p.tasks[s])
    assert not any("logger=none" in t.argv for t in p.tasks["evaluate"])
    assert all({"stage=solve", "study_task=true", "logger.group=table1_qc"} <= set(t.argv) for t in p.tasks["solve"])


def test_the_scale_study_grows_each_pool_once_from_its_largest_cell(flames_data):
    """FLAMES Small, Large and XL share their agents' pools (keyed without sizes): XL's tasks make them, the
    smaller cells read their views, and each cell mixes its own budget."""
    p = plan("scale")
    for stage in ("synthesize", "solve", "solution_qc"):
        assert len(p.artifacts[stage]) == 4, stage  # one pool per agent for the three cells
        assert [k for t in p.tasks[stage] for k in t.keys] and all("mixture=flames_xl" in t.argv
                                                                  for t in p.tasks[stage]), stage
    assert len(p.artifacts["mix"]) == len(p.tasks["mix"]) == 3
    # XL's generation is split so that each task fits one 24 h job: shards of one pool, one agent each
    se = [t for t in p.tasks["synthesize"] if "shard.agent=suggester_editor" in t.argv]
    assert len(se) == se[0].shard[1] > 1 and [t.shard[0] for t in se] == list(range(len(se)))
    assert all(f"shard.index={t.shard[0]}" in t.argv and len(set(t.keys)) == 1 for t in se)
    assert all(t.gpu_hours / t.resources.gpus <= t.resources.time_min / 60 for t in p.tasks["synthesize"])
    text = format_plan(p)  # each blend's budget split is in the plan
    assert ("Mixture flames_xl: 1,500,000 = suggester_editor 750,000 + iqc 300,000 + taxonomy_key_concepts 300,000 + "
            "distraction_insertion 150,000") in text and "Mixture flames_small: 150,000 = " in text


def test_the_dry_run_prints_the_plan_and_submits_nothing(tmp_path, flames_data):
    """Table 2: ten agents at the paper's 150K, FOBAR and Self-Verification at 20K (their cell_overrides): they
    make one problem per maskable number of a seed, 33,559 from GSM8K + MATH train. Without the overrides the
    dry run refuses the plan (exit 2) and names them."""
    proc = run_flames(["study=table2_agents", "study.dry_run=true"], tmp_path, tmp_path / "store", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Study table2_agents: 12 cells" in proc.stdout and "Jobs: " in proc.stdout
    assert "fobar: 20,000 of at most 33,559" in proc.stdout and "iqc: 150,000 of at most" in proc.stdout
    assert not (tmp_path / "outputs" / "studies").exists() and not (tmp_path / "store").exists()
    refused = run_flames(["study=table2_agents", "study.dry_run=true", "study.axes={agent:[fobar,self_verification,iqc]}",
                          "agent.num_problems=150000"], tmp_path, tmp_path / "store", timeout=600)
    assert refused.returncode == 2 and "2 infeasible" in refused.stderr, refused.stderr[-2000:]
    assert "[agent=fobar agent.num_problems=20000] capacity: fobar: at most 33,559" in refused.stderr
    assert "[agent=self_verification agent.num_problems=20000] capacity" in refused.stderr


def study_dir(tmp_path: Path, axes: str, overrides: str) -> Path:
    """A user's own study file, next to the shipped ones (`flames --config-dir <dir> study=mine`)."""
    conf = tmp_path / "myconf" / "study"
    conf.mkdir(parents=True)
    (conf / "mine.yaml").write_text(textwrap.dedent(f"""\
        name: mine
        overrides: {overrides}
        axes: {axes}
        """))
    return tmp_path / "myconf"


TINY = "[agent=fobar, agent.num_problems=3, solve.num_samples=1]"


def test_a_failed_cell_is_listed_the_others_finish_and_a_rerun_plans_only_it(tmp_path):
    """One cell's solve goes to a server that is not there: that cell fails, the other (scripted) reaches
    solution_qc. Tasks: synthesize and problem_qc (one each, shared), solve and solution_qc (one per cell):
    the healthy cell's four finish, the other's solve fails and its solution_qc fails at once (study_task)."""
    conf = study_dir(tmp_path, f"{{solution_model.backend: [{BACKEND}, openai]}}", TINY)
    models = [*scripted_args(tmp_path, models=("problem_model",)), f"solution_model.name={tmp_path / 'scripted-model'}"]
    args = ["--config-dir", str(conf), "study=mine", "study.executor=local", "stage=solution_qc", *models,
            "solution_model.base_url=http://127.0.0.1:9/v1", "solution_model.max_retries=0"]
    proc = run_flames(args, tmp_path, tmp_path / "store", timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert "Study: 4 tasks done, 2 failed" in out, out[-3000:]
    failed = [line for line in out.splitlines() if line.strip().startswith("FAILED")]
    assert failed and all("solution_model.backend=openai" in line for line in failed), failed
    assert "log: " in out and "solve" in failed[0]
    (marker,) = (tmp_path / "outputs" / "studies" / "mine" / "solve").glob("*/FAILED.json")  # next to its logs
    record = json.loads(marker.read_text())
    assert record["stage"] == "solve" and "solution_model.backend=openai" in record["argv"] and record["keys"]
    store = tmp_path / "store"
    assert len(list((store / "synthesize").glob("*/_COMPLETE"))) == 1  # shared by both cells
    assert len(list((store / "solution_qc").glob("*/_COMPLETE"))) == 1  # the healthy cell finished
    runs = {s["name"]: s for s in map(wandb_summary, tmp_path.glob("outputs/runs/*/*/wandb/offline-run-*"))}
    states = {name.split("solution_model.backend=")[1].split(",")[0]: s["state"] for name, s in runs.items()}
    assert states == {BACKEND: "finished", "openai": "failed"}, states  # each cell's run; the failed one marked
    assert all(s["group"] == "mine" and s["job_type"] == "solution_qc" for s in runs.values()), runs
    report = (tmp_path / "outputs" / "studies" / "mine" / "report" / "mine.csv").read_text()  # written all the same
    statuses = {r["solution_model.backend"]: r["status"] for r in csv.DictReader(io.StringIO(report))
                if r["source"] == "ours"}
    assert statuses == {BACKEND: "done", "openai": "missing solve"}, statuses
    again = run_flames([*args, "study.dry_run=true"], tmp_path, store, timeout=600)
    rows = {line.split()[0]: line.split() for line in again.stdout.splitlines() if line[:1].isalpha()}
    assert rows["synthesize"][3] == "0" and rows["solve"][3] == "1" and rows["solution_qc"][3] == "1", again.stdout


def test_a_task_whose_child_slurm_killed_waits_for_the_requeue_instead_of_failing(monkeypatch):
    """Under SLURM, a child ended by a signal means the job is being ended (requeue, preemption): the task
    waits for SLURM's kill; only past `kill_wait_s` (the child died on its own) does it fail."""
    import signal
    import subprocess
    import sys
    import time

    from flames.study import StudyTask

    waits = []  # what the task slept for, instead of measuring it: a clock flakes on a loaded machine
    monkeypatch.setattr(time, "sleep", waits.append)
    task = StudyTask([sys.executable, "-c", "import os, signal, sys; os.kill(os.getpid(), int(sys.argv[1]))"])
    task.kill_wait_s = 12.5
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    with pytest.raises(subprocess.CalledProcessError) as failed:
        task([str(int(signal.SIGTERM))])
    assert failed.value.returncode == -signal.SIGTERM  # killed by the signal, and only then failed
    assert waits == [12.5]  # it waited kill_wait_s for SLURM's kill first
    monkeypatch.delenv("SLURM_JOB_ID")
    with pytest.raises(subprocess.CalledProcessError) as failed:  # no SLURM: nothing to wait for
        task([str(int(signal.SIGTERM))])
    assert failed.value.returncode == -signal.SIGTERM
    assert waits == [12.5]  # no second wait


def test_a_task_does_not_hand_the_submitting_shells_wandb_service_to_its_child(monkeypatch):
    """sbatch exports the submitter's environment; a WANDB_SERVICE there (a notebook or test process with a
    run open) would make every task share that process's W&B service, and a requeued attempt find its own
    run id still open in it. The child starts without it; everything else passes through."""
    import sys

    from flames.study import StudyTask

    monkeypatch.setenv("WANDB_SERVICE", "unix-12345-/tmp/a-socket-of-the-login-node")
    monkeypatch.setenv("FLAMES_PASSED_THROUGH", "yes")
    code = "import os, sys; sys.exit(3 * ('WANDB_SERVICE' in os.environ) + 5 * ('FLAMES_PASSED_THROUGH' not in os.environ))"
    StudyTask([sys.executable, "-c", code])([])  # raises CalledProcessError(3 or 5) otherwise


def test_checkpoint_stops_the_child_and_resubmits_the_same_task():
    """submitit's timeout hook: the running child gets SIGINT (Python unwinds), the same argv is resubmitted.
    The task is started with SIGINT ignored (as a script's `flames ... &`, or a pytest-xdist worker, has it):
    the child must not inherit that, or the SIGINT would be lost and the child run on."""
    import signal
    import sys
    import threading
    import time

    from flames.study import StudyTask

    task = StudyTask([sys.executable, "-c", "import sys, time; time.sleep(float(sys.argv[1]))"])
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _catch(errors, task, ["60"]))
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # what the child would inherit
    try:
        thread.start()
        while task.child is None:
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, before)
    time.sleep(0.5)  # let the child's interpreter start (SIGINT before that kills it outright, also fine)
    delayed = task.checkpoint(["60"])
    thread.join(timeout=30)
    assert not thread.is_alive() and task.child.returncode != 0
    assert isinstance(delayed.function, StudyTask) and delayed.args == (["60"],)
    assert delayed.function.command == task.command


def _catch(errors: list, fn, *args) -> None:
    try:
        fn(*args)
    except BaseException as e:  # noqa: BLE001 - the test reads it
        errors.append(e)


def test_a_cell_that_does_not_compose_is_one_line_naming_it(monkeypatch, capsys):
    from tests.helpers import run_cli

    code = run_cli(monkeypatch, ["study=table2_agents", "study.dry_run=true", "study.axes={agent:[iqc]}",
                                 "study.overrides=['experiment=table2_agents','agent.nope=1']"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("flames: error: study table2_agents: cell [agent=iqc] does not compose"), err
    assert "agent.nope" in err[0], err


def test_the_local_executor_shares_the_cores_among_a_stages_tasks(monkeypatch):
    from flames.cluster import local_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(4)))
    assert local_threads(1) == {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"}  # alone: every core
    assert local_threads(2)["OMP_NUM_THREADS"] == "2" and local_threads(8)["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert local_threads(2) == {}  # the user's setting stands
