"""N-gram scores of problem texts, vectorized over a whole pool with the QC's hashed shingles
(`flames.qc.shingles`: normalized word tokens, order-sensitive 64-bit n-gram hashes).

- length: the problem's token count under `flames.qc.normalize.tokenize` (words, numbers, operator
  characters; punctuation is not counted): a tokenizer-free estimate, close to a word count; a model's
  tokenizer counts more (the samples' `completion_tokens`, the model's own counts, give `solution_tokens`).
- novelty against its seed: 1 - Jaccard similarity of the problem's and its seed's n-gram sets
  (None without a seed in the seed set).
- novelty against the seed set: the share of the problem's distinct n-grams found in no seed problem.
- diversity of the pool: distinct n-grams / all n-grams over the pool (distinct-n), and near-duplicate
  clusters (`flames.qc.find_duplicates`: MinHash-LSH, then exact Jaccard of word 5-grams >= the threshold).
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from flames.qc.dedup import find_duplicates
from flames.qc.shingles import CSR, hash_texts, mix64, shingles

NGRAM = 3  # novelty and distinct-n: word trigrams (a rewrite that keeps the numbers still shares few)
NEAR_DUP_THRESHOLD = 0.8  # Jaccard of word 5-grams at which two problems are near-duplicates
_ROW = np.uint64(0x9E3779B97F4A7C15)  # spreads a row number over the bits of its (row, n-gram) key


def grams(texts: Sequence[str]) -> tuple[CSR, np.ndarray]:
    """(each text's n-gram hashes, each text's token count)."""
    tokens = hash_texts(texts)
    return shingles(tokens, NGRAM), tokens.lengths()


def _distinct_per_row(sh: CSR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unique (row, n-gram) keys, their rows, their n-gram hashes): each row's distinct n-grams."""
    rows = np.repeat(np.arange(len(sh), dtype=np.uint64), sh.lengths())
    keys = mix64(sh.values ^ (rows * _ROW))
    keys, first = np.unique(keys, return_index=True)
    return keys, rows[first].astype(np.int64), sh.values[first]


def novelty_against_seed(problems: CSR, seeds: CSR) -> np.ndarray:
    """1 - Jaccard of row i of `problems` and row i of `seeds` (NaN where the seed row is empty)."""
    n = len(problems)
    kp, rp, _ = _distinct_per_row(problems)
    ks, rs, _ = _distinct_per_row(seeds)
    _, ip, _ = np.intersect1d(kp, ks, assume_unique=True, return_indices=True)
    common = np.bincount(rp[ip], minlength=n)
    union = np.bincount(rp, minlength=n) + np.bincount(rs, minlength=n) - common
    has_seed = np.bincount(rs, minlength=n) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(has_seed & (union > 0), 1 - common / np.maximum(union, 1), np.nan)


def novelty_against_set(problems: CSR, seed_set: CSR) -> np.ndarray:
    """Per row of `problems`: the share of its distinct n-grams that no row of `seed_set` holds (0 for no n-gram)."""
    n = len(problems)
    _, rows, values = _distinct_per_row(problems)
    known = np.isin(values, np.unique(seed_set.values))
    size = np.bincount(rows, minlength=n)
    new = np.bincount(rows, weights=~known, minlength=n)
    return np.where(size > 0, new / np.maximum(size, 1), 0.0)


def diversity(texts: Sequence[str], sh: CSR, threshold: float = NEAR_DUP_THRESHOLD) -> tuple[dict, list[int | None]]:
    """(the pool's diversity summary, per text the earlier text it near-duplicates or None)."""
    total = len(sh.values)
    dup_of = find_duplicates(list(texts), threshold) if texts else []
    clusters = Counter(d for d in dup_of if d is not None)  # root -> its duplicates
    return {"distinct_ngrams": round(len(np.unique(sh.values)) / total, 4) if total else None,
            "ngram": NGRAM, "near_dup_threshold": threshold,
            "near_dup_share": round(sum(d is not None for d in dup_of) / len(dup_of), 4) if dup_of else 0.0,
            "near_dup_clusters": len(clusters),
            "largest_cluster": 1 + max(clusters.values()) if clusters else 1}, dup_of
