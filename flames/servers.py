"""Model server pools: a study's K replicas of the vLLM OpenAI server per model, as SLURM jobs its tasks call.

    flames study=table2_agents experiment=paper study.servers.problem_model.replicas=4 \\
        study.servers.solution_model.replicas=4

Without pools, every task loads its model (a 32B model: minutes per task). With one, for each model role with
`study.servers.<role>.replicas` > 0 (problem_model, solution_model), the study:
1. submits the pool's replicas, one job array, when the first stage that uses the model is submitted (after the
   stage before it, like that stage): each replica starts `python -m vllm.entrypoints.openai.api_server` (what
   `vllm serve` runs) on a free port and, once `/health` answers, registers its URL in
   `<study folder>/<study>/servers/<role>/replicas/<job>.json`, removed when it stops;
2. points the role's model at the pool in every task of those stages (`<role>.server_pool=<folder>`, which enters no
   artifact key): the tasks ask for no GPU of their own, start once the replicas have (`after:`), wait for a first
   healthy one, and the openai backend balances requests over the healthy replicas and goes on when one dies
   (flames.llm.replicas);
3. submits a stop job `afterany` on every task of those stages, which cancels the replicas; the study cancels them
   too when it ends, or is stopped.

A stage's fine-tuned model (QFT's generator, the teacher) is not the pool's: those tasks load it themselves.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from flames.cluster import job_parameters
from flames.config import ConfigError, Resources
from flames.files import write_json_atomic

# The stages that load each role's model (the judge of solution QC and the audit is the problem model).
USES = {"problem_model": ("synthesize", "solution_qc", "audit"), "solution_model": ("solve",)}
SERVER = [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]


@dataclass
class Pool:
    role: str
    model: str  # the role's model name in every cell (one pool serves one model)
    cfg: Any  # flames.config.ServerPoolConfig
    folder: Path
    jobs: list = field(default_factory=list)  # the replicas' jobs, once submitted

    @property
    def stages(self) -> tuple[str, ...]:
        return USES[self.role]

    @property
    def request(self) -> Resources:
        c = self.cfg
        return Resources(cpus=c.cpus, gpus=c.gpus, mem_gb=c.mem_gb, time_min=c.time_min)


def plan_pools(study: Any, models: dict[str, set[str]]) -> list[Pool]:
    """The study's pools (`models`: role -> the names the cells give it); one model per role, or a ConfigError."""
    pools = []
    for role, cfg in served(study).items():
        names = sorted(models.get(role, ()))
        if len(names) != 1:
            raise ConfigError(f"study.servers.{role}: the cells use {len(names)} {role}s ({', '.join(names)}); "
                              f"a pool serves one model")
        pools.append(Pool(role, names[0], cfg, Path(study.folder) / study.name / "servers" / role))
    return pools


def served(study: Any) -> dict[str, Any]:
    """role -> its pool's config, for the roles given replicas."""
    return {role: cfg for role, cfg in (study.get("servers") or {}).items() if cfg.replicas}


def assign(plan: Any, pools: list[Pool]) -> None:
    """Point the tasks of the stages a pool serves at it; they need no GPU of their own, except a task that
    samples from a model the study fine-tunes (QFT's generator, the teacher), which loads it as before."""
    tuned = {r.label for cell in plan.planned for r in cell if r.stage == "tune"}
    tuned_pools = {r.artifact.key for cell in plan.planned for r in cell if r.stage == "synthesize" and r.label in tuned}
    teacher = any(r.stage == "teach" for cell in plan.planned for r in cell)
    for pool in pools:
        for stage in pool.stages:
            for task in plan.tasks.get(stage, []):
                task.argv.append(f"{pool.role}.server_pool={pool.folder}")
                own = (stage == "synthesize" and bool(tuned_pools & set(task.keys))) or (stage == "solve" and teacher)
                if not own:
                    task.resources = replace(task.resources, gpus=0)


def describe(pools: list[Pool]) -> str:
    """The dry run's lines: each pool, its replicas and their request."""
    lines = [f"Server pool {p.role}: {p.cfg.replicas} x {p.model} ({p.request.cpus} cpu, {p.request.gpus} gpu, "
             f"{p.request.mem_gb} GB, {p.request.time_min} min each) for {', '.join(p.stages)}" for p in pools]
    return "\n".join(lines)


