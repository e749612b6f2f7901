"""The paper's failure signatures, read from a study's cells: each printed with the paper's advice when it fires.

The four signatures and their advice are the paper card's ("Failure signatures", notes/seed-paper-card.md). Its
first threshold is the card's own (a solvability filter removing more than 30% of problems); the others say only
"large", "low" and "does not improve", so the thresholds are ours, anchored on the paper's FLAMES Small row
(Table 11, the blend the paper calls balanced: GSM8K 85.2, MATH 60.0, CollegeMath 41.4, OlympiadBench 26.1,
GSM-Plus Distraction 72.2) plus a margin of `MARGIN` points:

- distraction gap: GSM8K - GSM-Plus Distraction above FLAMES Small's 13.0 + MARGIN;
- out-of-domain: mean(GSM8K, MATH) - mean(CollegeMath, OlympiadBench) above FLAMES Small's 38.9 + MARGIN;
- scale: among cells that differ only in size, the largest's average no higher than the smallest's (a cell that
  learned nothing, every accuracy 0, says nothing and is skipped).
A signature that does not fire prints nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean
from typing import Any

from flames.report.rows import AVG, TRAIN, _label, _number, cell_row

SOLVABILITY_DROP = 0.30  # the paper card's: "Solvability filter removes >30% of problems"
MARGIN = 5.0  # points above FLAMES Small's own gap (ours)
DISTRACTION_GAP = 85.2 - 72.2 + MARGIN  # GSM8K - GSM-Plus Distraction (FLAMES Small, Table 11)
DOMAIN_GAP = (85.2 + 60.0) / 2 - (41.4 + 26.1) / 2 + MARGIN  # in-domain - out-of-domain (FLAMES Small)
SIZE_AXES = ("mixture", "mixture.budget", "mixture.budget_cap", "agent.num_problems", "qc.fixed_size")


@dataclass
class Finding:
    signature: str  # which of the card's failure signatures
    cell: str  # where it fired
    evidence: str  # the numbers
    advice: str  # the paper card's advice


def diagnose(cells: list[Any], rows: list[dict]) -> list[Finding]:
    """Every signature that fires in a study's cells (`flames.report.Cell`) and rows (`cell_row`'s)."""
    found = [f for cell in cells for f in _solvability(cell)]
    found += [f for row in rows for f in (*_distraction(row), *_domain(row))]
    return found + _scale(rows)


def _solvability(cell: Any) -> list[Finding]:
    out = []
    for r in cell.results:
        if r.stage != "solution_qc" or not r.artifact.complete:
            continue
        m = r.manifest
        if "Solvability" not in str((m.get("config") or {}).get("qc.strategy", "")):
            continue
        judged, removed = m.get("records_in") or 0, (m.get("dropped") or {}).get("unsolvable", 0)
        if judged and removed / judged > SOLVABILITY_DROP:
            where = _label(cell.axes) + (f" [{r.label}]" if r.label else "")
            out.append(Finding("solvability filter removes >30% of problems", where,
                               f"{removed:,} of {judged:,} judged unsolvable ({100 * removed / judged:.0f}%)",
                               "the filter is rejecting legitimate hard problems; switch to the First strategy "
                               "(qc=first), or audit what it rejected (study=solvability_audit)"))
    return out


def _distraction(row: dict) -> list[Finding]:
    gsm, distr = _acc(row, "gsm8k"), _acc(row, "gsmplus_distraction")
    if None in (gsm, distr) or gsm - distr <= DISTRACTION_GAP:
        return []
    return [Finding("large GSM8K -> GSM-Plus Distraction gap", _cell(row),
                    f"GSM8K {gsm:.1f} - Distraction {distr:.1f} = {gsm - distr:.1f} points (FLAMES Small: 13.0)",
                    "insufficient robustness training; add the Distraction Insertion agent "
                    "(or raise its share of the mixture)")]


def _domain(row: dict) -> list[Finding]:
    ind = [_acc(row, b) for b in ("gsm8k", "math")]
    ood = [_acc(row, b) for b in ("college_math", "olympiadbench")]
    if None in ind + ood or fmean(ind) - fmean(ood) <= DOMAIN_GAP:
        return []
    return [Finding("low out-of-domain with high in-domain scores", _cell(row),
                    f"in-domain (GSM8K, MATH) {fmean(ind):.1f} - out-of-domain (CollegeMath, OlympiadBench) "
                    f"{fmean(ood):.1f} = {fmean(ind) - fmean(ood):.1f} points (FLAMES Small: 38.9)",
                    "too much in-domain practice data; add complexity agents (suggester_editor, iqc) or "
                    "taxonomy_key_concepts")]


def _scale(rows: list[dict]) -> list[Finding]:
    """Cells equal but for their size: the largest no better than the smallest."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = tuple(sorted((k, str(v)) for k, v in row.items() if _is_axis(k) and k not in SIZE_AXES))
        groups.setdefault(key, []).append(row)
    out = []
    for group in groups.values():
        sized = sorted((r for r in group if _number(r.get(TRAIN)) and _score(r) is not None), key=lambda r: r[TRAIN])
        if len(sized) < 2 or sized[0][TRAIN] == sized[-1][TRAIN] or not any(_score(r) for r in sized):
            continue
        small, large = sized[0], sized[-1]
        if _score(large) <= _score(small):
            out.append(Finding("scale does not improve results", f"{_cell(small)} -> {_cell(large)}",
                               f"average {_score(small):.1f} at {small[TRAIN]:,} examples, {_score(large):.1f} at "
                               f"{large[TRAIN]:,}",
                               "check the solution model's quality: solution errors may grow with scale "
                               "(compare solution models: study=table5_models)"))
    return out


