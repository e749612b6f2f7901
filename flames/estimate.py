"""`flames dry_run=true`: what a run would do, stage by stage, before it does anything.

For every stage (and agent): reused from the store or computed, the sizes asked of it, and for what would be
computed, the backend requests and tokens it would send. Nothing loads a model or writes a file. The numbers are
bounds from the config (every completion at `max_new_tokens`), refined by a pool's own rates once it exists:

- synthesize: the problems the pool still lacks, times the requests it took per problem so far (a new pool: 2,
  the planner's assumption, flames.feasibility.gpu_hours), prompts as long as the agent's prompt files;
- solve: one request per problem lacking samples (`solve.num_samples` completions each);
- solution_qc: the judge, one request per problem (the reward model scores each solution locally);
- evaluate: one request per test item (the student, run locally: no price);
- problem_qc, mix, train: no requests.

A price per million tokens on a model config (`usd_per_million_prompt_tokens`, `..._completion_tokens`: what a
hosted API charges) turns its tokens into a cost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flames.stages import Sizes

REQUESTS_PER_PROBLEM = 2  # a new pool's requests per kept problem (the planner's assumption)
PROBLEM_TOKENS = 150  # a problem's prompt tokens, before its pool holds any (GSM8K/MATH problems: ~60-250)
NO_SIZES = Sizes(target=0, view=0, max_draws=0)  # a shared stage's (no agent)
CHARS_PER_TOKEN = 4  # an English prompt's characters per token (the usual rule of thumb; no tokenizer is loaded)


@dataclass
class Estimate:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0  # a bound: every completion at max_new_tokens
    model: str = ""  # the config group that answers them (problem_model, solution_model, student)

    def cost(self, cfg: Any) -> float | None:
        """USD at the model config's prices; None when it has none."""
        m = cfg.get(self.model) if self.model in ("problem_model", "solution_model") else None
        p, c = (m.get("usd_per_million_prompt_tokens"), m.get("usd_per_million_completion_tokens")) if m else (None,) * 2
        if p is None and c is None:
            return None
        return (self.prompt_tokens * (p or 0) + self.completion_tokens * (c or 0)) / 1e6


def estimate(stage: str, cfg: Any, agent: Any, sizes: Any, held: dict | None, eval_items: int) -> Estimate:
    """What computing `stage` would send; `held`: the manifest of the pool it would grow (None: a new one)."""
    if stage == "synthesize":
        return _synthesize(cfg, agent, sizes, held)
    if stage == "solve":
        have = (held or {}).get("records_out", 0) if _same_samples(held, cfg) else 0
        n = max(sizes.view - have, 0)
        return Estimate(n, n * PROBLEM_TOKENS, n * cfg.solve.num_samples * cfg.solution_model.max_new_tokens,
                        "solution_model")
    if stage == "solution_qc":
        return _judge(cfg, sizes)
    if stage == "evaluate":
        return Estimate(eval_items, eval_items * PROBLEM_TOKENS, eval_items * cfg.benchmarks.max_new_tokens, "student")
    return Estimate()


def _synthesize(cfg: Any, agent: Any, sizes: Any, held: dict | None) -> Estimate:
    from flames.agents import agent_class
    from flames.agents.base import prompt_files

    metrics = (held or {}).get("metrics", {})
    have = metrics.get("held", 0)
    missing = max(sizes.target - have, 0)
    rate = held["requests"] / have if held and have else REQUESTS_PER_PROBLEM
    requests = round(missing * rate)
    prompts = prompt_files(agent_class(agent["_target_"]))
    prompt = (sum(len(p.read_text()) for p in prompts) / max(len(prompts), 1)) / CHARS_PER_TOKEN + PROBLEM_TOKENS
    if held and held.get("requests"):
        prompt = held["prompt_tokens"] / held["requests"]
    tokens = agent.get("max_new_tokens") or cfg.problem_model.max_new_tokens
    return Estimate(requests, round(requests * prompt), requests * tokens, "problem_model")


def _judge(cfg: Any, sizes: Any) -> Estimate:
    from flames.qc.stage import strategy_from

    models = strategy_from(cfg.qc.strategy).model_configs(cfg.qc, cfg.problem_model)
    if "judge" not in models:
        return Estimate()
    n = sizes.view
    return Estimate(n, n * (PROBLEM_TOKENS + 400), n * cfg.qc.solvability.max_new_tokens, "problem_model")


def _same_samples(held: dict | None, cfg: Any) -> bool:
    return bool(held) and held.get("metrics", {}).get("num_samples") == cfg.solve.num_samples


def dry_run(pipeline: Any) -> str:
    """The table `flames dry_run=true` prints: every stage of the run, reused or computed, and what it would send."""
    from flames.report import format_table

    pipeline.shared.offline = True  # a hub benchmark is named by its spec, not downloaded
    cfg, planned = pipeline.cfg, pipeline.plan()
    items = _eval_items(pipeline)
    rows, total, costs = [], Estimate(), []
    for r in planned:
        held = _manifest(r.artifact) if r.ask is not None else None
        e = Estimate() if r.reused else estimate(r.stage, cfg, pipeline.agent_cfgs.get(r.label),
                                                  pipeline.sizes.get(r.label, NO_SIZES), held, items)
        cost = e.cost(cfg)
        costs.append(cost)
        total.requests += e.requests
        total.prompt_tokens += e.prompt_tokens
        total.completion_tokens += e.completion_tokens
        asked = ", ".join(f"{k}={v:,}" for k, v in (r.ask or {}).items()) or "-"
        rows.append([r.stage, r.label or "-", "reused" if r.reused else ("grown" if held else "computed"), asked,
                     f"{e.requests:,}", f"{e.prompt_tokens:,}", f"{e.completion_tokens:,}",
                     "-" if cost is None else f"${cost:,.2f}"])
    table = format_table(["stage", "agent", "status", "asked", "requests", "prompt tok", "completion tok (max)",
                          "cost"], rows)
    priced = [c for c in costs if c is not None]
    lines = ["Dry run: nothing runs and nothing enters the store (flames dry_run=true)", "", table, "",
             f"Total: {total.requests:,} requests, {total.prompt_tokens:,} prompt and at most "
             f"{total.completion_tokens:,} completion tokens" + (f", ${sum(priced):,.2f}" if priced else ""),
             "How these are estimated: flames/estimate.py (bounds from the config; a pool's own rates once it exists)"]
    return "\n".join(lines)


def _manifest(art: Any) -> dict | None:
    try:
        return json.loads((art.path / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def _eval_items(pipeline: Any) -> int:
    """Test items an evaluation would decode: the suite's (local and built-in ones counted), else the planner's."""
    from flames.benchmarks import source_of, spec_of
    from flames.feasibility import eval_items

    b = pipeline.cfg.benchmarks
    if any(source_of(spec_of(name, b), b) == "hub" for name in b.names):
        return eval_items(b)
    try:
        return sum(len(v) for v in pipeline.shared.eval_items().values())
    except (OSError, ValueError):
        return eval_items(b)
