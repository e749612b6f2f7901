"""Studies: a factorial over config groups run as SLURM job arrays, stage by stage.

`flames study=table1_qc` composes every cell of the study (its `axes` crossed, over its `overrides`
and the command line's), plans each cell's artifacts without running anything
(`Pipeline.plan`: keys only), dedupes them across cells, and submits one job array per stage whose
tasks compute the artifacts still missing, each array `afterany` on the stage before (a task whose
inputs a failed job left missing fails at once: `study_task=true`). So a shared
artifact (one suggester_editor pool for six QC strategies) is computed by one task, and no job waits
on a lock while holding GPUs. Each task runs `flames <cell overrides> stage=<stage>`: exactly what a
user would type, reusing what earlier arrays made. `study.dry_run=true` prints the plan.

Jobs go through submitit (`executor=slurm`, or `local` to run the arrays one after another without
SLURM); the stage's `Resources` become the job's request, with the gpu or cpu partition by need.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from omegaconf import DictConfig

from flames import feasibility, servers
from flames.cluster import job_parameters, local_threads
from flames.config import ConfigError, MixtureConfig, Resources
from flames.files import write_json_atomic
from flames.pipeline import STAGE_NAMES, Pipeline
from flames.stages import STAGE_BY_NAME
from flames.store import covers

log = logging.getLogger(__name__)
FAILED_MARKER = "FAILED.json"  # written next to a failed task's logs: its cell, artifacts and reason


@dataclass
class Task:
    """One task of a stage array: the cell it runs, the artifacts it is there to compute, its request."""

    stage: str
    argv: list[str]
    keys: list[str]
    resources: Resources
    gpu_hours: float = 0.0
    checks: list = field(default_factory=list)  # flames.feasibility.Verdict: memory and capacity, then time
    cell: list[str] = field(default_factory=list)  # the cell's axis overrides (how the dry run names the task)
    checkpoints: int = 0  # checkpoints a training task saves, evenly spread: a requeued job resumes from the last
    shard: tuple[int, int] | None = None  # (index, count) of a sharded artifact's task

    @property
    def infeasible(self) -> list:
        return [v for v in self.checks if v.ok is False]


@dataclass
class StudyPlan:
    name: str
    cells: list[list[str]]
    artifacts: dict[str, dict[str, bool]] = field(default_factory=dict)  # stage -> key -> complete
    tasks: dict[str, list[Task]] = field(default_factory=dict)  # stage -> tasks (missing artifacts only)
    planned: list[list] = field(default_factory=list)  # per cell: every stage's artifact (Pipeline.plan)
    benchmarks: list[str] = field(default_factory=list)  # what the cells evaluate (the W&B report's panels)
    budgets: dict[str, dict[str, int]] = field(default_factory=dict)  # a blend's budget split: agent -> its target
    models: dict[str, set[str]] = field(default_factory=dict)  # role -> its names in the cells (study.servers' pools)

    def arrays(self) -> list[tuple[str, Resources, list[Task]]]:
        """One job array per stage and request, in stage order: a CPU-only QC cell never holds a GPU."""
        out = []
        for stage in STAGE_NAMES:
            groups: dict[tuple, list[Task]] = {}
            for task in self.tasks.get(stage, []):
                groups.setdefault(astuple(task.resources), []).append(task)
            out += [(stage, tasks[0].resources, tasks) for tasks in groups.values()]
        return out


def cells(study: Any) -> list[list[str]]:
    """The overrides of every cell: the product of the axes, in order, each followed by the `cell_overrides`
    of the axis values it holds."""
    axes = [[f"{key}={'null' if v is None else v}" for v in values] for key, values in study.axes.items()]
    extra = dict(study.get("cell_overrides") or {})
    # a value the axes no longer hold (narrowed on the command line) adds nothing; an unknown axis is a mistake
    unknown = sorted(k for k in extra if k.split("=", 1)[0] not in study.axes)
    if unknown:
        raise ConfigError(f"study.cell_overrides: {unknown[0]} names no axis of study={study.name} "
                          f"(write <axis>=<value>; axes: {', '.join(study.axes)})")
    combos = itertools.product(*axes) if axes else [()]
    baseline = [list(study.baseline)] if study.get("baseline") else []
    return baseline + [[*combo, *(o for member in combo for o in extra.get(member, []))] for combo in combos]


def plan_study(study: Any, extra: list[str], compose: Callable[[list[str]], DictConfig]) -> StudyPlan:
    """Compose and plan every cell; one task per cell that holds a stage's not-yet-assigned missing artifact.

    A pool (a generation artifact, keyed without its size) that several cells ask different sizes of is
    computed by the task of the cell asking the most (FLAMES XL's for Small, Large and XL): the others read
    their views of it.
    """
    plan = StudyPlan(study.name, cells(study))
    composed = []
    for cell in plan.cells:
        argv = [*study.overrides, *cell, *extra]
        cfg = compose_or_say(compose, argv, study.name, cell)
        pipeline = Pipeline(cfg)
        pipeline.shared.offline = bool(study.dry_run)  # a dry run downloads no hub benchmark
        planned = pipeline.plan()
        plan.planned.append(planned)
        plan.benchmarks = list(dict.fromkeys([*plan.benchmarks, *cfg.benchmarks.suite]))
        for role in servers.served(study):
            plan.models.setdefault(role, set()).add(str(cfg.get(role, {}).get("name")))
        if cfg.mixture.name != "single" and MixtureConfig.budget_of(cfg.mixture) and pipeline.sizes:
            plan.budgets[cfg.mixture.name] = {label: s.target for label, s in pipeline.sizes.items()}
        composed.append((argv, cfg, pipeline, planned))
    wanted = largest_asks(r for planned in plan.planned for r in planned if not r.reused)
    assigned: set[tuple] = set()
    for cell, (argv, cfg, pipeline, planned) in zip(plan.cells, composed):
        last = planned[-1].stage if planned else None
        for result in planned:
            stage, key = result.stage, result.artifact.key
            done = plan.artifacts.setdefault(stage, {})
            done[key] = done.get(key, True) and result.reused
            task_id = (key, _ask_id(result.ask))
            if result.reused or task_id in assigned or result.ask not in wanted[key]:
                continue
            assigned.add(task_id)
            agent = pipeline.agent_cfgs.get(result.label)
            need = STAGE_BY_NAME[stage].resources_for(cfg, agent)
            hours = feasibility.gpu_hours(stage, cfg, pipeline.agent_cfgs, result.label, need, study)
            checks = feasibility.before_time(stage, cfg, agent, need)
            tasks = plan.tasks.setdefault(stage, [])
            # one W&B run per cell: its last stage's task logs every stage (reused) with the curve
            task_argv = [*argv, f"stage={stage}", "study_task=true", f"logger.group={study.name}",
                         *([] if stage == last else ["logger=none"])]
            if STAGE_BY_NAME[stage].shardable:  # one array task per shard of each artifact
                tasks += shard_tasks(stage, task_argv, key, need, hours, checks, cell, result.label, study)
            elif tasks and tasks[-1].argv[:len(argv)] == argv:  # the cell's task computes another agent's too
                tasks[-1].keys.append(key)
                tasks[-1].gpu_hours += hours
                tasks[-1].checks += [v for v in checks if v.check == "capacity"]
            else:
                tasks.append(Task(stage, task_argv, [key], need, hours, checks, cell,
                                  feasibility.checkpoints(stage, cfg, agent)))
    for task in (t for tasks in plan.tasks.values() for t in tasks):  # time: once a task's GPU-hours are summed
        task.checks += feasibility.time_checks(task.stage, task.gpu_hours, task.resources, study.max_num_timeout,
                                               task.checkpoints)
    return plan


def compose_or_say(compose: Callable[[list[str]], DictConfig], argv: list[str], name: str, cell: list[str]) -> DictConfig:
    """A cell's config; one that does not compose (a study file's override, a cell override) is the user's to fix:
    a one-line ConfigError naming the cell, not Hydra's traceback."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        return compose(argv)
    except (HydraException, OmegaConfBaseException) as e:
        why = " ".join(str(x).splitlines()[0] for x in (e, e.__cause__) if x is not None)
        raise ConfigError(f"study {name}: cell [{' '.join(cell)}] does not compose: {why}") from None


