"""A study's plots: accuracy bars, score against size or kept problems, the scale line."""

from __future__ import annotations

from pathlib import Path

from flames.benchmarks import LABELS
from flames.report.paper import matches
from flames.report.rows import AVG, KEPT, TRAIN, _benchmarks, _number


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
    # a cell outside an axis (a study's baseline) has no value there: left out, not "None"
    return " / ".join(str(row[a]) for a in axes if row.get(a) is not None) or "cell"


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
