"""What each agent cost: LLM calls and tokens per problem that survived problem QC.

Built from the synthesize and problem_qc manifests of a run; printed at the end of every run,
logged to W&B, and gathered over the jobs of a sweep by `flames.callbacks.SweepSummary`.
"""

from __future__ import annotations

import json
from pathlib import Path

from flames.report import format_table

FILE = "agent_costs.json"  # written into each job's run folder
COLUMNS = ["agent", "inputs", "candidates", "after problem QC", "LLM calls", "calls/problem",
           "tokens/problem", "problems/input", "top drops"]


def agent_costs(results) -> list[dict]:
    """One row per agent of the run (from its synthesize and problem_qc stage results)."""
    synth = {r.label: r.manifest for r in results if r.stage == "synthesize"}
    kept = {r.label: r.manifest.get("records_out", 0) for r in results if r.stage == "problem_qc"}
    rows = []
    for agent, m in synth.items():
        metrics = m.get("metrics") or {}
        problems = kept.get(agent, m.get("records_out", 0))
        tokens = (m.get("prompt_tokens") or 0) + (m.get("completion_tokens") or 0)
        inputs = metrics.get("inputs_used", 0)
        rows.append({"agent": agent, "inputs": inputs, "candidates": m.get("records_out", 0),
                     "after_problem_qc": problems, "llm_calls": m.get("llm_calls", 0),
                     "llm_calls_by_step": m.get("llm_calls_by_step", {}),
                     "calls_per_problem": _per(m.get("llm_calls", 0), problems),
                     "tokens_per_problem": _per(tokens, problems),
                     "problems_per_input": _per(problems, inputs),
                     "dropped": m.get("dropped") or {}})
    return rows


def _per(x: float, n: int) -> float | None:
    return round(x / n, 2) if n else None


def cost_table(rows: list[dict]) -> str:
    def top(drops: dict) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(drops.items(), key=lambda kv: -kv[1])[:3]) or "-"

    table = [[r["agent"], r["inputs"], r["candidates"], r["after_problem_qc"], r["llm_calls"],
              _dash(r["calls_per_problem"]), _dash(r["tokens_per_problem"]), _dash(r["problems_per_input"]),
              top(r["dropped"])] for r in rows]
    return format_table(COLUMNS, table)


def _dash(v) -> str:
    return "-" if v is None else str(v)


def save(rows: list[dict], run_dir: str | Path) -> None:
    Path(run_dir, FILE).write_text(json.dumps(rows, indent=2))


def gather(sweep_dir: str | Path) -> list[dict]:
    """Rows of every job of a sweep (one per agent and job), in job order; a row per distinct agent."""
    rows, seen = [], set()
    for f in sorted(Path(sweep_dir).glob(f"*/{FILE}"), key=lambda p: _job_num(p.parent.name)):
        for row in json.loads(f.read_text()):
            key = json.dumps(row, sort_keys=True)
            if key not in seen:  # jobs sharing an agent artifact report the same row
                seen.add(key)
                rows.append(row)
    return rows


def _job_num(name: str) -> int:
    return int(name) if name.isdigit() else 1 << 30
