"""Structured config schemas, registered in Hydra's ConfigStore.

Each config group's YAML files extend a schema stored here, so a misspelled key fails at
compose time with Hydra's error naming the key. Field names match the arguments they feed.
Agents and QC strategies are classes named by `_target_`; their own schema (the class's `Config`)
is checked when the pipeline starts, before any model loads.

A field marked `runtime(...)` changes only speed or memory (batch sizes, GPUs per model): it stays
out of artifact keys, so changing it reuses what was computed (`flames.keys.key_slice`). A field
marked `unkeyed(...)` is left out because the key records its effect another way (see its comment).
A field marked `size(...)` says how many records to generate: out of the generating stage's key (its
artifact grows or serves a prefix), in the key of what reads that many (docs/topup.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

KEYED = "keyed"  # dataclass field metadata: False = stays out of artifact keys
IF_SET = "if_set"  # KEYED's value for a field keyed only when it differs from its default
SIZE = "size"  # dataclass field metadata: True = a record count that a pool grows to (`size(...)`)
RANGE = "range"  # dataclass field metadata: the Range a number must be in (flames.checks), declared for every one


class ConfigError(ValueError):
    """A user's mistake in the configuration: printed as one line, exit code 2."""


@dataclass(frozen=True)
class Range:
    """The values a numeric field may take: lo <= v <= hi, an end left open where `*_open`, None for no bound.
    A field typed Optional also takes null."""

    lo: Optional[float] = None
    hi: Optional[float] = None
    lo_open: bool = False
    hi_open: bool = False

    def holds(self, v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        above = self.lo is None or (v > self.lo if self.lo_open else v >= self.lo)
        below = self.hi is None or (v < self.hi if self.hi_open else v <= self.hi)
        return above and below

    def __str__(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}{')' if self.hi_open else ']'}"
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}"
        return f"{'<' if self.hi_open else '<='} {self.hi:g}" if self.hi is not None else "any number"


COUNT = Range(1)  # a count: 0 would make nothing (and a negative one slices from the end)
NON_NEGATIVE = Range(0)  # 0 means none (greedy, no retries, ...)
ABOVE_ZERO = Range(0, lo_open=True)  # a rate, a length of time, a learning rate
UNIT = Range(0, 1, lo_open=True)  # a probability mass or share in (0, 1]
SHARE = Range(0, 1)  # a share in [0, 1]
SEED = Range(0)  # random seeds: torch and vLLM take none below 0


def _meta(at: Optional[Range], **meta: Any) -> dict:
    return {**meta, RANGE: at} if at is not None else meta


def num(default: Any, at: Range) -> Any:
    """A keyed number with its range."""
    return field(default=default, metadata=_meta(at))


def runtime(default: Any = None, at: Optional[Range] = None, **kwargs: Any) -> Any:
    """A field that changes only speed or memory: left out of artifact keys."""
    if "default_factory" in kwargs:
        return field(metadata=_meta(at, **{KEYED: False}), **kwargs)
    return field(default=default, metadata=_meta(at, **{KEYED: False}), **kwargs)


def unkeyed(default: Any = None, at: Optional[Range] = None, **kwargs: Any) -> Any:
    """A field whose effect the stage's key records another way (a content fingerprint): left out."""
    return runtime(default, at, **kwargs)


def size(default: Any = None, at: Optional[Range] = COUNT) -> Any:
    """How many records a generation stage makes (problems, samples): left out of that stage's key, since its
    artifact is a pool that grows when more is asked and serves a smaller ask from what it holds (flames.views);
    what reads such a view is keyed by the size it read (flames.stages)."""
    return field(default=default, metadata=_meta(at, **{KEYED: False, SIZE: True}))


def keyed_if_set(default: Any, at: Optional[Range] = None) -> Any:
    """A field added after artifacts were keyed: in the key only when set away from its default, so that
    the artifacts made before it existed keep their keys (flames.keys.key_slice)."""
    return field(default=default, metadata=_meta(at, **{KEYED: IF_SET}))


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
    served_model_name: Optional[str] = runtime(None)  # the server's name for `name`; None = name (embedded: its folder)
    concurrency: int = runtime(64, at=COUNT)  # requests in flight at once
    max_retries: int = runtime(10, at=NON_NEGATIVE)  # per request, on connection errors, timeouts, 408/429/5xx (backoff 1 s..60 s)
    request_timeout: float = runtime(600.0, at=ABOVE_ZERO)  # seconds one request may take before it is retried


