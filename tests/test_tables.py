"""A study's tables and plots (flames.report): every number is the manifest's, missing cells get a row.

The pure tests build rows and artifacts by hand. Two run two cells of the QC study with `flames` (one
fixture, shared): scripted models (tests.scripted_backend) for generation and evaluation, a tiny benchmark
folder written here, a real one-step training; they check the report against the manifests on disk.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from flames.benchmarks import LABELS, PAPER_AVG, paper_average
from flames.cli import CONF_DIR
from flames.pipeline import Pipeline, StageResult
from flames.store import MARKER, Artifact
from flames.report import (AVG, KEPT, PAPER, STATUS, TRAIN, Cell, cell_row, paper_refs, pivot, write_report,
                           write_rows)
from tests.e2e import run_flames
from tests.helpers import compose_config
from tests.scripted_backend import BACKEND, scripted_args

QC_AXES = ["qc", "qc.fixed_size"]


# ---------------------------------------------------------------------------------------------------
# Reading what the report wrote


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def md_table(text: str) -> list[dict]:
    """The first Markdown table of a report, as header -> cell text."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("| ")), len(lines))
    split = lambda line: [c.strip() for c in line.strip().strip("|").split(" | ")]  # noqa: E731
    header, rule, *body = (split(line) for line in lines[start:end])
    assert set(rule) == {"---"} and all(len(r) == len(header) for r in body)
    return [dict(zip(header, r)) for r in body]


def assert_png(path: Path) -> None:
    """Opens, is bigger than 100x100, and is not one flat colour."""
    import matplotlib.image as mpimg

    image = mpimg.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100, path
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 1, path


# ---------------------------------------------------------------------------------------------------
# Hand-made artifacts and rows


def artifact(root: Path, stage: str, key: str, manifest: dict | None) -> Artifact:
    """An artifact folder with this manifest, complete; None: an artifact that was never finished."""
    art = Artifact(stage, key, root / stage / key)
    art.path.mkdir(parents=True)
    if manifest is not None:
        (art.path / "manifest.json").write_text(json.dumps({"stage": stage, **manifest}))
        (art.path / MARKER).write_text("{}")
    return art


FIVE = {"gsm8k": 50.0, "math": 12.5, "college_math": 25.0, "gsmplus": 37.5, "olympiadbench": 0.0}


def eval_metrics(accuracies: dict[str, float]) -> dict:
    return {name: {"accuracy": acc, "n": 8, "correct": round(acc * 8 / 100)} for name, acc in accuracies.items()}


def test_cell_row_reads_every_number_from_the_manifests(tmp_path):
    metrics = eval_metrics({**FIVE, "gsmplus_distraction": 62.5, "math/level=1": 100.0, "math/type=Algebra": 33.33})
    results = [
        StageResult("solution_qc", "iqc", artifact(tmp_path, "solution_qc", "a", {"records_out": 7}), True),
        StageResult("solution_qc", "fobar", artifact(tmp_path, "solution_qc", "b", {"records_out": 5}), True),
        StageResult("mix", "", artifact(tmp_path, "mix", "c", {"records_out": 10}), True),
        StageResult("train", "", artifact(tmp_path, "train", "d", {"records_out": 0, "metrics": {}}), True),
        StageResult("evaluate", "", artifact(tmp_path, "evaluate", "e", {"records_out": 48, "metrics": metrics}), True),
    ]
    row = cell_row(Cell({"mixture": "blend"}, results))
    assert row["mixture"] == "blend" and row[KEPT] == 12 and row[TRAIN] == 10 and row[STATUS] == "done"
    assert row["eval/gsmplus_distraction/accuracy"] == 62.5 and row["eval/math/type=Algebra/accuracy"] == 33.33
    assert row[AVG] == paper_average(metrics) == round(sum(FIVE.values()) / 5, 2)  # distraction left out
    cols = [k for k in row if k.startswith("eval/")]
    assert cols.index("eval/math/accuracy") < cols.index("eval/math/level=1/accuracy") < cols.index(
        "eval/college_math/accuracy")  # each benchmark's subsets follow it, in the paper's order


