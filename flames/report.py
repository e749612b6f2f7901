"""The results table printed at the end of a run."""

from __future__ import annotations


def _fmt_table(header: list[str], rows: list[list]) -> str:
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
                     drops, m.get("llm_calls", 0), tokens, f"{m.get('wall_time_s', 0):.1f}s"])
    return _fmt_table(["stage", "agent", "status", "out", "dropped", "llm calls", "tokens", "time"], rows)


def eval_table(metrics: dict) -> str:
    from flames.benchmarks import paper_average

    rows = [[name, m["n"], f"{m['accuracy']:.1f}", m["unparseable"], m["timeouts"]]
            for name, m in metrics.items() if "/" not in name]
    avg = paper_average(metrics)
    if avg is not None:
        rows.append(["Avg (paper: 5 benchmarks)", "", f"{avg:.1f}", "", ""])
    return _fmt_table(["benchmark", "n", "accuracy %", "unparseable", "grader timeouts"], rows)


def format_report(run, store_root, run_dir: str) -> str:
    parts = ["", "Stages", stage_table(run.results)]
    if run.eval_metrics:
        parts += ["", "Evaluation", eval_table(run.eval_metrics)]
    parts += ["", f"Artifact store: {store_root}", f"Run folder:     {run_dir}"]
    for r in run.results:
        if r.stage == "train":
            skipped = r.manifest["metrics"].get("skipped")
            parts.append(f"WARNING: training skipped ({skipped}); evaluated the base model" if skipped
                         else f"Trained model:  {r.artifact.path / 'model'}")
        if r.stage == "evaluate":
            parts.append(f"Predictions:    {r.artifact.data}")
    return "\n".join(parts) + "\n"
