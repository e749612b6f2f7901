"""solve: `solve.num_samples` solutions per problem from the solution model (a pool)."""

from __future__ import annotations

from flames import llm as llm_mod
from flames.solve import solve
from flames.stages.base import LazyModel, Stage
from flames.store import Output


class Solve(Stage):
    def grows(self, job):
        return True

    def ask(self, job):
        return {"num_problems": job.sizes.view, "num_samples": job.cfg.solve.num_samples}

    def run(self, job, inputs, out):
        cfg, n = job.cfg, job.sizes.view
        sampling = llm_mod.sampling_from(cfg.solution_model, n=cfg.solve.num_samples)
        metrics = solve(inputs["problems"].data, out, LazyModel(cfg.solution_model, job.ctx), sampling, cfg.solve.prompt,
                        cfg.solve.chunk_size, num_problems=n, retry=job.ctx.retry)
        return Output(metrics, full=metrics["view_size"] >= n)
