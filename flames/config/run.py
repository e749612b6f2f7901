"""Schemas of a run: benchmarks, grading, logging, failures, paths, cluster resources, studies; the root Config."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from flames.config.fields import (ABOVE_ZERO, COUNT, NON_NEGATIVE, SEED, SHARE, UNIT, Range, keyed_if_set, num,
                                  one_of, runtime, unkeyed)
from flames.grading.modes import MODES as GRADING_MODES

BENCHMARK_SOURCES = ("local", "hub", "builtin")  # where a benchmark's items come from
from flames.config.generation import (ANSWER_FROM, AuditConfig, MixtureConfig, QCConfig, SeedsConfig, SolveConfig,
                                      TeacherConfig)
from flames.config.models import DistributedConfig, ModelConfig, StudentConfig


@dataclass
class BenchmarkConfig:
    """One benchmark of the suite (an entry of `benchmarks.suite`): where its items come from."""

    source: str = one_of("local", BENCHMARK_SOURCES)  # local: <data_dir>/benchmarks/<file> | hub: datasets.load_dataset(hub)
    file: Optional[str] = None  # JSONL file under <data_dir>/benchmarks/ (source=local)
    hub: Optional[str] = None  # Hugging Face dataset id, or a local dataset folder (source=hub)
    hub_configs: List[str] = field(default_factory=list)  # hub config names, concatenated; [] = the default one
    hub_split: str = "test"  # hub split to evaluate on
    fields: Dict[str, str] = field(default_factory=dict)  # item field -> hub column (id, problem, answer, subsets)
    answer_from: str = one_of("field", ANSWER_FROM)  # how the hub answer column becomes the gold
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
    mode: str = one_of("flames", GRADING_MODES)


@dataclass
class BenchmarksConfig:
    """The evaluation suite: one `suite` entry per benchmark (each conf/benchmarks file adds one)."""

    suite: Dict[str, BenchmarkConfig] = field(default_factory=dict)  # benchmark name -> where its items come from
    names: List[str] = "${oc.dict.keys:.suite}"  # type: ignore[assignment]  # which suite entries run; default all
    source: Optional[str] = one_of(None, ("local", "hub"))  # overrides every benchmark's own source (builtin stays builtin)
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
    name: str = one_of("none", ("wandb", "none"))
    project: str = "flames"
    entity: Optional[str] = None
    mode: str = one_of("offline", ("offline", "online", "disabled"))
    group: Optional[str] = None  # W&B group; default: the experiment name (a study sets its name)
    tags: List[str] = field(default_factory=list)  # added to one tag per chosen config option
    id: Optional[str] = None  # W&B run id (set: every launch logs to it); default: one per launch, kept by a requeue
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

    # fine-tuning the solution model into a teacher (teacher.enabled, rehearsal=signal): a training job
    teach: Resources = field(default_factory=lambda: Resources(cpus=8, mem_gb=64, time_min=720))
    # fine-tuning an agent's own generator (QFT): a training job, like train
    tune: Resources = field(default_factory=lambda: Resources(cpus=8, mem_gb=64, time_min=720))
    synthesize: Resources = field(default_factory=Resources)
    problem_qc: Resources = field(default_factory=lambda: Resources(cpus=8, time_min=120))
    solve: Resources = field(default_factory=Resources)
    solution_qc: Resources = field(default_factory=Resources)
    audit: Resources = field(default_factory=Resources)  # the solvability audit's judge (experiment=paper: a GPU)
    mix: Resources = field(default_factory=lambda: Resources(cpus=1, mem_gb=8, time_min=30))
    train: Resources = field(default_factory=lambda: Resources(cpus=8, mem_gb=64, time_min=720))
    evaluate: Resources = field(default_factory=Resources)


class Stage(str, Enum):
    """What `flames stage=...` runs: the pipeline up to and including that stage."""

    all = "all"
    teach = "teach"
    tune = "tune"
    synthesize = "synthesize"
    problem_qc = "problem_qc"
    solve = "solve"
    solution_qc = "solution_qc"
    audit = "audit"
    mix = "mix"
    train = "train"
    evaluate = "evaluate"


@dataclass
class ShardConfig:
    """One task's part of a pool's work (flames.store.shards): a study sets it on its generation tasks."""

    index: Optional[int] = runtime(None, NON_NEGATIVE)  # this task's shard, 0..count-1; None: the whole artifact
    count: int = runtime(1, COUNT)  # shards the work is split into (the artifact is the same for any count)
    agent: Optional[str] = runtime(None)  # the one agent whose artifact this task computes; None: every agent's
    # work items a round plans per problem missing, over the observed yield (1 for a new pool); QC drops beyond
    # it are made up by the task that folds the shards in, alone
    margin: float = runtime(1.15, Range(1.0, 10.0))


@dataclass
class ServerPoolConfig:
    """One model's `vllm serve` replicas for a study (flames.servers): its tasks send requests there instead of each
    loading the model."""

    replicas: int = num(0, NON_NEGATIVE)  # server jobs (one array), each serving the whole model; 0: no pool
    gpus: int = num(1, NON_NEGATIVE)  # per replica; a model over several GPUs also needs --tensor-parallel-size in args
    cpus: int = num(8, COUNT)  # per replica
    mem_gb: int = num(64, COUNT)  # host memory per replica
    time_min: int = num(1440, COUNT)  # each replica's wall-clock limit: cover every stage that uses the pool
    port: int = num(0, NON_NEGATIVE)  # 0: a free port on the replica's node
    args: List[str] = field(default_factory=list)  # more server arguments (--max-model-len 8192, --tensor-parallel-size 4)
    env: Dict[str, str] = field(default_factory=dict)  # the server's environment (VLLM_CPU_KVCACHE_SPACE=1 on CPU)
    wait_s: float = num(3600.0, ABOVE_ZERO)  # how long a task waits for a first healthy replica before it fails


@dataclass
class ServersConfig:
    """A study's model server pools, one per model role (flames.servers; docs/slurm.md, "Model server pools")."""

    problem_model: ServerPoolConfig = field(default_factory=ServerPoolConfig)  # synthesize, solution QC's judge, audit
    solution_model: ServerPoolConfig = field(default_factory=ServerPoolConfig)  # solve


