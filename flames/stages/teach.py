"""teach: fine-tune the solution model on the seeds' own solutions, and solve with it (teacher.enabled).

A CPU rehearsal needs a teacher that is often right but not always, as the paper's 7B-32B teachers
are; the embedded 135M model is right almost never. Fine-tuned on the seeds' worked solutions (the built-in set's,
or GSM8K/MATH's), it becomes one (rehearsal=signal). The teacher is an artifact like any other: keyed by the
solution model, its training settings, the prompt and the training rows, trained once and reused by every solve.
"""

from __future__ import annotations

from omegaconf import DictConfig

from flames import llm as llm_mod
from flames.config import ConfigError
from flames.keys import text_fingerprint
from flames.stages.base import Job, Stage
from flames.stages.tune import fine_tuned
from flames.store import Artifact, RecordWriter
from flames.train import fine_tune
from flames.train.plan import process_count

TEACHER = "teacher"  # the name solve reads the teach artifact under


class Teach(Stage):
    """Fine-tune `solution_model` on the seeds that carry a solution (a shared stage, before any agent's)."""

    def applies(self, job):
        return bool(job.cfg.teacher.enabled)

    def rows(self, job: Job) -> list[dict]:
        rows = [{"id": s["id"], "problem": s["problem"], "solution": s["solution"]}
                for s in job.shared.seeds() if s.get("solution")]
        if not rows:
            raise ConfigError("teacher.enabled: no seed has a solution to learn from (seeds need a `solution` field)")
        return rows

    def fingerprints(self, job, inputs):
        return {"data": text_fingerprint([f"{r['problem']}\n{r['solution']}" for r in self.rows(job)])}

    def run(self, job, inputs, out):
        cfg, rows = job.cfg, self.rows(job)
        RecordWriter(out, job.ctx.retry).write(rows)
        llm_mod.release(job.ctx)  # nothing else holds a device while the teacher trains
        # prompted as solve prompts it (solve.prompt after the problem), so it answers solve's requests as trained
        model = fine_tune(out / "data.jsonl", out, cfg.solution_model.name, dict(cfg.teacher.train),
                          cfg.distributed, process_count(cfg.distributed), prompt=cfg.solve.prompt)
        return {"model": model, "examples": len(rows)}


def solver_config(cfg: DictConfig, inputs: dict[str, Artifact]) -> DictConfig:
    """The model solve samples from: the teach stage's model when there is one, else `solution_model`."""
    return fine_tuned(cfg.solution_model, inputs[TEACHER])[0] if TEACHER in inputs else cfg.solution_model
