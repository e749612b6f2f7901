"""The paper's tables and plots from a study's results: one row per cell, every number read from a manifest.

A study (flames.study) hands over its cells: each cell's axis values and its `Pipeline.plan()` (every
stage's artifact, complete or not). `cell_row` turns a cell into one flat row, reading the numbers the
stages already wrote into their manifests (nothing is recomputed, so a table can never disagree with
the store); `write_report` writes `<name>.md`, `<name>.csv` and PNG plots, with the paper's published
numbers (`PAPER`, from notes/paper.md) next to ours and the difference ours - paper. See docs/report.md.

Accuracies are percents as `flames.evaluate` stores them (100 * correct / n, two decimals); the
tables print one decimal. Our accuracies carry their Wilson score intervals (`eval/<b>/accuracy_ci_low`,
`_ci_high`; Avg's from the benchmarks' standard errors): a Δ against the paper says whether the paper's
number lies inside ours. Differences between two of our cells are paired, item by item, from their
prediction files (`flames.stats.paired_comparison`), each with its interval and p-value; cells that
differ only in `student.seed` are also summarised as mean ± sd.
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flames.benchmarks import LABELS, PAPER_AVG, PAPER_ORDER, paper_average
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
# The paper's numbers. Every value is one notes/paper.md gives (in ../shared/notes/, "l." = its line);
# what the notes mark NOT FOUND is left out. `axes` are the study's axis values (conf/study/<name>.yaml)
# that the paper row corresponds to; a row with `compare: False` is no cell of ours (another training set,
# or a model the paper does not name): shown for context, never subtracted. Values use cell_row's keys.


def _ref(axes: dict[str, str], cite: str, label: str = "", compare: bool = True, **values: float) -> dict:
    """One paper row; `values` by short name: kept, train, avg, or a benchmark (its accuracy)."""
    short = {"kept": KEPT, "train": TRAIN, "avg": AVG}
    return {"axes": axes, "cite": cite, "label": label, "compare": compare,
            "values": {short.get(k) or f"eval/{k}/accuracy": v for k, v in values.items()}}


def _qc(strategy: str, fixed_size: str) -> dict[str, str]:
    return {"qc": strategy, "qc.fixed_size": fixed_size}


# FLAMES Small's full row (Table 11), shared by the mixture and the scale studies.
_SMALL = dict(gsm8k=85.2, math=60.0, college_math=41.4, gsmplus_distraction=72.2, gsmplus=74.7,
              olympiadbench=26.1, avg=57.5, train=150_000)

PAPER: dict[str, dict[str, Any]] = {
    "table1_qc": {
        "note": "The paper's Table 1 Avg averages benchmarks the notes could not identify (notes/paper.md "
                "l.170: its ~70-74 is far above the five-benchmark Avg of Table 2, so probably fewer, such as "
                "GSM8K + MATH). Ours is the five-benchmark Avg: its deltas compare two different averages.",
        "rows": [
            # Size allowed to vary: kept from the §4 strategy table (l.163-166), Avg from l.174-176.
            _ref(_qc("strict", "null"), "§4, l.163 and l.174-176", label="Strict", kept=45_000, avg=69.7),
            _ref(_qc("majority", "null"), "§4, l.164 and l.174-176", label="Majority", kept=90_000, avg=72.0),
            _ref(_qc("first", "null"), "§4, l.165 and l.174-176", label="First", kept=150_000, avg=73.0),
            _ref(_qc("majority_first", "null"), "§4, l.166 and l.174-176", label="Majority+First",
                 kept=150_000, avg=73.7),
            # Size fixed at 45K (l.178); the order Strict / Majority / First / Majority+First is the notes'
            # inference (the source lists the four numbers "in the same order as above").
            _ref(_qc("strict", "45000"), "§4, l.178", label="Strict @45K", kept=45_000, avg=69.7),
            _ref(_qc("majority", "45000"), "§4, l.178", label="Majority @45K", kept=45_000, avg=69.1),
            _ref(_qc("first", "45000"), "§4, l.178", label="First @45K", kept=45_000, avg=69.6),
            _ref(_qc("majority_first", "45000"), "§4, l.178", label="Majority+First @45K", kept=45_000, avg=69.8),
        ],
    },
    "table2_agents": {
        "note": "Only four numbers of Table 2 are known (notes/paper.md l.263). Distraction: the paper's set "
                "is presumably GSM-Plus test's distraction items; ours is the 300 of testmini (docs/evaluation.md).",
        "rows": [
            # §3.2: 150K problems per agent (l.127), the student trained on all of them.
            _ref({"agent": "suggester_editor"}, "§3.2, l.127 and l.129", label="Suggester-Editor",
                 train=150_000, avg=57.4),
            _ref({"agent": "iqc"}, "§3.2, l.127 and l.130", label="IQC", train=150_000, avg=56.9),
            _ref({"agent": "taxonomy_key_concepts"}, "§3.2, l.127 and l.131", label="Taxonomy-Based Key Concepts",
                 train=150_000, college_math=40.9),
            _ref({"agent": "distraction_insertion"}, "§3.2, l.127 and l.132", label="Distraction Insertion",
                 train=150_000, gsmplus_distraction=72.4),
        ],
    },
    "table5_models": {
        "note": "MATH5K only (l.215). The weaker teacher is the paper card's DeepSeek-7B-RL, read as "
                "deepseek-math-7b-rl (l.203, our inference); the weaker problem generator is NOT FOUND (l.202), "
                "ours is Qwen2.5-7B-Instruct (our inference), so that row is context only.",
        "rows": [
            # The baseline is the paper's own pair: Qwen2.5-32B-Instruct writes, Qwen2.5-Math-7B-Instruct solves.
            _ref({"problem_model": "qwen2.5-32b-instruct", "solution_model": "qwen2.5-math-7b-instruct"},
                 "§5, l.215-217", label="baseline", train=50_000, math=56.4),
            _ref({"problem_model": "(other, not named)", "solution_model": "qwen2.5-math-7b-instruct"},
                 "§5, l.216", label="other problem generator", compare=False, train=50_000, math=54.9),
            _ref({"problem_model": "qwen2.5-32b-instruct", "solution_model": "deepseek-math-7b-rl"},
                 "§5, l.217; l.203", label="weaker solution teacher", train=50_000, math=49.3),
        ],
    },
    "table11_mixtures": {
        "note": "Only FLAMES Small's row of Table 11 is known (l.271).",
        "rows": [_ref({"mixture": "flames_small"}, "§8, l.265-269", label="FLAMES Small", **_SMALL)],
    },
    "scale": {
        "note": "FLAMES Small is Table 11's row; Large and XL are Tables 3/9 (averages only).",
        "rows": [
            _ref({"mixture": "flames_small"}, "§8, l.265-269", label="FLAMES Small", **_SMALL),
            _ref({"mixture": "flames_large"}, "§8, l.278; size l.311", label="FLAMES Large",
                 train=1_000_000, avg=61.7),
            _ref({"mixture": "flames_xl"}, "§8, l.279; size l.312", label="FLAMES XL", train=1_500_000, avg=65.8),
            _ref({"mixture": "(refreshed ScaleQuest)"}, "§8, l.277", label="refreshed ScaleQuest",
                 compare=False, avg=60.0),
        ],
    },
    "transfer": {
        "note": "Averages per student (Tables 4/10), FLAMES Large against refreshed ScaleQuest; the "
                "DeepSeek-Math-7B row is Table 3/9's.",
        "rows": [
            _ref({"student": "deepseek-math-7b-base"}, "§8, l.278", label="FLAMES Large", train=1_000_000, avg=61.7),
            # Qwen2.5-Math-7B: Avg l.288, OlympiadBench l.293, MATH5K l.294 (Figure 1, l.47).
            _ref({"student": "qwen2.5-math-7b"}, "§8, l.288, l.293-294", label="FLAMES Large", train=1_000_000,
                 avg=69.5, olympiadbench=40.9, math=81.4),
            _ref({"student": "qwen2.5-14b"}, "§8, l.289", label="FLAMES Large", train=1_000_000, avg=67.4),
            _ref({"student": "mathstral-7b"}, "§8, l.290", label="FLAMES Large", train=1_000_000, avg=61.1),
            _ref({"student": "mistral-7b-v0.3"}, "§8, l.291", label="FLAMES Large", train=1_000_000, avg=57.5),
            _ref({"student": "qwen2.5-math-7b"}, "§8, l.288, l.293", label="refreshed ScaleQuest", compare=False,
                 avg=69.2, olympiadbench=41.3),
            _ref({"student": "qwen2.5-14b"}, "§8, l.289", label="refreshed ScaleQuest", compare=False, avg=66.2),
            _ref({"student": "mathstral-7b"}, "§8, l.290", label="refreshed ScaleQuest", compare=False, avg=59.0),
            _ref({"student": "mistral-7b-v0.3"}, "§8, l.291", label="refreshed ScaleQuest", compare=False, avg=54.8),
        ],
    },
}


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
# Paper rows and deltas


def paper_refs(name: str) -> list[dict]:
    """The paper's rows for study `name` (none for a study the paper has no numbers for)."""
    return list((PAPER.get(name) or {}).get("rows", []))


