"""A study's report files: the markdown tables (with the paper's rows and our intervals) and the CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from flames.benchmarks import LABELS
from flames.report.diagnostics import audit_lines, diagnose, format_findings, long_tail_lines
from flames.report.paper import PAPER, delta, matches, paper_in_interval, paper_refs
from flames.report.plots import plots
from flames.report.proxy import proxy_section
from flames.report.rows import (AVG, HIGH, KEPT, LOW, SEED_AXIS, SOURCE, STATUS, TRAIN, Cell, _benchmarks, _label, _number,
                                cell_row, is_metric, paired_rows, seed_rows)


# ---------------------------------------------------------------------------------------------------
# Report files


def write_report(name: str, cells: list[Cell], out_dir: Path, axes: list[str],
                 paired: list[dict] | None = None) -> list[Path]:
    """`<out_dir>/<name>.md`, `<name>.csv` and the PNG plots for a study's cells; returns their paths. `paired`:
    the paired differences to print (default: every cell against the first, `study_pairs(cells)`)."""
    rows = [cell_row(c) for c in cells]
    paired = study_pairs(cells) if paired is None else paired
    return write_rows(name, rows, out_dir, axes, [_provenance(c) for c in cells], paired,
                      format_findings(diagnose(cells, rows)), audit_lines(cells),
                      long_tail_lines(cells) + [""] + long_tail_lines(cells, "level"))


def study_pairs(cells: list[Cell], contrasts: bool = False) -> list[dict]:
    """Each cell against the first (the baseline); with `contrasts` (a study's `baseline` cell), also the other
    cells against the first of them: trained cells compared with each other, not only with the untrained one."""
    return paired_rows(cells) + (paired_rows(cells[1:]) if contrasts else [])


def write_rows(name: str, rows: list[dict], out_dir: Path, axes: list[str],
               provenance: list[str] | None = None, paired: list[dict] | None = None,
               findings: list[str] | None = None, audit: list[str] | None = None,
               tail: list[str] | None = None) -> list[Path]:
    """The report files from rows already made (cell_row's, or hand-built); `paired`: paired_rows' (needs
    the cells' prediction files, so rows read back from W&B have none); `findings`, `audit`: the diagnostics'
    lines, the solvability audit's table and the long-tail tables."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    refs = paper_refs(name)
    md, table = out_dir / f"{name}.md", out_dir / f"{name}.csv"
    md.write_text(markdown(name, rows, refs, axes, provenance, paired, findings, audit, tail))
    write_csv(table, rows, refs, axes)
    return [md, table, *plots(name, rows, refs, axes, out_dir)]


def _provenance(cell: Cell) -> str:
    """Where a cell's numbers were read: its solution_qc, mix and evaluate artifacts."""
    parts = [f"{r.stage}{f'[{r.label}]' if r.label else ''} {r.artifact.path}"
             + ("" if r.artifact.complete else " (missing)")
             for r in cell.results if r.stage in ("solution_qc", "mix", "evaluate")]
    return f"{_label(cell.axes)}: " + "; ".join(parts)


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


def _paper_row(ref: dict, i: int, axes_from: dict) -> dict:
    axes = {**{k: v for k, v in axes_from.items() if not is_metric(k) and k != SOURCE}, **ref["axes"]}
    return {**axes, **ref["values"], SOURCE: "paper", "ref": i, "label": ref["label"], "cite": ref["cite"]}


def markdown(name: str, rows: list[dict], refs: list[dict], axes: list[str],
             provenance: list[str] | None = None, paired: list[dict] | None = None,
             findings: list[str] | None = None, audit: list[str] | None = None,
             tail: list[str] | None = None) -> str:
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
    if findings:  # the paper's failure signatures that fire (flames.report.diagnostics); none: no section
        lines += ["", "## Diagnostics: the paper's failure signatures", "", *findings]
    if audit:  # study=solvability_audit
        lines += ["", "## Solvability audit: a second judge on what QC rejected and kept", "", *audit]
    if tail and any(line.startswith("|") for line in tail):  # kept of decided per topic and level
        lines += ["", "## Long tail: what QC kept, by topic and level (kept/decided)", "", *tail]
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
    lines += paired_sections(paired)
    seeds = seed_rows(rows, axes)
    if seeds:
        others = [a for a in axes if a != SEED_AXIS]
        lines += ["", f"## Over training seeds ({SEED_AXIS})", "", "Mean ± sample standard deviation over the "
                  "cells that differ only in the seed.", ""]
        lines += _md_table([*others, "seeds", *(k.split("/")[1] if k != AVG else "Avg" for k in keys)],
                           [[_md_cell(r, a) for a in others] + [str(r["n_seeds"])] + [_mean_sd(r, k) for k in keys]
                            for r in seeds])
    ranked = AVG if any(_number(r.get(AVG)) is not None for r in rows) else keys[0] if len(keys) == 2 else None
    return lines + (proxy_section(rows, axes, ranked) if ranked else [])


def paired_sections(paired: list[dict]) -> list[str]:
    """One Markdown table of paired differences per baseline (the report's, and what a study prints)."""
    lines = []
    for baseline in dict.fromkeys(p["baseline"] for p in paired):
        lines += ["", f"## Paired differences against {baseline}", "",
                  "Ours − baseline in points on the items both answered (greedy verdicts), with its paired "
                  "bootstrap interval and the exact McNemar test's p-value; a/b only: items only one got right.", ""]
        lines += _md_table(["cell", "benchmark", "n", "Δ points", "interval", "p-value", "cell only", "baseline only"],
                           [[p["cell"], p["benchmark"], str(p["n"]), f"{p['diff']:+.1f}",
                             f"[{p['diff_ci_low']:+.1f}, {p['diff_ci_high']:+.1f}]", f"{p['p_value']:.3g}",
                             str(p["a_only"]), str(p["b_only"])] for p in paired if p["baseline"] == baseline])
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
