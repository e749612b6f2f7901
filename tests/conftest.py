"""Shared fixtures: an isolated store and W&B folder per test, the data folder, a scripted LLM.

The test tiers and the CI rule on skips are in tests/tiers.py (loaded here as a plugin)."""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path

import pytest

import flames.llm as llm_mod
from flames.llm import LLM, Generation

REPO = Path(__file__).resolve().parent.parent
pytest_plugins = ["tests.tiers", "pytester"]  # tiers: the test tiers and CI's rule on skips


def data_dir() -> Path | None:
    """$FLAMES_DATA_DIR, else ../shared/data next to the repository; None when neither exists. A
    FLAMES_DATA_DIR that is set but lacks seeds/ or benchmarks/ is a mistake, not a reason to skip."""
    env = os.environ.get("FLAMES_DATA_DIR")
    if env:
        missing = [sub for sub in ("seeds", "benchmarks") if not Path(env, sub).is_dir()]
        if missing:
            pytest.fail(f"FLAMES_DATA_DIR={env} has no {' or '.join(missing)}/ folder")
        return Path(env)
    d = REPO.parent / "shared" / "data"
    return d if (d / "seeds").is_dir() else None


@pytest.fixture(scope="session")
def flames_data() -> Path:
    """The data folder. Every test that uses it (directly or through another fixture) is in the full tier
    (tests/tiers.py); there it skips without data, which CI does not allow."""
    d = data_dir()
    if d is None:
        pytest.skip("real data not found: set FLAMES_DATA_DIR (see ../shared/data/SOURCES.md)")
    return d


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Llama with the embedded model's tokenizer and chat template, saved as a
    model folder: for tests of training plumbing (DDP, checkpoints, selection), where what is trained does not
    matter and SmolLM2-135M's cost would. The real student trains in test_train's overfit test and the quickstart."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from flames.llm.embedded import embedded_model_dir

    import torch

    out = tmp_path_factory.mktemp("tiny-student")
    torch.manual_seed(0)  # the same weights in every worker and run
    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test writes its store, W&B runs and caches under its own tmp folder."""
    monkeypatch.setenv("FLAMES_STORE", str(tmp_path / "store"))
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb-home"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    if data_dir():
        monkeypatch.setenv("FLAMES_DATA_DIR", str(data_dir()))


class ScriptedLLM(LLM):
    """A test double: answers each request with `reply(prompt_text, k)` (or `reply(prompt_text, k, seed)`,
    the request's sampling seed) and records every call.

    `truncated(prompt_text, k)`, when given, says which completions hit the token limit. With `apply_stops`,
    a reply ends before the first of the request's stop strings, as vLLM's do.
    """

    def __init__(self, reply, truncated=None, apply_stops=False):
        self.reply = reply
        self.truncated = truncated
        self.apply_stops = apply_stops
        self.calls: list[list[str]] = []
        self.seeds: list[list[int]] = []  # per call, each request's sampling seed
        self.samplings: list = []  # per call, its Sampling (stop strings, token budget)

    def _chat(self, conversations, sampling, seeds):
        prompts = [c[-1]["content"] for c in conversations]
        self.calls.append(prompts)
        self.seeds.append(list(seeds))
        self.samplings.append(sampling)
        ks = range(sampling.n)
        with_seed = len(inspect.signature(self.reply).parameters) == 3
        answer = (lambda p, k, s: self.reply(p, k, s)) if with_seed else (lambda p, k, s: self.reply(p, k))
        stops = sampling.stop if self.apply_stops else ()
        reply = lambda p, k, s: cut_at(answer(p, k, s), stops)  # noqa: E731
        return [Generation(texts=[reply(p, k, s) for k in ks], prompt_tokens=len(p.split()),
                           completion_tokens=[3] * sampling.n,
                           truncated=[bool(self.truncated and self.truncated(p, k)) for k in ks])
                for p, s in zip(prompts, seeds)]


def cut_at(text: str, stops) -> str:
    """`text` up to the first of `stops` it holds (the whole text when none)."""
    return min((text.split(stop, 1)[0] for stop in stops), key=len, default=text)


def problem_from_prompt(prompt: str) -> str:
    """The seed problem an agent prompt was filled with (the last few-shot 'Question:' slot)."""
    m = re.findall(r"^Question: (.*)$", prompt, re.M)
    return m[-1] if m else prompt


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """No network: `datasets` reads local dataset folders only, and caches under tmp."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    return tmp_path


@pytest.fixture
def scripted():
    return ScriptedLLM


@pytest.fixture
def scripted_backend(monkeypatch):
    """`install(reply)`: every stage's model becomes one ScriptedLLM (returned)."""
    def install(reply):
        llm = ScriptedLLM(reply)
        monkeypatch.setattr(llm_mod, "load_llm", lambda cfg: llm)
        return llm

    return install


def require(feature: str, available: bool, why: str) -> None:
    """Skip a test whose service or package is missing (`feature` names it in the message). Under CI a skip
    fails the run (tests/tiers.py), so CI cannot pass with the service missing."""
    if not available:
        pytest.skip(f"{feature}: {why}")
