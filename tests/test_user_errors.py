"""Every user mistake ends in one line naming the key or file (exit code 2), before any model loads and
without an artifact marked complete: a table of bad command lines and bad seed files, run as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e import run_flames

pytestmark = pytest.mark.slow

BASE = ["logger=none", "stage=synthesize", "agent.num_problems=2", "problem_model.max_new_tokens=16"]

# (overrides, what the one line must name)
CONFIG_MISTAKES = {
    "zero problems": (["agent.num_problems=0"], "agent.num_problems=0"),
    "negative problems": (["agent.num_problems=-5"], "agent.num_problems=-5"),
    "zero samples": (["solve.num_samples=0"], "solve.num_samples=0"),
    "negative temperature": (["problem_model.temperature=-1"], "problem_model.temperature"),
    "top-p above 1": (["solution_model.top_p=2"], "solution_model.top_p"),
    "top-p of 0": (["problem_model.top_p=0"], "problem_model.top_p"),
    "limit of 0": (["benchmarks.limit=0"], "benchmarks.limit=0"),
    "fixed size of 0": (["qc.fixed_size=0"], "qc.fixed_size"),
    "budget of 0": (["mixture.budget=0"], "mixture.budget"),
    "learning rate of 0": (["student.learning_rate=0"], "student.learning_rate"),
    "no tokens": (["problem_model.max_new_tokens=0"], "problem_model.max_new_tokens"),
    "chunk of 0": (["agent.chunk_size=0"], "agent.chunk_size"),
    "negative length": (["student.max_length=-1"], "student.max_length"),
    "misspelled agent knob": (["+agent.num_problemz=3"], "agent.num_problemz"),
    "misspelled key": (["solve.num_samplez=3"], "solve.num_samplez"),
    "unknown agent": (["agent=nonexistent"], "agent/nonexistent"),
    "text for a number": (["problem_model.temperature=abc"], "problem_model.temperature"),
    "unknown stage": (["stage=bogus"], "bogus"),
    "unknown qc": (["qc=bogus"], "qc/bogus"),
}


def seed_file(tmp_path: Path, name: str, content: bytes | None) -> str:
    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    return str(path)


GOOD = json.dumps({"problem": "Tom has 3 apples and buys 2. How many now?", "answer": "5"}).encode() + b"\n"
SEED_MISTAKES = {  # file content -> what the line names (besides the file)
    "a directory": (None, "is a directory"),
    "an empty file": (b"", "no seed records"),
    "a binary file": (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not UTF-8"),
    "a malformed line": (GOOD + b'{"problem": "x"\n', ":2: malformed JSON"),
    "an array line": (GOOD + b"[1, 2]\n", ":2: expected a JSON object"),
    "no problem field": (GOOD + b'{"question": "x"}\n', "record 2 has no 'problem'"),
    "a lone surrogate": (GOOD + b'{"problem": "x \\ud800 y"}\n', "lone surrogate"),
}


def check_one_line(proc, names: str, store: Path) -> None:
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(err) <= 2 and names in err[0] and err[0].startswith("flames: error:"), err
    assert "Traceback" not in proc.stderr and "Loading weights" not in proc.stdout + proc.stderr
    assert not list(store.glob("*/*/_COMPLETE")), "an artifact was completed"


@pytest.mark.parametrize("case", CONFIG_MISTAKES)
def test_a_config_mistake_is_one_line(case, tmp_path):
    overrides, names = CONFIG_MISTAKES[case]
    proc = run_flames([*BASE, *overrides], tmp_path, tmp_path / "store", timeout=300)
    check_one_line(proc, names, tmp_path / "store")


@pytest.mark.parametrize("case", SEED_MISTAKES)
def test_a_bad_seed_file_is_one_line_naming_it(case, tmp_path):
    content, names = SEED_MISTAKES[case]
    path = seed_file(tmp_path, "seeds.jsonl", content)
    proc = run_flames([*BASE, f"seeds.path={path}"], tmp_path, tmp_path / "store", timeout=300)
    check_one_line(proc, names, tmp_path / "store")
    assert path in proc.stderr


def test_a_missing_seed_file_is_one_line(tmp_path):
    proc = run_flames([*BASE, f"seeds.path={tmp_path / 'nope.jsonl'}"], tmp_path, tmp_path / "store", timeout=300)
    check_one_line(proc, "does not exist", tmp_path / "store")


def test_an_empty_folder_as_the_student_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run_flames(["logger=none", "stage=evaluate", f"student.path={tmp_path / 'empty'}"], tmp_path,
                      tmp_path / "store", timeout=300)
    check_one_line(proc, "not a model folder", tmp_path / "store")


def test_an_unknown_model_with_the_hub_offline_is_one_line_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    proc = run_flames([*BASE, "problem_model.name=nobody/no-such-model"], tmp_path, tmp_path / "store", timeout=300)
    check_one_line(proc, "nobody/no-such-model", tmp_path / "store")


def test_flames_debug_shows_the_traceback_of_a_user_mistake(tmp_path, monkeypatch):
    """FLAMES_DEBUG=1: the same mistake ends with its traceback (for a bug report), still before a model loads."""
    monkeypatch.setenv("FLAMES_DEBUG", "1")
    (tmp_path / "empty").mkdir()
    proc = run_flames(["logger=none", "stage=evaluate", f"student.path={tmp_path / 'empty'}"], tmp_path,
                      tmp_path / "store", timeout=300)
    assert proc.returncode not in (0, 2) and "Traceback" in proc.stderr and "not a model folder" in proc.stderr
    assert "Loading weights" not in proc.stdout + proc.stderr
