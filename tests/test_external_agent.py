"""agent=external (refreshed public data): a dataset's problems through problem QC, solve and solution QC, keyed by
the dataset's content; on the scripted backend. The public-datasets study at CPU size is the full tier's."""

from __future__ import annotations

import json

import pytest

from flames.config import ConfigError
from flames.pipeline import Pipeline
from tests.helpers import compose_config
from tests.scripted_backend import reply

ROWS = [{"question": f"Tom has {n} pens and buys {n + 1} more. How many pens does he have now?", "answer": "x"}
        for n in range(1, 9)] + [{"question": "", "answer": "no problem here"}]


def dataset(tmp_path, rows=ROWS):
    path = tmp_path / "public.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(tmp_path, data, *extra):
    cfg = compose_config(["logger=none", "agent=external", f"agent.dataset={data}", "agent.fields.problem=question",
                          "agent.num_problems=6", "stage=solve", f"paths.store={tmp_path / 'store'}", *extra])
    return {r.stage: r for r in Pipeline(cfg).run().results}


def test_a_public_sets_problems_are_solved_by_the_solution_model(scripted_backend, tmp_path):
    llm = scripted_backend(reply)
    got = run(tmp_path, dataset(tmp_path))
    problems = [json.loads(line) for line in got["synthesize"].artifact.data.read_text().splitlines()]
    assert [p["problem"] for p in problems[:6]] == [r["question"] for r in ROWS[:6]]  # as written, in order
    assert all(p["agent"] == "external" and p["seed_ids"] == [] for p in problems)
    solved = [json.loads(line) for line in got["solve"].artifact.data.read_text().splitlines()]
    assert len(solved) == 6 and all(len(r["solutions"]) == 3 for r in solved)
    assert all("Tom has" in call[0] for call in llm.calls)  # only solve asked the model: synthesize reads


def test_the_key_follows_the_datasets_content(scripted_backend, tmp_path):
    scripted_backend(reply)
    data = dataset(tmp_path)
    first = run(tmp_path, data)["synthesize"].artifact.key
    assert run(tmp_path, data)["synthesize"].reused
    dataset(tmp_path, [{**r, "question": r["question"].replace("pens", "cups")} for r in ROWS])
    assert run(tmp_path, data)["synthesize"].artifact.key != first


def test_a_missing_column_or_dataset_is_a_one_line_error(scripted_backend, tmp_path):
    scripted_backend(reply)
    with pytest.raises(ConfigError, match="agent.fields.problem: column 'query' not in"):
        run(tmp_path, dataset(tmp_path), "agent.fields.problem=query")
    with pytest.raises(ConfigError, match="agent=external needs agent.dataset"):
        Pipeline(compose_config(["logger=none", "agent=external", f"paths.store={tmp_path}", "stage=synthesize"])).run()
