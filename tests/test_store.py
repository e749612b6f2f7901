"""The artifact store: keys, resume after a torn write, locks, completion markers."""

import json
import logging
import multiprocessing as mp
import os
import time
from pathlib import Path

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


class _MarkWaiting(logging.Handler):
    """Leaves a marker file `waiting-<pid>` when this process logs that it waits for the lock."""

    def __init__(self, markers):
        super().__init__()
        self.markers = Path(markers)

    def emit(self, record):
        if record.getMessage().startswith("Waiting for another process"):
            (self.markers / f"waiting-{os.getpid()}").write_text(record.getMessage())


def _compute_once(root, markers, out_q):
    """One of two processes: whichever computes holds the lock until the other logs that it waits."""
    store_log = logging.getLogger("flames.locks")  # file_lock logs the wait
    store_log.setLevel(logging.INFO)
    store_log.addHandler(_MarkWaiting(markers))
    saw_waiter = []

    def compute(folder):
        Path(markers, f"computing-{os.getpid()}").touch()
        deadline = time.monotonic() + 120  # only a bound on the other process's start-up, however loaded
        while not any(Path(markers).glob("waiting-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        saw_waiter.append(any(Path(markers).glob("waiting-*")))  # still inside compute: the lock is held
        RecordWriter(folder).write([{"id": "only"}])
        return {}

    art, reused = Store(root).run("s", {"k": 1}, {}, compute)
    out_q.put({"pid": os.getpid(), "reused": reused, "saw_waiter": saw_waiter,
               "waited": Path(markers, f"waiting-{os.getpid()}").exists()})


def test_lock_lets_one_process_compute(tmp_path):
    """The two processes overlap: one computes under the lock while the other is blocked on it."""
    store, markers = tmp_path / "store", tmp_path / "markers"
    markers.mkdir()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_compute_once, args=(str(store), str(markers), q)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [q.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    holder, waiter = sorted(results, key=lambda r: r["reused"])
    assert not holder["reused"] and waiter["reused"]  # one computed, the other reused
    # The waiter logged "Waiting for another process" (its lock file existed: the lock was held),
    # naming the holder, and the holder saw that log's marker before it left compute and let the lock go.
    art = Store(store).artifact("s", {"k": 1}, {})
    assert waiter["waited"] and not holder["waited"]
    waited = (markers / f"waiting-{waiter['pid']}").read_text()
    assert f"computing s/{art.key}" in waited and f"held by pid {holder['pid']} on " in waited
    assert holder["saw_waiter"] == [True] and waiter["saw_waiter"] == []
    assert sorted(m.name for m in markers.glob("computing-*")) == [f"computing-{holder['pid']}"]
    assert [r["id"] for r in art.records()] == ["only"]


def test_malformed_jsonl_names_file_and_line(tmp_path):
    p = tmp_path / "seeds.jsonl"
    p.write_text(json.dumps({"id": 1, "problem": "x"}) + "\n" + "{not json\n")
    with pytest.raises(JSONLError, match=r"seeds\.jsonl:2: malformed JSON"):
        list(read_jsonl(p))
