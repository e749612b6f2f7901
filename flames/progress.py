"""One progress bar per stage: the stage's records done of its total, with tqdm's rate and ETA.

The stage's bar is opened before its first model call and kept when it ends (`leave`), so a log shows each
stage's final count. A backend's own bar (one per generate call: hf's batches, openai's requests, vLLM's
prompts) takes the first free line under it (tqdm gives a bar without a `position` the lowest one no open bar
holds) and clears itself when the call ends. `TQDM_DISABLE=1` turns every bar off (tqdm reads it).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from tqdm.auto import tqdm


@contextmanager
def stage_bar(desc: str, total: int, done: int = 0, unit: str = "rec") -> Iterator[tqdm]:
    """A bar for one stage (or one shard of it) at `done` of `total`; closed, and left on screen, on exit."""
    bar = tqdm(total=total, initial=min(done, total), desc=desc, unit=unit, position=0, leave=True,
               dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()


def advance_to(bar: tqdm, n: int) -> None:
    """Move the bar to `n` records done (never past its total, never back): for a count the stage keeps itself."""
    n = min(n, bar.total)
    if n > bar.n:
        bar.update(n - bar.n)
