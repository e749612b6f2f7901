"""The paper's failure signatures in a study report (flames.report.diagnostics): printed with the advice when they
fire, absent when they do not. The solvability signature on real manifests (a scripted judge, the real stages);
the score signatures on rows as cell_row makes them."""

from __future__ import annotations

import zlib

from flames.pipeline import Pipeline
from flames.report import Cell, cell_row, diagnose, write_report
from flames.report.diagnostics import DISTRACTION_GAP, DOMAIN_GAP, diagnostics
from tests.helpers import compose_config
from tests.scripted_backend import reply

BASE = ["logger=none", "agent=few_shot", "agent.num_problems=12", "agent.chunk_size=4", "stage=solution_qc"]


def judged(unsolvable_share: float):
    """The scripted models, with a judge that calls a share of the problems unsolvable (by a hash of the prompt)."""
    def answer(prompt, k, seed):
        if prompt.rstrip().endswith("Reason:"):
            bad = zlib.crc32(prompt.encode()) % 100 < unsolvable_share * 100
            return " It lacks a number.\nVerdict: unsolvable" if bad else " All given.\nVerdict: solvable"
        return reply(prompt, k, seed)
    return answer


def cells(tmp_path, qc):
    planned = Pipeline(compose_config([*BASE, f"paths.store={tmp_path}", f"qc={qc}"]))
    planned.run()
    return [Cell({"qc": qc}, Pipeline(compose_config([*BASE, f"paths.store={tmp_path}", f"qc={qc}"])).plan())]


def test_a_solvability_cell_removing_more_than_30_percent_prints_the_signature_and_advice(scripted_backend, tmp_path):
    scripted_backend(judged(0.6))
    study = cells(tmp_path, "solvability")
    (found,) = diagnose(study, [cell_row(c) for c in study])
    assert found.signature == "solvability filter removes >30% of problems" and "qc=first" in found.advice
    md = write_report("table1_qc", study, tmp_path / "report", ["qc"])[0].read_text()
    assert "## Diagnostics" in md and "switch to the First strategy" in md and found.evidence in md


def test_a_report_where_nothing_fires_has_no_diagnostics(scripted_backend, tmp_path):
    scripted_backend(judged(0.0))  # every problem judged solvable: the filter removes none
    study = cells(tmp_path / "a", "solvability") + cells(tmp_path / "b", "first")
    assert diagnose(study, [cell_row(c) for c in study]) == [] and diagnostics(study) == []
    md = write_report("table1_qc", study, tmp_path / "report", ["qc"])[0].read_text()
    assert "Diagnostics" not in md


def row(**accs):
    return {"mixture": "m", **{f"eval/{b}/accuracy": v for b, v in accs.items()}}


def test_the_score_signatures_fire_past_their_thresholds_only():
    balanced = row(gsm8k=85.2, math=60.0, college_math=41.4, olympiadbench=26.1, gsmplus_distraction=72.2)
    assert diagnose([], [balanced]) == []  # the paper's FLAMES Small: the anchor, nothing fires
    lopsided = row(gsm8k=90.0, math=70.0, college_math=30.0, olympiadbench=10.0,
                   gsmplus_distraction=90.0 - DISTRACTION_GAP - 1)
    names = {f.signature for f in diagnose([], [lopsided])}
    assert names == {"large GSM8K -> GSM-Plus Distraction gap", "low out-of-domain with high in-domain scores"}
    assert (90 + 70) / 2 - (30 + 10) / 2 > DOMAIN_GAP


def test_scale_fires_when_the_largest_cell_is_no_better_and_not_when_nothing_was_learned():
    def sized(mixture, train, avg):
        return {"mixture": mixture, "student": "s", "train_examples": train, "eval/avg": avg}
    flat = [sized("flames_small", 150, 60.0), sized("flames_large", 1000, 59.0)]
    (found,) = diagnose([], flat)
    assert found.signature == "scale does not improve results" and "solution model" in found.advice
    assert diagnose([], [sized("flames_small", 150, 57.5), sized("flames_large", 1000, 61.7)]) == []
    assert diagnose([], [sized("flames_small", 150, 0.0), sized("flames_large", 1000, 0.0)]) == []


def test_the_long_tail_counts_kept_and_dropped_by_topic_and_level(scripted_backend, tmp_path):
    """Real MATH seeds carry subject and level: a strategy that drops some problems shows per topic what it kept."""
    import json as _json

    from flames.report.diagnostics import long_tail_lines

    seeds = tmp_path / "seeds.jsonl"
    rows = [{"id": f"m{i}", "dataset": "math", "type": ["Algebra", "Geometry"][i % 2], "level": 1 + i % 3,
             "problem": f"Ann has {i + 2} apples and buys {i + 3} more. How many apples does she have now?",
             "answer": str(2 * i + 5)} for i in range(12)]
    seeds.write_text("".join(_json.dumps(r) + "\n" for r in rows))
    scripted_backend(judged(0.6))
    over = [*BASE, f"paths.store={tmp_path}", "qc=solvability", f"seeds.path={seeds}", "qc.decontam.enabled=false"]
    Pipeline(compose_config(over)).run()
    study = [Cell({"qc": "solvability"}, Pipeline(compose_config(over)).plan())]
    tail = next(r for r in study[0].results if r.stage == "solution_qc").manifest["metrics"]["long_tail"]
    assert set(tail["topic"]) == {"math/Algebra", "math/Geometry"} and set(tail["level"]) <= {"level 1", "level 2", "level 3"}
    assert sum(c["kept"] + c["dropped"] for c in tail["topic"].values()) == 12
    lines = long_tail_lines(study)
    assert lines[0] == "| topic | qc=solvability |" and any(line.startswith("| math/Algebra | ") for line in lines)
    md = write_report("table1_qc", study, tmp_path / "report", ["qc"])[0].read_text()
    assert "## Long tail: what QC kept, by topic and level" in md and "| level 1 |" in md
