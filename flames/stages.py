"""The stages as objects: each declares its config slice, its inputs and its resources, and runs one
stage function (`flames.synthesize.synthesize`, `flames.qc.stage.problem_qc`, ...) over files.

    [tune ->] synthesize -> problem_qc -> solve -> solution_qc   once per agent of the mixture
                                                         \\         (none: mixture=external)
                                                          mix -> train -> evaluate

`tune` applies only to agents that sample from a model fine-tuned for them (QFT): it trains that
model as its own job, with training resources, and synthesize loads the result.

A stage's artifact key is the hash of its name, `slice(job, inputs)` and its inputs' keys. The
slice is built from the config paths the stage `reads` (without the fields the schema marks as
runtime-only, `flames.keys.key_slice`) plus `fingerprints` of content the config only points at
(seed files, benchmark items, a model folder). `flames.pipeline.Pipeline` is a loop over `STAGES`.

The generation stages (synthesize, problem_qc, solve, solution_qc) make pools (`grows`): keyed without
the sizes asked (`flames.config.size`), they grow when a run asks for more (`ask`), and each run reads its
view of them (`flames.views`). What selects from a view (mix; solution_qc with a fixed size) is keyed by the
sizes it read (`Job.views`). docs/topup.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from flames import llm as llm_mod
from flames.agents import agent_class, build_agent
from flames.benchmarks import load_benchmark, load_suite, source_of, spec_of, subset_fields
from flames.config import ConfigError, MixtureConfig, ModelConfig, Resources
from flames.context import StageContext
from flames.evaluate import evaluate
from flames.grading import DEFAULT_MODE
from flames.jsonl import read_jsonl
from flames.keys import key_slice, text_fingerprint
from flames.llm.embedded import resolve_model_path
from flames.mix import dataset_fingerprint, mix, mix_external
from flames.qc.problems import ProblemFilter
from flames.qc.stage import StudentFit, problem_qc, solution_qc, strategy_from
from flames.seeds import fingerprint, load_seeds
from flames.solve import solve
from flames.stats import Settings
from flames.store import FULL, Artifact, RecordWriter
from flames.synthesize import synthesize
from flames.train import checkpoint_folders, fine_tune, train, trained_model
from flames.train.plan import describe, make_plan, process_count
from flames.train.run import DEV_FILE, SPEC_FILE


class Shared:
    """What the stages of one pipeline run share: the benchmark suite (loaded once) and the loss curve."""

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self._references: dict | None = None
        self._eval_items: dict[str, list[dict]] = {}  # benchmark -> its items, loaded once when asked
        self.offline = False  # a study's dry run: plan without downloading hub benchmarks (eval_fingerprints)
        self._seeds: list[dict] | None = None
        self.train_history: list[dict] = []
        self.on_train_log: Callable[[dict], None] | None = None  # each training log line, as it is written

    def train_log(self, row: dict) -> None:
        self.train_history.append(row)
        if self.on_train_log:
            self.on_train_log(row)

    def references(self) -> dict[str, list[dict]]:
        """The benchmarks decontamination checks (qc.decontam.against, default all), in full (no limit)."""
        if self._references is None:
            suite, against = self.cfg.benchmarks, list(self.cfg.qc.decontam.against)
            unknown = sorted(set(against) - set(suite.names))
            if unknown:
                raise ConfigError(f"qc.decontam.against: {unknown} not in benchmarks.names {list(suite.names)}")
            self._references = {name: load_benchmark(name, suite) for name in against or suite.names}
        return self._references

    def seeds(self) -> list[dict]:
        """The seed problems (cfg.seeds), read once per run: tune keys and runs on them, synthesize reads them."""
        if self._seeds is None:
            self._seeds = load_seeds(self.cfg.seeds)
        return self._seeds

    def eval_items(self, names: list[str] | None = None) -> dict[str, list[dict]]:
        """The items evaluation answers (benchmarks.limit / limit_seed applied): every benchmark, or `names`."""
        b = self.cfg.benchmarks
        missing = [name for name in names or b.names if name not in self._eval_items]
        self._eval_items.update(load_suite(b, b.limit, b.limit_seed, missing) if missing else {})
        return {name: self._eval_items[name] for name in names or b.names}

    def eval_fingerprints(self, names: list[str] | None = None) -> dict[str, str]:
        """The fingerprint of each benchmark's items (evaluate's and selection's keys). A dry run (`offline`)
        downloads nothing: a hub benchmark is named by its spec there."""
        b, out = self.cfg.benchmarks, {}
        for name in names or b.names:
            spec = spec_of(name, b)
            if self.offline and source_of(spec, b) == "hub":
                out[name] = "dry-run:" + text_fingerprint([json.dumps(OmegaConf.to_container(spec), sort_keys=True)])
            else:
                out[name] = text_fingerprint([i["problem"] for i in self.eval_items([name])[name]])
        return out


@dataclass
class Job:
    """One stage run: the whole config, the agent (per-agent stages; None for shared ones), shared data."""

    cfg: DictConfig
    shared: Shared
    agent: DictConfig | None = None
    views: dict[str, int] = field(default_factory=dict)  # agent label -> problems it asks for (its view)
    ctx: StageContext = field(default_factory=StageContext)  # the running stage's (Pipeline.run_stage sets it)

    def node(self, path: str) -> Any:
        """A config node by dotted path; "agent[.x]" is this job's agent (a blend's own, not cfg.agent)."""
        if path == "agent":
            return self.agent
        if path.startswith("agent."):
            return OmegaConf.select(self.agent, path.removeprefix("agent."), throw_on_missing=True)
        return OmegaConf.select(self.cfg, path, throw_on_missing=True)


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

    def applies(self, job: Job) -> bool:
        """Whether this stage runs for this job (all do, but `tune` only for agents that tune a generator)."""
        return True

    def grows(self, job: Job) -> bool:
        """Whether its artifact is a pool: keyed without sizes, grown when a run asks for more (flames.store)."""
        return False

    def ask(self, job: Job) -> dict[str, int]:
        """The sizes a run asks of its pool (each a limit: an ask served with more covers it)."""
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
    tuned = inputs["generator"]
    path = trained_model(tuned.path, tuned.manifest()["metrics"])
    # The fine-tuned model learned the chat format (TRL renders conversations with the template).
    return OmegaConf.merge(cfg.problem_model, {"name": path, "chat_template": True}), path


class Synthesize(Stage):
    def grows(self, job):
        return True

    def ask(self, job):
        return {"num_problems": job.agent.num_problems, "max_draws": job.agent.max_draws}

    def fingerprints(self, job, inputs):
        # The target counts problems that pass problem QC, so its settings shape this artifact too.
        return {"seed_files": fingerprint(job.cfg.seeds), **references_fingerprint(job)}

    def run(self, job, inputs, out):
        cfg, agent_cfg = job.cfg, job.agent
        seeds = job.shared.seeds()  # a missing or malformed seed file fails before a model loads
        model_cfg, generator = generator_config(cfg, inputs)
        model = LazyModel(model_cfg, job.ctx) if agent_class(agent_cfg["_target_"]).uses_llm else None
        sampling = llm_mod.sampling_from(cfg.problem_model, max_new_tokens=agent_cfg.max_new_tokens)
        agent = build_agent(agent_cfg, model, sampling, model_cfg=cfg.problem_model, generator=generator)
        metrics = synthesize(seeds, agent, out, agent_cfg.num_problems, agent_cfg.chunk_size,
                             problem_filter(job), key_slice(cfg.seeds.shares), agent_cfg.max_draws,
                             retry=job.ctx.retry)
        return {**metrics, FULL: metrics["reached_target"]}  # short of it, more draws may still add problems


class LazyModel:
    """A model loaded at its first use: a pool asked for what it already holds (problems accepted past an
    earlier target, samples of every problem of the view) grows without loading one."""

    def __init__(self, cfg: DictConfig, ctx: StageContext):
        self.cfg, self.ctx, self._model = cfg, ctx, None

    def __getattr__(self, name: str) -> Any:
        if self._model is None:
            self._model = llm_mod.for_stage(self.ctx, self.cfg)
        return getattr(self._model, name)


class ProblemQC(Stage):
    def grows(self, job):
        return True  # checks every problem of its input pool: served until that pool grows

    def fingerprints(self, job, inputs):
        return references_fingerprint(job)

    def run(self, job, inputs, out):
        return problem_qc(inputs["problems"].data, out, problem_filter(job))


class Solve(Stage):
    def grows(self, job):
        return True

    def ask(self, job):
        return {"num_problems": job.agent.num_problems, "num_samples": job.cfg.solve.num_samples}

    def run(self, job, inputs, out):
        cfg, n = job.cfg, job.agent.num_problems
        sampling = llm_mod.sampling_from(cfg.solution_model, n=cfg.solve.num_samples)
        metrics = solve(inputs["problems"].data, out, LazyModel(cfg.solution_model, job.ctx), sampling, cfg.solve.prompt,
                        cfg.solve.chunk_size, num_problems=n, retry=job.ctx.retry)
        return {**metrics, FULL: metrics["view_size"] >= n}


class SolutionQC(Stage):
    # metrics of one run's decisions, not added up over the pool's growths
    PER_RUN = ("strategy", "view_size", "decided")

    def grows(self, job):
        return job.cfg.qc.fixed_size is None  # a fixed-size subsample is drawn from the whole view: keyed by it

    def ask(self, job):
        return {"num_problems": job.agent.num_problems}

    def slice(self, job, inputs):
        out = super().slice(job, inputs)
        if not self.grows(job):
            out["view"] = {"num_problems": job.agent.num_problems}
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
        n, before = job.agent.num_problems, previous_metrics(out)  # a grown pool's counts so far
        try:
            metrics = solution_qc(inputs["solved"].data, out, strategy, qc.fixed_size, student=student,
                                  num_samples=cfg.solve.num_samples, num_problems=n, retry=job.ctx.retry, **models)
        finally:
            for model in models.values():
                getattr(model, "close", lambda: None)()
        kept = {k: v for k, v in metrics.items() if k in self.PER_RUN}
        return {**add_counts(before, metrics), **kept, FULL: metrics["view_size"] >= n}


def previous_metrics(out: Path) -> dict:
    """The metrics of the pool `out` grows (its manifest, copied with it); {} for a new one."""
    path = out / "manifest.json"
    return json.loads(path.read_text()).get("metrics", {}) if path.exists() else {}


def add_counts(before: Any, now: Any) -> Any:
    """Counts (numbers, and mappings of them) added up; anything else is `now`'s."""
    if isinstance(before, dict) and isinstance(now, dict):
        return {k: add_counts(before.get(k), now[k]) if k in now else before[k] for k in {**before, **now}}
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (before, now))
    return before + now if numbers else now


