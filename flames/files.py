"""The file layer under the store and the model caches: locks (flames.locks), atomic folders, durable JSONL appends.

Nothing here knows about stages, LLMs or configs; every writer of shared files goes through it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from flames.locks import file_lock

log = logging.getLogger(__name__)


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder that is renamed to `final` only if the block succeeds."""
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def append_jsonl(path: Path, records: Iterable[dict], seen: set[str] | None = None) -> None:
    """Append records durably (fsync'd); with `seen`, skip ids already in it and add the new ones."""
    lines = []
    for r in records:
        if seen is not None:
            if r["id"] in seen:  # redone after a kill: the first copy stands
                continue
            seen.add(r["id"])
        lines.append(json.dumps(r, ensure_ascii=False) + "\n")
    if not lines:
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(lines))
        fh.flush()
        os.fsync(fh.fileno())  # a kill after this returns loses nothing


def repair_tail(path: Path) -> None:
    """Cut a last line that a killed writer left without its newline."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        data = fh.seek(0) or fh.read()
        cut = data.rfind(b"\n") + 1
        log.warning("Dropping a torn last line in %s (%d bytes)", path, len(data) - cut)
        fh.truncate(cut)


def cached_folder(folder: Path, build: Callable[[Path], None], done: str = "config.json") -> Path:
    """`folder`, built once by `build(tmp)` into a temporary sibling under a lock, then renamed.

    `done` is the file whose presence says the folder is complete (a model folder's config.json):
    concurrent processes build it once, and a killed build leaves nothing that looks finished.
    """
    if (folder / done).exists():
        return folder
    with file_lock(folder.parent / f"{folder.name}.lock", str(folder)):
        if not (folder / done).exists():
            with atomic_dir(folder) as tmp:
                build(tmp)
    return folder


def read_prompt(path: Path) -> str:
    """A prompt file without its header comment lines (those starting with '#')."""
    text = Path(path).read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip() + "\n"
