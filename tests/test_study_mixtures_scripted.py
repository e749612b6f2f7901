"""The mixture studies (Table 11, scale, transfer) run to the end under rehearsal=cpu, as the study runs them
(submitit's local executor, one `flames` task per stage and request), into one store: generation on the scripted
backend (its plumbing, not a model's luck), the tiny student trained for real. What is checked is what a CPU
rehearsal of a paper study must show before a cluster runs it: every cell finishes, each blend gets the shares
of its budget (rehearsal=cpu caps it at 16 examples, shares kept), and the studies reuse each other's pools."""

from __future__ import annotations

import csv
import json
import re

import pytest

from tests.e2e import run_flames
from tests.scripted_backend import BACKEND, scripted_args

STUDIES = {"table11_mixtures": 1, "scale": 3, "transfer": 5}  # cells


@pytest.fixture(scope="module")
def runs(tmp_path_factory, flames_data, tiny_student):
    root = tmp_path_factory.mktemp("mixture-studies")
    models = [*scripted_args(root), f"benchmarks.backend={BACKEND}", f"student.name={tiny_student}"]
    out = {}
    for name in STUDIES:
        proc = run_flames([f"study={name}", "rehearsal=cpu", "study.executor=local", *models], root,
                          root / "store", timeout=1800)
        out[name] = (proc.returncode, proc.stdout + proc.stderr)
    return root, out


@pytest.mark.parametrize("name", STUDIES)
def test_a_mixture_study_runs_to_the_end_under_rehearsal(runs, name):
    root, out = runs
    code, text = out[name]
    assert code == 0 and re.search(r"\d+ tasks done, 0 failed|nothing to run", text), text[-4000:]
    assert f"Study {name}: {STUDIES[name]} cells" in text
    report = root / "outputs" / "studies" / name / "report" / f"{name}.csv"
    rows = [r for r in csv.DictReader(report.open()) if r["source"] == "ours"]
    assert len(rows) == STUDIES[name] and all(r["status"].startswith("done") for r in rows), rows


def test_each_blend_gets_its_shares_of_the_capped_budget_from_shared_pools(runs):
    root, _ = runs
    mixes = [json.loads(p.with_name("manifest.json").read_text()) for p in (root / "store" / "mix").glob("*/_COMPLETE")]
    # Small, Large and XL; transfer's Large is another mix only where a student's chat template keys solution QC
    assert {m["config"]["mixture.budget"] for m in mixes} == {150_000, 1_000_000, 1_500_000}
    for m in mixes:
        weights = m["config"]["weights"]
        assert m["records_out"] == 16 and set(m["metrics"]["shares"]) == set(weights), m["metrics"]
        for agent, share in m["metrics"]["shares"].items():
            assert abs(share - weights[agent]) <= 0.07, (agent, share)  # 16 examples: 8/3/3/2 of 8/3.2/3.2/1.6
    pools = list((root / "store" / "synthesize").glob("*/_COMPLETE"))
    assert len(pools) == 4  # one pool per agent, grown to the largest ask, read by every blend
