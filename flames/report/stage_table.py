"""The results table printed at the end of a run."""

from __future__ import annotations

from flames.benchmarks import LABELS, PAPER_ORDER, paper_average
from flames.report.scores_table import scores_table

STAGES_FILE = "stages.json"  # in each run folder: what the run computed or reused, and the LLM calls it sent


def format_table(header: list[str], rows: list[list]) -> str:
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *map(line, cells[1:])])


def stage_table(results) -> str:
    rows = []
    for r in results:
        m = r.manifest
        drops = ", ".join(f"{k}={v}" for k, v in sorted((m.get("dropped") or {}).items())) or "-"
        tokens = (m.get("prompt_tokens") or 0) + (m.get("completion_tokens") or 0)
        out = m["metrics"].get("examples", m.get("records_out")) if r.stage == "train" else m.get("records_out", "-")
        rows.append([r.stage, r.label or "-", "reused" if r.reused else "computed", out,
                     drops, m.get("llm_calls", 0), tokens, m.get("truncated", "-"),
                     f"{m.get('wall_time_s', 0):.1f}s"])
    return format_table(["stage", "agent", "status", "out", "dropped", "llm calls", "tokens", "hit token limit", "time"],
                      rows)


def stage_records(results) -> list[dict]:
    """What this run did per stage, for `stages.json` in its run folder: computed or reused, and the LLM calls
    it sent (0 for a reused artifact; a grown one counts its manifest's calls). A search reads it per trial."""
    return [{"stage": r.stage, "label": r.label, "status": "reused" if r.reused else "computed",
             "llm_calls": 0 if r.reused else r.manifest.get("llm_calls", 0)} for r in results]


def mixture_lines(results) -> list[str]:
    """A blend's achieved shares under the stage table (what the student trained on, against the weights)."""
    lines = []
    for r in results:
        metrics = r.manifest.get("metrics") or {}
        if r.stage == "mix" and metrics.get("filtered") is not None:  # mixture.filters (flames.scores.filters)
            lines.append("Score filters removed: " + (", ".join(
                f"{name} {k}={n:,}" for name, counts in metrics["filtered"].items() for k, n in counts.items())
                or "nothing"))
        if r.stage != "mix" or len(metrics.get("shares") or {}) < 2:
            continue
        short = metrics.get("shortfall") or {}
        lines.append("Mixture shares: " + ", ".join(
            f"{name} {share:.1%} ({metrics['taken'][name]:,}{f', {short[name]:,} short' if name in short else ''})"
            for name, share in metrics["shares"].items()))
    return lines


def eval_table(metrics: dict, model: str = "student") -> str:
    """The paper-style table (one row for this model), then per-benchmark and per-subset details, then
    the sampled rates when the run drew samples."""
    parts = [paper_table({model: metrics}), detail_table(metrics)]
    if any("k" in m for m in metrics.values()):
        parts.append(sampled_table(metrics))
    return "\n\n".join(parts)


def paper_table(runs: dict[str, dict]) -> str:
    """Accuracy %, one row per model: the paper's columns in its order, then other benchmarks, then Avg.

    The paper's six columns all show (with "-" where not evaluated) as soon as one of them was.
    """
    evaluated = list(dict.fromkeys(b for m in runs.values() for b in m if "/" not in b))
    paper = any(b in PAPER_ORDER for b in evaluated)
    columns = (list(PAPER_ORDER) if paper else []) + [b for b in evaluated if b not in PAPER_ORDER]
    rows = []
    for model, m in runs.items():
        row = [model] + [f"{m[b]['accuracy']:.1f}" if b in m else "-" for b in columns]
        if paper:
            avg = paper_average(m)
            row.append("-" if avg is None else f"{avg:.1f}")
        rows.append(row)
    header = ["model"] + [LABELS.get(b, b) for b in columns] + (["Avg"] if paper else [])
    return format_table(header, rows)


