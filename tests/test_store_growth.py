"""A pool in the store (flames.store, `ask=`): served asks are reused, larger ones grow it in a copy that replaces it
whole; a kill during growth loses nothing; what was built on the smaller pool stays valid, unless the pool is
recomputed."""

from __future__ import annotations

import os

import pytest

from flames.jsonl import read_jsonl
from flames.store import GROW, Output, RecordWriter, Store
from flames.store import main as store_main


class Killed(Exception):
    pass


def counter(made: list, kill_after: int | None = None):
    """compute(folder) making records 0..n-1 of ask n (skipping those held); raises after `kill_after` new ones."""
    def compute(n):
        def run(folder):
            writer = RecordWriter(folder)
            for i in range(n):
                if f"r{i}" in writer.done_ids:
                    continue
                if kill_after is not None and len(made) >= kill_after:
                    raise Killed
                made.append(i)
                writer.write([{"id": f"r{i}"}])
            return Output({"n": n}, full=True)
        return run
    return compute


def pool(store, n, compute):
    return store.run("pool", {"c": 1}, {}, compute(n), ask={"n": n})


def test_a_pool_grows_to_a_larger_ask_and_serves_a_smaller_one(tmp_path):
    store, made = Store(tmp_path), []
    art, reused = pool(store, 3, counter(made))
    assert not reused and made == [0, 1, 2]
    big, reused = pool(store, 5, counter(made))
    assert big == art and not reused and made == [0, 1, 2, 3, 4]  # only the difference
    assert [r["id"] for r in read_jsonl(art.data)] == [f"r{i}" for i in range(5)]
    assert pool(store, 4, counter(made)) == (art, True) and len(made) == 5
    m = art.manifest()
    assert [s["ask"] for s in m["served"]] == [{"n": 3}, {"n": 5}] and m["asked"] == {"n": 5}
    assert not (tmp_path / "pool" / GROW / art.key).exists()
    assert store_main(["verify", str(tmp_path)]) == 0


def test_what_was_built_on_a_pool_stays_valid_when_it_grows_and_not_when_it_is_recomputed(tmp_path, caplog):
    store, made = Store(tmp_path), []
    small, _ = pool(store, 2, counter(made))
    down, _ = store.run("down", {}, {"in": small}, lambda f: RecordWriter(f).write([{"id": "d"}]) or {})
    pool(store, 6, counter(made))
    assert store.problems(down, {"in": small}) == [] and store_main(["verify", str(tmp_path)]) == 0
    store.move_aside(small, ["a test"])  # recomputed: same records, another pool
    pool(store, 6, counter([]))
    assert "was recomputed" in " ".join(store.problems(down, {"in": small}))


def test_a_growth_killed_midway_leaves_the_pool_whole_and_the_next_one_resumes_it(tmp_path):
    store, made = Store(tmp_path), []
    art, _ = pool(store, 2, counter(made))
    sealed = art.data.read_bytes()
    with pytest.raises(Killed):
        pool(store, 6, counter(made, kill_after=4))  # records 2 and 3 made, then killed
    assert art.data.read_bytes() == sealed and pool(store, 2, counter(made))[1]  # the smaller ask reads it
    assert store_main(["verify", str(tmp_path)]) == 0
    pool(store, 6, counter(made))
    assert made == [0, 1, 2, 3, 4, 5]  # nothing made twice
    assert art.manifest()["attempts"] == 3  # the first run, the killed growth, its resumption


def test_a_growth_killed_while_moving_in_is_finished_by_the_next_run(tmp_path, monkeypatch):
    store, made = Store(tmp_path), []
    art, _ = pool(store, 2, counter(made))
    real = os.replace
    moved = []

    def replace(src, dst):  # os.replace is shared: only the moves out of the sealed copy into the pool count
        if str(src).startswith(str(tmp_path / "pool" / GROW)) and str(dst).startswith(str(art.path)):
            if len(moved) == 1:
                raise Killed  # one file moved in, the rest still in the copy
            moved.append(dst)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(Killed):
        pool(store, 4, counter(made))
    monkeypatch.setattr(os, "replace", real)
    assert pool(store, 4, counter(made))[1] and made == [0, 1, 2, 3]  # finished the move, nothing recomputed
    assert [r["id"] for r in read_jsonl(art.data)] == ["r0", "r1", "r2", "r3"]
    assert store_main(["verify", str(tmp_path)]) == 0
