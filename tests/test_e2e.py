"""The quickstart for real: SmolLM2-135M on CPU, real processes, the real store."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from flames.jsonl import read_jsonl
from flames.pipeline import STAGE_NAMES, Pipeline
from flames.views import in_view
from tests.e2e import TINY, bar_counts, kill_at_lines, run_flames, stage_lines, start_flames, wandb_summary
from tests.helpers import compose_config
from tests.scripted_backend import scripted_args

# The quickstart and the other runs of the real model are the full tier (`slow`); the tests on scripted models
# and the ones that stop before a model loads are in the fast tier.
STAGES = [s for s in STAGE_NAMES if s not in ("teach", "tune", "audit")]  # the quickstart trains no teacher or generator and audits nothing


@pytest.fixture(scope="session")
def quickstart(tmp_path_factory):
    """`flames` with no arguments, as the README's first command runs it."""
    root = tmp_path_factory.mktemp("quickstart")
    t0 = time.time()
    proc = run_flames([], root, root / "outputs" / "store")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    store = root / "outputs" / "store"
    # this run's artifact per stage, before later tests add others to the same store
    artifacts = {stage: marker.parent for stage in STAGES for marker in (store / stage).glob("*/_COMPLETE")}
    return {"root": root, "store": store, "out": proc.stdout + proc.stderr, "stdout": proc.stdout,
            "seconds": time.time() - t0, "artifacts": artifacts}


def manifest(artifact: Path) -> dict:
    return json.loads((artifact / "manifest.json").read_text())


@pytest.mark.slow
def test_quickstart_runs_every_stage_and_prints_results(quickstart):
    out = quickstart["stdout"]
    print(f"quickstart wall time: {quickstart['seconds']:.0f}s")
    for stage in STAGES:
        assert any(line.startswith(stage) and "computed" in line for line in out.splitlines()), stage
    assert "Evaluation" in out and "builtin" in out and "Artifact store:" in out and "Predictions:" in out
    store = quickstart["store"]
    for stage in STAGES:
        (art,) = list((store / stage).glob("*/_COMPLETE"))
    # How many problems survive to the mixture depends on what the model wrote; that training takes exactly
    # the mixture's rows, and leaves a model exactly when there were any, does not. (Training for real on
    # fixed rows, unconditionally: tests/test_train.py.)
    train, mixed = quickstart["artifacts"]["train"], manifest(quickstart["artifacts"]["mix"])["records_out"]
    metrics, model = manifest(train)["metrics"], train / "model"
    assert metrics.get("examples", 0) == mixed and bool(metrics.get("skipped")) == (mixed == 0), (metrics, mixed)
    assert (model / "config.json").exists() == any(model.glob("*.safetensors")) == (mixed > 0)
    assert ("WARNING: training skipped" in out) == (mixed == 0)
    preds = list(read_jsonl(quickstart["artifacts"]["evaluate"] / "data.jsonl"))
    assert len(preds) == 24 and all({"output", "pred", "gold", "correct"} <= set(p) for p in preds)
    assert len({p["id"] for p in preds}) == 24


