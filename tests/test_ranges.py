"""Every number a user can set declares its range with its schema field, and a value just outside that range is
refused with one line naming the key, before anything runs: a table over the whole schema (the root config,
every model group and every agent's own Config), not a hand-kept list of keys."""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
import typing

import pytest
from omegaconf import OmegaConf

from flames.agents import agent_class, shipped_agents, typed_config
from flames.checks import check_values, field_choices, field_ranges, numeric_fields
from flames.config import Config, ConfigError
from tests.helpers import compose_config


def schemas(root: type = Config) -> list[type]:
    """The schema dataclasses reachable from `root`'s field types (Optional, Dict and List of them too)."""
    found, todo = [], [root]
    while todo:
        cls = todo.pop()
        if cls in found:
            continue
        found.append(cls)
        for hint in typing.get_type_hints(cls).values():
            todo += [t for t in (hint, *typing.get_args(hint)) if dataclasses.is_dataclass(t) and isinstance(t, type)]
    return found


AGENT_SCHEMAS = {agent_class(name).Config: name for name in shipped_agents()}
ALL = [*schemas(), *AGENT_SCHEMAS]


def test_the_table_covers_the_whole_schema():
    names = {cls.__name__ for cls in ALL}
    assert {"ModelConfig", "ModelShape", "Resources", "StudentConfig", "StudyConfig", "BenchmarksConfig",
            "IQCConfig", "KeyConceptsConfig", "SuggesterEditorConfig"} <= names
    assert sum(len(numeric_fields(cls)) for cls in ALL) > 100


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_number_declares_its_range(cls):
    assert set(numeric_fields(cls)) - set(field_ranges(cls)) == set()


def where(cls: type, cfg) -> str | None:
    """A path of the composed config typed by `cls` (agents: `agent`)."""
    if cls in AGENT_SCHEMAS:
        return "agent"
    from omegaconf import DictConfig

    def walk(node, path):
        if isinstance(node, DictConfig):
            if OmegaConf.get_type(node) is cls:
                return path
            for key in node:
                if not OmegaConf.is_missing(node, key):
                    got = walk(node._get_node(key), f"{path}.{key}" if path else str(key))
                    if got:
                        return got
        return None

    return walk(cfg, "")


def outside(cls: type, name: str, rng) -> object:
    """A value just outside `rng`: below its low end, else above its high end (of the field's type)."""
    whole = int in typing.get_args(typing.get_type_hints(cls)[name]) or typing.get_type_hints(cls)[name] is int
    step = 1 if whole else 0.01
    if rng.lo is not None:
        return rng.lo if rng.lo_open else rng.lo - step
    return rng.hi if rng.hi_open else rng.hi + step


@functools.cache
def composed(agent: str):
    return compose_config([f"agent={agent}", "logger=none", "mixture=flames_small", "seeds=gsm8k_math"])


CASES = [(cls, name) for cls in ALL for name in field_ranges(cls)]


@pytest.mark.parametrize("cls,name", CASES, ids=[f"{c.__name__}.{n}" for c, n in CASES])
def test_a_value_just_outside_its_range_is_refused_naming_the_key(cls, name):
    cfg = copy.deepcopy(composed(AGENT_SCHEMAS.get(cls, "iqc")))  # set, not composed again: 160 cases
    path = where(cls, cfg)
    assert path, f"{cls.__name__} is nowhere in the composed config"
    key, value = f"{path}.{name}", outside(cls, name, field_ranges(cls)[name])
    if name in ("weights", "sizes"):  # a mapping of numbers: one item just outside
        key, value = f"{key}.{'iqc' if name == 'weights' else 'gsm8k'}", -0.01 if name == "weights" else 0
    OmegaConf.update(cfg, key, value, force_add=True)
    with pytest.raises(ConfigError) as refused:
        check_values(cfg)
        typed_config(cfg.agent)
    message = str(refused.value)
    assert message.startswith(f"{key}=") and "\n" not in message, message


CHOICE_CASES = [(cls, name) for cls in ALL for name in field_choices(cls)]


def test_the_string_choices_are_declared_with_the_schema():
    declared = {f"{c.__name__}.{n}" for c, n in CHOICE_CASES}
    assert {"StudentConfig.selection", "GradingConfig.mode", "DistributedConfig.name", "StudyConfig.executor",
            "MixtureConfig.shortfall", "IQCConfig.compose", "AskMeAnythingConfig.ask"} <= declared


@pytest.mark.parametrize("cls,name", CHOICE_CASES, ids=[f"{c.__name__}.{n}" for c, n in CHOICE_CASES])
def test_a_value_outside_its_choices_is_refused_naming_the_key(cls, name):
    cfg = copy.deepcopy(composed(AGENT_SCHEMAS.get(cls, "iqc")))
    path = where(cls, cfg)
    if path is None and cls.__name__ == "BenchmarkConfig":  # a suite entry: the built-in one
        path = "benchmarks.suite.builtin"
    assert path, f"{cls.__name__} is nowhere in the composed config"
    key = f"{path}.{name}"
    OmegaConf.update(cfg, key, "not-a-choice", force_add=True)
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}=not-a-choice: one of "):
        check_values(cfg)
        typed_config(cfg.agent)
