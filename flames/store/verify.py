"""`python -m flames.store verify [STORE]`: the complete artifacts a run would not reuse, and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from flames.store.artifact import MARKER, Artifact
from flames.store.store import Store


def verify_store(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """Every complete artifact under `root` that would not be reused, with why (`python -m flames.store verify`)."""
    store = Store(root)
    for marker in sorted(Path(root).glob(f"*/*/{MARKER}")):
        art = Artifact(marker.parent.parent.name, marker.parent.name, marker.parent)
        try:
            ins = json.loads((art.path / "manifest.json").read_text()).get("inputs", {})
        except (OSError, ValueError):
            ins = {}  # the missing or broken manifest is itself reported by the file check
        inputs = {name: Artifact(i["stage"], i["key"], Path(root) / i["stage"] / i["key"]) for name, i in ins.items()}
        problems = store.problems(art, inputs)
        if problems:
            yield art.path, problems


def main(argv: list[str] | None = None) -> int:
    """`python -m flames.store verify [STORE]`: list the artifacts a run would not reuse; exit 1 if any."""
    import os
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "verify":
        print("usage: python -m flames.store verify [STORE]   (default: $FLAMES_STORE or outputs/store)")
        return 2
    root = Path(args[1] if len(args) > 1 else os.environ.get("FLAMES_STORE", "outputs/store"))
    bad = 0
    for path, problems in verify_store(root):
        bad += 1
        print(f"BAD {path}\n    " + "\n    ".join(problems))
    print(f"{bad} bad artifact(s) under {root}")
    return 1 if bad else 0
