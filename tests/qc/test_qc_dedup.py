"""Exact and near-duplicate detection."""

from __future__ import annotations

import random
from collections import defaultdict
from itertools import combinations

import pytest

from flames.qc import find_duplicates, lsh_params, tokenize
from flames.qc.dedup import lsh_collision_probability, resolve_backend

BACKENDS = ["datasketch", "rensa"]


def _backend(name):
    if name == "rensa":
        pytest.importorskip("rensa")
    return name


# ------------------------------------------------------------------ exact


def test_exact_points_to_first_occurrence():
    texts = ["What is 2+2?", "what is 2+2", "What is 2+3?", "  WHAT IS 2+2 ?!", "What is 2+3"]
    assert find_duplicates(texts) == [None, 0, None, 0, 2]


def test_exact_keeps_problems_differing_in_a_digit_or_operator():
    texts = ["Compute $3+4$.", "Compute $3-4$.", "Compute $3+5$.", "Compute $34$."]
    assert find_duplicates(texts) == [None] * 4


def test_exact_empty_input():
    assert find_duplicates([]) == []
    assert find_duplicates([], 0.8, backend="datasketch") == []


# ------------------------------------------------------------------ parameters


def test_lsh_params_default_is_16x8_at_0_8():
    assert lsh_params(0.8, 128) == (16, 8)


