"""Benchmark decontamination: both rules, the stoplist, short references, the index."""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

import pytest

from flames.qc import NgramIndex, Stoplist, find_contamination, tokenize

# ------------------------------------------------------------------ reference implementation


def _grams(tokens: list[str], n: int) -> set:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def brute_force(texts, refs, n, min_share, min_df, min_short=3):
    """Plain-Python statement of the rule, for comparison with the vectorized one."""
    ref_tokens = [tokenize(r) for r in refs]
    ref_grams = []
    for t in ref_tokens:
        if len(t) < min_short:
            ref_grams.append(set())
        elif len(t) < n:
            ref_grams.append({tuple(t)})
        else:
            ref_grams.append(_grams(t, n))
    df = Counter()
    seen_texts = set()
    for t, g in zip(ref_tokens, ref_grams):
        if tuple(t) not in seen_texts:  # df over distinct reference texts
            seen_texts.add(tuple(t))
            df.update(g)
    counted = []
    for g in ref_grams:
        kept = {x for x in g if min_df is None or len(x) < n or df[x] < min_df}
        counted.append(kept if kept else g)
    out = []
    for text in texts:
        toks = tokenize(text)
        have = _grams(toks, n) | {tuple(toks[i : i + L]) for L in range(1, n) for i in range(len(toks) - L + 1)}
        best, best_share = None, -1.0
        for r, g in enumerate(counted):
            if not g:
                continue
            shared = len(g & have)
            need = max(1, -(-Fraction(str(min_share)) * len(g) // 1))  # exact ceil
            share = shared / len(g)
            if shared >= need and share > best_share:
                best, best_share = r, share
        out.append(best)
    return out


# ------------------------------------------------------------------ hand-built

_REF_LONG = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?"
)
_REF_SHORT = "Compute $\\dbinom{8}{4}$."
_REF_TINY = "Simplify $\\sqrt{12}$."  # 3 tokens: the smallest reference still checked
_FILLER = "A baker made 36 loaves on Monday and gave away a third of them to neighbours."


@pytest.mark.parametrize("mode", ["paper", "ngram13"])
def test_planted_copy_caught_in_both_modes(mode):
    refs = [_REF_SHORT, _REF_LONG, _REF_TINY]
    texts = [
        f"{_FILLER} {_REF_LONG} Then answer in words.",  # verbatim inside a longer problem
        f"{_FILLER}\n{_REF_LONG.upper().replace(',', ';').replace(' ', '  ')}",  # formatting edits
        _FILLER,
        "First, compute $\\dbinom{8}{4}$ and then add 3.",  # short reference, contained
        "Compute $\\dbinom{8}{5}$.",  # a different short problem
        "Simplify \\sqrt 12 apples",  # the tiny reference's tokens, contained
    ]
    assert find_contamination(texts, refs, mode) == [1, 1, None, 0, None, 2]
    # Two tokens are too few to call anything a copy: such references are not checked.
    assert find_contamination(["Simplify 12 apples"], ["Simplify 12."], mode) == [None]


def test_paper_rule_needs_95_percent_of_the_8grams():
    words = [f"w{i}" for i in range(107)]  # 100 8-grams
    ref = " ".join(words)
    cut_4 = " ".join(words[:-4])  # 96 of 100 8-grams
    cut_6 = " ".join(words[:-6])  # 94 of 100
    middle = " ".join(words[:50] + ["changed"] + words[51:])  # one edit kills 8 8-grams: 92%
    assert find_contamination([cut_4, cut_6, middle], [ref], "paper", stoplist=None) == [0, None, None]
    # The any-13-gram rule catches all three.
    assert find_contamination([cut_4, cut_6, middle], [ref], "ngram13", stoplist=None) == [0, 0, 0]


def test_best_reference_wins():
    long_ref = " ".join(f"w{i}" for i in range(40))
    prefix_ref = " ".join(f"w{i}" for i in range(20))
    text = long_ref + " extra words here"
    # Both are fully contained: equal share 1.0, so the lower index wins.
    assert find_contamination([text], [prefix_ref, long_ref], "paper") == [0]
    assert find_contamination([text], [long_ref, prefix_ref], "paper") == [0]
    partial = " ".join(f"w{i}" for i in range(38)) + " other"
    assert find_contamination([partial], [long_ref, prefix_ref], "paper") == [1]


def test_stoplist_ignores_boilerplate():
    boiler = "express the exact answer in interval notation restricting your attention to the interval"
    refs = [f"Solve the inequality number {i} with {i + 1} terms. {boiler}" for i in range(12)]
    text = f"Solve something new. {boiler}"
    assert find_contamination([text], refs, "ngram13", stoplist=None) == [0]
    assert find_contamination([text], refs, "ngram13") == [None]  # default: min_df=10
    assert find_contamination([text], refs, "ngram13", stoplist=Stoplist(min_df=13, phrases=())) == [0]
    assert find_contamination([text], refs, "ngram13", stoplist=Stoplist(min_df=None, phrases=(boiler,))) == [None]
    # A reference made only of boilerplate is still caught when copied whole.
    only = [boiler] * 12
    assert find_contamination([f"{_FILLER} {boiler}"], only, "ngram13") == [0]


def test_stoplist_counts_distinct_reference_texts():
    # 12 verbatim copies of one problem (like MATH500 inside MATH) are one text, not boilerplate.
    refs = [_REF_LONG] * 12
    assert find_contamination([_REF_LONG], refs, "ngram13") == [0]


def test_index_save_load_and_cache(tmp_path):
    refs = [_REF_SHORT, _REF_LONG, _REF_TINY]
    texts = [_REF_LONG, _FILLER, "compute \\dbinom{8}{4}"]
    built = NgramIndex.build(refs, 8)
    path = tmp_path / "idx.npz"
    built.save(path)
    loaded = NgramIndex.load(path)
    assert loaded.meta == built.meta and loaded.content_hash == built.content_hash
    assert find_contamination(texts, refs, index=loaded) == find_contamination(texts, refs) == [1, None, 0]
    cached = NgramIndex.cached(refs, 8, tmp_path / "cache")
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and cached.content_hash in files[0].name
    again = NgramIndex.cached(refs, 8, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == files and (again.keys == cached.keys).all()
    other = NgramIndex.cached(refs + ["Another test problem with enough words to index it."], 8, tmp_path / "cache")
    assert other.content_hash != cached.content_hash
    with pytest.raises(ValueError):
        find_contamination(texts, refs[:2], index=loaded)  # other references
    with pytest.raises(ValueError):
        find_contamination(texts, refs, "ngram13", index=loaded)  # other n


@pytest.mark.parametrize("mode", ["paper", "ngram13"])
def test_empty_inputs(mode):
    assert find_contamination([], [_REF_LONG], mode) == []
    assert find_contamination([_REF_LONG, ""], [], mode) == [None, None]
    assert find_contamination(["", "..."], ["", "?!"], mode) == [None, None]


def test_bad_mode():
    with pytest.raises(ValueError):
        find_contamination(["x"], ["y"], "ngram7")


# ------------------------------------------------------------------ real benchmarks


def _all_refs(benchmarks):
    refs, names = [], []
    for name, rows in benchmarks.items():
        refs += [r["problem"] for r in rows]
        names += [name] * len(rows)
    return refs, names


def _light_edit(text: str, rng: random.Random) -> str:
    """Formatting edits that keep the tokens: case, spacing, sentence punctuation, Unicode."""
    out = []
    for k, ch in enumerate(text):
        x = rng.random()
        if ch == " " and x < 0.1:
            out.append(rng.choice(["  ", "\n", "\u00a0"]))
        elif ch in ",." and x < 0.3 and text[k + 1 : k + 2] in ("", " "):
            out.append(rng.choice([";", ""]))
        elif ch == "-" and x < 0.3:
            out.append("\u2212")
        else:
            out.append(ch)
    s = "".join(out)
    return s.upper() if rng.random() < 0.3 else s


@pytest.fixture(scope="module")
def planted(seeds, benchmarks):
    rng = random.Random(3)
    refs, names = _all_refs(benchmarks)
    filler = [r["problem"] for r in seeds["gsm8k_train"][:400]]
    picks = rng.sample(range(len(refs)), 250)
    texts, truth = [], []
    for k, r in enumerate(picks):
        body = refs[r] if k % 2 else _light_edit(refs[r], rng)
        texts.append(f"{rng.choice(filler)} {body} {rng.choice(filler)}")
        truth.append(r)
    return refs, texts, truth


@pytest.mark.parametrize("mode", ["paper", "ngram13"])
def test_planted_benchmark_copies_are_caught(planted, mode):
    refs, texts, truth = planted
    found = find_contamination(texts, refs, mode)
    caught = [f is not None for f in found]
    assert sum(caught) / len(texts) >= 0.99
    # Attributed to the planted reference, or to one whose text is the same problem.
    same = sum(f is not None and tokenize(refs[f]) == tokenize(refs[t]) or f == t for f, t in zip(found, truth))
    assert same / len(texts) >= 0.97


@pytest.mark.parametrize("mode, n, share", [("paper", 8, 0.95), ("ngram13", 13, 0.0)])
def test_matches_brute_force(planted, seeds, mode, n, share):
    refs, texts, truth = planted
    rng = random.Random(5)
    # The planted references plus 700 others: keeps the Python statement of the rule fast.
    keep = sorted(set(truth[:80]) | set(rng.sample(range(len(refs)), 700)))
    refs = [refs[i] for i in keep]
    clean = [r["problem"] for r in rng.sample(seeds["math_train"], 80)]
    sample = texts[:80] + clean
    stop = Stoplist(min_df=3, phrases=())  # low cutoff: the stoplist must matter here
    assert find_contamination(sample, refs, mode, stoplist=stop) == brute_force(sample, refs, n, share, 3)


def test_gsm8k_train_against_gsm8k_test(seeds, benchmarks):
    """Unrelated real problems are (almost) never flagged; print what is, and why."""
    train = [r["problem"] for r in seeds["gsm8k_train"]]
    test = [r["problem"] for r in benchmarks["gsm8k_test"]]
    report = {}
    for mode in ("paper", "ngram13"):
        found = find_contamination(train, test, mode)
        hits = [(i, r) for i, r in enumerate(found) if r is not None]
        report[mode] = hits
        for i, r in hits:
            shared = _grams(tokenize(train[i]), 13) & _grams(tokenize(test[r]), 13)
            print(f"{mode}: train {i} ~ test {r}: {len(shared)} shared 13-grams, e.g. {' '.join(sorted(shared)[0])!r}")
    assert len(report["paper"]) / len(train) < 0.001
    assert len(report["ngram13"]) / len(train) < 0.005


@pytest.mark.slow
def test_math_train_against_all_benchmarks(seeds, benchmarks):
    """Report-only scale check: MATH train vs every benchmark, both rules."""
    refs, names = _all_refs(benchmarks)
    train = [r["problem"] for r in seeds["math_train"]]
    for mode in ("paper", "ngram13"):
        found = find_contamination(train, refs, mode)
        by = Counter(names[r] for r in found if r is not None)
        print(mode, sum(by.values()), dict(by))
        assert sum(by.values()) / len(train) < (0.01 if mode == "paper" else 0.2)


def test_workers_give_the_same_answer(planted):
    refs, texts, _ = planted
    many = texts * 8
    assert find_contamination(many, refs, workers=2) == find_contamination(many, refs, workers=1)


@pytest.mark.parametrize("mode", ["paper", "near_copy", "ngram13"])
def test_prebuilt_indexes_give_the_same_answer(planted, mode):
    """What synthesize's gate does: build the suite's indexes once, scan batch after batch."""
    from flames.qc.decontam import contamination_indexes

    refs, texts, _ = planted
    index, anchors = contamination_indexes(refs, mode)
    assert (anchors is not None) == (mode == "near_copy")
    batches = [find_contamination(texts[i:i + 50], refs, mode, index=index, anchors=anchors)
               for i in range(0, len(texts), 50)]
    assert sum(batches, []) == find_contamination(texts, refs, mode)
    with pytest.raises(ValueError, match="other references"):
        find_contamination(texts[:2], refs[:-1], mode, index=index)