def shard_tasks(stage: str, argv: list[str], key: str, need: Resources, hours: float, checks: list, cell: list[str],
                label: str, study: Any) -> list[Task]:
    """The tasks of one pool artifact: `study.shards` of them, else as many as its hours need to fit one job of the
    stage's time limit (one: a plain task); each computes one agent's (`shard.agent`)."""
    count = study.shards or feasibility.shards_needed(hours, need)
    own = [f"shard.agent={label}"] if label else []
    named = [*cell, label] if label and not any(o.startswith("agent=") for o in cell) else cell  # the dry run's name
    if study.shards is None and count == 1:
        return [Task(stage, [*argv, *own], [key], need, hours, checks, named)]
    return [Task(stage, [*argv, *own, f"shard.index={i}", f"shard.count={count}"], [key], need, hours / count,
                 list(checks), named, shard=(i, count)) for i in range(count)]


def largest_asks(results: Iterable[Any]) -> dict[str, list]:
    """Artifact key -> the asks its tasks compute: every ask of it that no other ask covers (None: not a pool).

    Two asks that do not cover each other (more problems, fewer samples) are both computed, one after the
    other (the store's lock); the second grows what the first made."""
    asks: dict[str, list] = {}
    for r in results:
        if r.ask not in asks.setdefault(r.artifact.key, []):
            asks[r.artifact.key].append(r.ask)
    return {key: [a for a in found if a is None or not any(b != a and b is not None and covers(b, a) for b in found)]
            for key, found in asks.items()}


