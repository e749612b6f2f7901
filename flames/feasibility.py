"""Will a study's tasks fit before any of them runs? GPU memory, reachable problems and time, from configs alone.

Each task of a study plan gets three verdicts (docs/slurm.md, "Feasibility"):

- memory: training (`train`, QFT's `tune`, the teacher's `teach`): model states per GPU under the `distributed` strategy plus
  activations at the student's batch and length; generation (`synthesize`, `solve`, `evaluate`): the weights
  per tensor-parallel rank plus the KV cache of one `max_model_len` sequence inside vLLM's share of the GPU.
  Model sizes come from the model configs' `shape` (parameters and layer shapes: nothing is downloaded).
- capacity (`synthesize`): the problems an agent can reach from its seeds (seeds x `agent.max_draws`
  passes per seed dataset) against its target.
- time: the stage's GPU-hour estimate (flames.study.gpu_hours) over the task's GPUs, against its
  `time_min`, counting the requeues SLURM grants a task that times out (`study.max_num_timeout`; every
  GPU stage resumes from the store or from its last checkpoint).

A verdict is ok, infeasible, or unknown (a model without a `shape`): the dry run prints them all and exits 2
naming every infeasible task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

GIB = 1024**3
TRAINING_STAGES = ("teach", "tune", "train")
GENERATION_MODELS = {"synthesize": "problem_model", "solve": "solution_model"}
# Model states in bytes per parameter, mixed-precision AdamW with fp32 master weights (how flames.train runs:
# fp32 weights, bf16 autocast): weights 4 + gradients 4 + Adam's two moments 8.
STATE_BYTES = 16
# ZeRO-3 without offload: DeepSpeed's own estimate (deepspeed.runtime.zero.stage3.
# estimate_zero3_model_states_mem_needs, cpu_offload=False): 18 bytes per parameter over all GPUs, plus the
# largest layer gathered in fp32. Written out here so a dry run needs no DeepSpeed install.
ZERO3_BYTES = 18
OVERHEAD_GB = 3.0  # CUDA context, NCCL and allocator slack per GPU (our inference)
# vLLM: activations and CUDA graphs inside its memory share, besides weights and KV cache (our inference)
VLLM_ACTIVATION_GB = 2.0


@dataclass
class Verdict:
    check: str  # memory | capacity | time
    ok: bool | None  # None: cannot tell from the configs
    detail: str

    @property
    def mark(self) -> str:
        return {True: "ok", False: "NO", None: "?"}[self.ok]


def training_gb(shape: Any, student: Any, strategy: str, gpus: int) -> dict[str, float]:
    """GB per GPU of full fine-tuning: model states, activations, overhead (and their total)."""
    p = shape.params_b * 1e9
    gpus = max(gpus, 1)
    if strategy == "zero3":
        states = ZERO3_BYTES * p / gpus + 4 * shape.vocab * shape.hidden
    elif strategy == "fsdp":
        states = STATE_BYTES * p / gpus
    else:  # ddp: every GPU holds everything
        states = STATE_BYTES * p
    tokens = student.get("per_device_train_batch_size", 4) * student.get("max_length", 2048)
    # checkpointed: each layer's input kept (bf16), one layer's intermediates recomputed; else every layer's
    # (about 34 x hidden bytes per token and layer with a fused attention; Korthikanti et al. 2022, no seq^2)
    per_layer = 2 * shape.hidden if student.get("gradient_checkpointing") else 34 * shape.hidden
    acts = tokens * (per_layer * shape.layers + 34 * shape.hidden) + tokens * shape.vocab * 4 * 2  # + fp32 logits, grads
    parts = {"states": states / GIB, "activations": acts / GIB, "overhead": OVERHEAD_GB}
    parts["total"] = sum(parts.values())
    return parts


def inference_fit(shape: Any, model: Any, gpu_mem_gb: float) -> tuple[bool, str]:
    """Weights per tensor-parallel rank plus vLLM's KV cache: does one `max_model_len` sequence fit, and how many?"""
    tp = max(model.get("tensor_parallel_size") or 1, 1)
    budget = gpu_mem_gb * (model.get("gpu_memory_utilization") or 0.9)
    weights = shape.params_b * 1e9 * _dtype_bytes(model.get("dtype")) / tp / GIB
    kv_per_token = 2 * shape.layers * shape.kv_heads * shape.head_dim * _dtype_bytes(model.get("dtype")) / tp
    length = model.get("max_model_len") or 4096
    free = budget - weights - VLLM_ACTIVATION_GB
    sequences = int(free * GIB // (kv_per_token * length)) if free > 0 else 0
    detail = (f"{weights:.1f} GB weights + KV {kv_per_token * length / GIB:.2f} GB per {length}-token sequence, "
              f"per GPU of tp={tp}; {sequences} sequences at once in {budget:.0f} GB")
    return sequences >= 1, detail


def _dtype_bytes(dtype: str | None) -> int:
    return 4 if dtype in ("float32", "fp32") else 2


def memory(stage: str, cfg: Any, need: Any) -> Verdict | None:
    """The memory verdict of a task of `stage` (None: the stage loads no model on a GPU)."""
    if not need.gpus:
        return None
    if stage in TRAINING_STAGES:
        model, student = (cfg.student, cfg.student)
        if stage == "tune":
            model, student = cfg.problem_model, cfg.agent.train
        elif stage == "teach":
            model, student = cfg.solution_model, cfg.teacher.train
        return _training_verdict(model, student, cfg.distributed.name, need)
    group = GENERATION_MODELS.get(stage)
    model = cfg[group] if group else (cfg.student if stage == "evaluate" else None)
    if model is None:
        return None
    shape = model.get("shape")
    if shape is None:
        return _no_shape(model)
    if stage == "evaluate":  # the trained student, served like a generation model
        model = {"dtype": cfg.benchmarks.dtype, "max_model_len": model.max_length, "tensor_parallel_size": 1}
    fits, detail = inference_fit(shape, model, need.gpu_mem_gb)
    return Verdict("memory", fits, detail + ("" if fits else ": raise tensor_parallel_size or use larger GPUs"))


def _no_shape(model: Any) -> Verdict:
    return Verdict("memory", None, f"{model.name}: no shape in its config (add one to check memory)")


def _training_verdict(model: Any, student: Any, strategy: str, need: Any) -> Verdict:
    shape = model.get("shape")
    if shape is None:
        return _no_shape(model)
    gb = training_gb(shape, student, strategy, need.gpus)
    detail = (f"{gb['total']:.0f} GB per GPU of {need.gpu_mem_gb:.0f} ({strategy} on {need.gpus} GPUs: "
              f"states {gb['states']:.0f}, activations {gb['activations']:.0f}, overhead {gb['overhead']:.0f})")
    fits = gb["total"] <= need.gpu_mem_gb
    return Verdict("memory", fits, detail if fits else detail + ": use distributed=zero3 or more GPUs")


def seed_counts(seeds: Any) -> dict[str, int] | None:
    """Seeds per dataset, from the config: the built-in set's size, or `seeds.sizes` (declared; `limit` applied,
    split by the shares); None when the config does not say."""
    if not seeds.get("files") and not seeds.get("path") and not seeds.get("dataset"):
        return {"builtin": seeds.builtin_count}
    sizes = dict(seeds.get("sizes") or {})
    if not sizes:
        return None
    if seeds.get("limit"):
        total = sum(sizes.values())
        sizes = {d: min(n, math.ceil(seeds.limit * n / total)) for d, n in sizes.items()}
    return sizes


def capacity(agent: Any, seeds: Any) -> Verdict | None:
    """Problems a seeded agent can reach: seeds x `max_draws` per seed dataset, against its target's share of
    each (seeds.shares, else equal). An agent whose class caps the distinct problems of a seed (FOBAR and
    Self-Verification: one per maskable number) is counted seed by seed, from the seed files when they are
    there (read, not downloaded)."""
    if agent is None or not _draws_seeds(agent):
        return None
    counts = seed_counts(seeds)
    if counts is None:
        return Verdict("capacity", None, f"{agent.name}: seeds.sizes not declared")
    draws, target = agent.get("max_draws") or 1, agent.num_problems
    reach = {d: n * draws for d, n in counts.items()}
    capped = per_seed_reach(agent, seeds, draws)
    if capped is not None:
        reach = {d: capped.get(d, 0) for d in counts}
    shares = dict(seeds.get("shares") or {}) or {d: 1 / len(counts) for d in counts}
    want = {d: math.ceil(target * shares.get(d, 0)) for d in counts}
    short = {d: (reach[d], want[d]) for d in counts if reach[d] < want[d]}
    total = sum(reach.values())
    if short:
        worst = ", ".join(f"{d} {have:,} < {need:,}" for d, (have, need) in short.items())
        if capped is not None:
            return Verdict("capacity", False, f"{agent.name}: at most {total:,} distinct problems ({worst}; one per "
                                              "maskable number of a seed): lower agent.num_problems")
        draws_needed = max(math.ceil(need / counts[d]) for d, (_, need) in short.items())
        return Verdict("capacity", False, f"{agent.name}: at most {total:,} problems ({worst}): "
                                          f"raise agent.max_draws to {draws_needed} or more")
    return Verdict("capacity", True, f"{agent.name}: {target:,} of at most {total:,} (max_draws={draws})")


def per_seed_reach(agent: Any, seeds: Any, draws: int) -> dict[str, int] | None:
    """Per seed dataset, the sum over its seeds of min(draws, the seed's cap); None when the agent has no cap
    or the seed files are not here (or the seeds are a dataset's)."""
    from hydra.utils import get_class

    from flames.seeds import load_seeds, seed_files

    cap = getattr(get_class(agent._target_), "problems_per_seed", None)
    if cap is None or seeds.get("dataset") or not all(f.is_file() for f in seed_files(seeds)):
        return None  # a dataset's rows may be the hub's: a study's check downloads nothing
    reach: dict[str, int] = {}
    for seed in load_seeds(seeds):
        dataset = seed.get("dataset") or "builtin"
        reach[dataset] = reach.get(dataset, 0) + min(draws, cap(seed))
    return reach


def _draws_seeds(agent: Any) -> bool:
    """The agent's inputs are the seed problems (its class keeps Agent.prepare), not topics or a generator's."""
    from hydra.utils import get_class

    from flames.agents.base import Agent

    return get_class(agent._target_).prepare is Agent.prepare


def time_checks(stage: str, gpu_hours: float, need: Any, max_num_timeout: int, checkpoints: int = 0) -> list[Verdict]:
    """Hours of a task (its GPU-hours over its GPUs) against its time limit and the requeues it is granted
    (a GPU stage resumes from the store or its last checkpoint when requeued). A training task that needs
    several jobs must save a checkpoint within each one, or a requeued job starts over."""
    if not need.gpus:
        return []
    hours, limit = gpu_hours / need.gpus, need.time_min / 60
    jobs, allowed = max(math.ceil(hours / limit), 1), 1 + max_num_timeout
    detail = f"{hours:.1f} h on {need.gpus} GPU(s): {jobs} job(s) of {limit:g} h (at most {allowed})"
    if jobs > allowed:
        return [Verdict("time", False, detail + f": raise resources.{stage}.gpus or time_min, or split the work")]
    interval = hours / max(checkpoints, 1)  # hours between checkpoints (the end is one)
    if jobs > 1 and stage in TRAINING_STAGES and interval > limit:
        return [Verdict("time", False, detail + f", but a checkpoint only every {interval:.1f} h: "
                        "a requeued job would start over (raise num_checkpoints)")]
    every = f", a checkpoint every {interval:.1f} h" if jobs > 1 and checkpoints else ""
    return [Verdict("time", True, detail + every)]


def gpu_hours(stage: str, cfg: Any, agents: dict, label: str, need: Any, study: Any) -> float:
    """A rough upper bound from token counts (every completion at its token limit) and the profile's speeds."""
    from flames.config import MixtureConfig

    if not need.gpus:
        return 0.0
    gen, train = study.generate_tokens_per_s_per_gpu, study.train_tokens_per_s_per_gpu
    agent = agents.get(label)
    n = agent.num_problems if agent is not None else 0  # this agent's problems (per-agent stages)
    total = MixtureConfig.budget_of(cfg.mixture) or sum(a.num_problems for a in agents.values())  # the training mixture
    seconds = {
        "teach": lambda: teacher_rows(cfg) * cfg.teacher.train.get("num_train_epochs", 1) * 512 / train,
        "tune": lambda: (agent.get("train_seeds") or 0) * 512 / train,
        "synthesize": lambda: n * 2 * (agent.max_new_tokens or cfg.problem_model.max_new_tokens) / gen,
        "solve": lambda: n * cfg.solve.num_samples * cfg.solution_model.max_new_tokens / gen,
        "solution_qc": lambda: n * cfg.solve.num_samples * 512 / gen,
        "audit": lambda: 2 * cfg.audit.num_samples * 512 / gen,  # rejected and kept, a short verdict each
        "train": lambda: total * cfg.student.num_train_epochs * cfg.student.max_length / 2 / train,
        "evaluate": lambda: eval_items(cfg.benchmarks) * cfg.benchmarks.max_new_tokens / gen,
    }.get(stage, lambda: 0.0)()
    return seconds / 3600


def teacher_rows(cfg: Any) -> int:
    """The seeds the teacher learns from (every seed carries a solution: the built-in set, GSM8K, MATH); 0 when the
    config does not say how many."""
    return sum((seed_counts(cfg.seeds) or {}).values())


def eval_items(benchmarks: Any) -> int:
    """Test items an evaluation decodes: `limit` per benchmark, else ~6K (the paper's suite)."""
    return benchmarks.limit * len(benchmarks.suite) if benchmarks.limit else 6000


def shards_needed(gpu_hours: float, need: Any) -> int:
    """Shards that bring an artifact's hours within one job of the stage's time limit (90% of it: load and fold)."""
    if not need.gpus or not gpu_hours:
        return 1
    return max(1, math.ceil(gpu_hours / need.gpus / (need.time_min / 60 * 0.9)))


def checkpoints(stage: str, cfg: Any, agent: Any) -> int:
    """The checkpoints a training task saves: the student's (train) or the problem model's tune (QFT's)."""
    if stage == "train":
        return int(cfg.student.num_checkpoints or 0)
    if stage == "tune" and agent is not None and agent.get("train") is not None:
        return int(agent.train.get("num_checkpoints") or 0)
    if stage == "teach":
        return int(cfg.teacher.train.get("num_checkpoints") or 0)
    return 0


def before_time(stage: str, cfg: Any, agent: Any, need: Any) -> list[Verdict]:
    """A task's memory and capacity verdicts (time follows once the plan has summed its GPU-hours)."""
    found = [memory(stage, cfg, need), capacity(agent, cfg.seeds) if stage == "synthesize" else None]
    return [v for v in found if v is not None]


def format_checks(plan: Any) -> str:
    """One table: every task's verdicts, by stage."""
    lines = ["", "Feasibility (from configs: docs/slurm.md)",
             f"{'stage':<12} {'cell':<40} {'check':<9} {'':<3} detail"]
    for stage, tasks in plan.tasks.items():
        for task in tasks:
            if task.shard and task.shard[0]:  # a sharded artifact's tasks ask and check the same: its first stands
                continue
            cell = " ".join(task.cell) or "(one cell)"
            cell = f"{cell} x{task.shard[1]} shards" if task.shard else cell
            for v in task.checks:
                lines.append(f"{stage:<12} {_short(cell, 40):<40} {v.check:<9} {v.mark:<3} {v.detail}")
    return "\n".join(lines)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else "..." + text[-(width - 3):]


def refuse_infeasible(plan: Any, study: Any) -> None:
    """Exit 2 (a ConfigError) naming every infeasible stage and cell, unless `study.check_feasibility=false`."""
    from flames.config import ConfigError

    bad = [(t, v) for tasks in plan.tasks.values() for t in tasks for v in t.infeasible
           if not (t.shard and t.shard[0])]  # a sharded artifact's tasks fail the same checks: its first names them
    if bad and study.check_feasibility:
        named = "; ".join(f"{t.stage} [{' '.join(t.cell)}] {v.check}: {v.detail}" for t, v in bad)
        raise ConfigError(f"study {plan.name}: {len(bad)} infeasible (study.check_feasibility=false submits "
                          f"anyway): {named}")

