"""`flames -m experiment=optuna_mixture` (conf/experiment/optuna_mixture.yaml): Optuna's sweeper searches
mixture=blend's agent weights, and each trial's objective is the run's mean accuracy (flames.cli.app).

The config test composes the example (fast). The slow test builds the pools once at the whole budget
(`mixture.pools_at_budget=true stage=solution_qc`), runs 2 trials end to end on the scripted backend and a tiny
student (each computes only mix, train and evaluate), then `python -m flames.search` on the sweep before and after
the reference run it prints (three trainings under torchrun: ~1.5 min on 2 cores, so in the full tier)."""

from __future__ import annotations

import csv
import json
import shlex
import subprocess
import sys

import pytest
import yaml
from hydra import compose, initialize_config_dir

from flames.cli import CONF_DIR
from flames.config import register_configs
from tests.e2e import env_for, run_flames, stage_lines
from tests.scripted_backend import BACKEND, scripted_args

GENERATION = ("synthesize", "problem_qc", "solve", "solution_qc")  # the pools a search builds once


def test_the_example_searches_one_weight_per_agent_of_its_blend():
    register_configs()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["experiment=optuna_mixture"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert cfg.mixture.name == "blend" and set(cfg.mixture.agents) == set(cfg.mixture.weights)
    # every agent of the blend has its weight in the search space, and nothing else is searched
    assert dict(sweeper.params) == {f"mixture.weights.{a}": "interval(0.1, 1.0)" for a in cfg.mixture.weights}


def test_the_signal_search_composes_three_agents_at_the_signal_rehearsals_size():
    register_configs()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["experiment=optuna_signal"], return_hydra_config=True)
    m = cfg.mixture
    assert set(m.weights) == set(m.agents) == {"distraction_insertion", "fobar", "ask_me_anything"}
    assert dict(cfg.hydra.sweeper.params) == {f"mixture.weights.{a}": "interval(0.1, 1.0)" for a in m.weights}
    # the signal rehearsal's teacher and sizes, and its 160 examples (not rehearsal=cpu's blend cap of 16)
    assert cfg.teacher.enabled and cfg.benchmarks.builtin_count == 200 and m.budget == m.budget_cap == 160
    assert cfg.hydra.sweeper.n_trials == 8


