"""Schemas of the models: the LLMs that write problems and solutions, their shapes, the student and how it trains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

from flames.config.fields import ABOVE_ZERO, COUNT, NON_NEGATIVE, SEED, UNIT, Range, num, one_of, runtime, unkeyed

SELECTIONS = ("last", "paper", "dev")  # student.selection: which checkpoint becomes the model


@dataclass
class ModelShape:
    """A model's size and layer shapes, from its config.json: what a dry run needs to check GPU memory without
    downloading the model (flames.feasibility)."""

    params_b: float = num(MISSING, ABOVE_ZERO)  # parameters, in billions
    layers: int = num(MISSING, COUNT)  # decoder layers
    hidden: int = num(MISSING, COUNT)  # hidden size
    kv_heads: int = num(MISSING, COUNT)  # key/value heads (GQA)
    head_dim: int = num(MISSING, COUNT)  # per attention head
    vocab: int = num(MISSING, COUNT)  # vocabulary size (the embedding is the largest layer)


@dataclass
class ModelConfig:
    """An LLM and how to sample from it (problem_model, solution_model)."""

    name: str = MISSING  # hub id, local folder, or embedded:smollm2-135m-instruct
    backend: str = "hf"  # hf | vllm | openai, or a flames.llm.LLM subclass as module.Class
    dtype: str = "bfloat16"  # weights dtype for generation; auto (hf): bf16 on GPUs and CPUs with native bf16, else fp32
    chat_template: bool = True  # False: send the prompt text as-is, for few-shot completion (base/tiny models)
    temperature: float = num(0.7, NON_NEGATIVE)
    top_p: float = num(0.9, UNIT)
    top_k: int = num(50, Range(-1))  # -1 disables
    repetition_penalty: float = num(1.0, ABOVE_ZERO)
    max_new_tokens: int = num(2048, COUNT)
    batch_size: int = runtime(32, at=COUNT)  # hf backend: sequences per generate() call
    seed: int = num(0, SEED)
    # context length (vllm reserves KV cache for it; hf: the model's own by default); a prompt that fills it
    # is not sent, its record dropped as prompt_too_long
    max_model_len: Optional[int] = num(None, COUNT)
    tensor_parallel_size: int = runtime(1, at=COUNT)  # vllm: GPUs per model
    gpu_memory_utilization: float = runtime(0.9, at=UNIT)  # vllm
    extra: Dict[str, Any] = field(default_factory=dict)  # passed through to the backend constructor
    shape: Optional[ModelShape] = runtime(None)  # size and layer shapes, for the dry run's memory check
    # openai backend (an OpenAI-compatible server: vllm serve, a hosted API); none of these enter artifact keys
    base_url: Optional[str] = runtime(None)  # server URL, e.g. http://node12:8000/v1; None = $OPENAI_BASE_URL
    api_key_env: str = runtime("OPENAI_API_KEY")  # name of the env var holding the API key (never the key itself)
    # a study's server pool (set by the study on the tasks that use it, flames.servers): the folder where its replicas
    # register their URLs; requests are balanced over the healthy ones (base_url and backend are then not read)
    server_pool: Optional[str] = runtime(None)
    served_model_name: Optional[str] = runtime(None)  # the server's name for `name`; None = name (embedded: its folder)
    concurrency: int = runtime(64, at=COUNT)  # requests in flight at once
    max_retries: int = runtime(10, at=NON_NEGATIVE)  # per request, on connection errors, timeouts, 408/429/5xx (backoff 1 s..60 s)
    request_timeout: float = runtime(600.0, at=ABOVE_ZERO)  # seconds one request may take before it is retried
    # what a hosted API charges per million tokens (USD): `flames dry_run=true` prints the cost of a run
    usd_per_million_prompt_tokens: Optional[float] = runtime(None, at=NON_NEGATIVE)
    usd_per_million_completion_tokens: Optional[float] = runtime(None, at=NON_NEGATIVE)


@dataclass
class StudentConfig:
    """The base model fine-tuned on the mixture, its SFT hyperparameters, and checkpoint selection."""

    name: str = MISSING  # base model (hub id, folder, or embedded:smollm2-135m-instruct)
    # a model to evaluate as it is (stage=evaluate or all; evaluate keys it by path and mtime): nothing is trained
    path: Optional[str] = unkeyed(None)
    shape: Optional[ModelShape] = runtime(None)  # size and layer shapes, for the dry run's memory check
    # chat template for training and evaluation: null = the tokenizer's own (the fallback if it has none),
    # "fallback" = flames.train.templates.FALLBACK (DeepSeek's "User: ...\n\nAssistant:" + EOS), or a Jinja string
    chat_template: Optional[str] = None
    learning_rate: float = num(1e-5, ABOVE_ZERO)
    num_train_epochs: float = num(5.0, ABOVE_ZERO)
    per_device_train_batch_size: int = num(4, COUNT)
    # examples per optimizer step over all devices; None = per_device x accumulation x devices. Set, the
    # accumulation is derived, so it means the same on 1 or 8 devices
    global_batch_size: Optional[int] = num(None, COUNT)
    gradient_accumulation_steps: int = num(1, COUNT)  # used only when global_batch_size is None
    lr_scheduler_type: str = "cosine"
    warmup_steps: float = num(0.03, NON_NEGATIVE)  # < 1: a fraction of the total steps (transformers 5 semantics)
    weight_decay: float = num(0.0, NON_NEGATIVE)
    max_grad_norm: float = num(1.0, NON_NEGATIVE)  # gradient clipping
    max_length: int = num(2048, COUNT)  # prompt + solution tokens; longer examples are dropped and counted
    # pack several examples per sequence (TRL BFD packing, padding-free); needs a varlen attention kernel
    packing: bool = False
    attn_implementation: Optional[str] = None  # from_pretrained's; None = transformers' default (sdpa)
    bf16: bool = True  # bf16 autocast over fp32 master weights on GPU; ignored on CPU (fp32)
    gradient_checkpointing: bool = False
    num_checkpoints: int = num(1, COUNT)  # checkpoints spread evenly over training (paper: 10); the last one resumes a killed job
    # keep the checkpoints' optimizer states once training is done (to continue training later); 1.6 GB at 135M
    keep_optimizer_states: bool = runtime(False)
    # which checkpoint becomes the model: last (honest) | paper (best mean accuracy on select_on test
    # benchmarks: selects on test data, as the paper did) | dev (best on a held-out dev split of the mixture)
    selection: str = one_of("last", SELECTIONS)
    select_on: List[str] = field(default_factory=lambda: ["gsm8k", "math"])  # selection=paper: benchmarks
    dev_size: int = num(200, COUNT)  # selection=dev: mixture rows held out from training to select on
    seed: int = num(0, SEED)
    max_steps: int = num(-1, Range(-1))  # >0 overrides num_train_epochs (smoke runs)
    extra: Dict[str, Any] = field(default_factory=dict)  # more SFTConfig arguments


@dataclass
class DistributedConfig:
    """How the train and tune stages launch: torchrun with one process per device, and the sharding."""

    name: str = one_of("ddp", ("ddp", "fsdp", "zero3"))  # how it shards (conf/distributed/)
    # training processes; None = the visible GPUs (1 on CPU); a dry run uses resources.<stage>.gpus
    num_processes: Optional[int] = runtime(None, at=COUNT)
    fsdp: str = runtime("")  # TrainingArguments.fsdp, e.g. "full_shard auto_wrap" (distributed=fsdp)
    fsdp_config: Dict[str, Any] = runtime(default_factory=dict)  # TrainingArguments.fsdp_config
    deepspeed: Dict[str, Any] = runtime(default_factory=dict)  # a DeepSpeed config (distributed=zero3); {} = none
    dry_run: bool = runtime(False)  # print the train launch command and plan, run nothing
