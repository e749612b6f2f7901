"""The pipeline: each stage's artifact is looked up in the store by key, or computed.

synthesize -> problem_qc -> solve -> solution_qc  (per agent of the mixture)
           -> mix -> train -> evaluate
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from flames import llm as llm_mod
from flames.store import Artifact, Store

log = logging.getLogger(__name__)

STAGES = ["synthesize", "problem_qc", "solve", "solution_qc", "mix", "train", "evaluate"]
# Model settings that change speed or memory but not what is generated: left out of keys.
RUNTIME_ONLY = {"batch_size", "gpu_memory_utilization", "tensor_parallel_size"}


@dataclass
class StageResult:
    stage: str
    label: str  # which agent (per-agent stages) or "" (shared stages)
    artifact: Artifact
    reused: bool

    @property
    def manifest(self) -> dict:
        return self.artifact.manifest()


@dataclass
class PipelineRun:
    """What one `flames` job did, stage by stage."""

    results: list[StageResult] = field(default_factory=list)
    eval_metrics: dict = field(default_factory=dict)
    train_history: list = field(default_factory=list)


def plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def model_slice(cfg: Any) -> dict:
    return {k: v for k, v in plain(cfg).items() if k not in RUNTIME_ONLY}


def text_fingerprint(texts: list[str]) -> str:
    return hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]


class Pipeline:
    def __init__(self, cfg: DictConfig, logger=None):
        self.cfg = cfg
        self.store = Store(Path(cfg.paths.store).expanduser().resolve())
        self.logger = logger
        self.run_info = PipelineRun()
        self._references: dict | None = None

    # -- orchestration -------------------------------------------------------------
    def run(self) -> PipelineRun:
        cfg, target = self.cfg, getattr(self.cfg.stage, "value", self.cfg.stage)
        last = STAGES.index(target) if target != "all" else len(STAGES) - 1
        if target == "evaluate" and cfg.student.path:
            self.evaluate(None)  # evaluate an existing model, nothing else
            return self.run_info
        per_agent = {}
        for agent_cfg in self.mixture_agents():
            art = self.synthesize(agent_cfg)
            for name, step in (("problem_qc", self.problem_qc), ("solve", self.solve), ("solution_qc", self.solution_qc)):
                if STAGES.index(name) > last:
                    break
                art = step(art, agent_cfg.name)
            per_agent[agent_cfg.name] = art
        if last >= STAGES.index("mix"):
            mixed = self.mix(per_agent)
            trained = self.train(mixed) if last >= STAGES.index("train") else None
            if last >= STAGES.index("evaluate"):
                self.evaluate(trained)
        return self.run_info

    def mixture_agents(self) -> list[Any]:
        m = self.cfg.mixture
        if m.name == "single":
            return [self.cfg.agent]
        missing = set(m.weights) - set(m.agents)
        if missing:
            raise ValueError(f"mixture {m.name}: weights name agents without a config: {sorted(missing)}")
        return [m.agents[name] for name in m.weights]

    def _stage(self, stage: str, label: str, config: Any, inputs: dict[str, Artifact], compute) -> Artifact:
        llm_mod.set_stage(stage)
        name = f"{stage}[{label}]" if label else stage

        def logged(out: Path) -> dict:  # runs under the lock, only when this job computes
            log.info("%s: computing -> %s", name, out)
            return compute(out)

        art, reused = self.store.run(stage, config, inputs, logged)
        if reused:
            log.info("%s: reused %s", name, art.path)
        result = StageResult(stage, label, art, reused)
        self.run_info.results.append(result)
        if self.logger:
            self.logger.log_stage(result)
        return art

    # -- stages --------------------------------------------------------------------
    def synthesize(self, agent_cfg: Any) -> Artifact:
        from flames.agents import agent_class, build_agent
        from flames.seeds import fingerprint, load_seeds
        from flames.synthesize import ProblemGate, synthesize

        cfg, qc = self.cfg, self.cfg.qc
        agent_slice = {k: v for k, v in plain(agent_cfg).items() if k != "chunk_size"}
        seeds_slice = {**plain(cfg.seeds), "fingerprint": fingerprint(cfg.seeds)}
        # The target counts problems that pass problem QC, so its settings shape this artifact too.
        config = {"agent": agent_slice, "problem_model": model_slice(cfg.problem_model), "seeds": seeds_slice,
                  "problem_qc": self._problem_qc_slice()}

        def compute(out: Path) -> dict:
            seeds = load_seeds(cfg.seeds)
            model = llm_mod.get_llm(cfg.problem_model) if agent_class(agent_cfg.name).uses_llm else None
            sampling = llm_mod.sampling_from(cfg.problem_model, max_new_tokens=agent_cfg.max_new_tokens)
            agent = build_agent(agent_cfg, model, sampling, model_cfg=cfg.problem_model)
            refs = [i["problem"] for items in self.references().values() for i in items] if qc.decontam.enabled else []
            gate = ProblemGate(refs, qc.dedup.threshold, qc.dedup.backend, qc.decontam.mode)
            return synthesize(seeds, agent, out, agent_cfg.num_problems, agent_cfg.chunk_size, gate,
                              plain(cfg.seeds.shares))

        return self._stage("synthesize", agent_cfg.name, config, {}, compute)

    def _problem_qc_slice(self) -> dict:
        qc = self.cfg.qc
        refs = self.references() if qc.decontam.enabled else {}
        return {"dedup": plain(qc.dedup), "decontam": plain(qc.decontam),
                "references": {k: text_fingerprint([i["problem"] for i in v]) for k, v in refs.items()}}

    def problem_qc(self, problems: Artifact, label: str) -> Artifact:
        from flames.qc.stage import problem_qc

        qc = self.cfg.qc
        refs = self.references() if qc.decontam.enabled else {}
        return self._stage("problem_qc", label, self._problem_qc_slice(), {"problems": problems}, lambda out: problem_qc(
            problems.data, out, refs, qc.dedup.threshold, qc.dedup.backend, qc.decontam.enabled, qc.decontam.mode))

    def references(self) -> dict[str, list[dict]]:
        """Every benchmark of the suite, in full (decontamination ignores benchmarks.limit)."""
        if self._references is None:
            from flames.benchmarks import load_suite

            self._references = load_suite(self.cfg.benchmarks)
        return self._references

    def solve(self, problems: Artifact, label: str) -> Artifact:
        from flames.solve import solve

        cfg = self.cfg
        config = {"solution_model": model_slice(cfg.solution_model),
                  **{k: v for k, v in plain(cfg.solve).items() if k != "chunk_size"}}

        def compute(out: Path) -> dict:
            sampling = llm_mod.sampling_from(cfg.solution_model, n=cfg.solve.num_samples)
            return solve(problems.data, out, llm_mod.get_llm(cfg.solution_model), sampling, cfg.solve.prompt,
                         cfg.solve.chunk_size)

        return self._stage("solve", label, config, {"problems": problems}, compute)

    def solution_qc(self, solved: Artifact, label: str) -> Artifact:
        from flames.qc.stage import StudentFit, solution_qc

        cfg, qc = self.cfg, self.cfg.qc
        student = StudentFit(cfg.student.name, cfg.student.max_length, cfg.solve.prompt)
        config = {"strategy": qc.strategy, "fixed_size": qc.fixed_size,
                  "student": {"name": student.tokenizer, "max_length": student.max_length}}
        # Model settings enter the key only where they decide: first/majority/... keep their keys.
        uses_judge, uses_reward = qc.strategy.startswith("solvability"), qc.strategy == "solvability_reward"
        judge_cfg = qc.judge if qc.judge.name else cfg.problem_model  # "" = the problem model
        if uses_judge:
            config["judge"] = {**model_slice(judge_cfg), **{k: v for k, v in plain(qc.solvability).items()
                                                            if k != "chunk_size"}}
        if uses_reward:
            config["reward_model"] = {k: v for k, v in plain(qc.reward_model).items() if k != "batch_size"}

        def compute(out: Path) -> dict:
            from flames.qc.judge import SolvabilityJudge
            from flames.qc.reward import RewardScorer

            judge = scorer = None
            if uses_judge:
                sampling = llm_mod.sampling_from(judge_cfg, temperature=qc.solvability.temperature,
                                                 max_new_tokens=qc.solvability.max_new_tokens)
                judge = SolvabilityJudge(llm_mod.get_llm(judge_cfg), sampling, qc.solvability.chunk_size)
            if uses_reward:
                rm = qc.reward_model
                scorer = RewardScorer(rm.name, rm.dtype, rm.batch_size, rm.max_length, plain(rm.extra),
                                      before_load=llm_mod.release_all)  # a vLLM judge holds the GPU memory
            try:
                return solution_qc(solved.data, out, qc.strategy, qc.fixed_size, judge=judge, scorer=scorer,
                                   student=student)
            finally:
                if scorer:
                    scorer.close()

        return self._stage("solution_qc", label, config, {"solved": solved}, compute)

    def mix(self, per_agent: dict[str, Artifact]) -> Artifact:
        from flames.mix import mix

        m = self.cfg.mixture
        weights = {name: 1.0 for name in per_agent} if m.name == "single" else dict(m.weights)
        config = {"weights": weights, "budget": m.budget, "seed": m.seed}
        return self._stage("mix", "", config, dict(per_agent), lambda out: mix(
            {k: a.data for k, a in per_agent.items()}, weights, out, m.budget, m.seed))

    def train(self, mixed: Artifact) -> Artifact:
        from flames.llm.embedded import resolve_model_path
        from flames.train import train

        cfg = self.cfg
        student = {k: v for k, v in plain(cfg.student).items() if k != "path"}
        config = {"student": student, "prompt": cfg.solve.prompt}

        def compute(out: Path) -> dict:
            llm_mod.release_all()  # free generation models before training
            return train(mixed.data, out, resolve_model_path(cfg.student.name), cfg.student, cfg.solve.prompt,
                         self.run_info.train_history)

        return self._stage("train", "", config, {"mixture": mixed}, compute)

    def evaluate(self, trained: Artifact | None) -> Artifact:
        from flames.benchmarks import load_suite, subset_fields
        from flames.evaluate import evaluate
        from flames.llm.embedded import resolve_model_path

        cfg, b = self.cfg, self.cfg.benchmarks
        if trained is not None:
            from flames.train import trained_model

            model_path, model_id = trained_model(trained.path, trained.manifest()["metrics"]), {"train": trained.key}
        else:
            model_path = resolve_model_path(cfg.student.path)
            model_id = {"path": os.path.abspath(model_path), "mtime": _mtime(model_path)}
        suite = load_suite(b, b.limit, b.limit_seed)
        # limit_seed stays out of the key (as data_dir): the items' fingerprint says which were drawn
        unkeyed = ("batch_size", "data_dir", "limit_seed")
        config = {"benchmarks": {k: v for k, v in plain(b).items() if k not in unkeyed},
                  "model": model_id, "items": {k: text_fingerprint([i["problem"] for i in v]) for k, v in suite.items()}}

        def compute(out: Path) -> dict:
            llm_mod.release_all()
            model_cfg = OmegaConf.create({"name": model_path, "backend": b.backend, "dtype": b.dtype,
                                          "batch_size": b.batch_size, "max_model_len": None, "seed": 0,
                                          "tensor_parallel_size": 1, "gpu_memory_utilization": 0.9, "extra": {}})
            model = llm_mod.get_llm(model_cfg)
            sampling = llm_mod.Sampling(temperature=0.0, max_new_tokens=b.max_new_tokens)
            metrics = evaluate(suite, out, model, sampling, b.prompt, subsets=subset_fields(b), audit=b.audit)
            llm_mod.release_all()
            return metrics

        art = self._stage("evaluate", "", config, {"model": trained} if trained else {}, compute)
        self.run_info.eval_metrics = art.manifest()["metrics"]
        if self.logger:
            self.logger.log_eval(self.run_info.eval_metrics, art)
        return art


def _mtime(path: str) -> float | None:
    p = Path(path)
    files = [f for f in p.glob("*.safetensors")] or [p]
    return max((f.stat().st_mtime for f in files if f.exists()), default=None)
