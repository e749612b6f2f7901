"""The stages as objects: each declares its config slice, its inputs and its resources, and runs one
stage function (`flames.synthesize.synthesize`, `flames.qc.stage.problem_qc`, ...) over files.

    synthesize -> problem_qc -> solve -> solution_qc   once per agent of the mixture
                                                 \\
                                                  mix -> train -> evaluate

A stage's artifact key is the hash of its name, `slice(job, inputs)` and its inputs' keys. The
slice is built from the config paths the stage `reads` (without the fields the schema marks as
runtime-only, `flames.keys.key_slice`) plus `fingerprints` of content the config only points at
(seed files, benchmark items, a model folder). `flames.pipeline.Pipeline` is a loop over `STAGES`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from flames import llm as llm_mod
from flames.agents import agent_class, build_agent
from flames.benchmarks import load_benchmark, load_suite, subset_fields
from flames.config import ConfigError, ModelConfig, Resources
from flames.evaluate import evaluate
from flames.keys import key_slice, text_fingerprint
from flames.llm.embedded import resolve_model_path
from flames.mix import mix
from flames.qc.problems import ProblemFilter
from flames.qc.stage import StudentFit, problem_qc, solution_qc, strategy_from
from flames.seeds import fingerprint, load_seeds
from flames.solve import solve
from flames.store import Artifact
from flames.synthesize import synthesize
from flames.train import fine_tune, train, trained_model


class Shared:
    """What the stages of one pipeline run share: the benchmark suite (loaded once) and the loss curve."""

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self._references: dict | None = None
        self._eval_items: dict | None = None
        self.train_history: list[dict] = []

    def references(self) -> dict[str, list[dict]]:
        """The benchmarks decontamination checks (qc.decontam.against, default all), in full (no limit)."""
        if self._references is None:
            suite, against = self.cfg.benchmarks, list(self.cfg.qc.decontam.against)
            unknown = sorted(set(against) - set(suite.names))
            if unknown:
                raise ConfigError(f"qc.decontam.against: {unknown} not in benchmarks.names {list(suite.names)}")
            self._references = {name: load_benchmark(name, suite) for name in against or suite.names}
        return self._references

    def eval_items(self) -> dict[str, list[dict]]:
        """The items evaluation answers (benchmarks.limit / limit_seed applied)."""
        if self._eval_items is None:
            b = self.cfg.benchmarks
            self._eval_items = load_suite(b, b.limit, b.limit_seed)
        return self._eval_items


@dataclass
class Job:
    """One stage run: the whole config, the agent (per-agent stages; None for shared ones), shared data."""

    cfg: DictConfig
    shared: Shared
    agent: DictConfig | None = None

    def node(self, path: str) -> Any:
        """A config node by dotted path; "agent" is this job's agent (a blend's own, not cfg.agent)."""
        return self.agent if path == "agent" else OmegaConf.select(self.cfg, path, throw_on_missing=True)


@dataclass
class Stage:
    """A stage: what it reads, where its inputs come from, what it needs, and how it runs."""

    name: str = ""
    per_agent: bool = False  # runs once per agent of the mixture
    upstream: str | None = None  # the stage whose artifacts it reads (a per-agent one fans in: one per agent)
    input_name: str = ""  # the name it reads them under (fan-in: the agents' labels)
    reads: tuple[str, ...] = field(default_factory=tuple)  # config paths its output depends on

    def slice(self, job: Job, inputs: dict[str, Artifact]) -> dict:
        """The config slice of the artifact key: the paths it reads, then content fingerprints."""
        return {**{path: key_slice(job.node(path)) for path in self.reads}, **self.fingerprints(job, inputs)}

    def fingerprints(self, job: Job, inputs: dict[str, Artifact]) -> dict:
        """Content the config only points at (files, items, a model folder); none by default."""
        return {}

    def resources(self, cfg: DictConfig) -> Resources:
        """What a cluster job of this stage asks for (cfg.resources.<name>)."""
        return OmegaConf.to_object(cfg.resources[self.name])

    def run(self, job: Job, inputs: dict[str, Artifact], out: Path) -> dict:
        """Compute the artifact into `out`; return the stage's metrics."""
        raise NotImplementedError


PROBLEM_QC_READS = ("qc.dedup", "qc.decontam")


def problem_filter(job: Job) -> ProblemFilter:
    """The one problem-QC object, as configured (synthesize and problem_qc build the same)."""
    qc = job.cfg.qc
    refs = [(name, item) for name, items in job.shared.references().items() for item in items] \
        if qc.decontam.enabled else []
    return ProblemFilter(refs, qc.dedup.threshold, qc.dedup.backend, qc.decontam.mode)


def references_fingerprint(job: Job) -> dict:
    if not job.cfg.qc.decontam.enabled:
        return {}
    refs = job.shared.references()
    return {"references": {k: text_fingerprint([i["problem"] for i in v]) for k, v in refs.items()}}


