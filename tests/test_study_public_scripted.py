"""The public-datasets study (Tables 3/9), Figure 1 and the solvability audit (Table 12) at CPU size, as the study
runs them (local executor, one `flames` task per stage and request), up to mix or the audit: a public set as
published (mixture=external) and "refreshed" (its problems re-solved through solve and solution QC:
agent=external), on scripted models. The hub ids of conf/mixture/public_*.yaml resolve to local dataset folders
of the same relative path here (no download)."""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e import run_flames
from tests.scripted_backend import BACKEND, scripted_args

ROWS = [{"question": f"Ann has {n} apples and buys {n + 2} more. How many apples does she have now?",
         "answer": f"She has {n} + {n + 2} = {2 * n + 2} apples. The answer is {2 * n + 2}."} for n in range(1, 41)]


@pytest.fixture(scope="module")
def public(tmp_path_factory, flames_data, tiny_student):
    root = tmp_path_factory.mktemp("public")
    orca = root / "microsoft" / "orca-math-word-problems-200k"  # the hub id as a relative folder
    orca.mkdir(parents=True)
    (orca / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    models = [*scripted_args(root), f"benchmarks.backend={BACKEND}", f"student.name={tiny_student}"]
    runs = {}
    for name, axes in (("public_datasets", "[public_orca_math_refreshed,public_orca_math]"),
                       ("figure1", "[public_orca_math]")):
        # up to mix: what differs between the arms (training and evaluation are the other studies' plumbing)
        proc = run_flames([f"study={name}", "rehearsal=cpu", "study.executor=local", f"study.axes={{mixture:{axes}}}",
                           "stage=mix", *models], root, root / f"store-{name}", timeout=1800)
        runs[name] = proc.returncode, proc.stdout + proc.stderr
    return root, runs


def test_a_public_set_is_mixed_as_published_and_refreshed(public):
    root, runs = public
    code, out = runs["public_datasets"]
    assert code == 0 and re.search(r"\d+ tasks done, 0 failed", out), out[-4000:]
    mixes = [json.loads(p.with_name("manifest.json").read_text())
             for p in (root / "store-public_datasets" / "mix").glob("*/_COMPLETE")]
    published = [m for m in mixes if "dataset" in m["config"]]  # its rows as released; the other: the agent's pool
    assert len(mixes) == 2 and len(published) == 1 and published[0]["metrics"]["dataset"].startswith("orca-math")
    assert all(m["records_out"] == 16 for m in mixes)  # rehearsal=cpu's budget cap, both arms
    solved = [json.loads(p.with_name("manifest.json").read_text()) for p in (root / "store-public_datasets" / "solve").glob("*/_COMPLETE")]
    assert len(solved) == 1 and solved[0]["records_out"] == 16  # only the refreshed arm asks the solution model
    rows = [json.loads(line) for line in next((root / "store-public_datasets" / "synthesize").glob("*/data.jsonl")).read_text().splitlines()]
    assert {r["problem"] for r in rows} <= {r["question"] for r in ROWS} and rows[0]["agent"] == "external"


def test_figure1_runs_its_published_arm(public):
    _, runs = public
    code, out = runs["figure1"]
    assert code == 0 and "Study figure1: 1 cells" in out, out[-3000:]


def test_the_solvability_audit_study_runs_to_its_audit(tmp_path, flames_data):
    proc = run_flames(["study=solvability_audit", "rehearsal=cpu", "study.executor=local", "study.axes={qc:[solvability]}",
                       "audit.num_samples=2", *scripted_args(tmp_path)], tmp_path, tmp_path / "store", timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and re.search(r"\d+ tasks done, 0 failed", out), out[-4000:]
    (audit,) = [json.loads(p.with_name("manifest.json").read_text()) for p in (tmp_path / "store" / "audit").glob("*/_COMPLETE")]
    assert audit["metrics"]["kept"]["sampled"] == 2  # the scripted judge keeps every problem: none rejected
    assert "Solvability audit:" in out and "| qc=solvability" in out
