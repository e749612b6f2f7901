"""`flames dry_run=true` (flames.estimate): every stage reused or computed, the sizes asked, requests and tokens,
a cost at a model's prices; nothing runs. On the scripted backend here; after the real quickstart in
tests/test_e2e.py."""

from __future__ import annotations

import re

import pytest

from flames.estimate import dry_run
from flames.pipeline import Pipeline
from tests.helpers import compose_config, run_cli
from tests.scripted_backend import reply

BASE = ["logger=none", "agent=few_shot", "agent.num_problems=6", "agent.chunk_size=3"]


def rows(text):
    """stage -> (status, requests, prompt tokens, completion tokens, cost) from the printed table."""
    out = {}
    for line in text.splitlines():
        cols = re.split(r"\s{2,}", line.strip())
        if len(cols) == 8 and cols[0] in ("synthesize", "problem_qc", "solve", "solution_qc", "mix", "train", "evaluate"):
            out[cols[0]] = (cols[2], int(cols[4].replace(",", "")), int(cols[5].replace(",", "")),
                            int(cols[6].replace(",", "")), cols[7])
    return out


@pytest.fixture
def llm(scripted_backend):
    return scripted_backend(reply)


def test_a_new_run_lists_every_stage_as_computed_with_its_requests(llm, tmp_path):
    cfg = compose_config([*BASE, f"paths.store={tmp_path}", "problem_model.usd_per_million_prompt_tokens=1.0",
                          "problem_model.usd_per_million_completion_tokens=2.0"])
    text = dry_run(Pipeline(cfg))
    got = rows(text)
    cap = cfg.agent.max_new_tokens or cfg.problem_model.max_new_tokens
    assert [s for s, r in got.items() if r[0] == "computed"] == list(got) and len(got) == 7
    assert got["synthesize"][1] == 12 and got["synthesize"][3] == 12 * cap  # 2 requests a problem, at the token cap
    assert got["synthesize"][4].startswith("$") and got["solve"][4] == "-"  # priced: the problem model only
    assert got["solve"][1] == 6 and got["problem_qc"][1] == got["mix"][1] == got["train"][1] == 0
    assert got["evaluate"][1] > 0 and "Total: " in text
    assert not llm.calls and not any(tmp_path.iterdir())  # nothing ran, nothing entered the store


def test_after_a_run_every_stage_is_reused_and_a_qc_change_computes_from_solution_qc(llm, tmp_path):
    cfg = [*BASE, f"paths.store={tmp_path}", "stage=mix"]
    Pipeline(compose_config(cfg)).run()
    calls, stored = len(llm.calls), sorted(p for p in tmp_path.rglob("*"))
    again = rows(dry_run(Pipeline(compose_config(cfg))))
    assert {r[0] for r in again.values()} == {"reused"} and len(again) == 5
    assert sum(r[1] for r in again.values()) == 0
    majority = rows(dry_run(Pipeline(compose_config([*BASE, f"paths.store={tmp_path}", "qc=majority"]))))
    status = {s: r[0] for s, r in majority.items()}
    assert status == {"synthesize": "reused", "problem_qc": "reused", "solve": "reused", "solution_qc": "computed",
                      "mix": "computed", "train": "computed", "evaluate": "computed"}
    assert majority["solution_qc"][1] == 0 and majority["evaluate"][1] > 0  # majority voting asks no model
    assert len(llm.calls) == calls and sorted(tmp_path.rglob("*")) == stored


def test_the_cli_prints_it_and_exits_0(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FLAMES_STORE", str(tmp_path / "store"))
    assert run_cli(monkeypatch, [*BASE, "dry_run=true"]) == 0
    out = capsys.readouterr().out
    assert "Dry run: nothing runs" in out and "synthesize" in out and not (tmp_path / "store").exists()
