"""Failed rows: the reasons a later run retries (a request the backend did not answer), and an artifact
folder's failed rows by unit, with what a retry policy still attempts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from flames.context import RetryPolicy
from flames.jsonl import read_jsonl

# Reasons of failed rows (dropped.jsonl): a request the backend did not answer. A later run retries them
# (docs/failures.md); other drop reasons (prompt_too_long, a parse failure) would fail the same way again.
SERVER_ERROR = "server_error"  # a server request failed through all its retries (openai backend)
BACKEND_ERROR = "backend_error"  # the backend raised for a whole batched call
RETRYABLE = frozenset({SERVER_ERROR, BACKEND_ERROR})


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
