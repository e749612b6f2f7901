"""The report of a mixture-weight search: `python -m flames.search <sweep dir> [--reference OVERRIDE ...]`.

A search is a Hydra multirun (`flames -m experiment=optuna_mixture`): one folder per trial, each with the overrides
it ran (`.hydra/overrides.yaml`), and Optuna's `optimization_results.yaml`. Each trial's config is composed again
from its overrides and planned (`Pipeline.plan()`: keys only, nothing runs), so its numbers are read from the
store's manifests, as a study's are. The reference (default FLAMES Small, `mixture=flames_small`) is the same
command line with the reference's overrides in place of the searched mixture, at the trials' budget; its
evaluation is read from the store, or the command that computes it is printed. Run it where the sweep ran, with the
same FLAMES_STORE. Writes `<name>.md`, `.csv` and `.png` (flames.report.search); docs/search.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import yaml
from omegaconf import DictConfig

from flames.config import ConfigError, register_configs
from flames.config.root import CONF_DIR
from flames.pipeline import Pipeline
from flames.report.rows import Cell, cell_row, paired_rows
from flames.report.search import COMPUTED, GEN_CALLS, OBJECTIVE, WEIGHT, best_row, write_search_report
from flames.report.stage_table import STAGES_FILE

DEFAULT_REFERENCE = ["mixture=flames_small"]
GENERATION = ("synthesize", "problem_qc", "solve", "solution_qc")  # the stages that send the problem/solution model


def trial_work(job: Path) -> dict:
    """What the trial's run computed (stage names, once each) and the requests its generation stages sent, from
    its `stages.json`; empty when the run wrote none (it failed, or it predates the file)."""
    path = job / STAGES_FILE
    if not path.exists():
        return {}
    stages = json.loads(path.read_text())
    computed = [s["stage"] for s in stages if s["status"] == "computed"]
    return {COMPUTED: " ".join(dict.fromkeys(computed)) or "-",
            GEN_CALLS: sum(s["llm_calls"] for s in stages if s["stage"] in GENERATION and s["status"] == "computed")}


def trial_dirs(sweep: Path) -> list[Path]:
    """The sweep's job folders (0, 1, ...) in trial order; a folder without any is the user's mistake."""
    if not sweep.is_dir():
        raise ConfigError(f"{sweep}: no such sweep folder (a `flames -m ...` run's outputs/multirun/<date>/<time>)")
    jobs = sorted((p for p in sweep.iterdir() if p.name.isdigit() and (p / ".hydra" / "overrides.yaml").exists()),
                  key=lambda p: int(p.name))
    if not jobs:
        raise ConfigError(f"{sweep}: no trial folders with .hydra/overrides.yaml (is it a multirun sweep folder?)")
    return jobs


def overrides_of(job: Path) -> list[str]:
    return list(yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()) or [])


def compose_config(overrides: list[str]) -> DictConfig:
    """The config `flames <overrides>` runs (the same composition as the CLI's)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            return compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as e:
        raise ConfigError(f"{shlex.join(overrides)}: does not compose: {str(e).splitlines()[0]}") from e


def objective(metrics: dict) -> float | None:
    """The mean accuracy over the benchmarks (not their subsets): what `flames` returned to the sweeper."""
    accs = [m["accuracy"] for name, m in metrics.items() if "/" not in name]
    return round(sum(accs) / len(accs), 4) if accs else None


def planned_row(cfg: DictConfig, axes: dict) -> tuple[dict, Cell]:
    """One row (axes, weights as shares, objective, the accuracies of cell_row) and its cell, from the store."""
    cell = Cell(axes, Pipeline(cfg).plan())
    metrics = next((r.manifest["metrics"] for r in cell.results if r.stage == "evaluate" and r.artifact.complete), {})
    weights = dict(cfg.mixture.weights) if cfg.mixture.name != "single" else {cfg.agent.name: 1.0}
    total = sum(weights.values())
    return {**axes, **{f"{WEIGHT}{a}": round(w / total, 4) for a, w in weights.items()},
            OBJECTIVE: objective(metrics), **cell_row(Cell({}, cell.results))}, cell


def reference_overrides(trial: list[str], reference: list[str], budget: int | None) -> list[str]:
    """The trial's command line without the searched mixture (its weights, its mixture choice), at its budget,
    then the reference's own overrides (which win)."""
    kept = [o for o in trial if not o.lstrip("+~").startswith(("mixture.weights.", "mixture="))]
    return [*kept, *([f"mixture.budget={budget}"] if budget else []), *reference]


def search_report(sweep: Path, reference: list[str], out_dir: Path, name: str) -> tuple[list[Path], str | None]:
    register_configs()
    jobs = trial_dirs(sweep)
    rows, cells, budget = [], {}, None
    for job in jobs:
        cfg = compose_config(overrides_of(job))
        budget = budget or cfg.mixture.budget
        row, cells[job.name] = planned_row(cfg, {"trial": job.name})
        rows.append({**row, **trial_work(job)})
    ref_args = reference_overrides(overrides_of(jobs[0]), reference, budget)
    ref_row, ref_cell = planned_row(compose_config(ref_args), {"reference": " ".join(reference)})
    ref_row["label"] = " ".join(reference)
    best = best_row(rows)
    paired = paired_rows([ref_cell, cells[best["trial"]]]) if best is not None else []
    missing = None if ref_row[OBJECTIVE] is not None else "flames " + shlex.join(ref_args)
    results = sweep / "optimization_results.yaml"
    optuna = yaml.safe_load(results.read_text()) if results.exists() else None
    return write_search_report(name, rows, out_dir, ref_row, paired, missing, optuna, str(sweep)), missing


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m flames.search", description=__doc__.split("\n")[0])
    ap.add_argument("sweep", type=Path, help="the sweep's folder: outputs/multirun/<date>/<time>")
    ap.add_argument("--reference", nargs="+", default=DEFAULT_REFERENCE, metavar="OVERRIDE",
                    help="the reference mixture's overrides over the trials' command line (default: mixture=flames_small)")
    ap.add_argument("--out", type=Path, help="where the report goes (default: <sweep>/report)")
    ap.add_argument("--name", default="search", help="the report files' name")
    args = ap.parse_args(argv)
    try:
        paths, missing = search_report(args.sweep, args.reference, args.out or args.sweep / "report", args.name)
    except (ConfigError, FileNotFoundError) as e:
        print(f"flames: error: {e}", file=sys.stderr)
        return 2
    print("\n".join(str(p) for p in paths))
    if missing:
        print(f"The reference is not evaluated yet; compute it with:\n  {missing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