def matches(ref: dict, row: dict) -> bool:
    """A comparable paper row matches a cell whose axes take every value the paper row names."""
    return ref["compare"] and all(str(row.get(axis)) == value for axis, value in ref["axes"].items())


def delta(row: dict, ref: dict) -> dict:
    """ours - paper for every value both have (rounded to the stored two decimals)."""
    return {k: round(row[k] - v, 2) for k, v in ref["values"].items() if _number(row.get(k)) is not None}


def paper_in_interval(row: dict, ref: dict) -> dict:
    """`<value>_paper_in_ci`: whether the paper's number lies inside our interval, for every value both
    have and ours has an interval for. The paper's items are not ours: no paired test is possible."""
    out = {}
    for k, v in ref["values"].items():
        low, high = _number(row.get(k + LOW)), _number(row.get(k + HIGH))
        if _number(row.get(k)) is not None and None not in (low, high):
            out[f"{k}_paper_in_ci"] = low <= v <= high
    return out


def _number(v: Any) -> float | None:
    """A finite number, or None (missing, NaN, or not a number)."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


# ---------------------------------------------------------------------------------------------------
# Report files


def write_report(name: str, cells: list[Cell], out_dir: Path, axes: list[str]) -> list[Path]:
    """`<out_dir>/<name>.md`, `<name>.csv` and the PNG plots for a study's cells; returns their paths."""
    rows = [cell_row(c) for c in cells]
    return write_rows(name, rows, out_dir, axes, [_provenance(c) for c in cells], paired_rows(cells))


