"""Structured config schemas, registered in Hydra's ConfigStore (flames.config.run.register_configs).

Each config group's YAML files extend a schema stored here, so a misspelled key fails at
compose time with Hydra's error naming the key. Field names match the arguments they feed.
Agents and QC strategies are classes named by `_target_`; their own schema (the class's `Config`)
is checked when the pipeline starts, before any model loads.

A field marked `runtime(...)` changes only speed or memory (batch sizes, GPUs per model): it stays
out of artifact keys, so changing it reuses what was computed (`flames.keys.key_slice`). A field
marked `unkeyed(...)` is left out because the key records its effect another way (see its comment).
A field marked `size(...)` says how many records to generate: out of the generating stage's key (its
artifact grows or serves a prefix), in the key of what reads that many (docs/topup.md). Every number declares
its Range (`num`, `at=`): flames.checks refuses a value outside it.

The schemas live in fields (the helpers), models (LLMs, student, training), generation (agents, seeds, QC,
solving, mixtures) and run (benchmarks, logging, resources, studies, the root Config).
"""

from __future__ import annotations

from flames.config.fields import (ABOVE_ZERO, CHOICES, COUNT, ConfigError, IF_SET, KEYED, NON_NEGATIVE, RANGE, Range,
                                  SEED, SHARE, SIZE, UNIT, keyed_if_set, num, one_of, runtime, size, unkeyed)
from flames.config.models import DistributedConfig, ModelConfig, ModelShape, SELECTIONS, StudentConfig
from flames.config.generation import (AgentConfig, DEDUP_BACKENDS, DecontamConfig, DedupConfig, MixtureConfig,
                                      QCConfig, RewardModelConfig, SeedsConfig, SolvabilityConfig, SolveConfig)
from flames.config.run import (ANSWER_FROM, BENCHMARK_SOURCES, EXPORTABLE, BenchmarkConfig, BenchmarksConfig, Config,
                               ExportConfig, FailuresConfig, GradingConfig, LoggerConfig, PathsConfig, Resources, ResourcesConfig,
                               Stage, StudyConfig, register_configs)

__all__ = ["ABOVE_ZERO", "ANSWER_FROM", "AgentConfig", "BENCHMARK_SOURCES", "BenchmarkConfig", "BenchmarksConfig",
           "CHOICES", "COUNT", "Config", "ConfigError", "DEDUP_BACKENDS", "DecontamConfig", "DedupConfig",
           "DistributedConfig", "EXPORTABLE", "ExportConfig", "FailuresConfig", "GradingConfig", "IF_SET", "KEYED", "LoggerConfig", "MixtureConfig",
           "ModelConfig", "ModelShape", "NON_NEGATIVE", "PathsConfig", "QCConfig", "RANGE", "Range", "Resources",
           "ResourcesConfig", "RewardModelConfig", "SEED", "SELECTIONS", "SHARE", "SIZE", "SeedsConfig",
           "SolvabilityConfig", "SolveConfig", "Stage", "StudentConfig", "StudyConfig", "UNIT", "keyed_if_set", "num",
           "one_of", "register_configs", "runtime", "size", "unkeyed"]
