"""Field helpers of the schemas: what enters an artifact key (runtime, unkeyed, size, keyed_if_set) and the
Range every number declares (flames.checks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


KEYED = "keyed"  # dataclass field metadata: False = stays out of artifact keys
IF_SET = "if_set"  # KEYED's value for a field keyed only when it differs from its default
SIZE = "size"  # dataclass field metadata: True = a record count that a pool grows to (`size(...)`)
RANGE = "range"  # dataclass field metadata: the Range a number must be in (flames.checks), declared for every one
CHOICES = "choices"  # dataclass field metadata: the values a string setting takes (flames.checks)


class ConfigError(ValueError):
    """A user's mistake in the configuration: printed as one line, exit code 2."""


@dataclass(frozen=True)
class Range:
    """The values a numeric field may take: lo <= v <= hi, an end left open where `*_open`, None for no bound.
    A field typed Optional also takes null."""

    lo: Optional[float] = None
    hi: Optional[float] = None
    lo_open: bool = False
    hi_open: bool = False

    def holds(self, v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        above = self.lo is None or (v > self.lo if self.lo_open else v >= self.lo)
        below = self.hi is None or (v < self.hi if self.hi_open else v <= self.hi)
        return above and below

    def __str__(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}{')' if self.hi_open else ']'}"
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}"
        return f"{'<' if self.hi_open else '<='} {self.hi:g}" if self.hi is not None else "any number"


COUNT = Range(1)  # a count: 0 would make nothing (and a negative one slices from the end)
NON_NEGATIVE = Range(0)  # 0 means none (greedy, no retries, ...)
ABOVE_ZERO = Range(0, lo_open=True)  # a rate, a length of time, a learning rate
UNIT = Range(0, 1, lo_open=True)  # a probability mass or share in (0, 1]
SHARE = Range(0, 1)  # a share in [0, 1]
SEED = Range(0)  # random seeds: torch and vLLM take none below 0


def _meta(at: Optional[Range], **meta: Any) -> dict:
    return {**meta, RANGE: at} if at is not None else meta


def one_of(default: Any, choices: tuple[str, ...], keyed: bool | str = True) -> Any:
    """A string setting and the values it takes (checked at compose time); `keyed=False`: left out of keys;
    `keyed=IF_SET`: keyed only away from its default (as `keyed_if_set`)."""
    meta = {CHOICES: tuple(choices)} if keyed is True else {CHOICES: tuple(choices), KEYED: keyed}
    return field(default=default, metadata=meta)


def num(default: Any, at: Range) -> Any:
    """A keyed number with its range."""
    return field(default=default, metadata=_meta(at))


def runtime(default: Any = None, at: Optional[Range] = None, **kwargs: Any) -> Any:
    """A field that changes only speed or memory: left out of artifact keys."""
    if "default_factory" in kwargs:
        return field(metadata=_meta(at, **{KEYED: False}), **kwargs)
    return field(default=default, metadata=_meta(at, **{KEYED: False}), **kwargs)


def unkeyed(default: Any = None, at: Optional[Range] = None, **kwargs: Any) -> Any:
    """A field whose effect the stage's key records another way (a content fingerprint): left out."""
    return runtime(default, at, **kwargs)


def size(default: Any = None, at: Optional[Range] = COUNT) -> Any:
    """How many records a generation stage makes (problems, samples): left out of that stage's key, since its
    artifact is a pool that grows when more is asked and serves a smaller ask from what it holds (flames.views);
    what reads such a view is keyed by the size it read (flames.stages)."""
    return field(default=default, metadata=_meta(at, **{KEYED: False, SIZE: True}))


def keyed_if_set(default: Any, at: Optional[Range] = None) -> Any:
    """A field added after artifacts were keyed: in the key only when set away from its default, so that
    the artifacts made before it existed keep their keys (flames.keys.key_slice)."""
    return field(default=default, metadata=_meta(at, **{KEYED: IF_SET}))