def write_rows(name: str, rows: list[dict], out_dir: Path, axes: list[str],
               provenance: list[str] | None = None, paired: list[dict] | None = None) -> list[Path]:
    """The report files from rows already made (cell_row's, or hand-built); `paired`: paired_rows' (needs
    the cells' prediction files, so rows read back from W&B have none)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    refs = paper_refs(name)
    md, table = out_dir / f"{name}.md", out_dir / f"{name}.csv"
    md.write_text(markdown(name, rows, refs, axes, provenance, paired))
    write_csv(table, rows, refs, axes)
    return [md, table, *plots(name, rows, refs, axes, out_dir)]


def _provenance(cell: Cell) -> str:
    """Where a cell's numbers were read: its solution_qc, mix and evaluate artifacts."""
    parts = [f"{r.stage}{f'[{r.label}]' if r.label else ''} {r.artifact.path}"
             + ("" if r.artifact.complete else " (missing)")
             for r in cell.results if r.stage in ("solution_qc", "mix", "evaluate")]
    return f"{_label(cell.axes)}: " + "; ".join(parts)


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


def _columns(rows: list[dict], refs: list[dict], axes: list[str]) -> list[tuple[str, str]]:
    """(header, row key) of the main table: axes, source, kept, training examples where they differ, accuracies."""
    cols = [(a, a) for a in axes] + [("source", SOURCE), ("Kept", KEPT)]
    # Shown where it says something: a mixture's budget differs from what QC kept, or the paper gives a size.
    if any(None not in (r.get(TRAIN), r.get(KEPT)) and r[TRAIN] != r[KEPT] for r in rows) or any(
            TRAIN in ref["values"] for ref in refs):
        cols.append(("Train ex.", TRAIN))
    cols += [(LABELS.get(b, b), f"eval/{b}/accuracy") for b in _benchmarks(rows, refs, subsets=False)]
    return cols + [("Avg", AVG), ("status", STATUS)]


