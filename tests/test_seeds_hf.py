"""seeds=hf: seeds from a Hugging Face dataset (a save_to_disk folder, a folder of data files, a hub id from the
local cache), columns mapped as a hub benchmark's, keyed by the rows' content. No test downloads anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flames import builtin
from flames.config import ConfigError
from flames.keys import key_slice
from flames.pipeline import Pipeline
from flames.seeds import load_seeds
from tests.helpers import compose_config, run_cli
from tests.scripted_backend import scripted_args

# A GSM8K-like dataset: the problem under `question`, the worked solution under `answer` ending in "#### N".
MAPPING = ["seeds.fields.problem=question", "seeds.fields.solution=answer", "seeds.answer_from=after_hashes"]


def gsm8k_like(n: int, changed: int | None = None) -> list[dict]:
    return [{"question": s["problem"] + (" (changed)" if i == changed else ""),
             "answer": f"{s['solution']}\n#### {int(s['answer']):,}"} for i, s in enumerate(builtin.seeds(n))]


def save(folder: Path, rows: list[dict]) -> Path:
    import datasets

    datasets.Dataset.from_list(rows).save_to_disk(str(folder))
    return folder


def seeds_cfg(dataset, *overrides):
    return compose_config(["logger=none", "seeds=hf", f"seeds.dataset={dataset}", *overrides]).seeds


def synthesize_key(dataset: Path, tmp_path: Path) -> str:
    cfg = compose_config(["logger=none", "stage=synthesize", "seeds=hf", f"seeds.dataset={dataset}", *MAPPING,
                          f"paths.store={tmp_path / 'store'}"])
    (planned,) = Pipeline(cfg).plan()
    return planned.artifact.key


def test_a_saved_dataset_is_mapped_to_seeds_with_the_gold_answer_after_the_hashes(tmp_path):
    folder = save(tmp_path / "gsm", gsm8k_like(5))
    seeds = {s["id"]: s for s in load_seeds(seeds_cfg(folder, *MAPPING, "seeds.shuffle_seed=3"))}
    assert sorted(seeds) == [f"gsm-{i:06d}" for i in range(5)]  # no id column: numbered under the folder's name
    first, source = seeds["gsm-000000"], gsm8k_like(5)[0]
    assert first["problem"] == source["question"] and first["solution"] == source["answer"]
    assert first["answer"] == builtin.seeds(1)[0]["answer"] and first["dataset"] == "gsm"


def test_a_folder_of_data_files_is_read_with_its_split_and_its_own_id_column(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    rows = [{"uid": f"q{i}", "problem": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(4)]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "test.jsonl").write_text(json.dumps({"uid": "t", "problem": "P?", "answer": "1"}) + "\n")
    seeds = load_seeds(seeds_cfg(folder, "seeds.fields.id=uid", "seeds.limit=3"))
    assert len(seeds) == 3 and {s["id"] for s in seeds} < {"q0", "q1", "q2", "q3"}
    (test,) = load_seeds(seeds_cfg(folder, "seeds.fields.id=uid", "seeds.split=test"))
    assert test["id"] == "t" and test["answer"] == "1"


def test_mapping_mistakes_are_config_errors_naming_the_key(tmp_path):
    folder = save(tmp_path / "gsm", gsm8k_like(2))
    with pytest.raises(ConfigError, match=r"seeds.fields.problem: column 'problem' not in .*answer, question"):
        load_seeds(seeds_cfg(folder))
    with pytest.raises(ConfigError, match=r"seeds.fields.solution: column 'worked' not in"):
        load_seeds(seeds_cfg(folder, "seeds.fields.problem=question", "seeds.fields.solution=worked"))
    with pytest.raises(ConfigError, match=r"seeds.fields: \['question'\] are not seed fields"):
        load_seeds(seeds_cfg(folder, "+seeds.fields.question=problem"))
    with pytest.raises(ConfigError, match="seeds=hf needs seeds.dataset="):
        load_seeds(compose_config(["logger=none", "seeds=hf"]).seeds)
    with pytest.raises(ConfigError, match="exclusive"):
        load_seeds(seeds_cfg(folder, "seeds.path=x.jsonl"))


def test_the_synthesize_key_holds_the_datasets_content(tmp_path):
    """The same rows saved again key the same artifact; one changed problem keys another (never reused as the old)."""
    same = [synthesize_key(save(tmp_path / n / "gsm", gsm8k_like(6)), tmp_path) for n in ("a", "b")]
    changed = synthesize_key(save(tmp_path / "c" / "gsm", gsm8k_like(6, changed=4)), tmp_path)
    assert same[0] == same[1] != changed


def test_the_builtin_and_file_seeds_keep_their_keys(monkeypatch):
    """The new seeds fields are keyed only when set: the slices of the existing seed options are as before."""
    monkeypatch.setenv("FLAMES_DATA_DIR", "/no-data-needed")  # gsm8k_math's path names it; no file is read
    for option in ("builtin", "gsm8k_math"):
        keyed = compose_config(["logger=none", f"seeds={option}"]).seeds
        assert set(key_slice(keyed)) == {"path", "files", "builtin_count", "limit", "shuffle_seed", "shares"}


def test_a_hub_id_not_in_the_local_cache_is_a_one_line_error_offline(tmp_path, monkeypatch, offline_hub, capsys):
    monkeypatch.chdir(tmp_path)
    code = run_cli(monkeypatch, ["logger=none", "stage=synthesize", "seeds=hf", "seeds.dataset=nobody/no-such-set",
                                 *scripted_args(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("flames: error: seeds.dataset: cannot load 'nobody/no-such-set'")
    assert not (tmp_path / "store" / "synthesize").exists() or not any((tmp_path / "store" / "synthesize").iterdir())
