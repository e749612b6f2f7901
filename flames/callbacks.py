"""Hydra callbacks: what a sweep prints when all of its jobs are done."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from flames import agent_costs

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    """After `flames -m ...`: the agents' calls and tokens per problem over every job, printed and saved."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = agent_costs.gather(sweep_dir)
        if not rows:
            return
        table = agent_costs.cost_table(rows)
        (sweep_dir / "agent_costs.txt").write_text(table + "\n")
        print(f"\nAgents over the sweep ({sweep_dir})\n{table}\n", flush=True)
