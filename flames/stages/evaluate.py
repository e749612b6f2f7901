"""evaluate: the student answers every benchmark item (greedy, and k samples when asked), graded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from flames import llm as llm_mod
from flames.benchmarks import subset_fields
from flames.config import ConfigError, ModelConfig
from flames.evaluate import evaluate
from flames.grading import DEFAULT_MODE
from flames.llm.embedded import resolve_model_path
from flames.stages.base import Job, Stage
from flames.stats import Settings
from flames.train import trained_model


def eval_model(job: Job, path: str) -> Any:
    """A model loaded for greedy evaluation with the benchmarks' backend settings."""
    b = job.cfg.benchmarks
    llm_mod.release(job.ctx)
    return llm_mod.for_stage(job.ctx, OmegaConf.structured(ModelConfig(name=path, backend=b.backend, dtype=b.dtype,
                                                            batch_size=b.batch_size)))


def eval_chunk(b: Any) -> int:
    """Items per generation call of evaluate (each call's predictions are appended as it returns)."""
    return b.chunk_size or (b.batch_size if b.backend == "hf" else 256)


def eval_sampling(job: Job) -> llm_mod.Sampling:
    return llm_mod.Sampling(temperature=0.0, max_new_tokens=job.cfg.benchmarks.max_new_tokens)


def eval_samples(job: Job) -> llm_mod.Sampling | None:
    """The sampled pass (benchmarks.num_samples answers per item), or None: greedy only, the paper's setting."""
    b = job.cfg.benchmarks
    if b.num_samples < 0:
        raise ConfigError(f"benchmarks.num_samples={b.num_samples}: 0 (greedy only) or more")
    if not b.num_samples:
        return None
    return llm_mod.Sampling(n=b.num_samples, temperature=b.temperature, top_p=b.top_p,
                            max_new_tokens=b.max_new_tokens, seed=b.sample_seed)


def eval_stats(job: Job) -> Settings:
    b = job.cfg.benchmarks
    return Settings(confidence=b.confidence, resamples=b.bootstrap_resamples, seed=b.bootstrap_seed)


class Evaluate(Stage):
    def slice(self, job, inputs):
        out = super().slice(job, inputs)
        mode = job.cfg.grading.mode
        if mode != DEFAULT_MODE:  # keyed away from the default only: default evaluations keep their keys
            out["grading.mode"] = mode
        return out

    def fingerprints(self, job, inputs):
        items = job.shared.eval_fingerprints()
        if "model" in inputs:  # a trained model: the train artifact's key (an input) says which
            return {"items": items}
        path = resolve_model_path(job.cfg.student.path)
        return {"items": items, "model": {"path": os.path.abspath(path), "mtime": _mtime(path)}}

    def run(self, job, inputs, out):
        b = job.cfg.benchmarks
        if "model" in inputs:
            trained = inputs["model"]
            model_path = trained_model(trained.path, trained.manifest()["metrics"])
        else:
            model_path = resolve_model_path(job.cfg.student.path)
        metrics = evaluate(job.shared.eval_items(), out, eval_model(job, model_path), eval_sampling(job), b.prompt,
                           eval_chunk(b), subset_fields(b), audit=b.audit, samples=eval_samples(job),
                           settings=eval_stats(job), mode=job.cfg.grading.mode, retry=job.ctx.retry)
        llm_mod.release(job.ctx)
        return metrics


def _mtime(path: str) -> float | None:
    p = Path(path)
    files = list(p.glob("*.safetensors")) or [p]
    return max((f.stat().st_mtime for f in files if f.exists()), default=None)
