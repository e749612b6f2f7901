"""``NgramIndex``: a reference set's counted n-grams, built once, scanned for matches, cached on disk.

Scanning is vectorized with numpy: tokens -> window hashes -> bitmap prefilter ->
sorted-key lookup -> (text, reference) hit counts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .near_copy import AnchorIndex
from .shingles import CSR, hash_texts, shingles, windows
from .stoplist import DEFAULT_STOPLIST, Stoplist, stopped_grams

_INDEX_VERSION = 1
_BITMAP_BITS = 24  # prefilter table of 2^24 flags (16 MB): ~2% filled by 360K keys


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) for each (s, c)."""
    before = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + (np.arange(int(counts.sum()), dtype=np.int64) - before)


def _unique_pairs(a: np.ndarray, b: np.ndarray, b_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (a, b) pairs of non-negative ints and their multiplicities."""
    u, counts = np.unique(a.astype(np.int64) * b_size + b, return_counts=True)
    return u // b_size, u % b_size, counts


class NgramIndex:
    """Counted n-grams of a reference set, with postings (n-gram -> references)."""

    def __init__(
        self,
        n,
        keys,
        post_offsets,
        post_refs,
        ref_size,
        short_lengths,
        short_first,
        min_short_tokens,
        content_hash,
        meta,
    ):
        self.n = n
        self.keys = keys  # uint64, sorted, unique
        self.post_offsets = post_offsets  # int64, len(keys) + 1
        self.post_refs = post_refs  # int32: references holding each key
        self.ref_size = ref_size  # int32: counted n-grams per reference (0 = not indexed)
        self.short_lengths = tuple(short_lengths)  # lengths of references shorter than n
        self.short_first = short_first  # uint64, sorted: first-token hashes of those references
        self.min_short_tokens = min_short_tokens
        self.content_hash = content_hash
        self.meta = meta
        self._bitmap = None

    @property
    def num_refs(self) -> int:
        return len(self.ref_size)

    # ------------------------------------------------------------------ build

    @staticmethod
    def cache_key(
        references: Sequence[str], n: int, stoplist: Stoplist | None = DEFAULT_STOPLIST, min_short_tokens: int = 3
    ) -> str:
        """Hex digest of everything the index depends on (references, n, stoplist, version)."""
        h = hashlib.blake2b(digest_size=16)
        params = {
            "v": _INDEX_VERSION,
            "n": n,
            "stop": asdict(stoplist) if stoplist else None,
            "short": min_short_tokens,
        }
        h.update(json.dumps(params, sort_keys=True).encode())
        for ref in references:
            h.update(ref.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()

    @classmethod
    def build(
        cls,
        references: Sequence[str],
        n: int,
        *,
        stoplist: Stoplist | None = DEFAULT_STOPLIST,
        min_short_tokens: int = 3,
    ) -> NgramIndex:
        """Index the distinct counted n-grams of every reference."""
        tokens = hash_texts(references)
        grams = shingles(tokens, n)  # a reference shorter than n: one whole-sequence gram
        lengths = tokens.lengths()
        indexed = lengths >= min_short_tokens
        doc = np.repeat(np.arange(len(references), dtype=np.int64), grams.lengths())
        keep = indexed[doc]
        gram, doc = grams.values[keep], doc[keep]
        order = np.lexsort((doc, gram))
        gram, doc = gram[order], doc[order]
        first = np.ones(len(gram), bool)
        first[1:] = (gram[1:] != gram[:-1]) | (doc[1:] != doc[:-1])
        gram, doc = gram[first], doc[first]  # distinct (gram, ref), sorted by gram

        stopped = stopped_grams(gram, doc, tokens, n, stoplist)
        stopped_keys = int(np.unique(gram[stopped]).size)
        counted = ~stopped
        # A reference made only of boilerplate keeps all its n-grams (better than vanishing).
        size_all = np.bincount(doc, minlength=len(references))
        size_counted = np.bincount(doc[counted], minlength=len(references))
        fallback = (size_counted == 0) & (size_all > 0)
        counted |= fallback[doc]
        gram, doc = gram[counted], doc[counted]

        keys, starts = np.unique(gram, return_index=True)
        post_offsets = np.append(starts, len(gram)).astype(np.int64)
        ref_size = np.bincount(doc, minlength=len(references)).astype(np.int32)
        is_short = indexed & (lengths < n)
        short = sorted(set(lengths[is_short].tolist()))
        short_first = np.unique(tokens.values[tokens.offsets[:-1][is_short]])
        meta = {
            "references": len(references),
            "unindexed_refs": int((~indexed).sum()),
            "short_refs": int(is_short.sum()),
            "stopped_ngrams": stopped_keys,
            "boilerplate_only_refs": int(fallback.sum()),
            "keys": int(len(keys)),
        }
        return cls(
            n,
            keys,
            post_offsets,
            doc.astype(np.int32),
            ref_size,
            short,
            short_first,
            min_short_tokens,
            cls.cache_key(references, n, stoplist, min_short_tokens),
            meta,
        )

    # ------------------------------------------------------------------ scan

    def _prefilter(self) -> np.ndarray:
        if self._bitmap is None:
            bitmap = np.zeros(1 << _BITMAP_BITS, bool)
            bitmap[self.keys >> np.uint64(64 - _BITMAP_BITS)] = True
            self._bitmap = bitmap
        return self._bitmap

    def match(
        self, texts: Sequence[str], min_share: float, anchors: AnchorIndex | None = None, counts: dict | None = None
    ) -> np.ndarray:
        """Best contaminating reference per text (-1 = none).

        A text is contaminated by reference r when it holds at least
        max(1, ceil(min_share * ref_size[r])) of r's counted n-grams, or, given
        `anchors`, when it is a near copy of r (only looked for in texts clean so far;
        `counts["edit"]` gets how many that adds).
        """
        lengths = (self.n, *self.short_lengths)
        tokens = hash_texts(texts, words=anchors is not None)
        # Short references are few: only windows starting with one of their first tokens
        # can match them, which skips ~95% of the short-window work.
        first_ok = np.isin(tokens.values, self.short_first)
        anchor_lengths = set(anchors.lengths) if anchors is not None else set()
        filtered = {L: first_ok for L in self.short_lengths if L not in anchor_lengths}
        # One pass serves both rules; the anchors need every window of their lengths.
        win = windows(tokens, set(lengths) | anchor_lengths, starts_where=filtered, positions=bool(anchor_lengths))
        mine = {L: win[L] for L in lengths}
        for L in anchor_lengths & set(self.short_lengths):
            keep = first_ok[win[L][2]]
            mine[L] = (win[L][0][keep], win[L][1][keep])
        best = self._best(tokens, mine, min_share)
        if anchors is not None:
            near = anchors.match(tokens, win, skip=best >= 0)
            if counts is not None:
                counts["edit"] = int((near >= 0).sum())
            best = np.where(best >= 0, best, near)
        return best

    def _best(self, tokens: CSR, win: dict, min_share: float) -> np.ndarray:
        """Best reference per text from its windows (length -> (hashes, doc ids))."""
        h = np.concatenate([win[L][0] for L in sorted(win)])
        d = np.concatenate([win[L][1] for L in sorted(win)])
        maybe = self._prefilter()[h >> np.uint64(64 - _BITMAP_BITS)]
        h, d = h[maybe], d[maybe]
        pos = np.minimum(np.searchsorted(self.keys, h), len(self.keys) - 1) if len(self.keys) else np.zeros(0, np.int64)
        hit = self.keys[pos] == h if len(self.keys) else np.zeros(0, bool)
        d, pos, _ = _unique_pairs(d[hit], pos[hit], max(len(self.keys), 1))  # count each n-gram once per text
        counts = self.post_offsets[pos + 1] - self.post_offsets[pos]
        refs = self.post_refs[_ranges(self.post_offsets[pos], counts)]
        d, r, shared = _unique_pairs(np.repeat(d, counts), refs, self.num_refs)
        size = self.ref_size[r]
        need = np.maximum(1, np.ceil(min_share * size - 1e-9))
        ok = shared >= need
        d, r, share = d[ok], r[ok], shared[ok] / size[ok]
        best = np.full(len(tokens), -1, np.int64)
        if len(d):
            order = np.lexsort((r, -share, d))  # per text: highest share, then lowest index
            d, r = d[order], r[order]
            first = np.ones(len(d), bool)
            first[1:] = d[1:] != d[:-1]
            best[d[first]] = r[first]
        return best

    # ------------------------------------------------------------------ disk

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_bitmap"] = None  # 16 MB, cheaper to rebuild than to pickle
        return state

    def save(self, path: str | Path) -> None:
        """Write the index to one .npz file (atomically)."""
        path = Path(path)
        meta = {
            "v": _INDEX_VERSION,
            "n": self.n,
            "short_lengths": list(self.short_lengths),
            "min_short_tokens": self.min_short_tokens,
            "content_hash": self.content_hash,
            "meta": self.meta,
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                keys=self.keys,
                post_offsets=self.post_offsets,
                post_refs=self.post_refs,
                ref_size=self.ref_size,
                short_first=self.short_first,
                meta=np.array(json.dumps(meta)),
            )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> NgramIndex:
        """Read an index written by ``save``."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta["v"] != _INDEX_VERSION:
                raise ValueError(f"{path}: index version {meta['v']}, expected {_INDEX_VERSION}")
            return cls(
                meta["n"],
                z["keys"],
                z["post_offsets"],
                z["post_refs"],
                z["ref_size"],
                meta["short_lengths"],
                z["short_first"],
                meta["min_short_tokens"],
                meta["content_hash"],
                meta["meta"],
            )

    @classmethod
    def cached(
        cls,
        references: Sequence[str],
        n: int,
        cache_dir: str | Path,
        *,
        stoplist: Stoplist | None = DEFAULT_STOPLIST,
        min_short_tokens: int = 3,
    ) -> NgramIndex:
        """Load the index for these references from `cache_dir`, building and saving it if absent."""
        key = cls.cache_key(references, n, stoplist, min_short_tokens)
        path = Path(cache_dir) / f"ngram{n}-{key}.npz"
        if path.exists():
            return cls.load(path)
        index = cls.build(references, n, stoplist=stoplist, min_short_tokens=min_short_tokens)
        path.parent.mkdir(parents=True, exist_ok=True)
        index.save(path)
        return index
