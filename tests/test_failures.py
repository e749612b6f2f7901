"""Soft failure (issue 18): a request the backend does not answer is a failed row with its reason, not a crash;
a rerun retries only the failed rows; a run whose requests fail too often stops, keeping what succeeded.

A scripted backend fails requests chosen by a hash of their prompt, on their first attempt only (a flaky server)
or on every attempt; requests are counted where the backend receives them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import flames.llm as llm_mod
from flames.context import RetryPolicy
from flames.jsonl import read_jsonl, write_jsonl
from flames.llm import BACKEND_ERROR, SERVER_ERROR, Sampling, TooManyFailures, refused
from flames.pipeline import Pipeline
from flames.solve import solve
from flames.store import folder_stats
from tests.conftest import ScriptedLLM, problem_from_prompt
from tests.helpers import compose_config

REPHRASE = "Rephrase the above question:"


def reply(prompt, k, seed):
    if REPHRASE in prompt:
        return f"Rephrased problem: {problem_from_prompt(prompt)} (Asked in room {seed}.)"
    return "We add. The answer is \\boxed{7}."


def bucket(prompt: str) -> int:
    return int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 100


class Flaky(ScriptedLLM):
    """Fails each request whose prompt hash falls under `percent`, on its first attempt only (`once`) or always;
    `received` counts every request, `failed` the prompts it failed."""

    def __init__(self, percent: int, once: bool = True):
        super().__init__(reply)
        self.percent, self.once = percent, once
        self.failed: list[str] = []
        self.received: list[str] = []

    def _chat(self, conversations, sampling, seeds):
        gens = super()._chat(conversations, sampling, seeds)
        prompts = [c[-1]["content"] for c in conversations]
        self.received += prompts
        out = []
        for p, g in zip(prompts, gens):
            fails = bucket(p) < self.percent and not (self.once and p in self.failed)
            if fails:
                self.failed.append(p)
            out.append(refused(sampling.n, 0, SERVER_ERROR, "503 overloaded") if fails else g)
        return out


@pytest.fixture
def backend(monkeypatch):
    def install(llm):
        monkeypatch.setattr(llm_mod, "load_llm", lambda cfg: llm)
        return llm

    return install


def run(*overrides, stage="solve"):
    cfg = compose_config(["logger=none", f"stage={stage}", "agent=paraphrase", "seeds.builtin_count=400", "agent.chunk_size=100",
                          "solve.num_samples=1", "qc.decontam.enabled=false", "agent.num_problems=300", *overrides])
    return Pipeline(cfg).run()


def result(res, stage):
    return next(r for r in res.results if r.stage == stage)


def dropped(art, reason):
    return [r for r in read_jsonl(art.path / "dropped.jsonl") if r["reason"] == reason]


def test_failed_requests_are_rows_and_a_rerun_retries_only_them(backend):
    llm = backend(Flaky(5))
    first = run()
    syn, sol = result(first, "synthesize"), result(first, "solve")
    failed_syn = [p for p in llm.failed if REPHRASE in p]
    failed_sol = [p for p in llm.failed if REPHRASE not in p]
    assert failed_syn and failed_sol  # ~5% of each stage
    assert syn.manifest["failed"] == {SERVER_ERROR: len(failed_syn)} == syn.manifest["dropped"]
    assert sol.manifest["failed"] == {SERVER_ERROR: len(failed_sol)} and sol.manifest["still_failed"] == len(failed_sol)
    rows = dropped(syn.artifact, SERVER_ERROR)
    assert all(r["input"] and r["attempt"] == 1 for r in rows)  # the input synthesize redoes
    failed_inputs = {r["input"] for r in rows}
    assert not failed_inputs & {r["id"] for r in read_jsonl(syn.artifact.path / "progress.jsonl")}
    solved = {r["id"] for r in read_jsonl(sol.artifact.data)}

    before = len(llm.received)
    again = run()
    asked = llm.received[before:]
    assert sorted(p for p in asked if REPHRASE in p) == sorted(failed_syn)  # only the failed inputs
    # solve: its failed problems, and the problems the retried inputs added to the view (if any)
    syn2, sol2 = result(again, "synthesize"), result(again, "solve")
    new_in_view = {r["id"] for r in read_jsonl(sol2.artifact.data)} - solved
    assert len([p for p in asked if REPHRASE not in p]) == len(new_in_view)
    assert {r["id"] for r in dropped(sol.artifact, SERVER_ERROR)} <= new_in_view
    for m in (syn2.manifest, sol2.manifest):
        assert m["still_failed"] == 0 and SERVER_ERROR not in m["dropped"]  # succeeded on retry: data, not a drop
    assert syn2.manifest["retries"] == len(failed_inputs) and syn2.manifest["failed"] == {SERVER_ERROR: len(rows)}
    ids = [r["id"] for r in read_jsonl(syn2.artifact.data)]
    assert len(ids) == len(set(ids)) and failed_inputs <= {r["id"] for r in
                                                           read_jsonl(syn2.artifact.path / "progress.jsonl")}

    third = len(llm.received)
    reused = run()
    assert len(llm.received) == third and all(r.reused for r in reused.results)  # nothing left to retry


def test_a_failure_rate_past_the_window_stops_the_run_and_nothing_is_lost(backend):
    llm = backend(Flaky(50, once=False))
    with pytest.raises(TooManyFailures) as stop:
        run("failures.window=100", "agent.chunk_size=50", stage="synthesize")
    msg = str(stop.value)
    assert "failures.max_rate" in msg and "failures.window=100" in msg and SERVER_ERROR in msg and "%" in msg
    store = Path(compose_config(["logger=none"]).paths.store)
    (art,) = [p for p in (store / "synthesize").iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert not (art / "_COMPLETE").exists()  # not sealed: a rerun resumes
    kept = [r["id"] for r in read_jsonl(art / "data.jsonl")]
    assert kept  # the chunks before the stop

    healthy = backend(Flaky(0))
    res = run("failures.window=100", "agent.chunk_size=50", stage="synthesize")
    ids = [r["id"] for r in read_jsonl(result(res, "synthesize").artifact.data)]
    assert ids[:len(kept)] == kept and len(ids) == len(set(ids))  # all kept, no duplicates
    assert result(res, "synthesize").manifest["still_failed"] == 0
    assert healthy.received  # resumed


def test_solve_retries_a_failed_problem_up_to_max_attempts(tmp_path, backend):
    problems = tmp_path / "problems.jsonl"
    write_jsonl(problems, [{"id": f"p{i}", "problem": f"What is {i} + 1?"} for i in range(20)])
    always = Flaky(30, once=False)
    twice = RetryPolicy(True, 2)  # failures.max_attempts=2
    solve(problems, tmp_path / "out", always, Sampling(), "Reason.", retry=twice)
    failing = {p.split("\n")[0] for p in always.failed}
    solve(problems, tmp_path / "out", always, Sampling(), "Reason.", retry=twice)  # attempt 2: the last
    solve(problems, tmp_path / "out", always, Sampling(), "Reason.", retry=twice)  # none left: nothing asked
    assert len(always.received) == 20 + len(failing)  # the first run, then one retry of each failing problem
    rows = list(read_jsonl(tmp_path / "out" / "dropped.jsonl"))
    assert sorted(r["attempt"] for r in rows) == sorted([1, 2] * len(failing))
    stats = folder_stats(tmp_path / "out")
    assert stats["still_failed"] == len(failing) and stats["dropped"] == {SERVER_ERROR: len(failing)}
    assert stats["retries"] == len(failing) and stats["records_out"] == 20 - len(failing)


def test_a_backend_exception_fails_every_request_of_its_call_and_a_config_error_still_stops(backend):
    class Broken(ScriptedLLM):
        def _chat(self, conversations, sampling, seeds):
            raise RuntimeError("CUDA error: device lost\nat line 3")

    gens = Broken(reply).chat([[{"role": "user", "content": "q"}]] * 3, Sampling(n=2))
    assert [g.error for g in gens] == [BACKEND_ERROR] * 3 and gens[0].texts == ["", ""]
    assert "device lost" in gens[0].error_detail and "\n" not in gens[0].error_detail

    from flames.config import ConfigError

    class Wrong(ScriptedLLM):
        def _chat(self, conversations, sampling, seeds):
            raise ConfigError("bad model name")

    with pytest.raises(ConfigError):
        Wrong(reply).chat([[{"role": "user", "content": "q"}]], Sampling())


def test_a_stage_shorter_than_the_window_whose_requests_all_fail_is_stopped_at_its_end(backend):
    """A run of fewer requests than `failures.window` cannot trip the window while it runs; at the stage's end
    the rate over what it sent decides, so a dead backend does not seal an artifact of failed rows."""
    backend(Flaky(100, once=False))
    with pytest.raises(TooManyFailures, match="synthesize"):
        run("agent.num_problems=4", "agent.chunk_size=8", "seeds.builtin_count=8", stage="synthesize")
    store = Path(compose_config(["logger=none"]).paths.store)
    assert not list((store / "synthesize").glob("*/_COMPLETE"))
