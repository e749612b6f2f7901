"""A study's rows: one flat row per cell, read from its manifests; pivots; paired differences and seed repeats."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flames.benchmarks import PAPER_AVG, PAPER_ORDER, paper_average
from flames.evaluate import item_scores, settings_of
from flames.stats import mean_of_independent, paired_comparison


KEPT = "problems_kept"  # problems the cell's solution QC kept (its views of the pools), summed over its agents
TRAIN = "train_examples"  # mix records_out: what the student was trained on
AVG = "eval/avg"  # flames.benchmarks.paper_average, as the logger logs it
STATUS = "status"  # "done", or "missing <stage>" (the first stage whose artifact is not complete)
SOURCE = "source"  # CSV only: ours | paper | delta (ours - paper)
SEED_AXIS = "student.seed"  # a study axis whose cells are repeats: aggregated into mean ± sd
LOW, HIGH = "_ci_low", "_ci_high"  # suffixes of an accuracy's interval bounds (flames.evaluate's)


@dataclass
class Cell:
    """One cell of a study: its axis values and every stage's artifact."""

    axes: dict[str, str]  # axis -> value as on the command line ("null" for None), e.g. {"qc": "majority"}
    results: list  # Pipeline.plan() of the cell: flames.pipeline.StageResult (not imported: a lower layer)


# ---------------------------------------------------------------------------------------------------
# Rows


def problems_kept(qc: list, done: list) -> int | None:
    """What the cell's solution QC kept: the rows of its views that mix found (pools shared by cells of other
    sizes hold more), else the solution_qc artifacts' records (a cell that stops before mix)."""
    mix = next((r.manifest.get("metrics") or {} for r in done if r.stage == "mix"), {})
    if "available" in mix:
        return sum(mix["available"].values())
    return sum(r.manifest["records_out"] for r in qc) if qc and all(r.artifact.complete for r in qc) else None


def cell_row(cell: Cell) -> dict:
    """The cell's axis values, then problems kept, training examples, accuracy per benchmark (and subset),
    Avg and status, all from the manifests of its complete artifacts (None where an artifact is missing)."""
    row: dict[str, Any] = dict(cell.axes)
    done = [r for r in cell.results if r.artifact.complete]
    qc = [r for r in cell.results if r.stage == "solution_qc"]
    # A sum over some agents only would read as a low yield: kept counts once every agent's QC is done.
    row[KEPT] = problems_kept(qc, done)
    row[TRAIN] = next((r.manifest["records_out"] for r in done if r.stage == "mix"), None)
    metrics = next((r.manifest["metrics"] for r in done if r.stage == "evaluate"), {})
    for name, m in _benchmark_order(metrics):
        row[f"eval/{name}/accuracy"] = m["accuracy"]
        row.update({f"eval/{name}/accuracy{b}": m[f"accuracy{b}"] for b in (LOW, HIGH) if f"accuracy{b}" in m})
    row[AVG] = paper_average(metrics)  # None unless all five of the paper's Avg were evaluated
    row.update(_avg_interval(metrics))
    row[STATUS] = _status(cell.results)
    return row


def _avg_interval(metrics: dict) -> dict:
    """Avg's interval from the five benchmarks' standard errors (disjoint items: independent); {} without them."""
    if paper_average(metrics) is None or any("accuracy_stderr" not in metrics[b] for b in PAPER_AVG):
        return {}
    ci = mean_of_independent([metrics[b]["accuracy"] for b in PAPER_AVG],
                             [metrics[b]["accuracy_stderr"] for b in PAPER_AVG],
                             metrics[PAPER_AVG[0]].get("ci_level", 95.0) / 100)
    return {AVG + LOW: round(ci.low, 2), AVG + HIGH: round(ci.high, 2)}


def _status(results: list) -> str:
    missing = next((r for r in results if not r.artifact.complete), None)
    if missing is not None:
        return f"missing {missing.stage}"
    train = next((r.manifest for r in results if r.stage == "train"), {})
    skipped = (train.get("metrics") or {}).get("skipped")
    # Still "done", but the accuracies are the base model's: say so where the numbers are read.
    return f"done (training skipped: {skipped}; base model evaluated)" if skipped else "done"


def _benchmark_order(metrics: dict) -> list[tuple[str, dict]]:
    """Benchmarks in the paper's column order (others after, by name), each followed by its subsets."""
    rank = {b: i for i, b in enumerate(PAPER_ORDER)}
    bench = lambda k: k.split("/", 1)[0]  # noqa: E731
    return sorted(metrics.items(), key=lambda kv: (rank.get(bench(kv[0]), len(rank)), bench(kv[0]), "/" in kv[0],
                                                   kv[0]))


def is_metric(key: str) -> bool:
    return key in (KEPT, TRAIN, STATUS) or key.startswith("eval/")


