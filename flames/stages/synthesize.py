"""synthesize: an agent's problems, until its target passes problem QC (a pool: it grows when asked for more)."""

from __future__ import annotations

from flames import llm as llm_mod
from flames.agents import agent_class, build_agent
from flames.agents.base import prompt_files
from flames.keys import key_slice, text_fingerprint
from flames.seeds import fingerprint
from flames.stages.base import LazyModel, Stage, problem_filter, references_fingerprint
from flames.stages.tune import generator_config
from flames.store import Output
from flames.synthesize import synthesize


class Synthesize(Stage):
    def grows(self, job):
        return True

    def ask(self, job):
        return {"num_problems": job.sizes.target, "max_draws": job.sizes.max_draws}

    def fingerprints(self, job, inputs):
        # The target counts problems that pass problem QC, so its settings shape this artifact too; the prompts'
        # text is what the model is asked (an edited prompt makes other problems)
        prompts = [p.read_text() for p in prompt_files(agent_class(job.agent["_target_"]))]
        return {"seed_files": fingerprint(job.cfg.seeds), "prompts": text_fingerprint(prompts), **references_fingerprint(job)}

    def run(self, job, inputs, out):
        cfg, agent_cfg = job.cfg, job.agent
        seeds = job.shared.seeds()  # a missing or malformed seed file fails before a model loads
        model_cfg, generator = generator_config(cfg, inputs)
        model = LazyModel(model_cfg, job.ctx) if agent_class(agent_cfg["_target_"]).uses_llm else None
        sampling = llm_mod.sampling_from(cfg.problem_model, max_new_tokens=agent_cfg.max_new_tokens)
        agent = build_agent(agent_cfg, model, sampling, model_cfg=cfg.problem_model, generator=generator)
        metrics = synthesize(seeds, agent, out, job.sizes.target, agent_cfg.chunk_size,
                             problem_filter(job), key_slice(cfg.seeds.shares), job.sizes.max_draws,
                             retry=job.ctx.retry)
        return Output(metrics, full=metrics["reached_target"])  # short of it, more draws may still add problems
