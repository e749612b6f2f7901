"""The search report (flames.search, flames.report.search) on hand-built trials: fast. The end-to-end run on a
scripted sweep and a reference is tests/test_optuna_sweep.py's slow test."""

from __future__ import annotations

import csv
import re

import numpy as np

from flames.report.search import OBJECTIVE, best_row, regression_lines, write_search_report
from flames.search import main, reference_overrides


def trial_rows(n: int, agents=("a", "b")) -> list[dict]:
    """n trials whose objective is a known quadratic in the first agent's share, peaking at 0.7."""
    rows = []
    for i, x in enumerate(np.linspace(0.1, 0.9, n)):
        rows.append({"trial": str(i), f"w/{agents[0]}": round(x, 4), f"w/{agents[1]}": round(1 - x, 4),
                     OBJECTIVE: 50 - 40 * (x - 0.7) ** 2, "eval/builtin/accuracy": 1.0, "status": "done"})
    return rows


def test_the_regression_needs_more_trials_than_terms_then_proposes_the_peak():
    assert "needs at least 4" in "\n".join(regression_lines(trial_rows(3)))
    lines = regression_lines(trial_rows(6))
    best = next(line for line in lines if line.startswith("| best |"))
    assert best.split("|")[2].strip() == "0.70", best  # the quadratic's peak, on the 0.05 grid


def test_the_report_lists_every_trial_names_the_best_and_the_missing_reference_command(tmp_path):
    rows = trial_rows(5)
    rows.append({"trial": "5", "w/a": 0.5, "w/b": 0.5, OBJECTIVE: None, "status": "missing evaluate"})
    rows[0].update({"computed": "mix train evaluate", "generation requests": 0})  # from the trial's stages.json
    assert best_row(rows)["trial"] == "3"  # 0.7 of agent a: the peak
    ref = {"reference": "mixture=flames_small", "label": "mixture=flames_small", OBJECTIVE: None,
           "status": "missing mix"}
    paths = write_search_report("s", rows, tmp_path, ref, [], missing="flames mixture=flames_small mixture.budget=16")
    assert [p.name for p in paths] == ["s.md", "s.csv", "s.png"] and all(p.stat().st_size for p in paths)
    md = paths[0].read_text()
    trial_lines = [line for line in md.splitlines() if re.match(r"\| \d+ \| ", line)]
    assert [line.split(" | ")[0][2:] for line in trial_lines] == [r["trial"] for r in rows]
    assert trial_lines[-1].endswith("| - | - | - | missing evaluate | - | - |") and "Trial 3: a 0.700, b 0.300" in md
    assert trial_lines[0].endswith("| mix train evaluate | 0 |")
    assert "    flames mixture=flames_small mixture.budget=16" in md
    assert "needs at least 4" not in md  # 5 scored trials fit 3 terms
    with open(paths[1], newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["trial"] for r in table] == ["0", "1", "2", "3", "4", "5", ""] and table[-1]["label"]


def test_the_reference_drops_the_searched_mixture_and_keeps_the_budget():
    trial = ["experiment=optuna_mixture", "mixture.weights.a=0.3", "+mixture.weights.c=0.2", "logger=none",
             "mixture=blend", "mixture.agent_overrides.chunk_size=8"]
    assert reference_overrides(trial, ["mixture=flames_small"], 16) == [
        "experiment=optuna_mixture", "logger=none", "mixture.agent_overrides.chunk_size=8", "mixture.budget=16",
        "mixture=flames_small"]


def test_a_folder_that_is_no_sweep_is_a_one_line_error(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flames: error: ") and "nowhere" in err and err.count("\n") == 1
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "no trial folders" in capsys.readouterr().err
