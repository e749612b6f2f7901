"""flames.stats on hand-built and simulated verdicts: pass@k's closed form, maj@k's votes, interval coverage,
paired tests; the closed forms and the bootstrap checked against scipy.stats (a test-only dependency)."""

import math
import random

import numpy as np
import pytest

from flames.stats import Settings, bootstrap, majority_vote, mcnemar_exact, paired_comparison, pass_at_k, wilson


@pytest.mark.parametrize("n,c,k", [(4, 0, 4), (4, 1, 4), (10, 3, 1), (10, 3, 2), (10, 3, 5), (10, 8, 5), (20, 5, 7)])
def test_pass_at_k_is_the_closed_form(n, c, k):
    # P(all k drawn without replacement are wrong) = prod_{i<k} (n-c-i)/(n-i), computed another way
    all_wrong = math.prod((n - c - i) / (n - i) for i in range(k)) if n - c >= k else 0.0
    assert pass_at_k(n, c, k) == pytest.approx(1 - all_wrong)


def test_pass_at_k_edges_and_monte_carlo():
    assert pass_at_k(5, 0, 3) == 0.0 and pass_at_k(5, 5, 1) == 1.0 and pass_at_k(5, 2, 1) == pytest.approx(0.4)
    rng = random.Random(0)
    draws = [any(rng.sample([1] * 3 + [0] * 7, 4)) for _ in range(20000)]
    assert sum(draws) / len(draws) == pytest.approx(pass_at_k(10, 3, 4), abs=0.01)
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 2)


def same_number(a, b):
    return float(eval(a)) == float(eval(b))  # a stand-in for the grader's equivalence: 3/6 == 0.5


def test_majority_vote_groups_by_equivalence_not_string():
    assert majority_vote(["1", "0.5", "2", "1/2"], same_number) == 1  # 0.5 and 1/2: two votes
    assert majority_vote(["1", "0.5", "2", "1/2"], lambda a, b: a == b) == 0  # by string: a 1-1-1-1 tie


def test_majority_vote_ties_and_unparseable():
    assert majority_vote(["2", "1", "1", "2"], same_number) == 0  # a tie: the group that came first
    assert majority_vote(["1", "2", "2", "1"], same_number) == 0
    assert majority_vote([None, None, "3", "4", "4"], same_number) == 3  # None never votes
    assert majority_vote([None, "3", None, None], same_number) == 1  # one vote beats three unparseable
    assert majority_vote([None, None], same_number) is None
    assert majority_vote([], same_number) is None


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_n():
    rng = np.random.default_rng(1)
    small, large = rng.random(50) < 0.6, rng.random(5000) < 0.6
    a, b = bootstrap(small.astype(float)), bootstrap(large.astype(float))
    assert a.low <= a.estimate <= a.high and b.low <= b.estimate <= b.high
    assert (b.high - b.low) < (a.high - a.low) / 5
    assert b.stderr == pytest.approx(math.sqrt(0.6 * 0.4 / 5000), rel=0.15)  # the binomial standard error
    assert bootstrap(small.astype(float)) == a  # the same seed: the same interval
    assert bootstrap([1.0] * 10) == bootstrap([1.0] * 10) and bootstrap([1.0] * 10).low == 1.0


def test_bootstrap_interval_covers_the_true_rate_about_95_percent_of_the_time():
    """Calibration: 400 simulated benchmarks of 300 items at a true rate of 0.7, one interval each."""
    rng, p, covered = np.random.default_rng(2024), 0.7, 0
    trials = 400
    for t in range(trials):
        verdicts = (rng.random(300) < p).astype(float)
        ci = bootstrap(verdicts, settings=Settings(resamples=500, seed=t))
        covered += ci.low <= p <= ci.high
    assert 0.92 <= covered / trials <= 0.98, covered / trials


def test_bootstrap_over_samples_covers_too_and_is_wider_than_over_items_alone():
    """Items have their own difficulty q_i; k = 4 samples each. The target is the mean of the q_i's population."""
    rng, covered, trials, k = np.random.default_rng(7), 0, 300, 4
    wider = 0
    for t in range(trials):
        q = rng.beta(2, 2, size=200)  # population mean 0.5
        c = rng.binomial(k, q)
        two_level = bootstrap(c / k, [k] * 200, Settings(resamples=400, seed=t))
        items_only = bootstrap(c / k, settings=Settings(resamples=400, seed=t))
        covered += two_level.low <= 0.5 <= two_level.high
        wider += (two_level.high - two_level.low) > (items_only.high - items_only.low)
    assert 0.92 <= covered / trials <= 0.99, covered / trials
    assert wider / trials > 0.8


def test_mcnemar_exact_matches_the_binomial_test():
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)  # all five discordant pairs one way
    assert mcnemar_exact(2, 8) == pytest.approx(2 * (1 + 10 + 45) / 1024)
    assert mcnemar_exact(8, 2) == mcnemar_exact(2, 8)