def display_rows(rows: list[dict], refs: list[dict]) -> list[dict]:
    """Each cell's row, each matching paper row after it with the delta ours - paper; then the paper rows no
    cell matched. Every row has SOURCE (ours | paper | delta); paper and delta rows carry `ref` (the index)."""
    out, used = [], set()
    for row in rows:
        out.append({**row, SOURCE: "ours"})
        for i, ref in enumerate(refs):
            if matches(ref, row):
                used.add(i)
                out.append(_paper_row(ref, i, row))
                diff = delta(row, ref)
                if diff:  # a Δ row only where there is something to subtract
                    out.append({**row, STATUS: None, KEPT: None, TRAIN: None, **_blank(row), **diff,
                                **paper_in_interval(row, ref), SOURCE: "delta", "ref": i, "label": ref["label"],
                                "cite": ref["cite"]})
    return out + [_paper_row(ref, i, ref["axes"]) for i, ref in enumerate(refs) if i not in used]


def _blank(row: dict) -> dict:
    return {k: None for k in row if k.startswith("eval/")}


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


def _paper_row(ref: dict, i: int, axes_from: dict) -> dict:
    axes = {**{k: v for k, v in axes_from.items() if not is_metric(k) and k != SOURCE}, **ref["axes"]}
    return {**axes, **ref["values"], SOURCE: "paper", "ref": i, "label": ref["label"], "cite": ref["cite"]}


def markdown(name: str, rows: list[dict], refs: list[dict], axes: list[str],
             provenance: list[str] | None = None, paired: list[dict] | None = None) -> str:
    """The study's Markdown report: where the numbers come from, the table, subsets, paper sources."""
    shown = display_rows(rows, refs)
    cols = _columns(rows, refs, axes)
    lines = [f"# Study {name}", "",
             "Our rows are read from each cell's artifact manifests (nothing recomputed): Kept = `records_out` "
             "of solution_qc summed over the cell's agents; Train ex. = `records_out` of mix; a benchmark = "
             "`metrics.<benchmark>.accuracy` of evaluate (percent correct, as stored); Avg = the paper's "
             "five-benchmark mean (`flames.benchmarks.paper_average`, only when all five were evaluated). "
             "`paper [i]` rows are the paper's numbers from notes/paper.md (sources below); `Δ` rows are "
             "ours − paper where both exist, with `(in CI)` / `(outside CI)`: whether the paper's number lies "
             "inside our interval (below). `-`: no number (artifact missing, not evaluated, or not published).",
             ""]
    note = (PAPER.get(name) or {}).get("note")
    if note:
        lines += [f"Note: {note}", ""]
    lines += _md_table([h for h, _ in cols], [[_md_cell(r, k) for _, k in cols] for r in shown])
    subset_names = _benchmarks(rows, [], subsets=True)
    if subset_names:
        keys = [f"eval/{s}/accuracy" for s in subset_names]
        lines += ["", "## Subsets (accuracy %)", ""]
        lines += _md_table([*axes, *subset_names], [[_md_cell(r, k) for k in [*axes, *keys]] for r in rows])
    lines += _uncertainty_sections(rows, axes, paired or [])
    if refs:
        lines += ["", "## Paper rows", ""]
        lines += [f"- [{i}] {ref['label'] or _label(ref['axes'])}: notes/paper.md {ref['cite']}"
                  + ("" if ref["compare"] else " (no cell of ours: for context)") for i, ref in enumerate(refs)]
    if provenance:
        lines += ["", "## Artifacts read", ""] + [f"- {p}" for p in provenance]
    return "\n".join(lines) + "\n"


def _uncertainty_sections(rows: list[dict], axes: list[str], paired: list[dict]) -> list[str]:
    """Our intervals, the paired differences between cells, and means over training seeds (each when there is one)."""
    lines = []
    keys = [f"eval/{b}/accuracy" for b in _benchmarks(rows, [], subsets=False)] + [AVG]
    if any(r.get(k + LOW) is not None for r in rows for k in keys):
        lines += ["", "## Intervals", "", "Each accuracy with its Wilson score interval (`benchmarks.confidence`, "
                  "95% by default; a percentile bootstrap would collapse to a point at 0% and 100%); Avg's from the "
                  "five benchmarks' standard errors (paired differences: a paired bootstrap).", ""]
        header = [*axes, *(k.split("/")[1] if k != AVG else "Avg" for k in keys)]
        lines += _md_table(header, [[_md_cell(r, a) for a in axes] + [_with_interval(r, k) for k in keys]
                                    for r in rows])
    if paired:
        lines += ["", f"## Paired differences against {paired[0]['baseline']}", "",
                  "Ours − baseline in points on the items both answered (greedy verdicts), with its paired "
                  "bootstrap interval and the exact McNemar test's p-value; a/b only: items only one got right.", ""]
        lines += _md_table(["cell", "benchmark", "n", "Δ points", "interval", "p-value", "cell only", "baseline only"],
                           [[p["cell"], p["benchmark"], str(p["n"]), f"{p['diff']:+.1f}",
                             f"[{p['diff_ci_low']:+.1f}, {p['diff_ci_high']:+.1f}]", f"{p['p_value']:.3g}",
                             str(p["a_only"]), str(p["b_only"])] for p in paired])
    seeds = seed_rows(rows, axes)
    if seeds:
        others = [a for a in axes if a != SEED_AXIS]
        lines += ["", f"## Over training seeds ({SEED_AXIS})", "", "Mean ± sample standard deviation over the "
                  "cells that differ only in the seed.", ""]
        lines += _md_table([*others, "seeds", *(k.split("/")[1] if k != AVG else "Avg" for k in keys)],
                           [[_md_cell(r, a) for a in others] + [str(r["n_seeds"])] + [_mean_sd(r, k) for k in keys]
                            for r in seeds])
    return lines


