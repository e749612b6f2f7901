"""Sharded pools: one artifact's work split over N tasks that run at once, then folded into the artifact once.

A pool stage whose work is too long for one task (150K problems at 68 GPU-hours) is computed as N shards, each an
array task (`shard.index`, `shard.count`; a study sets them from `study.shards` or its time estimate). The work of
one round is a fixed list of chunks, planned from the pool as it stands (the same plan in every shard) and dealt
round-robin: shard i runs chunks i, i+N, i+2N, ... into its own folder under <stage>/.shards/<key>/<round>/,
records tagged with their chunk. A shard resumes on its own (its chunks done are listed; a killed shard reruns
only its unfinished chunks). The task that finds every shard done folds them, chunk by chunk in plan order, into
the artifact through the store (its lock, growth and seal): the records are the same whatever N is, as the plan
and each chunk's requests (seeded per input) do not depend on it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from flames.files import append_jsonl, write_json_atomic
from flames.jsonl import read_jsonl
from flames.store.artifact import Artifact, sealed_digest
from flames.store.writer import RecordWriter

SHARDS = ".shards"  # <stage>/.shards/<key>/<round>/: the shards of a pool being computed
CHUNK = "_shard_chunk"  # on a shard's records: the plan's chunk that made it (the fold's order); removed by the fold
DONE = "_SHARD_DONE"  # in a shard's folder when all its chunks are done: its metrics
CHUNKS_DONE = "chunks.jsonl"  # in a shard's folder: the chunks it finished, in order


@dataclass(frozen=True)
class ShardRound:
    """The shards of one round of a pool's work: the pool's key, the ask, N, and what the pool held when planned."""

    folder: Path
    count: int

    def part(self, index: int) -> Path:
        return self.folder / f"shard-{index:04d}"

    def done(self, index: int) -> bool:
        return (self.part(index) / DONE).exists()

    def finish(self, index: int, metrics: dict) -> None:
        write_json_atomic(self.part(index) / DONE, metrics)

    def complete(self) -> bool:
        return all(self.done(i) for i in range(self.count))

    def parts(self) -> list[Path]:
        return [self.part(i) for i in range(self.count)]

    def metrics(self) -> list[dict]:
        return [json.loads((p / DONE).read_text()) for p in self.parts()]

    def remove(self) -> None:
        """After the fold is sealed in the artifact: the shards' files are the artifact's now."""
        shutil.rmtree(self.folder, ignore_errors=True)


def shard_round(art: Artifact, ask: dict | None, count: int) -> ShardRound:
    """The round that computes `ask` of `art` in `count` shards, from what the pool holds now (its sealed digest):
    every shard of a round plans the same work, and a round begun on another content is never mixed in."""
    basis = json.dumps({"ask": ask, "count": count, "pool": sealed_digest(art) or ""}, sort_keys=True)
    name = hashlib.sha256(basis.encode()).hexdigest()[:12]
    return ShardRound(art.path.parent / SHARDS / art.key / name, count)


def my_chunks(num_chunks: int, index: int, count: int, part: Path) -> list[int]:
    """The plan's chunks shard `index` of `count` runs (round-robin), less those it finished in an earlier attempt."""
    done = {r["chunk"] for r in read_jsonl(part / CHUNKS_DONE)} if (part / CHUNKS_DONE).exists() else set()
    return [c for c in range(index, num_chunks, count) if c not in done]


def chunk_done(part: Path, chunk: int) -> None:
    append_jsonl(part / CHUNKS_DONE, [{"chunk": chunk}], None)


def tagged(records: Iterable[dict], chunk: int) -> list[dict]:
    return [{**r, CHUNK: chunk} for r in records]


def fold(parts: list[Path], writer: RecordWriter, each_chunk: Callable[[list[dict]], list[dict]] | None = None) -> int:
    """Fold the shards' files into `writer`'s folder: records in plan order (chunk by chunk; within a chunk in the
    order written), passed through `each_chunk` (synthesize ranks accepted problems there); drops, calls and inputs
    done as they are. A record already there (a fold that a kill interrupted) is not written twice. Returns the
    records folded."""
    rows: dict[int, list[dict]] = {}
    for part in parts:
        for row in _rows(part / "data.jsonl"):
            rows.setdefault(row.pop(CHUNK), []).append(row)
    folded = 0
    for chunk in sorted(rows):
        out = each_chunk(rows[chunk]) if each_chunk else rows[chunk]
        writer.write(out)
        folded += len(out)
    for part in parts:
        append_jsonl(writer.drop_path, _rows(part / "dropped.jsonl"), writer.done_ids)
        append_jsonl(writer.calls_path, _rows(part / "calls.jsonl"), None)
        writer.mark_done(r["id"] for r in _rows(part / "progress.jsonl"))
    return folded


def _rows(path: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(path)) if path.exists() else []
