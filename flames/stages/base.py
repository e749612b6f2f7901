"""The stage plumbing every stage shares: the job, the stage base class, what a pipeline run shares, and the
problem filter and model loading of the generation stages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from flames import llm as llm_mod
from flames.benchmarks import load_benchmark, load_suite, source_of, spec_of
from flames.config import ConfigError, Resources
from flames.context import StageContext
from flames.keys import key_slice, text_fingerprint
from flames.qc.problems import ProblemFilter
from flames.seeds import load_seeds
from flames.store import Artifact, Output


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


@dataclass(frozen=True)
class Sizes:
    """One agent's sizes, derived once from its config (Pipeline: after the mixture budget's share and the cap):
    `target`, the problems synthesize keeps (its pool's ask, in at most `max_draws` passes over the inputs), and
    `view`, how many of them solve, solution QC and mix read."""

    target: int
    view: int
    max_draws: int

    @classmethod
    def of(cls, agent: DictConfig) -> "Sizes":
        return cls(target=int(agent.num_problems), view=int(agent.num_problems), max_draws=int(agent.max_draws))


@dataclass
class Job:
    """One stage run: the whole config, the agent (per-agent stages; None for shared ones), shared data."""

    cfg: DictConfig
    shared: Shared
    agent: DictConfig | None = None
    views: dict[str, int] = field(default_factory=dict)  # agent label -> problems it asks for (its view)
    sizes: Sizes | None = None  # this job's agent's (per-agent stages); None: derived from `agent`

    def __post_init__(self) -> None:
        if self.sizes is None and self.agent is not None:
            self.sizes = Sizes.of(self.agent)
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
    # (stage, name): a shared stage's artifact it also reads under `name` when that stage applied (solve: teach's)
    extra_inputs: tuple[tuple[str, str], ...] = field(default_factory=tuple)

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

    def resources_for(self, cfg: DictConfig, agent: DictConfig | None) -> Resources:
        """What a cluster job of this stage asks for to run `agent`'s part (per-agent stages; None: shared)."""
        return self.resources(cfg)

    def run(self, job: Job, inputs: dict[str, Artifact], out: Path) -> dict | Output:
        """Compute the artifact into `out`; return the stage's metrics, or an Output (a pool: whether its view was
        whole)."""
        raise NotImplementedError

    shardable = False  # its work can be split over array tasks (flames.store.shards): run_shard, then merge

    def run_shard(self, job: Job, inputs: dict[str, Artifact], pool: Path | None, rnd: Any, index: int) -> dict:
        """Compute shard `index` of the round `rnd` (flames.store.ShardRound) into `rnd.part(index)`, planned from
        `pool` (the sealed pool being grown; None for a new one); return its metrics."""
        raise NotImplementedError

    def merge(self, job: Job, inputs: dict[str, Artifact], out: Path, rnd: Any) -> Output:
        """Fold the round's shards into `out` (the store's folder, as for `run`) and finish the artifact there."""
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


class LazyModel:
    """A model loaded at its first use: a pool asked for what it already holds (problems accepted past an
    earlier target, samples of every problem of the view) grows without loading one."""

    def __init__(self, cfg: DictConfig, ctx: StageContext):
        self.cfg, self.ctx, self._model = cfg, ctx, None

    def __getattr__(self, name: str) -> Any:
        if self._model is None:
            self._model = llm_mod.for_stage(self.ctx, self.cfg)
        return getattr(self._model, name)


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