def test_kept_counts_the_cells_views_when_its_pools_hold_more(tmp_path):
    """Since 0.5 solution_qc is a pool that a larger cell may have grown: the cell's kept problems are the rows of
    its views that mix read (`available`), not the pools' records."""
    results = [
        StageResult("solution_qc", "iqc", artifact(tmp_path, "solution_qc", "a", {"records_out": 700}), True),
        StageResult("mix", "", artifact(tmp_path, "mix", "c", {"records_out": 10, "metrics": {
            "available": {"iqc": 12}, "taken": {"iqc": 10}}}), True),
    ]
    assert cell_row(Cell({"mixture": "single"}, results))[KEPT] == 12


def test_a_missing_artifact_gives_a_missing_row_not_an_error(tmp_path):
    results = [
        StageResult("solution_qc", "iqc", artifact(tmp_path, "solution_qc", "a", {"records_out": 7}), True),
        StageResult("solution_qc", "fobar", artifact(tmp_path, "solution_qc", "b", None), False),
        StageResult("mix", "", artifact(tmp_path, "mix", "c", None), False),
        StageResult("evaluate", "", artifact(tmp_path, "evaluate", "e", None), False),
    ]
    row = cell_row(Cell({"agent": "iqc"}, results))
    assert row[STATUS] == "missing solution_qc"
    assert row[KEPT] is None and row[TRAIN] is None and row[AVG] is None  # no partial sum over some agents
    written = write_report("table2_agents", [Cell({"agent": "iqc"}, results)], tmp_path / "out", ["agent"])
    ours = [r for r in read_csv(written[1]) if r["source"] == "ours"]
    assert [(r["agent"], r[STATUS], r[KEPT]) for r in ours] == [("iqc", "missing solution_qc", "")]
    assert "(missing)" in written[0].read_text()  # the artifacts read section says which


def test_a_skipped_training_is_said_in_the_status(tmp_path):
    train = {"records_out": 0, "metrics": {"skipped": "no training examples"}}
    results = [StageResult("train", "", artifact(tmp_path, "train", "d", train), True)]
    assert cell_row(Cell({}, results))[STATUS].startswith("done (training skipped: no training examples")


ROWS = [
    {"qc": "first", "qc.fixed_size": "null", KEPT: 3, TRAIN: 3, "eval/gsm8k/accuracy": 50.0, AVG: 40.0,
     STATUS: "done"},
    {"qc": "first", "qc.fixed_size": "45000", KEPT: 2, TRAIN: 2, "eval/gsm8k/accuracy": 25.0, AVG: 71.25,
     STATUS: "done"},
    {"qc": "majority", "qc.fixed_size": "null", KEPT: None, TRAIN: None, AVG: None, STATUS: "missing solution_qc"},
]


def test_pivot_puts_an_axis_in_the_columns():
    got = pivot(ROWS, ["qc"], "qc.fixed_size", [AVG])
    assert got == [{"qc": "first", "qc.fixed_size=null": 40.0, "qc.fixed_size=45000": 71.25},
                   {"qc": "majority", "qc.fixed_size=null": None, "qc.fixed_size=45000": None}]
    two = pivot(ROWS, ["qc"], "qc.fixed_size", [AVG, KEPT])
    assert two[0]["problems_kept @ qc.fixed_size=45000"] == 2 and two[0]["eval/avg @ qc.fixed_size=null"] == 40.0
    flat = pivot(ROWS, ["qc", "qc.fixed_size"])
    assert len(flat) == 3 and flat[1]["eval/gsm8k/accuracy"] == 25.0 and flat[2][STATUS] == "missing solution_qc"
    with pytest.raises(ValueError, match="add the axis"):
        pivot(ROWS, ["qc"], None, [AVG])  # two fixed sizes per strategy: not one value per spot


