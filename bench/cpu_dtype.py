"""Generation speed of the embedded model on this CPU in bf16 and fp32, and what `dtype: auto` picks.

The embedded configs use `dtype: auto` (flames.llm.hf.resolve_dtype): bf16 where the CPU computes it
natively (AVX512-BF16 or AMX), fp32 elsewhere. This bench shows the choice is the faster one here:
the same 32 built-in paraphrase prompts, sampled to the same number of new tokens (no stop strings,
no EOS), timed for each dtype after a warm-up call.

Usage: python bench/cpu_dtype.py [--requests 32] [--tokens 48]
"""

from __future__ import annotations

import argparse
import time


def tokens_per_second(path: str, dtype: str, prompts: list[str], tokens: int) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    tok.pad_token = tok.pad_token or tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).eval()
    enc = tok(prompts, return_tensors="pt", padding=True)
    kwargs = dict(max_new_tokens=tokens, min_new_tokens=tokens, do_sample=True, temperature=0.7,
                  pad_token_id=tok.pad_token_id)
    with torch.no_grad():
        model.generate(**{k: v[:2] for k, v in enc.items()}, **{**kwargs, "max_new_tokens": 4, "min_new_tokens": 4})
        start = time.perf_counter()
        model.generate(**enc, **kwargs)
    return len(prompts) * tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=32, help="prompts in the batch")
    parser.add_argument("--tokens", type=int, default=48, help="new tokens per prompt")
    args = parser.parse_args()

    from flames import builtin
    from flames.agents.base import fill, load_prompt
    from flames.llm.embedded import resolve_model_path
    from flames.llm.hf import resolve_dtype

    path = resolve_model_path("embedded:smollm2-135m-instruct")
    prompts = [fill(load_prompt("paraphrase"), problem=s["problem"]) for s in builtin.seeds(args.requests)]
    rate = {dtype: tokens_per_second(path, dtype, prompts, args.tokens) for dtype in ("bfloat16", "float32")}
    for dtype, r in rate.items():
        print(f"{dtype:9s} {r:7.1f} new tok/s  ({args.requests} requests x {args.tokens} tokens)")
    auto, best = resolve_dtype("auto", "cpu"), max(rate, key=rate.get)
    print(f"fp32/bf16 speed ratio: {rate['float32'] / rate['bfloat16']:.2f}")
    print(f"dtype: auto picks {auto} on this CPU; the faster here is {best}" + ("" if auto == best else "  <-- MISMATCH"))


if __name__ == "__main__":
    main()
