"""Stage `solve`: problems -> n sampled solutions each, with the solution model."""

from __future__ import annotations

import logging
from pathlib import Path

from tqdm.auto import tqdm

from flames.grading import extract_answer
from flames.jsonl import read_jsonl
from flames.llm import LLM, Sampling, request_seed, usage
from flames.store import RecordWriter

log = logging.getLogger(__name__)


def solve(problems: Path, out_dir: Path, llm: LLM, sampling: Sampling, prompt: str, chunk_size: int = 64) -> dict:
    """Sample `sampling.n` solutions per problem; resumable (problems already solved are skipped)."""
    writer = RecordWriter(out_dir)
    todo = [p for p in read_jsonl(problems) if p["id"] not in writer.done_ids]
    if writer.resumed:
        log.info("solve: %d problems already solved, %d to go", writer.resumed, len(todo))
    for start in tqdm(range(0, len(todo), chunk_size), desc="solve", unit="chunk"):
        chunk = todo[start:start + chunk_size]
        convs = [[{"role": "user", "content": f"{p['problem']}\n{prompt}"}] for p in chunk]
        gens = llm.chat(convs, sampling, [request_seed(sampling.seed, "solve", p["id"]) for p in chunk])
        writer.log_call(step="solve", **usage(gens))
        for reason in {g.error for g in gens if g.error}:  # not sent (prompt_too_long): dropped, counted
            writer.drop([p for p, g in zip(chunk, gens) if g.error == reason], reason)
        writer.write(_record(p, g) for p, g in zip(chunk, gens) if not g.error)
    return {"num_samples": sampling.n}


def _record(problem: dict, gen) -> dict:
    sols = [{"text": t, "answer": extract_answer(t), "completion_tokens": n, "truncated": gen.is_truncated(i)}
            for i, (t, n) in enumerate(zip(gen.texts, gen.completion_tokens))]
    return {**problem, "solutions": sols, "prompt_tokens": gen.prompt_tokens}
