"""Near copies of benchmark problems: a text holds a test problem up to a few word edits.

Rule. A text t is a near copy of a reference r of L >= 4 tokens when some stretch of t
aligns with r's tokens with at most k = max(1, L // 20) edits, each edit the
substitution, insertion or deletion of one *word* (``normalize.is_word``). Numbers,
operators and LaTeX commands must all be in place, so "Compute $\\dbinom{8}{5}$" is not a
near copy of "Compute $\\dbinom{8}{4}$", while "Find $\\dbinom{8}{4}$" is.

Why: the paper's rule (>= 95% of the reference's 8-grams) misses a one-word edit of any
reference under ~167 tokens, because one edit breaks up to 8 of its 8-grams; the median
benchmark problem has 35 tokens. The edit budget of 1 per 20 tokens is the 95% of the
paper's rule, counted on tokens instead of 8-grams.

Search (pigeonhole): r is cut into k+1 pieces; k edits leave at least one piece intact,
so the text contains each window of that piece; the piece's *anchor* is its window of 2,
3, 5 or 8 tokens (the most that fit) that the fewest reference windows share. An
anchor hit fixes where r would start in the text, up to the indels before the piece. A
banded edit-distance DP, vectorized over all candidate (text, reference, start) triples
of a chunk, then checks the alignment exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .shingles import CSR, hash_texts, windows

TOKENS_PER_EDIT = 20  # the edit budget: one word edit per 20 reference tokens, at least one
MIN_TOKENS = 4  # shorter references get no edit tolerance (3 tokens less one edit says nothing)
ANCHOR_SIZES = (2, 3, 5, 8)  # an anchor is the longest of these fitting its piece: few sizes, few window passes
_INF = 1 << 12
_BITMAP_BITS = 22


def edit_budget(lengths: np.ndarray) -> np.ndarray:
    """Word edits allowed for references of `lengths` tokens."""
    return np.maximum(1, np.asarray(lengths) // TOKENS_PER_EDIT)


class AnchorIndex:
    """The references' tokens, edit budgets and anchors (hash -> reference, offset)."""

    def __init__(self, tokens: CSR, budget: np.ndarray, keys, post_offsets, post_ref, post_at, lengths):
        self.tokens = tokens  # reference token hashes with word flags
        self.budget = budget  # int32 per reference; 0 = no edit tolerance
        self.keys = keys  # uint64, sorted unique anchor hashes
        self.post_offsets = post_offsets  # int64, len(keys) + 1
        self.post_ref = post_ref  # int32: reference of each posting
        self.post_at = post_at  # int32: where in the reference the anchor starts
        self.lengths = tuple(lengths)  # anchor lengths present
        self._bitmap = _bitmap(keys)

    @classmethod
    def build(cls, references: Sequence[str]) -> AnchorIndex:
        tokens = hash_texts(references, words=True)
        lengths = tokens.lengths()
        budget = np.where(lengths >= MIN_TOKENS, edit_budget(lengths), 0).astype(np.int32)
        # k+1 pieces per reference, piece j = [j*L // (k+1), (j+1)*L // (k+1)).
        pieces = np.where(budget > 0, budget + 1, 0)
        ref = np.repeat(np.arange(len(lengths)), pieces)
        j = np.arange(len(ref)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        L, k = lengths[ref], budget[ref].astype(np.int64)
        at = (j * L) // (k + 1)
        piece = ((j + 1) * L) // (k + 1) - at  # >= 2: L >= 4 tokens and at most L // 20 + 1 pieces
        sizes_ok = np.array(ANCHOR_SIZES)
        size = sizes_ok[np.searchsorted(sizes_ok, piece, side="right") - 1]
        h = np.zeros(len(ref), np.uint64)
        sizes = sorted(set(size.tolist()))
        for w, (wh, _, wstart) in windows(tokens, sizes, positions=True).items():
            sel = np.flatnonzero(size == w)
            h[sel], shift = _rarest(wh, np.searchsorted(wstart, tokens.offsets[ref[sel]] + at[sel]), piece[sel] - w + 1)
            at[sel] += shift
        order = np.lexsort((at, ref, h))
        keys, starts = np.unique(h[order], return_index=True)
        return cls(tokens, budget, keys, np.append(starts, len(order)).astype(np.int64),
                   ref[order].astype(np.int32), at[order].astype(np.int32), sizes)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_bitmap"] = None  # cheaper to rebuild than to pickle
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._bitmap = _bitmap(self.keys)

    def match(self, tokens: CSR, win: dict | None = None, skip: np.ndarray | None = None) -> np.ndarray:
        """Per text (of `tokens`, hashed with words=True), the near-copied reference or -1.

        `win`: the texts' windows with positions for every length in ``self.lengths``
        (computed here if None; a caller scanning other n-grams shares one pass). Texts
        where `skip` is True are not searched. Among several references the one with the
        fewest edits wins, then the lowest index.
        """
        if win is None:
            win = windows(tokens, self.lengths, positions=True)
        doc, ref, start = self._candidates(tokens, win, skip)
        best = np.full(len(tokens), -1, np.int64)
        if not len(doc):
            return best
        edits = np.full(len(doc), _INF, np.int32)
        L = self.tokens.lengths()[ref]
        bucket = np.ceil(np.log2(L)).astype(np.int64)  # similar lengths share one DP (little padding)
        for b in np.unique(bucket).tolist():
            sel = np.flatnonzero(bucket == b)
            edits[sel] = self._edits(tokens, doc[sel], ref[sel], start[sel])
        ok = edits <= self.budget[ref]
        doc, ref, edits = doc[ok], ref[ok], edits[ok]
        order = np.lexsort((ref, edits, doc))
        doc, ref = doc[order], ref[order]
        first = np.ones(len(doc), bool)
        first[1:] = doc[1:] != doc[:-1]
        best[doc[first]] = ref[first]
        return best

    def _candidates(self, tokens: CSR, win: dict, skip: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """Distinct (text, reference, start of the reference in the text) from anchor hits."""
        docs, refs, starts = [], [], []
        for h, d, pos in (win[L] for L in self.lengths if len(self.keys)):
            maybe = self._bitmap[h >> np.uint64(64 - _BITMAP_BITS)]
            if skip is not None:
                maybe &= ~skip[d]
            h, d, pos = h[maybe], d[maybe], pos[maybe]
            at = np.minimum(np.searchsorted(self.keys, h), len(self.keys) - 1)
            hit = self.keys[at] == h
            d, pos, at = d[hit], pos[hit], at[hit]
            counts = self.post_offsets[at + 1] - self.post_offsets[at]
            post = _ranges(self.post_offsets[at], counts)
            docs.append(np.repeat(d, counts))
            refs.append(self.post_ref[post].astype(np.int64))
            # The reference starts where its anchor was found, less the anchor's offset in it.
            starts.append(np.repeat(pos - tokens.offsets[d], counts) - self.post_at[post])
        if not docs:
            return (np.zeros(0, np.int64),) * 3
        doc, ref, start = np.concatenate(docs), np.concatenate(refs), np.concatenate(starts)
        order = np.lexsort((start, ref, doc))
        doc, ref, start = doc[order], ref[order], start[order]
        new = np.ones(len(doc), bool)
        new[1:] = (doc[1:] != doc[:-1]) | (ref[1:] != ref[:-1]) | (start[1:] != start[:-1])
        return doc[new], ref[new], start[new]

    def _edits(self, tokens: CSR, doc: np.ndarray, ref: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Fewest word edits aligning each reference with the text around `start` (banded DP).

        Cell (i, d): the reference's first i tokens aligned with a text stretch ending at
        start + i + d, for |d| <= K. Row 0 is 0 everywhere: the stretch may start anywhere
        within K of `start` (the indels before the intact piece shift it by at most K).
        """
        R = self.tokens
        lengths = R.lengths()[ref]
        Lb, K = int(lengths.max()), int(self.budget[ref].max())
        W = 2 * K + 1
        cols = np.arange(Lb)
        ridx = R.offsets[ref][:, None] + cols
        rin = cols < lengths[:, None]
        ridx = np.where(rin, ridx, 0)
        r_tok, r_word = R.values[ridx], R.words[ridx] & rin
        tpos = start[:, None] - K + np.arange(Lb + 2 * K)
        tlen = tokens.offsets[doc + 1] - tokens.offsets[doc]
        tin = (tpos >= 0) & (tpos < tlen[:, None])
        tidx = np.where(tin, tokens.offsets[doc][:, None] + tpos, 0)
        t_tok, t_word = tokens.values[tidx], tokens.words[tidx] & tin
        out = np.full(len(doc), _INF, np.int32)
        live = np.arange(len(doc))
        D = np.zeros((len(doc), W), np.int32)
        for i in range(1, Lb + 1):
            t, tw = t_tok[:, i - 1 : i - 1 + W], t_word[:, i - 1 : i - 1 + W]
            rt, rw = r_tok[:, i - 1 : i], r_word[:, i - 1 : i]
            same = (t == rt) & tin[:, i - 1 : i - 1 + W]
            new = D + np.where(same, 0, np.where(rw & tw, 1, _INF))
            np.minimum(new[:, :-1], D[:, 1:] + np.where(rw, 1, _INF), out=new[:, :-1])  # delete a reference word
            # Insert text words: new[d] = min over d' <= d of new[d'] + the insertion costs in
            # between, i.e. a running minimum of new - P plus P, P the prefix sum of the costs.
            P = np.cumsum(np.where(tw, 1, _INF), axis=1, dtype=np.int64)
            D = np.minimum(np.minimum.accumulate(new - P, axis=1) + P, _INF).astype(np.int32)
            done = lengths[live] == i
            out[live[done]] = D[done].min(1)
            # Costs only grow: drop candidates already over budget, and finished ones.
            keep = ~done & (D.min(1) <= self.budget[ref[live]])
            if not keep.all():
                live, D = live[keep], D[keep]
                t_tok, t_word, r_tok, r_word, tin = t_tok[keep], t_word[keep], r_tok[keep], r_word[keep], tin[keep]
            if not len(live):
                break
        return out


def _bitmap(keys: np.ndarray) -> np.ndarray:
    """Prefilter: one flag per top-bits bucket of the anchor hashes (4 MB, ~1% filled)."""
    bitmap = np.zeros(1 << _BITMAP_BITS, bool)
    bitmap[keys >> np.uint64(64 - _BITMAP_BITS)] = True
    return bitmap


def _rarest(hashes: np.ndarray, first: np.ndarray, options: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per piece, the window among `options` consecutive ones from `first` that the fewest
    reference windows share (rare anchors, few false candidates): its hash and its shift."""
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    idx = _ranges(first, options)
    piece = np.repeat(np.arange(len(first)), options)
    order = np.lexsort((idx, counts[inverse[idx]], piece))  # per piece: rarest, then leftmost
    take = np.ones(len(order), bool)
    take[1:] = piece[order][1:] != piece[order][:-1]
    chosen = idx[order][take]
    return hashes[chosen], chosen - first


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) for each (s, c)."""
    before = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + (np.arange(int(counts.sum()), dtype=np.int64) - before)
