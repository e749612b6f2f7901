"""synthesize: an agent's problems, until its target passes problem QC (a pool: it grows when asked for more)."""

from __future__ import annotations

import shutil

from flames import llm as llm_mod
from flames.agents import agent_class, build_agent
from flames.agents.base import prompt_files
from flames.keys import key_slice, text_fingerprint
from flames.seeds import fingerprint
from flames.stages.base import LazyModel, Stage, problem_filter, references_fingerprint
from flames.stages.tune import generator_config
from flames.locks import file_lock
from flames.store import Output
from flames.synthesize import plan_chunks, synthesize, synthesize_shard


class Synthesize(Stage):
    shardable = True

    def grows(self, job):
        return True

    def resources_for(self, cfg, agent):
        r = self.resources(cfg)
        if agent is not None and not agent_class(agent["_target_"]).uses_llm:  # rule-based, or reads a dataset
            r.gpus = 0
        return r

    def ask(self, job):
        return {"num_problems": job.sizes.target, "max_draws": job.sizes.max_draws}

    def fingerprints(self, job, inputs):
        # The target counts problems that pass problem QC, so its settings shape this artifact too; the prompts'
        # text is what the model is asked (an edited prompt makes other problems)
        cls = agent_class(job.agent["_target_"])
        prompts = [p.read_text() for p in prompt_files(cls)]
        own = {"inputs": cls.input_fingerprint(job.agent)} if hasattr(cls, "input_fingerprint") else {}  # a dataset
        return {"seed_files": fingerprint(job.cfg.seeds, job.shared.seeds), "prompts": text_fingerprint(prompts), **own,
                **references_fingerprint(job)}

    def run(self, job, inputs, out, shards=()):
        agent, seeds = self.agent(job, inputs)
        metrics = synthesize(seeds, agent, out, job.sizes.target, job.agent.chunk_size,
                             problem_filter(job), key_slice(job.cfg.seeds.shares), job.sizes.max_draws,
                             retry=job.ctx.retry, shards=shards)
        return Output(metrics, full=metrics["reached_target"])  # short of it, more draws may still add problems

    def agent(self, job, inputs):
        """The agent on its model (loaded at its first request), and the seeds."""
        cfg, agent_cfg = job.cfg, job.agent
        seeds = job.shared.seeds()  # a missing or malformed seed file fails before a model loads
        model_cfg, generator = generator_config(cfg, inputs)
        model = LazyModel(model_cfg, job.ctx) if agent_class(agent_cfg["_target_"]).uses_llm else None
        sampling = llm_mod.sampling_from(cfg.problem_model, max_new_tokens=agent_cfg.max_new_tokens)
        return build_agent(agent_cfg, model, sampling, model_cfg=cfg.problem_model, generator=generator), seeds

    def run_shard(self, job, inputs, pool, rnd, index):
        """Shard `index` of the round: the plan from the pool as it stands, this shard's chunks of it."""
        agent, seeds = self.agent(job, inputs)
        prepared = rnd.folder / "agent"  # one agent folder per round: the first shard prepares (a concept pool)
        with file_lock(rnd.folder / "agent.lock", f"{job.agent.name} inputs"):
            if pool is not None and (pool / "agent").is_dir() and not prepared.exists():
                shutil.copytree(pool / "agent", prepared)  # what the pool's inputs were made of
            agent_inputs = agent.prepare(seeds, prepared)
        chunks = plan_chunks(agent_inputs, job.sizes.target, key_slice(job.cfg.seeds.shares), job.sizes.max_draws,
                             pool, job.agent.chunk_size, job.cfg.shard.margin)
        return synthesize_shard(agent, chunks, rnd.part(index), index, rnd.count, retry=job.ctx.retry)

    def merge(self, job, inputs, out, rnd):
        """The shards folded into the pool (plan order, problem QC, ranks), then the run tops it up to the target."""
        if (rnd.folder / "agent").is_dir() and not (out / "agent").exists():
            shutil.copytree(rnd.folder / "agent", out / "agent")  # the inputs the shards were planned from
        output = self.run(job, inputs, out, shards=rnd.parts())
        output.metrics["shards"] = rnd.count
        return output