def test_table1_qc_shows_the_paper_rows_and_ours_minus_paper(tmp_path):
    md, table, *pngs = write_rows("table1_qc", ROWS, tmp_path, QC_AXES)
    rows = read_csv(table)
    assert len([r for r in rows if r["source"] == "paper"]) == len(PAPER["table1_qc"]["rows"]) == 8
    paper = {(r["qc"], r["qc.fixed_size"]): r for r in rows if r["source"] == "paper"}
    assert paper["strict", "null"][KEPT] == "45000" and float(paper["majority_first", "null"][AVG]) == 73.7
    assert float(paper["majority", "45000"][AVG]) == 69.1
    deltas = {(r["qc"], r["qc.fixed_size"]): r for r in rows if r["source"] == "delta"}
    assert set(deltas) == {("first", "null"), ("first", "45000")}  # majority has no number of ours
    assert float(deltas["first", "null"][AVG]) == round(40.0 - 73.0, 2)
    assert float(deltas["first", "45000"][AVG]) == round(71.25 - 69.6, 2)
    assert int(deltas["first", "null"][KEPT]) == 3 - 150_000
    shown = md_table(md.read_text())
    first = [r for r in shown if (r["qc"], r["qc.fixed_size"]) == ("first", "null")]
    assert [r["source"] for r in first] == ["ours", "paper [2]", "Δ [2]"]
    assert [r["Avg"] for r in first] == ["40.0", "73.0", "-33.0"] and first[2]["Kept"] == "-149,997"
    assert "Table 1 Avg averages benchmarks the notes could not identify" in md.read_text()
    for png in pngs:
        assert_png(png)
    assert [p.name for p in pngs] == ["table1_qc_accuracy.png", "table1_qc_kept_vs_avg.png"]


def test_plots_render_with_missing_values_and_with_none_at_all(tmp_path):
    rows = [{"mixture": "flames_small", TRAIN: 150, AVG: 30.0, "eval/gsm8k/accuracy": math.nan},
            {"mixture": "flames_large", TRAIN: 1000, AVG: None, "eval/gsm8k/accuracy": 20.0},
            {"mixture": "flames_xl", TRAIN: None, AVG: 45.0}]
    md, _, *pngs = write_rows("scale", rows, tmp_path / "some", ["mixture"])
    assert [p.name for p in pngs] == ["scale_accuracy.png", "scale_avg_vs_train_examples.png"]
    empty = [{"mixture": "flames_small", STATUS: "missing train"}]
    _, _, *blank = write_rows("scale", empty, tmp_path / "none", ["mixture"])
    for png in pngs + blank:
        assert_png(png)
    assert "| flames_small | ours |" in md.read_text() and "| flames_xl | paper [2] |" in md.read_text()


def shipped_studies() -> dict:
    return {p.stem: OmegaConf.load(p) for p in Path(CONF_DIR, "study").glob("*.yaml")}


def test_the_paper_rows_name_shipped_studies_axes_and_benchmarks():
    """A typo in PAPER (an agent, a student, a benchmark) would silently leave its row without a delta."""
    studies = shipped_studies()
    benchmarks = set(LABELS) - {"builtin"}
    for name, study in PAPER.items():
        assert name in studies, name
        axes = {k: [str(v) if v is not None else "null" for v in vs] for k, vs in studies[name].axes.items()}
        for ref in paper_refs(name):
            assert ref["values"] and ref["cite"], ref
            assert set(ref["axes"]) <= set(axes), ref
            if ref["compare"]:  # compared with a cell: each value is one the study's axis takes
                assert all(v in axes[a] for a, v in ref["axes"].items()), ref
            for key in ref["values"]:
                assert key in (KEPT, TRAIN, AVG) or key.split("/")[1] in benchmarks, key
    assert set(PAPER_AVG) <= benchmarks


# ---------------------------------------------------------------------------------------------------
# Real cells: two QC strategies on one tiny pool, evaluated on the first item of each paper benchmark. The
# models are scripted (tests.scripted_backend: generation and evaluation), the training is real (one step).