@dataclass
class AgentConfig:
    """A data-synthesis agent. Subclasses add the agent's own knobs."""

    _target_: str = MISSING  # the agent class, e.g. flames.agents.paraphrase.Paraphrase
    name: str = MISSING  # the agent's label (problem ids, mixture weights, tables, W&B)
    # target number of problems after problem QC (seeds are drawn again when they run out); a size: the pool grows
    num_problems: int = size(16)
    # at most this many, whatever num_problems asks (a study cell's own size too); rehearsal=cpu sets it
    num_problems_cap: Optional[int] = size(None)
    # passes over the seeds at most (problems per seed), so a bad agent cannot loop forever; a size (a limit)
    max_draws: int = size(32)
    max_new_tokens: Optional[int] = num(None, COUNT)  # override problem_model.max_new_tokens for this agent
    chunk_size: int = runtime(64, at=COUNT)  # seeds per resumable chunk (each step is one batched call per chunk)


@dataclass
class SeedsConfig:
    """Seed problems for seeded agents."""

    path: Optional[str] = None  # one JSONL file (id, problem, answer[, solution]); None and no files = built-in
    files: List[str] = field(default_factory=list)  # several JSONL files, drawn in equal shares (GSM8K:MATH 50:50)
    builtin_count: int = num(64, COUNT)  # size of the built-in arithmetic seed set
    limit: Optional[int] = num(None, COUNT)  # use at most this many seeds
    shuffle_seed: int = num(0, SEED)  # seeds are shuffled with this before `limit`
    shares: Optional[Dict[str, float]] = None  # target share of problems per seed dataset; None = equal
    # records per seed dataset, declared for the dry run's capacity check (the files need not be here)
    sizes: Dict[str, int] = runtime(default_factory=dict, at=COUNT)


@dataclass
class DedupConfig:
    threshold: Optional[float] = num(None, UNIT)  # None = exact dedup on normalized text (the paper); else MinHash Jaccard
    backend: str = "auto"  # auto | rensa | datasketch (MinHash near-dup only)


@dataclass
class DecontamConfig:
    enabled: bool = True  # drop problems that copy a benchmark item
    # near_copy: the paper rule or <= 1 word edit per 20 tokens (docs/qc.md) | paper: >=95% of a test
    # problem's 8-grams (misses one-word edits of most problems) | ngram13: any shared 13-gram
    mode: str = "near_copy"
    against: List[str] = field(default_factory=list)  # benchmarks of the suite to check; [] = all (paper: gsm8k, math)


@dataclass
class SolvabilityConfig:
    """How the solvability judge (qc.judge) is sampled."""

    temperature: float = num(0.0, NON_NEGATIVE)  # greedy: a verdict should not depend on the sampling seed
    max_new_tokens: int = num(128, COUNT)  # a one-sentence reason, then the verdict line
    chunk_size: int = runtime(256, at=COUNT)  # problems per batched judge call; verdicts are saved after each call


@dataclass
class RewardModelConfig:
    """A reward model scoring (problem, solution) pairs: any AutoModelForSequenceClassification with one label."""

    name: str = "embedded:tiny-reward"  # hub id, folder, or embedded:tiny-reward (random, built locally: tests)
    dtype: str = "bfloat16"  # weights dtype
    batch_size: int = runtime(8, at=COUNT)  # pairs per forward pass (speed only)
    max_length: int = num(4096, COUNT)  # tokens per pair; longer pairs are truncated (counted in the metrics)
    extra: Dict[str, Any] = field(default_factory=dict)  # from_pretrained kwargs, e.g. trust_remote_code: true


@dataclass
class QCConfig:
    """Solution QC strategy plus the problem-QC settings it runs with."""

    # {_target_: a flames.qc.strategies.Strategy class}: first | majority | majority_first | strict |
    # solvability | solvability_reward (conf/qc/)
    strategy: Any = MISSING
    fixed_size: Optional[int] = num(None, COUNT)  # subsample kept problems to this count (equal-size comparisons)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    # The solvability judge; name "" = the problem model, all its settings (the paper: "a Qwen model"). Not an
    # interpolation: a command-line override of one of its fields would write through to problem_model.
    judge: ModelConfig = field(default_factory=lambda: ModelConfig(name=""))
    solvability: SolvabilityConfig = field(default_factory=SolvabilityConfig)
    reward_model: RewardModelConfig = field(default_factory=RewardModelConfig)  # solvability_reward only