def planted(n=1000, p=0.55, gap=0.10, seed=0):
    """Two systems on the same items: b is a with gap*n of a's right answers turned wrong, plus noise both ways."""
    rng = random.Random(seed)
    a = [float(rng.random() < p) for _ in range(n)]
    b = list(a)
    right = [i for i, v in enumerate(a) if v]
    for i in rng.sample(right, int(gap * n) + 30):
        b[i] = 0.0
    wrong = [i for i, v in enumerate(a) if not v]
    for i in rng.sample(wrong, 30):
        b[i] = 1.0
    return {str(i): v for i, v in enumerate(a)}, {str(i): v for i, v in enumerate(b)}


def test_identical_evaluations_are_not_different():
    a, _ = planted()
    r = paired_comparison(a, dict(a))
    assert r["diff"] == 0.0 and r["diff_ci_low"] == 0.0 == r["diff_ci_high"] and r["p_value"] == 1.0
    assert r["test"] == "mcnemar_exact" and r["n"] == 1000


def test_a_planted_ten_point_difference_on_1000_items_is_significant():
    a, b = planted()
    r = paired_comparison(a, b)
    assert r["diff"] == pytest.approx(10.0) and r["a_only"] == 130 and r["b_only"] == 30
    assert r["diff_ci_low"] < 10.0 < r["diff_ci_high"] and r["diff_ci_low"] > 0
    assert r["p_value"] < 1e-6
    reverse = paired_comparison(b, a)
    assert reverse["diff"] == -10.0 and reverse["p_value"] == r["p_value"]


def test_paired_comparison_uses_only_common_items_and_bootstraps_fractions():
    a = {"x": 1.0, "y": 0.5, "z": 0.25, "only_a": 1.0}
    b = {"x": 0.75, "y": 0.5, "z": 0.0}
    r = paired_comparison(a, b)
    assert r["n"] == 3 and r["test"] == "paired_bootstrap" and r["diff"] == pytest.approx(100 * 0.5 / 3, abs=0.01)
    with pytest.raises(ValueError):
        paired_comparison({"x": 1.0}, {"y": 1.0})


def test_mean_of_independent_rates_matches_a_joint_bootstrap():
    from flames.stats import mean_of_independent

    rng = np.random.default_rng(3)
    sets = [(rng.random(n) < p).astype(float) for n, p in ((400, 0.8), (300, 0.5), (200, 0.2))]
    each = [bootstrap(s) for s in sets]
    avg = mean_of_independent([c.estimate for c in each], [c.stderr for c in each])
    joint = np.mean([s[rng.integers(0, s.size, (2000, s.size))].mean(axis=1) for s in sets], axis=0)
    assert avg.estimate == pytest.approx(np.mean([s.mean() for s in sets]))
    assert avg.stderr == pytest.approx(joint.std(), rel=0.1)
    assert avg.low < avg.estimate < avg.high


def test_wilson_interval_is_not_degenerate_at_0_and_100_percent():
    """0 of 24 right is not certainly 0%: the bootstrap's [0, 0]; Wilson's reaches past 10% (13.8% at 95%)."""
    none, every = wilson(0, 24), wilson(24, 24)
    assert none.estimate == 0.0 and none.low == 0.0 and 0.10 < none.high < 0.15
    assert every.estimate == 1.0 and every.high == 1.0 and 0.85 < every.low < 0.90
    assert bootstrap([0.0] * 24).high == 0.0  # what the accuracy printed before
    assert none.percent("accuracy") == {"accuracy": 0.0, "accuracy_stderr": 0.0, "accuracy_ci_low": 0.0,
                                        "accuracy_ci_high": 13.8}
    half = wilson(12, 24)
    assert half.low < 0.5 < half.high and half.stderr == pytest.approx(math.sqrt(0.25 / 24))
    assert wilson(0, 24, 0.99).high > none.high > wilson(0, 24, 0.5).high  # wider at a higher level
    for bad in ((1, 0), (-1, 5), (6, 5)):
        with pytest.raises(ValueError):
            wilson(*bad)


def test_none_right_prints_an_interval_not_a_point():
    """The issue's case: 0 of 24 right (greedy, and 0 of 2 samples each) printed `0.0 [0.0, 0.0]`. Accuracy,
    maj@k and pass@k (0/1 per item) now carry Wilson's interval, and the printed tables name each method."""
    from flames.evaluate import greedy_metrics, sampled_metrics
    from flames.report import eval_table

    wrong = {"correct": False, "pred": None, "timed_out": False, "benchmark": "gsm8k"}
    m = greedy_metrics([wrong] * 24, Settings())
    items = {str(i): [{**wrong, "item_id": str(i), "sample": j} for j in range(2)] for i in range(24)}
    m.update(sampled_metrics(items, {f"gsm8k/{i}": False for i in items}, Settings()))
    for rate in ("accuracy", "maj_at_k", "pass_at_k"):
        assert m[f"{rate}_ci_low"] == 0.0 and m[f"{rate}_ci_high"] == 13.8 > 10, rate
    table = eval_table({"gsm8k": m})
    assert table.count("[0.0, 13.8]") == 3  # accuracy's column, maj@2's and pass@2's
    assert "95% Wilson CI" in table and "avg@2 % (95% bootstrap CI)" in table
    assert "maj@2 % (95% Wilson CI)" in table and "pass@2 % (95% Wilson CI)" in table


