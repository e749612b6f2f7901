"""Every artifact key comes from its stage's declared slice: runtime-only fields reuse, any other field recomputes."""

from __future__ import annotations

import dataclasses

import pytest
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import ValidationError

from flames.agents import typed_config
from flames.keys import unkeyed_fields
from flames.pipeline import Pipeline
from flames.stages import STAGES, Job, Shared
from flames.store import Artifact
from tests.helpers import compose_config

# Fields whose change the slice cannot be computed for in isolation (they must name a suite entry).
UNCHECKABLE = {"benchmarks.names", "benchmarks.suite.builtin.source", "benchmarks.source",
               "audit.judge.shape",  # None, typed ModelShape: no other value to try (runtime: the dry run's only)
               "seeds.dataset"}  # the slice loads the dataset it names (keyed by content: tests/test_seeds_hf.py)
# Fields whose other value must be valid: a class path (the slice imports it), a benchmark of the suite.
REPLACEMENTS = {"agent._target_": "flames.agents.few_shot.FewShot", "qc.strategy._target_": "flames.qc.solution.Strict",
                "qc.decontam.against": ["builtin"]}


def leaves(node, prefix: str):
    """(dotted path, value, keyed) for every leaf under a config node; keyed per the node's schema."""
    schema = OmegaConf.get_type(node)
    unkeyed = unkeyed_fields(schema) if dataclasses.is_dataclass(schema) else set()
    for k in node:
        path, value = f"{prefix}.{k}", node._get_node(k)
        if isinstance(value, DictConfig) and len(value) and k not in unkeyed:
            yield from leaves(node[k], path)
        else:
            yield path, OmegaConf.to_container(value) if isinstance(value, (DictConfig, ListConfig)) \
                else node[k], k not in unkeyed


def changes(value):
    """Different values of the same kind, to try in order (the schema takes the first that fits)."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, (int, float)):
        return [value + 1]
    if isinstance(value, str):
        return [value + "x"]
    if isinstance(value, list):
        return [[*value, "x"]]
    if isinstance(value, dict):  # a new key (a free mapping), or the first entry changed (a typed one: a shape)
        first = {k: changes(v)[0] for k, v in list(value.items())[:1]}
        return [{**value, "x": 1}, {**value, "x": ["y"]}, {**value, **first}]
    return [1, {"x": 1.0}, "x"]  # None: an Optional number, mapping or string


def slice_of(stage, cfg):
    agent = typed_config(cfg.agent) if stage.per_agent else None
    inputs = {"model": Artifact("train", "k", None)} if stage.name == "evaluate" else {}
    return stage.slice(Job(cfg, Shared(cfg), agent), inputs)


def with_change(cfg, path, value):
    """A copy of cfg with `path` changed to the first different value its schema accepts."""
    for new in [REPLACEMENTS[path]] if path in REPLACEMENTS else changes(value):
        try:
            copy = cfg.copy()
            with open_dict(copy):  # a typed mapping (a shape) takes a dict only by merging
                OmegaConf.update(copy, path, new, merge=isinstance(value, dict) and "x" not in new, force_add=True)
            return copy
        except ValidationError:
            continue
    raise AssertionError(f"no value of the right type found for {path}")


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_runtime_fields_keep_the_key_and_every_other_field_changes_it(stage):
    cfg = compose_config(["logger=none", *(["agent=qft"] if stage.name == "tune" else [])])
    base = slice_of(stage, cfg)
    checked = {True: 0, False: 0}
    for read in stage.reads:
        node = Job(cfg, Shared(cfg), typed_config(cfg.agent)).node(read)
        fields = leaves(node, read) if isinstance(node, DictConfig) else [(read, node, True)]
        for path, value, keyed in fields:
            if path in UNCHECKABLE:
                continue
            new = slice_of(stage, with_change(cfg, path, value))
            assert (new != base) == keyed, f"{stage.name}: changing {path} ({'keyed' if keyed else 'runtime'})"
            checked[keyed] += 1
    assert checked[True] >= 1, stage.name
    if stage.name in ("synthesize", "solve"):  # the models' batch size and GPUs are runtime-only
        assert checked[False] >= 3, stage.name


def run(overrides):
    cfg = compose_config(["logger=none", "stage=solution_qc", "agent.num_problems=4", *overrides])
    return {r.stage: r.reused for r in Pipeline(cfg).run().results}


def test_runtime_only_changes_reuse_every_artifact_and_a_sampling_change_recomputes(scripted_backend):
    scripted_backend(lambda p, k: "Rephrased problem: How many apples are 3 + 4? The answer is \\boxed{7}.")
    assert not any(run([]).values())
    runtime = ["problem_model.batch_size=3", "solution_model.tensor_parallel_size=2", "agent.chunk_size=5",
               "solve.chunk_size=7", "solution_model.gpu_memory_utilization=0.5", "resources.solve.gpus=8"]
    assert all(run(runtime).values())
    assert run(["solution_model.temperature=0.3"]) == {"synthesize": True, "problem_qc": True, "solve": False,
                                                      "solution_qc": False}


def test_every_stage_declares_its_resources():
    cfg = compose_config(["experiment=paper"])
    res = {s.name: s.resources(cfg) for s in STAGES}
    assert set(res) == {"teach", "tune", "synthesize", "problem_qc", "solve", "solution_qc", "audit", "mix", "train",
                        "evaluate"}
    assert res["train"].gpus == res["tune"].gpus == res["teach"].gpus == 8 and res["solve"].gpus >= 1 and res["mix"].gpus == 0
    assert all(r.cpus >= 1 and r.mem_gb > 0 and r.time_min > 0 for r in res.values())


def test_checkpoint_selection_keys_train_by_what_it_scores_on():
    """selection=paper picks a checkpoint with the benchmarks' items and budget: they key train then, only then."""
    train = next(s for s in STAGES if s.name == "train")

    def key(*overrides):
        cfg = compose_config(["logger=none", "student.select_on=[builtin]", *overrides])
        return train.slice(Job(cfg, Shared(cfg)), {})

    assert key("benchmarks.limit=3") == key("benchmarks.limit=5")  # selection=last scores nothing
    paper = ["student.selection=paper"]
    assert key(*paper, "benchmarks.limit=3") != key(*paper, "benchmarks.limit=5")
    assert key(*paper, "benchmarks.max_new_tokens=8") != key(*paper, "benchmarks.max_new_tokens=9")
    dev = ["student.selection=dev"]
    assert key(*dev, "benchmarks.limit=3") == key(*dev, "benchmarks.limit=5")  # dev rows come from the mixture
    assert key(*dev, "benchmarks.max_new_tokens=8") != key(*dev, "benchmarks.max_new_tokens=9")
    # selection grades as evaluate does (grading.mode), keyed away from the default only
    assert key("grading.mode=qwen") == key() and key(*dev) == key(*dev, "grading.mode=flames")
    assert key(*dev, "grading.mode=qwen") != key(*dev)


