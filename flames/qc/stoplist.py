"""The decontamination stoplist: which reference n-grams are boilerplate, not evidence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .shingles import CSR, hash_texts, shingles

# Phrases whose n-grams never count: answer-format boilerplate found in the benchmarks
# (hand-kept; the document-frequency cutoff catches most boilerplate on its own). A
# phrase contributes its own n-grams only, so one shorter than n tokens does nothing.
DEFAULT_PHRASES = (
    "where m and n are relatively prime positive integers find m + n",
    "express your answer as a common fraction in simplest form",
    "express your answer as a decimal to the nearest tenth",
    "express your answer as a decimal to the nearest hundredth",
    "express the exact answer in interval notation restricting your attention to",
)


@dataclass(frozen=True)
class Stoplist:
    """Reference n-grams that are not evidence of contamination.

    min_df: an n-gram found in at least this many *distinct* references is boilerplate
    ("express the exact answer in interval notation ..."). 10 is above the largest
    legitimate family in our benchmarks: one GSM8K test problem plus its 8 GSM-Plus
    rewrites share most of their n-grams (df 9), and those must stay countable.
    phrases: hand-kept boilerplate (see DEFAULT_PHRASES).
    """

    min_df: int | None = 10
    phrases: tuple[str, ...] = DEFAULT_PHRASES


DEFAULT_STOPLIST = Stoplist()


def stopped_grams(gram: np.ndarray, doc: np.ndarray, tokens: CSR, n: int, stoplist: Stoplist | None) -> np.ndarray:
    """Mask over distinct (gram, ref) rows: is the gram boilerplate?"""
    stopped = np.zeros(len(gram), bool)
    if stoplist is None:
        return stopped
    if stoplist.min_df is not None:
        # Document frequency over distinct reference texts: MATH500 repeats 500 MATH
        # test problems verbatim, and a repeat is not evidence of boilerplate.
        group = _text_groups(tokens)[doc]
        g_order = np.lexsort((group, gram))
        gg, grp = gram[g_order], group[g_order]
        new = np.ones(len(gg), bool)
        new[1:] = (gg[1:] != gg[:-1]) | (grp[1:] != grp[:-1])
        uniq_gram, df = np.unique(gg[new], return_counts=True)
        common = uniq_gram[df >= stoplist.min_df]
        stopped |= np.isin(gram, common)
    if stoplist.phrases:
        phrases = hash_texts(stoplist.phrases)
        long_enough = np.repeat(phrases.lengths() >= n, shingles(phrases, n).lengths())
        stopped |= np.isin(gram, shingles(phrases, n).values[long_enough])
    return stopped


def _text_groups(tokens: CSR) -> np.ndarray:
    """Reference -> index of the first reference with the same token sequence."""
    first: dict[bytes, int] = {}
    return np.array([first.setdefault(tokens.row(i).tobytes(), i) for i in range(len(tokens))], np.int64)
