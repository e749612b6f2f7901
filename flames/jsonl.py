"""JSONL reading with errors that name the file and the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator


class JSONLError(ValueError):
    """A malformed line in a JSONL file."""


def read_jsonl(path: str | Path) -> Iterator[dict]:
    """Yield one dict per non-blank line; a malformed line raises JSONLError naming file:line."""
    return (obj for _, obj in numbered_jsonl(path))


def numbered_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, dict) per non-blank line. A UTF-8 byte-order mark (files saved on Windows) is read past;
    NaN and Infinity, which Python's json accepts and JSON does not, raise JSONLError naming file:line."""
    path = Path(path)
    if path.is_dir():
        raise JSONLError(f"{path}: is a directory, not a JSONL file")
    with open(path, encoding="utf-8-sig") as fh:
        for lineno, line in _lines(fh, path):
            if not line.strip():
                continue
            try:
                obj = json.loads(line, parse_constant=_not_json)
            except json.JSONDecodeError as e:
                raise JSONLError(f"{path}:{lineno}: malformed JSON ({e.msg} at column {e.colno})") from None
            except ValueError as e:
                raise JSONLError(f"{path}:{lineno}: {e}") from None
            if not isinstance(obj, dict):
                raise JSONLError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def unique_ids(path: str | Path, rows: Iterable[tuple[int, dict]]) -> list[dict]:
    """The rows, refused (JSONLError naming both lines) when two share an `id`: ids are what a resumed run skips
    by, so a duplicate would lose a record. Rows without an id pass."""
    seen: dict[Any, int] = {}
    out = []
    for lineno, row in rows:
        if "id" in row:
            first = seen.setdefault(row["id"], lineno)
            if first != lineno:
                raise JSONLError(f"{path}:{lineno}: id {row['id']!r} is also on line {first} (ids must be unique)")
        out.append(row)
    return out


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON (write null or a number)")


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
