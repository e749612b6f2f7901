"""Hashed word n-grams: texts -> CSR arrays of uint64, built with numpy.

A document becomes a run of 64-bit token hashes; a window of L consecutive tokens
hashes to ``mix(sum_k token[k] * C[k] + L * C_LEN)``. The per-position constants make
the hash order-sensitive, the length term keeps a 3-token window from colliding with a
5-token one, and the splitmix64 finalizer spreads the bits. All of it is vectorized
over a whole batch, so no Python object is made per n-gram.

Token hashes are a fixed polynomial of the token's bytes, not ``hash()``: they must be
identical in every process and every run (workers, and indexes saved to disk).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .normalize import UNICODE_TOKEN, fold

_M64 = (1 << 64) - 1


def _splitmix_constants(seed: int, count: int) -> np.ndarray:
    """`count` odd 64-bit constants from the splitmix64 sequence (pure ints: stable forever)."""
    out, state = [], seed
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & _M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        out.append((z ^ (z >> 31)) | 1)
    return np.array(out, dtype=np.uint64)


_MAX_WINDOW = 64
_C = _splitmix_constants(0xF1A3E5, _MAX_WINDOW + 1)
# L * C_LEN mod 2^64 for every window length, precomputed (numpy scalars warn on overflow).
_LEN_TERM = np.array([(L * int(_C[-1])) & _M64 for L in range(_MAX_WINDOW + 1)], dtype=np.uint64)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, in place on a uint64 array (returns it)."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@dataclass
class CSR:
    """Ragged uint64 rows: row i is ``values[offsets[i]:offsets[i + 1]]``."""

    values: np.ndarray  # uint64
    offsets: np.ndarray  # int64, len = rows + 1
    words: np.ndarray | None = None  # bool per value: the token is a word (``hash_texts(..., words=True)``)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @staticmethod
    def concat(parts: Sequence[CSR]) -> CSR:
        """Stack row blocks in order."""
        if not parts:
            return CSR(np.zeros(0, np.uint64), np.zeros(1, np.int64))
        values = np.concatenate([p.values for p in parts])
        lengths = np.concatenate([p.lengths() for p in parts])
        offsets = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        words = np.concatenate([p.words for p in parts]) if parts[0].words is not None else None
        return CSR(values, offsets, words)


# ------------------------------------------------------------------ token hashes
#
# Tokenizing with `re` and hashing each token string costs ~35 us per problem in
# Python; doing both on the bytes of a whole batch with numpy costs a few. The byte
# tokenizer reproduces ``normalize.tokenize`` exactly (tested): on folded ASCII text the
# token is `\\?[a-z0-9]+` or one operator character; a text that is not ASCII after
# folding is first re-joined from its regex tokens, after which every byte >= 0x80
# belongs to a word.

_ALNUM = np.zeros(256, bool)
_ALNUM[ord("a") : ord("z") + 1] = True
_ALNUM[ord("0") : ord("9") + 1] = True
_ALNUM[0x80:] = True
_OPERATOR = np.zeros(256, bool)
_OPERATOR[[ord(c) for c in "+-*/=<>^"]] = True
_DIGIT = np.zeros(256, bool)
_DIGIT[ord("0") : ord("9") + 1] = True
_BACKSLASH = ord("\\")

# Token hash: polynomial in the token's bytes with an odd base B (mod 2^64), so the hash
# of any byte range comes from prefix sums: (P[e] - P[s]) * B^-s. Then length + mix64.
_B = int(_splitmix_constants(0xB17E5, 1)[0])
_B_INV = pow(_B, -1, 1 << 64)
_TOKEN_LEN = _splitmix_constants(0x7E4, 1)[0]


_BATCH_BYTES = 1 << 22  # texts are hashed in batches of ~4 MB: bounded memory, warm caches
_POWERS: dict[int, np.ndarray] = {}


def _powers(base: int, n: int) -> np.ndarray:
    """[1, base, base^2, ...] mod 2^64, at least n long (cached per base)."""
    cached = _POWERS.get(base)
    if cached is None or len(cached) < n:
        p = np.full(max(n, _BATCH_BYTES + 1), base, np.uint64)
        p[0] = 1
        cached = _POWERS[base] = np.cumprod(p, dtype=np.uint64)  # wraps mod 2^64, as intended
    return cached


def token_hash(token: str) -> int:
    """Stable 64-bit hash of one token (what ``hash_texts`` gives that token)."""
    raw = 0
    for k, byte in enumerate(token.encode("utf-8")):
        raw = (raw + byte * pow(_B, k, 1 << 64)) & _M64
    raw = (raw + len(token.encode("utf-8")) * int(_TOKEN_LEN)) & _M64
    return int(mix64(np.array([raw], np.uint64))[0])


def _prepared(text: str) -> bytes:
    folded = fold(text)
    if folded.isascii():
        return folded.encode("ascii")
    return " ".join(UNICODE_TOKEN.findall(folded)).encode("utf-8")


def segment(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Token [start, end) byte positions in a prepared uint8 buffer, in order."""
    word = _ALNUM[buf]
    before = np.concatenate(([False], word[:-1]))
    after = np.concatenate((word[1:], [False]))
    run_start = np.flatnonzero(word & ~before)
    run_end = np.flatnonzero(word & ~after) + 1
    backslash = np.zeros(len(run_start), bool)
    inner = run_start > 0
    backslash[inner] = buf[run_start[inner] - 1] == _BACKSLASH
    ops = np.flatnonzero(_OPERATOR[buf])
    starts = np.concatenate((run_start - backslash, ops))
    ends = np.concatenate((run_end, ops + 1))
    order = np.argsort(starts, kind="stable")
    return starts[order], ends[order]