@pytest.mark.slow
def test_second_run_reuses_every_stage_without_model_work(quickstart):
    proc = run_flames([], quickstart["root"], quickstart["store"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = proc.stdout + proc.stderr
    assert len(stage_lines(log, "reused")) == len(STAGES)
    assert not stage_lines(log, "computing") and "Loading weights" not in log


@pytest.mark.slow
def test_a_dry_run_after_the_quickstart_reuses_all_and_after_a_qc_change_lists_what_it_computes(quickstart):
    """`flames dry_run=true`: every stage reused; with qc=majority (before test_qc_majority_reuses_generations
    computes it: this file runs in order), solution QC and what follows are computed, with their requests."""
    proc = run_flames(["dry_run=true"], quickstart["root"], quickstart["store"])
    table = [line.split() for line in proc.stdout.splitlines() if line.split()[:1] and line.split()[0] in STAGES]
    assert proc.returncode == 0 and len(table) == len(STAGES) and {row[2] for row in table} == {"reused"}, proc.stdout
    proc = run_flames(["dry_run=true", "qc=majority"], quickstart["root"], quickstart["store"])
    status = {row[0]: row[2] for row in (line.split() for line in proc.stdout.splitlines()) if row[:1] and row[0] in STAGES}
    assert status == {**{s: "reused" for s in ("synthesize", "problem_qc", "solve")},
                      **{s: "computed" for s in ("solution_qc", "mix", "train", "evaluate")}}, proc.stdout
    assert "Total: 24 requests" in proc.stdout, proc.stdout  # the 24 built-in test items; majority asks no model
    assert "computing" not in proc.stderr and "Loading weights" not in proc.stderr


@pytest.mark.slow
def test_wandb_offline_run_has_identity_config_counts_and_tables(quickstart):
    runs = sorted(quickstart["root"].glob("outputs/runs/*/*/wandb/offline-run-*"))
    assert runs, "no offline W&B run written"
    data = wandb_summary(runs[0])
    config, summary = data["config"], data["summary"]
    # identity: group = experiment, job_type = pipeline, a tag and a config column per chosen option
    assert data["group"] == "quickstart" and data["job_type"] == "pipeline" and data["state"] == "finished"
    assert "agent:distraction_insertion" in data["tags"] and "qc:first" in data["tags"], data["tags"]
    assert config["agent.name"] == config["choice/agent"] == "distraction_insertion"  # flat columns
    assert config["qc.strategy._target_"] == "flames.qc.solution.First"
    assert re.fullmatch(r"[0-9a-f]{16}-(j[0-9_]+|[0-9a-f]{8})", data["run_id"]) and data["name"], data  # cell-launch
    for key in ("synthesize/records_out", "solve/completion_tokens", "solution_qc/records_out", "mix/records_out",
                "eval/builtin/accuracy", "eval/builtin/disagreements"):  # one key per quantity, any agent
        assert key in summary, key
    arts = quickstart["artifacts"]
    for stage, key in [("synthesize", "records_out"), ("solve", "completion_tokens"), ("mix", "records_out")]:
        assert summary[f"{stage}/{key}"] == manifest(arts[stage])[key], (stage, key)
    assert "eval/predictions" in summary
    # lineage: each stage's artifact (store key) is recorded, per agent for per-agent stages
    assert summary["mix/artifact"] == arts["mix"].name and summary["synthesize/distraction_insertion/artifact"] == \
        arts["synthesize"].name
    # tables of samples and a loss curve, where the model's output left rows and examples
    assert ("synthesize/distraction_insertion/samples" in summary) == (manifest(arts["synthesize"])["records_out"] > 0)
    assert ("train/loss" in summary) == (not manifest(arts["train"])["metrics"].get("skipped"))


@pytest.mark.slow
def test_qc_majority_reuses_generations(quickstart, monkeypatch):
    """`flames qc=majority` after the quickstart: no new backend call for synthesize or solve; solution QC and
    the mixture are computed anew (what follows them is the same plumbing, tested on scripted models)."""
    monkeypatch.setenv("FLAMES_STORE", str(quickstart["store"]))
    pipeline = Pipeline(compose_config(["qc=majority", "logger=none", "stage=mix"]))
    run = pipeline.run()
    status = {r.stage: r.reused for r in run.results}
    assert status == {"synthesize": True, "problem_qc": True, "solve": True, "solution_qc": False, "mix": False}
    assert run.calls["synthesize"] == 0 and run.calls["solve"] == 0
    pipeline.models.release()


def test_multirun_synthesizes_each_agent_once(tmp_path):
    """`flames -m` over 2 agents x 2 QC strategies, a real process on scripted models: each agent's problems
    are synthesized by the first job that needs them and reused by the second; every cell gets its own QC."""
    proc = run_flames(["-m", "agent=paraphrase,distraction_insertion", "qc=first,majority", "logger=none",
                       "stage=solution_qc", "agent.num_problems=3", *scripted_args(tmp_path)],
                      tmp_path, tmp_path / "store")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert len(list((tmp_path / "store" / "synthesize").glob("*/_COMPLETE"))) == 2
    computed = [line for line in stage_lines(log, "computing") if "synthesize[" in line]
    assert sorted(line.split("synthesize[")[1].split("]")[0] for line in computed) == [
        "distraction_insertion", "paraphrase"]
    assert len([line for line in stage_lines(log, "reused") if "synthesize[" in line]) == 2
    assert len(list((tmp_path / "store" / "solution_qc").glob("*/_COMPLETE"))) == 4
    # one bar per stage on stderr, ending at its count: each agent's 3 problems, then solve's view of 3
    for desc in ("synthesize[paraphrase]", "synthesize[distraction_insertion]"):
        assert bar_counts(proc.stderr, desc)[-1] == (3, 3), desc
    counts = bar_counts(proc.stderr, "solve")  # one bar per agent's solve, each over its 3
    assert counts[-1] == (3, 3) and {total for _, total in counts} == {3}, counts


def test_killed_solve_resumes_without_loss_or_duplicates(tmp_path):
    """A real `flames stage=solve` SIGKILLed after its first one-problem chunk, then rerun. The models are
    scripted (tests.scripted_backend), which holds the process in its second call: the kill always finds
    exactly one chunk written, whatever the machine. The real model's resume is bench/chaos.py's."""
    args = ["logger=none", *scripted_args(tmp_path), "agent.num_problems=6", "solve.chunk_size=1"]
    store = tmp_path / "store"
    first = run_flames([*args, "stage=problem_qc"], tmp_path, store)
    assert first.returncode == 0, first.stderr[-2000:]
    # solve is asked for the view of 6 (problem_qc's pool may hold problems accepted past the target)
    expected = sum(1 for r in read_jsonl(next((store / "problem_qc").glob("*/data.jsonl"))) if in_view(r, 6))
    assert expected == 6
    proc = start_flames([*args, "stage=solve"], tmp_path, store, FLAMES_TEST_GATE=f"2:{tmp_path / 'never'}")
    data, _ = kill_at_lines(proc, store, "solve", 1, every=0.1)  # held in its second call: one chunk written
    assert len(data.read_text().splitlines()) == 1 and not (data.parent / "_COMPLETE").exists()
    resumed = run_flames([*args, "stage=solve"], tmp_path, store)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    ids = [r["id"] for r in read_jsonl(data)]
    assert len(ids) == len(set(ids)) == expected and "Resuming" in resumed.stdout + resumed.stderr
    # the stage's bar opens after its first chunk, counting the one the killed run wrote, and ends at the view's 6
    counts = bar_counts(resumed.stderr, "solve")
    assert counts[0] == (2, 6) and counts[-1] == (6, 6), counts
    asked = [c["requests"] for c in read_jsonl(data.parent / "calls.jsonl")]
    assert sum(asked) == expected, asked  # the first chunk was not asked again


@pytest.mark.slow
def test_a_killed_evaluate_loses_at_most_the_batch_in_flight(tmp_path):
    """Predictions are appended after each generate() batch (hf: batch_size items): a SIGKILL loses only the
    batch being generated, and the rerun asks for exactly the items not written, each once."""
    args = ["stage=evaluate", "student.path=embedded:smollm2-135m-instruct", "benchmarks.builtin_count=6",
            "benchmarks.batch_size=2", "benchmarks.max_new_tokens=32", "logger=none"]
    store = tmp_path / "store"
    proc = start_flames(args, tmp_path, store)
    data, seen = kill_at_lines(proc, store, "evaluate", 2, every=0.05)
    written = len(data.read_text().splitlines())
    assert written < 6 and all(n % 2 == 0 for n in seen | {written}), seen  # whole batches, as each returned
    resumed = run_flames(args, tmp_path, store, timeout=1800)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    ids = [r["id"] for r in read_jsonl(data)]
    assert len(ids) == len(set(ids)) == 6
    calls = list(read_jsonl(data.parent / "calls.jsonl"))  # one line per finished batch, both attempts
    assert sum(c["requests"] for c in calls) == 6 and all(c["requests"] == 2 for c in calls)


@pytest.mark.slow
def test_real_gsm8k_seeds(tmp_path, flames_data):
    """The real model synthesizes from real GSM8K seeds (what follows synthesize is the quickstart's)."""
    seeds = flames_data / "seeds" / "gsm8k_train.jsonl"
    proc = run_flames([f"seeds.path={seeds}", "seeds.limit=20", "logger=none", "stage=synthesize", *TINY], tmp_path,
                      tmp_path / "store")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    syn = next((tmp_path / "store" / "synthesize").glob("*/"))
    rows = list(read_jsonl(syn / "data.jsonl")) + list(read_jsonl(syn / "dropped.jsonl"))
    assert rows and all(r["id"].startswith("distraction_insertion-gsm8k-train-") for r in rows)
    assert json.loads((syn / "manifest.json").read_text())["records_out"] == len(list(read_jsonl(syn / "data.jsonl")))


def test_malformed_seed_line_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "problem": "What is 1+1?", "answer": "2"}\n{"id": "b", "problem": \n')
    proc = run_flames([f"seeds.path={bad}", "logger=none"], tmp_path, tmp_path / "store", timeout=300)
    assert proc.returncode != 0
    assert f"{bad}:2: malformed JSON" in proc.stderr + proc.stdout


def test_evaluate_an_existing_model_alone_and_regrade_offline(tmp_path):
    from flames.evaluate import regrade

    proc = run_flames(["stage=evaluate", "student.path=embedded:smollm2-135m-instruct", "benchmarks.builtin_count=3",
                       "benchmarks.max_new_tokens=48", "logger=none"], tmp_path, tmp_path / "store", timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [p.name for p in (tmp_path / "store").iterdir()] == ["evaluate"]  # nothing else ran
    art = next((tmp_path / "store" / "evaluate").glob("*/"))
    saved = json.loads((art / "manifest.json").read_text())["metrics"]
    assert saved["builtin"]["n"] == 3 and regrade(art / "data.jsonl") == saved
    assert bar_counts(proc.stderr, "evaluate")[-1] == (3, 3)  # the stage's bar, over the hf backend's own


@pytest.mark.slow
def test_paper_suite_on_smollm2_prints_the_paper_table_and_regrades(tmp_path, flames_data):
    """`flames stage=evaluate benchmarks=paper` shrunk to 2 items x 32 tokens per benchmark.

    About a minute on 2 idle cores; the timeout is for a machine shared with other jobs.
    """
    from flames.evaluate import DISAGREEMENTS, regrade

    t0 = time.time()
    proc = run_flames(["stage=evaluate", "student.path=embedded:smollm2-135m-instruct", "benchmarks=paper",
                       "benchmarks.limit=2", "benchmarks.max_new_tokens=32", "logger=none"],
                      tmp_path, tmp_path / "store", timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"paper suite, 2 items each: {time.time() - t0:.0f}s")
    header = next(line for line in proc.stdout.splitlines() if line.startswith("model "))
    assert header.split() == ["model", "GSM8K", "MATH", "CollegeMath", "Distraction", "GSMPlus", "OlympiadBench",
                              "Avg"]
    assert "disagreements" in proc.stdout and "  level=" in proc.stdout and "  subfield=" in proc.stdout
    assert "Note: gsmplus: the 2,400-item testmini" in proc.stdout  # not the paper's full test: said so
    art = next((tmp_path / "store" / "evaluate").glob("*/"))
    saved = json.loads((art / "manifest.json").read_text())["metrics"]
    assert {b for b in saved if "/" not in b} == {"gsm8k", "math", "college_math", "gsmplus",
                                                  "gsmplus_distraction", "olympiadbench"}
    assert all(saved[b]["n"] == 2 for b in saved if "/" not in b)
    assert (art / DISAGREEMENTS).exists() and regrade(art / "data.jsonl") == saved
    # Answers cut by the 32-token limit: flagged per prediction, counted per benchmark and per call.
    # How many are cut depends on the model's wording; that the counts agree does not.
    preds = [json.loads(line) for line in (art / "data.jsonl").read_text().splitlines()]
    assert len(preds) == 12 and len({p["id"] for p in preds}) == 12
    assert all(isinstance(p["truncated"], bool) for p in preds)
    cut = sum(p["truncated"] for p in preds)
    assert sum(saved[b]["truncated"] for b in saved if "/" not in b) == cut
    done = json.loads((art / "manifest.json").read_text())
    assert done["truncated"] == cut and done["requests"] == len(preds) and "hit token limit" in proc.stdout
    assert 32 * cut <= done["completion_tokens"] <= 32 * len(preds)  # a cut answer used the whole budget


@pytest.mark.slow
def test_answer_strategies_on_the_quickstart_pool_make_no_new_generations(quickstart, monkeypatch):
    """Issue 5, acceptance 1: the four answer strategies over the quickstart's solved problems (3 each)."""
    monkeypatch.setenv("FLAMES_STORE", str(quickstart["store"]))
    calls: Counter = Counter()
    kept, dropped = {}, {}
    for strategy in ("first", "majority", "majority_first", "strict"):
        res = Pipeline(compose_config(["logger=none", "stage=solution_qc", f"qc={strategy}"])).run()
        calls += res.calls
        status = {r.stage: r.reused for r in res.results}
        assert status["synthesize"] and status["problem_qc"] and status["solve"], status
        (sqc,) = [r for r in res.results if r.stage == "solution_qc"]
        kept[strategy], dropped[strategy] = sqc.manifest["records_out"], sqc.manifest["dropped"]
        assert sqc.manifest["records_in"] == kept[strategy] + sum(sqc.manifest["dropped"].values())
    assert calls["synthesize"] == 0 and calls["solve"] == 0
    print("kept per strategy:", kept)
    assert kept["first"] == kept["majority_first"] >= kept["majority"] >= kept["strict"]
    # "first" verifies no answer: it keeps every solved problem the student's context can take
    assert set(dropped["first"]) <= {"too_long_for_student", "no_samples"}
