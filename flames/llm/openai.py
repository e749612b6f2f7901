"""OpenAI-compatible server backend: requests to `vllm serve` (one server shared by many jobs) or a hosted API.

    problem_model.backend=openai problem_model.base_url=http://node12:8000/v1

Each conversation is one request (`/v1/chat/completions`, or `/v1/completions` with the raw prompt when
`chat_template` is false) asking for `n` completions with the request's own seed. Requests run
`concurrency` at a time; connection errors, timeouts, 408/409/429 and 5xx are retried with exponential
backoff (a request still failing after `max_retries` comes back as a `server_error` result: a failed row
that a later run retries, docs/failures.md), while any other 4xx (a wrong model name, a bad key, a prompt over the context length) stops the
call with one `ConfigError` line naming the model and the URL.

Request-level resume: while a stage runs, the pipeline names a file in its artifact folder
(the stage context's `request_cache`); each finished request is appended to it (fsync'd), keyed by a hash of
the request body (model, messages or prompt, sampling settings, seed), and a rerun after a kill answers
those from the file instead of the server.

vLLM servers (detected from `/v1/models`, whose entries say `owned_by: vllm`) also get `top_k`,
`repetition_penalty` and `return_token_ids` (exact token counts per completion). Other servers get only
the standard OpenAI fields: a configured top_k or repetition penalty is ignored there (with a warning),
and with n > 1 the per-completion token counts are the usage total split evenly (sums stay exact).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import openai
from tqdm.auto import tqdm

from flames.config import ConfigError
from flames.files import append_jsonl, repair_tail
from flames.llm import LLM, SERVER_ERROR, Generation, Sampling, raw_prompt, refused
from flames.llm.replicas import NoReplica, Replicas

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429})  # and every 5xx


class ServerError(RuntimeError):
    """The server stayed unreachable or failing through every retry."""


class OpenAIModel(LLM):
    @classmethod
    def from_config(cls, path: str, cfg) -> OpenAIModel:
        # `path` is `name` resolved (an embedded: alias becomes its folder, which is what a vLLM server
        # started with `--model <folder>` calls it); served_model_name overrides it.
        return cls(cfg.get("served_model_name") or path, base_url=cfg.get("base_url"),
                   api_key_env=cfg.get("api_key_env") or "OPENAI_API_KEY",
                   chat_template=cfg.get("chat_template", True), concurrency=cfg.get("concurrency") or 64,
                   max_retries=cfg.get("max_retries", 10), timeout=cfg.get("request_timeout") or 600.0,
                   server_pool=cfg.get("server_pool"),
                   **dict(cfg.get("extra", {}) or {}))

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 chat_template: bool = True, concurrency: int = 64, max_retries: int = 10, timeout: float = 600.0,
                 backoff: float = 1.0, max_backoff: float = 60.0, cache_path: str | Path | None = None,
                 extra_body: dict | None = None, server_pool: str | None = None):
        self.name = model
        self.chat_template = chat_template
        self.concurrency = max(1, int(concurrency))
        self.max_retries = int(max_retries)
        self.backoff, self.max_backoff = backoff, max_backoff
        self.cache_path = cache_path  # explicit; else the running stage's (StageContext.request_cache)
        self.extra_body = dict(extra_body or {})  # more request fields, e.g. {"min_p": 0.05}
        # vllm serve without --api-key accepts any key; the client insists on one
        api_key = os.environ.get(api_key_env) or "EMPTY"
        self.replicas = Replicas(lambda url: openai.OpenAI(base_url=url or None, api_key=api_key, max_retries=0,
                                                           timeout=timeout), base_url, server_pool)
        self.url = self.replicas.url
        self._warned: set[str] = set()
        self._requests: RequestCache | None = None  # the open request cache (the running stage's file)
        for name in ("httpx", "httpx2"):  # the client logs every request at INFO
            if logging.getLogger(name).level == logging.NOTSET:
                logging.getLogger(name).setLevel(logging.WARNING)
        served = self._served_models(retry=True)
        self.vllm = any(m.get("owned_by") == "vllm" for m in served)
        log.info("openai backend: %s at %s (%s)", model, self.url, "vLLM" if self.vllm else "not vLLM")

    # ---- requests --------------------------------------------------------------------------------------------

    def _chat(self, conversations: list[list[dict]], sampling: Sampling, seeds: list[int]) -> list[Generation]:
        self._requests = cache = reopened(self._requests, self.cache_path or self.requests_file)
        results: list[Generation | None] = [None] * len(conversations)
        todo = []
        for i, (conv, seed) in enumerate(zip(conversations, seeds)):
            body = self._body(conv, sampling, seed)
            key = request_key(body)
            results[i] = cache.get(key) if cache else None
            if results[i] is None:
                todo.append((i, key, body))
        if len(todo) < len(conversations):
            log.info("openai backend: %d of %d requests answered from %s", len(conversations) - len(todo),
                     len(conversations), cache.path)
        abort = threading.Event()

        def work(i: int, key: str, body: dict) -> tuple[int, Generation]:
            try:
                gen = self._parse(self._send(body, abort), sampling, chat="messages" in body)
            except ServerError as e:  # a failed row, retried by a later run (not cached: the retry asks again)
                log.warning("%s", e)
                return i, refused(sampling.n, 0, SERVER_ERROR, str(e))
            if cache:
                cache.put(key, gen)
            return i, gen

        bar = tqdm(total=len(conversations), initial=len(conversations) - len(todo), desc="requests", unit="req",
                   leave=False)
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(todo))))
        futures = [pool.submit(work, *t) for t in todo]
        try:
            for fut in as_completed(futures):
                i, gen = fut.result()
                results[i] = gen
                bar.update()
        except BaseException:
            abort.set()  # queued requests are dropped, retrying ones give up; those in flight finish (and are cached)
            for fut in futures:
                fut.cancel()
            raise
        finally:
            pool.shutdown(wait=True)
            bar.close()
        if len(self.replicas.sent) > 1:
            log.info("openai backend: requests per replica: %s", self.replicas.balance())
        return results  # type: ignore[return-value]

    def _body(self, conv: list[dict], s: Sampling, seed: int) -> dict:
        greedy = s.temperature <= 0
        body: dict[str, Any] = {"model": self.name, "n": s.n, "max_tokens": s.max_new_tokens, "seed": int(seed),
                                "temperature": 0.0 if greedy else s.temperature, "top_p": 1.0 if greedy else s.top_p}
        if self.chat_template:
            body["messages"] = [{"role": m["role"], "content": m["content"]} for m in conv]
        else:
            body["prompt"] = raw_prompt(conv)
        if s.stop:
            body["stop"] = list(s.stop)
        extra = dict(self.extra_body)
        wanted = {"top_k": s.top_k if not greedy and s.top_k > 0 else None,
                  "repetition_penalty": s.repetition_penalty if s.repetition_penalty != 1.0 else None}
        for name, value in wanted.items():
            if value is None:
                continue
            if self.vllm:
                extra[name] = value
            elif name not in extra and name not in self._warned:
                self._warned.add(name)
                log.warning("openai backend: %s=%s is not sent (%s is not a vLLM server; set it in extra.extra_body "
                            "if this server takes it)", name, value, self.url)
        if self.vllm:
            extra["return_token_ids"] = True  # exact token counts per completion
        if extra:
            body["extra_body"] = extra
        return body

    def _send(self, body: dict, abort: threading.Event | None = None) -> Any:
        chat = "messages" in body
        return self._retrying(lambda c: (c.chat.completions if chat else c.completions).create(**body), abort)

    def _retrying(self, call, abort: threading.Event | None = None) -> Any:
        """`call(client)` on the next replica, retried on connection errors, timeouts, 408/409/425/429 and 5xx (at
        once on another replica of a pool when one refuses the connection); other 4xx: ConfigError."""
        for attempt in range(self.max_retries + 1):
            wait = 0.0
            try:
                url, client = self.replicas.pick()
                return call(client)
            except NoReplica as e:
                raise ServerError(str(e)) from None
            except openai.APIStatusError as e:
                if e.status_code < 500 and e.status_code not in RETRY_STATUS:
                    raise self._user_error(e) from None
                err: Exception = e
                wait = _retry_after(e)
            except openai.APIConnectionError as e:  # includes timeouts
                err = e
                if not isinstance(e, openai.APITimeoutError) and self.replicas.failed(url) \
                        and attempt < self.max_retries:
                    continue  # another replica takes it now
            if attempt == self.max_retries or (abort is not None and abort.is_set()):
                break
            wait = max(wait, min(self.max_backoff, self.backoff * 2 ** attempt) * (0.5 + random.random() / 2))
            log.warning("openai backend: %s (%s); retry %d/%d in %.1f s", url, _one_line(err), attempt + 1,
                        self.max_retries, wait)
            if abort is not None:
                abort.wait(wait)
            else:
                time.sleep(wait)
        raise ServerError(f"openai backend: {self.url} failed for model '{self.name}' after "
                          f"{self.max_retries} retries: {_one_line(err)}")

    @staticmethod
    def _parse(resp: Any, s: Sampling, chat: bool) -> Generation:
        choices = sorted(resp.choices, key=lambda c: c.index)
        texts = [((c.message.content if chat else c.text) or "").strip() for c in choices]
        truncated = [c.finish_reason == "length" for c in choices]
        ids = [getattr(c, "token_ids", None) for c in choices]
        used = resp.usage
        if ids and all(x is not None for x in ids):
            counts = [len(x) for x in ids]
        else:
            counts = split_tokens(used.completion_tokens if used else 0, truncated, s.max_new_tokens)
        return Generation(texts=texts, prompt_tokens=used.prompt_tokens if used else 0, completion_tokens=counts,
                          truncated=truncated)

    # ---- the server ------------------------------------------------------------------------------------------

    def _served_models(self, retry: bool) -> list[dict]:
        """The server's /v1/models entries ([] where it has none)."""
        try:
            page = self._retrying(lambda c: c.models.list()) if retry else self.replicas.pick()[1].models.list()
            return [m.model_dump() for m in page.data]
        except ConfigError as e:  # 404/405: a server without /v1/models; a bad key is reported by the first request
            log.info("%s", e)
        except (openai.OpenAIError, ServerError) as e:
            if retry:
                raise
            log.debug("listing models: %s", e)
        return []

    def _user_error(self, e: openai.APIStatusError) -> ConfigError:
        msg = f"openai backend: {self.url} answered {e.status_code} for model '{self.name}': {_one_line(e)}"
        if e.status_code == 404:
            ids = [m["id"] for m in self._served_models(retry=False)]
            if ids and self.name not in ids:
                msg += f" (it serves {ids}; set served_model_name, or name, to one of them)"
        elif e.status_code in (401, 403):
            msg += " (check the API key's env var, api_key_env)"
        return ConfigError(msg)

    def close(self) -> None:
        self.replicas.close()


