"""What one running stage shares with the code it calls, passed explicitly.

The pipeline makes a StageContext per stage (Pipeline.run_stage) and hands it to the stage (`Job.ctx`), which
passes it to its models (`flames.llm.for_stage`) and its record writers (its `retry`). Code called without one
gets a fresh default: nothing an earlier stage or run set carries over (a notebook may call `solve()` twice).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class TooManyFailures(RuntimeError):
    """A stage's requests fail more often than `failures.max_rate` allows: the run stops (what succeeded is kept)."""


@dataclass
class RetryPolicy:
    """What a run does with failed rows its artifacts hold (`failures.retry_failed`, `failures.max_attempts`)."""

    retry_failed: bool = True
    max_attempts: int = 3  # attempts per failed row (its first included), then it stays failed

    @classmethod
    def from_failures(cls, failures: Any) -> "RetryPolicy":
        """The config's `failures.retry_failed` and `failures.max_attempts`."""
        get = (failures or {}).get
        return cls(bool(get("retry_failed", True)), int(get("max_attempts", 3)))


class FailureWindow:
    """The last `size` requests of the running stage, failed (a retryable error) or not.

    A backend that is down or overloaded fails most requests; going on would turn the whole artifact into
    failed rows. Once the window is full and its failure rate passes `max_rate`, `check` raises.
    """

    def __init__(self, size: int = 500, max_rate: float = 0.2):
        self.size, self.max_rate = int(size), float(max_rate)
        self.recent: deque = deque(maxlen=self.size)
        self.last_error = ""

    def record(self, failed: list[bool], errors: list[str]) -> None:
        """One call's requests: whether each failed, and the failures' one-line errors."""
        self.recent.extend(failed)
        if errors:
            self.last_error = errors[-1]

    def check(self, stage: str, final: bool = False) -> None:
        """Raise past the rate: over a full window while the stage runs; at its end (`final`), over whatever it
        sent, so a stage shorter than the window whose calls all failed is not sealed as if it had worked."""
        if not self.size or not self.recent or (len(self.recent) < self.size and not final):
            return
        failed = sum(self.recent)
        if failed / len(self.recent) > self.max_rate:
            raise TooManyFailures(
                f"{stage}: {failed} of the last {len(self.recent)} requests failed ({failed / len(self.recent):.0%}, "
                f"more than failures.max_rate={self.max_rate:g} of failures.window={self.size}); last error: "
                f"{self.last_error}. What succeeded is kept: rerun to resume (failed rows are retried), or raise "
                "failures.max_rate.")


@dataclass
class StageContext:
    """One running stage: its name, how it treats failures, where its requests are cached, its models."""

    stage: str = "-"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    window: FailureWindow = field(default_factory=FailureWindow)
    # where a backend that can (openai) appends each finished request, so a killed stage's rerun does not send
    # them again: the running stage's artifact folder (set while it computes), or None
    request_cache: Path | None = None
    calls: int = 0  # backend calls this stage made (what a rerun that reuses everything must leave at 0)
    models: Any = None  # the pipeline's flames.llm.ModelPool (models loaded once per run); None: load per use

    @classmethod
    def from_failures(cls, stage: str, failures: Any, models: Any = None) -> "StageContext":
        """A stage's context under the config's `failures.*` policy."""
        get = (failures or {}).get
        return cls(stage, RetryPolicy.from_failures(failures), FailureWindow(get("window", 500), get("max_rate", 0.2)),
                   models=models)

    def check_failures(self, final: bool = False) -> None:
        """Raise TooManyFailures if this stage's requests failed too often (`final`: at its end, before sealing)."""
        self.window.check(self.stage, final)
