"""Problem dedup: exact (the paper) or MinHash-LSH near-duplicates (our extension).

Near-dup pipeline, per chunk of texts: tokens -> word n-gram hashes (uint64,
``shingles.py``, in worker processes when the input is large) -> MinHash signatures
(rensa or datasketch) -> LSH insert + query (the same library) -> candidate pairs.
The parent then walks the texts in order and marks text i a duplicate of the earliest
still-kept earlier candidate whose *exact* Jaccard similarity (of the hashed shingle
sets, not the MinHash estimate) reaches the threshold. So every pointer targets a kept
text, every reported pair truly is >= threshold, and the kept set has no verified pair.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from flames.config import DEDUP_BACKENDS

from ._parallel import map_chunks, no_gc, resolve_workers
from .normalize import normalize_text
from .shingles import CSR, hash_texts, shingles

BACKENDS = DEDUP_BACKENDS  # declared with the schema (qc.dedup.backend)

# Default LSH recall target: probability that a pair at exactly the threshold shares a band.
_RECALL_AT_THRESHOLD = 0.9


def find_duplicates(
    texts: Sequence[str],
    threshold: float | None = None,
    *,
    backend: str = "auto",
    num_perm: int = 128,
    bands: int | None = None,
    rows: int | None = None,
    ngram: int = 5,
    seed: int = 1,
    workers: int | None = None,
    stats: dict | None = None,
) -> list[int | None]:
    """Per text, the index of the earlier kept text it duplicates, or None (keep it).

    threshold=None: exact dedup on ``normalize_text`` (the FLAMES setting).
    threshold=t: near-dup at word-``ngram`` Jaccard >= t. MinHash with `num_perm`
    permutations, LSH with `bands` x `rows` (default: ``lsh_params``), then every
    candidate is verified by exact Jaccard. ``backend="auto"`` uses rensa when it is
    importable, else datasketch. `workers` processes hash the texts for near-dup
    (default: the idle CPUs for large inputs, see ``_parallel.resolve_workers``). If
    `stats` is a dict it receives counts and settings (kept_candidates, checked,
    duplicates, bands, rows, backend, workers).
    """
    if threshold is None:
        return _exact_duplicates(texts, stats)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if not 1 <= ngram <= 64:
        raise ValueError(f"ngram must be in 1..64, got {ngram}")
    b, r = lsh_params(threshold, num_perm, bands, rows)
    backend = resolve_backend(backend)
    return _near_duplicates(texts, threshold, backend, num_perm, b, r, ngram, seed, workers, stats)


def resolve_backend(backend: str) -> str:
    """'auto' -> 'rensa' if importable else 'datasketch'; checks the name."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend != "auto":
        return backend
    try:
        import rensa  # noqa: F401
    except ImportError:
        return "datasketch"
    return "rensa"


def lsh_params(
    threshold: float, num_perm: int = 128, bands: int | None = None, rows: int | None = None
) -> tuple[int, int]:
    """(bands, rows) with bands * rows == num_perm.

    Given neither: the largest `rows` dividing num_perm for which a pair at exactly the
    threshold still shares a band with probability >= 0.9. At 0.8 and 128 permutations
    that is b=16, r=8 (S-curve knee ~0.71), the setting measured at recall 0.995 before
    verification. Recall is what matters: false candidates only cost a verification.
    """
    if bands is not None and rows is not None:
        b, r = bands, rows
    elif bands is not None or rows is not None:
        given = bands if bands is not None else rows
        if given < 1 or num_perm % given:
            raise ValueError(f"{given} does not divide num_perm={num_perm}")
        other = num_perm // given
        b, r = (given, other) if bands is not None else (other, given)
    else:
        b, r = _recall_params(threshold, num_perm)
    if b < 1 or r < 1 or b * r != num_perm:
        raise ValueError(f"bands * rows must equal num_perm: {b} * {r} != {num_perm}")
    return b, r


def _recall_params(threshold: float, num_perm: int) -> tuple[int, int]:
    best = (num_perm, 1)
    for r in range(1, num_perm + 1):
        if num_perm % r:
            continue
        b = num_perm // r
        if lsh_collision_probability(threshold, b, r) >= _RECALL_AT_THRESHOLD:
            best = (b, r)
    return best


def _exact_duplicates(texts: Sequence[str], stats: dict | None) -> list[int | None]:
    # One process: normalizing costs about what shipping the texts to a worker would.
    first: dict[str, int] = {}
    out: list[int | None] = []
    for i, text in enumerate(texts):
        j = first.setdefault(normalize_text(text), i)
        out.append(None if j == i else j)
    if stats is not None:
        stats.update(mode="exact", duplicates=sum(x is not None for x in out))
    return out


# ---------------------------------------------------------------- near-duplicates


def _identity(x):
    """datasketch hashfunc: our shingles already are 64-bit hashes."""
    return x


