"""`flames export=<stage>`: the artifact this config's run reads, written as a Hugging Face dataset (parquet,
save_to_disk, a dataset card), found as the pipeline finds it. Scripted models; nothing is pushed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flames import builtin
from flames.config import ConfigError
from flames.export import as_dataset, export
from flames.jsonl import read_jsonl
from flames.pipeline import Pipeline
from tests.helpers import compose_config, run_cli
from tests.scripted_backend import scripted_args
from tests.test_pipeline_scripted import reply

NESTED = ("intermediate", "qc", "solutions")  # record fields written as JSON text


def parquet_rows(path: Path) -> list[dict]:
    import datasets

    rows = list(datasets.load_dataset("parquet", data_files=str(path), split="train"))
    return [{k: json.loads(v) if k in NESTED and v is not None else v for k, v in r.items()} for r in rows]


def only_set(rows: list[dict]) -> list[dict]:
    """Rows without the None a column adds where a record lacks that field."""
    return [{k: v for k, v in r.items() if v is not None} for r in rows]


def test_the_quickstart_on_saved_dataset_seeds_exports_its_mix_as_parquet_with_a_card(tmp_path, monkeypatch, capsys):
    """`flames seeds=hf seeds.dataset=<save_to_disk folder>` runs the quickstart (scripted models, up to mix: the
    stages export reads); `flames export=mix` with the same overrides writes that run's mix: the parquet holds
    its rows, the save_to_disk copy too, and the card names the agent, the models and the count."""
    import datasets

    monkeypatch.chdir(tmp_path)
    seeds = [{"question": s["problem"], "final": s["answer"], "worked": s["solution"]} for s in builtin.seeds(24)]
    datasets.Dataset.from_list(seeds).save_to_disk(str(tmp_path / "my_seeds"))
    run = ["logger=none", "seeds=hf", f"seeds.dataset={tmp_path / 'my_seeds'}", "seeds.fields.problem=question",
           "seeds.fields.answer=final", "seeds.fields.solution=worked", "seeds.license=cc-by-4.0",
           *scripted_args(tmp_path)]
    assert run_cli(monkeypatch, ["stage=mix", *run]) == 0
    (mix,) = [p.parent for p in (tmp_path / "store" / "mix").glob("*/_COMPLETE")]
    records = list(read_jsonl(mix / "data.jsonl"))
    assert records and all(r["seed_dataset"] == "my_seeds" for r in records)  # made from the dataset's rows
    capsys.readouterr()

    assert run_cli(monkeypatch, [*run, "export=mix", "export.dir=out"]) == 0
    assert f"Exported mix (default {len(records)} rows) to out" in capsys.readouterr().out
    assert only_set(parquet_rows(tmp_path / "out" / "default" / "train.parquet")) == records
    assert len(datasets.load_from_disk(str(tmp_path / "out" / "saved" / "default"))) == len(records)
    assert len(datasets.load_dataset(str(tmp_path / "out"), split="train")) == len(records)  # the card's configs
    card = (tmp_path / "out" / "README.md").read_text()
    assert "license: cc-by-4.0" in card and f"`mix/{mix.name}` | {len(records)} |" in card
    assert "distraction_insertion (`flames.agents.distraction_insertion.DistractionInsertion`)" in card
    model = str(tmp_path / "scripted-model")
    assert f"| problem model | {model} (backend" in card and f"| solution model | {model} (backend" in card
    assert "| solution QC | `First` |" in card and "my_seeds" in card


def test_an_artifact_not_in_the_store_is_one_line_naming_the_stage_and_its_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = run_cli(monkeypatch, ["logger=none", "qc=majority", "export=mix", *scripted_args(tmp_path)[:2]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("flames: error: export: mix of this config is not in")
    assert "make it with: flames stage=mix logger=none qc=majority" in err[0]
    assert not (tmp_path / "outputs" / "exports").exists()


@pytest.fixture
def solved(scripted_backend, tmp_path):
    """A paraphrase pool of 6 problems solved 3 times each, then read as a run asking for 4 and 2 samples."""
    scripted_backend(reply)
    base = ["logger=none", "agent=paraphrase", "stage=solution_qc", f"paths.outputs={tmp_path}"]
    Pipeline(compose_config([*base, "agent.num_problems=6"])).run()
    return compose_config([*base, "agent.num_problems=4", "solve.num_samples=2"])


def test_a_per_agent_pool_is_exported_as_the_run_reads_it(solved, tmp_path):
    """solve's pool holds 6 problems with 3 samples: a run asking for 4 with 2 samples exports those."""
    cfg = compose_config(["logger=none", "agent=paraphrase", "agent.num_problems=4", "solve.num_samples=2",
                          f"paths.outputs={tmp_path}", "export=solve"])
    assert "paraphrase 4 rows" in export(cfg, ["export=solve"])
    (folder,) = (tmp_path / "exports").glob("solve-*")
    rows = parquet_rows(folder / "paraphrase" / "train.parquet")
    assert len(rows) == 4 and all(len(r["solutions"]) == 2 for r in rows)
    assert sorted(r["view_rank"] for r in rows) == [0, 1, 2, 3]
    assert "config_name: paraphrase" in (folder / "README.md").read_text()
    export(cfg, ["export=solve"])  # again: an earlier export's folder is replaced
    with pytest.raises(ConfigError, match="export.agent=iqc: not an agent of this config's solve"):
        export(compose_config(["logger=none", "agent=paraphrase", f"paths.outputs={tmp_path}", "export=solve",
                               "export.agent=iqc"]), [])


def test_a_folder_that_is_not_an_export_is_never_emptied(solved, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    cfg = compose_config(["logger=none", "agent=paraphrase", "agent.num_problems=4", f"paths.outputs={tmp_path}",
                          "export=solution_qc", f"export.dir={tmp_path / 'mine'}"])
    with pytest.raises(ConfigError, match="export.dir: .*mine is not empty and holds no flames export"):
        export(cfg, [])
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_fields_of_several_shapes_become_json_text_and_missing_ones_none():
    ds = as_dataset([{"id": "a", "qc": {"votes": {}}, "answer": "1", "tags": ["x"]},
                     {"id": "b", "qc": {"chosen": 0}, "answer": 2}])
    assert ds.column_names == ["id", "qc", "answer", "tags"]
    assert ds["qc"] == ['{"votes": {}}', '{"chosen": 0}'] and ds["answer"] == ['"1"', "2"]
    assert ds["tags"] == [["x"], None]


def test_the_cards_licence_is_the_seeds_and_never_the_built_in_sets_for_other_seeds(tmp_path):
    from flames.cards import card_license, seeds_line

    licence = lambda *o: card_license(compose_config(["logger=none", *o]))  # noqa: E731
    assert licence() == "apache-2.0" and licence("seeds=gsm8k_math") == "mit"  # generated by flames; MIT data
    assert licence(f"seeds.path={tmp_path / 's.jsonl'}") == "other"  # a file of the user's: not stated
    assert licence(f"seeds.path={tmp_path / 's.jsonl'}", "seeds.license=CC-BY-4.0") == "cc-by-4.0"
    assert licence("seeds=hf", "seeds.license=my own terms") == "other"  # free text: in the card's text only
    assert "licence: not stated; set seeds.license" in seeds_line(compose_config(["logger=none", "seeds=hf"]))