def hash_texts(texts: Sequence[str], *, words: bool = False) -> CSR:
    """Texts -> CSR of token hashes, one row per text (tokens as ``normalize.tokenize``).

    With `words`, the CSR also flags each token that is a word (``normalize.is_word``).
    """
    docs = [_prepared(t) for t in texts]
    parts, start, size = [], 0, 0
    for i, d in enumerate(docs):
        size += len(d) + 1
        if size >= _BATCH_BYTES:
            parts.append(_hash_prepared(docs[start : i + 1], words))
            start, size = i + 1, 0
    parts.append(_hash_prepared(docs[start:], words))
    return CSR.concat(parts)


def _hash_prepared(docs: list[bytes], words: bool = False) -> CSR:
    if sum(map(len, docs)) == 0:  # no bytes, so no tokens (and numpy dislikes empty shifts)
        return CSR(np.zeros(0, np.uint64), np.zeros(len(docs) + 1, np.int64), np.zeros(0, bool) if words else None)
    doc_len = np.fromiter(map(len, docs), np.int64, len(docs))
    doc_start = np.zeros(len(docs), np.int64)
    np.cumsum(doc_len[:-1] + 1, out=doc_start[1:])  # +1: the separator byte
    buf = np.frombuffer(b"\n".join(docs), np.uint8)
    starts, ends = segment(buf)
    prefix = np.zeros(len(buf) + 1, np.uint64)
    np.cumsum(buf * _powers(_B, len(buf))[: len(buf)], out=prefix[1:])
    raw = (prefix[ends] - prefix[starts]) * _powers(_B_INV, len(buf))[starts]
    raw += (ends - starts).astype(np.uint64) * _TOKEN_LEN
    doc = np.searchsorted(doc_start, starts, side="right") - 1
    offsets = np.zeros(len(docs) + 1, np.int64)
    np.cumsum(np.bincount(doc, minlength=len(docs)), out=offsets[1:])
    return CSR(mix64(raw), offsets, _word_flags(buf, starts, ends) if words else None)


