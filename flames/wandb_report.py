"""A W&B Report of a study: its table, then panels over its cells' runs (`study.wandb_report=true`).

The runs are the ones a study logs (group = the study's name, job_type = evaluate, the cell's last task);
the report shows the study's Markdown table (flames.tables, numbers from the manifests) above a panel
grid over those runs: accuracy per benchmark and Avg per cell, problems kept vs Avg, the training curves.
`build_report` makes the object without network access when an entity is given (tests build it and look
inside); `save_report` uploads it and needs a W&B login. Built with wandb-workspaces (imported here only).
"""

from __future__ import annotations

from typing import Any


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
        wr.LinePlot(title="Training loss", x="Step", y=["train/loss"]),
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
