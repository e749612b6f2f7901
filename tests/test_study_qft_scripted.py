"""Table 2's QFT cell runs to the end under rehearsal=cpu, as the study runs it (submitit's local executor, one
`flames` task per stage): its `tune` task fine-tunes the problem model with the cell's own training settings
(gradient checkpointing, one question per device: what fits a 32B model on 80 GB GPUs), and its synthesize task
samples from the tuned model. The problem model is the tiny random student (the fine-tune is real and fast; what
it learns does not matter), sampled through the scripted backend; the student is the tiny one too."""

from __future__ import annotations

import csv
import json
import re

import pytest

from tests.e2e import run_flames
from tests.scripted_backend import BACKEND, scripted_args


@pytest.mark.slow
def test_table2s_qft_cell_tunes_its_generator_then_samples_from_it(tmp_path, flames_data, tiny_student):
    models = [*scripted_args(tmp_path, models=("solution_model",)), f"problem_model.backend={BACKEND}",
              f"problem_model.name={tiny_student}", f"benchmarks.backend={BACKEND}", f"student.name={tiny_student}"]
    args = ["study=table2_agents", "rehearsal=cpu", "study.executor=local", "study.axes={agent:[qft]}",
            "++agent.train_seeds=3", "++agent.samples_per_seed=2", *models]  # the command line beats the cell's 15,000
    proc = run_flames(args, tmp_path, tmp_path / "store", timeout=1800)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0 and re.search(r"\d+ tasks done, 0 failed", text), text[-4000:]
    [tune] = [json.loads(p.with_name("manifest.json").read_text()) for p in (tmp_path / "store" / "tune").glob("*/_COMPLETE")]
    assert tune["records_out"] == 3 and tune["config"]["agent.train"]["gradient_checkpointing"] is True
    assert tune["config"]["agent.train"]["per_device_train_batch_size"] == 1  # the cell's settings reached it
    [syn] = [json.loads(p.with_name("manifest.json").read_text())
             for p in (tmp_path / "store" / "synthesize").glob("*/_COMPLETE")]
    assert syn["inputs"]["generator"]["key"] == tune["key"] and syn["records_out"] >= 1
    report = tmp_path / "outputs" / "studies" / "table2_agents" / "report" / "table2_agents.csv"
    [row] = [r for r in csv.DictReader(report.open()) if r["source"] == "ours"]
    assert row["agent"] == "qft" and row["status"].startswith("done"), row