def _ask_id(ask: dict | None) -> tuple | None:
    return None if ask is None else tuple(sorted(ask.items()))


def format_plan(plan: StudyPlan) -> str:
    """What study.dry_run prints: cells, unique artifacts, jobs, requests, GPU-hours."""
    lines = [f"Study {plan.name}: {len(plan.cells)} cells", "",
             f"{'stage':<12} {'unique':>6} {'done':>5} {'tasks':>5}  {'request per task':<32} {'GPU-h (est.)':>12}"]
    for stage in STAGE_NAMES:
        arts = plan.artifacts.get(stage)
        if not arts:
            continue
        arrays = [(r, tasks) for s, r, tasks in plan.arrays() if s == stage] or [(None, [])]
        for i, (r, tasks) in enumerate(arrays):
            head = f"{stage:<12} {len(arts):>6} {sum(arts.values()):>5}" if i == 0 else " " * 25
            request = f"{r.cpus} cpu, {r.gpus} gpu, {r.mem_gb} GB, {r.time_min} min" if r else "-"
            lines.append(f"{head} {len(tasks):>5}  {request:<32} {sum(t.gpu_hours for t in tasks):>12.1f}")
    arrays = plan.arrays()
    hours = sum(t.gpu_hours for _, _, tasks in arrays for t in tasks)
    order = " -> ".join(dict.fromkeys(s for s, _, _ in arrays)) or "nothing to run"
    lines += ["", f"Jobs: {len(arrays)} arrays, {sum(len(t) for _, _, t in arrays)} tasks; each stage's arrays "
              f"start after the previous stage's: {order}",
              f"GPU-hours (rough upper bound, every completion at its token limit): {hours:.1f}"]
    for name, split in plan.budgets.items():  # each blend's budget, as its agents' synthesize targets
        lines.append(f"Mixture {name}: {sum(split.values()):,} = " + " + ".join(f"{a} {n:,}" for a, n in split.items()))
    return "\n".join(lines)