def _with_interval(row: dict, key: str) -> str:
    n, low, high = _number(row.get(key)), _number(row.get(key + LOW)), _number(row.get(key + HIGH))
    if n is None:
        return "-"
    return f"{n:.1f}" if None in (low, high) else f"{n:.1f} [{low:.1f}, {high:.1f}]"


def _mean_sd(row: dict, key: str) -> str:
    mean, sd = _number(row.get(key)), _number(row.get(key + "_sd"))
    return "-" if mean is None else f"{mean:.1f}" + ("" if sd is None else f" ± {sd:.1f}")


def _md_table(header: list[str], body: list[list[str]]) -> list[str]:
    line = lambda cells: "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"  # noqa: E731
    return [line(header), line(["---"] * len(header)), *map(line, body)]


def _md_cell(row: dict, key: str) -> str:
    v = row.get(key)
    if key == SOURCE:
        return {"ours": "ours", "paper": f"paper [{row.get('ref')}]", "delta": f"Δ [{row.get('ref')}]"}[v]
    if key in (KEPT, TRAIN):
        n = _number(v)
        return "-" if n is None else (f"{int(n):+,}" if row.get(SOURCE) == "delta" else f"{int(n):,}")
    if key.startswith("eval/"):
        n = _number(v)
        if n is None or row.get(SOURCE) != "delta":
            return "-" if n is None else f"{n:.1f}"
        inside = row.get(f"{key}_paper_in_ci")
        return f"{n:+.1f}" + ("" if inside is None else " (in CI)" if inside else " (outside CI)")
    return "-" if v is None else str(v)


def write_csv(path: Path, rows: list[dict], refs: list[dict], axes: list[str]) -> None:
    """Every shown row (ours, paper, delta), raw values as stored; empty where there is no number."""
    shown = display_rows(rows, refs)
    keys = [SOURCE, "ref", "label", "cite", *axes]
    keys += [k for k in dict.fromkeys(k for r in shown for k in r) if k not in keys]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        for r in shown:
            writer.writerow({k: _csv_value(r.get(k)) for k in keys})


def _csv_value(v: Any) -> Any:
    """Empty for no number (None or NaN in a hand-built row), the value as stored otherwise."""
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


# ---------------------------------------------------------------------------------------------------
# Plots


def plots(name: str, rows: list[dict], refs: list[dict], axes: list[str], out_dir: Path) -> list[Path]:
    """Accuracy per benchmark per cell; problems kept vs Avg (studies with a `qc` axis); Avg vs training
    examples (the scale study). Missing numbers are skipped; a plot with none says so instead of staying blank."""
    out = [_save(_accuracy_bars(rows, refs, axes), out_dir / f"{name}_accuracy.png")]
    if "qc" in axes:
        out.append(_save(_scatter(rows, refs, axes, KEPT, "problems kept (solution QC)"),
                         out_dir / f"{name}_kept_vs_avg.png"))
    if name == "scale":
        out.append(_save(_scale_line(rows, refs, axes), out_dir / f"{name}_avg_vs_train_examples.png"))
    return out


def _figure(title: str):
    # Figure + Agg canvas directly: no pyplot, so no global backend or figure registry is touched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title)
    return fig, ax


def _save(fig, path: Path) -> Path:
    fig.savefig(path)
    return path


