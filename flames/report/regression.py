"""Regression mode: fit a study's score against its cells' mixture weights and propose the next mixtures.

Given cells with known weights on the simplex (k agents, each row summing to 1) and a score each (eval/avg,
an accuracy), `fit_mixture` fits Scheffé's quadratic mixture model by least squares (numpy):

    score(w) = sum_i b_i w_i + sum_{i<j} b_ij w_i w_j        (no intercept: sum_i w_i = 1 absorbs it)

with the coefficients' covariance s^2 (X'X)^-1 (s: the residual standard deviation), so each prediction has an
analytic standard error. `propose` evaluates the fit over a simplex grid: the predicted best mixture, then
`explore` exploratory ones that maximize prediction + `bonus` x standard error (an upper confidence bound),
each at least `min_distance` (L1) from the measured cells and the points already proposed. docs/scorers.md,
"Regression mode".

    python -m flames.report.regression cells.csv --weights w_a,w_b,w_c --score eval/avg
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from dataclasses import dataclass

import numpy as np


def features(weights: np.ndarray) -> np.ndarray:
    """Scheffé quadratic terms of each row: w_1..w_k, then w_i w_j for i < j."""
    w = np.atleast_2d(np.asarray(weights, float))
    pairs = [w[:, i] * w[:, j] for i, j in itertools.combinations(range(w.shape[1]), 2)]
    return np.column_stack([w, *pairs]) if pairs else w


def term_names(agents: list[str]) -> list[str]:
    return [*agents, *(f"{a}*{b}" for a, b in itertools.combinations(agents, 2))]


@dataclass
class MixtureFit:
    agents: list[str]
    coef: np.ndarray  # per term_names(agents)
    cov: np.ndarray  # the coefficients' covariance (analytic)
    r2: float
    residual_std: float
    n: int  # cells fitted

    def predict(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(predicted score, its standard error) per row of `weights`."""
        x = features(weights)
        return x @ self.coef, np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", x, self.cov, x), 0.0))

    def table(self) -> str:
        """The coefficients with their standard errors, then R^2 and the residual std (Markdown)."""
        se = np.sqrt(np.diag(self.cov))
        lines = ["| term | coefficient | std. error |", "| --- | --- | --- |"]
        lines += [f"| {t} | {c:.4g} | {s:.2g} |" for t, c, s in zip(term_names(self.agents), self.coef, se)]
        return "\n".join(lines + ["", f"R^2 {self.r2:.3f}, residual std {self.residual_std:.3g}, {self.n} cells"])


def on_simplex(weights, tolerance: float = 1e-6) -> np.ndarray:
    """Rows of non-negative weights scaled to sum to 1 (a row of zeros or negatives is a ValueError)."""
    w = np.atleast_2d(np.asarray(weights, float))
    total = w.sum(axis=1, keepdims=True)
    if (w < -tolerance).any() or (total <= 0).any():
        raise ValueError("mixture weights must be non-negative with a positive sum")
    return np.clip(w, 0, None) / total


def fit_mixture(weights, scores, agents: list[str] | None = None) -> MixtureFit:
    """Least-squares Scheffé quadratic fit; needs more cells than terms (k + k(k-1)/2) for an error estimate."""
    w, y = on_simplex(weights), np.asarray(scores, float)
    k = w.shape[1]
    x = features(w)
    if len(y) != len(w):
        raise ValueError(f"{len(w)} weight rows but {len(y)} scores")
    if len(y) <= x.shape[1]:
        raise ValueError(f"{len(y)} cells cannot fit {x.shape[1]} terms of a {k}-agent quadratic mixture model "
                         f"with an error estimate: measure at least {x.shape[1] + 1}")
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    dof = len(y) - np.linalg.matrix_rank(x)
    s2 = float(resid @ resid) / max(dof, 1)
    total = float(((y - y.mean()) ** 2).sum())
    return MixtureFit(agents or [f"w{i}" for i in range(k)], coef, s2 * np.linalg.pinv(x.T @ x),
                      1.0 - float(resid @ resid) / total if total > 0 else 1.0, s2 ** 0.5, len(y))


def simplex_grid(k: int, step: float = 0.05) -> np.ndarray:
    """Every point of the k-simplex whose coordinates are multiples of `step` (1/step must be an integer)."""
    m = round(1 / step)
    points = [c for c in itertools.product(range(m + 1), repeat=k - 1) if sum(c) <= m]
    return np.array([[*c, m - sum(c)] for c in points], float) / m


@dataclass
class Proposal:
    weights: np.ndarray
    predicted: float
    std_error: float
    why: str  # "best" (the highest prediction) or "explore" (the highest upper bound away from what is known)


def propose(fit: MixtureFit, measured=None, *, step: float = 0.05, explore: int = 3, bonus: float = 2.0,
            min_distance: float = 0.2) -> list[Proposal]:
    """The predicted best mixture on the grid, then `explore` points by prediction + bonus x std. error."""
    grid = simplex_grid(len(fit.agents), step)
    mean, se = fit.predict(grid)
    best = int(np.argmax(mean))
    out = [Proposal(grid[best], float(mean[best]), float(se[best]), "best")]
    taken = [grid[best], *(on_simplex(measured) if measured is not None and len(measured) else [])]
    for i in np.argsort(-(mean + bonus * se)):
        if len(out) > explore:
            break
        if min(np.abs(grid[i] - t).sum() for t in taken) >= min_distance:
            out.append(Proposal(grid[i], float(mean[i]), float(se[i]), "explore"))
            taken.append(grid[i])
    return out


def report(fit: MixtureFit, proposals: list[Proposal]) -> str:
    """The fit and the proposed mixtures (Markdown)."""
    lines = ["## Mixture regression (Scheffé quadratic)", "", fit.table(), "", "### Next mixtures", "",
             "| why | " + " | ".join(fit.agents) + " | predicted | std. error |",
             "| --- | " + " | ".join("---" for _ in fit.agents) + " | --- | --- |"]
    lines += [f"| {p.why} | " + " | ".join(f"{w:.2f}" for w in p.weights) + f" | {p.predicted:.3g} | {p.std_error:.2g} |"
              for p in proposals]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m flames.report.regression", description=__doc__.split("\n")[0])
    ap.add_argument("table", help="a CSV of cells (a study's <name>.csv, or your own)")
    ap.add_argument("--weights", required=True, help="comma-separated columns holding each agent's weight")
    ap.add_argument("--score", required=True, help="the column to maximize (eval/avg, an accuracy)")
    ap.add_argument("--step", type=float, default=0.05, help="grid step over the simplex")
    ap.add_argument("--explore", type=int, default=3, help="exploratory mixtures proposed after the best")
    args = ap.parse_args(argv)
    columns = args.weights.split(",")
    try:
        with open(args.table, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get(args.score) not in (None, "", "-")]
        missing = [c for c in [*columns, args.score] if rows and c not in rows[0]]
        if missing or not rows:
            raise ValueError(f"{args.table}: no column {missing[0]}" if missing else f"{args.table}: no scored rows")
        w = np.array([[float(r[c] or 0) for c in columns] for r in rows])
        fit = fit_mixture(w, [float(r[args.score]) for r in rows], columns)
    except (OSError, ValueError) as e:
        print(f"flames: error: {e}", file=sys.stderr)
        return 2
    print(report(fit, propose(fit, w, step=args.step, explore=args.explore)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
