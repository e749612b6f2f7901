"""Schemas of data generation: agents, seeds, problem and solution QC, solving, mixtures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

from flames.config.fields import (COUNT, IF_SET, NON_NEGATIVE, RANGE, SEED, UNIT, Range, keyed_if_set, num, runtime,
                                  size, one_of, unkeyed)

DEDUP_BACKENDS = ("auto", "rensa", "datasketch")  # qc.dedup.backend: MinHash implementations
ANSWER_FROM = ("field", "after_hashes", "boxed", "first")  # how a dataset's answer column becomes the gold
from flames.config.models import ModelConfig


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

    name: Optional[str] = runtime(None)  # the conf/seeds option (builtin, gsm8k_math, hf): errors and cards name it
    path: Optional[str] = None  # one JSONL file (id, problem, answer[, solution]); None and no files = built-in
    files: List[str] = field(default_factory=list)  # several JSONL files, drawn in equal shares (GSM8K:MATH 50:50)
    builtin_count: int = num(64, COUNT)  # size of the built-in arithmetic seed set
    limit: Optional[int] = num(None, COUNT)  # use at most this many seeds
    shuffle_seed: int = num(0, SEED)  # seeds are shuffled with this before `limit`
    shares: Optional[Dict[str, float]] = None  # target share of problems per seed dataset; None = equal
    # records per seed dataset, declared for the dry run's capacity check (the files need not be here)
    sizes: Dict[str, int] = runtime(default_factory=dict, at=COUNT)
    # A Hugging Face dataset instead of files (seeds=hf): a hub id (offline: from the local HF cache), a folder
    # written by save_to_disk, or a folder of data files. The key holds its rows' content hash (flames.seeds), not
    # where it lies (a moved folder is reused); the three after it are keyed only when set (earlier keys stay).
    dataset: Optional[str] = unkeyed(None)
    hub_config: Optional[str] = unkeyed(None)  # the hub dataset's config name (openai/gsm8k: main); keyed by content too
    split: str = keyed_if_set("train")  # the dataset's split (a save_to_disk folder of one Dataset has none)
    fields: Optional[Dict[str, str]] = keyed_if_set(None)  # seed field -> column (id, problem, answer, solution)
    answer_from: str = one_of("field", ANSWER_FROM, keyed=IF_SET)  # how the answer column becomes the seed's answer
    license: Optional[str] = runtime(None)  # the seeds' licence, named in `flames export`'s dataset card


@dataclass
class DedupConfig:
    threshold: Optional[float] = num(None, UNIT)  # None = exact dedup on normalized text (the paper); else MinHash Jaccard
    backend: str = one_of("auto", DEDUP_BACKENDS)  # MinHash near-dup only


@dataclass
class DecontamConfig:
    enabled: bool = True  # drop problems that copy a benchmark item
    # near_copy: the paper rule or <= 1 word edit per 20 tokens (docs/qc.md) | paper: >=95% of a test
    # problem's 8-grams (misses one-word edits of most problems) | ngram13: any shared 13-gram
    mode: str = one_of("near_copy", ("near_copy", "paper", "ngram13"))
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
class AuditConfig:
    """The solvability audit (the paper's Table 12): how many problems a QC strategy rejected are solvable after all."""

    enabled: bool = False  # run the audit stage after solution QC (study=solvability_audit)
    # the judge that looks again; name "" = the problem model (set a stronger one: audit.judge.name=<hub id>)
    judge: ModelConfig = field(default_factory=lambda: ModelConfig(name=""))
    labels: Optional[str] = None  # a human-labelled JSONL ({id, solvable: true|false}) instead of the judge
    num_samples: int = num(500, COUNT)  # problems sampled from each group: rejected, kept
    reasons: List[str] = field(default_factory=lambda: ["unsolvable"])  # drop reasons that count as rejected
    seed: int = num(0, SEED)  # which problems are sampled


@dataclass
class TeacherConfig:
    """A solution model made here: `solution_model` fine-tuned on the seeds' own solutions (stage `teach`), so that
    a CPU rehearsal's QC strategies face a teacher that is often right, not always (rehearsal=signal).
    Not a method of the paper (its teachers are 7B-32B instruct models): a way to make a small model a teacher."""

    enabled: bool = False  # solve with the fine-tuned model instead of solution_model as it is
    # its fine-tune: StudentConfig fields over their defaults (learning_rate, num_train_epochs, max_steps, ...)
    train: Dict[str, Any] = field(default_factory=dict)


@dataclass
class SolveConfig:
    num_samples: int = size(3)  # solutions sampled per problem (paper's QC study: 3; main recipe: 1); a size: tops up
    prompt: str = "Please reason step by step, and put your final answer within \\boxed{}."
    chunk_size: int = runtime(64, at=COUNT)  # problems per batched call; each chunk is written before the next starts


@dataclass
class ScoreFilters:
    """What a problem's scores (flames.scores) must be for mix to take it; null = no filter on that score. A number's
    range is [low, high], inclusive, null leaving an end open (flames.scores.filters, docs/scorers.md "Filters")."""

    solve_rate: Optional[List[Optional[float]]] = None  # share of its samples agreeing with the gold/majority answer
    difficulty: Optional[List[Optional[float]]] = None  # 1 - solve_rate
    problem_tokens: Optional[List[Optional[float]]] = None  # the problem's length (a tokenizer-free count)
    solution_tokens: Optional[List[Optional[float]]] = None  # its samples' mean completion tokens
    novelty_seed: Optional[List[Optional[float]]] = None  # 1 - trigram Jaccard with its seed
    novelty_seeds: Optional[List[Optional[float]]] = None  # share of its trigrams no seed holds
    topic: Optional[List[str]] = None  # the provenance topics it may have (a MATH type, a taxonomy topic)
    level: Optional[List[str]] = None  # the provenance levels it may have
    judge: Optional[List[str]] = None  # the solvability judge's verdicts it may have (solvable, ...)
    reference: Optional[List[str]] = None  # what its solve rate was measured against: gold | majority
    near_dup: Optional[bool] = None  # false: only problems that near-duplicate no earlier problem of the view


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
    # every agent of a blend makes the whole budget, not its share: one run (stage=solution_qc) builds the pools that a
    # weight search's trials read their views of, so no trial sends a request (docs/search.md); keyed via the views
    pools_at_budget: bool = unkeyed(False)
    # settings merged over every agent of a blend (experiment=paper: the paper's token budgets, large chunks)
    agent_overrides: Dict[str, Any] = field(default_factory=dict)
    seed: int = num(0, SEED)  # sampling seed for the budget
    # what each problem's scores must be for mix to take it (ScoreFilters); keyed by mix when one is set
    filters: ScoreFilters = unkeyed(default_factory=ScoreFilters)
    # a share short of examples: warn (log it, mix what there is) | error (stop the mix, exit 2; experiment=paper)
    shortfall: str = one_of("warn", ("warn", "error"), keyed=False)
    shortfall_tolerance: float = unkeyed(0.01, at=Range(0, 1, hi_open=True))  # a share may be short by this fraction of itself before `error` stops
    # mixture=external: the SFT dataset trained on instead of the agents' output: a JSONL file, a dataset folder or
    # a Hugging Face dataset id; None = the agents (mix keys a file or folder by its name and content, not its path)
    dataset: Optional[str] = unkeyed(None)
    hub_config: Optional[str] = unkeyed(None)  # the hub dataset's config name (openai/gsm8k: main); keyed by content too
    split: str = "train"  # the dataset's split (a hub id or a folder; a JSONL file is one split)
    fields: Dict[str, str] = field(default_factory=dict)  # record field -> dataset column (id, problem, solution)
