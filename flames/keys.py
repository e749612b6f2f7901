"""Artifact keys: what of the config decides a stage's output.

A stage declares the config nodes it reads; `key_slice` turns each into plain data without the
fields its schema marks as not keyed (`flames.config.runtime` / `unkeyed`), and those keyed only when
set (`keyed_if_set`) while at their default; the store hashes the
slice with the stage name and the input artifacts' keys (`flames.store.stage_key`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from flames.config import IF_SET, KEYED


def key_slice(node: Any) -> Any:
    """`node` as plain data, recursively without the fields its structured schema leaves out of keys."""
    if isinstance(node, DictConfig):
        schema = OmegaConf.get_type(node)
        skip = unkeyed_fields(schema) if dataclasses.is_dataclass(schema) else set()
        unset = if_set_defaults(schema) if dataclasses.is_dataclass(schema) else {}
        return {k: key_slice(node[k]) for k in node if k not in skip and not (k in unset and node[k] == unset[k])}
    if isinstance(node, ListConfig):
        return [key_slice(v) for v in node]
    return node


def unkeyed_fields(schema: type) -> set[str]:
    """Names of a schema's fields that stay out of keys (runtime-only or fingerprinted)."""
    return {f.name for f in dataclasses.fields(schema) if f.metadata.get(KEYED) is False}


def if_set_defaults(schema: type) -> dict[str, Any]:
    """A schema's fields keyed only away from their default (`flames.config.keyed_if_set`), with that default."""
    return {f.name: f.default for f in dataclasses.fields(schema) if f.metadata.get(KEYED) == IF_SET}


def text_fingerprint(texts: list[str]) -> str:
    """A short content hash of a list of texts (benchmark items, references)."""
    return hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
