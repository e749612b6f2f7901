"""Table 1's six QC strategies on one pool, as the study runs them (submitit's local executor, one `flames` task
per stage and request), up to solution QC on scripted models: the plumbing of the six-strategy comparison
without the model's luck. Two of the strategies also run on the real model through SLURM (tests/test_slurm.py).
"""

from __future__ import annotations

import json
import re

from tests.e2e import run_flames
from tests.scripted_backend import scripted_args

def test_table1_runs_six_strategies_on_one_pool_and_a_rerun_has_nothing_to_do(tmp_path, flames_data):
    args = ["study=table1_qc", "rehearsal=cpu", "study.executor=local", "stage=solution_qc",
            "study.axes={qc.fixed_size:[null]}", *scripted_args(tmp_path)]
    store = tmp_path / "store"
    proc = run_flames(args, tmp_path, store, timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert re.search(r"Study table1_qc: 6 cells", out), out[-3000:]
    done = re.search(r"(\d+) tasks done, 0 failed", out)
    assert done, out[-3000:]
    made = {stage: [json.loads((p.parent / "manifest.json").read_text()) for p in (store / stage).glob("*/_COMPLETE")]
            for stage in ("synthesize", "problem_qc", "solve", "solution_qc")}
    assert {s: len(m) for s, m in made.items()} == {"synthesize": 1, "problem_qc": 1, "solve": 1, "solution_qc": 6}
    (solve,) = made["solve"]
    assert solve["records_out"] == 4  # rehearsal=cpu's agent.num_problems: the pool every strategy reads
    by_strategy = {m["config"]["qc.strategy"]["_target_"].rsplit(".", 1)[1]: m for m in made["solution_qc"]}
    assert sorted(by_strategy) == ["First", "Majority", "MajorityFirst", "Solvability", "SolvabilityReward", "Strict"]
    for name, m in by_strategy.items():  # the scripted samples agree and the judge says solvable: all kept
        assert m["records_in"] == 4 and m["records_out"] == 4 and not m["dropped"], (name, m["dropped"])
    again = run_flames(args, tmp_path, store, timeout=600)
    assert again.returncode == 0 and "nothing to run" in again.stdout, (again.stdout + again.stderr)[-2000:]
