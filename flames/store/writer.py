"""The record writer of one artifact folder: append-only, resumable, its failed rows retried by policy."""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Iterable

from flames.context import RetryPolicy
from flames.files import append_jsonl, repair_tail
from flames.jsonl import read_jsonl
from flames.store.failures import RETRYABLE, Failures, unit_of

log = logging.getLogger(__name__)


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
