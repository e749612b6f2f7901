"""The store checks what it reuses: a sealed artifact that changed (or whose input was recomputed) is moved
aside and computed again, and so is everything built on it. Real store, scripted LLM."""

from __future__ import annotations

import logging

import pytest

from flames.pipeline import Pipeline
from flames.store import main as store_main
from tests.helpers import compose_config
from tests.test_pipeline_scripted import reply


@pytest.fixture
def fake_llm(scripted_backend):
    return scripted_backend(reply)


def run():
    return Pipeline(compose_config(["logger=none", "stage=mix", "agent.num_problems=6"])).run()


def _cut(path):  # keep the first half of the lines
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: len(lines) // 2]))


def _garble(path):  # same size, other bytes in the middle
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


TAMPERS = {
    "truncated data": (lambda a: _cut(a / "data.jsonl"), "data.jsonl has"),
    "an extra line": (lambda a: (a / "data.jsonl").write_text((a / "data.jsonl").read_text() * 2), "data.jsonl has"),
    "a missing manifest": (lambda a: (a / "manifest.json").unlink(), "manifest.json is missing"),
    "garbage in a sealed file": (lambda a: _garble(a / "data.jsonl"), "data.jsonl changed"),
    "a file added after sealing": (lambda a: (a / "notes.txt").write_text("mine"), "notes.txt was added"),
}


@pytest.mark.parametrize("tamper", TAMPERS)
def test_a_changed_artifact_is_moved_aside_and_it_and_its_downstream_recompute(fake_llm, tamper, caplog, tmp_path,
                                                                            capsys):
    first = run()
    solve = next(r.artifact for r in first.results if r.stage == "solve")
    change, said = TAMPERS[tamper]
    change(solve.path)
    root = solve.path.parent.parent
    assert store_main(["verify", str(root)]) == 1 and said in capsys.readouterr().out  # found without a run
    with caplog.at_level(logging.WARNING):
        again = run()
    status = {r.stage: r.reused for r in again.results}
    assert status == {"synthesize": True, "problem_qc": True, "solve": False, "solution_qc": False, "mix": False}
    assert said in caplog.text and "Moved aside" in caplog.text
    (kept,) = (root / "solve" / ".bad").iterdir()  # the bad one is kept, not deleted
    assert kept.name.startswith(solve.key)
    assert "input solved" in caplog.text or "was recomputed" in caplog.text  # solution_qc: built on the old solve
    assert [r.manifest["records_out"] for r in again.results] == [r.manifest["records_out"] for r in first.results]
    assert all(r.reused for r in run().results)  # the recomputed artifacts check out
    assert store_main(["verify", str(root)]) == 0


def test_an_artifact_sealed_before_checks_existed_is_reused(fake_llm):
    """A store written by flames < 0.4 has markers without file checks: reused as before."""
    first = run()
    for r in first.results:
        (r.artifact.path / "_COMPLETE").write_text('{"key": "%s"}' % r.artifact.key)
    assert all(r.reused for r in run().results)
