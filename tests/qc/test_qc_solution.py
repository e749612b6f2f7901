"""Solution-level QC strategies."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flames.qc import STRATEGIES, Decision, cluster_answers, fits_context, select, subsample_fixed_size


def _value(a: str) -> Fraction | str:
    """Tiny stand-in for flames.grading: numbers, a/b and \\frac{a}{b} compare by value."""
    s = a.strip().replace("\\dfrac", "\\frac")
    if s.startswith("\\frac{") and s.endswith("}"):
        num, den = s[len("\\frac{") : -1].split("}{")
        return Fraction(int(num), int(den))
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return s


def simple_equivalent(a: str, b: str) -> bool:
    return _value(a) == _value(b)


def sel(strategy, answers):
    return select(strategy, answers, equivalent=simple_equivalent)


# ------------------------------------------------------------------ hand-built cases


def test_first_keeps_solution_zero_even_unparseable():
    assert sel("first", [None, "3", "3"]) == Decision(True, 0, None, {})
    assert sel("first", ["1", "2", "3"]).index == 0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_no_samples_is_dropped(strategy):
    assert sel(strategy, []) == Decision(False, None, "no_samples", {})


def test_majority_two_of_three_keeps_first_member():
    d = sel("majority", ["4", "7", "7"])
    assert d == Decision(True, 1, None, {"4": 1, "7": 2})


@pytest.mark.parametrize("answers", [["1", "1", "2", "2"], ["1", "2", "3"], ["1", "2", None, None], ["5", None]])
def test_majority_ties_and_pluralities_are_not_majorities(answers):
    d = sel("majority", answers)
    assert not d.keep and d.index is None and d.reason == "no_majority"
    m = sel("majority_first", answers)
    assert m.keep and m.index == 0


def test_majority_counts_unparseable_samples_in_n():
    assert not sel("majority", ["2", "2", None, None]).keep  # 2 of 4 is not > 2
    assert sel("majority", ["2", "2", None]).index == 0  # 2 of 3 is


@pytest.mark.parametrize("strategy", ["majority", "strict"])
def test_no_parseable_answer(strategy):
    d = sel(strategy, [None, None, None])
    assert d == Decision(False, None, "no_answer", {})


def test_majority_first_without_any_answer_keeps_first():
    assert sel("majority_first", [None, None, None]) == Decision(True, 0, None, {})


@pytest.mark.parametrize(
    "strategy, keep, index",
    [("first", True, 0), ("majority", True, 0), ("majority_first", True, 0), ("strict", True, 0)],
)
def test_single_sample_with_answer(strategy, keep, index):
    d = sel(strategy, ["12"])
    assert (d.keep, d.index) == (keep, index)


@pytest.mark.parametrize(
    "strategy, keep", [("first", True), ("majority", False), ("majority_first", True), ("strict", False)]
)
def test_single_unparseable_sample(strategy, keep):
    assert sel(strategy, [None]).keep is keep


def test_all_different():
    answers = ["1", "2", "3"]
    assert sel("majority", answers).reason == "no_majority"
    assert sel("strict", answers).reason == "disagreement"
    assert sel("majority_first", answers).index == 0
    assert sel("strict", answers).votes == {"1": 1, "2": 1, "3": 1}


def test_equivalent_spellings_agree():
    answers = ["0.5", "\\frac{1}{2}", "1/2"]
    d = sel("strict", answers)
    assert d.keep and d.index == 0 and d.votes == {"0.5": 3}
    d = sel("majority", ["3", "\\frac{1}{2}", "0.5"])
    assert d.keep and d.index == 1 and d.votes == {"3": 1, "\\frac{1}{2}": 2}


def test_strict_reasons():
    assert sel("strict", ["1", "1", None]).reason == "unparseable"
    assert sel("strict", ["1", "2", "1"]).reason == "disagreement"
    assert sel("strict", ["1", "1", "1"]).keep


def test_equal_keys_skip_the_equivalence_call():
    calls = []

    def counting(a, b):
        calls.append((a, b))
        return simple_equivalent(a, b)

    d = select("majority", [" 7", "7 ", "7", "8"], equivalent=counting)
    assert d.keep and d.votes == {" 7": 3, "8": 1}
    assert len(calls) <= 2  # one pair of distinct keys, tried both ways at most


def test_clusters_in_order_of_first_appearance():
    assert cluster_answers(["2", None, "1", "2.0", "1"], simple_equivalent) == [[0, 3], [2, 4]]


def test_unknown_strategy():
    with pytest.raises(ValueError):
        sel("best_of_n", ["1"])


def test_fits_context():
    assert fits_context(100, 900, 1000) and not fits_context(101, 900, 1000)


# ------------------------------------------------------------------ properties

answer_lists = st.lists(
    st.one_of(st.none(), st.sampled_from(["1", "2", "3", "0.5", "\\frac{1}{2}", "2.0"])), max_size=7
)


@settings(max_examples=500, deadline=None)
@given(st.lists(answer_lists, max_size=20))
def test_kept_counts_are_ordered(pool):
    kept = {s: sum(sel(s, answers).keep for answers in pool) for s in STRATEGIES}
    assert kept["first"] == kept["majority_first"] >= kept["majority"] >= kept["strict"]


@settings(max_examples=500, deadline=None)
@given(answer_lists)
def test_decisions_match_a_counter_oracle(answers):
    n = len(answers)
    values = [None if a is None else _value(a) for a in answers]
    counts = Counter(v for v in values if v is not None)
    top, top_count = counts.most_common(1)[0] if counts else (None, 0)
    majority = 2 * top_count > n
    first_of_top = values.index(top) if majority else None

    d = sel("majority", answers)
    assert d.keep == majority and d.index == first_of_top
    assert sum(d.votes.values()) == sum(v is not None for v in values)
    assert sel("majority_first", answers).index == (first_of_top if majority else (0 if n else None))
    strict = n > 0 and None not in values and len(counts) == 1
    assert sel("strict", answers).keep == strict
    for s in STRATEGIES:  # a kept decision names a solution, a dropped one a reason
        d = sel(s, answers)
        assert (d.index is not None and d.reason is None) if d.keep else (d.index is None and d.reason)


# ------------------------------------------------------------------ real equivalence


def test_default_equivalence_is_flames_grading():
    d = select("strict", ["0.5", "\\frac{1}{2}", "\\dfrac12"])
    assert d.keep and d.votes == {"0.5": 3}
    d = select("majority", ["1,080", "1080", "108"])
    assert d.keep and d.index == 0
    assert select("strict", ["2", "3", "2"]).reason == "disagreement"


# ------------------------------------------------------------------ fixed-size subsample


def test_subsample_is_deterministic_ordered_and_nested():
    pool = list(range(100))
    a = subsample_fixed_size(pool, 30, seed=1)
    assert a == subsample_fixed_size(pool, 30, seed=1)
    assert a == sorted(a) and len(set(a)) == 30
    assert a != subsample_fixed_size(pool, 30, seed=2)
    assert set(subsample_fixed_size(pool, 10, seed=1)) <= set(a)
    assert subsample_fixed_size(pool, 0, seed=1) == [] and subsample_fixed_size(pool, 100, seed=1) == pool
    with pytest.raises(ValueError):
        subsample_fixed_size(pool, 101, seed=1)


def test_subsample_by_key_aligns_strategies():
    """With a key, the same problems are chosen from overlapping pools."""
    strict_pool = [{"id": f"p{i}"} for i in range(0, 1000, 3)]
    majority_pool = [{"id": f"p{i}"} for i in range(1000) if i % 3 == 0 or i % 5 == 0]
    key = lambda r: r["id"]  # noqa: E731
    a = {r["id"] for r in subsample_fixed_size(strict_pool, 100, seed=0, key=key)}
    b = {r["id"] for r in subsample_fixed_size(majority_pool, 100, seed=0, key=key)}
    strict_ids = {r["id"] for r in strict_pool}
    # Every strict problem that made the majority subsample also made the strict one.
    assert (b & strict_ids) <= a
