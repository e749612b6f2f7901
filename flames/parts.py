"""Swappable parts (agents, QC strategies, LLM backends, loggers) are classes found one way.

A config names a part by a short name from its group's table (backends, loggers) or by a dotted
class path (`_target_` of agents and QC strategies, or a backend of your own). Classes are
imported only when a run needs them, so naming a GPU backend costs nothing until it is used.
"""

from __future__ import annotations

from typing import Mapping

from hydra.utils import get_class

from flames.config import ConfigError


def find_class(name: str, known: Mapping[str, str] | None = None, what: str = "part") -> type:
    """The class `name` stands for: an entry of `known` (short name -> dotted path) or a dotted path."""
    path = (known or {}).get(name, name)
    if "." not in path:
        names = ", ".join(sorted(known or {}))
        raise ConfigError(f"unknown {what} {name!r}" + (f"; known: {names}, or a module.Class path" if names else ""))
    try:
        return get_class(path)
    except (ImportError, ValueError) as e:
        raise ConfigError(f"{what} {name!r}: cannot import {path} ({e})") from None
