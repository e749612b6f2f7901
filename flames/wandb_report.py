"""W&B and a study's report: a W&B Report of it (`study.wandb_report=true`), and its tables from W&B runs.

`study.report_from=wandb` builds the study's tables from its cells' W&B runs (online: their config
choices and summaries, which are the manifests' numbers as the runs logged them) where the store is out
of reach, e.g. on a laptop after `wandb sync`.

The runs are the ones a study logs (group = the study's name, job_type = evaluate, the cell's last task);
the report shows the study's Markdown table (flames.report, numbers from the manifests) above a panel
grid over those runs: accuracy per benchmark and Avg per cell, problems kept vs Avg, the training curves.
`build_report` makes the object without network access when an entity is given (tests build it and look
inside); `save_report` uploads it and needs a W&B login. Built with wandb-workspaces (imported here only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flames.report import AVG, KEPT, STATUS, TRAIN, write_rows


def runset_filter(study: str) -> str:
    """The study's cells: its group, the evaluate task of each cell (the run that logs every stage)."""
    return f"Metric('Group') == '{study}' and Metric('JobType') == 'evaluate'"


def build_report(study: str, project: str, entity: str | None, markdown: str, benchmarks: list[str],
                 axes: list[str]) -> Any:
    """The report object; `entity=None` asks W&B for your default entity (network, login)."""
    import wandb_workspaces.reports.v2 as wr

    who = {"entity": entity} if entity else {}
    runs = wr.Runset(**who, project=project, name=study, filters=runset_filter(study),
                     groupby=[f"config.choice/{a}" for a in axes if "." not in a][:1])
    accuracy = [f"eval/{b}/accuracy" for b in benchmarks]
    panels = [
        wr.BarPlot(title="Accuracy per benchmark (%)", metrics=[*accuracy, "eval/avg"], orientation="v"),
        wr.ScatterPlot(title="Problems kept (solution QC) vs Avg", x="solution_qc/records_out", y="eval/avg"),
        wr.LinePlot(title="Training loss", x="train/step", y=["train/loss"]),
    ]
    return wr.Report(project=project, **who, title=f"flames study {study}",
                     description=f"Cells of `flames study={study}`: tables from the artifact manifests, "
                                 "panels from the cells' W&B runs.",
                     blocks=[wr.H1(f"Study {study}"), wr.MarkdownBlock(text=markdown),
                             wr.PanelGrid(runsets=[runs], panels=panels)])


def save_report(report: Any) -> str:
    """Upload the report (a W&B login is needed); its URL."""
    report.save()
    return report.url


def run_row(run: Any, axes: list[str]) -> dict:
    """One cell's table row from its W&B run: axis values from its config (`choice/<group>` for a config
    group, the dotted key for a value), numbers from its summary, in flames.report's columns."""
    config, summary = dict(run.config), dict(run.summary)
    row: dict[str, Any] = {a: _as_typed(config.get(f"choice/{a}", config.get(a))) for a in axes}
    row[KEPT] = summary.get("solution_qc/records_out")
    row[TRAIN] = summary.get("mix/records_out")
    row.update({k: _last(v) for k, v in summary.items() if k.startswith("eval/") and k.endswith("/accuracy")})
    row[AVG] = summary.get("eval/avg")
    row[STATUS] = "done" if run.state == "finished" else f"W&B run {run.state}"
    return row


def _last(value: Any) -> Any:
    """A summary's latest value: an accuracy's summary is {"max": ..., "last": ...} (a run from before: the number)."""
    return value.get("last") if isinstance(value, dict) else value


def _as_typed(value: Any) -> str:
    """An axis value as the command line (and a store-built report) writes it."""
    return "null" if value is None else str(value)


def study_runs(study: str, project: str, entity: str | None) -> list:
    """The study's cell runs on W&B (needs a login)."""
    import wandb

    path = f"{entity}/{project}" if entity else project
    return list(wandb.Api().runs(path, filters={"group": study, "jobType": "evaluate"}))


def report_from_runs(study: str, runs: list, out_dir: Path, axes: list[str]) -> list[Path]:
    """The study's tables and plots from its W&B runs (one row per run)."""
    rows = [run_row(r, axes) for r in runs]
    return write_rows(study, rows, out_dir, axes, provenance=[f"W&B run {r.id} ({r.name})" for r in runs])
