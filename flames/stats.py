"""Uncertainty of accuracies: Wilson and bootstrap intervals, pass@k, majority votes, paired comparisons.

Everything here works on per-item numbers (1/0 verdicts, or a fraction of an item's k samples) and
returns fractions; callers turn them into the percents the manifests store. Nothing here reads files
or grades answers: `flames.evaluate` supplies verdicts and the grader's equivalence.

Which interval where: a rate of 0/1 per-item verdicts (greedy accuracy, maj@k, pass@k when each item has
exactly k samples) is a binomial proportion and gets the closed-form Wilson score interval (`wilson`).
A percentile bootstrap of such verdicts collapses at the edges: 0 of 24 right resamples to 0 every time
and prints [0, 0], as if 0% were certain, while Wilson's upper end is 13.8%. Where no closed form fits
(avg-of-k's two levels, fractional per-item scores, paired differences) the percentile bootstrap stays.

- `wilson`: the Wilson score interval of k successes in n (no continuity correction).
- `bootstrap`: a percentile bootstrap interval over items, and also over each item's samples when
  it has several (a two-level bootstrap: items, then samples within an item).
- `pass_at_k`: the unbiased pass@k estimator of Chen et al. (2021).
- `majority_vote`: which of k answers wins maj@k, under a given equivalence.
- `mean_of_independent`: the interval of an average of rates measured on disjoint item sets (Avg).
- `paired_comparison`: the difference between two evaluations of the same items, with its paired
  bootstrap interval and an exact McNemar test (or a paired bootstrap p-value for fractional scores).

numpy does the resampling; the closed forms (Wilson, pass@k, the exact McNemar p-value) are written out
with `statistics.NormalDist` and `math.comb`, so flames needs no scipy at run time; the tests check them
against scipy.stats (`binomtest`, `bootstrap`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Sequence


@dataclass(frozen=True)
class Settings:
    """How intervals are drawn (`benchmarks.confidence`, `bootstrap_resamples`, `bootstrap_seed`)."""

    confidence: float = 0.95  # two-sided level of every interval
    resamples: int = 1000  # bootstrap resamples per interval
    seed: int = 0  # the same seed redraws the same resamples: a regrade reproduces every interval


@dataclass(frozen=True)
class Interval:
    """A rate with its standard error and interval (all fractions; Wilson's or a bootstrap's)."""

    estimate: float
    stderr: float
    low: float
    high: float

    def percent(self, name: str) -> dict[str, float]:
        """Manifest fields `<name>`, `<name>_stderr`, `<name>_ci_low`, `<name>_ci_high`, in percent."""
        return {name: _pct(self.estimate), f"{name}_stderr": _pct(self.stderr), f"{name}_ci_low": _pct(self.low),
                f"{name}_ci_high": _pct(self.high)}


def _pct(x: float) -> float:
    return round(100 * x, 2)  # as flames.evaluate stores accuracies: percent, two decimals


def wilson(correct: int, n: int, confidence: float = 0.95) -> Interval:
    """k = `correct` of `n` with the Wilson score interval (no continuity correction).

    The interval is the set of rates p whose normal test |k/n - p| <= z sqrt(p(1-p)/n) passes: the roots
    of a quadratic in p, so it stays inside [0, 1] and is not empty at 0/n or n/n (0 of 24 gives
    [0, 13.8%] at 95%). The same numbers as scipy.stats.binomtest(k, n).proportion_ci(method="wilson").
    The standard error is the plain binomial one, sqrt(p(1-p)/n).
    """
    from statistics import NormalDist

    if not 0 <= correct <= n or n < 1:
        raise ValueError(f"wilson: need 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")
    p = correct / n
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    denom = 2 * (n + z * z)
    center = (2 * n * p + z * z) / denom
    half = z * math.sqrt(z * z + 4 * n * p * (1 - p)) / denom
    return Interval(p, math.sqrt(p * (1 - p) / n), max(0.0, center - half), min(1.0, center + half))


def bootstrap(scores: Sequence[float], samples: Sequence[int] | None = None,
              settings: Settings = Settings()) -> Interval:
    """The mean of per-item `scores` with a percentile bootstrap interval.

    Items are drawn with replacement. With `samples` (item i's score is a fraction of samples[i]
    answers), each drawn item's samples are drawn again too: its correct count is then
    Binomial(samples[i], scores[i]), which is what resampling its k verdicts gives. The standard
    error is the standard deviation of the resampled means.
    """
    import numpy as np

    s = np.asarray(scores, dtype=float)
    if s.size == 0:
        raise ValueError("bootstrap: no items")
    rng = np.random.default_rng(settings.seed)
    idx = rng.integers(0, s.size, size=(settings.resamples, s.size))
    drawn = s[idx]
    if samples is not None:
        k = np.asarray(samples, dtype=int)[idx]
        drawn = rng.binomial(k, drawn) / k
    means = drawn.mean(axis=1)
    tail = (1 - settings.confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(s.mean()), float(means.std(ddof=1)), float(low), float(high))


def mean_of_independent(estimates: Sequence[float], stderrs: Sequence[float], confidence: float = 0.95) -> Interval:
    """The plain mean of rates measured on disjoint item sets (the paper's Avg over benchmarks), with a
    normal-approximation interval: independent estimates, so its standard error is sqrt(sum se^2) / m."""
    from statistics import NormalDist, fmean

    m = len(estimates)
    se = math.sqrt(sum(s * s for s in stderrs)) / m
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    mean = fmean(estimates)
    return Interval(mean, se, mean - z * se, mean + z * se)


def pass_at_k(n: int, c: int, k: int) -> float:
    """P(at least one of k answers drawn without replacement from n, c of them correct, is correct).

    The unbiased estimator 1 - C(n-c, k) / C(n, k) (Chen et al. 2021, "Evaluating Large Language
    Models Trained on Code", eq. 1), exact in integers.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k: need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_vote(answers: Sequence[str | None], same: Callable[[str, str], bool]) -> int | None:
    """Index of the answer maj@k takes: one of the largest group of equivalent answers.

    Answers join the first group whose first answer they are `same` as (the grader's equivalence,
    not string equality). No answer (None, unparseable) never votes; all None gives None. A tie
    goes to the group whose first answer came first, so the vote is reproducible.
    """
    groups: list[list[int]] = []
    for i, a in enumerate(answers):
        if a is None:
            continue
        group = next((g for g in groups if same(a, answers[g[0]])), None)
        if group is None:
            groups.append([i])
        else:
            group.append(i)
    if not groups:
        return None
    return max(groups, key=len)[0]  # max keeps the first of equal lengths: the earliest group


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (a right and b wrong, and the reverse).

    Under no difference each discordant pair goes either way with probability 1/2: the p-value is
    twice the binomial tail of the rarer direction, capped at 1 (scipy.stats.binomtest(m, n, 0.5)'s).
    """
    n = a_only + b_only
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(a_only, b_only) + 1))
    return min(1.0, 2 * tail / 2 ** n)


def paired_comparison(a: dict[str, float], b: dict[str, float], settings: Settings = Settings()) -> dict:
    """a - b on the items both scored (item id -> score in [0, 1]), with a paired bootstrap interval and p-value.

    Items are resampled together, so what the two have in common (an item both get right) cancels.
    The test is the exact McNemar test when every score is 0 or 1 (greedy verdicts, maj@k), else a
    two-sided paired bootstrap p-value (twice the share of resampled differences on the far side of 0).
    """
    import numpy as np

    common = sorted(set(a) & set(b))
    if not common:
        raise ValueError("paired_comparison: no item in common")
    x, y = np.array([a[i] for i in common], float), np.array([b[i] for i in common], float)
    diff = x - y
    rng = np.random.default_rng(settings.seed)
    means = diff[rng.integers(0, diff.size, size=(settings.resamples, diff.size))].mean(axis=1)
    tail = (1 - settings.confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    binary = bool(np.isin(np.concatenate([x, y]), (0.0, 1.0)).all())
    a_only, b_only = int(((x == 1) & (y == 0)).sum()), int(((x == 0) & (y == 1)).sum())
    if binary:
        test, p = "mcnemar_exact", mcnemar_exact(a_only, b_only)
    else:
        test, p = "paired_bootstrap", min(1.0, 2 * min(float((means <= 0).mean()), float((means >= 0).mean())))
    return {"n": len(common), "a": _pct(x.mean()), "b": _pct(y.mean()),
            **Interval(float(diff.mean()), float(means.std(ddof=1)), float(low), float(high)).percent("diff"),
            "p_value": p, "test": test, "a_only": a_only, "b_only": b_only, "settings": asdict(settings)}
