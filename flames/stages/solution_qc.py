"""solution_qc: the QC strategy keeps problems with one chosen solution each."""

from __future__ import annotations

from flames.agents import agent_class
from flames.jsonl import read_jsonl
from flames.keys import key_slice
from flames.qc.long_tail import long_tail
from flames.qc.stage import StudentFit, solution_qc, strategy_from
from flames.scores import score_artifact
from flames.stages.base import Stage, add_counts, previous_metrics
from flames.store import Output


class SolutionQC(Stage):
    # metrics of one run's decisions, not added up over the pool's growths
    PER_RUN = ("strategy", "view_size", "decided", "long_tail", "scores")

    def grows(self, job):
        return job.cfg.qc.fixed_size is None  # a fixed-size subsample is drawn from the whole view: keyed by it

    def ask(self, job):
        return {"num_problems": job.sizes.view}

    def slice(self, job, inputs):
        out = super().slice(job, inputs)
        if not self.grows(job):
            out["view"] = {"num_problems": job.sizes.view}
        return out

    def resources(self, cfg):
        # a strategy without models (first, majority, ...) is CPU work: it asks for no GPU
        r = super().resources(cfg)
        if not strategy_from(cfg.qc.strategy).model_configs(cfg.qc, cfg.problem_model):
            r.gpus = 0
        return r

    def fingerprints(self, job, inputs):
        # The models a strategy uses decide what it keeps: only those enter the key.
        qc = job.cfg.qc
        return {k: key_slice(v) for k, v in strategy_from(qc.strategy).model_configs(qc, job.cfg.problem_model).items()}

    def run(self, job, inputs, out):
        cfg, qc = job.cfg, job.cfg.qc
        strategy = strategy_from(qc.strategy)
        student = StudentFit(cfg.student.name, cfg.student.max_length, cfg.solve.prompt, cfg.student.chat_template)
        models = strategy.load_models(qc, cfg.problem_model, job.ctx)
        n, before = job.sizes.view, previous_metrics(out)  # a grown pool's counts so far
        try:
            metrics = solution_qc(inputs["solved"].data, out, strategy, qc.fixed_size, student=student,
                                  num_samples=cfg.solve.num_samples, num_problems=n, retry=job.ctx.retry, **models)
        finally:
            for model in models.values():
                getattr(model, "close", lambda: None)()
        metrics["long_tail"] = self.long_tail(job, inputs, out)  # of the whole pool: not added up over growths
        metrics["scores"] = score_artifact(inputs["solved"].data, out, job.shared.seeds(),  # scores.jsonl beside
                                           gold=agent_class(job.agent._target_).keeps_answer,
                                           num_samples=cfg.solve.num_samples, num_problems=n)
        kept = {k: v for k, v in metrics.items() if k in self.PER_RUN}
        return Output({**add_counts(before, metrics), **kept}, full=metrics["view_size"] >= n)

    @staticmethod
    def long_tail(job, inputs, out):
        """Kept and dropped problems by topic and level (flames.qc.long_tail), from the pool's provenance."""
        kept = {r["id"] for r in read_jsonl(out / "data.jsonl")}
        dropped = {r["id"] for r in read_jsonl(out / "dropped.jsonl")} if (out / "dropped.jsonl").exists() else set()
        seeds = {s["id"]: s for s in job.shared.seeds()}
        return long_tail(read_jsonl(inputs["solved"].data), kept, kept | dropped, seeds)
