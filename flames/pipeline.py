"""The pipeline: a loop over the stage table (`flames.stages.STAGES`); each stage's artifact is
looked up in the store by key, or computed.

Per-agent stages run once per agent of the mixture, stage by stage (every agent's problems are
synthesized before any is solved, so one model serves a whole stage), and `mix` fans them in.
A pool stage (`Stage.grows`) is asked for its sizes: the store reuses, grows or computes it.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from flames import llm as llm_mod
from flames.agents import typed_config
from flames.checks import check_values
from flames.config import ConfigError, MixtureConfig
from flames.context import RetryPolicy, StageContext
from flames.stages import STAGE_BY_NAME, STAGES, Job, Shared, Sizes, Stage, external_dataset, score_filters
from flames.locks import file_lock
from flames.store import Artifact, Store
from flames.store.shards import shard_round

log = logging.getLogger(__name__)

STAGE_NAMES = [s.name for s in STAGES]
REQUESTS = "requests.jsonl"  # finished backend requests of a stage being computed (removed when it completes)


class UpstreamMissing(RuntimeError):
    """A study task found an earlier stage's artifact missing (its own job failed)."""


@dataclass
class StageResult:
    stage: str
    label: str  # which agent (per-agent stages) or "" (shared stages)
    artifact: Artifact
    reused: bool
    ask: dict | None = None  # the sizes asked of a pool (None: not a pool); a study dedupes pools by them

    @property
    def manifest(self) -> dict:
        return self.artifact.manifest()


@dataclass
class PipelineRun:
    """What one `flames` job did, stage by stage."""

    results: list[StageResult] = field(default_factory=list)
    train_history: list = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)  # backend calls by stage (a rerun that reuses all: none)

    @property
    def eval_metrics(self) -> dict:
        """The evaluation's metrics per benchmark (empty when the run stopped before evaluate)."""
        return next((r.manifest["metrics"] for r in self.results if r.stage == "evaluate"), {})


