"""What an artifact held when it was completed, so that a later reuse can check it still does.

The completion marker of an artifact (`_COMPLETE`) records every file of the folder: its size and a
digest. JSONL files (the records) are hashed whole; other files (model weights, optimizer states,
tokenizer files) by their size and the hash of their first and last MiB, which catches truncation,
deletion and replacement without reading gigabytes on every reuse. It also records the digest of each
input's record (`inputs`), so an artifact built on an input that has since been recomputed (a new
content under the same key) is seen as stale. A growable input (a pool, which only ever appends) is recorded
by its origin and the size and digest of the data it held (`holds_prefix`): growing it keeps what was
recorded true, recomputing it does not.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SAMPLE = 1 << 20  # bytes hashed at each end of a large non-JSONL file


def file_check(path: Path) -> dict:
    """Size and digest of one file (whole for JSONL, first and last MiB otherwise)."""
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        if path.suffix == ".jsonl" or size <= 2 * SAMPLE:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
        else:
            h.update(fh.read(SAMPLE))
            fh.seek(size - SAMPLE)
            h.update(fh.read(SAMPLE))
    return {"size": size, "sha256": h.hexdigest()}


def prefix_digest(path: Path, size: int) -> str:
    """The digest `file_check` gives a JSONL file whose content is the first `size` bytes of `path`."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        left = size
        while left > 0 and (block := fh.read(min(left, 1 << 22))):
            h.update(block)
            left -= len(block)
    return h.hexdigest()


def holds_prefix(path: Path, recorded: dict, sealed: dict) -> bool:
    """Whether the file at `path`, sealed as `sealed`, still starts with the content `recorded` (size, sha256)."""
    if sealed["size"] == recorded["size"]:
        return sealed["sha256"] == recorded["sha256"]  # the file's own seal vouches for its content
    return sealed["size"] > recorded["size"] and prefix_digest(path, recorded["size"]) == recorded["sha256"]


def list_files(folder: Path, skip: set[str]) -> list[str]:
    """Every file under `folder` as a relative path, but the names in `skip` (the marker itself)."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        out += [rel for name in sorted(files) if (rel := (Path(root) / name).relative_to(folder).as_posix()) not in skip]
    return out


def seal_files(folder: Path, skip: set[str]) -> dict[str, dict]:
    """Every file under `folder` (relative path -> check), but the names in `skip`."""
    return {rel: file_check(folder / rel) for rel in list_files(folder, skip)}


def digest(files: dict[str, dict]) -> str:
    """One digest for a sealed folder: what a downstream artifact records of its input."""
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel}\0{files[rel]['size']}\0{files[rel]['sha256']}\n".encode())
    return h.hexdigest()[:32]


def differences(recorded: dict[str, dict], folder: Path, skip: set[str]) -> list[str]:
    """What changed since the seal, in words (empty when nothing did)."""
    problems = []
    for rel, want in sorted(recorded.items()):
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
            continue
        size = path.stat().st_size
        if size != want["size"]:
            problems.append(f"{rel} has {size} bytes, sealed with {want['size']}")
        elif file_check(path)["sha256"] != want["sha256"]:
            problems.append(f"{rel} changed (same size, different content)")
    extra = sorted(set(list_files(folder, skip)) - set(recorded)) if folder.is_dir() else []
    problems += [f"{rel} was added after sealing" for rel in extra]
    return problems
