"""One progress bar per stage: the stage's records done of its total, with tqdm's rate and ETA.

The bar opens at the first records the stage finishes, not before its first model call: a stage that stops
in that call (a model that does not load, a user's mistake) prints only its one-line error, and the rate and
ETA leave the model's loading out. It holds the top line and stays when the stage ends (`leave`), so a log
shows each stage's final count. A backend's own bar (one per generate call: hf's batches, openai's requests,
vLLM's prompts) takes the first free line under it (tqdm gives a bar without a `position` the lowest line no
open bar holds) and clears itself when the call ends. `TQDM_DISABLE=1` turns every bar off (tqdm reads it).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from tqdm.auto import tqdm


class StageBar:
    """A stage's count (`n` of `total`), shown as a tqdm bar from its first advance on."""

    def __init__(self, desc: str, total: int, done: int = 0, unit: str = "rec"):
        self.total, self.n = total, min(done, total)
        self.options = dict(desc=desc, total=total, unit=unit, position=0, leave=True, dynamic_ncols=True)
        self.bar: tqdm | None = None

    def update(self, k: int) -> None:
        """`k` more records done."""
        self.advance_to(self.n + k)

    def advance_to(self, n: int) -> None:
        """`n` records done (never past the total, never back): for a count the stage keeps itself."""
        n = min(n, self.total)
        if n <= self.n:
            return
        if self.bar is None:
            self.bar = tqdm(initial=n, **self.options)
        else:
            self.bar.update(n - self.n)
        self.n = n

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()  # its last state stays on screen, and what follows starts on a new line


@contextmanager
def stage_bar(desc: str, total: int, done: int = 0, unit: str = "rec") -> Iterator[StageBar]:
    """The bar of one stage (or one shard of it), at `done` of `total`; closed on exit."""
    bar = StageBar(desc, total, done, unit)
    try:
        yield bar
    finally:
        bar.close()
