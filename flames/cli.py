"""The one entrypoint: `flames [group=option ...] [key=value ...]`, `flames -m ...` for sweeps."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from flames.config import register_configs

log = logging.getLogger("flames")
# The config root is the repository's conf/ (an editable install keeps it next to the package).
CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def app(cfg: DictConfig) -> float | None:
    """Run the pipeline up to `stage`; return the mean evaluation accuracy (for sweepers)."""
    from hydra.core.hydra_config import HydraConfig

    from flames import agent_costs
    from flames.logger import make_logger
    from flames.pipeline import Pipeline
    from flames.report import format_report

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    run_dir = HydraConfig.get().runtime.output_dir
    logger = make_logger(cfg.logger, OmegaConf.to_container(cfg, resolve=True), run_dir, cfg.experiment)
    pipeline = Pipeline(cfg, logger)
    try:
        run = pipeline.run()
        costs = agent_costs.agent_costs(run.results)
        agent_costs.save(costs, run_dir)  # the sweep summary gathers these
        logger.log_train(run.train_history)
        logger.log_agent_costs(costs)
    except BaseException:
        logger.finish(exit_code=1)
        raise
    logger.finish()
    print(format_report(run, pipeline.store.root, run_dir), flush=True)
    if costs:
        print(f"Agents\n{agent_costs.cost_table(costs)}\n", flush=True)
    accs = [m["accuracy"] for name, m in run.eval_metrics.items() if "/" not in name]
    return sum(accs) / len(accs) if accs else None


def main() -> None:
    register_configs()
    app()


if __name__ == "__main__":
    main()
