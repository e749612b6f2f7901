"""Stage `solve`: problems -> n sampled solutions each, with the solution model.

The artifact is a pool, keyed without `num_samples` and without the number of problems: a run solves the
problems of its view (flames.views) that the pool has not solved yet, and gives a problem that holds fewer
samples than asked the missing ones as a top-up row (`topup_of`, its own request, seeded by the problem id
and the index of its first sample). Readers fold top-ups in with `flames.views.merge_samples`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from itertools import groupby
from pathlib import Path
from typing import Callable

from flames.context import RetryPolicy
from flames.grading import extract_answer
from flames.jsonl import read_jsonl
from flames.llm import LLM, Sampling, request_seed, usage
from flames.progress import stage_bar
from flames.store import RecordWriter
from flames.store.shards import chunk_done, my_chunks, tagged
from flames.views import TOPUP, in_view, sample_counts

log = logging.getLogger(__name__)


def solve(problems: Path, out_dir: Path, llm: LLM, sampling: Sampling, prompt: str, chunk_size: int = 64,
          num_problems: int | None = None, retry: RetryPolicy | None = None) -> dict:
    """Give every problem of the view (ranked below `num_problems`; None: all) `sampling.n` solutions.

    Resumable and growable: problems holding `sampling.n` samples already are skipped; a problem holding k
    gets samples k..n-1 in one request with n-k completions, so asking 2 then 4 samples makes 2 new per problem.
    """
    writer = RecordWriter(out_dir, retry)
    view, todo = pending(problems, writer.data_path, writer.done_ids, sampling.n, num_problems)
    if len(todo) < len(view):
        log.info("solve: %d problems of the view hold %d samples already, %d to do", len(view) - len(todo),
                 sampling.n, len(todo))
    new_samples = 0
    with stage_bar("solve", len(view), len(view) - len(todo), "problem") as bar:
        for start, chunk in solve_chunks(todo, chunk_size):
            new_samples += _solve_chunk(chunk, start, writer, llm, sampling, prompt)
            bar.update(len(chunk))
    return {"num_samples": sampling.n, "view_size": len(view), "new_samples": new_samples,
            "topped_up": sum(1 for start, _ in todo if start)}


def pending(problems: Path, data: Path, done_ids: set[str], n: int, num_problems: int | None) -> tuple[list[dict], list]:
    """The view, and its problems short of `n` samples (in `data`) as (samples held, problem) in view order; a row
    in `done_ids` (dropped: prompt_too_long, or failed with no attempt left) is not asked again."""
    held = sample_counts(read_jsonl(data)) if data.exists() else {}
    view = [p for p in read_jsonl(problems) if in_view(p, num_problems)]
    return view, [(held.get(p["id"], 0), p) for p in view
                  if held.get(p["id"], 0) < n and row_id(p, held.get(p["id"], 0)) not in done_ids]


def solve_chunks(todo: list[tuple[int, dict]], chunk_size: int) -> list[tuple[int, list[dict]]]:
    """The batched requests of `todo`: problems holding the same samples together (one request shape), in view order."""
    chunks = []
    for start, group in groupby(sorted(todo, key=lambda t: t[0]), key=lambda t: t[0]):  # stable: view order
        batch = [p for _, p in group]
        chunks += [(start, batch[k:k + chunk_size]) for k in range(0, len(batch), chunk_size)]
    return chunks


def _solve_chunk(chunk: list[dict], start: int, writer: RecordWriter, llm: LLM, sampling: Sampling, prompt: str,
                 tag: Callable[[list[dict]], list[dict]] = list) -> int:
    """One batched request: samples `start`.. of each problem written (a top-up row past the first); the samples made."""
    part = replace(sampling, n=sampling.n - start)
    convs = [[{"role": "user", "content": f"{p['problem']}\n{prompt}"}] for p in chunk]
    gens = llm.chat(convs, part, [sample_seed(sampling.seed, p["id"], start) for p in chunk])
    writer.log_call(step="solve", **usage(gens))
    for reason in {g.error for g in gens if g.error}:  # not sent or not answered: dropped, counted
        writer.drop([{"id": row_id(p, start)} for p, g in zip(chunk, gens) if g.error == reason], reason)
    writer.write(tag([_record(p, g) if not start else _topup(p, g, start) for p, g in zip(chunk, gens) if not g.error]))
    return part.n * sum(not g.error for g in gens)


def solve_shard(problems: Path, pool: Path | None, part: Path, llm: LLM, sampling: Sampling, prompt: str,
                chunk_size: int, num_problems: int | None, index: int, count: int,
                retry: RetryPolicy | None = None) -> dict:
    """Shard `index` of `count`: its chunks of the round's plan (the view's problems the pool lacks samples of),
    records tagged with their chunk (flames.store.shards); resumable chunk by chunk."""
    data = pool / "data.jsonl" if pool else Path(os.devnull)  # read only: what the sealed pool holds
    dropped = {r["id"] for r in read_jsonl(pool / "dropped.jsonl")} if pool and (pool / "dropped.jsonl").exists() \
        else set()  # a failed row among them is retried by the merge's run, not by a shard
    _, todo = pending(problems, data, dropped, sampling.n, num_problems)
    chunks = solve_chunks(todo, chunk_size)
    writer = RecordWriter(part, retry)
    mine = my_chunks(len(chunks), index, count, part)
    new_samples = 0
    with stage_bar(f"solve shard {index}/{count}", sum(len(chunks[c][1]) for c in mine), unit="problem") as bar:
        for c in mine:
            start, chunk = chunks[c]
            new_samples += _solve_chunk(chunk, start, writer, llm, sampling, prompt, lambda rows, c=c: tagged(rows, c))
            chunk_done(part, c)
            bar.update(len(chunk))
    return {"chunks": len(mine), "new_samples": new_samples}


def row_id(problem: dict, start: int) -> str:
    """The id of the row holding a problem's samples from `start` on (its own id, or its top-up's)."""
    return problem["id"] if not start else f"{problem['id']}#samples{start}"


def sample_seed(base: int, problem_id: str, start: int) -> int:
    """The request seed of a problem's samples from `start` on (the first request's is the one solve always used)."""
    return request_seed(base, "solve", problem_id) if not start else request_seed(base, "solve", problem_id, start)


def _solutions(gen) -> list[dict]:
    return [{"text": t, "answer": extract_answer(t), "completion_tokens": n, "truncated": gen.is_truncated(i)}
            for i, (t, n) in enumerate(zip(gen.texts, gen.completion_tokens))]


def _record(problem: dict, gen) -> dict:
    return {**problem, "solutions": _solutions(gen), "prompt_tokens": gen.prompt_tokens}


def _topup(problem: dict, gen, start: int) -> dict:
    """Samples start.. of a solved problem: its own row (the store appends, never rewrites), folded in by readers."""
    return {"id": row_id(problem, start), TOPUP: problem["id"], "sample_start": start,
            "solutions": _solutions(gen), "prompt_tokens": gen.prompt_tokens}
