"""Sharded pools (flames.store.shards): synthesize and solve split over N tasks give the records of one shard,
a shard resumes on its own, and a sharded pool grows like any other. In process, on the scripted backend; the
study's array tasks on the local SLURM are tests/test_slurm.py's."""

from __future__ import annotations

import json

import pytest

from flames.pipeline import Pipeline
from tests.helpers import compose_config
from tests.scripted_backend import reply

BASE = ["logger=none", "agent=suggester_editor", "agent.num_problems=12", "agent.chunk_size=2", "solve.chunk_size=2"]


def run(store, stage, shard=None, extra=()):
    over = [f"paths.store={store}", f"stage={stage}", *BASE, *extra]
    if shard is not None:
        over += [f"shard.index={shard[0]}", f"shard.count={shard[1]}"]
    return Pipeline(compose_config(over)).run()


def run_all_shards(store, count, extra=()):
    for stage in ("synthesize", "problem_qc", "solve"):
        for i in range(count):
            run(store, stage, (i, count) if stage != "problem_qc" else None, extra)


def records(store, stage):
    (data,) = [p.with_name("data.jsonl") for p in (store / stage).glob("*/_COMPLETE")]
    return [json.loads(line) for line in data.read_text().splitlines()]


@pytest.fixture
def llm(scripted_backend):
    return scripted_backend(reply)


def test_three_shards_make_the_records_of_one(llm, tmp_path):
    run_all_shards(tmp_path / "one", 1)
    calls_one = len(llm.calls)
    run_all_shards(tmp_path / "three", 3)
    for stage in ("synthesize", "solve"):
        one, three = records(tmp_path / "one", stage), records(tmp_path / "three", stage)
        assert one == three and len(one) >= 12, stage
        assert not any("_shard_chunk" in r for r in three)
    assert len(llm.calls) - calls_one == calls_one  # the same requests, dealt over three shards
    assert sum(1 for r in records(tmp_path / "three", "synthesize") if "view_rank" in r) >= 12
    assert not list((tmp_path / "three").glob("*/.shards/*/*"))  # folded in: the shards' folders are gone


def test_a_shard_that_has_not_run_leaves_the_pool_unsealed(llm, tmp_path):
    run(tmp_path, "synthesize", (0, 2))
    assert not list((tmp_path / "synthesize").glob("*/_COMPLETE"))
    (done,) = list((tmp_path / "synthesize").glob(".shards/*/*/shard-0000/_SHARD_DONE"))
    again = len(llm.calls)
    run(tmp_path, "synthesize", (0, 2))  # a rerun of a finished shard asks nothing
    assert len(llm.calls) == again and done.exists()
    run(tmp_path, "synthesize", (1, 2))  # the last shard folds both in
    assert len(list((tmp_path / "synthesize").glob("*/_COMPLETE"))) == 1


def test_a_killed_shard_resumes_its_own_chunks_only(scripted_backend, tmp_path):
    whole = scripted_backend(reply)
    for i in range(2):
        run(tmp_path / "whole", "synthesize", (i, 2))

    def dying(prompt, k, seed):  # shard 1 dies in its first call after its first chunk is done
        if list((tmp_path / "killed").glob("synthesize/.shards/*/*/shard-0001/chunks.jsonl")):
            raise KeyboardInterrupt
        return reply(prompt, k, seed)

    killed = scripted_backend(dying)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "killed", "synthesize", (1, 2))
    assert not list((tmp_path / "killed" / "synthesize").glob(".shards/*/*/shard-0001/_SHARD_DONE"))
    llm = scripted_backend(reply)
    run(tmp_path / "killed", "synthesize", (0, 2))
    run(tmp_path / "killed", "synthesize", (1, 2))
    # the killed shard's finished chunk is not asked again; only the call it died in (and its chunk) is redone
    assert len(killed.calls) - 1 + len(llm.calls) == len(whole.calls)
    assert records(tmp_path / "killed", "synthesize") == records(tmp_path / "whole", "synthesize")


def test_a_sharded_pool_grows_in_shards(llm, tmp_path):
    run_all_shards(tmp_path / "grown", 2)
    run_all_shards(tmp_path / "grown", 2, ["agent.num_problems=20"])
    grown = records(tmp_path / "grown", "synthesize")
    assert sum(1 for r in grown if "view_rank" in r) >= 20
    ranked = sorted(r["view_rank"] for r in grown if "view_rank" in r)
    assert ranked == list(range(len(ranked)))  # one view order over both rounds
    solved = {r["id"] for r in records(tmp_path / "grown", "solve")}
    assert {r["id"] for r in grown if r.get("view_rank", 99) < 20} <= solved