def _nothing(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} yet (see the status column of the .md)", ha="center", va="center",
            transform=ax.transAxes)


def _cell_name(row: dict, axes: list[str]) -> str:
    return " / ".join(str(row.get(a)) for a in axes) or "cell"


def _accuracy_bars(rows: list[dict], refs: list[dict], axes: list[str]):
    """Grouped bars: one group per benchmark (and Avg), one bar per cell; the paper's numbers as black marks."""
    fig, ax = _figure("Accuracy per benchmark (%)")
    groups = [(LABELS.get(b, b), f"eval/{b}/accuracy") for b in _benchmarks(rows, [], subsets=False)]
    groups.append(("Avg", AVG))
    width = 0.8 / max(1, len(rows))
    drawn = False
    for i, row in enumerate(rows):
        bars = [(g, _number(row.get(k))) for g, (_, k) in enumerate(groups)]
        bars = [(g + i * width, v) for g, v in bars if v is not None]
        if bars:
            drawn_bars = ax.bar([x for x, _ in bars], [v for _, v in bars], width, label=_cell_name(row, axes))
            if len(rows) <= 6:  # the value on each bar (a 0.0 bar is otherwise invisible); more would clutter
                ax.bar_label(drawn_bars, fmt="%.1f", fontsize="x-small", rotation=90, padding=2)
            drawn = True
        paper = [(g + i * width, _number(ref["values"].get(k))) for ref in refs if matches(ref, row)
                 for g, (_, k) in enumerate(groups)]
        paper = [(x, v) for x, v in paper if v is not None]
        if paper:
            ax.scatter([x for x, _ in paper], [v for _, v in paper], marker="_", s=200, color="black", zorder=3,
                       label="paper" if not any(t == "paper" for t in ax.get_legend_handles_labels()[1]) else None)
            drawn = True
    if not drawn:
        _nothing(ax, "accuracy")
        return fig
    ax.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))], [label for label, _ in groups])
    ax.set_ylabel("accuracy %")
    ax.legend(title=" / ".join(axes) or None, fontsize="small")
    return fig


def _scatter(rows: list[dict], refs: list[dict], axes: list[str], x_key: str, x_label: str):
    """Ours and the paper's matching rows: x_key against Avg, each point named by its cell."""
    fig, ax = _figure(f"{x_label} vs Avg")
    ours = [(_number(r.get(x_key)), _number(r.get(AVG)), _cell_name(r, axes)) for r in rows]
    paper = [(_number(ref["values"].get(x_key)), _number(ref["values"].get(AVG)), ref["label"])
             for ref in refs if ref["compare"]]
    drawn = _points(ax, ours, "o", "ours") | _points(ax, paper, "x", "paper")
    if not drawn:
        _nothing(ax, f"cell with both {x_label} and Avg")
        return fig
    _finish_xy(ax, [p for p in ours + paper if None not in p[:2]], x_label)
    return fig


def _scale_line(rows: list[dict], refs: list[dict], axes: list[str]):
    """Avg against training examples, ours and the paper's, each a line in size order."""
    fig, ax = _figure("Avg vs training examples")
    ours = [(_number(r.get(TRAIN)), _number(r.get(AVG)), _cell_name(r, axes)) for r in rows]
    paper = [(_number(ref["values"].get(TRAIN)), _number(ref["values"].get(AVG)), ref["label"])
             for ref in refs if ref["compare"]]
    drawn = _points(ax, ours, "o-", "ours") | _points(ax, paper, "x--", "paper")
    if not drawn:
        _nothing(ax, "cell with both training examples and Avg")
        return fig
    _finish_xy(ax, [p for p in ours + paper if None not in p[:2]], "training examples")
    return fig


def _points(ax, points: list[tuple], style: str, label: str) -> bool:
    """Plot the points that have both coordinates (sorted by x, so a line style joins them in order)."""
    points = sorted((p for p in points if None not in p[:2]), key=lambda p: p[0])
    if not points:
        return False
    ax.plot([p[0] for p in points], [p[1] for p in points], style, label=label)
    for x, y, name in points:
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize="small")
    return True


def _finish_xy(ax, points: list[tuple], x_label: str) -> None:
    xs = [p[0] for p in points]
    if min(xs) > 0 and max(xs) / min(xs) > 100:  # a tiny run next to the paper's 150K: log scale keeps both
        ax.set_xscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel("Avg (accuracy %)")
    ax.legend()