def mixture_weights(cfg: DictConfig) -> dict[str, float]:
    """Agent label -> share: 100% of `agent` for mixture=single, else the blend's weights."""
    m = cfg.mixture
    return {cfg.agent.name: 1.0} if m.name == "single" else dict(m.weights)


def external_dataset(cfg: DictConfig) -> str | None:
    """The SFT dataset the mixture trains on instead of the agents' output (mixture=external), or None."""
    m = cfg.mixture
    if m.name == "external" and not m.dataset:
        raise ConfigError("mixture=external needs mixture.dataset=<a JSONL file, a dataset folder or a hub id>")
    if m.dataset and m.weights:  # a blend's agents would be silently left out
        raise ConfigError(f"mixture {m.name}: mixture.dataset and mixture.weights are exclusive (mixture=external)")
    return m.dataset or None


class Mix(Stage):
    def slice(self, job, inputs):
        out = super().slice(job, inputs)
        if job.cfg.mixture.get("budget_cap") is not None:  # keyed only when set: earlier mixes keep their keys
            out["mixture.budget_cap"] = job.cfg.mixture.budget_cap
        return out

    def fingerprints(self, job, inputs):
        m = job.cfg.mixture
        if external_dataset(job.cfg):
            return {"dataset": dataset_fingerprint(m.dataset, m.split, m.fields)}
        # the views it draws from: the agents' pools are keyed without their sizes
        return {"weights": mixture_weights(job.cfg), "views": dict(job.views)}

    def run(self, job, inputs, out):
        m = job.cfg.mixture
        if external_dataset(job.cfg):
            return mix_external(m.dataset, m.split, m.fields, out, MixtureConfig.budget_of(m), m.seed)
        return mix({k: a.data for k, a in inputs.items()}, mixture_weights(job.cfg), out, MixtureConfig.budget_of(m), m.seed,
                   views=job.views, shortfall=m.shortfall, tolerance=m.shortfall_tolerance)


