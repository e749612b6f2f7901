"""`dtype: auto` (flames.llm.hf.resolve_dtype): the embedded model's precision by what the CPU computes natively."""

import pytest


@pytest.mark.parametrize("bf16, amx, expected", [(False, False, "float32"), (True, False, "bfloat16"),
                                                 (False, True, "bfloat16")])
def test_dtype_auto_is_bf16_only_where_the_cpu_computes_it(monkeypatch, bf16, amx, expected):
    """bench/cpu_dtype.py: emulated bf16 is 1.9x slower than fp32 on an AVX512 CPU without BF16/AMX."""
    import torch

    from flames.llm.hf import resolve_dtype

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    assert resolve_dtype("auto", "cpu") == expected
    assert resolve_dtype("auto", "cuda") == "bfloat16" and resolve_dtype("float16", "cpu") == "float16"