def right(n: int, **fields) -> dict:
    """An item the scripted model gets right: it answers a prompt's first number, here the gold."""
    return {"problem": f"What is {n} plus 0?", "answer": str(n), **fields}


def wrong(a: int, b: int, **fields) -> dict:
    """An item it gets wrong: it answers `a`, the gold is a*b."""
    return {"problem": f"What is {a} times {b}?", "answer": str(a * b), **fields}


# conf/benchmarks/<name>.yaml's local files, two items or more each (the second for benchmarks.limit=2), with
# the fields the paper suite's subsets, `where` and `exclude` read.
BENCHMARK_FILES = {
    "gsm8k_test.jsonl": [right(7), wrong(3, 4)],
    "math_test.jsonl": [wrong(2, 5, level=2, type="Algebra"), right(9, level=5, type="Geometry")],
    "college_math_test.jsonl": [right(11, data_topic="college_math.algebra"),
                                wrong(4, 6, data_topic="college_math.calculus")],
    "gsmplus_testmini.jsonl": [  # gsmplus leaves critical thinking out; gsmplus_distraction keeps distraction only
        {"problem": "Ann has 5 cats. How many dogs?", "answer": "None", "perturbation_type": "critical thinking"},
        right(13, perturbation_type="numerical substitution"), wrong(3, 7, perturbation_type="distraction insertion"),
        right(15, perturbation_type="distraction insertion")],
    "olympiadbench_test.jsonl": [wrong(5, 5, subfield="Algebra"), right(17, subfield="Combinatorics")],
}
# What the first items give: gsm8k, college_math and gsmplus right, math and olympiadbench wrong.
SCRIPTED_AVG = 60.0