SELECTIONS = ("last", "paper", "dev")


class Train(Stage):
    def fingerprints(self, job, inputs):
        # Checkpoint selection scores with the benchmarks' prompt and token budget, on their (limited) items.
        b, selection = job.cfg.benchmarks, job.cfg.student.selection
        if selection == "last":
            return {}
        scoring = {"prompt": b.prompt, "max_new_tokens": b.max_new_tokens}
        if selection == "paper":
            wanted = [n for n in job.cfg.student.select_on if n in b.names]  # others are refused when it runs
            scoring["items"] = {**{n: text_fingerprint([]) for n in job.cfg.student.select_on},
                                **job.shared.eval_fingerprints(wanted)}
        return {"selection_scoring": scoring}

    def dry_run(self, cfg: DictConfig) -> str:
        """The command a cluster job of this stage runs, and the batch layout (distributed.dry_run)."""
        dist = cfg.distributed
        plan = make_plan(cfg.student, process_count(dist, self.resources(cfg).gpus))
        return describe(plan, cfg.student, dist, Path(cfg.paths.store) / "train" / "<key>" / SPEC_FILE)

    def run(self, job, inputs, out):
        cfg, student = job.cfg, job.cfg.student
        if student.selection not in SELECTIONS:
            raise ConfigError(f"student.selection={student.selection!r}: one of {', '.join(SELECTIONS)}")
        if student.selection == "paper":
            selection_items(job, out)  # a benchmark missing from the suite fails before training, not after
        llm_mod.release(job.ctx)  # free generation models before training
        metrics = train(inputs["mixture"].data, out, resolve_model_path(student.name), student, cfg.solve.prompt,
                        cfg.distributed, process_count(cfg.distributed), job.shared.train_log)
        if student.selection != "last" and "skipped" not in metrics:
            metrics.update(select_checkpoint(job, out))
        return metrics