def _acc(row: dict, bench: str) -> float | None:
    return _number(row.get(f"eval/{bench}/accuracy"))


def _score(row: dict) -> float | None:
    """The paper's Avg, else the mean of the benchmarks evaluated."""
    avg = _number(row.get(AVG))
    if avg is not None:
        return avg
    accs = [_number(v) for k, v in row.items() if k.startswith("eval/") and k.count("/") == 2
            and k.endswith("/accuracy")]
    accs = [a for a in accs if a is not None]
    return fmean(accs) if accs else None


def _is_axis(key: str) -> bool:
    return not (key.startswith("eval/") or key.startswith("_") or key in (TRAIN, AVG, "problems_kept", "status"))


def _cell(row: dict) -> str:
    return _label({k: v for k, v in row.items() if _is_axis(k)})


def format_findings(findings: list[Finding]) -> list[str]:
    """Markdown lines: one per finding (none when nothing fired)."""
    return [f"- **{f.signature}** ({f.cell}): {f.evidence}. Advice (paper card): {f.advice}." for f in findings]


def diagnostics(cells: list[Any]) -> list[str]:
    """The lines a study prints under its report: each signature that fires, with the advice."""
    return format_findings(diagnose(cells, [cell_row(c) for c in cells]))


def audit_lines(cells: list[Any]) -> list[str]:
    """The solvability audit's rows (stage `audit`, study=solvability_audit): per cell and group, the share a second
    judge (or a human label) finds solvable, with its 95% Wilson interval. None without an audit."""
    out = []
    for cell in cells:
        for r in cell.results:
            if r.stage != "audit" or not r.artifact.complete:
                continue
            where = _label(cell.axes) + (f" [{r.label}]" if r.label else "")
            for group, m in r.manifest["metrics"].items():
                share = (f"{m['solvable']} of {m['decided']} solvable, {m['solvable_pct']:.1f}% "
                         f"[{m['ci_low']:.1f}, {m['ci_high']:.1f}]") if m.get("decided") else "none sampled"
                out.append(f"| {where} | {group} | {m['sampled']} | {share} | {m['no_verdict']} |")
    if not out:
        return []
    return ["| cell | group | sampled | solvable (95% Wilson CI) | no verdict |", "|---|---|---|---|---|", *out]


def long_tail_lines(cells: list[Any], axis: str = "topic") -> list[str]:
    """What each cell's QC kept of each topic (or level): kept of decided, summed over its agents (the paper card's
    long-tail check). None when no cell's solution QC recorded it."""
    by_cell: dict[str, dict[str, list[int]]] = {}
    for cell in cells:
        counts: dict[str, list[int]] = {}
        for r in cell.results:
            if r.stage == "solution_qc" and r.artifact.complete:
                for name, c in ((r.manifest.get("metrics") or {}).get("long_tail") or {}).get(axis, {}).items():
                    total = counts.setdefault(name, [0, 0])  # kept, decided
                    total[0] += c["kept"]
                    total[1] += c["kept"] + c["dropped"]
        if counts:
            by_cell[_label(cell.axes)] = counts
    names = sorted({n for counts in by_cell.values() for n in counts})
    if not names or names == ["-"]:
        return []
    cols = list(by_cell)
    head = [f"| {axis} | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    share = lambda c: "-" if not c or not c[1] else f"{c[0]}/{c[1]} ({100 * c[0] / c[1]:.0f}%)"  # noqa: E731
    return head + [f"| {n} | " + " | ".join(share(by_cell[col].get(n)) for col in cols) + " |" for n in names]
