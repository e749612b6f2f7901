"""W&B run identity, metric and artifact names: pure functions, no W&B process (the offline runs themselves are
read back in tests/test_wandb_runs.py, tests/test_e2e.py, tests/test_study.py and tests/test_slurm.py)."""

from __future__ import annotations

from flames.lineage import cell_name, output_name, slug
from flames.logger import RunIdentity, flat_config, stage_counts, summed


def test_the_run_id_is_the_jobs_overrides_in_any_order_and_its_launch():
    """`<cell hash>-j<job>`: the same for a requeue of the SLURM job; a launch outside SLURM gets a random suffix
    (the offline runs themselves: tests/test_wandb_runs.py)."""
    a = RunIdentity(["agent=iqc", "qc=majority", "logger.dir=x", "study_task=true"], {}, "evaluate")
    b = RunIdentity(["qc=majority", "agent=iqc", "hydra.run.dir=y"], {}, "evaluate")
    assert a.run_id("flames", "g", "42") == b.run_id("flames", "g", "42")
    cell, job = a.run_id("flames", "g", "42").split("-")
    assert len(cell) == 16 and cell.isalnum() and job == "j42"
    assert a.run_id("flames", "g") != a.run_id("flames", "g")  # a new launch: a new run
    assert a.run_id("flames", "g").startswith(f"{cell}-") and len(a.run_id("flames", "g")) == 16 + 1 + 8
    hashes = {x.run_id(*pg, "1").split("-")[0] for x, pg in [(a, ("flames", "other-group")), (a, ("other", "g")),
                                                           (RunIdentity(["agent=iqc", "qc=first"]), ("flames", "g"))]}
    assert len(hashes) == 3 and cell not in hashes
    assert a.name("exp") == "agent=iqc,qc=majority" and RunIdentity().name("exp") == "exp"
    assert a.job_type() == "evaluate" and RunIdentity().job_type() == "pipeline"


def test_artifacts_are_named_by_agent_mixture_or_cell_never_by_stage_or_shard():
    cell = cell_name(["agent=iqc", "qc=majority", "stage=train", "shard.index=2"], "exp")
    assert cell == "agent-iqc-qc-majority" and cell_name([], "quickstart") == "quickstart"
    single = {"mixture": {"name": "single"}, "agent": {"name": "iqc"}}
    assert output_name("synthesize", "iqc", cell, single) == "synthesize-iqc"
    assert output_name("mix", "", cell, single) == "mix-iqc"  # a single agent's mixture is its problems
    assert output_name("mix", "", cell, {"mixture": {"name": "flames_large"}}) == "mix-flames_large"
    assert output_name("train", "", cell, single) == "student-agent-iqc-qc-majority"
    assert output_name("evaluate", "", cell, single) == "evaluate-agent-iqc-qc-majority"
    assert slug("a/b:c=d") == "a-b-c-d" and len(slug("x" * 300)) == 100


def test_tags_and_flat_config_carry_every_chosen_option():
    who = RunIdentity([], {"agent": "iqc", "qc": "majority", "hydra/launcher": "basic", "x": "y" * 80})
    assert who.tags() == ["agent:iqc", "qc:majority", ("x:" + "y" * 80)[:64]]
    flat = flat_config({"agent": {"name": "iqc", "knobs": {"k": 1}}, "stage": "all", "empty": {}}, who)
    assert flat["agent.name"] == "iqc" and flat["agent.knobs.k"] == 1 and flat["stage"] == "all"
    assert flat["empty"] == {} and flat["choice/qc"] == "majority" and "choice/hydra/launcher" not in flat


def test_one_key_per_quantity_and_a_mixtures_agents_add_up():
    m = {"records_out": 3, "llm_calls": 2, "dropped": {"no_majority": 1}, "metrics": {"ratio": 0.5, "ok": True}}
    assert stage_counts(m) == {"records_out": 3, "llm_calls": 2, "dropped/no_majority": 1, "ratio": 0.5}
    one = stage_counts(m)
    assert summed([one]) == one  # a single agent keeps its metrics
    two = summed([one, {"records_out": 4, "dropped/no_majority": 2, "ratio": 0.9}])
    assert two == {"records_out": 7, "llm_calls": 2, "dropped/no_majority": 3}  # ratios do not add up


def test_the_wandb_report_of_a_study_shows_its_table_over_its_cells_runs():
    """Built, not saved (saving needs a W&B login): the study's Markdown table, then panels over the runs of
    the study's group that logged its cells (job_type evaluate)."""
    from flames.wandb_report import build_report, runset_filter

    table = "| agent | Avg |\n| --- | --- |\n| iqc | 56.9 |"
    report = build_report("table2_agents", "flames", "me", table, ["gsm8k", "math"], ["agent", "qc"])
    heading, text, grid = report.blocks
    assert report.project == "flames" and report.entity == "me" and "table2_agents" in heading.text
    assert text.text == table
    (runs,) = grid.runsets
    assert runs.filters == runset_filter("table2_agents") and runs.groupby == ["config.choice/agent"]
    assert "Metric('Group') == 'table2_agents'" in runs.filters and "'evaluate'" in runs.filters
    bars, scatter, curve = grid.panels
    assert bars.metrics == ["eval/gsm8k/accuracy", "eval/math/accuracy", "eval/avg"]
    assert (scatter.x, scatter.y) == ("solution_qc/records_out", "eval/avg") and curve.y == ["train/loss"]
    assert curve.x == "train/step"  # the curve on the optimizer step, not W&B's global step


def test_a_study_report_from_wandb_runs_reads_their_choices_and_summaries(tmp_path):
    """study.report_from=wandb: one row per run; axes from `choice/<group>` or the dotted key, numbers from
    the summary, a run that did not finish said so (runs are stand-ins for wandb.Api() runs)."""
    import csv
    from types import SimpleNamespace

    from flames.wandb_report import report_from_runs

    def run(agent, size, state, acc):
        return SimpleNamespace(id=agent, name=agent, state=state, config={"choice/agent": agent, "qc.fixed_size": size},
                               summary={"solution_qc/records_out": 7, "mix/records_out": 6,
                                        "eval/gsm8k/accuracy": acc, "eval/gsm8k/n": 2})

    runs = [run("iqc", None, "finished", 50.0), run("fobar", 2, "failed", 0.0)]
    paths = report_from_runs("mine", runs, tmp_path, ["agent", "qc.fixed_size"])
    rows = {r["agent"]: r for r in csv.DictReader(paths[1].open()) if r["source"] == "ours"}
    assert rows["iqc"]["qc.fixed_size"] == "null" and rows["fobar"]["qc.fixed_size"] == "2"
    assert float(rows["iqc"]["eval/gsm8k/accuracy"]) == 50.0 and rows["iqc"]["problems_kept"] == "7"
    assert rows["iqc"]["status"] == "done" and rows["fobar"]["status"] == "W&B run failed"
    assert "W&B run iqc" in paths[0].read_text()  # where each row came from