@dataclass
class SolveConfig:
    num_samples: int = size(3)  # solutions sampled per problem (paper's QC study: 3; main recipe: 1); a size: tops up
    prompt: str = "Please reason step by step, and put your final answer within \\boxed{}."
    chunk_size: int = runtime(64, at=COUNT)  # problems per batched call; each chunk is written before the next starts


@dataclass
class MixtureConfig:
    """How agents are blended, and the data budget; or an external SFT dataset to train on instead."""

    @staticmethod
    def budget_of(m: Any) -> Optional[int]:
        """The budget in effect: `budget`, capped by `budget_cap` when both are set."""
        return min(m.budget, m.budget_cap) if m.budget and m.get("budget_cap") else m.budget

    name: str = MISSING  # single = 100% of `agent`; external = `dataset`, no agents
    weights: Dict[str, float] = field(default_factory=dict, metadata={RANGE: NON_NEGATIVE})  # agent name -> share (blends only)
    agents: Dict[str, Any] = field(default_factory=dict)  # agent configs of a blend (filled by defaults)
    # total training examples; None = everything available. Set, it also sizes a blend: each agent makes its share
    budget: Optional[int] = num(None, COUNT)
    # at most this many examples, shares kept (rehearsal=cpu: a paper mixture at CPU size); None = the budget
    budget_cap: Optional[int] = keyed_if_set(None, at=COUNT)
    # settings merged over every agent of a blend (experiment=paper: the paper's token budgets, large chunks)
    agent_overrides: Dict[str, Any] = field(default_factory=dict)
    seed: int = num(0, SEED)  # sampling seed for the budget
    # a share short of examples: warn (log it, mix what there is) | error (stop the mix, exit 2; experiment=paper)
    shortfall: str = unkeyed("warn")
    shortfall_tolerance: float = unkeyed(0.01, at=Range(0, 1, hi_open=True))  # a share may be short by this fraction of itself before `error` stops
    # mixture=external: the SFT dataset trained on instead of the agents' output: a JSONL file, a dataset folder or
    # a Hugging Face dataset id; None = the agents (mix keys a file or folder by its name and content, not its path)
    dataset: Optional[str] = unkeyed(None)
    split: str = "train"  # the dataset's split (a hub id or a folder; a JSONL file is one split)
    fields: Dict[str, str] = field(default_factory=dict)  # record field -> dataset column (id, problem, solution)


@dataclass
class StudentConfig:
    """The base model fine-tuned on the mixture, its SFT hyperparameters, and checkpoint selection."""

    name: str = MISSING  # base model (hub id, folder, or embedded:smollm2-135m-instruct)
    # an already trained model folder: skip training, evaluate this (evaluate keys it by path and mtime)
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
    selection: str = "last"
    select_on: List[str] = field(default_factory=lambda: ["gsm8k", "math"])  # selection=paper: benchmarks
    dev_size: int = num(200, COUNT)  # selection=dev: mixture rows held out from training to select on
    seed: int = num(0, SEED)
    max_steps: int = num(-1, Range(-1))  # >0 overrides num_train_epochs (smoke runs)
    extra: Dict[str, Any] = field(default_factory=dict)  # more SFTConfig arguments


@dataclass
class DistributedConfig:
    """How the train and tune stages launch: torchrun with one process per device, and the sharding."""

    name: str = "ddp"  # ddp | fsdp | zero3 (conf/distributed/)
    # training processes; None = the visible GPUs (1 on CPU); a dry run uses resources.<stage>.gpus
    num_processes: Optional[int] = runtime(None, at=COUNT)
    fsdp: str = runtime("")  # TrainingArguments.fsdp, e.g. "full_shard auto_wrap" (distributed=fsdp)
    fsdp_config: Dict[str, Any] = runtime(default_factory=dict)  # TrainingArguments.fsdp_config
    deepspeed: Dict[str, Any] = runtime(default_factory=dict)  # a DeepSpeed config (distributed=zero3); {} = none
    dry_run: bool = runtime(False)  # print the train launch command and plan, run nothing