class Synthesize(Stage):
    def fingerprints(self, job, inputs):
        # The target counts problems that pass problem QC, so its settings shape this artifact too.
        return {"seed_files": fingerprint(job.cfg.seeds), **references_fingerprint(job)}

    def run(self, job, inputs, out):
        cfg, agent_cfg = job.cfg, job.agent
        seeds = load_seeds(cfg.seeds)  # a missing or malformed seed file fails before a model loads
        model = llm_mod.get_llm(cfg.problem_model) if agent_class(agent_cfg["_target_"]).uses_llm else None
        sampling = llm_mod.sampling_from(cfg.problem_model, max_new_tokens=agent_cfg.max_new_tokens)
        agent = build_agent(agent_cfg, model, sampling, model_cfg=cfg.problem_model, fine_tune=fine_tune)
        return synthesize(seeds, agent, out, agent_cfg.num_problems, agent_cfg.chunk_size,
                          problem_filter(job), key_slice(cfg.seeds.shares), agent_cfg.max_draws)


class ProblemQC(Stage):
    def fingerprints(self, job, inputs):
        return references_fingerprint(job)

    def run(self, job, inputs, out):
        return problem_qc(inputs["problems"].data, out, problem_filter(job))


class Solve(Stage):
    def run(self, job, inputs, out):
        cfg = job.cfg
        sampling = llm_mod.sampling_from(cfg.solution_model, n=cfg.solve.num_samples)
        return solve(inputs["problems"].data, out, llm_mod.get_llm(cfg.solution_model), sampling, cfg.solve.prompt,
                     cfg.solve.chunk_size)


class SolutionQC(Stage):
    def fingerprints(self, job, inputs):
        # The models a strategy uses decide what it keeps: only those enter the key.
        qc = job.cfg.qc
        return {k: key_slice(v) for k, v in strategy_from(qc.strategy).model_configs(qc, job.cfg.problem_model).items()}

    def run(self, job, inputs, out):
        cfg, qc = job.cfg, job.cfg.qc
        strategy = strategy_from(qc.strategy)
        student = StudentFit(cfg.student.name, cfg.student.max_length, cfg.solve.prompt)
        models = strategy.load_models(qc, cfg.problem_model)
        try:
            return solution_qc(inputs["solved"].data, out, strategy, qc.fixed_size, student=student, **models)
        finally:
            for model in models.values():
                getattr(model, "close", lambda: None)()


def mixture_weights(cfg: DictConfig) -> dict[str, float]:
    """Agent label -> share: 100% of `agent` for mixture=single, else the blend's weights."""
    m = cfg.mixture
    return {cfg.agent.name: 1.0} if m.name == "single" else dict(m.weights)


class Mix(Stage):
    def fingerprints(self, job, inputs):
        return {"weights": mixture_weights(job.cfg)}

    def run(self, job, inputs, out):
        m = job.cfg.mixture
        return mix({k: a.data for k, a in inputs.items()}, mixture_weights(job.cfg), out, m.budget, m.seed)


class Train(Stage):
    def run(self, job, inputs, out):
        cfg = job.cfg
        llm_mod.release_all()  # free generation models before training
        return train(inputs["mixture"].data, out, resolve_model_path(cfg.student.name), cfg.student, cfg.solve.prompt,
                     job.shared.train_history)


class Evaluate(Stage):
    def fingerprints(self, job, inputs):
        items = {k: text_fingerprint([i["problem"] for i in v]) for k, v in job.shared.eval_items().items()}
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
        llm_mod.release_all()
        model_cfg = OmegaConf.structured(ModelConfig(name=model_path, backend=b.backend, dtype=b.dtype,
                                                     batch_size=b.batch_size))
        sampling = llm_mod.Sampling(temperature=0.0, max_new_tokens=b.max_new_tokens)
        metrics = evaluate(job.shared.eval_items(), out, llm_mod.get_llm(model_cfg), sampling, b.prompt,
                           subsets=subset_fields(b), audit=b.audit)
        llm_mod.release_all()
        return metrics


def _mtime(path: str) -> float | None:
    p = Path(path)
    files = list(p.glob("*.safetensors")) or [p]
    return max((f.stat().st_mtime for f in files if f.exists()), default=None)


# The stage table, in pipeline order.
STAGES: list[Stage] = [
    Synthesize("synthesize", per_agent=True,
               reads=("agent", "problem_model", "seeds", *PROBLEM_QC_READS)),
    ProblemQC("problem_qc", per_agent=True, upstream="synthesize", input_name="problems", reads=PROBLEM_QC_READS),
    Solve("solve", per_agent=True, upstream="problem_qc", input_name="problems", reads=("solution_model", "solve")),
    SolutionQC("solution_qc", per_agent=True, upstream="solve", input_name="solved",
               reads=("qc.strategy", "qc.fixed_size", "student.name", "student.max_length", "solve.prompt")),
    Mix("mix", upstream="solution_qc", reads=("mixture.budget", "mixture.seed")),
    Train("train", upstream="mix", input_name="mixture", reads=("student", "solve.prompt")),
    Evaluate("evaluate", upstream="train", input_name="model", reads=("benchmarks",)),
]
STAGE_BY_NAME = {s.name: s for s in STAGES}