def selection_items(job: Job, out: Path) -> dict[str, list[dict]]:
    """What checkpoints are scored on: the select_on test benchmarks (paper) or the held-out dev rows."""
    if job.cfg.student.selection == "dev":
        return {"dev": list(read_jsonl(out / DEV_FILE))}
    names, wanted = list(job.cfg.benchmarks.names), list(job.cfg.student.select_on)
    missing = sorted(set(wanted) - set(names))
    if missing:
        raise ConfigError(f"student.select_on: {missing} not in benchmarks.names {sorted(names)}")
    return job.shared.eval_items(wanted)


def select_checkpoint(job: Job, out: Path) -> dict:
    """Score every checkpoint (mean accuracy over the selection items, greedy) and choose the best.

    selection=paper scores on test benchmarks, as the paper did: the chosen model has seen its test
    set's verdicts. Ties go to the later checkpoint.
    """
    items, scored = selection_items(job, out), []
    for folder in checkpoint_folders(out):
        metrics = evaluate(items, out / "selection" / folder.name, eval_model(job, str(folder)),
                           eval_sampling(job), job.cfg.benchmarks.prompt)
        llm_mod.release(job.ctx)
        scores = {name: metrics[name]["accuracy"] for name in items}
        scored.append({"step": int(folder.name.split("-")[-1]), "folder": f"checkpoints/{folder.name}",
                       "scores": scores, "score": sum(scores.values()) / len(scores)})
    best = max(reversed(scored), key=lambda c: c["score"])  # reversed: max keeps the first, the latest
    return {"checkpoints": scored, "selected": best["folder"], "selected_step": best["step"],
            "selected_score": best["score"], "selection": job.cfg.student.selection}


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


# The stage table, in pipeline order.
STAGES: list[Stage] = [
    Tune("tune", per_agent=True, reads=("problem_model.name", "agent.train")),
    Synthesize("synthesize", per_agent=True, upstream="tune", input_name="generator",
               reads=("agent", "problem_model", "seeds", *PROBLEM_QC_READS)),
    ProblemQC("problem_qc", per_agent=True, upstream="synthesize", input_name="problems", reads=PROBLEM_QC_READS),
    Solve("solve", per_agent=True, upstream="problem_qc", input_name="problems", reads=("solution_model", "solve")),
    SolutionQC("solution_qc", per_agent=True, upstream="solve", input_name="solved",
               reads=("qc.strategy", "qc.fixed_size", "student.name", "student.max_length", "student.chat_template",
                      "solve.prompt", "solve.num_samples")),
    Mix("mix", upstream="solution_qc", reads=("mixture.budget", "mixture.seed")),
    Train("train", upstream="mix", input_name="mixture", reads=("student", "solve.prompt")),
    Evaluate("evaluate", upstream="train", input_name="model", reads=("benchmarks",)),
]
STAGE_BY_NAME = {s.name: s for s in STAGES}
