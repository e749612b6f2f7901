"""The one entrypoint: `flames [group=option ...] [key=value ...]`, `flames -m ...` for sweeps."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from flames import agent_costs, estimate, export, study
from flames.benchmarks import local_notes
from flames.cluster import launcher_profile
from flames.config import ConfigError, register_configs
from flames.config import root as config_root
from flames.jsonl import JSONLError
from flames.locks import LockTimeout
from flames.llm import TooManyFailures
from flames.logger import RunIdentity, make_logger
from flames.pipeline import Pipeline, UpstreamMissing
from flames.stages import STAGE_BY_NAME
from flames.report import format_report
from flames.report.stage_table import STAGES_FILE, stage_records

log = logging.getLogger("flames")
CONF_DIR = str(config_root.CONF_DIR)  # conf/ of a checkout, else the installed flames.conf (flames.config.root)
# A user's mistake: one line naming the key or file:line, exit code 2 (no traceback; FLAMES_DEBUG=1 shows it).
# A study task whose input a failed job left missing, or a lock wait past paths.lock_timeout_s, ends the same
# way: one line (the study lists it; the lock's line names its holder).
USER_ERRORS = (ConfigError, JSONLError, FileNotFoundError, UpstreamMissing, LockTimeout)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def app(cfg: DictConfig) -> float | None:
    """Run the pipeline up to `stage`; return the mean evaluation accuracy (for sweepers)."""
    from hydra.core.hydra_config import HydraConfig

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    hydra_cfg = HydraConfig.get()
    run_dir = hydra_cfg.runtime.output_dir
    try:
        if cfg.study.name:  # a study plans and submits its cells; it runs no pipeline itself
            profile = launcher_profile(hydra_cfg.launcher)  # `hydra/launcher=<cluster>`: its sbatch settings
            failed = study.run_study(cfg, study_overrides(hydra_cfg.overrides.task), compose_cell, profile)
            sys.exit(1 if failed else 0)
        return run(cfg, run_dir, identity(cfg, hydra_cfg))
    except USER_ERRORS as e:
        if debugging():
            raise
        print(f"flames: error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    except TooManyFailures as e:  # an expected condition (a backend down), not a bug: no traceback
        print(f"flames: stopped: {e}", file=sys.stderr, flush=True)
        sys.exit(3)


def debugging() -> bool:
    """FLAMES_DEBUG=1: a user's mistake shows its traceback too (Hydra's own errors, with HYDRA_FULL_ERROR=1)."""
    return os.environ.get("FLAMES_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def identity(cfg: DictConfig, hydra_cfg) -> RunIdentity:
    """The job as W&B names it: its overrides, its config choices, its stage."""
    choices = {g: str(c) for g, c in hydra_cfg.runtime.choices.items() if c is not None}
    return RunIdentity(list(hydra_cfg.overrides.task), choices, str(getattr(cfg.stage, "value", cfg.stage)))


def run(cfg: DictConfig, run_dir: str, who: RunIdentity | None = None) -> float | None:
    """One job: the pipeline, its tracking, and the printed report."""
    if cfg.distributed.dry_run:  # what a cluster's train job would launch; nothing runs
        print(STAGE_BY_NAME["train"].dry_run(cfg), flush=True)
        return None
    if cfg.export.stage:  # `flames export=<stage>`: this config's artifact as a dataset; nothing runs
        print(export.export(cfg, who.overrides if who else []), flush=True)
        return None
    pipeline = Pipeline(cfg)  # checks the agents' configs before a W&B run or a model starts
    if cfg.dry_run:  # what this run would reuse, compute and send; no W&B run, no model, no file
        print(estimate.dry_run(pipeline), flush=True)
        return None
    logger = pipeline.logger = make_logger(cfg.logger, OmegaConf.to_container(cfg, resolve=True), run_dir,
                                           cfg.experiment, who)
    try:
        result = pipeline.run()
        costs = agent_costs.agent_costs(result.results)
        agent_costs.save(costs, run_dir)  # the sweep summary gathers these
        Path(run_dir, STAGES_FILE).write_text(json.dumps(stage_records(result.results), indent=1))  # a search reads it
        logger.log_agent_costs(costs)
    except BaseException:
        logger.finish(exit_code=1)
        raise
    logger.finish()
    print(format_report(result, pipeline.store.root, run_dir, local_notes(cfg.benchmarks)), flush=True)
    if costs:
        print(f"Agents\n{agent_costs.cost_table(costs)}\n", flush=True)
    accs = [m["accuracy"] for name, m in result.eval_metrics.items() if "/" not in name]
    return sum(accs) / len(accs) if accs else None


def study_overrides(task: list[str]) -> list[str]:
    """The command line's overrides that every cell of a study gets (all but the study's own)."""
    return [o for o in task if not o.lstrip("+~").startswith("study")]


def compose_cell(overrides: list[str]) -> DictConfig:
    """One study cell's config, composed like `flames <overrides>` would (inside the running Hydra app)."""
    from hydra import compose

    return compose(config_name="config", overrides=overrides)


