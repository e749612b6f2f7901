"""Reward-model scoring of sampled solutions (the "RM" of the paper's "Solvability + RM").

The paper ranked solutions with InternLM2-7B-Reward. Here any transformers reward model
works: an AutoModelForSequenceClassification with one label (Skywork-Reward, ...) scores
the chat (user: problem, assistant: solution) rendered with its own chat template; a model
that only loads as AutoModel with remote code and exposes ``get_scores(tokenizer, chats)``
(InternLM2-Reward's documented API) is called through that method instead.

`embedded:tiny-reward` is a randomly initialised 2-layer Llama classifier with the
embedded SmolLM2 tokenizer, built locally (no download) and cached like the embedded
model. Its scores mean nothing; it exists so the strategy runs in CPU tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from flames.files import cached_folder
from flames.llm.embedded import cache_root, embedded_model_dir, resolve_model_path

log = logging.getLogger(__name__)

TINY_REWARD = "embedded:tiny-reward"
_TINY_VERSION = 1


def tiny_reward_dir():
    """The tiny reward model folder, built on first use (seeded, so every machine builds the same one)."""
    return cached_folder(cache_root() / "models" / f"tiny-reward-v{_TINY_VERSION}", _build_tiny)


def _build_tiny(out) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192, num_labels=1,
                         pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)


def resolve_reward_model(name: str) -> str:
    """Map a reward-model name from config to something from_pretrained accepts."""
    return str(tiny_reward_dir()) if name == TINY_REWARD else resolve_model_path(name)


class RewardScorer:
    """Scores (problem, solution) pairs; the model loads on the first call.

    `before_load` runs just before loading (the pipeline frees its generation models
    there: a vLLM engine holds most of the GPU memory).
    """

    def __init__(self, name: str, dtype: str = "bfloat16", batch_size: int = 8, max_length: int = 4096,
                 extra: dict | None = None, before_load: Callable[[], None] | None = None):
        self.name, self.dtype, self.batch_size, self.max_length = name, dtype, batch_size, max_length
        self.extra = dict(extra or {})
        self.before_load = before_load
        self.truncated = 0  # pairs longer than max_length, scored on their first max_length tokens
        self._model: Any = None

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        self._load()
        chats = [[{"role": "user", "content": p}, {"role": "assistant", "content": s}] for p, s in pairs]
        if not self._classifier:
            return [float(x) for x in self._model.get_scores(self._tok, chats)]
        texts = [self._render(c) for c in chats]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # batches of similar length pad little
        scores: dict[int, float] = {}
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            for i, s in zip(idx, self._forward([texts[i] for i in idx])):
                scores[i] = s
        return [scores[i] for i in range(len(texts))]

    def _render(self, chat: list[dict]) -> str:
        if self._tok.chat_template:
            return self._tok.apply_chat_template(chat, tokenize=False)
        return f"{chat[0]['content']}\n\n{chat[1]['content']}"

    def _forward(self, texts: list[str]) -> list[float]:
        import torch

        special = not self._tok.chat_template  # a chat template writes its own special tokens
        lengths = [len(ids) for ids in self._tok(texts, add_special_tokens=special)["input_ids"]]
        self.truncated += sum(n > self.max_length for n in lengths)
        enc = self._tok(texts, add_special_tokens=special, truncation=True, max_length=self.max_length,
                        padding=True, return_tensors="pt").to(self._device)
        with torch.no_grad():
            logits = self._model(**enc).logits
        return logits[:, 0].float().tolist()

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

        if self.before_load:
            self.before_load()
        path = resolve_reward_model(self.name)
        self._device = "cuda" if torch.cuda.is_available() else "cpu"
        self._tok = AutoTokenizer.from_pretrained(path, **self.extra)
        self._tok.padding_side = "right"  # classifiers pool the last non-pad token
        if self._tok.pad_token is None:
            self._tok.pad_token = self._tok.eos_token
        kwargs = dict(dtype=getattr(torch, self.dtype), **self.extra)
        try:
            model = AutoModelForSequenceClassification.from_pretrained(path, **kwargs)
            self._classifier = True
            if model.config.pad_token_id is None:
                model.config.pad_token_id = self._tok.pad_token_id
        except ValueError:  # no classification head registered: remote-code reward models (InternLM2-Reward)
            model = AutoModel.from_pretrained(path, **kwargs)
            if not hasattr(model, "get_scores"):
                raise ValueError(f"{self.name}: neither a sequence classifier nor a model with get_scores()") from None
            self._classifier = False
        self._model = model.to(self._device).eval()
        log.info("reward model %s loaded on %s", self.name, self._device)

    def close(self) -> None:
        self._model = None