@pytest.mark.parametrize("t", [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95])
@pytest.mark.parametrize("num_perm", [64, 128, 256])
def test_lsh_params_keep_recall_at_threshold(t, num_perm):
    b, r = lsh_params(t, num_perm)
    assert b * r == num_perm
    assert lsh_collision_probability(t, b, r) >= 0.9
    # ...and no longer band would still reach it (the fewest false candidates).
    longer = [x for x in range(r + 1, num_perm + 1) if num_perm % x == 0]
    assert all(lsh_collision_probability(t, num_perm // x, x) < 0.9 for x in longer)


def test_lsh_params_explicit_and_invalid():
    assert lsh_params(0.8, 128, bands=32) == (32, 4)
    assert lsh_params(0.8, 128, rows=16) == (8, 16)
    with pytest.raises(ValueError):
        lsh_params(0.8, 128, bands=10, rows=10)
    with pytest.raises(ValueError):
        lsh_params(0.8, 128, bands=3)
    with pytest.raises(ValueError):
        find_duplicates(["a"], 1.5)
    with pytest.raises(ValueError):
        find_duplicates(["a"], 0.8, backend="simhash")


def test_auto_backend_prefers_rensa():
    pytest.importorskip("rensa")
    assert resolve_backend("auto") == "rensa"


# ------------------------------------------------------------------ near-dup, hand-built

_BASE = (
    "A farmer has 17 cows and buys 5 more each week for 3 weeks. Each cow gives 12 liters of milk a day. "
    "He sells the milk at 2 dollars a liter and keeps 10 liters for his family. How many dollars does he "
    "make on the last day of the third week?"
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_near_dup_hand_built(backend):
    backend = _backend(backend)
    words = _BASE.split()
    one_edit = " ".join(words[:-3] + ["fourth"] + words[-2:])  # J ~ 0.9
    many_edits = " ".join(w if i % 4 else "zebra" for i, w in enumerate(words))  # J ~ 0
    other = "Simplify $\\frac{12}{18}$ and express the answer as a common fraction in lowest terms please."
    texts = [_BASE, other, one_edit, _BASE.upper(), many_edits, ""]
    dup = find_duplicates(texts, 0.8, backend=backend)
    assert dup == [None, None, 0, 0, None, None]


@pytest.mark.parametrize("backend", BACKENDS)
def test_near_dup_pointer_targets_a_kept_text(backend):
    """A ~ B ~ C but A !~ C: B goes (dup of A); C stays unless it matches A itself."""
    backend = _backend(backend)
    words = [f"w{i}" for i in range(60)]
    a = words
    b = words[:55] + ["x1", "x2", "x3", "x4", "x5"]  # J(a, b) = 50/60 ~ 0.83 (5-grams)
    c = words[:50] + ["x1", "x2", "x3", "x4", "x5"] + ["y1", "y2", "y3", "y4", "y5"]
    texts = [" ".join(t) for t in (a, b, c)]
    dup = find_duplicates(texts, 0.8, backend=backend)
    assert dup[0] is None and dup[1] == 0
    assert dup[2] is None  # C's only near-dup (B) was removed; J(A, C) < 0.8
    assert all(d is None or dup[d] is None for d in dup)


@pytest.mark.parametrize("backend", BACKENDS)
def test_near_dup_short_texts_and_empties(backend):
    backend = _backend(backend)
    texts = ["Find x", "find X!", "Find y", "", "...", "Compute 2+2"]
    # Shorter than a 5-gram: one whole-text shingle, so only identical token runs match;
    # texts without any token are duplicates of the first such text.
    assert find_duplicates(texts, 0.8, backend=backend) == [None, 0, None, None, 3, None]


def test_stats_are_reported():
    stats = {}
    find_duplicates([_BASE, _BASE + " Answer in dollars."], 0.8, backend="datasketch", stats=stats)
    assert stats["bands"] == 16 and stats["rows"] == 8 and stats["duplicates"] == 1
    assert stats["checked"] >= 1 and stats["kept_candidates"] >= stats["checked"]


# ------------------------------------------------------------------ near-dup, real seeds


def _shingle_set(text: str, n: int = 5) -> frozenset:
    t = tokenize(text)
    if len(t) < n:
        return frozenset([tuple(t)]) if t else frozenset()
    return frozenset(tuple(t[i : i + n]) for i in range(len(t) - n + 1))


def _jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _edit(text: str, k: int, rng: random.Random, vocab: list[str]) -> str:
    words = text.split(" ")
    for _ in range(k):
        i = rng.randrange(len(words))
        op = rng.random()
        if op < 0.5:
            words[i] = rng.choice(vocab)
        elif op < 0.75 and len(words) > 3:
            del words[i]
        else:
            words.insert(i, rng.choice(vocab))
    return " ".join(words)


@pytest.fixture(scope="module")
def near_dup_fixture(seeds):
    """2,000 real seed problems + 900 edited copies (0-5 word edits), shuffled, with
    every pair of true Jaccard >= 0.8 found by brute force over shared shingles."""
    rng = random.Random(7)
    base = [r["problem"] for r in seeds["gsm8k_train"][:1000] + seeds["math_train"][:1000]]
    vocab = sorted({w for t in base[:300] for w in t.split() if w.isalpha()})
    texts = base + [_edit(rng.choice(base), rng.choice([0, 1, 1, 2, 2, 3, 5]), rng, vocab) for _ in range(900)]
    rng.shuffle(texts)
    sets = [_shingle_set(t) for t in texts]
    postings = defaultdict(list)
    for i, s in enumerate(sets):
        for g in s:
            postings[g].append(i)
    candidates = {(a, b) for ids in postings.values() if len(ids) < 50 for a, b in combinations(ids, 2)}
    true_pairs = {(a, b) for a, b in candidates if _jaccard(sets[a], sets[b]) >= 0.8}
    return texts, sets, true_pairs


@pytest.mark.parametrize("backend", BACKENDS)
def test_near_dup_recall_and_precision_on_real_seeds(near_dup_fixture, backend):
    backend = _backend(backend)
    texts, sets, true_pairs = near_dup_fixture
    assert len(true_pairs) > 250  # the fixture really has near-duplicates to find
    dup = find_duplicates(texts, 0.8, backend=backend)
    reported = [(i, j) for i, j in enumerate(dup) if j is not None]
    # A true pair is resolved unless both of its texts survive.
    recall = sum(dup[a] is not None or dup[b] is not None for a, b in true_pairs) / len(true_pairs)
    precision = sum(_jaccard(sets[i], sets[j]) >= 0.8 for i, j in reported) / len(reported)
    print(
        f"{backend}: recall {recall:.4f} precision {precision:.4f} "
        f"({len(reported)} reported, {len(true_pairs)} true pairs)"
    )
    assert recall >= 0.93 and precision >= 0.93
    # Greedy invariants: pointers go backwards to kept texts.
    assert all(j < i and dup[j] is None for i, j in reported)


def test_backends_agree_on_real_seeds(near_dup_fixture):
    pytest.importorskip("rensa")
    texts, _, _ = near_dup_fixture
    a = find_duplicates(texts, 0.8, backend="datasketch")
    b = find_duplicates(texts, 0.8, backend="rensa")
    agree = sum((x is None) == (y is None) for x, y in zip(a, b)) / len(texts)
    assert agree >= 0.99


def test_worker_processes_give_the_same_answer(near_dup_fixture):
    texts, _, _ = near_dup_fixture
    backend = resolve_backend("auto")
    assert find_duplicates(texts, 0.8, backend=backend, workers=2) == find_duplicates(
        texts, 0.8, backend=backend, workers=1
    )
