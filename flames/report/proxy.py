"""The proxy check: do cells rank the same with a small student as with a large one?

Cheap runs stand in for expensive ones only if they order the candidates (mixtures, agents, QC strategies) as
the expensive runs would (DataDecide: small-scale rankings pick the large-scale winner about 80% of the time).
Given each cell's score under two students, `rank_agreement` gives Kendall's tau-b and Spearman's rho with a
percentile bootstrap interval over the cells, the share of cell pairs both order alike, and whether both pick
the same best cell. A study whose axes include a student with two values prints it (`proxy_section`);
`python -m flames.report.proxy small.csv large.csv --key <columns> --score <column>` compares two reports' CSVs
(two runs of one study or search with another student). docs/search.md, "Proxy check".

Kendall's tau-b and Spearman's rho are written here with numpy (scipy.stats has both, but flames needs no scipy at
run time, as flames.stats); tests/test_proxy.py checks them against scipy.stats.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from flames.config import ConfigError

BOOT, CONFIDENCE = 2000, 0.95  # bootstrap resamples of the cells; the interval's level


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b (ties in either ranking counted as scipy.stats.kendalltau does); nan without pairs."""
    dx, dy = np.sign(x[:, None] - x[None, :]), np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(x), 1)
    dx, dy = dx[upper], dy[upper]
    denom = np.sqrt(np.count_nonzero(dx) * np.count_nonzero(dy))
    return float(np.sum(dx * dy) / denom) if denom else float("nan")


def _ranks(v: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their mean rank."""
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1)
    for value in np.unique(v):
        tied = v == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman_rho(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def rank_agreement(a: dict[str, float], b: dict[str, float], boot: int = BOOT, seed: int = 0) -> dict:
    """How alike the cells shared by `a` and `b` (cell -> score) rank: tau-b and rho with bootstrap intervals
    (cells resampled with replacement; resamples without two distinct scores skipped), pair agreement, best."""
    cells = sorted(set(a) & set(b))
    if len(cells) < 3:
        raise ConfigError(f"proxy check: {len(cells)} cells scored under both students; it needs at least 3")
    x, y = np.array([a[c] for c in cells], float), np.array([b[c] for c in cells], float)
    rng, taus, rhos = np.random.default_rng(seed), [], []
    for _ in range(boot):
        i = rng.integers(0, len(cells), len(cells))
        tau, rho = kendall_tau_b(x[i], y[i]), spearman_rho(x[i], y[i])
        if not np.isnan(tau):
            taus.append(tau)
        if not np.isnan(rho):
            rhos.append(rho)
    tail = (1 - CONFIDENCE) / 2 * 100
    interval = lambda v: [round(float(q), 3) for q in np.percentile(v, [tail, 100 - tail])] if v else None  # noqa: E731
    dx, dy = np.sign(x[:, None] - x[None, :]), np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(cells), 1)
    return {"cells": len(cells), "kendall_tau": round(kendall_tau_b(x, y), 3), "kendall_interval": interval(taus),
            "spearman_rho": round(spearman_rho(x, y), 3), "spearman_interval": interval(rhos),
            "pairs_agree": round(float(np.mean(dx[upper] == dy[upper])), 3),
            "best_a": cells[int(np.argmax(x))], "best_b": cells[int(np.argmax(y))],
            "same_best": cells[int(np.argmax(x))] == cells[int(np.argmax(y))]}


def agreement_lines(result: dict, a_name: str, b_name: str) -> list[str]:
    """The check as Markdown lines."""
    span = lambda v: "-" if v is None else f"[{v[0]:+.2f}, {v[1]:+.2f}]"  # noqa: E731
    return [f"{result['cells']} cells scored under both `{a_name}` and `{b_name}`: Kendall's tau-b "
            f"{result['kendall_tau']:+.2f} {span(result['kendall_interval'])}, Spearman's rho "
            f"{result['spearman_rho']:+.2f} {span(result['spearman_interval'])} ({CONFIDENCE:.0%} bootstrap over the "
            f"cells); {result['pairs_agree']:.0%} of cell pairs ordered alike; best cell "
            + (f"the same under both ({result['best_a']})." if result["same_best"]
               else f"`{result['best_a']}` under `{a_name}`, `{result['best_b']}` under `{b_name}`."),
            "", "An interval that reaches 0 says the small student's ranking may not predict the large one's: "
            "run more cells, or rank at the large size."]


def proxy_section(rows: list[dict], axes: list[str], score: str) -> list[str]:
    """The study report's section when one axis is the student with exactly two values, and the other axes give
    at least 3 cells scored under both; else nothing."""
    student = next((a for a in axes if a.split(".")[0] == "student"
                    and len({str(r.get(a)) for r in rows}) == 2), None)
    if student is None:
        return []
    others = [a for a in axes if a != student]
    values = list(dict.fromkeys(str(r.get(student)) for r in rows))
    by = {v: {" ".join(f"{a}={r.get(a)}" for a in others): r.get(score) for r in rows
              if str(r.get(student)) == v and isinstance(r.get(score), (int, float))} for v in values}
    if len(set(by[values[0]]) & set(by[values[1]])) < 3:
        return []
    result = rank_agreement(by[values[0]], by[values[1]])
    return ["", f"## Proxy check: do the cells rank alike under both students ({student})?", "",
            *agreement_lines(result, f"{student}={values[0]}", f"{student}={values[1]}")]


def read_scores(path: Path, key: list[str], score: str) -> dict[str, float]:
    """cell (the key columns' values) -> score, from a report CSV; rows without a number are left out."""
    if not path.exists():
        raise ConfigError(f"{path}: no such report CSV")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in [*key, score] if rows and c not in rows[0]]
    if missing:
        raise ConfigError(f"{path}: no column {', '.join(missing)} (columns: {', '.join(rows[0])})")
    out = {}
    for r in rows:
        try:
            out[" ".join(f"{c}={r[c]}" for c in key)] = float(r[score])
        except ValueError:
            continue
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m flames.report.proxy", description=__doc__.split("\n")[0])
    ap.add_argument("small", type=Path, help="a report CSV of the cells under one student")
    ap.add_argument("large", type=Path, help="the same cells' report CSV under the other student")
    ap.add_argument("--key", required=True, help="comma-separated columns naming a cell (e.g. mixture or w/...)")
    ap.add_argument("--score", default="Avg", help="the score column (default Avg; a search: objective)")
    args = ap.parse_args(argv)
    key = [c.strip() for c in args.key.split(",") if c.strip()]
    try:
        result = rank_agreement(read_scores(args.small, key, args.score), read_scores(args.large, key, args.score))
    except ConfigError as e:
        print(f"flames: error: {e}", file=sys.stderr)
        return 2
    print("\n".join(agreement_lines(result, args.small.name, args.large.name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
