"""tune: fine-tune the problem model for an agent that samples from its own generator (QFT)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from flames import llm as llm_mod
from flames.agents import agent_class, build_agent
from flames.keys import text_fingerprint
from flames.stages.base import Job, Stage
from flames.store import Artifact, RecordWriter
from flames.train import fine_tune, trained_model
from flames.train.plan import process_count


class Tune(Stage):
    """Fine-tune the problem model for an agent that samples from its own generator (QFT)."""

    def applies(self, job):
        return agent_class(job.agent["_target_"]).tunes_generator

    def rows(self, job: Job) -> list[dict]:
        agent = build_agent(job.agent, None, llm_mod.Sampling(), model_cfg=job.cfg.problem_model)
        return agent.generator_data(job.shared.seeds())

    def fingerprints(self, job, inputs):
        # The training rows themselves: which seeds, how many, the instructions.
        return {"data": text_fingerprint([f"{r['problem']}\n{r['solution']}" for r in self.rows(job)])}

    def run(self, job, inputs, out):
        RecordWriter(out, job.ctx.retry).write(self.rows(job))
        llm_mod.release(job.ctx)  # nothing else holds a device while the generator trains
        model = fine_tune(out / "data.jsonl", out, job.cfg.problem_model.name, dict(job.agent.train),
                          job.cfg.distributed, process_count(job.cfg.distributed))
        return {"model": model}


def generator_config(cfg: DictConfig, inputs: dict[str, Artifact]) -> tuple[DictConfig, str | None]:
    """The problem model an agent samples from: the tune stage's model when it has one."""
    if "generator" not in inputs:
        return cfg.problem_model, None
    return fine_tuned(cfg.problem_model, inputs["generator"])


def fine_tuned(model_cfg: DictConfig, trained: Artifact) -> tuple[DictConfig, str]:
    """`model_cfg` pointed at the model a training artifact made (tune's generator, teach's teacher), and its path."""
    path = trained_model(trained.path, trained.manifest()["metrics"])
    # The fine-tuned model learned the chat format (TRL renders conversations with the template); no study's server
    # pool serves it (a pool serves `model_cfg`'s own model): it loads in the task, on the configured backend
    return OmegaConf.merge(model_cfg, {"name": path, "chat_template": True, "server_pool": None}), path