def pivot(rows: list[dict], index: list[str], columns: str | None = None,
          values: list[str] | None = None) -> list[dict]:
    """Rows regrouped by the `index` axes, with one column per value of the `columns` axis (and metric).

    `values` default to every metric of the rows. With one value the new columns are named
    `<columns>=<value>`, with several `<metric> @ <columns>=<value>`; without `columns` the rows are only
    re-keyed by `index`. Two rows landing on one spot raise: pick an index that tells them apart.
    """
    values = values or list(dict.fromkeys(k for r in rows for k in r if is_metric(k)))
    col_values = list(dict.fromkeys(str(r.get(columns)) for r in rows)) if columns else [None]
    out: dict[tuple, dict] = {}
    for r in rows:
        key = tuple(r.get(a) for a in index)
        target = out.setdefault(key, {a: r.get(a) for a in index})
        for v in values:
            name = _pivot_name(v, columns, str(r.get(columns)), len(values)) if columns else v
            if name in target:
                raise ValueError(f"pivot: two rows at {dict(zip(index, key))} for {name!r}; "
                                 "add the axis that tells them apart to `index`")
            target[name] = r.get(v)
    names = [_pivot_name(v, columns, c, len(values)) if columns else v for c in col_values for v in values]
    return [{**{a: t[a] for a in index}, **{n: t.get(n) for n in names}} for t in out.values()]


def _pivot_name(metric: str, columns: str, value: str, n_values: int) -> str:
    return f"{columns}={value}" if n_values == 1 else f"{metric} @ {columns}={value}"


# ---------------------------------------------------------------------------------------------------
# Uncertainty: our intervals, paired differences between cells, repeats over training seeds


def paired_rows(cells: list[Cell]) -> list[dict]:
    """Each cell against the first cell with predictions (the baseline), per benchmark both evaluated on
    the same items: ours - baseline in points with its paired interval and McNemar p-value."""
    preds = [(c, _predictions(c)) for c in cells]
    preds = [(c, p) for c, p in preds if p is not None]
    if len(preds) < 2:
        return []
    (base, base_path), *others = preds
    settings = settings_of(base_path)
    base_scores = item_scores(base_path)
    rows = []
    for cell, path in others:
        scores = item_scores(path)
        for bench in [b for b in _order(base_scores) if b in scores]:
            if set(scores[bench]) & set(base_scores[bench]):
                rows.append({"cell": _label(cell.axes), "baseline": _label(base.axes), "benchmark": bench,
                             **paired_comparison(scores[bench], base_scores[bench], settings)})
    return rows


def _predictions(cell: Cell) -> Path | None:
    ev = next((r for r in cell.results if r.stage == "evaluate" and r.artifact.complete), None)
    return ev.artifact.data if ev is not None and ev.artifact.data.exists() else None


def _order(by_benchmark: dict) -> list[str]:
    return [b for b in PAPER_ORDER if b in by_benchmark] + sorted(b for b in by_benchmark if b not in PAPER_ORDER)


def seed_rows(rows: list[dict], axes: list[str]) -> list[dict]:
    """Cells that differ only in `student.seed`, as one row each: `n_seeds`, and for every accuracy (and Avg)
    its mean and sample standard deviation over the seeds (`<key>` and `<key>_sd`). [] without the axis."""
    if SEED_AXIS not in axes:
        return []
    others = [a for a in axes if a != SEED_AXIS]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(a) for a in others), []).append(r)
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k == AVG or (
        k.startswith("eval/") and k.endswith("/accuracy"))]
    out = []
    for values, group in groups.items():
        agg: dict[str, Any] = {**dict(zip(others, values)), "n_seeds": len(group)}
        for k in keys:
            xs = [x for x in (_number(r.get(k)) for r in group) if x is not None]
            agg[k] = round(statistics.fmean(xs), 2) if xs else None
            agg[k + "_sd"] = round(statistics.stdev(xs), 2) if len(xs) > 1 else None
        out.append(agg)
    return out


def _number(v: Any) -> float | None:
    """A finite number, or None (missing, NaN, or not a number)."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _label(axes: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in axes.items()) or "(no axes)"


def _benchmarks(rows: list[dict], refs: list[dict], subsets: bool) -> list[str]:
    """Benchmark names with a number in any row or paper row: the paper's order, then the others."""
    keys = [k for r in rows for k in r] + [k for ref in refs for k in ref["values"]]
    names = [k[len("eval/"):-len("/accuracy")] for k in dict.fromkeys(keys)
             if k.startswith("eval/") and k.endswith("/accuracy")]
    names = [n for n in names if ("/" in n) == subsets]
    if subsets:  # already in cell_row's order: each benchmark's subsets together
        return names
    return [b for b in PAPER_ORDER if b in names] + [b for b in names if b not in PAPER_ORDER]
