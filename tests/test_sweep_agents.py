"""`flames -m agent=<all twelve> stage=problem_qc` in-process, every model one scripted LLM, on the built-in seeds.

One sweep (Hydra's basic launcher: the jobs run one after another in this process) up to problem QC, with
`flames.cli.main()` as the command line runs it, from a tmp working folder; no data folder, no real model.
Every model is one `tests.scripted_agents.reply`, which answers every step of every shipped agent the way a
well-behaved model would, so every agent must get problems through problem QC. QFT's `tune` stage (a
fine-tune of the problem model) is scripted too: it writes the training rows for real, and a stand-in for
the training run records the call and returns an empty model folder, which synthesize then "loads" (the
scripted LLM). Each agent's manifest must show its counts, the sweep must print (and each job save) the
calls and tokens per problem of every agent, and the sweep's report must have a `done` row per agent.
"""

from __future__ import annotations

import csv
import json
import re

import flames.stages.tune as stages  # where the tune stage finds fine_tune
from flames.agent_costs import COLUMNS, FILE
from flames.agents import shipped_agents
from flames.agents.base import clean_problem
from flames.jsonl import read_jsonl
from tests import scripted_agents
from tests.helpers import run_cli


# The steps each agent's quickstart knobs run (llm_calls_by_step): the scripted reply must answer every one
STEPS = {"ask_me_anything": {"statement"}, "distraction_insertion": {"detail"}, "few_shot": {"write"},
         "fobar": set(), "iqc": {"compose1"}, "key_concepts": {"extract", "problem"}, "paraphrase": {"rephrase"},
         "qft": {"sample"}, "seeded_key_concepts": {"extract", "problem"}, "self_verification": {"declare"},
         "suggester_editor": {"suggest", "edit"}, "taxonomy_key_concepts": {"concepts", "problem"}}


def table_rows(table: str) -> dict[str, dict[str, str]]:
    """The rows of a printed cost table (cells are 2+ spaces apart), by agent."""
    lines = table.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == COLUMNS, lines[0]
    rows = [dict(zip(COLUMNS, re.split(r"\s{2,}", line.strip()))) for line in lines[2:]]
    return {r["agent"]: r for r in rows}


