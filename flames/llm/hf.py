"""transformers `generate` backend (CPU or GPU); no dependency beyond transformers."""

from __future__ import annotations

import logging

from tqdm.auto import tqdm

from flames.llm import LLM, Generation, Sampling, raw_prompt, request_seed

log = logging.getLogger(__name__)


class HFModel(LLM):
    @classmethod
    def from_config(cls, path: str, cfg) -> HFModel:
        return cls(path, dtype=cfg.dtype, batch_size=cfg.batch_size, chat_template=cfg.get("chat_template", True),
                   max_model_len=cfg.get("max_model_len"), **dict(cfg.get("extra", {}) or {}))

    def __init__(self, path: str, dtype: str = "bfloat16", batch_size: int = 32, chat_template: bool = True,
                 device: str | None = None, max_model_len: int | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name = path
        self.batch_size = batch_size
        self.chat_template = chat_template
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tok = AutoTokenizer.from_pretrained(path)
        self.tok.padding_side = "left"  # batched generation continues from the right edge
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        dtype = resolve_dtype(dtype, self.device)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(self.device).eval()
        # the positions the model was trained on, unless the config caps them lower
        self.max_model_len = max_model_len or getattr(self.model.config, "max_position_embeddings", None)

    def context_length(self) -> int | None:
        return self.max_model_len

    def prompt_lengths(self, conversations: list[list[dict]]) -> list[int]:
        enc = self.tok(self._prompts(conversations), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in enc]

    def _prompts(self, conversations: list[list[dict]]) -> list[str]:
        return [self.tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) if self.chat_template
                else raw_prompt(c) for c in conversations]

    def _chat(self, conversations: list[list[dict]], sampling: Sampling, seeds: list[int]) -> list[Generation]:
        prompts = self._prompts(conversations)
        # Sort by length so each batch pads little; results are put back in request order.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        per_batch = max(1, self.batch_size // sampling.n)
        results: dict[int, Generation] = {}
        batches = [order[i:i + per_batch] for i in range(0, len(order), per_batch)]
        for b, idx in enumerate(tqdm(batches, desc="generate", unit="batch", leave=False)):
            batch_seed = request_seed(sampling.seed, *sorted(seeds[i] for i in idx))
            for i, gen in zip(idx, self._generate([prompts[i] for i in idx], sampling, batch_seed)):
                results[i] = gen
        return [results[i] for i in range(len(prompts))]

    def _generate(self, prompts: list[str], sampling: Sampling, seed: int) -> list[Generation]:
        import torch

        enc = self.tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        greedy = sampling.temperature <= 0
        kwargs = dict(max_new_tokens=sampling.max_new_tokens, do_sample=not greedy,
                      num_return_sequences=sampling.n, pad_token_id=self.tok.pad_token_id,
                      repetition_penalty=sampling.repetition_penalty)
        if sampling.stop:
            kwargs.update(stop_strings=list(sampling.stop), tokenizer=self.tok)
        if not greedy:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p,
                          top_k=sampling.top_k if sampling.top_k > 0 else None)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        # generate() has one RNG per batch: seeded by the batch's requests, the same batch samples the same
        torch.manual_seed(seed)
        with torch.no_grad():
            out = self.model.generate(**enc, **kwargs)
        new = out[:, enc["input_ids"].shape[1]:]
        n_prompt = enc["attention_mask"].sum(dim=1).tolist()
        gens = []
        for j in range(len(prompts)):
            rows = new[j * sampling.n:(j + 1) * sampling.n]
            raw = self.tok.batch_decode(rows, skip_special_tokens=True)
            texts = [_cut(t, sampling.stop) for t in raw]
            ids = [r.tolist() for r in rows]
            counts = [_count_generated(r, self.tok.pad_token_id, self.tok.eos_token_id) for r in ids]
            # generate() does not say why it stopped: no EOS, no stop string and the whole budget used
            truncated = [n >= sampling.max_new_tokens and self.tok.eos_token_id not in r and t == c
                         for n, r, t, c in zip(counts, ids, raw, texts)]
            gens.append(Generation(texts=[t.strip() for t in texts], prompt_tokens=int(n_prompt[j]),
                                   completion_tokens=counts, truncated=truncated))
        return gens


def resolve_dtype(dtype: str, device: str) -> str:
    """`auto`: bfloat16 on a GPU and on a CPU with native bf16 (AVX512-BF16 or AMX); float32 on other CPUs,
    where bf16 is emulated and 2.3x slower than fp32 for SmolLM2-135M (bench/cpu_dtype.py)."""
    if dtype != "auto":
        return dtype
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch's private CPU probes (torch 2.x)
    native = device != "cpu" or any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)
    return "bfloat16" if native else "float32"


def _count_generated(ids: list[int], pad_id: int, eos_id: int) -> int:
    """Tokens up to and including the first EOS (padding after it is not output)."""
    for k, t in enumerate(ids):
        if t == eos_id:
            return k + 1
    n = len(ids)
    while n and ids[n - 1] == pad_id:
        n -= 1
    return n


def _cut(text: str, stop: tuple[str, ...]) -> str:
    """Remove the stop string and what follows (vLLM leaves it out; HF keeps it)."""
    for s in stop:
        i = text.find(s)
        if i >= 0:
            text = text[:i]
    return text