@dataclass
class BenchmarkConfig:
    """One benchmark of the suite (an entry of `benchmarks.suite`): where its items come from."""

    source: str = "local"  # local: <data_dir>/benchmarks/<file> | hub: datasets.load_dataset(hub) | builtin
    file: Optional[str] = None  # JSONL file under <data_dir>/benchmarks/ (source=local)
    hub: Optional[str] = None  # Hugging Face dataset id, or a local dataset folder (source=hub)
    hub_configs: List[str] = field(default_factory=list)  # hub config names, concatenated; [] = the default one
    hub_split: str = "test"  # hub split to evaluate on
    fields: Dict[str, str] = field(default_factory=dict)  # item field -> hub column (id, problem, answer, subsets)
    answer_from: str = "field"  # how the hub answer column becomes the gold: field | after_hashes | boxed | first
    where: Dict[str, List[str]] = field(default_factory=dict)  # keep only items whose field has one of these values
    exclude: Dict[str, List[str]] = field(default_factory=dict)  # drop items whose field has one of these values
    subsets: List[str] = field(default_factory=list)  # item fields whose values get their own accuracy rows
    # printed under the evaluation table when the items come from the local file (where it differs from the paper's)
    local_note: Optional[str] = runtime(None)


@dataclass
class GradingConfig:
    """How answers are judged (flames.grading; docs/grading.md)."""

    # flames: this project's grader | qwen: the Qwen2.5-Math evaluation's math_equal (what the paper used) |
    # math_verify: plain math-verify. Keyed only when not flames: default evaluations keep their keys.
    mode: str = "flames"


@dataclass
class BenchmarksConfig:
    """The evaluation suite: one `suite` entry per benchmark (each conf/benchmarks file adds one)."""

    suite: Dict[str, BenchmarkConfig] = field(default_factory=dict)  # benchmark name -> where its items come from
    names: List[str] = "${oc.dict.keys:.suite}"  # type: ignore[assignment]  # which suite entries run; default all
    source: Optional[str] = None  # local | hub: overrides every benchmark's own source (builtin stays builtin)
    backend: str = "hf"  # hf | vllm, or a flames.llm.LLM subclass as module.Class: how the student is run for evaluation
    dtype: str = "bfloat16"  # weights dtype for evaluation (auto: as ModelConfig.dtype)
    # folder with benchmarks/*.jsonl; default $FLAMES_DATA_DIR (the items' fingerprint is in the key)
    data_dir: Optional[str] = unkeyed(None)
    limit: Optional[int] = num(None, COUNT)  # evaluate the first N items of each benchmark
    # with limit: a random N items drawn with this seed, not the first N (the items' fingerprint is in the key)
    limit_seed: Optional[int] = unkeyed(None, at=SEED)
    builtin_count: int = num(32, COUNT)  # size of the built-in arithmetic test set
    prompt: str = "Please reason step by step, and put your final answer within \\boxed{}."  # after the problem
    max_new_tokens: int = num(2048, COUNT)  # paper: greedy decoding, at most 2,048 new tokens
    batch_size: int = runtime(32, at=COUNT)  # sequences per generate() call (hf backend)
    # items per generation call, appended to the predictions as it returns (a kill loses at most one);
    # None: one generate() batch (batch_size) on hf, 256 on vllm/openai (their engines batch inside a call)
    chunk_size: Optional[int] = runtime(None, at=COUNT)
    audit: bool = True  # also run math-verify on pairs the fast path decided; disagreements are logged
    # Sampled evaluation and intervals (docs/evaluation.md "Samples and intervals"); at their defaults the
    # evaluate key is what it was before they existed.
    num_samples: int = keyed_if_set(0, at=NON_NEGATIVE)  # k sampled answers per item besides the greedy one; 0 = greedy only
    temperature: float = keyed_if_set(0.7, at=NON_NEGATIVE)  # sampling temperature of the k samples (greedy stays greedy)
    top_p: float = keyed_if_set(0.95, at=UNIT)  # nucleus sampling of the k samples
    sample_seed: int = keyed_if_set(0, at=SEED)  # base seed of the k samples (each item's own comes from it)
    confidence: float = keyed_if_set(0.95, at=Range(0, 1, lo_open=True, hi_open=True))  # level of every interval (Wilson for accuracies, bootstrap for avg-of-k)
    bootstrap_resamples: int = keyed_if_set(1000, at=COUNT)  # resamples per bootstrap interval
    bootstrap_seed: int = keyed_if_set(0, at=SEED)  # seed of the bootstrap resampling (a regrade redraws the same)


