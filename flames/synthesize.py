"""Stage `synthesize`: seeds -> problems, with one agent and the problem model.

The stage over-generates: it keeps drawing inputs until `num_problems` problems would survive
problem QC (dedup + decontamination, checked as they arrive), split across seed datasets by
`shares` (GSM8K:MATH 50:50 by default, as in the paper). Candidates that QC will reject stay in
data.jsonl so that problem_qc drops them with its reasons; accepted problems beyond a
dataset's target are dropped here as `over_target`.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from pathlib import Path
from typing import Protocol

from flames.agents.base import Agent
from flames.jsonl import read_jsonl
from flames.store import RecordWriter

log = logging.getLogger(__name__)


class Gate(Protocol):
    """Problem QC as problems arrive (`flames.qc.ProblemFilter`, passed in by the synthesize stage)."""

    def admit(self, texts: list[str]) -> list[bool]:
        """True where the text passes problem QC given all texts admitted before."""

    def forget(self, text: str) -> None:
        """Undo the admission of `text`."""


class AdmitAll:
    """The gate when problem QC is not applied while synthesizing."""

    def admit(self, texts: list[str]) -> list[bool]:
        return [True] * len(texts)

    def forget(self, text: str) -> None:
        pass


def synthesize(seeds: list[dict], agent: Agent, out_dir: Path, num_problems: int, chunk_size: int = 64,
               gate: Gate | None = None, shares: dict[str, float] | None = None) -> dict:
    """Run `agent` over its inputs, chunk by chunk, until `num_problems` problems pass `gate`.

    Resumable: inputs already processed (progress.jsonl) are skipped and problems already
    written are re-admitted, so a killed run continues where it stopped.
    """
    writer = RecordWriter(out_dir)
    agent.log_call = writer.log_call
    inputs = agent.prepare(seeds, out_dir / "agent")
    gate = gate or AdmitAll()
    targets = dataset_targets(inputs, num_problems, shares)
    accepted = _readmit(writer, gate)
    used = Counter(_dataset(i) for i in inputs if i["id"] in writer.inputs_done)
    pending = {d: [i for i in inputs if _dataset(i) == d and i["id"] not in writer.inputs_done] for d in targets}
    while chunk := _next_chunk(pending, targets, accepted, used, chunk_size):
        result = agent.run_chunk(chunk)
        admitted = gate.admit([p["problem"] for p in result.problems])
        for problem, ok in zip(result.problems, admitted):
            d = _dataset_of_problem(problem)
            if ok and accepted[d] >= targets.get(d, 0):
                writer.drop([problem], "over_target")  # kept for inspection, not passed on
                gate.forget(problem["problem"])  # it never reaches problem_qc, so later copies are firsts
                continue
            writer.write([problem])  # rejected candidates too: problem_qc drops them with reasons
            accepted[d] += ok
        for record, reason in result.drops:
            writer.drop([record], reason)
        writer.mark_done(i["id"] for i in chunk)
        used.update(_dataset(i) for i in chunk)
        log.info("synthesize[%s]: %s accepted of %d targeted, from %d inputs", agent.name,
                 _fmt(accepted, targets), num_problems, sum(used.values()))
    short = {d: f"{accepted[d]}/{t}" for d, t in targets.items() if accepted[d] < t}
    if short:
        log.warning("synthesize[%s]: inputs ran out before the target: %s", agent.name, short)
    total = sum(accepted.values())
    return {"target": num_problems, "accepted": total, "inputs_used": sum(used.values()),
            "targets_by_dataset": targets, "accepted_by_dataset": dict(accepted),
            "problems_per_input": round(total / max(sum(used.values()), 1), 4)}


def dataset_targets(inputs: list[dict], num_problems: int, shares: dict[str, float] | None) -> dict[str, int]:
    """Problems wanted from each input dataset: `shares` (normalized), else equal shares."""
    present = sorted({_dataset(i) for i in inputs})
    # Inputs that are not seeds (taxonomy topics) have no dataset: `shares` does not apply to them.
    shares = {d: float(shares[d]) for d in present if d in (shares or {})} or {d: 1.0 for d in present}
    total = sum(shares.values())
    targets = {d: math.floor(num_problems * s / total) for d, s in shares.items()}
    for d in sorted(shares, key=lambda d: -shares[d])[: num_problems - sum(targets.values())]:
        targets[d] += 1  # hand out the rounding remainder, largest shares first
    return targets


def _next_chunk(pending, targets, accepted, used, chunk_size) -> list[dict]:
    """Inputs for the next batched run: from each dataset still under target, as many as its yield says."""
    chunk = []
    for d, target in targets.items():
        missing = target - accepted[d]
        if missing <= 0 or not pending[d]:
            continue
        size = _inputs_needed(missing, accepted[d], used[d], max(1, chunk_size // len(targets)))
        chunk += pending[d][:size]
        pending[d] = pending[d][size:]
    return chunk


def _inputs_needed(missing: int, accepted: int, used: int, chunk_size: int) -> int:
    """A full chunk first; then as many inputs as the observed yield says are missing (+20%)."""
    if used == 0 or accepted == 0:
        return chunk_size
    return max(1, min(chunk_size, math.ceil(missing / (accepted / used) * 1.2)))


def _readmit(writer: RecordWriter, gate: Gate) -> Counter:
    """Problems a previous (killed) run wrote: pass them through the gate again, in order."""
    rows = list(read_jsonl(writer.data_path))
    accepted = Counter()
    for row, ok in zip(rows, gate.admit([r["problem"] for r in rows]) if rows else []):
        accepted[_dataset_of_problem(row)] += ok
    return accepted


def _dataset(item: dict) -> str:
    return item.get("dataset") or "-"


def _dataset_of_problem(problem: dict) -> str:
    return problem.get("seed_dataset") or "-"


def _fmt(accepted: Counter, targets: dict) -> str:
    return ", ".join(f"{d} {accepted[d]}/{t}" for d, t in targets.items())