@dataclass
class StudyConfig:
    """A factorial over config groups, run as SLURM job arrays stage by stage (`flames study=<name>`)."""

    name: Optional[str] = None  # conf/study/<name>; None = a plain run, no study
    overrides: List[str] = field(default_factory=list)  # for every cell (e.g. experiment=paper)
    axes: Dict[str, List[Any]] = field(default_factory=dict)  # override key -> values; cells are their product
    # overrides of one more cell, first and outside the axes (study=signal: the untrained student); the report's
    # paired tests compare every cell with it, and the axes' cells with the first of them
    baseline: List[str] = field(default_factory=list)
    # "<axis>=<value>" -> overrides added to every cell holding that value (a size one agent cannot reach)
    cell_overrides: Dict[str, List[str]] = field(default_factory=dict)
    dry_run: bool = False  # print cells, unique artifacts per stage, jobs, resources and GPU-hours; submit nothing
    executor: str = one_of("slurm", ("slurm", "local"))  # local: submitit's local executor, stage by stage, no SLURM
    # partitions by need (a stage asking GPUs goes to gpu); env vars let one profile serve a cluster
    gpu_partition: Optional[str] = "${oc.env:FLAMES_GPU_PARTITION,null}"
    cpu_partition: Optional[str] = "${oc.env:FLAMES_CPU_PARTITION,null}"
    account: Optional[str] = "${oc.env:FLAMES_ACCOUNT,null}"  # sbatch --account
    qos: Optional[str] = "${oc.env:FLAMES_QOS,null}"  # sbatch --qos
    setup: List[str] = field(default_factory=list)  # shell lines before each job, after the profile's (module load, ...)
    # a CPU-only task's settings over the `hydra/launcher` profile's ({partition: cpu, constraint: null}; on a command
    # line: +study.cpu_overrides.partition=cpu)
    cpu_overrides: Dict[str, Any] = field(default_factory=dict)
    array_parallelism: int = num(64, COUNT)  # tasks of one stage array running at once
    # shards per synthesize and solve artifact (array tasks that run at once); None: as many as its estimated
    # hours need to fit one job of the stage's time limit
    shards: Optional[int] = num(None, COUNT)
    # server replicas per model that the stages using it call (study.servers.solution_model.replicas=4); none by
    # default: every task loads its model
    servers: ServersConfig = field(default_factory=ServersConfig)
    max_num_timeout: int = num(3, NON_NEGATIVE)  # requeues of a task that hits its time limit (it resumes; the dry run counts them)
    check_feasibility: bool = True  # refuse to submit (exit 2) when a task's memory, capacity or time check fails
    wait: bool = True  # wait for every job, then list failures (exit 1 if any)
    report: bool = True  # then write the study's tables and plots (<folder>/<name>/report/, docs/report.md)
    wandb_report: bool = False  # and save them as a W&B Report over the cells' runs (needs a W&B login)
    report_from: str = one_of("store", ("store", "wandb"))  # the artifacts' manifests | the cells' W&B runs (online)
    # for the GPU-hours estimate: tokens per second per GPU (vLLM generation, SFT); set yours from a benchmark
    generate_tokens_per_s_per_gpu: float = num(2500.0, ABOVE_ZERO)
    train_tokens_per_s_per_gpu: float = num(3000.0, ABOVE_ZERO)
    folder: str = "${paths.outputs}/studies"  # job scripts and logs: <folder>/<name>/<stage>/


EXPORTABLE = ("synthesize", "problem_qc", "solve", "solution_qc", "mix")  # the stages `flames export=` writes


@dataclass
class ExportConfig:
    """`flames export=<stage>`: that stage's artifact of this config as a Hugging Face dataset (docs/export.md)."""

    stage: Optional[str] = one_of(None, EXPORTABLE, keyed=False)  # which artifact; None: run the pipeline instead
    agent: Optional[str] = None  # per-agent stages: only this agent's artifact; None: every agent's, one config each
    dir: Optional[str] = None  # the dataset folder; None: <paths.outputs>/exports/<stage>-<key>
    push_to_hub: Optional[str] = None  # a hub repo id to upload the folder to (needs `hf auth login`); None: local only
    private: bool = True  # the hub repo's visibility, when push_to_hub creates it


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
    teacher: TeacherConfig = field(default_factory=TeacherConfig)  # solve with a fine-tuned solution model (stage teach)
    audit: AuditConfig = field(default_factory=AuditConfig)  # the solvability audit stage (study=solvability_audit)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    distributed: DistributedConfig = MISSING
    study: StudyConfig = field(default_factory=StudyConfig)
    export: ExportConfig = field(default_factory=ExportConfig)  # `flames export=mix`: write an artifact as a dataset
    shard: ShardConfig = field(default_factory=ShardConfig)  # set by a study's generation tasks (study.shards)
    # set by a study's jobs: the stages before `stage` must be in the store already (a failed upstream job
    # makes this one fail at once instead of recomputing it)
    study_task: bool = False
    experiment: str = "quickstart"  # experiment name (W&B group, output folder)
    dry_run: bool = runtime(False)  # print each stage: reused or computed, sizes, requests, tokens, cost; run nothing
    stage: Stage = Stage.all  # all | teach | tune | synthesize | problem_qc | solve | solution_qc | audit | mix | train | evaluate


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
