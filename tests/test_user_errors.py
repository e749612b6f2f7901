"""Every user mistake ends in one line naming the key or file (exit code 2), before any model loads and
without an artifact marked complete: a table of bad command lines and bad seed files.

The table runs in-process (`flames.cli.main()` with the command line in sys.argv, from a tmp working folder,
as tests/test_sweep_agents.py does), with every model load recorded: none may happen. A config mistake, a bad
seed file and FLAMES_DEBUG's traceback also run as a user would, in a real process, so that its exit code and
stderr are checked end to end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import flames.llm as llm_mod
from tests.e2e import run_flames
from tests.helpers import run_cli

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
    "reversed score filter": (["mixture.filters.difficulty=[0.8,0.1]"], "mixture.filters.difficulty"),
    "unknown score filter": (["mixture.filters.hardness=[0,1]"], "mixture.filters.hardness"),
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
    "two records with one id": (b'{"id": "a", "problem": "Tom has 3 apples. How many?"}\n' + GOOD
                                + b'{"id": "a", "problem": "Ann has 4 pears. How many?"}\n',
                                ":3: id 'a' is also on line 1"),
    "a NaN": (GOOD + b'{"problem": "Tom has 3 apples. How many?", "answer": NaN}\n', ":2: NaN is not JSON"),
}
SWEEP_MISTAKES = {  # a sweep's second value is checked before any job starts
    "unknown option": (["-m", "agent=paraphrase,nonexistent"], "agent/nonexistent"),
    "text for a number": (["-m", "solve.num_samples=1,abc"], "solve.num_samples=abc"),
    "misspelled swept key": (["--multirun", "solve.num_samplez=1,2"], "solve.num_samplez"),
}


def check_one_line(proc, names: str, store: Path) -> None:
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(err) <= 2 and names in err[0] and err[0].startswith("flames: error:"), err
    assert "Traceback" not in proc.stderr and "Loading weights" not in proc.stdout + proc.stderr
    assert not list(store.glob("*/*/_COMPLETE")), "an artifact was completed"


@pytest.fixture
def flames_cli(tmp_path, monkeypatch, capfd):
    """`flames(args)`: the CLI run in-process from tmp_path (a result like a finished process's), with every
    request for a model (`load_llm`) recorded in `flames.asked` and every model load (a backend's class, looked
    up only to load one) failing the test. The store is tmp_path/store (FLAMES_STORE, tests/conftest.py)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLAMES_DEBUG", raising=False)  # a mistake's one line, not its traceback
    asked, loaded, real_load_llm = [], [], llm_mod.load_llm

    def load_llm(cfg):
        asked.append(cfg.name)
        return real_load_llm(cfg)

    def find_class(name, *args, **kwargs):  # load_llm's last step: from_config on the backend loads the model
        loaded.append(name)
        pytest.fail(f"a model was loaded (backend {name})")

    monkeypatch.setattr(llm_mod, "load_llm", load_llm)
    monkeypatch.setattr(llm_mod, "find_class", find_class)

    def flames(args: list[str]) -> subprocess.CompletedProcess:
        capfd.readouterr()
        code = run_cli(monkeypatch, args)
        out = capfd.readouterr()
        assert loaded == [], loaded
        return subprocess.CompletedProcess(["flames", *args], code, out.out, out.err)

    flames.asked = asked
    return flames


@pytest.mark.parametrize("case", CONFIG_MISTAKES)
def test_a_config_mistake_is_one_line(case, tmp_path, flames_cli):
    overrides, names = CONFIG_MISTAKES[case]
    proc = flames_cli([*BASE, *overrides])
    check_one_line(proc, names, tmp_path / "store")
    assert flames_cli.asked == []


def test_a_config_mistake_is_one_line_in_a_real_process(tmp_path):
    """One of the table, as a user runs it: the exit code and stderr of a real `flames` process (a mistake
    found in Hydra's app, past composing)."""
    overrides, names = CONFIG_MISTAKES["zero problems"]
    proc = run_flames([*BASE, *overrides], tmp_path, tmp_path / "store", timeout=300)
    check_one_line(proc, names, tmp_path / "store")


@pytest.mark.parametrize("case", SEED_MISTAKES)
def test_a_bad_seed_file_is_one_line_naming_it(case, tmp_path, flames_cli):
    content, names = SEED_MISTAKES[case]
    path = seed_file(tmp_path, "seeds.jsonl", content)
    proc = flames_cli([*BASE, f"seeds.path={path}"])
    check_one_line(proc, names, tmp_path / "store")
    assert path in proc.stderr
    assert flames_cli.asked == []


@pytest.mark.parametrize("case", SWEEP_MISTAKES)
def test_a_sweep_mistake_is_one_line_before_any_job(case, tmp_path, flames_cli):
    args, names = SWEEP_MISTAKES[case]
    proc = flames_cli([*args, *BASE])
    check_one_line(proc, names, tmp_path / "store")
    assert not (tmp_path / "outputs").exists() and flames_cli.asked == []


def test_an_unknown_option_lists_the_group_s_options_on_a_second_line(tmp_path, flames_cli):
    proc = flames_cli([*BASE, "qc=bogus"])
    first, second = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "qc/bogus" in first and {"first", "majority", "strict"} <= set(second.strip().split(", "))


def test_a_seed_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    from flames.seeds import load_seeds
    from tests.helpers import compose_config

    path = seed_file(tmp_path, "seeds.jsonl", b"\xef\xbb\xbf" + GOOD)  # Windows Notepad's UTF-8
    (seed,) = load_seeds(compose_config([f"seeds.path={path}"]).seeds)
    assert seed["problem"] == json.loads(GOOD)["problem"]


def test_a_bad_seed_file_is_one_line_naming_it_in_a_real_process(tmp_path):
    content, names = SEED_MISTAKES["a malformed line"]
    path = seed_file(tmp_path, "seeds.jsonl", content)
    proc = run_flames([*BASE, f"seeds.path={path}"], tmp_path, tmp_path / "store", timeout=300)
    check_one_line(proc, names, tmp_path / "store")
    assert path in proc.stderr


def test_a_missing_seed_file_is_one_line(tmp_path, flames_cli):
    proc = flames_cli([*BASE, f"seeds.path={tmp_path / 'nope.jsonl'}"])
    check_one_line(proc, "does not exist", tmp_path / "store")
    assert flames_cli.asked == []


def test_an_empty_folder_as_the_student_is_one_line(tmp_path, flames_cli):
    (tmp_path / "empty").mkdir()
    proc = flames_cli(["logger=none", "stage=evaluate", f"student.path={tmp_path / 'empty'}"])
    check_one_line(proc, "not a model folder", tmp_path / "store")
    assert flames_cli.asked == []


def test_an_unknown_model_with_the_hub_offline_is_one_line_at_once(tmp_path, monkeypatch, flames_cli):
    """The model is asked for, and its name checked before the backend loads anything."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    proc = flames_cli([*BASE, "problem_model.name=nobody/no-such-model"])
    check_one_line(proc, "nobody/no-such-model", tmp_path / "store")
    assert flames_cli.asked == ["nobody/no-such-model"]


def test_flames_debug_shows_the_traceback_of_a_user_mistake(tmp_path, monkeypatch):
    """FLAMES_DEBUG=1: the same mistake ends with its traceback (for a bug report), still before a model loads."""
    monkeypatch.setenv("FLAMES_DEBUG", "1")
    (tmp_path / "empty").mkdir()
    proc = run_flames(["logger=none", "stage=evaluate", f"student.path={tmp_path / 'empty'}"], tmp_path,
                      tmp_path / "store", timeout=300)
    assert proc.returncode not in (0, 2) and "Traceback" in proc.stderr and "not a model folder" in proc.stderr
    assert "Loading weights" not in proc.stdout + proc.stderr


def test_a_missing_data_folder_is_one_line_naming_the_setting(tmp_path, monkeypatch, flames_cli):
    """A benchmark read from the data folder, with no folder set: FLAMES_DATA_DIR is named, nothing runs."""
    monkeypatch.delenv("FLAMES_DATA_DIR", raising=False)
    proc = flames_cli(["logger=none", "stage=evaluate", "student.path=embedded:smollm2-135m-instruct",
                       "benchmarks=gsm8k"])
    check_one_line(proc, "FLAMES_DATA_DIR", tmp_path / "store")
    assert flames_cli.asked == []
