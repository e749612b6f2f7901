"""Benchmark decontamination by word n-gram overlap with the test problems.

Three rules:
- "paper" (FLAMES): a text is contaminated by a reference when it contains >= 95% of
  the reference's distinct word 8-grams.
- "near_copy" (ours, the pipeline default): the paper rule, or the text holds the
  reference up to one word edit per 20 tokens (``near_copy``), which the paper rule
  misses for any reference under ~167 tokens.
- "ngram13" (lm-eval-harness / GPT-3 style): any shared word 13-gram.

Tokens are those of ``normalize.tokenize`` (case, punctuation and spacing edits do not
matter). Boilerplate n-grams (``Stoplist``) count neither in the numerator nor in the
denominator. A reference shorter than n tokens has no n-gram; it contaminates a text
that contains its whole token sequence (the n-gram rule with n = its length), and a
reference under ``min_short_tokens`` tokens is not checked at all.

The index (``ngram_index.NgramIndex``) is built once (``NgramIndex.build``), can be
saved to / loaded from an .npz file keyed by the reference content
(``NgramIndex.cached``), and scanning is vectorized with numpy. The boilerplate rules
are in ``stoplist``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._parallel import map_chunks, resolve_workers, shared
from .near_copy import AnchorIndex
from .ngram_index import NgramIndex
from .stoplist import DEFAULT_PHRASES, DEFAULT_STOPLIST, Stoplist  # noqa: F401  (re-exported)

# mode -> (n, minimum share of the reference's counted n-grams the text must contain).
# A share of 0 means "at least one shared n-gram". near_copy adds the edit rule to paper's.
MODES = {"paper": (8, 0.95), "near_copy": (8, 0.95), "ngram13": (13, 0.0)}


def find_contamination(
    texts: Sequence[str],
    references: Sequence[str],
    mode: str = "paper",
    *,
    stoplist: Stoplist | None = DEFAULT_STOPLIST,
    index: NgramIndex | None = None,
    anchors: AnchorIndex | None = None,
    workers: int | None = None,
    stats: dict | None = None,
) -> list[int | None]:
    """Per text, the index of the reference it is contaminated by, or None.

    mode "paper": contains >= 95% of the reference's counted 8-grams; "near_copy": the
    paper rule, or contains the reference up to one word edit per 20 of its tokens
    (``flames.qc.near_copy``); "ngram13": shares a counted 13-gram. When several
    references qualify, the one with the highest coverage wins (ties: lowest index);
    near_copy's edit rule only speaks for texts the paper rule left clean, and there the
    fewest edits win. Pass a prebuilt `index` (``NgramIndex.cached``) and, for near_copy,
    `anchors` (``contamination_indexes``) to skip the builds; they must come from the same
    references and stoplist. `workers` processes scan the texts (default: the idle CPUs
    for large inputs).
    """
    n, min_share = _mode(mode)
    if index is None:
        index = NgramIndex.build(references, n, stoplist=stoplist)
    elif index.n != n or index.content_hash != NgramIndex.cache_key(references, n, stoplist, index.min_short_tokens):
        raise ValueError("index was built from other references, another n or another stoplist")
    if anchors is None and mode == "near_copy" and len(references):
        anchors = AnchorIndex.build(references)
    elif anchors is not None and mode != "near_copy":
        anchors = None  # the edit rule is near_copy's only
    w = resolve_workers(workers, len(texts))
    best = np.full(len(texts), -1, np.int64)
    by_edit = 0
    for start, (part, edited) in map_chunks(_scan_chunk, texts, workers=w, args=(min_share,), shared=(index, anchors)):
        best[start : start + len(part)] = part
        by_edit += edited
    if stats is not None:
        stats.update(mode=mode, n=n, min_share=min_share, workers=w, flagged=int((best >= 0).sum()), **index.meta)
        if anchors is not None:
            stats["flagged_by_edit_rule"] = by_edit
    return [None if b < 0 else int(b) for b in best.tolist()]


def contamination_indexes(
    references: Sequence[str], mode: str = "paper", stoplist: Stoplist | None = DEFAULT_STOPLIST
) -> tuple[NgramIndex, AnchorIndex | None]:
    """The indexes `find_contamination` builds, for callers that scan many batches against one suite."""
    index = NgramIndex.build(references, _mode(mode)[0], stoplist=stoplist)
    return index, (AnchorIndex.build(references) if mode == "near_copy" and len(references) else None)


def _mode(mode: str) -> tuple[int, float]:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    return MODES[mode]


def _scan_chunk(texts: Sequence[str], min_share: float) -> tuple[np.ndarray, int]:
    """Worker job: best reference per text of one chunk (-1 = clean), and how many the edit rule added."""
    index, anchors = shared()
    counts: dict = {}
    best = index.match(texts, min_share, anchors, counts)
    return best, counts.get("edit", 0)
