"""mixture=external: the student trains on an external SFT dataset (a JSONL file, a dataset folder, a hub id)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flames.config import ConfigError
from flames.jsonl import JSONLError, read_jsonl
from flames.mix import mix_external
from flames.pipeline import Pipeline
from flames.stages import STAGE_BY_NAME, Job, Shared
from flames.store import folder_stats
from tests.helpers import compose_config

MAPPING = {"id": "uid", "problem": "query", "solution": "response"}


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def sft_rows(n: int) -> list[dict]:
    return [{"uid": f"q{i}", "query": f"What is {i} + 1?", "response": f"{i} + 1 = \\boxed{{{i + 1}}}."}
            for i in range(n)]


def ids(folder: Path) -> list[str]:
    return [r["id"] for r in read_jsonl(folder / "data.jsonl")]


# ------------------------------------------------------------------ the plain function
def test_jsonl_columns_are_mapped_and_rows_without_a_solution_are_dropped_and_counted(tmp_path):
    rows = sft_rows(3) + [{"uid": "q3", "query": "No answer?"}, {"uid": "q4", "query": "Blank?", "response": " "},
                          {"uid": "q0", "query": "Again?", "response": "Yes."}]
    data = write_rows(tmp_path / "metamath.jsonl", rows)
    metrics = mix_external(str(data), "train", MAPPING, tmp_path / "out", budget=None, seed=0)
    records = {r["id"]: r for r in read_jsonl(tmp_path / "out" / "data.jsonl")}
    assert set(records) == {"metamath/q0", "metamath/q1", "metamath/q2"}
    assert records["metamath/q1"] == {"id": "metamath/q1", "problem": "What is 1 + 1?",
                                      "solution": "1 + 1 = \\boxed{2}.", "mixture_source": "metamath"}
    assert folder_stats(tmp_path / "out")["dropped"] == {"no_solution": 2, "duplicate_id": 1}
    assert metrics["rows"] == 6 and metrics["taken"] == {"metamath": 3} and metrics["shortfall"] == {}


def test_rows_without_an_id_column_are_numbered(tmp_path):
    data = write_rows(tmp_path / "plain.jsonl", [{"problem": "P?", "solution": "S."}, {"problem": "Q?"}])
    mix_external(str(data), "train", {}, tmp_path / "out", budget=None)
    assert ids(tmp_path / "out") == ["plain/0"]
    assert [r["id"] for r in read_jsonl(tmp_path / "out" / "dropped.jsonl")] == ["plain/1"]


def test_budget_samples_rows_reproducibly_with_its_seed(tmp_path):
    data = str(write_rows(tmp_path / "d.jsonl", sft_rows(40)))
    run = lambda name, budget, seed: (mix_external(data, "train", MAPPING, tmp_path / name, budget, seed),  # noqa: E731
                                      ids(tmp_path / name))[1]
    first, again, other = run("a", 5, 1), run("b", 5, 1), run("c", 5, 2)
    assert len(first) == 5 and first == again and set(first) != set(other)
    assert set(run("small", 3, 1)) <= set(run("large", 10, 1))  # one shuffle per seed: budgets nest
    metrics = mix_external(data, "train", MAPPING, tmp_path / "all", budget=50, seed=1)
    assert metrics["taken"] == {"d": 40} and metrics["shortfall"] == {"d": 10}


def test_a_malformed_line_names_the_file_and_the_line(tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text(json.dumps(sft_rows(1)[0]) + "\n{not json\n")
    with pytest.raises(JSONLError, match=rf"{data}:2: malformed JSON"):
        mix_external(str(data), "train", MAPPING, tmp_path / "out", budget=None)


def test_a_column_no_row_has_and_an_unknown_field_are_config_errors(tmp_path):
    data = str(write_rows(tmp_path / "d.jsonl", sft_rows(2)))
    with pytest.raises(ConfigError, match=r"mixture.fields.solution: column 'answer' not in .*query, response, uid"):
        mix_external(data, "train", {**MAPPING, "solution": "answer"}, tmp_path / "out", budget=None)
    with pytest.raises(ConfigError, match=r"mixture.fields: \['answer'\]"):
        mix_external(data, "train", {**MAPPING, "answer": "x"}, tmp_path / "out", budget=None)


def test_a_missing_file_names_mixture_dataset(tmp_path):
    with pytest.raises(FileNotFoundError, match="mixture.dataset: .*nowhere.jsonl not found"):
        mix_external(str(tmp_path / "nowhere.jsonl"), "train", {}, tmp_path / "out", budget=None)


def test_a_dataset_folder_saved_to_disk(offline_hub):
    import datasets

    tmp = offline_hub
    datasets.Dataset.from_list(sft_rows(4)).save_to_disk(str(tmp / "saved"))
    mix_external(str(tmp / "saved"), "train", MAPPING, tmp / "out", budget=None)
    assert sorted(ids(tmp / "out")) == ["saved/q0", "saved/q1", "saved/q2", "saved/q3"]
    splits = datasets.DatasetDict({"train": datasets.Dataset.from_list(sft_rows(2)),
                                   "test": datasets.Dataset.from_list(sft_rows(3))})
    splits.save_to_disk(str(tmp / "splits"))
    mix_external(str(tmp / "splits"), "test", MAPPING, tmp / "test", budget=None)
    assert len(ids(tmp / "test")) == 3
    with pytest.raises(ConfigError, match="mixture.split: 'dev' not in .*splits: train, test"):
        mix_external(str(tmp / "splits"), "dev", MAPPING, tmp / "dev", budget=None)


def test_a_hub_layout_folder_through_load_dataset(offline_hub):
    """A folder of data files, as a hub dataset repo is laid out, read by datasets.load_dataset."""
    tmp = offline_hub
    write_rows(tmp / "repo" / "train.jsonl", sft_rows(3))
    mix_external(str(tmp / "repo"), "train", {"problem": "query", "solution": "response"}, tmp / "out", budget=2)
    records = list(read_jsonl(tmp / "out" / "data.jsonl"))
    assert len(records) == 2 and {r["mixture_source"] for r in records} == {"repo"}
    assert all(r["problem"].startswith("What is") for r in records)


# ------------------------------------------------------------------ the pipeline
def config(*overrides):
    return compose_config(["logger=none", "stage=mix", "mixture=external", *overrides])


def test_the_pipeline_mixes_the_dataset_and_runs_no_agent(tmp_path, scripted_backend):
    llm = scripted_backend(lambda p, k: "unused")
    data = write_rows(tmp_path / "metamath.jsonl", sft_rows(5) + [{"uid": "x", "query": "No solution?"}])
    cfg = config(f"mixture.dataset={data}", "mixture.fields={id: uid, problem: query, solution: response}",
                 "mixture.budget=4")
    pipeline = Pipeline(cfg)
    assert pipeline.agent_cfgs == {}
    res = pipeline.run()
    assert [r.stage for r in res.results] == ["mix"] and llm.calls == []
    mix = res.results[0]
    assert mix.manifest["records_out"] == 4 and mix.manifest["dropped"] == {"no_solution": 1}
    assert {r["mixture_source"] for r in mix.artifact.records()} == {"metamath"}
    assert Pipeline(cfg).run().results[0].reused  # a second run reuses it
    write_rows(data, sft_rows(6))  # an edited file is another dataset
    again = Pipeline(cfg).run().results[0]
    assert not again.reused and again.artifact.key != mix.artifact.key


def test_the_mix_key_records_a_files_content_and_a_hub_ids_split_and_fields(tmp_path):
    def key(*overrides):
        cfg = config(*overrides)
        return STAGE_BY_NAME["mix"].slice(Job(cfg, Shared(cfg)), {})

    data = write_rows(tmp_path / "a" / "d.jsonl", sft_rows(2))
    moved = write_rows(tmp_path / "b" / "d.jsonl", sft_rows(2))
    assert key(f"mixture.dataset={data}") == key(f"mixture.dataset={moved}")  # same name, same content
    assert key(f"mixture.dataset={data}") != key(f"mixture.dataset={data}", "mixture.fields={problem: query}")
    hub = "mixture.dataset=org/sft"
    assert key(hub) != key(hub, "mixture.split=test") and key(hub) != key(hub, "mixture.fields={problem: q}")
    assert key(hub)["dataset"] == {"hub": "org/sft", "split": "train",
                                   "fields": {"id": "id", "problem": "problem", "solution": "solution"}}
    # the other mixtures' mix keys hold nothing of mixture=external (and, since 0.5, the views of the pools they read)
    single = compose_config(["logger=none"])
    assert set(STAGE_BY_NAME["mix"].slice(Job(single, Shared(single)), {})) == {"mixture.budget", "mixture.seed",
                                                                                "weights", "views"}


def test_mixture_external_without_a_dataset_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="mixture.dataset") as e:
        Pipeline(config())
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="mixture.dataset and mixture.weights"):
        Pipeline(compose_config(["logger=none", "mixture=blend", "mixture.dataset=org/sft"]))
