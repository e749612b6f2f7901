"""The solvability audit (stage `audit`, flames.audit): a sample of what solution QC rejected and kept, judged again
(or looked up in a human-labelled file), each group's solvable share with its interval, in the study report. On
the real stages with scripted models; the study at CPU size is tests/test_study_public_scripted.py's neighbour in
the full tier (study=solvability_audit in tests/test_study.py's plans)."""

from __future__ import annotations

import json
import zlib

from flames.pipeline import Pipeline
from flames.report import Cell, audit_lines, write_report
from tests.helpers import compose_config
from tests.scripted_backend import reply

BASE = ["logger=none", "agent=few_shot", "agent.num_problems=12", "agent.chunk_size=4", "qc=solvability",
        "audit.enabled=true", "audit.num_samples=3", "stage=audit"]


def first_judge_rejects_half(prompt, k, seed):
    """The filter's judge calls half the problems unsolvable; the auditor (another model name) calls all solvable."""
    if prompt.rstrip().endswith("Reason:"):
        bad = zlib.crc32(prompt.encode()) % 2 == 0
        return " It lacks a number.\nVerdict: unsolvable" if bad else " All given.\nVerdict: solvable"
    return reply(prompt, k, seed)


def test_the_audit_judges_a_sample_of_each_group_and_reports_the_shares(scripted_backend, tmp_path):
    llm = scripted_backend(first_judge_rejects_half)
    run = Pipeline(compose_config([*BASE, f"paths.store={tmp_path}"])).run()
    audit = next(r for r in run.results if r.stage == "audit")
    qc = next(r for r in run.results if r.stage == "solution_qc").manifest
    assert qc["dropped"].get("unsolvable", 0) >= 3 and qc["records_out"] >= 3  # both groups have 3 to sample
    m = audit.manifest["metrics"]
    assert m["rejected"]["sampled"] == m["kept"]["sampled"] == 3
    rows = [json.loads(line) for line in audit.artifact.data.read_text().splitlines()]
    assert sorted(r["group"] for r in rows) == ["kept"] * 3 + ["rejected"] * 3
    assert all(r["reason"] == "unsolvable" for r in rows if r["group"] == "rejected")
    for g in ("rejected", "kept"):  # the same judge again: its verdicts, with a Wilson interval
        assert m[g]["decided"] == 3 and m[g]["ci_low"] <= m[g]["solvable_pct"] <= m[g]["ci_high"]
    assert m["rejected"]["solvable"] == 0 and m["kept"]["solvable"] == 3  # a deterministic judge agrees with itself
    calls = len(llm.calls)
    again = Pipeline(compose_config([*BASE, f"paths.store={tmp_path}"])).run()
    assert all(r.reused for r in again.results) and len(llm.calls) == calls
    cells = [Cell({"qc": "solvability"}, Pipeline(compose_config([*BASE, f"paths.store={tmp_path}"])).plan())]
    md = write_report("solvability_audit", cells, tmp_path / "report", ["qc"])[0].read_text()
    assert "## Solvability audit" in md and "0 of 3 solvable" in md and audit_lines(cells)


def test_a_human_labelled_file_replaces_the_judge(scripted_backend, tmp_path):
    scripted_backend(first_judge_rejects_half)
    Pipeline(compose_config([*BASE, f"paths.store={tmp_path}", "stage=solution_qc"])).run()
    qc_dir = next((tmp_path / "solution_qc").glob("*/_COMPLETE")).parent
    ids = [r["id"] for r in map(json.loads, (qc_dir / "dropped.jsonl").read_text().splitlines())]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"id": i, "solvable": True}) + "\n" for i in ids))  # a human: all solvable
    run = Pipeline(compose_config([*BASE, f"paths.store={tmp_path}", f"audit.labels={labels}"])).run()
    m = next(r for r in run.results if r.stage == "audit").manifest["metrics"]
    assert m["rejected"]["solvable"] == m["rejected"]["decided"] == 3  # every rejected problem labelled solvable
    assert m["kept"]["decided"] == 0 and m["kept"]["no_verdict"] == 3  # kept ones not labelled: no verdict