def detail_table(metrics: dict) -> str:
    """n, greedy accuracy with its Wilson interval, and grader counts per benchmark, with its subsets (level=3,
    ...) indented below."""
    rows = [[_name(name), m["n"], f"{m['accuracy']:.1f}", _interval(m, "accuracy"),
             m["unparseable"], m.get("truncated", "-"), m["timeouts"], m.get("disagreements", "-")]
            for name, m in _benchmark_first(metrics) if "n" in m]  # .get: artifacts from before these counts existed
    return format_table(["benchmark", "n", "accuracy %", f"{_level(metrics)} Wilson CI", "unparseable",
                         "hit token limit", "grader timeouts", "disagreements"], rows)


def sampled_table(metrics: dict) -> str:
    """avg-of-k (pass@1 averaged over k samples), maj@k and pass@k in percent, each with its interval: avg-of-k's
    a bootstrap (items, then samples), maj@k's and pass@k's Wilson's (0/1 per item; flames.evaluate)."""
    ks = sorted({m["k"] for m in metrics.values() if "k" in m})
    k = ks[0] if len(ks) == 1 else "k"
    names = ("avg_of_k", "maj_at_k", "pass_at_k")
    rows = [[_name(name), m["k"], *(f"{m[x]:.1f} {_interval(m, x)}" for x in names), m["sampled_unparseable"],
             m["sampled_truncated"]] for name, m in _benchmark_first(metrics) if "k" in m]
    level = _level(metrics)
    return format_table(["benchmark", "k", f"avg@{k} % ({level} bootstrap CI)", f"maj@{k} % ({level} Wilson CI)",
                         f"pass@{k} % ({level} Wilson CI)", "unparseable samples", "samples hit token limit"], rows)


def _name(key: str) -> str:
    return key if "/" not in key else "  " + key.split("/", 1)[1]


def _interval(m: dict, name: str) -> str:
    """`[low, high]` of a metric's interval; "-" for artifacts from before intervals."""
    if f"{name}_ci_low" not in m:
        return "-"
    return f"[{m[f'{name}_ci_low']:.1f}, {m[f'{name}_ci_high']:.1f}]"


def _level(metrics: dict) -> str:
    levels = {m.get("ci_level") for m in metrics.values()} - {None}
    return f"{levels.pop():g}%" if len(levels) == 1 else "95%"


def _benchmark_first(metrics: dict) -> list:
    """Benchmarks in the paper's order, each followed by its subset rows."""
    rank = {b: i for i, b in enumerate(PAPER_ORDER)}
    bench = lambda k: k.split("/", 1)[0]  # noqa: E731
    return sorted(metrics.items(), key=lambda kv: (rank.get(bench(kv[0]), len(rank)), bench(kv[0]), "/" in kv[0]))


def format_report(run, store_root, run_dir: str, notes: list[str] = ()) -> str:
    """The end-of-run summary; `notes` (benchmarks.local_notes) say which sets differ from the paper's."""
    parts = ["", "Stages", stage_table(run.results), *mixture_lines(run.results)]
    header, scores = scores_table(run.results)
    if scores:  # per agent and QC strategy: docs/scorers.md
        parts += ["", "Data scores (solve rate: agreement with the gold or majority answer; docs/scorers.md)",
                  format_table(header, scores)]
    if run.eval_metrics:
        ev = next(r for r in run.results if r.stage == "evaluate")
        mode = ev.manifest["config"].get("grading.mode", "flames")  # keyed (so recorded) only when not flames
        parts += ["", f"Evaluation (grading.mode={mode})", *[f"Note: {n}" for n in notes], eval_table(run.eval_metrics)]
    parts += ["", f"Artifact store: {store_root}", f"Run folder:     {run_dir}"]
    for r in run.results:
        if r.stage == "train":
            skipped = r.manifest["metrics"].get("skipped")
            parts.append(f"WARNING: training skipped ({skipped}); evaluated the base model" if skipped
                         else f"Trained model:  {r.artifact.path / 'model'}")
        if r.stage == "evaluate":
            parts.append(f"Predictions:    {r.artifact.data}")
    return "\n".join(parts) + "\n"
