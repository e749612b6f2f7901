"""solve: `solve.num_samples` solutions per problem from the solution model (a pool)."""

from __future__ import annotations

from flames import llm as llm_mod
from flames.solve import solve, solve_shard
from flames.stages.base import LazyModel, Stage
from flames.stages.teach import solver_config
from flames.store import Output, RecordWriter
from flames.store.shards import fold


class Solve(Stage):
    shardable = True

    def grows(self, job):
        return True

    def ask(self, job):
        return {"num_problems": job.sizes.view, "num_samples": job.cfg.solve.num_samples}

    def run(self, job, inputs, out):
        cfg, n = job.cfg, job.sizes.view
        model = LazyModel(solver_config(cfg, inputs), job.ctx)  # the teacher, when the teach stage made one
        metrics = solve(inputs["problems"].data, out, model, _sampling(cfg), cfg.solve.prompt, cfg.solve.chunk_size,
                        num_problems=n, retry=job.ctx.retry)
        return Output(metrics, full=metrics["view_size"] >= n)

    def run_shard(self, job, inputs, pool, rnd, index):
        cfg = job.cfg
        model = LazyModel(solver_config(cfg, inputs), job.ctx)
        return solve_shard(inputs["problems"].data, pool, rnd.part(index), model, _sampling(cfg), cfg.solve.prompt,
                           cfg.solve.chunk_size, job.sizes.view, index, rnd.count, retry=job.ctx.retry)

    def merge(self, job, inputs, out, rnd):
        """The shards' samples folded in (plan order), then the run that retries what a shard's requests failed."""
        fold(rnd.parts(), RecordWriter(out))
        output = self.run(job, inputs, out)
        output.metrics["new_samples"] += sum(m["new_samples"] for m in rnd.metrics())
        output.metrics["shards"] = rnd.count
        return output


def _sampling(cfg):
    """The solution model's sampling, `solve.num_samples` completions per request."""
    return llm_mod.sampling_from(cfg.solution_model, n=cfg.solve.num_samples)
