"""The proxy check (flames.report.proxy): rank agreement of cells under two students, checked against scipy."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy import stats

from flames.report.proxy import kendall_tau_b, main, proxy_section, rank_agreement, spearman_rho


@pytest.mark.parametrize("seed", range(5))
def test_tau_b_and_rho_equal_scipys_with_ties(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 5, 12).astype(float), rng.integers(0, 5, 12).astype(float)  # many ties
    assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    assert spearman_rho(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_alike_and_reversed_rankings():
    small = {f"m{i}": float(i) for i in range(8)}
    same = rank_agreement(small, {k: 10 * v + 3 for k, v in small.items()})
    assert same["kendall_tau"] == same["spearman_rho"] == 1.0 and same["pairs_agree"] == 1.0 and same["same_best"]
    assert same["kendall_interval"] == [1.0, 1.0]
    reversed_ = rank_agreement(small, {k: -v for k, v in small.items()})
    assert reversed_["kendall_tau"] == -1.0 and not reversed_["same_best"] and reversed_["pairs_agree"] == 0.0
    noisy = rank_agreement(small, {k: v + (3 if k == "m0" else 0) for k, v in small.items()})
    low, high = noisy["kendall_interval"]
    assert low <= noisy["kendall_tau"] <= high and low < high  # one cell out of place: an interval, not a point


def rows_of(students: list[str]) -> list[dict]:
    return [{"student.name": s, "mixture": m, "eval/builtin/accuracy": float(i + (j if s == "big" else 0)),
             "Avg": None} for j, s in enumerate(students) for i, m in enumerate(["a", "b", "c", "d"])]


def test_a_study_with_two_students_prints_the_check_and_one_student_none():
    lines = proxy_section(rows_of(["small", "big"]), ["student.name", "mixture"], "eval/builtin/accuracy")
    text = "\n".join(lines)
    assert "## Proxy check" in text and "4 cells scored under both" in text and "Kendall's tau-b +1.00" in text
    assert "best cell the same under both (mixture=d)" in text
    assert proxy_section(rows_of(["small"]), ["student.name", "mixture"], "eval/builtin/accuracy") == []


def test_the_command_compares_two_report_csvs(tmp_path, capsys):
    for name, sign in (("small.csv", 1), ("large.csv", -1)):
        with open(tmp_path / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["trial", "objective"])
            w.writerows([[t, sign * t] for t in range(5)] + [["5", ""]])  # a trial without a score is left out
    assert main([str(tmp_path / "small.csv"), str(tmp_path / "large.csv"), "--key", "trial",
                 "--score", "objective"]) == 0
    assert "5 cells scored under both" in capsys.readouterr().out
    assert main([str(tmp_path / "small.csv"), str(tmp_path / "large.csv"), "--key", "mixture"]) == 2
    assert "no column mixture, Avg" in capsys.readouterr().err
