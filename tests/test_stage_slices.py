"""A stage reads its config through its declared slice: every stage runs (scripted models, training stubbed) on a
config whose every value outside the paths the stage declares is missing, so a read outside them fails. What a
stage may read without it entering its key is declared here, each with why; a new undeclared read fails."""

from __future__ import annotations

import dataclasses

import pytest
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

import flames.stages.train as train_stage
import flames.stages.tune as tune_stage
from flames.pipeline import Pipeline
from flames.stages import STAGES
from tests.helpers import compose_config
from tests.scripted_backend import reply as scripted_reply

# Reads outside a stage's `reads` that do not enter its key, by stage, and why.
NOT_KEYED = {
    "all": ("paths", "resources", "failures", "study", "study_task", "stage", "experiment", "logger", "hydra"),
    # the strategy's models (the judge defaults to the problem model): fingerprinted (Strategy.model_configs) when used
    # the agent's class (whether its problems keep their seed's answer: the difficulty scorer's reference) made the
    # solve pool it reads: synthesize's key holds it
    "solution_qc": ("problem_model", "qc.judge", "qc.solvability", "qc.reward_model", "agent._target_"),
    # the blend's weights (single: the agent's name) and an external dataset are fingerprinted (Mix.fingerprints);
    # budget_cap is added to the slice when set; the shortfall policy decides whether mix stops, not what it writes
    "mix": ("mixture.name", "mixture.weights", "agent.name", "mixture.dataset", "mixture.split", "mixture.fields",
            "mixture.budget_cap", "mixture.shortfall", "mixture.shortfall_tolerance"),
    # how training is launched and sharded (ddp, fsdp, zero3): speed and memory; the global batch is the student's
    # checkpoint selection scores with the benchmarks' prompt, token budget and items, which Train.fingerprints
    # records (and the grading mode, away from its default); their backend, dtype and batch size are runtime
    "train": ("distributed", "benchmarks", "grading.mode"),
    # the generator's training rows are fingerprinted (Tune.fingerprints): what of the agent and seeds made them
    "tune": ("agent", "seeds", "distributed"),
    # the judge defaults to the problem model (fingerprinted when it does), and the strategy's judge settings
    "audit": ("problem_model", "qc.solvability"),
    # grading.mode enters the slice away from its default (Evaluate.slice); student.path is fingerprinted (its files)
    "evaluate": ("grading.mode", "student.path"),
}


def under(path: str, prefixes) -> bool:
    return any(path == p or path.startswith(p + ".") or p.startswith(path + ".") for p in prefixes)


def poison(tree: dict, allowed, prefix: str) -> dict:
    """`tree` with every value outside `allowed` (dotted paths) replaced by "???", OmegaConf's missing value."""
    out = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if any(path == p or path.startswith(p + ".") for p in allowed):
            out[key] = value
        elif isinstance(value, dict) and under(path, allowed):
            out[key] = poison(value, allowed, path)
        else:
            out[key] = "???"
    return out


def poisoned(node: DictConfig, allowed, prefix: str = "") -> DictConfig:
    """A copy of `node` (at `prefix` of the config) whose values outside `allowed` are missing: reading one raises."""
    return OmegaConf.create(poison(OmegaConf.to_container(node, resolve=True), allowed, prefix))


def declared(stage, job) -> list[str]:
    """What a stage may read: its reads and the declared unkeyed ones (its sizes come derived: Job.sizes)."""
    return [*stage.reads, *NOT_KEYED["all"], *NOT_KEYED.get(stage.name, ())]


@pytest.fixture
def slice_only(monkeypatch):
    """Every stage's `run` gets a job whose config (and agent) holds only what the stage declares."""
    seen = []
    for stage in STAGES:
        def run(job, inputs, out, _stage=stage, _run=stage.run):
            allowed = declared(_stage, job)
            agent = None if job.agent is None else poisoned(job.agent, allowed, "agent")
            seen.append(_stage.name)
            return _run(dataclasses.replace(job, cfg=poisoned(job.cfg, allowed), agent=agent), inputs, out)
        monkeypatch.setattr(stage, "run", run)
    return seen


CASES = {  # command lines that together run every stage and every branch that reads the config differently
    "quickstart": [],
    "a judge and a blend": ["qc=solvability", "mixture=flames_small", "mixture.budget=8"],
    "qft and dev selection": ["agent=qft", "agent.train_seeds=2", "agent.samples_per_seed=2", "student.selection=dev",
                              "student.dev_size=1"],
}


@pytest.mark.parametrize("case", CASES)
def test_every_stage_runs_on_its_declared_slice_alone(case, scripted_backend, slice_only, monkeypatch):
    def fake_train(mixture, out, base, student, prompt, distributed, processes, on_log):
        checkpoint = out / "checkpoints" / "checkpoint-1"  # what a complete save leaves (flames.train.checkpoints)
        checkpoint.mkdir(parents=True)
        (checkpoint / "trainer_state.json").write_text("{}")
        (checkpoint / "model.safetensors").write_text("")
        (out / "dev.jsonl").write_text('{"id": "d1", "problem": "What is 1 + 2?", "answer": "3"}\n')  # selection=dev
        return {"model": str(out / "checkpoints" / "checkpoint-1"), "examples": 1}

    def fake_fine_tune(data, out, base_model, overrides, distributed, processes):
        (out / "model").mkdir()
        return str(out / "model")

    monkeypatch.setattr(train_stage, "train", fake_train)
    monkeypatch.setattr(tune_stage, "fine_tune", fake_fine_tune)
    scripted_backend(lambda p, k, seed: scripted_reply(p, k, seed))
    run = Pipeline(compose_config(["logger=none", "agent.num_problems=2", "benchmarks.limit=2", *CASES[case]])).run()
    stages = [r.stage for r in run.results]
    assert stages[-3:] == ["mix", "train", "evaluate"] and slice_only == stages, stages


def test_a_read_outside_the_slice_fails():
    cfg = poisoned(compose_config(["logger=none"]), ["solve"])
    assert cfg.solve.num_samples >= 1
    with pytest.raises(MissingMandatoryValue):
        cfg.seeds.limit
