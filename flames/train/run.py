"""Stage `train`: supervised fine-tuning of the student with TRL's SFTTrainer, launched under torchrun.

Examples are conversational prompt/completion pairs rendered with the student's chat template
(`student.chat_template`); the loss covers the solution and its end-of-turn token only (TRL's
completion-only loss). This process prepares the examples and the spec, launches one worker process
per device (`flames.train.worker`), streams the workers' log to `on_log` while they train, and
returns the run's metrics; the trained model is <out>/model, the checkpoints <out>/checkpoints/.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from omegaconf import OmegaConf

from flames.config import StudentConfig
from flames.examples import fit_examples, student_tokenizer
from flames.files import write_json_atomic
from flames.grading import extract_answer
from flames.jsonl import read_jsonl, write_jsonl
from flames.llm.embedded import resolve_model_path
from flames.store import RecordWriter
from flames.train import checkpoints
from flames.train.plan import Plan, launch_command, make_plan

log = logging.getLogger(__name__)
LOG_FILE = "train_log.jsonl"  # one line per logging step (rank 0), tailed by the launching process
RESULT_FILE = "result.json"  # what the run did, written by rank 0 when it ends
SPEC_FILE = "launch.json"  # what the workers train (a relaunch with it resumes)
DEV_FILE = "dev.jsonl"  # selection=dev: the mixture rows held out from training


def train(mixture: Path, out_dir: Path, base_model: str, cfg: Any, prompt: str, distributed: Any = None,
          processes: int = 1, on_log: Callable[[dict], None] | None = None) -> dict:
    """Fine-tune `base_model` on the mixture with `processes` workers; metrics of the run."""
    out_dir = Path(out_dir)
    rows = list(read_jsonl(mixture))
    writer = RecordWriter(out_dir)
    if cfg.selection == "dev":
        rows = hold_out_dev(rows, cfg, out_dir / DEV_FILE)
    tok = student_tokenizer(base_model, cfg.chat_template)
    examples, too_long = fit_examples(rows, tok, prompt, cfg.max_length)
    writer.drop([{"id": r["id"]} for r in too_long], "too_long")
    if not examples:
        # A sweep cell whose agent kept nothing is a data point, not a crash: evaluate the base model.
        log.warning("train: no training examples in %s (%d rows, all too long or none produced); "
                    "the base model %s is evaluated as is", mixture, len(rows), base_model)
        return {"skipped": "no training examples", "examples": 0, "model": base_model}
    plan = make_plan(cfg, processes)
    spec = write_spec(out_dir, examples, base_model, cfg, distributed, plan)
    history = launch(spec, plan.processes, out_dir / LOG_FILE, on_log)
    result = json.loads((out_dir / RESULT_FILE).read_text())
    return {**result, "examples": len(examples), "model": str(out_dir / "model"), "processes": plan.processes,
            "global_batch": plan.global_batch, "accumulation": plan.accumulation, "logged_steps": len(history)}


def hold_out_dev(rows: list[dict], cfg: Any, path: Path) -> list[dict]:
    """Split off `dev_size` rows with an answer (seeded); they are written to `path`, the rest returned.

    The answer is the row's own (solution QC's), else its solution's final answer (external datasets).
    """
    order = list(range(len(rows)))
    random.Random(cfg.seed).shuffle(order)
    answers = {i: rows[i].get("answer") or extract_answer(rows[i].get("solution")) for i in order}
    dev_idx = [i for i in order if answers[i]][: cfg.dev_size]
    if not dev_idx:
        raise ValueError("student.selection=dev: no mixture row has an answer to select on")
    write_jsonl(path, [{"id": rows[i]["id"], "problem": rows[i]["problem"], "answer": answers[i]} for i in dev_idx])
    held = set(dev_idx)
    return [r for i, r in enumerate(rows) if i not in held]


def write_spec(out_dir: Path, examples: list[dict], base_model: str, cfg: Any, distributed: Any, plan: Plan) -> Path:
    """Everything a worker needs, on disk: a relaunch with the same spec resumes the same run."""
    write_jsonl(out_dir / "examples.jsonl", examples)
    dist = OmegaConf.to_container(distributed, resolve=True) if distributed is not None else {}
    spec = {"examples": str(out_dir / "examples.jsonl"), "base_model": base_model, "out_dir": str(out_dir),
            "student": OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg),
            "plan": {"processes": plan.processes, "per_device": plan.per_device, "accumulation": plan.accumulation},
            "distributed": dist}
    write_json_atomic(out_dir / SPEC_FILE, spec)
    return out_dir / SPEC_FILE


def launch(spec: Path, processes: int, log_path: Path, on_log: Callable[[dict], None] | None) -> list[dict]:
    """Run the workers under torchrun; forward each new log line to `on_log` while they run."""
    cmd = launch_command(spec, processes)
    log.info("train: %s", " ".join(cmd))
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    tail = LogTail(log_path)
    proc = subprocess.Popen(cmd, env=env, preexec_fn=die_with_parent)
    try:
        while proc.poll() is None:
            time.sleep(1.0)
            tail.forward(on_log)
    except BaseException:
        proc.terminate()  # Ctrl-C or a failing logger: stop the workers, the checkpoints stay for a resume
        proc.wait()
        raise
    tail.forward(on_log)
    if proc.returncode != 0:
        raise RuntimeError(f"train: the training processes failed (exit {proc.returncode}); their log is above")
    return tail.rows


class LogTail:
    """The new complete lines of a JSONL file that another process appends to."""

    def __init__(self, path: Path):
        self.path, self.offset, self.rows = path, 0, []
        if path.exists():  # a resumed run: earlier steps were forwarded by the run that made them
            self.rows = list(read_jsonl(path))
            self.offset = path.stat().st_size

    def forward(self, on_log: Callable[[dict], None] | None) -> None:
        if not self.path.exists():
            return
        if self.path.stat().st_size < self.offset:  # the worker trimmed it on resume
            self.offset = 0
            self.rows = []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.decode().splitlines():
            row = json.loads(line)
            if self.rows and row.get("step", 0) <= self.rows[-1].get("step", 0):
                continue  # already forwarded before a trim
            self.rows.append(row)
            if on_log:
                on_log(row)


def die_with_parent() -> None:
    """This process gets SIGTERM when its parent dies (even by SIGKILL): set in torchrun (child of the
    stage) and in each worker (child of torchrun, in a session of its own), so no orphan keeps training."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def trained_model(artifact_path: Path, metrics: dict) -> str:
    """The model a train artifact stands for: the selected checkpoint, its final model, or the base model."""
    if metrics.get("selected"):
        return os.fspath(artifact_path / metrics["selected"])
    folder = artifact_path / "model"
    return os.fspath(folder) if folder.exists() else metrics["model"]


def fine_tune(data: Path, out_dir: Path, base_model: str, overrides: dict, distributed: Any = None,
              processes: int = 1, prompt: str = "") -> str:
    """Fine-tune `base_model` (a config name) with StudentConfig defaults plus `overrides`; the model folder.

    The tune stage's way to train an agent's generator (QFT) with the train stage's code.
    """
    cfg = OmegaConf.merge(OmegaConf.structured(StudentConfig(name=base_model)), overrides)
    metrics = train(data, out_dir, resolve_model_path(base_model), cfg, prompt, distributed, processes)
    return trained_model(out_dir, metrics)


def checkpoint_folders(out_dir: Path) -> list[Path]:
    """The run's complete checkpoints, oldest first (what selection chooses among)."""
    return checkpoints.checkpoints(Path(out_dir) / "checkpoints")