class StudyTask:
    """One task: the flames CLI on a cell, in a child process; a failure raises, so the job ends FAILED in sacct.

    Preemption, `scontrol requeue` and timeouts restart the task, which resumes its artifact (the store keeps
    what the killed attempt wrote) and its W&B run (the id is a hash of the argv). SLURM ends a job with
    SIGTERM (or submitit's timeout signal) to every process, then SIGKILL after KillWait: a child killed by a
    signal is that, not a failure, so the task waits for the kill (or submitit's requeue) instead of
    writing a failed result that the study would read before the requeued attempt ran.
    """

    kill_wait_s = 120.0  # longer than SLURM's KillWait (30 s by default): past it the child died on its own (OOM)

    def __init__(self, command: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.command = command or [sys.executable, "-m", "flames"]
        self.env = dict(env or {})  # over the job's environment (the local executor: the threads a task may use)
        self.child: subprocess.Popen | None = None

    def __call__(self, argv: list[str]) -> None:
        self.child = subprocess.Popen([*self.command, *argv], env={**task_env(), **self.env},
                                      preexec_fn=default_sigint)
        code = self.child.wait()
        if code < 0 and os.environ.get("SLURM_JOB_ID"):  # SLURM is ending this job (requeue, preemption, timeout)
            log.warning("flames was killed by %s; waiting for SLURM to end or requeue this job",
                        signal.Signals(-code).name)
            time.sleep(self.kill_wait_s)
        if code:
            raise subprocess.CalledProcessError(code, self.child.args)

    def checkpoint(self, argv: list[str]) -> Any:
        """submitit's timeout/preemption hook: stop the child (its work is in the store), resubmit the same task."""
        import submitit

        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGINT)  # Python unwinds: locks released, the W&B run closed
            try:
                self.child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.child.kill()
        return submitit.helpers.DelayedSubmission(StudyTask(self.command), argv)