class Pipeline:
    def __init__(self, cfg: DictConfig, logger=None):
        check_values(cfg)  # ranges, before a store, a W&B run or a model exists
        score_filters(cfg)  # mixture.filters likewise
        self.cfg = cfg
        self.failures = cfg.get("failures") or {}  # which failed rows to retry; when too many failures stop a stage
        self.store = Store(Path(cfg.paths.store).expanduser().resolve(), lock_timeout=cfg.paths.lock_timeout_s,
                           retry=RetryPolicy.from_failures(self.failures))
        self.models = llm_mod.ModelPool()  # loaded once per run, shared by the stages (released before training)
        self.logger = logger
        self.shared = Shared(cfg)
        self.run_info = PipelineRun(train_history=self.shared.train_history)
        self.produced: dict[tuple[str, str], Artifact] = {}
        self.agent_cfgs = self.agents()  # checked against their classes' schemas before anything runs
        self.sizes = {label: Sizes.of(a) for label, a in self.agent_cfgs.items()}  # each agent's, derived here once
        self.views = {label: s.view for label, s in self.sizes.items()}  # what mix reads

    def run(self) -> PipelineRun:
        if self.logger:  # training metrics reach the logger while the workers train, not at the end
            self.shared.on_train_log = lambda row: self.logger.log_train([row])
        self.walk(self.run_stage)
        return self.run_info

    def plan(self) -> list[StageResult]:
        """Every artifact this run would read or compute, without running anything (keys only; `reused`
        says whether it is complete in the store). A study dedupes its cells' artifacts with it."""
        planned = []

        def visit(stage: Stage, job: Job, label: str, inputs: dict[str, Artifact]) -> Artifact:
            art = self.store.artifact(stage.name, stage.slice(job, inputs), inputs)
            ask = asked(stage, job)
            planned.append(StageResult(stage.name, label, art, art.complete and self.store.covers(art, ask, inputs),
                                       ask))
            return art

        self.walk(visit)
        return planned

    def walk(self, visit) -> None:
        """visit(stage, job, label, inputs) -> Artifact for each stage (and agent) in order."""
        agents = self.agent_cfgs
        for stage in self.stages():
            for label, agent in (agents.items() if stage.per_agent else [("", None)]):
                job = Job(self.cfg, self.shared, agent, self.views, self.sizes.get(label))
                if stage.applies(job):
                    self.produced[stage.name, label] = visit(stage, job, label, self.inputs_of(stage, label, agents))

    def stages(self) -> list[Stage]:
        """The stages `stage=` asks for: all up to it; `evaluate` alone when student.path names a model to evaluate
        (stage=evaluate or all: a study's baseline cell, the untrained student, is `student.path=<its model>`)."""
        target = getattr(self.cfg.stage, "value", self.cfg.stage)
        if target in ("evaluate", "all") and self.cfg.student.path:
            return [STAGE_BY_NAME["evaluate"]]
        return STAGES if target == "all" else STAGES[: STAGE_NAMES.index(target) + 1]

    def agents(self) -> dict[str, Any]:
        """The mixture's agents by label, each config typed by its class's schema; none for an external dataset."""
        m = self.cfg.mixture
        if external_dataset(self.cfg):  # mix reads the dataset: no per-agent stage runs
            return {}
        if m.name == "single":
            agent = typed_config(self.cfg.agent)
            agent.num_problems = min(agent.num_problems, agent.num_problems_cap or agent.num_problems)
            return {agent.name: agent}
        missing = set(m.weights) - set(m.agents)
        if missing:
            raise ConfigError(f"mixture {m.name}: weights name agents without a config: {sorted(missing)}")
        agents = {name: typed_config(_overridden(m.agents[name], m.agent_overrides)) for name in m.weights}
        budget = MixtureConfig.budget_of(m)
        if budget:  # each agent makes the share of the budget that mix takes from it
            total = sum(m.weights.values())
            for name, agent in agents.items():  # pools_at_budget: the most any weights can ask of the agent
                agent.num_problems = budget if m.get("pools_at_budget") else round(budget * m.weights[name] / total)
        return agents

    def inputs_of(self, stage: Stage, label: str, agents: dict) -> dict[str, Artifact]:
        """The upstream artifacts a stage reads: its own agent's, every agent's (fan-in), or the shared one; and the
        shared artifacts of its `extra_inputs` (solve: the teacher)."""
        extra = {name: self.produced[up, ""] for up, name in stage.extra_inputs if (up, "") in self.produced}
        up = stage.upstream
        if up is None or not any(k[0] == up for k in self.produced):
            return extra
        if stage.per_agent:  # an upstream stage that does not apply to this agent (tune) gives nothing
            return {stage.input_name: self.produced[up, label], **extra} if (up, label) in self.produced else extra
        if STAGE_BY_NAME[up].per_agent:
            return {name: self.produced[up, name] for name in agents} | extra
        return {stage.input_name: self.produced[up, ""], **extra}

    def run_stage(self, stage: Stage, job: Job, label: str, inputs: dict[str, Artifact]) -> Artifact:
        name = f"{stage.name}[{label}]" if label else stage.name
        job.ctx = StageContext.from_failures(stage.name, self.failures, self.models)
        config, ask, last = stage.slice(job, inputs), asked(stage, job), stage is self.stages()[-1]
        if self.cfg.study_task and not last:
            planned = self.store.artifact(stage.name, config, inputs)
            # a study job computes one stage; a missing (or too small) earlier one means its job failed
            if not (planned.complete and self.store.covers(planned, ask, inputs)):
                raise UpstreamMissing(f"{name}: {planned.path} is not complete{' for ' + str(ask) if ask else ''}; "
                                      "the study job that makes it failed or has not run")
        shard = self.cfg.shard
        if last and shard.agent not in (None, label) and stage.per_agent:
            return self.store.artifact(stage.name, config, inputs)  # another task's agent
        if last and shard.index is not None and stage.shardable:
            return self.run_sharded(stage, job, label, inputs)
        art, reused = self.store.run(stage.name, config, inputs, self.computing(stage, job, name, inputs), ask=ask)
        return self.finished(stage, label, art, reused, ask)

    def computing(self, stage: Stage, job: Job, name: str, inputs: dict[str, Artifact],
                  body: Callable[[Path], Any] | None = None) -> Callable[[Path], Any]:
        """The store's compute for a stage (its `run`, or `body`): runs under the lock, only when this job computes."""
        ctx = job.ctx

        def compute(out: Path) -> Any:
            log.info("%s: computing -> %s", name, out)
            ctx.request_cache = out / REQUESTS  # openai backend: a rerun after a kill skips finished requests
            try:
                metrics = body(out) if body else stage.run(job, inputs, out)
                ctx.check_failures(final=True)  # a stage that failed too often is not sealed: a rerun resumes it
            finally:
                ctx.request_cache = None
                self.run_info.calls[stage.name] += ctx.calls
                ctx.calls = 0
            (out / REQUESTS).unlink(missing_ok=True)  # the artifact's records hold the results now
            return metrics
        return compute

    def run_sharded(self, stage: Stage, job: Job, label: str, inputs: dict[str, Artifact]) -> Artifact:
        """This task's shard of a pool (flames.store.shards); the task that finds every shard done folds them in."""
        name, shard = f"{stage.name}[{label}]" if label else stage.name, self.cfg.shard
        config, ask = stage.slice(job, inputs), asked(stage, job)
        art = self.store.artifact(stage.name, config, inputs)
        if art.complete and self.store.covers(art, ask, inputs):
            return self.finished(stage, label, art, True, ask)
        pool = art.path if art.complete else None
        rnd = shard_round(art, ask, shard.count)
        with file_lock(rnd.folder / f"shard-{shard.index:04d}.lock", f"{name} shard {shard.index}",
                       timeout=self.cfg.paths.lock_timeout_s):
            if not rnd.done(shard.index):
                metrics = self.computing(stage, job, f"{name} shard {shard.index}/{shard.count}", inputs,
                                         lambda out: stage.run_shard(job, inputs, pool, rnd, shard.index))(
                    rnd.part(shard.index))
                rnd.finish(shard.index, metrics)
        if not rnd.complete():  # written before the check: the last shard to finish sees every shard done
            waiting = sum(not rnd.done(i) for i in range(shard.count))
            log.info("%s: shard %d/%d done; %d to go (the last one folds them in)", name, shard.index, shard.count,
                     waiting)
            return art
        body = self.computing(stage, job, f"{name} (folding {shard.count} shards)", inputs,
                              lambda out: stage.merge(job, inputs, out, rnd))
        art, reused = self.store.run(stage.name, config, inputs, body, ask=ask)
        rnd.remove()  # sealed (by this task or another): the shards' records are the artifact's
        return self.finished(stage, label, art, reused, ask)

    def finished(self, stage: Stage, label: str, art: Artifact, reused: bool, ask: dict | None) -> Artifact:
        if reused:
            log.info("%s: reused %s", f"{stage.name}[{label}]" if label else stage.name, art.path)
        result = StageResult(stage.name, label, art, reused, ask)
        self.run_info.results.append(result)
        if self.logger:
            self.logger.log_stage(result)
        return art


def asked(stage: Stage, job: Job) -> dict | None:
    """The sizes a run asks of a pool stage's artifact; None for a stage whose artifact is not a pool."""
    return stage.ask(job) if stage.grows(job) else None


def _overridden(agent: DictConfig, overrides: DictConfig) -> DictConfig:
    """A mixture's agent with `agent_overrides` merged in, which may set a field its yaml leaves to the schema's
    default (max_draws): the agent's class checks the result (typed_config)."""
    node = OmegaConf.merge(agent)  # a copy, without the struct flag that refuses keys the yaml does not list
    OmegaConf.set_struct(node, False)
    return OmegaConf.merge(node, overrides)