def _rensa_signatures(sh: CSR, num_perm: int, seed: int) -> list:
    from rensa import RMinHash

    # rensa takes str/bytes tokens, so each uint64 shingle goes in as its bytes. The "S8"
    # view makes them in one C loop; it drops trailing zero bytes, which keeps distinct
    # values distinct (they are the high bytes of a little-endian integer).
    flat = sh.values.view("S8").tolist()
    off = sh.offsets.tolist()
    token_sets = [flat[a:b] for a, b in zip(off[:-1], off[1:])]
    return RMinHash.from_token_sets(token_sets, num_perm, seed)


def _datasketch_signatures(sh: CSR, num_perm: int, seed: int) -> list:
    from datasketch import LeanMinHash, MinHash

    rows = (sh.row(i).tolist() for i in range(len(sh)))
    gen = MinHash.generator(rows, num_perm=num_perm, seed=seed, hashfunc=_identity, scheme="affine64")
    return [LeanMinHash(m) for m in gen]  # lean: no permutation arrays to pickle


def _shingle_chunk(texts: Sequence[str], ngram: int, backend: str, num_perm: int, seed: int):
    """Worker job: (shingle CSR, datasketch signatures or None) of one chunk.

    rensa signatures are made by the caller: they cost less (~3 us per text) than
    pickling the objects back from a worker would (~8 us). datasketch ones cost ~200 us,
    so they are worth making here.
    """
    sh = shingles(hash_texts(texts), ngram)
    if backend == "rensa":
        return sh, None
    with no_gc():
        return sh, _datasketch_signatures(sh, num_perm, seed)


class _RensaLSH:
    def __init__(self, threshold: float, num_perm: int, bands: int, rows: int) -> None:
        from rensa import RMinHashLSH

        self._lsh = RMinHashLSH(threshold, num_perm, bands)

    def add_and_query(self, start: int, sigs: list) -> list[list[int]]:
        self._lsh.insert_many(sigs, start_key=start)
        return self._lsh.query_all(sigs)


class _DatasketchLSH:
    def __init__(self, threshold: float, num_perm: int, bands: int, rows: int) -> None:
        from datasketch import MinHashLSH

        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, params=(bands, rows))

    def add_and_query(self, start: int, sigs: list) -> list[list[int]]:
        with self._lsh.insertion_session() as session:
            for k, m in enumerate(sigs):
                session.insert(start + k, m, check_duplication=False)
        return [self._lsh.query(m) for m in sigs]


class _ShingleStore:
    """Shingle rows of every text seen so far, as Python sets on demand."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._parts: list[CSR] = []

    def add(self, start: int, part: CSR) -> None:
        self._starts.append(start)
        self._parts.append(part)

    def set_of(self, i: int) -> set[int]:
        k = bisect.bisect_right(self._starts, i) - 1
        return set(self._parts[k].row(i - self._starts[k]).tolist())


def jaccard_at_least(a: set, b: set, threshold: float) -> bool:
    """Exact Jaccard(a, b) >= threshold; two empty sets count as identical."""
    if not a and not b:
        return True
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    if len(small) < threshold * len(large):  # J <= |small| / |large|
        return False
    inter = len(small & large)
    return inter >= threshold * (len(a) + len(b) - inter)


def _first_match(i: int, earlier: list[int], store: _ShingleStore, threshold: float) -> tuple[int | None, int]:
    """(first j in `earlier` with exact Jaccard(i, j) >= threshold or None, pairs checked)."""
    if not earlier:
        return None, 0
    mine = store.set_of(i)
    for tries, j in enumerate(earlier, 1):
        if jaccard_at_least(mine, store.set_of(j), threshold):
            return j, tries
    return None, len(earlier)


def _near_duplicates(texts, threshold, backend, num_perm, b, r, ngram, seed, workers, stats):
    n = len(texts)
    dup: list[int | None] = [None] * n
    lsh = (_RensaLSH if backend == "rensa" else _DatasketchLSH)(threshold, num_perm, b, r)
    store = _ShingleStore()
    candidates = checked = 0
    w = resolve_workers(workers, n)
    chunks = map_chunks(_shingle_chunk, texts, workers=w, args=(ngram, backend, num_perm, seed))
    with no_gc():
        for start, (sh, sigs) in chunks:
            store.add(start, sh)
            if sigs is None:
                sigs = _rensa_signatures(sh, num_perm, seed)
            # Only earlier texts matter, and they are all indexed by now: query chunk by chunk.
            for k, found in enumerate(lsh.add_and_query(start, sigs)):
                i = start + k
                # Pointers go to kept texts only, the earliest one that verifies.
                kept = sorted(j for j in found if j < i and dup[j] is None)
                candidates += len(kept)
                dup[i], tries = _first_match(i, kept, store, threshold)
                checked += tries
    if stats is not None:
        stats.update(
            mode="minhash",
            backend=backend,
            bands=b,
            rows=r,
            num_perm=num_perm,
            ngram=ngram,
            workers=w,
            kept_candidates=candidates,
            checked=checked,
            duplicates=sum(x is not None for x in dup),
        )
    return dup


def lsh_collision_probability(jaccard: float, bands: int, rows: int) -> float:
    """P(a pair with this Jaccard shares at least one band) = 1 - (1 - J^r)^b."""
    return 1.0 - (1.0 - jaccard**rows) ** bands