def default_sigint() -> None:
    """In the child, before it starts: SIGINT back to its default. A task started where SIGINT is ignored (a
    script's `flames ... &` without job control, a pytest-xdist worker) would hand its child that disposition,
    and Python leaves an ignored SIGINT ignored: `checkpoint` could not stop the child."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def task_env() -> dict[str, str]:
    """The job's environment for the flames child, less the submitting shell's W&B service: sbatch exports
    WANDB_SERVICE from a notebook or test process that had a run open, and a child that connects to that
    service shares its runs: a requeued attempt then finds its own run id still open there ("run ID is in
    use"). Each task starts its own service."""
    return {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}


def submit(plan: StudyPlan, study: Any, profile: dict | None = None, pools: list | None = None) -> list:
    """Submit one array per stage and request, each after every array of the stage before (and a stage's model
    server pools before it, flames.servers); `profile`: the `hydra/launcher` profile's settings (flames.cluster)."""
    import submitit

    submitted: list[tuple[Task, Any]] = []
    previous: list = []  # the jobs of the last stage submitted
    current_stage, current = None, []
    for stage, request, tasks in plan.arrays():
        if stage != current_stage:
            previous, current, current_stage = current or previous, [], stage
            if study.executor == "local":  # no scheduler: run the stages one after another
                for job in previous:
                    job.wait()
            servers.start(stage, pools or [], study, profile, previous)
        executor = submitit.AutoExecutor(folder=Path(study.folder) / plan.name / stage / "%j", cluster=study.executor,
                                         slurm_max_num_timeout=study.max_num_timeout)  # a constructor argument
        executor.update_parameters(**servers.depend(job_parameters(stage, request, study, previous, profile), stage,
                                                    pools or []))
        env = local_threads(sum(len(t) for s, _, t in plan.arrays() if s == stage)) if study.executor == "local" else {}
        jobs = executor.map_array(StudyTask(env=env), [t.argv for t in tasks])
        log.info("study %s: %s -> %d tasks (job %s)", plan.name, stage, len(jobs), jobs[0].job_id.split("_")[0])
        submitted += list(zip(tasks, jobs))
        current += jobs
    servers.stop_after(pools or [], submitted, study, profile)
    return submitted


def report(submitted: list[tuple[Task, Any]]) -> int:
    """Wait for every job; list each failed or cancelled task with its log; the number of failures."""
    failed = []
    for task, job in submitted:
        try:
            job.result()
        except Exception as e:  # noqa: BLE001 - a failed task is reported, the others still finish
            failed.append((task, job, failure_reason(Path(job.paths.stderr)) or type(e).__name__))
    states = Counter("failed" if any(t is task for t, _, _ in failed) else "done" for task, _ in submitted)
    print(f"Study: {states['done']} tasks done, {states['failed']} failed", flush=True)
    for task, job, why in failed:
        marker = Path(job.paths.stderr).parent / FAILED_MARKER  # next to the task's logs, for later inspection
        write_json_atomic(marker, {"stage": task.stage, "argv": task.argv, "keys": task.keys, "reason": why,
                                   "job": job.job_id, "log": str(job.paths.stderr)})
        print(f"  FAILED {task.stage} [{' '.join(task.argv)}]\n    log: {job.paths.stderr}\n    {why}", flush=True)
    return len(failed)


def failure_reason(stderr: Path) -> str:
    """The line that says why a task's flames failed: its one-line user error, else the exception's last line."""
    try:
        lines = [line.strip() for line in stderr.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    said = [line for line in lines if line.startswith("flames: error:")]
    raised = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b.*:", line)
              and not line.startswith("subprocess.CalledProcessError")]
    return (said or raised or [""])[-1][:500]


def run_study(cfg: DictConfig, extra: list[str], compose: Callable[[list[str]], DictConfig],
              profile: dict | None = None) -> int:
    """`flames study=<name>`: plan, then print (dry run) or submit and wait; the number of failed tasks."""
    study = cfg.study
    if not study.name:
        raise ConfigError("study: pick one with study=<name> (conf/study/)")
    if study.executor not in ("slurm", "local"):
        raise ConfigError(f"study.executor={study.executor!r}: slurm or local")
    if study.report_from not in ("store", "wandb"):
        raise ConfigError(f"study.report_from={study.report_from!r}: store or wandb")
    if study.report_from == "wandb":  # the tables from the cells' W&B runs: nothing is planned or submitted
        from flames.wandb_report import report_from_runs, study_runs

        runs = study_runs(study.name, cfg.logger.project, cfg.logger.entity)
        paths = report_from_runs(study.name, runs, Path(study.folder) / study.name / "report", list(study.axes))
        print(f"Report ({len(runs)} W&B runs): {paths[0]}", flush=True)
        return 0
    plan = plan_study(study, extra, compose)
    pools = servers.plan_pools(study, plan.models)
    servers.assign(plan, pools)
    print(format_plan(plan) + (f"\n{servers.describe(pools)}" if pools else ""), flush=True)
    print(feasibility.format_checks(plan), flush=True)
    feasibility.refuse_infeasible(plan, study)
    if study.dry_run:
        return 0
    try:
        failed = report(submit(plan, study, profile, pools)) if plan.tasks else 0
    finally:
        servers.cancel(pools)
    if study.report and (study.wait or not plan.tasks):
        paths = write_study_report(plan, study)
        if study.wandb_report:
            save_wandb_report(plan, study, cfg.logger, paths[0].read_text())
    return failed


def save_wandb_report(plan: StudyPlan, study: Any, logger: Any, markdown: str) -> None:
    from flames.wandb_report import build_report, save_report

    report = build_report(plan.name, logger.project, logger.entity, markdown, plan.benchmarks, list(study.axes))
    print(f"W&B report: {save_report(report)}", flush=True)


def write_study_report(plan: StudyPlan, study: Any) -> list[Path]:
    """The study's tables (Markdown, CSV) and plots, from its cells' manifests; a failed cell shows what is missing."""
    from flames.report import Cell, audit_lines, diagnostics, paired_sections, study_pairs, write_report

    cells_ = [Cell(dict(o.split("=", 1) for o in cell), results) for cell, results in zip(plan.cells, plan.planned)]
    baseline = [o.split("=", 1)[0] for o in study.get("baseline") or []]
    axes = list(dict.fromkeys([*baseline, *study.axes]))
    paired = study_pairs(cells_, contrasts=bool(baseline))
    paths = write_report(plan.name, cells_, Path(study.folder) / plan.name / "report", axes, paired)
    print(f"Report: {paths[0]}" + "".join(f"\n        {p}" for p in paths[1:]), flush=True)
    if baseline and paired:  # the study's answer: each cell against the baseline, the axes' cells against each other
        print("\n".join(paired_sections(paired)), flush=True)
    found, audit = diagnostics(cells_), audit_lines(cells_)
    if found:  # the paper's failure signatures that fire, with its advice
        print("Diagnostics (the paper's failure signatures):\n" + "\n".join(found), flush=True)
    if audit:
        print("Solvability audit:\n" + "\n".join(audit), flush=True)
    return paths