@dataclass
class LoggerConfig:
    name: str = "none"  # wandb | none
    project: str = "flames"
    entity: Optional[str] = None
    mode: str = "offline"  # offline | online | disabled
    group: Optional[str] = None  # W&B group; default: the experiment name (a study sets its name)
    tags: List[str] = field(default_factory=list)  # added to one tag per chosen config option
    id: Optional[str] = None  # W&B run id; default: a hash of the job's overrides (a requeue resumes the run)
    run_name: Optional[str] = None  # W&B run name; default: the job's overrides (agent=iqc,qc=majority)
    dir: Optional[str] = None  # where wandb/ is written; default: the Hydra run dir
    sample_rows: int = num(20, NON_NEGATIVE)  # rows of the sample-records table per stage


@dataclass
class FailuresConfig:
    """Requests the backend did not answer (docs/failures.md): failed rows, their retry, and when a run stops."""

    retry_failed: bool = runtime(True)  # a later run with the same config retries the failed rows (only those)
    max_attempts: int = runtime(3, at=COUNT)  # attempts per failed row, its first included; then it stays failed (dropped)
    window: int = runtime(500, at=NON_NEGATIVE)  # the last requests of a stage watched for failures (0 = never stop early)
    max_rate: float = runtime(0.2, at=SHARE)  # stop the run when more than this share of the window failed


@dataclass
class PathsConfig:
    outputs: str = "outputs"  # run folders and the store, relative to where flames is started
    store: str = "${oc.env:FLAMES_STORE,${paths.outputs}/store}"  # artifact store, shared by all runs and sweeps
    # seconds a job waits for another's lock on an artifact before it gives up naming the holder; None = forever
    lock_timeout_s: Optional[float] = num(None, ABOVE_ZERO)


@dataclass
class Resources:
    """What one stage's job asks a cluster for (read by launchers; never part of a key)."""

    cpus: int = num(4, COUNT)  # CPU cores
    gpus: int = num(0, NON_NEGATIVE)  # GPUs (experiment=paper sets them per stage)
    mem_gb: int = num(32, COUNT)  # host memory
    time_min: int = num(240, COUNT)  # wall-clock limit
    gpu_mem_gb: float = num(80.0, ABOVE_ZERO)  # memory of each GPU asked for (the dry run's memory check)


@dataclass
class ResourcesConfig:
    """Resources per stage (conf/config.yaml defaults, experiment overlays for clusters)."""

    # fine-tuning an agent's own generator (QFT): a training job, like train
    tune: Resources = field(default_factory=lambda: Resources(cpus=8, mem_gb=64, time_min=720))
    synthesize: Resources = field(default_factory=Resources)
    problem_qc: Resources = field(default_factory=lambda: Resources(cpus=8, time_min=120))
    solve: Resources = field(default_factory=Resources)
    solution_qc: Resources = field(default_factory=Resources)
    mix: Resources = field(default_factory=lambda: Resources(cpus=1, mem_gb=8, time_min=30))
    train: Resources = field(default_factory=lambda: Resources(cpus=8, mem_gb=64, time_min=720))
    evaluate: Resources = field(default_factory=Resources)


class Stage(str, Enum):
    """What `flames stage=...` runs: the pipeline up to and including that stage."""

    all = "all"
    tune = "tune"
    synthesize = "synthesize"
    problem_qc = "problem_qc"
    solve = "solve"
    solution_qc = "solution_qc"
    mix = "mix"
    train = "train"
    evaluate = "evaluate"