# ---- helpers --------------------------------------------------------------------------------------------------

def request_key(body: dict) -> str:
    """Hash of everything that decides a request's answer: model, messages or prompt, sampling, seed."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def split_tokens(total: int, truncated: list[bool], max_tokens: int) -> list[int]:
    """Per-completion counts from the usage total: a truncated completion used max_tokens, the rest share."""
    n = len(truncated)
    if n <= 1:
        return [total] * n
    rest = [i for i, t in enumerate(truncated) if not t]
    left = max(0, total - max_tokens * (n - len(rest)))
    counts = [max_tokens if t else 0 for t in truncated]
    for j, i in enumerate(rest):
        counts[i] = left // len(rest) + (j < left % len(rest))
    return counts


def _retry_after(e: openai.APIStatusError) -> float:
    try:
        return float(e.response.headers.get("retry-after", 0))
    except (TypeError, ValueError):
        return 0.0


def _one_line(e: Exception) -> str:
    body = getattr(e, "body", None)
    text = (body.get("message") if isinstance(body, dict) else None) or getattr(e, "message", None) or str(e) \
        or type(e).__name__
    text = " ".join(str(text).split())
    return text if len(text) <= 300 else text[:297] + "..."


class RequestCache:
    """Finished requests of one stage in a JSONL file, one `{"id": key, "gen": Generation}` per line.

    Memory: only each key's byte offset; a hit reads its line back from the file.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.lock = threading.Lock()
        self.offsets: dict[str, int] = {}
        if self.path.exists():
            repair_tail(self.path)  # a kill mid-append leaves a torn line
            with open(self.path, "rb") as fh:
                pos = 0
                for line in fh:
                    self.offsets[json.loads(line)["id"]] = pos
                    pos += len(line)

    def get(self, key: str) -> Generation | None:
        pos = self.offsets.get(key)
        if pos is None:
            return None
        with open(self.path, "rb") as fh:
            fh.seek(pos)
            return Generation(**json.loads(fh.readline())["gen"])

    def put(self, key: str, gen: Generation) -> None:
        with self.lock:
            pos = self.path.stat().st_size if self.path.exists() else 0
            append_jsonl(self.path, [{"id": key, "gen": dataclasses.asdict(gen)}])
            self.offsets[key] = pos


def reopened(cache: RequestCache | None, path: str | Path | None) -> RequestCache | None:
    """The cache of `path`: `cache` while it is that file's and the file is still there, else the file opened."""
    if path is None:
        return None
    if cache is None or cache.path != Path(path) or (cache.offsets and not cache.path.exists()):  # another, or removed
        return RequestCache(path)
    return cache
