"""Normalization, tokenization and hashed n-grams."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flames.qc import normalize_text, tokenize
from flames.qc.shingles import hash_texts, shingles, token_hash, whole_hash, windows


@pytest.mark.parametrize(
    "a, b",
    [
        ("How many apples?", "how   many\napples"),  # case, whitespace, end punctuation
        ("Ｆｉｎｄ　１２.", "find 12"),  # full-width letters, digits and space (NFKC)
        ('"Quoted problem."', "quoted problem"),
        ("Compute $\\frac{1}{2}$.", "compute $\\frac{1}{2}$"),
    ],
)
def test_normalize_text_merges_formatting_variants(a, b):
    assert normalize_text(a) == normalize_text(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("x + 1 = 2", "x - 1 = 2"),  # operators are content
        ("Compute $\\frac{1}{2}$", "Compute $\\frac{1}{3}$"),  # digits inside LaTeX
        ("Find 12", "Find 1 2"),  # spacing inside a number
        ("Find $x$", "Find $x"),  # a dollar is LaTeX, not end punctuation
    ],
)
def test_normalize_text_keeps_content(a, b):
    assert normalize_text(a) != normalize_text(b)


def test_tokenize_keeps_latex_digits_and_operators():
    assert tokenize("Janet’s 16 eggs: $\\frac{1}{2} × 3 − x=5$!") == [
        "janet",
        "s",
        "16",
        "eggs",
        "\\frac",
        "1",
        "2",
        "*",
        "3",
        "-",
        "x",
        "=",
        "5",
    ]


def _naive_hashes(text: str) -> list[int]:
    return [token_hash(t) for t in tokenize(text)]


_ALPHABET = "aZ9 \\+-*/=<>^_$.,{}()\nπé×−ＦＵ１²ßİ"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=_ALPHABET, max_size=30), max_size=6))
def test_vectorized_token_hashes_match_tokenize(texts):
    csr = hash_texts(texts)
    assert len(csr) == len(texts)
    for i, text in enumerate(texts):
        assert csr.row(i).tolist() == _naive_hashes(text)


def test_vectorized_token_hashes_match_on_real_problems(seeds, benchmarks):
    texts = [r["problem"] for r in seeds["math_train"][:1500]] + [
        r["problem"] for r in benchmarks["college_math_test"][:500]
    ]
    csr = hash_texts(texts)
    assert all(csr.row(i).tolist() == _naive_hashes(t) for i, t in enumerate(texts))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdefg"), max_size=12), max_size=8), st.integers(1, 7))
def test_windows_and_shingles_match_a_naive_definition(docs, n):
    texts = [" ".join(d) for d in docs]
    tokens = hash_texts(texts)

    def gram(seq):
        return whole_hash(np.array([token_hash(t) for t in seq], np.uint64))

    h, doc = windows(tokens, [n])[n]
    expected = [(i, gram(d[j : j + n])) for i, d in enumerate(docs) for j in range(len(d) - n + 1)]
    assert list(zip(doc.tolist(), h.tolist())) == expected
    sh = shingles(tokens, n)
    for i, d in enumerate(docs):
        want = [gram(d[j : j + n]) for j in range(len(d) - n + 1)] if len(d) >= n else ([gram(d)] if d else [])
        assert sh.row(i).tolist() == want


def test_window_hash_depends_on_order_and_length():
    tokens = hash_texts(["a b c", "c b a", "a b"])
    h3 = windows(tokens, [3])[3][0]
    assert h3[0] != h3[1]
    h2 = windows(tokens, [2])[2]
    assert h2[0][h2[1] == 2][0] not in set(h3.tolist())
