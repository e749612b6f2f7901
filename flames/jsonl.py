"""JSONL reading with errors that name the file and the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator


class JSONLError(ValueError):
    """A malformed line in a JSONL file."""


def read_jsonl(path: str | Path) -> Iterator[dict]:
    """Yield one dict per non-blank line; a malformed line raises JSONLError naming file:line."""
    path = Path(path)
    if path.is_dir():
        raise JSONLError(f"{path}: is a directory, not a JSONL file")
    with open(path, encoding="utf-8") as fh:
        for lineno, line in _lines(fh, path):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise JSONLError(f"{path}:{lineno}: malformed JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(obj, dict):
                raise JSONLError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield obj


def _lines(fh, path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines; bytes that are not UTF-8 (a binary file) raise JSONLError naming the line."""
    lineno = 0
    try:
        for lineno, line in enumerate(fh, start=1):
            yield lineno, line
    except UnicodeDecodeError as e:
        raise JSONLError(f"{path}:{lineno + 1}: not UTF-8 text (byte 0x{e.object[e.start]:02x}); is it a "
                         "binary file?") from None


def write_jsonl(path: str | Path, records) -> int:
    """Write records (overwriting); return how many."""
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    return n
