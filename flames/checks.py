"""Value checks on a composed config: a count of 0, a negative temperature or a top-p of 2 is refused with
one line naming the key, before any model loads (Hydra's structured configs check types, not ranges)."""

from __future__ import annotations

from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from flames.config import ConfigError
from flames.grading import MODES

POSITIVE = (lambda v: v >= 1, "a whole number >= 1")
NONE_OR_POSITIVE = (lambda v: v is None or v >= 1, "null or a whole number >= 1")
NON_NEGATIVE = (lambda v: v >= 0, ">= 0")
PROBABILITY = (lambda v: 0 < v <= 1, "in (0, 1]")
ABOVE_ZERO = (lambda v: v > 0, "> 0")

# key -> (check, what it must be). Keys a config lacks are skipped (an agent without chunk_size).
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "agent.num_problems": POSITIVE,  # 0 would train on nothing and report the base model
    "agent.num_problems_cap": NONE_OR_POSITIVE,
    "agent.chunk_size": POSITIVE,
    "solve.num_samples": POSITIVE,  # 0 divides by zero in QC after the whole synthesis
    "solve.chunk_size": POSITIVE,
    "problem_model.temperature": NON_NEGATIVE,  # a negative temperature was taken as greedy, under its own key
    "solution_model.temperature": NON_NEGATIVE,
    "problem_model.top_p": PROBABILITY,
    "solution_model.top_p": PROBABILITY,
    "problem_model.max_new_tokens": POSITIVE,
    "solution_model.max_new_tokens": POSITIVE,
    "problem_model.tensor_parallel_size": POSITIVE,
    "solution_model.tensor_parallel_size": POSITIVE,
    "mixture.budget": NONE_OR_POSITIVE,
    "mixture.budget_cap": NONE_OR_POSITIVE,
    "mixture.shortfall": (lambda v: v in ("warn", "error"), "warn or error"),
    "mixture.shortfall_tolerance": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "qc.fixed_size": NONE_OR_POSITIVE,
    "benchmarks.limit": NONE_OR_POSITIVE,  # 0 meant "no limit": the whole suite
    "benchmarks.max_new_tokens": POSITIVE,
    "benchmarks.batch_size": POSITIVE,
    "benchmarks.chunk_size": NONE_OR_POSITIVE,
    "problem_model.max_model_len": NONE_OR_POSITIVE,
    "solution_model.max_model_len": NONE_OR_POSITIVE,
    "seeds.builtin_count": POSITIVE,
    "student.learning_rate": ABOVE_ZERO,
    "student.num_train_epochs": ABOVE_ZERO,
    "student.per_device_train_batch_size": POSITIVE,
    "student.max_length": POSITIVE,
    "student.global_batch_size": NONE_OR_POSITIVE,
}


def check_values(cfg: DictConfig) -> None:
    """Raise ConfigError naming the first key whose value is out of range."""
    mode = OmegaConf.select(cfg, "grading.mode", default=MODES[0])
    if mode not in MODES:
        raise ConfigError(f"grading.mode={mode}: one of {', '.join(MODES)}")
    for key, (ok, what) in RULES.items():
        value = OmegaConf.select(cfg, key, default="__absent__")
        if value == "__absent__":
            continue
        if isinstance(value, bool) or not _passes(ok, value):
            raise ConfigError(f"{key}={value}: must be {what}")


def _passes(ok: Callable[[Any], bool], value: Any) -> bool:
    try:
        return bool(ok(value))
    except TypeError:  # a string where a number belongs (structured configs catch most of these)
        return False