def _word_flags(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per token: no ASCII digit, no leading backslash, not an operator (``normalize.is_word``)."""
    digits = np.zeros(len(buf) + 1, np.int32)  # a batch is ~4 MB: int32 counts suffice
    np.cumsum(_DIGIT[buf], out=digits[1:])
    first = buf[starts]
    return (digits[ends] == digits[starts]) & (first != _BACKSLASH) & ~_OPERATOR[first]


def _window_starts(offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Flat start positions of `counts[d]` consecutive windows beginning at offsets[d]."""
    total = int(counts.sum())
    first = np.repeat(offsets[:-1], counts)
    before = np.repeat(np.cumsum(counts) - counts, counts)
    return first + (np.arange(total, dtype=np.int64) - before)


def windows(
    tokens: CSR,
    lengths: Iterable[int],
    *,
    starts_where: dict[int, np.ndarray] | None = None,
    positions: bool = False,
) -> dict[int, tuple[np.ndarray, ...]]:
    """For each L in `lengths`: (hashes, doc ids) of every L-token window inside a document.

    One pass over the flat token array serves every length: the running sum after k
    steps is the hash of all k-token windows. `starts_where[L]`, a bool mask over the
    flat token positions, keeps only the L-windows starting where it is True. With
    `positions`, each tuple also holds the windows' flat start positions.
    """
    wanted = sorted(set(lengths))
    if not wanted:
        return {}
    if wanted[0] < 1 or wanted[-1] > _MAX_WINDOW:
        raise ValueError(f"window lengths must be in 1..{_MAX_WINDOW}, got {wanted}")
    T = tokens.values
    M = len(T)
    padded = np.concatenate([T, np.zeros(wanted[-1], np.uint64)])
    acc = np.zeros(M, np.uint64)
    doc_len = tokens.lengths()
    out = {}
    for k in range(wanted[-1]):
        acc += padded[k : k + M] * _C[k]
        L = k + 1
        if L in wanted:
            counts = np.maximum(doc_len - L + 1, 0)
            starts = _window_starts(tokens.offsets, counts)
            doc = np.repeat(np.arange(len(doc_len), dtype=np.int64), counts)
            if starts_where is not None and L in starts_where:
                keep = starts_where[L][starts]
                starts, doc = starts[keep], doc[keep]
            out[L] = (mix64(acc[starts] + _LEN_TERM[L]), doc) + ((starts,) if positions else ())
    return out


def whole_hash(token_hashes: np.ndarray) -> int:
    """Hash of a whole token sequence, equal to its window hash of length len(seq)."""
    L = len(token_hashes)
    if not 1 <= L <= _MAX_WINDOW:
        raise ValueError(f"sequence length must be in 1..{_MAX_WINDOW}, got {L}")
    acc = np.zeros(1, np.uint64)
    acc += (token_hashes * _C[:L]).sum(dtype=np.uint64)
    acc += _LEN_TERM[L]
    return int(mix64(acc)[0])


def shingles(tokens: CSR, n: int) -> CSR:
    """Per document, its n-gram hashes (with repeats, in text order).

    A document shorter than n tokens gets one shingle, the hash of all its tokens; an
    empty document gets none.
    """
    doc_len = tokens.lengths()
    short = np.flatnonzero((doc_len > 0) & (doc_len < n))
    need = [n] + sorted(set(doc_len[short].tolist()))
    win = windows(tokens, need)
    counts = np.where(doc_len >= n, doc_len - n + 1, (doc_len > 0).astype(np.int64))
    offsets = np.zeros(len(doc_len) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    values = np.empty(int(offsets[-1]), np.uint64)
    full = doc_len >= n
    # Full documents: their windows land in order; scatter them to their CSR slots.
    full_slots = _window_starts(offsets, np.where(full, counts, 0))
    values[full_slots] = win[n][0]
    for L in need[1:]:
        h, doc = win[L]
        docs_L = short[doc_len[short] == L]
        # A document of exactly L tokens has one L-window: find it by doc id.
        pos = np.searchsorted(doc, docs_L)
        values[offsets[docs_L]] = h[pos]
    return CSR(values, offsets)
