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

from flames.store.artifact import GROW, MARKER, Artifact, Output, stage_key
from flames.store.failures import BACKEND_ERROR, RETRYABLE, SERVER_ERROR, Failures, unit_of
from flames.store.pool import covers
from flames.store.store import Store
from flames.store.verify import main, verify_store
from flames.store.writer import RecordWriter, folder_stats

__all__ = ["GROW", "MARKER", "Artifact", "Output", "stage_key", "BACKEND_ERROR", "RETRYABLE", "SERVER_ERROR", "Failures",
           "unit_of", "covers", "Store", "main", "verify_store", "RecordWriter", "folder_stats"]