def start(stage: str, pools: list[Pool], study: Any, profile: dict | None, after: list) -> None:
    """Submit the replicas of the pools whose first stage is `stage` (after the jobs of the stage before)."""
    import submitit

    for pool in (p for p in pools if stage in p.stages and not p.jobs):
        replicas = pool.folder / "replicas"
        replicas.mkdir(parents=True, exist_ok=True)
        for old in replicas.glob("*.json"):  # a previous launch's (its replicas are gone)
            old.unlink()
        write_json_atomic(pool.folder / "pool.json", {"model": pool.model, "replicas": pool.cfg.replicas,
                                                      "wait_s": pool.cfg.wait_s})
        executor = submitit.AutoExecutor(folder=pool.folder / "logs" / "%j", cluster=study.executor)
        executor.update_parameters(**job_parameters(f"serve-{pool.role}", pool.request, study, after, profile))
        k = pool.cfg.replicas
        pool.jobs = executor.map_array(serve, [pool.model] * k, [str(pool.folder)] * k, [pool.cfg.port] * k,
                                       [list(pool.cfg.args)] * k, [dict(pool.cfg.env)] * k)


def depend(params: dict, stage: str, pools: list[Pool]) -> dict:
    """A stage array's submitit parameters, also `after:` its pools' replicas started (SLURM)."""
    ids = sorted({j.job_id.split("_")[0] for p in pools if stage in p.stages for j in p.jobs})
    if ids and "slurm_additional_parameters" in params:
        extra = params["slurm_additional_parameters"]
        extra["dependency"] = ",".join([*filter(None, [extra.get("dependency")]), "after:" + ":".join(ids)])
    return params


def stop_after(pools: list[Pool], submitted: list, study: Any, profile: dict | None) -> None:
    """A small job per pool, `afterany` on every task of its stages: it cancels the replicas (SLURM)."""
    import submitit

    for pool in (p for p in pools if p.jobs and study.executor == "slurm"):
        users = [job for task, job in submitted if task.stage in pool.stages]
        executor = submitit.AutoExecutor(folder=pool.folder / "logs" / "%j", cluster=study.executor)
        request = Resources(cpus=1, gpus=0, mem_gb=1, time_min=10)
        executor.update_parameters(**job_parameters(f"stop-{pool.role}", request, study, users, profile))
        executor.submit(cancel_jobs, sorted({j.job_id.split("_")[0] for j in pool.jobs}))


def cancel(pools: list[Pool]) -> None:
    """Stop every replica now (the study ended, or was stopped)."""
    for job in (j for p in pools for j in p.jobs):
        try:
            job.cancel(check=False)
        except Exception:  # noqa: BLE001 - already gone
            pass


def cancel_jobs(ids: list[str]) -> None:
    """The stop job's work (replicas the study already cancelled are no error)."""
    subprocess.run(["scancel", *ids], timeout=60)


# ---- one replica (runs in its SLURM job) ------------------------------------------------------------------------

class Stopped(Exception):
    """SIGTERM, SIGINT or SLURM's timeout signal reached the replica's job."""


def serve(model: str, folder: str, port: int, args: list[str], env: dict[str, str]) -> None:
    """Run the server for `model` on this node; registered in the pool from healthy to stopped."""
    from flames.llm.embedded import resolve_model_path

    path = resolve_model_path(model)  # what the tasks name it (an embedded alias: its folder)
    port = port or free_port()
    entry = Path(folder) / "replicas" / f"{job_tag()}.json"
    entry.parent.mkdir(parents=True, exist_ok=True)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2):  # over submitit's (which lets SIGTERM pass)
        signal.signal(sig, _stop)
    proc = subprocess.Popen([*SERVER, "--model", path, "--host", "0.0.0.0", "--port", str(port), *args],
                            env={**os.environ, **env}, start_new_session=True)
    try:
        wait_healthy(proc, port)
        write_json_atomic(entry, {"url": f"http://{socket.gethostname()}:{port}/v1", "pid": proc.pid,
                                  "job": job_tag(), "model": path})
        print(f"server pool: {entry.stem} serves {path} on port {port}", flush=True)
        code = proc.wait()
        raise RuntimeError(f"the server exited with {code}")
    except Stopped:
        print("server pool: stopping", flush=True)
    finally:
        entry.unlink(missing_ok=True)
        end(proc)


def _stop(signum: int, frame: Any) -> None:
    raise Stopped(signal.Signals(signum).name)


def wait_healthy(proc: subprocess.Popen, port: int, timeout_s: float | None = None) -> None:
    """Until `/health` answers 200; a RuntimeError when the server exits first or `timeout_s` passes."""
    start = time.monotonic()
    while proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise RuntimeError(f"the server did not answer /health within {timeout_s:.0f} s")
        time.sleep(2)
    raise RuntimeError(f"the server exited with {proc.returncode} before it was healthy")


def end(proc: subprocess.Popen) -> None:
    """The server and its engine processes (its own session)."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def job_tag() -> str:
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array:
        return f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID', '0')}"
    return os.environ.get("SLURM_JOB_ID") or f"pid{os.getpid()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]
