"""The artifact store: keys, resume after a torn write, locks, completion markers."""

import json
import multiprocessing as mp
import time

import pytest

from flames.jsonl import JSONLError, read_jsonl
from flames.store import RecordWriter, Store, stage_key


def test_key_depends_on_config_and_inputs_only():
    a = stage_key("solve", {"n": 3}, {"problems": "k1"})
    assert a == stage_key("solve", {"n": 3}, {"problems": "k1"})
    assert a != stage_key("solve", {"n": 4}, {"problems": "k1"})
    assert a != stage_key("solve", {"n": 3}, {"problems": "k2"})
    assert a != stage_key("solve_qc", {"n": 3}, {"problems": "k1"})


def test_writer_resumes_after_torn_line(tmp_path):
    w = RecordWriter(tmp_path)
    w.write([{"id": "a"}, {"id": "b"}])
    with open(tmp_path / "data.jsonl", "a") as fh:
        fh.write('{"id": "c", "half')  # a kill in the middle of a write
    w2 = RecordWriter(tmp_path)
    assert w2.done_ids == {"a", "b"}
    w2.write([{"id": "b"}, {"id": "c"}])  # a redone chunk: b is not duplicated
    assert [r["id"] for r in read_jsonl(tmp_path / "data.jsonl")] == ["a", "b", "c"]


def test_drops_and_progress_survive_resume(tmp_path):
    w = RecordWriter(tmp_path)
    w.drop([{"id": "x"}], "duplicate")
    w.mark_done(["seed-1"])
    w.log_call(2, 10, 5, step="s")
    w2 = RecordWriter(tmp_path)
    assert "x" in w2.done_ids and w2.inputs_done == {"seed-1"}
    stats = w2.stats()
    assert stats["dropped"] == {"duplicate": 1} and stats["llm_calls"] == 1 and stats["prompt_tokens"] == 10


def test_run_writes_manifest_and_marker_last_and_reuses(tmp_path):
    store = Store(tmp_path)
    calls = []

    def compute(folder):
        calls.append(folder)
        RecordWriter(folder).write([{"id": "1"}])
        return {"m": 1}

    art, reused = store.run("s", {"x": 1}, {}, compute)
    assert not reused and art.complete and art.manifest()["records_out"] == 1
    assert art.manifest()["metrics"] == {"m": 1}
    art2, reused2 = store.run("s", {"x": 1}, {}, compute)
    assert reused2 and art2 == art and len(calls) == 1


def test_failed_compute_leaves_no_marker(tmp_path):
    store = Store(tmp_path)

    def boom(folder):
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError):
        store.run("s", {}, {}, boom)
    assert not store.artifact("s", {}, {}).complete


def _compute_slowly(root, out_q):
    def compute(folder):
        time.sleep(1.0)
        RecordWriter(folder).write([{"id": "only"}])
        return {}

    art, reused = Store(root).run("s", {"k": 1}, {}, compute)
    out_q.put(reused)


def test_lock_lets_one_process_compute(tmp_path):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_compute_slowly, args=(str(tmp_path), q)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sorted([q.get(), q.get()]) == [False, True]  # one computed, the other reused
    art = Store(tmp_path).artifact("s", {"k": 1}, {})
    assert [r["id"] for r in art.records()] == ["only"]


def test_malformed_jsonl_names_file_and_line(tmp_path):
    p = tmp_path / "seeds.jsonl"
    p.write_text(json.dumps({"id": 1, "problem": "x"}) + "\n" + "{not json\n")
    with pytest.raises(JSONLError, match=r"seeds\.jsonl:2: malformed JSON"):
        list(read_jsonl(p))