def _wilson_grid():
    for n in (1, 2, 5, 24, 100, 1000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n} & set(range(n + 1))):
            for c in (0.5, 0.8, 0.9, 0.95, 0.99):
                yield k, n, c


@pytest.mark.parametrize("k,n,c", list(_wilson_grid()))
def test_wilson_equals_scipy_binomtest(k, n, c):
    from scipy.stats import binomtest

    ours = wilson(k, n, c)
    ref = binomtest(k, n).proportion_ci(confidence_level=c, method="wilson")
    assert ours.low == pytest.approx(ref.low, abs=1e-9) and ours.high == pytest.approx(ref.high, abs=1e-9)
    assert ours.estimate == k / n


def test_wilson_covers_the_true_rate_about_95_percent_of_the_time():
    """Exact coverage (the binomial probability of the k whose interval holds p), no simulation."""
    from scipy.stats import binom

    for n, p in ((300, 0.7), (300, 0.5), (100, 0.9), (1000, 0.05)):
        ks = np.arange(n + 1)
        covered = np.array([wilson(int(k), n).low <= p <= wilson(int(k), n).high for k in ks])
        coverage = binom.pmf(ks, n, p)[covered].sum()
        assert 0.93 <= coverage <= 0.97, (n, p, coverage)


def test_bootstrap_agrees_with_scipy_bootstrap_on_fractional_scores():
    """pass@k-like scores (a fraction per item) of 300 items: the same percentile interval as scipy's, within
    Monte Carlo error (20000 resamples each: a bound's own error is about 0.0005, and 90% instead of 95% moves it
    by 0.005), fixed seeds."""
    from scipy.stats import bootstrap as scipy_bootstrap

    rng = np.random.default_rng(11)
    for k, q in ((4, 0.3), (8, 0.6), (16, 0.95)):
        x = rng.binomial(k, rng.beta(8 * q, 8 * (1 - q), size=300)) / k
        ours = bootstrap(x, settings=Settings(resamples=20000, seed=5))
        ref = scipy_bootstrap((x,), np.mean, method="percentile", confidence_level=0.95, n_resamples=20000,
                              random_state=np.random.default_rng(6))
        assert ours.low == pytest.approx(ref.confidence_interval.low, abs=0.0025)
        assert ours.high == pytest.approx(ref.confidence_interval.high, abs=0.0025)
        assert ours.stderr == pytest.approx(ref.standard_error, rel=0.05)


def test_paired_interval_agrees_with_scipy_paired_bootstrap():
    """The paired percentile interval of the mean difference, fractional (avg-of-k) and 0/1 scores alike."""
    from scipy.stats import bootstrap as scipy_bootstrap

    rng = np.random.default_rng(12)
    q = rng.beta(2, 2, size=300)
    fractional = (rng.binomial(4, q) / 4, rng.binomial(4, np.clip(q - 0.1, 0, 1)) / 4)
    a, b = planted(n=300, seed=3)
    binary = (np.array(list(a.values())), np.array(list(b.values())))
    for x, y in (fractional, binary):
        ours = paired_comparison({str(i): v for i, v in enumerate(x)}, {str(i): v for i, v in enumerate(y)},
                                 Settings(resamples=20000, seed=8))
        ref = scipy_bootstrap((x, y), lambda u, v, axis: np.mean(u - v, axis=axis), paired=True,
                              method="percentile", confidence_level=0.95, n_resamples=20000,
                              random_state=np.random.default_rng(9)).confidence_interval
        assert ours["diff"] / 100 == pytest.approx(np.mean(x - y), abs=1e-4)  # percent, two decimals
        assert ours["diff_ci_low"] / 100 == pytest.approx(ref.low, abs=0.0025)
        assert ours["diff_ci_high"] / 100 == pytest.approx(ref.high, abs=0.0025)


@pytest.mark.parametrize("a,b", [(a, b) for a in range(0, 13) for b in range(0, 13) if a + b]
                         + [(40, 60), (100, 140), (500, 430), (0, 200)])
def test_mcnemar_exact_equals_scipy_binomtest(a, b):
    from scipy.stats import binomtest

    assert mcnemar_exact(a, b) == pytest.approx(binomtest(min(a, b), a + b, 0.5).pvalue, abs=1e-12)
