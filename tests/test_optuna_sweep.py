"""`flames -m experiment=optuna_mixture` (conf/experiment/optuna_mixture.yaml): Optuna's sweeper searches
mixture=blend's agent weights, and each trial's objective is the run's mean accuracy (flames.cli.app).

The config test composes the example (fast); the sweep runs 2 trials end to end on the scripted backend and a
tiny student (two trainings under torchrun: ~1.5 min on 2 cores, so in the full tier)."""

from __future__ import annotations

import json

import pytest
import yaml
from hydra import compose, initialize_config_dir

from flames.cli import CONF_DIR
from flames.config import register_configs
from tests.e2e import run_flames
from tests.scripted_backend import BACKEND, scripted_args


def test_the_example_searches_one_weight_per_agent_of_its_blend():
    register_configs()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["experiment=optuna_mixture"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert cfg.mixture.name == "blend" and set(cfg.mixture.agents) == set(cfg.mixture.weights)
    # every agent of the blend has its weight in the search space, and nothing else is searched
    assert dict(sweeper.params) == {f"mixture.weights.{a}": "interval(0.1, 1.0)" for a in cfg.mixture.weights}


@pytest.mark.slow
def test_two_optuna_trials_each_train_and_evaluate_their_own_blend(tmp_path, tiny_student):
    args = ["-m", "experiment=optuna_mixture", "hydra.sweeper.n_trials=2", "logger=none",
            *scripted_args(tmp_path), f"benchmarks.backend={BACKEND}", f"student.name={tiny_student}",
            "student.max_steps=1", "benchmarks.builtin_count=4"]
    proc = run_flames(args, tmp_path / "cwd", tmp_path / "store", timeout=1800)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    (sweep,) = (tmp_path / "cwd").glob("outputs/multirun/*/*")
    trials = {}  # job number -> the weights Optuna gave it
    for job in sorted(p for p in sweep.iterdir() if p.name.isdigit()):
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        trials[job.name] = {o.split("=")[0].split(".")[-1]: float(o.split("=")[1])
                            for o in overrides if o.startswith("mixture.weights.")}
    assert sorted(trials) == ["0", "1"] and trials["0"] != trials["1"], trials
    assert all(set(w) == {"paraphrase", "distraction_insertion"} and min(w.values()) >= 0.1 for w in trials.values())
    # each trial mixed its own weights to the budget, shares normalized, and evaluated the model it trained
    store = tmp_path / "store"
    mixes = [json.loads(p.read_text()) for p in (store / "mix").glob("*/manifest.json")]
    assert sorted(sorted(m["config"]["weights"].items()) for m in mixes) == \
        sorted(sorted(w.items()) for w in trials.values())
    for m in mixes:
        w, total = m["config"]["weights"], sum(m["config"]["weights"].values())
        assert m["metrics"]["taken"] == {a: round(16 * x / total) for a, x in w.items()}, m["metrics"]
    evals = [json.loads(p.read_text()) for p in (store / "evaluate").glob("*/manifest.json")]
    trained = {p.parent.name for p in (store / "train").glob("*/_COMPLETE")}
    assert len(evals) == 2 and {e["inputs"]["model"]["key"] for e in evals} == trained and len(trained) == 2
    assert all(e["metrics"]["builtin"]["n"] == 4 for e in evals)
    # Optuna got each trial's objective: its best value is one of the two runs' accuracies
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(result["best_params"]) == {f"mixture.weights.{a}" for a in ("paraphrase", "distraction_insertion")}
    assert result["best_value"] in {e["metrics"]["builtin"]["accuracy"] for e in evals}