def test_sweep_over_every_agent_counts_calls_and_tokens_per_problem(tmp_path, monkeypatch, scripted_backend, capsys):
    agents = [a for a in shipped_agents() if a != "external"]  # it reads a dataset: tests/test_external_agent.py
    assert len(agents) == 12 and sorted(STEPS) == agents
    llm = scripted_backend(scripted_agents.reply)
    tuned = []  # the tune stage's training runs: (training rows, base model, its training knobs)

    def fine_tune(data, out, base_model, overrides, distributed, processes):
        tuned.append((list(read_jsonl(data)), base_model, dict(overrides)))
        (out / "model").mkdir()
        return str(out / "model")

    monkeypatch.setattr(stages, "fine_tune", fine_tune)
    monkeypatch.chdir(tmp_path)
    # flames and Hydra exit on an error (a failed job's is in the output)
    code = run_cli(monkeypatch, ["-m", f"agent={','.join(agents)}", "stage=problem_qc", "agent.num_problems=2",
                                 "agent.chunk_size=4", "logger=none"])
    out = capsys.readouterr()
    log = out.out + out.err
    assert code in (0, None), f"flames exited with {code}:\n{log[-4000:]}"
    store = tmp_path / "store"  # FLAMES_STORE (tests/conftest.py)

    # Hydra's folders are under the working folder (tmp): the sweep's, with one folder per job
    (sweep,) = tmp_path.glob("outputs/multirun/*/*")
    assert sorted(int(job.name) for job in sweep.iterdir() if job.name.isdigit()) == list(range(12))
    assert len(list(sweep.glob("*/.hydra/config.yaml"))) == 12

    # QFT's generator: one training run, on the built-in seed questions (all 64: fewer than agent.train_seeds)
    ((rows, base_model, knobs),) = tuned
    assert len(rows) == 64 and base_model == "embedded:smollm2-135m-instruct" and knobs["max_steps"] == 12
    assert len({r["solution"] for r in rows}) == 64 and {r["id"][:14] for r in rows} == {"builtin-train-"}

    manifests = {}  # agent -> (synthesize manifest, its rows, the problem_qc manifest over them)
    qc = {m["inputs"]["problems"]["key"]: m
          for m in (json.loads(f.read_text()) for f in (store / "problem_qc").glob("*/manifest.json"))}
    for f in (store / "synthesize").glob("*/manifest.json"):
        manifest = json.loads(f.read_text())
        manifests[manifest["config"]["agent"]["name"]] = (manifest, list(read_jsonl(f.parent / "data.jsonl")),
                                                           qc[f.parent.name])
    assert sorted(manifests) == agents, f"agents without a synthesize artifact: {set(agents) - set(manifests)}"
    # Every agent wrote problems and problem QC kept at least one of them (before any per-row check, so that
    # none of those can pass on an empty file); the scripted model answers every step well, so each agent
    # reaches its target of 2 accepted problems with nothing dropped, and runs each of its steps
    counts = {a: (m["records_out"], m["metrics"]["accepted"], pqc["records_out"])
              for a, (m, _, pqc) in manifests.items()}
    assert [a for a, (n, accepted, kept) in counts.items() if min(n, accepted, kept) < 1] == [], counts
    assert {a: accepted for a, (_, accepted, _) in counts.items()} == dict.fromkeys(agents, 2), counts
    assert {a: m["dropped"] for a, (m, _, _) in manifests.items()} == {a: {} for a in agents}
    assert {a: set(m["llm_calls_by_step"]) for a, (m, _, _) in manifests.items()} == STEPS
    for agent, (manifest, rows, pqc) in manifests.items():
        assert manifest["records_out"] == len(rows) >= manifest["metrics"]["accepted"], agent
        assert pqc["records_in"] == len(rows) and pqc["records_out"] >= manifest["metrics"]["accepted"], agent
        assert len({r["id"] for r in rows}) == len(rows), agent
        for r in rows:
            assert clean_problem(r["problem"])[1] is None and r["agent"] == agent, (agent, r)
        assert manifest["metrics"]["inputs_used"] >= 1
        assert (manifest["llm_calls"] >= 1) == (agent != "fobar"), (agent, manifest["llm_calls"])  # fobar: by rule
    # the one scripted model made every call, and each is on an agent's manifest
    assert len(llm.calls) == sum(m["llm_calls"] for m, _, _ in manifests.values())
    assert sum(len(call) for call in llm.calls) == sum(m["requests"] for m, _, _ in manifests.values())
    # qft sampled from the model its tune stage made
    (tune,) = (store / "tune").glob("*/manifest.json")
    assert manifests["qft"][0]["inputs"]["generator"] == {"stage": "tune", "key": tune.parent.name}
    assert {r["intermediate"]["generator"] for r in manifests["qft"][1]} == {str(tune.parent / "model")}

    # each job saved its agent's costs, which are its manifests' counts
    jobs = sorted(sweep.glob(f"*/{FILE}"))
    assert len(jobs) == 12
    costs = {}
    for job in jobs:
        (row,) = json.loads(job.read_text())
        manifest, _, pqc = manifests[row["agent"]]
        assert (row["candidates"], row["llm_calls"], row["after_problem_qc"]) == \
            (manifest["records_out"], manifest["llm_calls"], pqc["records_out"]), row
        costs[row["agent"]] = row
    assert sorted(costs) == agents
    # the sweep printed them: a row per agent, with its calls and tokens per problem
    table = log[log.index("Agents over the sweep"):].split("\n\n")[0]
    assert str(sweep.relative_to(tmp_path)) in table.splitlines()[0], table
    assert "calls/problem" in table.splitlines()[1] and "tokens/problem" in table.splitlines()[1], table
    printed = table_rows("\n".join(table.splitlines()[1:]))
    assert sorted(printed) == agents, table
    for agent, row in costs.items():
        assert printed[agent]["calls/problem"] == str(row["calls_per_problem"]), table
        assert printed[agent]["tokens/problem"] == str(row["tokens_per_problem"]), table
    # the sweep's table: one row per job (the axis: agent), every planned artifact there
    (report,) = sweep.glob("report/sweep.csv")
    rows = [r for r in csv.DictReader(report.open()) if r["source"] == "ours"]
    assert sorted(r["agent"] for r in rows) == agents
    assert [r["status"] for r in rows] == ["done"] * 12, rows
