"""Hydra callbacks: what a sweep prints and writes when all of its jobs are done."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from omegaconf import OmegaConf

from flames import agent_costs

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    """After `flames -m ...`: the agents' calls and tokens per problem over every job, printed and saved, and
    the sweep's tables and plots (one row per job, as a study's: docs/report.md) in <sweep dir>/report/."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            paths = sweep_report(sweep_dir)
        except Exception:  # noqa: BLE001 - the sweep's jobs are done; a report it cannot write is only logged
            log.exception("could not write the sweep's report in %s", sweep_dir / "report")
        else:
            if paths:
                print(f"Report: {paths[0]}", flush=True)
        rows = agent_costs.gather(sweep_dir)
        if not rows:
            return
        table = agent_costs.cost_table(rows)
        (sweep_dir / "agent_costs.txt").write_text(table + "\n")
        print(f"\nAgents over the sweep ({sweep_dir})\n{table}\n", flush=True)


def sweep_report(sweep_dir: Path) -> list[Path]:
    """Each job's artifacts, planned again from its saved config, as a table row; the axes are the overrides
    whose values differ between jobs. Numbers come from the manifests (flames.report)."""
    from flames.config import Config
    from flames.pipeline import Pipeline
    from flames.report import Cell, write_report

    def saved_config(job: Path):  # typed by the schema, as the job had it: keys hash typed values
        return OmegaConf.merge(OmegaConf.structured(Config), OmegaConf.load(job / ".hydra" / "config.yaml"))

    jobs = sorted((p.parent.parent for p in sweep_dir.glob("*/.hydra/config.yaml")), key=lambda d: d.name)
    overrides = [dict(o.split("=", 1) for o in OmegaConf.load(j / ".hydra" / "overrides.yaml")) for j in jobs]
    keys = list(dict.fromkeys(k for o in overrides for k in o))
    axes = [k for k in keys if len({o.get(k) for o in overrides}) > 1] or keys
    if not jobs or not axes:
        return []
    cells = [Cell({a: o.get(a, "") for a in axes}, Pipeline(saved_config(j)).plan()) for j, o in zip(jobs, overrides)]
    return write_report("sweep", cells, sweep_dir / "report", axes)