@dataclass
class StudyConfig:
    """A factorial over config groups, run as SLURM job arrays stage by stage (`flames study=<name>`)."""

    name: Optional[str] = None  # conf/study/<name>; None = a plain run, no study
    overrides: List[str] = field(default_factory=list)  # for every cell (e.g. experiment=paper)
    axes: Dict[str, List[Any]] = field(default_factory=dict)  # override key -> values; cells are their product
    # "<axis>=<value>" -> overrides added to every cell holding that value (a size one agent cannot reach)
    cell_overrides: Dict[str, List[str]] = field(default_factory=dict)
    dry_run: bool = False  # print cells, unique artifacts per stage, jobs, resources and GPU-hours; submit nothing
    executor: str = "slurm"  # slurm | local (submitit's local executor: stage by stage, no SLURM)
    # partitions by need (a stage asking GPUs goes to gpu); env vars let one profile serve a cluster
    gpu_partition: Optional[str] = "${oc.env:FLAMES_GPU_PARTITION,null}"
    cpu_partition: Optional[str] = "${oc.env:FLAMES_CPU_PARTITION,null}"
    account: Optional[str] = "${oc.env:FLAMES_ACCOUNT,null}"  # sbatch --account
    qos: Optional[str] = "${oc.env:FLAMES_QOS,null}"  # sbatch --qos
    setup: List[str] = field(default_factory=list)  # shell lines before each job (module load, venv activate)
    array_parallelism: int = num(64, COUNT)  # tasks of one stage array running at once
    max_num_timeout: int = num(3, NON_NEGATIVE)  # requeues of a task that hits its time limit (it resumes; the dry run counts them)
    check_feasibility: bool = True  # refuse to submit (exit 2) when a task's memory, capacity or time check fails
    wait: bool = True  # wait for every job, then list failures (exit 1 if any)
    report: bool = True  # then write the study's tables and plots (<folder>/<name>/report/, docs/report.md)
    wandb_report: bool = False  # and save them as a W&B Report over the cells' runs (needs a W&B login)
    report_from: str = "store"  # store: the artifacts' manifests | wandb: the cells' W&B runs (online, no store)
    # for the GPU-hours estimate: tokens per second per GPU (vLLM generation, SFT); set yours from a benchmark
    generate_tokens_per_s_per_gpu: float = num(2500.0, ABOVE_ZERO)
    train_tokens_per_s_per_gpu: float = num(3000.0, ABOVE_ZERO)
    folder: str = "${paths.outputs}/studies"  # job scripts and logs: <folder>/<name>/<stage>/


@dataclass
class Config:
    agent: Any = MISSING  # an agent config (conf/agent/); its class's Config is checked at start
    qc: QCConfig = MISSING
    problem_model: ModelConfig = MISSING
    solution_model: ModelConfig = MISSING
    mixture: MixtureConfig = MISSING
    student: StudentConfig = MISSING
    seeds: SeedsConfig = MISSING
    benchmarks: BenchmarksConfig = MISSING
    grading: GradingConfig = field(default_factory=GradingConfig)  # grading.mode=qwen grades as the paper did
    logger: LoggerConfig = MISSING
    paths: PathsConfig = field(default_factory=PathsConfig)
    failures: FailuresConfig = field(default_factory=FailuresConfig)  # failed requests: retry and early stop
    solve: SolveConfig = field(default_factory=SolveConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    distributed: DistributedConfig = MISSING
    study: StudyConfig = field(default_factory=StudyConfig)
    # set by a study's jobs: the stages before `stage` must be in the store already (a failed upstream job
    # makes this one fail at once instead of recomputing it)
    study_task: bool = False
    experiment: str = "quickstart"  # experiment name (W&B group, output folder)
    stage: Stage = Stage.all  # all | tune | synthesize | problem_qc | solve | solution_qc | mix | train | evaluate


def register_configs() -> None:
    """Store every schema; YAML files name them in their defaults list."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    cs.store(group="schema/qc", name="qc", node=QCConfig)
    cs.store(group="schema/model", name="model", node=ModelConfig)
    cs.store(group="schema/mixture", name="mixture", node=MixtureConfig)
    cs.store(group="schema/student", name="student", node=StudentConfig)
    cs.store(group="schema/seeds", name="seeds", node=SeedsConfig)
    cs.store(group="schema/benchmarks", name="benchmarks", node=BenchmarksConfig)
    cs.store(group="schema/logger", name="logger", node=LoggerConfig)
    cs.store(group="schema/distributed", name="distributed", node=DistributedConfig)