@pytest.mark.slow
def test_two_optuna_trials_on_prebuilt_pools_compute_only_mix_train_evaluate_and_the_search_reports(
        tmp_path, tiny_student):
    args = ["experiment=optuna_mixture", "logger=none", *scripted_args(tmp_path), f"benchmarks.backend={BACKEND}",
            f"student.name={tiny_student}", "student.max_steps=1", "benchmarks.builtin_count=4"]
    store, cwd = tmp_path / "store", tmp_path / "cwd"
    # the pools, once, at the whole budget per agent (docs/search.md): no trial asks more of any agent
    pre = run_flames([*args, "stage=solution_qc", "mixture.pools_at_budget=true"], cwd, store, timeout=1800)
    assert pre.returncode == 0, (pre.stdout + pre.stderr)[-3000:]
    assert {m["asked"]["num_problems"] for m in manifests(store, "synthesize")} == {16}
    pools = {s: {p.parent.name for p in (store / s).glob("*/_COMPLETE")} for s in GENERATION}
    proc = run_flames(["-m", *args, "hydra.sweeper.n_trials=2"], cwd, store, timeout=1800)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    log = proc.stdout + proc.stderr
    computed = [line.split(" - ")[1].split(":")[0] for line in stage_lines(log, "computing")]
    assert sorted(computed) == ["evaluate", "evaluate", "mix", "mix", "train", "train"], computed
    assert len([line for line in stage_lines(log, "reused") if line.split(" - ")[1].startswith(GENERATION)]) == 16
    assert {s: {p.parent.name for p in (store / s).glob("*/_COMPLETE")} for s in GENERATION} == pools  # no new pool
    assert all(len(m.get("growths") or []) == 0 for s in GENERATION for m in manifests(store, s))
    (sweep,) = cwd.glob("outputs/multirun/*/*")
    trials = {}  # job number -> the weights Optuna gave it
    for job in sorted(p for p in sweep.iterdir() if p.name.isdigit()):
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        trials[job.name] = {o.split("=")[0].split(".")[-1]: float(o.split("=")[1])
                            for o in overrides if o.startswith("mixture.weights.")}
    assert sorted(trials) == ["0", "1"] and trials["0"] != trials["1"], trials
    assert all(set(w) == {"paraphrase", "distraction_insertion"} and min(w.values()) >= 0.1 for w in trials.values())
    # each trial mixed its own weights to the budget, shares normalized, and evaluated the model it trained
    mixes = manifests(store, "mix")
    assert sorted(sorted(m["config"]["weights"].items()) for m in mixes) == \
        sorted(sorted(w.items()) for w in trials.values())
    for m in mixes:
        w, total = m["config"]["weights"], sum(m["config"]["weights"].values())
        assert m["metrics"]["taken"] == {a: round(16 * x / total) for a, x in w.items()}, m["metrics"]
    evals = manifests(store, "evaluate")
    trained = {p.parent.name for p in (store / "train").glob("*/_COMPLETE")}
    assert len(evals) == 2 and {e["inputs"]["model"]["key"] for e in evals} == trained and len(trained) == 2
    assert all(e["metrics"]["builtin"]["n"] == 4 for e in evals)
    # Optuna got each trial's objective: its best value is one of the two runs' accuracies
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(result["best_params"]) == {f"mixture.weights.{a}" for a in ("paraphrase", "distraction_insertion")}
    assert result["best_value"] in {e["metrics"]["builtin"]["accuracy"] for e in evals}
    check_search_report(sweep, cwd, store, trials, evals)


def check_search_report(sweep, cwd, store, trials, evals):
    """The report before the reference exists prints the command that computes it; that command, run, gives the
    report its paired comparison of the best trial with FLAMES Small at the trials' budget."""
    first = run_module(["flames.search", str(sweep)], cwd, store)
    assert first.returncode == 0, first.stderr[-3000:]
    command = first.stdout.splitlines()[-1].strip()
    assert command.startswith("flames ") and "mixture=flames_small" in command and "mixture.budget=16" in command
    assert "mixture.weights." not in command
    ref = run_flames(shlex.split(command)[1:], cwd, store, timeout=1800)
    assert ref.returncode == 0, (ref.stdout + ref.stderr)[-3000:]
    again = run_module(["flames.search", str(sweep)], cwd, store)
    assert again.returncode == 0 and "not evaluated" not in again.stdout, again.stdout + again.stderr
    with open(sweep / "report" / "search.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["trial"] for r in rows] == ["0", "1", ""] and rows[2]["label"] == "mixture=flames_small"
    for r in rows[:2]:  # each trial's shares are its weights over their sum; its objective its evaluation's
        w = trials[r["trial"]]
        assert {a: float(r[f"w/{a}"]) for a in w} == {a: round(x / sum(w.values()), 4) for a, x in w.items()}
        assert float(r["objective"]) in {e["metrics"]["builtin"]["accuracy"] for e in evals}
        # counted from the trial's stages.json: it computed only mix, train and evaluate, and sent no generation call
        assert r["computed"] == "mix train evaluate" and r["generation requests"] == "0", r
    md = (sweep / "report" / "search.md").read_text()
    assert "## Paired differences against reference=mixture=flames_small" in md and "| builtin | 4 |" in md
    assert "needs at least 4" in md  # two trials cannot fit a 2-agent quadratic mixture model
    assert (sweep / "report" / "search.png").stat().st_size > 0


def manifests(store, stage):
    return [json.loads(p.read_text()) for p in (store / stage).glob("*/manifest.json")]


def run_module(args, cwd, store):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env_for(store), capture_output=True,
                          text=True, timeout=600)
