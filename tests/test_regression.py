"""Regression mode (flames.report.regression): cells from a known function plus noise; the fit recovers the best
mixture, and proposes exploratory mixtures on the simplex away from the measured cells."""

import numpy as np
import pytest

from flames.report.regression import fit_mixture, main, on_simplex, propose, simplex_grid

BEST = np.array([0.5, 0.3, 0.2])  # the known function's maximum, inside the simplex


def known(w):
    """A quadratic with its maximum (50) at BEST: a Scheffé quadratic holds it exactly on the simplex."""
    return 50 - 100 * ((w - BEST) ** 2).sum(axis=1)


@pytest.fixture
def cells():
    rnd = np.random.default_rng(0)
    w = on_simplex(rnd.dirichlet(np.ones(3), size=30))
    return w, known(w) + rnd.normal(0, 0.5, len(w))  # noise sd 0.5 points


def test_the_fit_recovers_the_best_mixture_within_a_grid_step(cells):
    w, y = cells
    fit = fit_mixture(w, y, ["a", "b", "c"])
    best = propose(fit, w, step=0.05)[0]
    assert best.why == "best"
    assert np.abs(best.weights - BEST).max() <= 0.05  # tolerance: one grid step per agent
    assert fit.r2 > 0.9 and 0.25 < fit.residual_std < 1.0  # the noise's sd (0.5) is what is left


def test_exploratory_mixtures_lie_on_the_simplex_away_from_the_measured_cells(cells):
    w, y = cells
    proposals = propose(fit_mixture(w, y), w, explore=3, min_distance=0.2)
    assert [p.why for p in proposals] == ["best", "explore", "explore", "explore"]
    for p in proposals[1:]:
        assert abs(p.weights.sum() - 1) < 1e-9 and (p.weights >= 0).all()
        assert min(np.abs(p.weights - x).sum() for x in w) >= 0.2


def test_two_agents_best_share():
    rnd = np.random.default_rng(1)
    share = np.linspace(0, 1, 11)
    w = np.column_stack([share, 1 - share])
    y = 40 - 80 * (share - 0.7) ** 2 + rnd.normal(0, 0.3, len(share))
    best = propose(fit_mixture(w, y), w, step=0.05)[0]
    assert abs(best.weights[0] - 0.7) <= 0.05


def test_too_few_cells_and_off_simplex_weights_are_refused():
    with pytest.raises(ValueError, match="at least 7"):
        fit_mixture(simplex_grid(3, 0.5), np.zeros(6))  # 6 cells, 6 terms
    with pytest.raises(ValueError, match="non-negative"):
        on_simplex([[0.5, -0.5, 1.0]])


def test_the_command_reads_a_csv_and_names_a_missing_column(tmp_path, cells, capsys):
    w, y = cells
    path = tmp_path / "cells.csv"
    path.write_text("a,b,c,eval/avg\n" + "".join(f"{x[0]},{x[1]},{x[2]},{s}\n" for x, s in zip(w, y)))
    assert main([str(path), "--weights", "a,b,c", "--score", "eval/avg"]) == 0
    out = capsys.readouterr().out
    assert "| best |" in out and out.count("| explore |") == 3 and "R^2" in out
    assert main([str(path), "--weights", "a,b,d", "--score", "eval/avg"]) == 2
    assert "no column d" in capsys.readouterr().err
