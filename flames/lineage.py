"""What W&B's lineage graph calls each output of a job: one artifact per logical output, versions by content.

A stage's artifact is `<stage>-<agent>` for a per-agent stage (`synthesize-few_shot`, `solve-few_shot`),
`mix-<mixture>` (the agent's name for a single-agent mixture), `student-<cell>` for the trained model (type
"model"), `<stage>-<cell>` for the other shared stages; the cell is the job's overrides less those that pick a
stage or shard. Each version carries its store key as an alias. The seeds are `seeds-<seeds option>`, aliased by
their content fingerprint. Entries are references (file:// URIs, nothing is uploaded): a stage artifact's
manifest.json, the student's model folder, the seed files; their digests come from their paths, so the job that
computed an artifact and a later job that reads it name the same version. Pure: no W&B import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flames.train.run import trained_model

READS_SEEDS = ("tune", "synthesize")  # the stages whose computing reads the seed problems
MODEL_STAGES = ("teach", "tune", "train")  # stages whose output is a trained model (W&B type "model")
_NOT_CELL = ("stage=", "shard.", "+shard.")  # overrides that pick a study task's stage or shard, not the cell


@dataclass
class Ref:
    """One W&B artifact version: its name, type, aliases, the file:// URIs it references, metadata."""

    name: str
    type: str
    aliases: list[str]
    uris: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


def slug(text: str) -> str:
    """A W&B artifact name part: letters, digits, `-`, `_`, `.` (`agent=iqc,qc=majority` -> `agent-iqc-qc-majority`)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-.")[:100] or "run"


def cell_name(overrides: list[str], experiment: str) -> str:
    """The cell a job belongs to (its overrides less stage and shard), or the experiment's name."""
    return slug(",".join(o for o in overrides if not o.startswith(_NOT_CELL)) or experiment)


def output_name(stage: str, label: str, cell: str, config: dict) -> str:
    if label:
        return f"{stage}-{slug(label)}"
    if stage == "mix":
        mixture = (config.get("mixture") or {}).get("name") or "single"
        if mixture == "single":  # the mixture is the agent's problems
            mixture = (config.get("agent") or {}).get("name") or mixture
        return f"mix-{slug(mixture)}"
    if stage == "train":
        return f"student-{cell}"
    return f"{stage}-{cell}"


def output_ref(result: Any, cell: str, config: dict) -> Ref:
    """A stage result's artifact: its logical name, the store key as alias, a reference to what it holds."""
    art = result.artifact
    uri = (art.path / "manifest.json").resolve().as_uri()
    if result.stage == "train":  # the student: its model folder (a skipped training names the base model)
        model = Path(trained_model(art.path, result.manifest.get("metrics") or {}))
        uri = model.resolve().as_uri() if model.is_dir() else uri
    return Ref(output_name(result.stage, result.label, cell, config),
               "model" if result.stage in MODEL_STAGES else result.stage, [art.key], [uri],
               {"stage": result.stage, "key": art.key, "path": str(art.path), "agent": result.label or None})


def seeds_ref(seeds: dict, option: str | None) -> Ref:
    """The seed problems a run read: its files (by path), aliased by their content fingerprint (or the size
    of the built-in set)."""
    from omegaconf import OmegaConf

    from flames.seeds import fingerprint, seed_files

    cfg = OmegaConf.create(seeds)
    files = [f.resolve() for f in seed_files(cfg)]
    alias = fingerprint(cfg) if files else f"builtin-{seeds.get('builtin_count')}"
    return Ref(f"seeds-{slug(option or 'custom')}", "seeds", [alias], [f.as_uri() for f in files if f.exists()],
               {"files": [str(f) for f in files], "limit": seeds.get("limit"), "fingerprint": alias})
