"""Run `flames` as a user would: a real process, in its own working folder."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

FLAMES = [sys.executable, "-m", "flames"]
# Shrinks every stage so a real run on SmolLM2-135M takes about a minute on 2 cores.
TINY = ["agent.num_problems=3", "problem_model.max_new_tokens=64", "solution_model.max_new_tokens=96",
        "solve.num_samples=2", "benchmarks.builtin_count=4", "benchmarks.max_new_tokens=64", "student.max_steps=2"]


REPO = Path(__file__).resolve().parent.parent


def env_for(store: Path, **extra: str) -> dict:
    """The test's environment, its store, and the repository on PYTHONPATH (for tests.scripted_backend)."""
    env = {**os.environ, **extra, "FLAMES_STORE": str(store)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def run_flames(args: list[str], cwd: Path, store: Path, timeout: int = 3600) -> subprocess.CompletedProcess:
    """`timeout` only guards against a hang: generous for 2 cores shared with other jobs (speed is bench/'s)."""
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(FLAMES + args, cwd=cwd, env=env_for(store), capture_output=True, text=True,
                          timeout=timeout)


def start_flames(args: list[str], cwd: Path, store: Path, **env: str) -> subprocess.Popen:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(FLAMES + args, cwd=cwd, env=env_for(store, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def kill_at_lines(proc: subprocess.Popen, store: Path, stage: str, lines: int, every: float) -> tuple[Path, set[int]]:
    """SIGKILL a `start_flames` job (its process group) once its `stage` artifact's data.jsonl has `lines` lines;
    the file, and every line count seen while polling (every `every` s; a hang guard of 30 min)."""
    seen, data = set(), None
    deadline = time.time() + 1800  # the first chunk may be slow on a shared machine
    while time.time() < deadline and proc.poll() is None:
        data = next((store / stage).glob("*/data.jsonl"), None)
        seen.add(len(data.read_text().splitlines()) if data else 0)
        if max(seen) >= lines:
            break
        time.sleep(every)
    assert proc.poll() is None, f"{stage} finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return data, seen


def stage_lines(output: str, word: str) -> list[str]:
    """Log lines like 'synthesize[paraphrase]: computing -> ...'."""
    return [line for line in output.splitlines() if f": {word}" in line and "flames.pipeline" in line]


def _inspect(run_dir: Path, *flags: str) -> str:
    wandb_cli = str(Path(sys.executable).parent / "wandb")  # the venv's CLI, also when PATH lacks it
    proc = subprocess.run([wandb_cli, "leet", "inspect", *flags, "--json", str(run_dir)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"wandb leet inspect {run_dir}: {proc.stderr[-2000:]}"
    return proc.stdout


def wandb_records(run_dir: Path, kind: str) -> list[dict]:
    """An offline W&B run's records of one type (`metric`, `artifact`, `history`, `run`), as `leet inspect` reads
    its .wandb file."""
    rows = (json.loads(line) for line in _inspect(run_dir).splitlines() if line.strip())
    return [r[kind] for r in rows if r.get("type") == kind]


def bar_counts(output: str, desc: str) -> list[tuple[int, int]]:
    """The (done, total) a tqdm bar named `desc` showed, every refresh in order (flames.progress: a stage's bar)."""
    lines = output.replace("\r", "\n").splitlines()
    return [(int(m[1]), int(m[2])) for line in lines if line.startswith(f"{desc}:")
            for m in [re.search(r"\| *(\d+)/(\d+) \[", line)] if m]


def wandb_summary(run_dir: Path) -> dict:
    """An offline W&B run read back with the wandb CLI: `leet inspect --summary` (state, name, run_id, tags,
    config, summary) plus the run record's group and job_type."""
    out = json.loads(_inspect(run_dir, "--summary"))
    run = wandb_records(run_dir, "run")[0]
    return {**out, "group": run.get("run_group"), "job_type": run.get("job_type")}
