"""Stage `synthesize`: seeds -> problems, with one agent and the problem model."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from flames.agents.base import Agent
from flames.store import RecordWriter

log = logging.getLogger(__name__)


def synthesize(seeds: list[dict], agent: Agent, out_dir: Path, num_problems: int, chunk_size: int = 64) -> dict:
    """Run `agent` over seeds, chunk by chunk, until `num_problems` problems exist in `out_dir`.

    Resumable: seeds already processed (progress.jsonl) are skipped, so a killed run continues.
    Seeds are over-drawn by the observed drop rate, so the target is met with few extra calls.
    """
    writer = RecordWriter(out_dir)
    agent._log_call = writer.log_call
    produced = writer.stats()["records_out"]
    pending = [s for s in seeds if s["id"] not in writer.inputs_done]
    used = len(seeds) - len(pending)
    while produced < num_problems and pending:
        size = _next_chunk_size(num_problems - produced, produced, used, chunk_size)
        chunk, pending = pending[:size], pending[size:]
        result = agent.run_chunk(chunk)
        writer.write(result.problems)
        for record, reason in result.drops:
            writer.drop([record], reason)
        writer.mark_done(s["id"] for s in chunk)
        produced += len(result.problems)
        used += len(chunk)
        log.info("synthesize[%s]: %d/%d problems from %d seeds", agent.name, produced, num_problems, used)
    if produced < num_problems:
        log.warning("synthesize[%s]: seeds ran out at %d of %d problems", agent.name, produced, num_problems)
    return {"seeds_used": used, "target": num_problems, "problems_per_seed": round(produced / max(used, 1), 4)}


def _next_chunk_size(missing: int, produced: int, used: int, chunk_size: int) -> int:
    """A full chunk first; then as many seeds as the observed yield says are missing (+20%)."""
    if used == 0 or produced == 0:
        return chunk_size
    per_seed = produced / used
    return max(1, min(chunk_size, math.ceil(missing / per_seed * 1.2)))
