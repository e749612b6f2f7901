"""Value checks on a composed config: a count of 0, a negative temperature or a top-p of 2 is refused with
one line naming the key, before any model loads (Hydra's structured configs check types, not ranges).

Every int and float field of a schema declares its Range where it is declared (flames.config: `num`, `size`,
`runtime(..., at=...)`); `check_values` walks a composed config and checks each against its schema's field.
A string setting with a fixed set of values declares it the same way (`one_of`)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from flames.config import CHOICES, RANGE, ConfigError


def check_values(node: Any, path: str = "") -> None:
    """Raise ConfigError naming the first key of `node` (a config typed by a schema dataclass, and every typed node
    under it; `path`: where it sits) whose number is outside the Range its field declares, or whose string is not one
    of its choices; None passes where the field is Optional."""
    if not isinstance(node, DictConfig):
        return
    schema = OmegaConf.get_type(node)
    ranges = field_ranges(schema) if dataclasses.is_dataclass(schema) else {}
    choices = field_choices(schema) if dataclasses.is_dataclass(schema) else {}
    for name in node:
        key = f"{path}.{name}" if path else str(name)
        if OmegaConf.is_missing(node, name):
            continue
        try:
            value = node[name]
        except OmegaConfBaseException:  # an interpolation to a part of the config this node is not in
            continue
        if name in ranges:
            _check(key, value, ranges[name])
        if name in choices and value is not None and value not in choices[name]:
            raise ConfigError(f"{key}={value}: one of {', '.join(choices[name])}")
        check_values(value, key)


def _check(key: str, value: Any, rng: Any) -> None:
    """One number against its Range (None passes); a mapping of numbers (mixture weights, seed sizes) item by item."""
    if isinstance(value, DictConfig) and not dataclasses.is_dataclass(OmegaConf.get_type(value)):
        for item in value:
            _check(f"{key}.{item}", value[item], rng)
    elif value is not None and not rng.holds(value):
        raise ConfigError(f"{key}={value}: must be {rng}")


def field_ranges(schema: type) -> dict[str, Any]:
    return {f.name: f.metadata[RANGE] for f in dataclasses.fields(schema) if RANGE in f.metadata}


def field_choices(schema: type) -> dict[str, tuple[str, ...]]:
    return {f.name: f.metadata[CHOICES] for f in dataclasses.fields(schema) if CHOICES in f.metadata}


def numeric_fields(schema: type) -> list[str]:
    """The fields of a schema typed int or float (or Optional of one): each must declare a Range."""
    hints = typing.get_type_hints(schema)
    return [f.name for f in dataclasses.fields(schema)
            if {int, float} & set(typing.get_args(hints[f.name]) or (hints[f.name],))]
