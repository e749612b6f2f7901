"""The data scorers' summaries (flames.scores, in each solution-QC manifest's `metrics.scores`) as the rows of the
table a run prints under its stage table (flames.report.stage_table), and as flat metrics (W&B summary keys, a study's report columns)."""

from __future__ import annotations

# column -> (summary key, format); a summary from before a key existed shows "-"
COLUMNS = {
    "solve rate": ("solve_rate_mean", "{:.2f}"),
    "easy/medium/hard": ("bands", None),
    "problem tokens (p50)": ("problem_tokens_p50", "{:g}"),
    "solution tokens": ("solution_tokens_mean", "{:.0f}"),
    "novelty vs seed": ("novelty_seed_mean", "{:.2f}"),
    "novelty vs seeds": ("novelty_seeds_mean", "{:.2f}"),
}
FLAT = ("n", "solve_rate_mean", "difficulty_mean", "problem_tokens_mean", "solution_tokens_mean",
        "novelty_seed_mean", "novelty_seeds_mean", "near_dup_share")  # what W&B and a study's rows carry


def scored(results) -> list:
    """The solution-QC results whose manifests hold scores (artifacts computed before the scorers hold none)."""
    return [r for r in results if r.stage == "solution_qc" and (r.manifest.get("metrics") or {}).get("scores")]


def scores_table(results) -> tuple[list[str], list[list]]:
    """(header, rows): per agent and QC strategy, the view's scores and the kept problems' (no rows when no result
    holds scores)."""
    rows = []
    for r in scored(results):
        s = r.manifest["metrics"]["scores"]
        div = s.get("diversity") or {}
        for part in ("all", "kept"):
            summary = s.get(part) or {}
            rows.append([r.label or "-", r.manifest["metrics"].get("strategy", "-"), part, summary.get("n", 0),
                         *(_cell(summary, key, fmt) for key, fmt in COLUMNS.values()),
                         _top(summary.get("topic")), _top(summary.get("level")),
                         *(_diversity(div) if part == "all" else ["", ""])])
    return ["agent", "qc", "problems", "n", *COLUMNS, "top topic", "top level", "distinct 3-grams", "near-dup"], rows


def score_metrics(label: str, scores: dict) -> dict[str, float]:
    """Flat numeric keys of one agent's scores: `scores/<agent>/<all|kept>/<name>`, `scores/<agent>/diversity/..`."""
    out = {f"scores/{label}/{part}/{k}": (scores.get(part) or {}).get(k) for part in ("all", "kept") for k in FLAT}
    out.update({f"scores/{label}/diversity/{k}": v for k, v in (scores.get("diversity") or {}).items()})
    return {k: v for k, v in out.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _cell(summary: dict, key: str, fmt: str | None) -> str:
    value = summary.get(key)
    if value is None:
        return "-"
    if key == "bands":
        return "/".join(str(value.get(b, 0)) for b in ("easy", "medium", "hard"))
    return fmt.format(value)


def _top(counts: dict | None) -> str:
    if not counts:
        return "-"
    name, n = max(((k, v) for k, v in counts.items() if k != "other"), key=lambda kv: kv[1], default=("-", 0))
    return f"{name} ({n})"


def _diversity(div: dict) -> list[str]:
    distinct = div.get("distinct_ngrams")
    return ["-" if distinct is None else f"{distinct:.2f}",
            f"{div.get('near_dup_share', 0):.1%} in {div.get('near_dup_clusters', 0)} clusters"]