def write_data(root: Path) -> Path:
    """A data folder (benchmarks.data_dir) with BENCHMARK_FILES."""
    bench = root / "data" / "benchmarks"
    bench.mkdir(parents=True)
    for name, items in BENCHMARK_FILES.items():
        rows = [{"id": f"{name.split('_')[0]}-{i}", **item} for i, item in enumerate(items)]
        (bench / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root / "data"


# fobar writes its problems without a model call; solve and evaluate are scripted; training runs one step.
TINY = ["logger=none", "agent=fobar", "agent.num_problems=3", "solve.num_samples=2", "benchmarks=paper",
        "benchmarks.limit=1", f"benchmarks.backend={BACKEND}", "student.max_steps=1"]
CELLS = [{"qc": "first", "qc.fixed_size": "null"}, {"qc": "majority", "qc.fixed_size": "null"}]


def argv(axes: dict[str, str], data: Path, *extra: str) -> list[str]:
    return [*TINY, *scripted_args(data.parent), f"benchmarks.data_dir={data}",
            *(f"{k}={v}" for k, v in axes.items()), *extra]


def plan_cell(axes: dict[str, str], data: Path, store: Path, *extra: str) -> Cell:
    cfg = compose_config([*argv(axes, data, *extra), f"paths.store={store}"])
    return Cell(axes, Pipeline(cfg).plan())


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """Both cells run by `flames`, as a study task would; then every cell planned from the store."""
    root = tmp_path_factory.mktemp("tables")
    data = write_data(root)
    store = root / "store"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TOKENIZERS_PARALLELISM", "false")
        for axes in CELLS:
            proc = run_flames(argv(axes, data), root, store, timeout=1800)
            assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return {"root": root, "store": store, "data": data, "cells": [plan_cell(a, data, store) for a in CELLS]}


def manifest(result: StageResult) -> dict:
    """Read straight from disk, not through flames.report."""
    return json.loads((result.artifact.path / "manifest.json").read_text())


def test_every_number_in_the_csv_and_md_is_the_manifests(real, tmp_path):
    md, table, *pngs = write_report("table1_qc", real["cells"], tmp_path, QC_AXES)
    ours = [r for r in read_csv(table) if r["source"] == "ours"]
    shown = [r for r in md_table(md.read_text()) if r["source"] == "ours"]
    assert len(ours) == len(shown) == 2
    for cell, row, line in zip(real["cells"], ours, shown):
        assert (row["qc"], line["qc"]) == (cell.axes["qc"],) * 2 and row[STATUS] == line["status"] == "done"
        by_stage = {r.stage: manifest(r) for r in cell.results}
        kept = sum(manifest(r)["records_out"] for r in cell.results if r.stage == "solution_qc")
        assert int(row[KEPT]) == kept and line["Kept"] == f"{kept:,}"
        assert int(row[TRAIN]) == by_stage["mix"]["records_out"]
        metrics = by_stage["evaluate"]["metrics"]
        assert set(PAPER_AVG) <= set(metrics) and any("/" in k for k in metrics)  # subsets too
        for name, m in metrics.items():
            assert float(row[f"eval/{name}/accuracy"]) == m["accuracy"], name
            if "/" not in name:
                assert line[LABELS[name]] == f"{m['accuracy']:.1f}", name
        avg = sum(metrics[b]["accuracy"] for b in PAPER_AVG) / len(PAPER_AVG)
        assert float(row[AVG]) == round(avg, 2) and line["Avg"] == f"{round(avg, 2):.1f}"
        assert float(row[AVG]) == SCRIPTED_AVG  # the scripted answers were graded: not zeros equal to zeros
    paper = [r for r in read_csv(table) if r["source"] == "paper"]
    assert len(paper) == 8  # table1_qc's reference rows come along
    for png in pngs:
        assert_png(png)


def test_cells_not_computed_get_missing_rows(real, tmp_path):
    """strict was never run (its QC is missing); first with two items per benchmark lacks its evaluate."""
    strict = plan_cell({"qc": "strict", "qc.fixed_size": "null"}, real["data"], real["store"])
    more = plan_cell(CELLS[0], real["data"], real["store"], "benchmarks.limit=2")
    cells = [*real["cells"], strict, more]
    rows = [cell_row(c) for c in cells]
    assert [r[STATUS].split(" (")[0] for r in rows] == ["done", "done", "missing solution_qc", "missing evaluate"]
    assert rows[3][KEPT] == rows[0][KEPT] and rows[3][AVG] is None  # what is done still reads
    md, table, *pngs = write_report("table1_qc", cells, tmp_path, QC_AXES)
    assert [r[STATUS] for r in read_csv(table) if r["source"] == "ours"] == [r[STATUS] for r in rows]
    for png in pngs:
        assert_png(png)


# ---------------------------------------------------------------------------------------------------
# Uncertainty: intervals next to the paper's numbers, paired differences between cells, seeds


def evaluated_cell(root: Path, key: str, axes: dict, verdicts: dict[str, list[int]]) -> Cell:
    """A cell whose evaluate artifact holds greedy predictions with these verdicts (benchmark -> 1/0 per item),
    and the metrics flames.evaluate computes from them."""
    from flames.evaluate import metrics

    preds = [{"id": f"{b}/{i}", "benchmark": b, "item_id": str(i), "pred": "1", "correct": bool(v),
              "timed_out": False, "subsets": {}} for b, vs in verdicts.items() for i, v in enumerate(vs)]
    art = artifact(root, "evaluate", key, {"records_out": len(preds), "metrics": metrics(preds)})
    art.data.write_text("".join(json.dumps(p) + "\n" for p in preds))
    return Cell(axes, [StageResult("evaluate", "", art, True)])


def test_paired_differences_between_cells_come_with_interval_and_p_value(tmp_path):
    rng = np.random.default_rng(0)
    base = (rng.random(1000) < 0.5).astype(int)
    better = base.copy()
    better[rng.choice(np.flatnonzero(base == 0), 100, replace=False)] = 1  # 10 points planted on gsm8k
    cells = [evaluated_cell(tmp_path, "a", {"agent": "iqc"}, {"gsm8k": list(base), "math": list(base[:200])}),
             evaluated_cell(tmp_path, "b", {"agent": "fobar"}, {"gsm8k": list(better), "math": list(base[:200])})]
    md = write_report("agents", cells, tmp_path / "out", ["agent"])[0].read_text()
    section = md[md.index("## Paired differences against agent=iqc"):]
    paired = {r["benchmark"]: r for r in md_table(section)}
    assert paired["gsm8k"]["Δ points"] == "+10.0" and paired["gsm8k"]["n"] == "1000"
    assert float(paired["gsm8k"]["p-value"]) < 1e-6 and paired["gsm8k"]["cell only"] == "100"
    low, high = (float(x) for x in paired["gsm8k"]["interval"].strip("[]").split(", "))
    assert 0 < low < 10 < high
    assert paired["math"]["Δ points"] == "+0.0" and float(paired["math"]["p-value"]) == 1.0  # the same verdicts
    intervals = md_table(md[md.index("## Intervals"):])
    row = cell_row(cells[0])
    assert intervals[0]["gsm8k"] == (f"{row['eval/gsm8k/accuracy']:.1f} [{row['eval/gsm8k/accuracy_ci_low']:.1f}, "
                                     f"{row['eval/gsm8k/accuracy_ci_high']:.1f}]")


def test_a_delta_against_the_paper_says_whether_the_paper_is_inside_our_interval(tmp_path):
    rows = [{**ROWS[0], AVG + "_ci_low": 38.0, AVG + "_ci_high": 42.0},  # the paper's 73.0: far outside
            {**ROWS[1], AVG + "_ci_low": 65.0, AVG + "_ci_high": 75.0}]  # the paper's 69.6: inside
    md, table, *_ = write_rows("table1_qc", rows, tmp_path, QC_AXES)
    deltas = {(r["qc"], r["qc.fixed_size"]): r for r in md_table(md.read_text()) if r["source"].startswith("Δ")}
    assert deltas["first", "null"]["Avg"] == "-33.0 (outside CI)" and deltas["first", "45000"]["Avg"] == "+1.6 (in CI)"
    csv_deltas = [r for r in read_csv(table) if r["source"] == "delta"]
    assert [r[AVG + "_paper_in_ci"] for r in csv_deltas] == ["False", "True"]


def test_avg_interval_comes_from_the_five_benchmarks(tmp_path):
    cell = evaluated_cell(tmp_path, "a", {}, {b: [1, 0, 1, 1] * 25 for b in PAPER_AVG})
    row = cell_row(cell)
    assert row[AVG] == 75.0 and row[AVG + "_ci_low"] < 75.0 < row[AVG + "_ci_high"]
    # five independent benchmarks: Avg's interval is narrower than one benchmark's
    assert row[AVG + "_ci_high"] - row[AVG + "_ci_low"] < row["eval/gsm8k/accuracy_ci_high"] - row[
        "eval/gsm8k/accuracy_ci_low"]


def test_training_seeds_aggregate_into_mean_and_sd(tmp_path):
    rows = [{"qc": "first", "student.seed": str(s), "eval/gsm8k/accuracy": acc, AVG: None, STATUS: "done"}
            for s, acc in enumerate([50.0, 54.0, 58.0])]
    rows.append({"qc": "strict", "student.seed": "0", "eval/gsm8k/accuracy": 40.0, AVG: None, STATUS: "done"})
    md = write_rows("seeds", rows, tmp_path, ["qc", "student.seed"])[0].read_text()
    seeds = {r["qc"]: r for r in md_table(md[md.index("## Over training seeds"):])}
    assert seeds["first"]["seeds"] == "3" and seeds["first"]["gsm8k"] == "54.0 ± 4.0"
    assert seeds["strict"]["gsm8k"] == "40.0"  # one seed: no spread to show
    assert "## Over training seeds" not in write_rows("x", rows[:1], tmp_path / "x", ["qc"])[0].read_text()