# The groups `flames --help` lists: the top-level ones a user picks, and Hydra's launcher and sweeper. Left out:
# hydra (Hydra's own config), schema/* (the structured configs YAML files extend), model_shape (a model config
# picks its shape) and an agent's paper subgroup (agent_scale picks it). Hydra's $APP_CONFIG_GROUPS lists them
# all and takes no filter, so the help template calls this through a resolver (${flames_config_groups:}).
INTERNAL_GROUPS = ("schema", "model_shape", "hydra")
HYDRA_GROUPS = ("hydra/launcher", "hydra/sweeper")


def user_group(group: str) -> bool:
    return group in HYDRA_GROUPS or ("/" not in group and group not in INTERNAL_GROUPS)


def config_groups_help() -> str:
    """`group: option, option` lines for the help template (`${flames_config_groups:}`), from Hydra's listing."""
    from hydra.core.global_hydra import GlobalHydra

    hydra_app = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    return hydra_app.format_config_groups(user_group) if hydra_app else "(flames --help lists them)"


def main() -> None:
    register_configs()
    # Hydra resolves the help template while it composes any config, and listing the groups takes seconds (it
    # builds Hydra's config repository once per group): only `flames --help` lists them.
    wants_help = any(arg in ("--help", "-h") for arg in sys.argv[1:])
    OmegaConf.register_new_resolver("flames_config_groups", config_groups_help if wants_help else lambda: "",
                                    replace=True)
    mistake = None if debugging() else config_mistake(sys.argv[1:])  # debugging: Hydra's full error
    if mistake:
        print(f"flames: error: {mistake}", file=sys.stderr, flush=True)
        sys.exit(2)
    app()


MULTIRUN = ("-m", "--multirun")
SIMPLE_VALUE = re.compile(r"^[\w./:@+-]*$")  # a sweep value that composes as written


def config_mistake(argv: list[str]) -> str | None:
    """A command line whose config does not compose (unknown option, key or value), said in one line (a group's
    options on a second); None if it composes. Hydra would print the same error over 5-10 lines with exit code 1.
    A sweep (`-m`) is checked value by value: each value of each swept key once, the others at their first.
    Other flags (--cfg, --config-dir, ...), hydra.* overrides and sweeps Hydra must expand (glob, ranges of
    lists) are left to Hydra."""
    multirun = [a for a in argv if a in MULTIRUN]
    overrides = [a for a in argv if a not in MULTIRUN]
    if any(a.startswith("-") or a.lstrip("+~").startswith("hydra") for a in overrides):
        return None
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    runs = single_runs(overrides) if multirun else [overrides]
    try:
        with initialize_config_dir(CONF_DIR, version_base="1.3"):
            for run in runs or []:
                compose(config_name="config", overrides=run)
    except (HydraException, OmegaConfBaseException) as e:
        return one_line(f"{e}\n{e.__cause__}" if e.__cause__ else str(e))
    return None


def single_runs(overrides: list[str]) -> list[list[str]] | None:
    """Single-run command lines that try every value of every sweep once (not their product); None when a sweep
    is one Hydra must expand itself. A line that does not parse is returned as is, for compose to name."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        values = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override()
                  else [o.input_line] for o in parsed]
    except HydraException:  # a glob needs Hydra's config loader; a parse error is compose's to say
        return None if any("glob(" in o for o in overrides) else [overrides]
    if any(not SIMPLE_VALUE.match(v.split("=", 1)[1]) for vs in values if len(vs) > 1 for v in vs):
        return None
    first = [vs[0] for vs in values]
    return [first] + [[*first[:i], alt, *first[i + 1:]] for i, vs in enumerate(values) for alt in vs[1:]]


def one_line(message: str) -> str:
    """Hydra's message without its detail and hint lines or the search path; a group's options on a second line."""
    message = message.split("\nConfig search path:")[0]
    options = [line.strip() for line in message.splitlines() if line.startswith("\t")]
    said = [line.strip() for line in message.splitlines() if line.strip() and not line.startswith((" ", "\t"))
            and not line.startswith(("Set the environment", "To append"))]
    return " ".join(said) + (f"\n  {', '.join(options)}" if options else "")


if __name__ == "__main__":
    main()
