"""A mixture-weight search's report files: the trials table, the best mixture against a reference, the regression.

`flames.search` reads a sweep's trials and plans their artifacts; this module only renders rows it is handed
(one per trial: its weights `w/<agent>` normalized to sum 1, `objective` = the mean accuracy the sweeper maximized,
and `cell_row`'s accuracies), so the tables can be checked on hand-built rows. docs/search.md.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from flames.report.regression import fit_mixture, propose, report, term_names
from flames.report.render import _md_table, paired_sections
from flames.report.rows import AVG, STATUS, _benchmarks, _number

OBJECTIVE = "objective"  # the mean accuracy over the benchmarks: what `flames` returns to the sweeper (flames.cli.run)
WEIGHT = "w/"  # prefix of a trial's normalized weight per agent
COMPUTED = "computed"  # the stages the trial's run computed (not reused), from its stages.json
GEN_CALLS = "generation requests"  # LLM calls its synthesize/QC/solve stages sent: 0 when every pool was reused


def weight_columns(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(k for r in rows for k in r if k.startswith(WEIGHT)))


def best_row(rows: list[dict]) -> dict | None:
    """The trial with the highest objective (the first of equals); None when no trial has one."""
    scored = [r for r in rows if _number(r.get(OBJECTIVE)) is not None]
    return max(scored, key=lambda r: r[OBJECTIVE]) if scored else None


def regression_lines(rows: list[dict], explore: int = 3) -> list[str]:
    """The Scheffé quadratic fit of the objective over the trials' weights and its proposed next mixtures; a
    line saying how many trials it needs when there are too few (more than k + k(k-1)/2 for k agents)."""
    cols = weight_columns(rows)
    scored = [r for r in rows if _number(r.get(OBJECTIVE)) is not None]
    terms = len(term_names(cols))
    if len(scored) <= terms:
        return ["## Mixture regression (Scheffé quadratic)", "",
                f"{len(scored)} scored trials: the fit of {len(cols)} agents has {terms} terms and needs at least "
                f"{terms + 1} (run more trials: hydra.sweeper.n_trials)."]
    w = np.array([[float(r[c]) for c in cols] for r in scored])
    fit = fit_mixture(w, [float(r[OBJECTIVE]) for r in scored], [c[len(WEIGHT):] for c in cols])
    return report(fit, propose(fit, w, explore=explore)).rstrip("\n").splitlines()


def markdown(title: str, rows: list[dict], reference: dict | None, paired: list[dict], missing: str | None,
             optuna: dict | None) -> str:
    """The report: trials, the best trial, its paired comparison with the reference, the regression."""
    cols, benches = weight_columns(rows), _benchmarks(rows, [], subsets=False)
    head = ["trial", *(c[len(WEIGHT):] for c in cols), "objective", *benches, "Avg", "status", COMPUTED,
            GEN_CALLS]
    fmt = lambda v, spec: "-" if _number(v) is None else format(v, spec)  # noqa: E731
    body = [[str(r["trial"]), *(fmt(r.get(c), ".3f") for c in cols), fmt(r.get(OBJECTIVE), ".2f"),
             *(fmt(r.get(f"eval/{b}/accuracy"), ".1f") for b in benches), fmt(r.get(AVG), ".1f"), str(r.get(STATUS)),
             str(r.get(COMPUTED, "-")), str(r.get(GEN_CALLS, "-"))] for r in rows]
    lines = [f"# Mixture search: {title}", "",
             "One row per trial of the sweep: its weights divided by their sum (what mix takes), the objective the "
             "sweeper maximized (the mean accuracy over the benchmarks, %) and each benchmark's accuracy, all read "
             "from the trial's evaluate manifest; then the stages its run computed and the requests its generation "
             "stages sent to the problem and solution models (its stages.json: 0 when it reused every pool).", "",
             *_md_table(head, body)]
    best = best_row(rows)
    if best is not None:
        shares = ", ".join(f"{c[len(WEIGHT):]} {best[c]:.3f}" for c in cols)
        lines += ["", "## Best mixture", "", f"Trial {best['trial']}: {shares}; objective {best[OBJECTIVE]:.2f}."]
        if optuna and "best_value" in optuna:
            lines += [f"Optuna's best value (optimization_results.yaml): {optuna['best_value']}."]
    if reference is not None:
        lines += ["", "## Reference", "", f"`{reference['label']}` at the trials' budget: objective "
                  f"{fmt(reference.get(OBJECTIVE), '.2f')} ({reference.get(STATUS)})."]
    if missing:
        lines += ["", "The reference's evaluation is not in the store; compute it with:", "", f"    {missing}"]
    lines += paired_sections(paired)
    lines += ["", *regression_lines(rows)]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows({k: "" if r.get(k) is None else r[k] for k in keys} for r in rows)


def plot(path: Path, rows: list[dict], reference: dict | None) -> Path:
    """The objective per trial (the reference as a dashed line), and each trial's weights as stacked bars."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    score, shares = fig.subplots(2, 1, sharex=True)
    trials = [int(r["trial"]) for r in rows]
    ys = [_number(r.get(OBJECTIVE)) for r in rows]
    score.plot([t for t, y in zip(trials, ys) if y is not None], [y for y in ys if y is not None], "o-", label="trial")
    ref = None if reference is None else _number(reference.get(OBJECTIVE))
    if ref is not None:
        score.axhline(ref, ls="--", color="gray", label=reference["label"])
    score.set_ylabel("objective (mean accuracy %)")
    score.set_title("Mixture search: score per trial")
    score.legend(loc="best")
    bottom = np.zeros(len(rows))
    for c in weight_columns(rows):
        w = np.array([float(r.get(c) or 0) for r in rows])
        shares.bar(trials, w, bottom=bottom, label=c[len(WEIGHT):])
        bottom += w
    shares.set_xticks(trials)
    shares.set_xlabel("trial")
    shares.set_ylabel("share of the budget")
    shares.legend(loc="upper right", fontsize="small")
    fig.savefig(path)
    return path


def write_search_report(name: str, rows: list[dict], out_dir: Path, reference: dict | None = None,
                        paired: list[dict] | None = None, missing: str | None = None,
                        optuna: dict | None = None, title: str | None = None) -> list[Path]:
    """`<out_dir>/<name>.md`, `.csv` (the trials, then the reference row) and `.png`; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, table, png = out_dir / f"{name}.md", out_dir / f"{name}.csv", out_dir / f"{name}.png"
    md.write_text(markdown(title or name, rows, reference, paired or [], missing, optuna))
    write_csv(table, rows + ([reference] if reference is not None else []))
    return [md, table, plot(png, rows, reference)]
