"""Checkpoints of one training run: which are complete, which resume, and what is kept."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

_STEP = re.compile(r"^checkpoint-(\d+)$")
WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
OPTIMIZER = ("optimizer.pt",)  # DeepSpeed keeps its states in global_step*/ folders instead


def step_of(folder: Path) -> int:
    return int(_STEP.match(folder.name).group(1))


def checkpoints(ckpt_dir: Path) -> list[Path]:
    """Complete checkpoints (weights and trainer state written), by step; a save cut by a kill is skipped."""
    if not ckpt_dir.exists():
        return []
    found = [p for p in ckpt_dir.iterdir() if p.is_dir() and _STEP.match(p.name)]
    done = [p for p in found if (p / "trainer_state.json").exists() and any((p / w).exists() for w in WEIGHTS)]
    return sorted(done, key=step_of)


def resumable(folder: Path) -> bool:
    """A checkpoint that still holds its optimizer state (plain, FSDP or DeepSpeed)."""
    return any((folder / f).exists() for f in OPTIMIZER) or any(folder.glob("global_step*")) \
        or any(folder.glob("optimizer_*"))


def resume_point(ckpt_dir: Path) -> Path | None:
    """The newest checkpoint a killed run resumes from (optimizer, scheduler, RNG and data order in it)."""
    return next((p for p in reversed(checkpoints(ckpt_dir)) if resumable(p)), None)


def drop_optimizer_states(ckpt_dir: Path) -> None:
    """A finished run's checkpoints keep their weights (for selection) but not their optimizer states."""
    for folder in checkpoints(ckpt_dir):
        _strip(folder)


def _strip(folder: Path) -> None:
    for name in OPTIMIZER:
        (folder / name).unlink(missing_ok=True)
    for states in [*folder.glob("global_step*"), *folder.glob("optimizer_*")]:
        shutil.rmtree(states, ignore_errors=True) if states.is_dir() else states.unlink(missing_ok=True)


def thin(ckpt_dir: Path, keep_all: bool) -> None:
    """After a save: the newest checkpoint stays whole (it resumes); older ones lose their optimizer
    state (kept for selection, a 7B model's Adam state is 56 GB each) or, with keep_all False, go."""
    *older, _newest = checkpoints(ckpt_dir) or [None]
    for folder in older:
        if not keep_all:
            shutil.rmtree(folder, ignore_errors=True)
            continue
        _strip(folder)
