"""flames.stats on hand-built and simulated verdicts: pass@k's closed form, maj@k's votes, interval coverage,
paired tests."""

import math
import random

import numpy as np
import pytest

from flames.stats import Settings, bootstrap, majority_vote, mcnemar_exact, paired_comparison, pass_at_k


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
