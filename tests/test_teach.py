"""The teacher (stage teach, teacher.enabled) and study=signal's plan, from configs: keys, inputs, cells.

Training the teacher for real, and the student it teaches beating the base model, are in
tests/test_signal.py (full tier)."""

from __future__ import annotations

import json

from flames.pipeline import Pipeline
from flames.stages import STAGE_BY_NAME
from flames.study import cells, plan_study
from tests.helpers import compose_config


def planned(*overrides: str) -> dict:
    """Stage -> its artifact, from a plan of the quickstart with `overrides` (nothing runs); "inputs" -> solve's."""
    pipeline = Pipeline(compose_config(["logger=none", *overrides]))
    out = {r.stage: r.artifact for r in pipeline.plan()}
    [label] = pipeline.agent_cfgs
    return {**out, "inputs": pipeline.inputs_of(STAGE_BY_NAME["solve"], label, pipeline.agent_cfgs)}


def test_the_teacher_is_a_shared_stage_whose_model_solve_reads(tmp_path):
    store = f"paths.store={tmp_path}"
    plain, taught = planned(store), planned(store, "teacher.enabled=true")
    assert "teach" not in plain and list(taught)[0] == "teach" and taught["teach"].stage == "teach"
    assert set(plain["inputs"]) == {"problems"} and taught["inputs"] == {"problems": taught["problem_qc"],
                                                                         "teacher": taught["teach"]}
    # solve (and what follows it) is keyed by the teacher; what comes before it is not
    assert taught["synthesize"].key == plain["synthesize"].key and taught["problem_qc"].key == plain["problem_qc"].key
    assert taught["solve"].key != plain["solve"].key and taught["train"].key != plain["train"].key
    retrained = planned(store, "teacher.enabled=true", "+teacher.train.learning_rate=1e-3")
    assert retrained["teach"].key != taught["teach"].key and retrained["solve"].key != taught["solve"].key
    assert retrained["synthesize"].key == taught["synthesize"].key
    fewer = planned(store, "teacher.enabled=true", "seeds.builtin_count=32")  # other seeds: another teacher
    assert fewer["teach"].key != taught["teach"].key


def test_the_signal_study_plans_one_teacher_one_pool_and_a_baseline_cell(tmp_path):
    base = tmp_path / "base"  # a model folder stands in for the embedded one (no conversion in the fast tier)
    base.mkdir()
    (base / "config.json").write_text(json.dumps({"model_type": "llama"}))
    args = ["study=signal", "study.dry_run=true", f"paths.store={tmp_path / 'store'}", "logger=none",
            f"study.baseline=['student.path={base}']"]
    study = compose_config(args).study
    got = cells(study)
    assert got == [[f"student.path={base}"], ["qc=first"], ["qc=majority"]]
    plan = plan_study(study, args[2:], compose_config)
    unique = {stage: len(keys) for stage, keys in plan.artifacts.items()}
    assert unique["teach"] == unique["synthesize"] == unique["solve"] == 1  # one teacher, one pool for both cells
    assert unique["solution_qc"] == unique["train"] == 2 and unique["evaluate"] == 3  # + the untrained student
    assert len(plan.tasks["evaluate"]) == 3 and [len(c) for c in plan.planned] == [1, 8, 8]  # the baseline: evaluate
    assert [r.stage for r in plan.planned[1]][:2] == ["teach", "synthesize"]
