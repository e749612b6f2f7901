"""`flames -m agent=<all twelve>` on the embedded model from real GSM8K and MATH seeds.

One sweep (Hydra's basic launcher: the jobs share one process and one loaded model) up to
problem QC. Every agent must produce well-formed problems, its manifest must show its counts,
and the sweep must print (and each job log) the calls and tokens per problem of every agent.
"""

from __future__ import annotations

import csv
import json

import pytest

from flames.agent_costs import FILE
from flames.agents import shipped_agents
from flames.agents.base import clean_problem
from flames.jsonl import read_jsonl
from tests.e2e import run_flames

pytestmark = pytest.mark.slow


def test_sweep_over_every_agent_counts_calls_and_tokens_per_problem(tmp_path, flames_data):
    agents = shipped_agents()
    assert len(agents) == 12
    store = tmp_path / "store"
    # Each agent's work on 2 cores: chunks of 4 seeds (2 per dataset) stop as soon as the target is met (most
    # agents: one chunk; 16-seed chunks took 90-240 s an agent); seeds.limit bounds a low-yield agent (two
    # passes over 16 seeds at most: a pass that yields nothing ends its draws) instead of 15K seeds
    proc = run_flames(["-m", f"agent={','.join(agents)}", "stage=problem_qc", "seeds=gsm8k_math", "seeds.limit=16",
                       "agent.num_problems=2", "agent.chunk_size=4", "logger=none"], tmp_path, store, timeout=7200)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    # How many problems each agent gets out of the model depends on its wording; the counts,
    # ids and fields of whatever it produced do not.
    manifests = {}
    for m in (store / "synthesize").glob("*/manifest.json"):
        manifest = json.loads(m.read_text())
        manifests[manifest["config"]["agent"]["name"]] = (manifest, list(read_jsonl(m.parent / "data.jsonl")))
    assert sorted(manifests) == agents, f"agents without a synthesize artifact: {set(agents) - set(manifests)}"
    for agent, (manifest, rows) in manifests.items():
        assert manifest["records_out"] == len(rows) >= manifest["metrics"]["accepted"], agent
        assert len({r["id"] for r in rows}) == len(rows), agent
        assert all(clean_problem(r["problem"])[1] is None and r["agent"] == agent for r in rows), agent
        assert manifest["metrics"]["inputs_used"] >= 1 and "dropped" in manifest
    table = log[log.index("Agents over the sweep"):]
    assert all(any(line.startswith(a + " ") for line in table.splitlines()) for a in agents), table
    assert "calls/problem" in table and "tokens/problem" in table
    jobs = sorted(tmp_path.glob(f"outputs/multirun/*/*/*/{FILE}"))
    assert len(jobs) == 12
    for job in jobs:  # each job's costs are its agent's manifest counts
        (row,) = json.loads(job.read_text())
        manifest = manifests[row["agent"]][0]
        assert (row["candidates"], row["llm_calls"]) == (manifest["records_out"], manifest["llm_calls"]), row
    # the sweep's table: one row per job (the axis: agent), every planned artifact there
    (report,) = tmp_path.glob("outputs/multirun/*/*/report/sweep.csv")
    rows = [r for r in csv.DictReader(report.open()) if r["source"] == "ours"]
    assert sorted(r["agent"] for r in rows) == agents and all(r["status"] == "done" for r in rows), rows