def test_fields_keyed_if_set_stay_out_of_the_key_at_their_default():
    """benchmarks.num_samples and the interval settings came after evaluate keys existed: at their defaults the
    slice is what it was without them (artifacts are reused), set to anything else they key it."""
    evaluate = next(s for s in STAGES if s.name == "evaluate")
    base = slice_of(evaluate, compose_config(["logger=none"]))
    assert "num_samples" not in base["benchmarks"] and "confidence" not in base["benchmarks"]
    assert slice_of(evaluate, compose_config(["logger=none", "benchmarks.num_samples=0"])) == base
    changed = slice_of(evaluate, compose_config(["logger=none", "benchmarks.num_samples=4"]))
    assert changed["benchmarks"]["num_samples"] == 4


def test_the_grading_mode_keys_evaluate_only_away_from_the_default():
    """grading.mode came after evaluate keys existed: flames (the default) keeps them; qwen keys its own."""
    evaluate = next(s for s in STAGES if s.name == "evaluate")
    base = slice_of(evaluate, compose_config(["logger=none"]))
    assert "grading.mode" not in base
    assert slice_of(evaluate, compose_config(["logger=none", "grading.mode=flames"])) == base
    qwen = slice_of(evaluate, compose_config(["logger=none", "grading.mode=qwen"]))
    assert qwen["grading.mode"] == "qwen" and {k: v for k, v in qwen.items() if k != "grading.mode"} == base


def test_an_edited_prompt_changes_the_synthesize_key(tmp_path, monkeypatch):
    """What the model is asked is part of what made the problems: the agent's prompt files are fingerprinted."""
    import shutil

    import flames.agents.base as base

    cfg = compose_config(["logger=none", "agent=paraphrase"])
    synthesize = next(s for s in STAGES if s.name == "synthesize")
    before = slice_of(synthesize, cfg)
    shutil.copytree(base.PROMPT_DIR, tmp_path / "prompts")
    monkeypatch.setattr(base, "PROMPT_DIR", tmp_path / "prompts")
    assert slice_of(synthesize, cfg) == before  # the same text: the same key
    prompt = tmp_path / "prompts" / "paraphrase.txt"
    prompt.write_text(prompt.read_text().replace("Follow the examples.", "Follow the examples closely."))
    assert slice_of(synthesize, cfg)["prompts"] != before["prompts"]
